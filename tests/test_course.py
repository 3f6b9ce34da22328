"""The course kit (issue 11): shipped data, `gradcli examples` and --example, `gradcli init`,
the rebuilt wheel, `gradcli bundle gradescope`, shell completion. In-process and fast; the
fresh virtual environments are in test_install.py."""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli import __version__, shipped
from gradcli.cli import main
from gradcli.course import files, wheel

ROOT = Path(__file__).resolve().parent.parent
WHEEL = f"gradcli-{__version__}-py3-none-any.whl"
BIN = Path(sys.executable).parent


def invoke(*args, **kw):
    return CliRunner().invoke(main, [str(a) for a in args], **kw)


def tree(folder: Path) -> dict[str, bytes]:
    """Every file under folder (POSIX relative path -> bytes), caches left out."""
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and "__pycache__" not in p.parts}


def shipped_exercises(solutions=True) -> dict[str, bytes]:
    """What the repository's exercises/ holds, as init writes it (not a hard-coded list)."""
    return {f"exercises/{k}": v for k, v in tree(ROOT / "exercises").items()
            if solutions or not k.endswith("/solution.grad")}


# ---------------------------------------------------------------- where the data is

def test_shipped_data_is_the_checkouts_top_level_folders():
    assert shipped.in_checkout()
    for name in shipped.NAMES:
        assert shipped.path(name) == ROOT / name
    with pytest.raises(ValueError):
        shipped.path("tests")
    assert list(shipped.examples()) == sorted(p.stem for p in (ROOT / "examples").glob("*.grad"))


def test_installed_data_wins_and_a_stray_folder_is_never_taken(tmp_path, monkeypatch):
    package = tmp_path / "site-packages" / "gradcli"
    (package / "data" / "examples").mkdir(parents=True)
    (tmp_path / "site-packages" / "examples").mkdir()        # another distribution's folder
    monkeypatch.setattr(shipped, "PACKAGE", package)
    assert shipped.root() == package / "data" and not shipped.in_checkout()
    assert shipped.path("examples") == package / "data" / "examples"
    shutil.rmtree(package / "data")                          # a broken install: no data, no checkout
    with pytest.raises(FileNotFoundError, match="reinstall"):
        shipped.root()


# ---------------------------------------------------------------- examples, --example

def test_examples_lists_every_shipped_example_with_its_summary():
    result = invoke("examples")
    assert result.exit_code == 0
    lines = result.stdout.splitlines()
    assert [line.split()[0] for line in lines] == sorted(p.stem for p in (ROOT / "examples").glob("*.grad"))
    assert "e = (a + b)(b + 1) at a = 2, b = 1." in result.stdout     # the file's own first comment
    assert "Lecture example" not in result.stdout


def test_examples_prints_one_and_its_path():
    source = (ROOT / "examples" / "linear_z.grad").read_text()
    for name in ("linear_z", "linear_z.grad", "examples/linear_z.grad"):
        assert invoke("examples", name).stdout == source
    assert invoke("examples", "linear_z", "--path").stdout.strip() == str(ROOT / "examples" / "linear_z.grad")
    assert invoke("examples", "--path").stdout.strip() == str(ROOT / "examples")
    bad = invoke("examples", "linear")
    assert bad.exit_code == 2 and "did you mean 'linear_z'" in bad.stderr


@pytest.mark.parametrize("command,name,extra", [
    ("eval", "lecture_sin", []), ("graph", "e_two_paths", []), ("check", "linear_z", ["--random", "1"])])
def test_example_option_is_the_same_as_the_file(command, name, extra, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)                 # outside the checkout: the example's path is absolute
    by_file = invoke(command, ROOT / "examples" / f"{name}.grad", "--format", "json", *extra)
    by_name = invoke(command, "--example", name, "--format", "json", *extra)
    assert by_name.exit_code == by_file.exit_code == 0, by_name.output
    assert by_name.stdout == by_file.stdout and by_name.stdout


