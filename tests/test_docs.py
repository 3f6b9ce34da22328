"""The Python in README.md and docs/*.md runs, and its pytest examples give what they show.

In a document:
* each ```python block runs, in order, in one namespace per document, from the repository's
  root (the blocks assert what they claim);
* a ```python block whose first line is `# tests/NAME.py`, a ```toml block whose first line
  is `# pyproject.toml`, and a ```console block `$ pytest ...` make a course repository
  (with the shipped examples/ and exercises/): pytest runs there, and the FAILED lines and
  the counts on the block's last line are what it reports.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BLOCK = re.compile(r"^```(\w*)[^\n]*\n(.*?)^```", re.S | re.M)


def blocks(doc: Path) -> list[tuple[str, str, int]]:
    text = doc.read_text(encoding="utf-8")
    return [(m.group(1), m.group(2), text.count("\n", 0, m.start(2)))
            for m in BLOCK.finditer(text)]


DOCS = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
        if any(kind == "python" for kind, _, _ in blocks(p))]


def test_the_api_docs_and_the_readme_have_python():
    assert {p.name for p in DOCS} >= {"README.md", "api.md"}


@pytest.mark.parametrize("doc", DOCS, ids=lambda p: p.name)
def test_python_blocks_run(doc, monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    namespace: dict = {"__name__": "docs"}
    ran = 0
    for kind, code, line in blocks(doc):
        if kind == "python" and not code.startswith("# tests/"):
            # compiled with the document's name and line numbers: a failure points into the doc
            exec(compile("\n" * line + code, str(doc.relative_to(ROOT)), "exec"), namespace)
            ran += 1
    assert ran


@pytest.mark.parametrize("doc", [p for p in DOCS if any(k == "console" and c.startswith("$ pytest")
                                                        for k, c, _ in blocks(p))], ids=lambda p: p.name)
def test_pytest_examples_give_what_they_show(doc, pytester):
    shutil.copytree(ROOT / "examples", pytester.path / "examples")
    shutil.copytree(ROOT / "exercises", pytester.path / "exercises")
    shown = None
    for kind, code, _ in blocks(doc):
        first = code.split("\n", 1)[0]
        if kind == "toml" and first == "# pyproject.toml":
            (pytester.path / "pyproject.toml").write_text(code)
        elif kind == "python" and first.startswith("# tests/"):
            path = pytester.path / first[2:].strip()
            path.parent.mkdir(exist_ok=True)
            path.write_text(code)
        elif kind == "console" and first.startswith("$ pytest"):
            shown = code.strip().splitlines()
    assert shown is not None
    result = pytester.runpytest(*first_args(shown[0]))
    out = result.stdout.lines
    for line in shown[1:-1]:
        if line.startswith("FAILED "):
            head = line.split(" - ")[0]
            assert any(o.startswith(head + " - ") for o in out), (head, out[-15:])
    want = {k: int(n) for n, k in re.findall(r"(\d+) (\w+)", shown[-1])}
    got = result.parseoutcomes()
    assert {k: got.get(k, 0) for k in want} == want and sum(got.values()) == sum(want.values()), out[-15:]


def first_args(command: str) -> list[str]:
    words = command.split()
    assert words[:2] == ["$", "pytest"]
    return words[2:]


# ---------------------------------------------------------------- console examples
#
# A block (``` or ```console) whose lines start with `$ gradcli` is an example to run: each
# `$ ` line is a command (a trailing `# comment` is the shell's), the lines after it are its
# output, exactly (stdout and stderr, blanks at line ends aside); a line `…` alone stands for
# any number of lines.  A command shown without output only has to run (exit 0 or 1);
# `$ echo $?` shows the exit status of the command before.  The commands of a document run in
# order, in process, in a folder of their own holding examples/, exercises/, tests/bad/, a
# class of submissions/ and the document's ```python blocks whose first line is `# NAME.py`.
# GRADCLI_UPDATE_DOCS=1 writes the real output into blocks without `…` (review the diff).

import os
import shlex
import sys

from click.testing import CliRunner

from gradcli.cli import main

UPDATE_DOCS = os.environ.get("GRADCLI_UPDATE_DOCS") == "1"
ELIDED = "…"


def examples(doc: Path) -> list[tuple[int, int, list[tuple[str, list[str]]]]]:
    """(first line, last line, [(command, output lines)]) of each console example of a document."""
    found = []
    for kind, code, line in blocks(doc):
        lines = code.rstrip("\n").split("\n")
        if kind not in ("", "console") or not lines[0].startswith("$ gradcli"):
            continue
        steps: list[tuple[str, list[str]]] = []
        for text in lines:
            if text.startswith("$ "):
                steps.append((text[2:], []))
            else:
                steps[-1][1].append(text)
        for _, shown in steps:          # a blank line before the next command only separates
            while shown and not shown[-1].strip():
                shown.pop()
        found.append((line, line + len(lines), steps))
    return found


CONSOLE = [p for p in [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))] if examples(p)]


def sandbox(folder: Path, doc: Path) -> None:
    for name in ("examples", "exercises"):
        shutil.copytree(ROOT / name, folder / name)
    shutil.copytree(ROOT / "tests" / "bad", folder / "tests" / "bad")
    students = ROOT / "tests" / "fixtures" / "grade" / "students"
    for k, (student, answers) in enumerate([("ada", ["01-ln-sin-cos/sign_slip_carried.grad",
                                                     "04-chain-rule/no_inner_factor.grad"]),
                                            ("ben", ["01-ln-sin-cos/equivalent_forms.grad"])]):
        for answer in answers:
            target = folder / "submissions" / student / (answer.split("/")[0] + ".grad")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(students / answer, target)
    for kind, code, _ in blocks(doc):
        first = code.split("\n", 1)[0]
        if kind == "python" and re.fullmatch(r"# \w+\.py", first):
            (folder / first[2:]).write_text(code)


def run_command(command: str, folder: Path) -> tuple[str, int]:
    words = shlex.split(command, comments=True)
    assert words[0] == "gradcli", f"only gradcli commands run here: {command}"
    env = {k: None for k in ("NO_COLOR", "TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS")}
    old = os.getcwd()
    os.chdir(folder)
    sys.path.insert(0, str(folder))
    try:
        res = CliRunner(env=env).invoke(main, words[1:])
    finally:
        sys.path.remove(str(folder))
        os.chdir(old)
        for name in [m for m, mod in sys.modules.items() if str(folder) in str(getattr(mod, "__file__", ""))]:
            del sys.modules[name]
    out = res.output.replace(str(folder) + os.sep, "")
    return "\n".join(line.rstrip() for line in out.rstrip("\n").split("\n")) if out.strip() else "", res.exit_code


def matches(shown: list[str], got: list[str]) -> bool:
    """Do the lines `got` match `shown`, where a line `…` stands for any number of lines?"""
    if not shown:
        return not got
    if shown[0] == ELIDED:
        return any(matches(shown[1:], got[k:]) for k in range(len(got) + 1))
    return bool(got) and shown[0].rstrip() == got[0] and matches(shown[1:], got[1:])


@pytest.mark.parametrize("doc", CONSOLE, ids=lambda p: p.name)
def test_console_examples_give_what_they_show(doc, tmp_path):
    if any("--format svg" in c or "--format png" in c for _, _, steps in examples(doc) for c, _ in steps) \
            and shutil.which("dot") is None:
        pytest.skip("Graphviz's dot is not installed")
    sandbox(tmp_path, doc)
    updates = []
    for first, last, steps in examples(doc):
        # a block with `…`, or with a command shown without output, is never rewritten: checked
        keep = any(line == ELIDED for _, shown in steps for line in shown) or \
            any(not shown and c != "echo $?" for c, shown in steps)
        status, written = 0, []
        for k, (command, shown) in enumerate(steps):
            if command == "echo $?":
                got = [str(status)]
            else:
                out, status = run_command(command, tmp_path)
                got = out.split("\n") if out else []
            written += [f"$ {command}", *got]
            if got and k + 1 < len(steps) and steps[k + 1][0] != "echo $?":
                written.append("")
            where = f"{doc.relative_to(ROOT)}:{first + 1}: $ {command}"
            if command != "echo $?" and not shown:
                assert status in (0, 1), f"{where}: exit {status}\n{out}"
            elif not UPDATE_DOCS or keep:
                assert matches(shown, got), f"{where}\n--- shown\n" + "\n".join(shown) + "\n--- got\n" + "\n".join(got)
        updates.append((first, last, written, keep))
    if UPDATE_DOCS:
        lines = doc.read_text(encoding="utf-8").split("\n")
        for first, last, written, keep in reversed(updates):
            if not keep:
                lines[first:last] = written
        doc.write_text("\n".join(lines), encoding="utf-8")
