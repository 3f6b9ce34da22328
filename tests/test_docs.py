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