def test_example_option_adds_to_files_and_keeps_exit_statuses(tmp_path):
    own = tmp_path / "own.grad"
    own.write_text("input x = 1\ny = 3*x\n")
    both = invoke("eval", own, "--example", "linear_z", "--example", "lecture_sin", "--format", "json")
    assert both.exit_code == 0
    assert [Path(k).name for k in json.loads(both.stdout)] == ["own.grad", "linear_z.grad", "lecture_sin.grad"]
    wrong = invoke("check", "--example", "wrong_claim", "--random", "0")
    assert wrong.exit_code == 1 and "CLAIM WRONG" in wrong.stdout
    typo = invoke("graph", "--example", "lecture_sn")
    assert typo.exit_code == 2 and "no shipped example 'lecture_sn'; did you mean 'lecture_sin'?" in typo.stderr
    none = invoke("eval")
    assert none.exit_code == 2 and "--example NAME" in none.stderr


def test_example_path_is_shown_relative_to_the_current_folder(monkeypatch):
    monkeypatch.chdir(ROOT)
    result = invoke("check", "--example", "wrong_claim", "--random", "0")
    assert "CLAIM WRONG examples/wrong_claim.grad:10" in result.stdout


# ---------------------------------------------------------------- init

def test_init_writes_the_instructors_course(tmp_path):
    result = invoke("init", tmp_path / "course")
    assert result.exit_code == 0, result.output
    written = tree(tmp_path / "course")
    exercises = {k: v for k, v in written.items() if k.startswith("exercises/")}
    assert exercises == shipped_exercises(solutions=True)
    assert set(written) - set(exercises) == {".github/workflows/grade.yml", ".gitlab-ci.yml", "README.md",
                                             f"tools/{WHEEL}", "tools/requirements.txt"}
    workflow = written[".github/workflows/grade.yml"].decode()
    assert "pip install -r tools/requirements.txt" in workflow
    assert "gradcli grade --self-test exercises/" in workflow and "gradcli bundle gradescope" in workflow
    assert written["tools/requirements.txt"].decode().splitlines()[-1] == f"./tools/{WHEEL}"
    assert "next: cd " in result.stdout and "--self-test" in result.stdout


def test_init_students_leaves_out_the_solutions_and_grades_in_ci(tmp_path):
    result = invoke("init", tmp_path / "course", "--students")
    assert result.exit_code == 0, result.output
    written = tree(tmp_path / "course")
    assert {k: v for k, v in written.items() if k.startswith("exercises/")} == shipped_exercises(solutions=False)
    assert not any(k.endswith("solution.grad") for k in written)
    workflow = written[".github/workflows/grade.yml"].decode()
    gitlab = written[".gitlab-ci.yml"].decode()
    for ci in (workflow, gitlab):
        assert "pip install -r tools/requirements.txt" in ci and "gradcli grade exercises/" in ci
        assert "--self-test" not in ci and "pip install gradcli" not in ci
    readme = written["README.md"].decode()
    assert "For the course staff" not in readme and "solution" not in readme


def test_the_students_ci_grades_once_and_writes_junit_and_markdown(tmp_path):
    """Each CI file runs `gradcli grade` once; that very command line, run in the written course,
    prints the table and writes both reports, the same bytes as --format junit/markdown."""
    import re
    import shlex

    invoke("init", tmp_path / "course", "--students")
    course = tmp_path / "course"
    for ci in (course / ".github" / "workflows" / "grade.yml", course / ".gitlab-ci.yml"):
        lines = [line.strip().removeprefix("- ") for line in ci.read_text().splitlines()
                 if re.search(r"^\s*(- )?gradcli grade\b", line)]
        assert len(lines) == 1, (ci.name, lines)
        words = shlex.split(lines[0])
        assert words[:3] == ["gradcli", "grade", "exercises/"]
        assert {"junit=grade-report.xml", "markdown=grade-summary.md"} <= set(words)
        old = os.getcwd()
        os.chdir(course)
        try:
            res = CliRunner().invoke(main, words[1:])
            junit = CliRunner().invoke(main, ["grade", "exercises/", "--format", "junit"]).stdout
            markdown = CliRunner().invoke(main, ["grade", "exercises/", "--format", "markdown"]).stdout
        finally:
            os.chdir(old)
        assert res.exit_code == 1 and res.stdout.startswith("score 0 / 58\n")      # the templates: 0 points
        assert res.stdout.splitlines()[-1].endswith("wrote grade-report.xml, grade-summary.md")
        assert (course / "grade-report.xml").read_text() == junit
        assert (course / "grade-summary.md").read_text() == markdown
        for name in ("grade-report.xml", "grade-summary.md"):
            (course / name).unlink()


def test_init_readme_lists_every_exercise(tmp_path):
    from gradcli.grade.runner import load_all

    invoke("init", tmp_path / "c")
    readme = (tmp_path / "c" / "README.md").read_text()
    for ex in load_all(ROOT / "exercises"):
        assert f"| `{ex.id}` | {' '.join(ex.title.split())} | {ex.max_score:g} |" in readme
    assert "${" not in readme and f"@v{__version__}" in readme


def test_init_refuses_to_overwrite_and_writes_nothing(tmp_path):
    course = tmp_path / "course"
    (course / "exercises" / "01-ln-sin-cos").mkdir(parents=True)
    (course / "README.md").write_text("mine")
    (course / "exercises" / "01-ln-sin-cos" / "answer.grad").write_text("my answer")
    before = tree(course)
    result = invoke("init", course)
    assert result.exit_code == 2
    assert "README.md" in result.stderr and "exercises/01-ln-sin-cos/answer.grad" in result.stderr
    assert "nothing written" in result.stderr and "Traceback" not in result.output
    assert tree(course) == before


def test_init_refuses_a_file_where_a_folder_goes(tmp_path):
    (tmp_path / "course").mkdir()
    (tmp_path / "course" / "tools").write_text("a file")
    result = invoke("init", tmp_path / "course")
    assert result.exit_code == 2 and "tools" in result.stderr
    assert tree(tmp_path / "course") == {"tools": b"a file"}
    (tmp_path / "file").write_text("x")
    into_file = invoke("init", tmp_path / "file")
    assert into_file.exit_code == 2 and "file already exists; nothing written" in into_file.stderr


def test_a_failed_write_takes_back_what_it_wrote(tmp_path):
    from gradcli.errors import GradError

    (tmp_path / "c" / "kept").mkdir(parents=True)
    plan = [files.File("kept/a.txt", b"a"), files.File("new/b.txt", b"b"),
            files.File("new/deeper/" + "x" * 300, b"name too long")]
    with pytest.raises(GradError, match="nothing written"):
        files.write_new(tmp_path / "c", plan)
    assert [p.relative_to(tmp_path).as_posix() for p in sorted(tmp_path.rglob("*"))] == ["c", "c/kept"]


def test_init_into_an_existing_repository_keeps_its_files(tmp_path):
    (tmp_path / "repo" / ".git").mkdir(parents=True)
    (tmp_path / "repo" / "notes.txt").write_text("keep")
    assert invoke("init", tmp_path / "repo", "--students").exit_code == 0
    assert (tmp_path / "repo" / "notes.txt").read_text() == "keep"
    assert (tmp_path / "repo" / ".github" / "workflows" / "grade.yml").is_file()


def test_init_takes_the_courses_own_exercises(tmp_path):
    own = tmp_path / "own"
    shutil.copytree(ROOT / "exercises" / "04-chain-rule", own / "chain")
    (own / "chain" / ".hidden").write_text("editor state")
    (own / "notes.md").write_text("not an exercise")
    assert invoke("init", tmp_path / "c", "--students", "--exercises", own).exit_code == 0
    written = tree(tmp_path / "c")
    assert sorted(k for k in written if k.startswith("exercises/")) == [
        "exercises/chain/answer.grad", "exercises/chain/exercise.toml", "exercises/chain/problem.grad"]
    assert "| `chain` |" in written["README.md"].decode()
    # A single exercise folder is taken as one exercise.
    assert invoke("init", tmp_path / "d", "--exercises", own / "chain").exit_code == 0
    assert (tmp_path / "d" / "exercises" / "chain" / "solution.grad").is_file()


def test_init_refuses_broken_exercises_before_writing(tmp_path):
    own = tmp_path / "own"
    shutil.copytree(ROOT / "exercises" / "04-chain-rule", own / "chain")
    (own / "chain" / "exercise.toml").write_text('title = "x"\n[[tasks]]\nkind = "derivativ"\n')
    result = invoke("init", tmp_path / "c", "--exercises", own)
    assert result.exit_code == 2 and "exercise.toml:3" in result.stderr and "did you mean" in result.stderr
    assert not (tmp_path / "c").exists()
    none = invoke("init", tmp_path / "c", "--exercises", tmp_path / "none")
    assert none.exit_code == 2 and f"{tmp_path / 'none'}: not a directory" in none.stderr


def test_init_install_writes_the_requirement_instead_of_a_wheel(tmp_path):
    url = "gradcli @ git+https://github.com/example/gradcli@v0.1.0"
    assert invoke("init", tmp_path / "c", "--students", "--install", url).exit_code == 0
    assert not list((tmp_path / "c" / "tools").glob("*.whl"))
    assert (tmp_path / "c" / "tools" / "requirements.txt").read_text().splitlines()[-1] == url
    bad = invoke("init", tmp_path / "d", "--install", "gradcli\n--index-url http://evil")
    assert bad.exit_code == 2 and not (tmp_path / "d").exists()
    assert "one pip requirement on one line" in bad.stderr


def check_jsonschema() -> str:
    found = shutil.which("check-jsonschema", path=str(BIN)) or shutil.which("check-jsonschema")
    if found is None:
        pytest.skip("check-jsonschema is not installed (pip install check-jsonschema, in the test extra)")
    return found


@pytest.mark.parametrize("students", [False, True], ids=["instructors", "students"])
def test_written_ci_files_match_github_and_gitlab_schemas(tmp_path, students):
    tool = check_jsonschema()
    course = tmp_path / "course"
    assert invoke("init", course, *(["--students"] if students else []), "--install", "gradcli").exit_code == 0
    workflow = course / ".github" / "workflows" / "grade.yml"
    for schema, path in (("vendor.github-workflows", workflow), ("vendor.gitlab-ci", course / ".gitlab-ci.yml")):
        result = subprocess.run([tool, "--builtin-schema", schema, str(path)], capture_output=True, text=True)
        assert result.returncode == 0, result.stdout + result.stderr


def test_the_schema_check_can_fail(tmp_path):
    tool = check_jsonschema()
    bad = tmp_path / "grade.yml"
    bad.write_text("name: grade\non: push\njobs:\n  grade:\n    steps: []\n")   # no runs-on
    assert subprocess.run([tool, "--builtin-schema", "vendor.github-workflows", str(bad)],
                          capture_output=True).returncode == 1


# ---------------------------------------------------------------- the wheel of the running gradcli

def test_rebuilt_wheel_is_a_valid_wheel_of_the_package_and_its_data():
    name, data = wheel.build()
    assert name == WHEEL
    zf = zipfile.ZipFile(io.BytesIO(data))
    assert zf.testzip() is None
    names = zf.namelist()
    info = f"gradcli-{__version__}.dist-info"
    record = list(csv.reader(io.StringIO(zf.read(f"{info}/RECORD").decode())))
    assert sorted(row[0] for row in record) == sorted(names)
    for path, digest, size in record:
        if path == f"{info}/RECORD":
            assert digest == size == ""
            continue
        body = zf.read(path)
        assert digest == "sha256=" + base64.urlsafe_b64encode(hashlib.sha256(body).digest()).rstrip(b"=").decode()
        assert int(size) == len(body)
    package = {f"gradcli/{k}" for k in tree(ROOT / "gradcli")}
    data_files = {f"gradcli/data/{top}/{k}" for top in shipped.NAMES for k in tree(ROOT / top)}
    assert set(names) == package | data_files | {f"{info}/{n}" for n in (
        "METADATA", "WHEEL", "entry_points.txt", "licenses/LICENSE", "RECORD")}
    meta = zf.read(f"{info}/METADATA").decode()
    assert f"Name: gradcli\nVersion: {__version__}\n" in meta and "Requires-Dist: numpy" in meta
    assert "gradcli = gradcli.cli:main" in zf.read(f"{info}/entry_points.txt").decode()
    assert b"Tag: py3-none-any" in zf.read(f"{info}/WHEEL")
    assert all(i.date_time == (1980, 1, 1, 0, 0, 0) for i in zf.infolist())
    assert wheel.build()[1] == data                 # deterministic


def test_rebuilt_wheel_holds_what_the_real_build_ships(built_wheel):
    ours = zipfile.ZipFile(io.BytesIO(wheel.build()[1]))
    real = zipfile.ZipFile(built_wheel)
    # WHEEL names its generator and RECORD hashes it; from a checkout, METADATA is the editable
    # install's, whose description is the README as it was at `pip install -e` time.
    differ = {"WHEEL", "RECORD", "METADATA"}
    keep = lambda names: {n for n in names if n.rsplit("/", 1)[-1] not in differ}  # noqa: E731
    assert keep(ours.namelist()) == keep(real.namelist())
    assert all(ours.read(n) == real.read(n) for n in keep(real.namelist()))
    meta = f"gradcli-{__version__}.dist-info/METADATA"
    headers = lambda zf: zf.read(meta).decode().split("\n\n", 1)[0]  # noqa: E731
    assert headers(ours) == headers(real)


def test_wheel_needs_the_package_metadata(monkeypatch):
    from importlib import metadata

    def missing(name):
        raise metadata.PackageNotFoundError(name)

    monkeypatch.setattr(metadata, "distribution", missing)
    with pytest.raises(wheel.WheelError, match="--install"):
        wheel.build()


# ---------------------------------------------------------------- bundle gradescope

def test_bundle_holds_the_scripts_the_exercises_without_solutions_and_gradcli(tmp_path):
    course = tmp_path / "course"
    invoke("init", course, "--install", "gradcli")
    out = tmp_path / "autograder.zip"
    result = invoke("bundle", "gradescope", course / "exercises", "-o", out)
    assert result.exit_code == 0, result.output
    count = len({k.split("/")[1] for k in shipped_exercises()})
    assert f"{count} exercises and gradcli" in result.stdout
    zf = zipfile.ZipFile(out)
    names = set(zf.namelist())
    assert {"setup.sh", "run_autograder", f"tools/{WHEEL}", "tools/requirements.txt"} <= names
    assert {n for n in names if n.startswith("exercises/")} == set(shipped_exercises(solutions=False))
    for script in ("setup.sh", "run_autograder"):
        assert zf.getinfo(script).external_attr >> 16 & 0o111, script      # executable
        text = zf.read(script).decode()
        assert text.startswith("#!/usr/bin/env bash\n") and "GRADCLI_AUTOGRADER_ROOT:-/autograder" in text
    assert "pip install gradcli" not in zf.read("setup.sh").decode()
    assert zf.read("tools/requirements.txt").decode().splitlines()[-1] == f"./tools/{WHEEL}"
    assert zf.read(f"tools/{WHEEL}") == wheel.build()[1]
    again = tmp_path / "again.zip"
    invoke("bundle", "gradescope", course / "exercises", "-o", again)
    assert again.read_bytes() == out.read_bytes()          # deterministic


def test_bundle_of_broken_exercises_leaves_the_old_zip(tmp_path):
    out = tmp_path / "autograder.zip"
    out.write_bytes(b"the previous autograder")
    result = invoke("bundle", "gradescope", tmp_path / "missing", "-o", out)
    assert result.exit_code == 2 and "not a directory" in result.stderr
    assert out.read_bytes() == b"the previous autograder"
    assert [p.name for p in tmp_path.iterdir()] == ["autograder.zip"]     # no temporary file left
    result = invoke("bundle", "gradescope", ROOT / "exercises", "-o", tmp_path / "no" / "such" / "dir.zip")
    assert result.exit_code == 2 and "cannot write" in result.stderr


# ---------------------------------------------------------------- shell completion (docs/install.md)

def complete(words: str, cword: int) -> list[str]:
    env = {**os.environ, "_GRADCLI_COMPLETE": "bash_complete", "COMP_WORDS": words, "COMP_CWORD": str(cword)}
    out = subprocess.run([sys.executable, "-m", "gradcli"], env=env, capture_output=True, text=True).stdout
    return [line.split(",", 1)[1] for line in out.splitlines()]


def test_shell_completion_as_documented():
    import re

    documented = re.findall(r"_GRADCLI_COMPLETE=(\w+) gradcli", (ROOT / "docs" / "install.md").read_text())
    assert {"bash_source", "zsh_source", "fish_source"} <= set(documented)
    for mode in set(documented):
        script = subprocess.run([sys.executable, "-m", "gradcli"], capture_output=True, text=True,
                                env={**os.environ, "_GRADCLI_COMPLETE": mode}).stdout
        shell = mode.split("_")[0]
        assert f"_GRADCLI_COMPLETE={shell}_complete" in script and "gradcli" in script, mode
    assert complete("gradcli ex", 1) == ["examples"]
    assert complete("gradcli b", 1) == ["bundle"]
    assert complete("gradcli eval --example lec", 3) == ["lecture_sin"]
    assert "--students" in complete("gradcli init --s", 2)
