"""From `pip install` to a graded class, in fresh virtual environments (issue 11).

No file of the clone is in reach: commands run from a temporary folder, with no PYTHONPATH
and no user site, and Python's own checks use -I (isolated: no current folder on sys.path).
These tests are slow (a virtual environment each, numpy and all): one per step, shared by
the module's tests; A and B are made without pip of their own (this pip installs into them
with --python) and none compiles bytecode, which halves their cost.
  A: `pip install <wheel>` (the wheel `pip install .` builds); `gradcli init`, `--self-test`,
     a student's answers graded.
  B: a fresh venv installs what `init` wrote (tools/requirements.txt: the wheel rebuilt from
     A's installed files); `--self-test` there; B's own rebuilt wheel is byte-identical.
  C: the Gradescope bundle's own setup.sh makes it, against a fake /autograder tree on a
     fake Ubuntu 22.04 (python3 too old, python3.11 from apt), and run_autograder grades
     real submissions into results.json. Where apt cannot help, setup.sh says what to do.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from gradcli import __version__

ROOT = Path(__file__).resolve().parent.parent
WHEEL = f"gradcli-{__version__}-py3-none-any.whl"

# A student's answers: exercise 01 right, exercise 04 with the classic slip (the chain rule
# without the inner derivative), the others not answered.
ANSWER_01 = (ROOT / "exercises" / "01-ln-sin-cos" / "solution.grad").read_text()
ANSWER_04 = """\
# my answer
u = x^2
o = sin(u)
partial(u, x) = 2*x
partial(o, u) = cos(u)
d(o)/d(x) = cos(x^2)
"""

# Gradescope's documented results.json keys (gradescope-autograders.readthedocs.io, "Output
# format"); top-level max_score is the contract's own (SPEC section 3), which Gradescope ignores.
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard", "max_score"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def clean_env(**extra) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP", "VIRTUAL_ENV", "PYTHONSAFEPATH")}
    return {**env, "PYTHONNOUSERSITE": "1", "NO_COLOR": "1", **extra}


def run(args, cwd, ok=(0,), **env):
    result = subprocess.run([str(a) for a in args], cwd=cwd, env=clean_env(**env), capture_output=True, text=True)
    assert result.returncode in ok, f"{args}: exit {result.returncode}\n{result.stdout}\n{result.stderr}"
    return result


def fresh_venv(path: Path) -> Path:
    """A new virtual environment at path (no pip in it: see pip_install); its bin/ folder."""
    run([sys.executable, "-m", "venv", "--without-pip", path], cwd=path.parent)
    return path / "bin"


def pip_install(bin_: Path, *args, cwd: Path):
    """pip install into the environment of bin_, from cwd (this pip, run by that Python)."""
    run([sys.executable, "-m", "pip", "--python", bin_ / "python", "install", "-q", "--no-compile",
         "--disable-pip-version-check", *args], cwd=cwd)


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("install")


@pytest.fixture(scope="module")
def venv_a(work, built_wheel) -> Path:
    outside = work / "outside"
    outside.mkdir()
    bin_ = fresh_venv(work / "venv-a")
    pip_install(bin_, built_wheel, cwd=outside)
    return bin_


@pytest.fixture(scope="module")
def course(work, venv_a) -> Path:
    run([venv_a / "gradcli", "init", "course"], cwd=work / "outside")
    return work / "outside" / "course"


@pytest.fixture(scope="module")
def venv_b(work, course) -> Path:
    bin_ = fresh_venv(work / "venv-b")
    pip_install(bin_, "-r", "tools/requirements.txt", cwd=course)
    return bin_


def where(bin_: Path, cwd: Path) -> tuple[str, str]:
    out = run([bin_ / "python", "-I", "-c", "import gradcli, gradcli.shipped as s; print(gradcli.__file__); "
               "print(s.root())"], cwd=cwd).stdout.split("\n")
    return out[0], out[1]


def test_installed_wheel_inits_a_course_and_grades_a_student(work, venv_a, course, built_wheel):
    package, data = where(venv_a, work)
    venv = str((work / "venv-a").resolve())
    assert package.startswith(venv) and data.startswith(venv) and data.endswith("gradcli/data")
    assert not any(str(ROOT) in p for p in (package, data))
    assert (course / "exercises" / "01-ln-sin-cos" / "solution.grad").is_file()
    # The wheel init rebuilt from A's installed files holds what the real build ships.
    ours, real = zipfile.ZipFile(course / "tools" / WHEEL), zipfile.ZipFile(built_wheel)
    same = {n for n in real.namelist() if not n.endswith(("dist-info/WHEEL", "dist-info/RECORD"))}
    assert set(ours.namelist()) == same | {n for n in real.namelist() if n not in same}
    assert all(ours.read(n) == real.read(n) for n in same)
    # The instructors' check, then one student's answers.
    selftest = run([venv_a / "gradcli", "grade", "--self-test", "exercises/", "--format", "json"], cwd=course)
    assert json.loads(selftest.stdout)["passed"]
    student = work / "outside" / "alice"
    (student / "01-ln-sin-cos").mkdir(parents=True)
    (student / "01-ln-sin-cos" / "answer.grad").write_text(ANSWER_01)
    (student / "04-chain-rule.grad").write_text(ANSWER_04)
    graded = run([venv_a / "gradcli", "grade", "exercises/", "--answers", student, "--format", "json"],
                 cwd=course, ok=(1,))
    report = {e["id"]: e for e in json.loads(graded.stdout)["exercises"]}
    assert report["01-ln-sin-cos"]["score"] == report["01-ln-sin-cos"]["max_score"] == 7
    chain = report["04-chain-rule"]
    assert (chain["score"], chain["max_score"]) == (3, 5)
    (wrong,) = [i for t in chain["tasks"] for i in t["items"] if not i["passed"]]
    assert wrong["name"] == "d(o)/d(x)" and wrong["note"] == "missing-inner-factor"
    assert all(e["score"] == 0 and "no answer found" in e["error"]
               for k, e in report.items() if k not in ("01-ln-sin-cos", "04-chain-rule"))
    example = run([venv_a / "gradcli", "eval", "--example", "linear_z", "--format", "json"], cwd=work)
    assert json.loads(example.stdout)["outputs"]["z"]["value"] == 16.5


def test_what_init_wrote_installs_in_a_fresh_venv(work, course, venv_b):
    package, _ = where(venv_b, work)
    assert package.startswith(str((work / "venv-b").resolve()))
    run([venv_b / "gradcli", "grade", "--self-test", "exercises/"], cwd=course)
    # Rebuilt from an installation of a rebuilt wheel: the same bytes.
    run([venv_b / "gradcli", "init", "students", "--students"], cwd=work / "outside")
    students = work / "outside" / "students"
    assert (students / "tools" / WHEEL).read_bytes() == (course / "tools" / WHEEL).read_bytes()
    assert not list(students.rglob("solution.grad"))


def image_without_python(folder: Path, python_from_apt: bool) -> Path:
    """A folder for the front of PATH: python3, python3.11-13 that are not 3.11+ with venv,
    and an apt-get that logs its arguments and, if python_from_apt, "installs" python3.11."""
    folder.mkdir()
    for name in ("python3", "python3.11", "python3.12", "python3.13"):
        (folder / name).write_text("#!/bin/sh\nexit 1\n")
        (folder / name).chmod(0o755)
    real = os.path.realpath(sys.executable)
    install = f'ln -sf "{real}" "{folder}/python3.11"' if python_from_apt else ":"
    (folder / "apt-get").write_text(f'#!/bin/sh\necho "$*" >> "{folder}/apt.log"\n'
                                    f'case "$*" in *python3.11-venv*) {install} ;; esac\n')
    (folder / "apt-get").chmod(0o755)
    return folder


def test_gradescope_setup_without_a_python_says_what_to_do(work, tmp_path):
    stubs = image_without_python(tmp_path / "image", python_from_apt=False)
    setup = ROOT / "gradcli" / "course" / "templates" / "gradescope" / "setup.sh"
    result = run(["bash", setup], cwd=tmp_path, ok=(1,), GRADCLI_AUTOGRADER_ROOT=str(tmp_path),
                 PATH=f"{stubs}{os.pathsep}{os.environ['PATH']}")
    assert "Python 3.11 or newer" in result.stderr and "Ubuntu 22.04 or newer" in result.stderr
    assert not (tmp_path / "venv").exists()


def check_gradescope_results(results: dict) -> None:
    """results.json as Gradescope documents it: only its keys, of their types."""
    assert set(results) <= TOP_KEYS and {"score", "tests"} <= set(results)
    assert isinstance(results["score"], (int, float)) and isinstance(results.get("output", ""), str)
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS and {"name", "score", "max_score", "status", "output"} <= set(test)
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert isinstance(test["score"], (int, float)) and isinstance(test["max_score"], (int, float))
        assert 0 <= test["score"] <= test["max_score"]
        assert test["status"] in ("passed", "failed")
        assert test.get("visibility", "visible") in VISIBILITY
    assert abs(results["score"] - sum(t["score"] for t in results["tests"])) < 1e-9


def test_gradescope_bundle_grades_a_submission_in_a_fake_autograder(work, course, venv_b):
    run([venv_b / "gradcli", "bundle", "gradescope", "exercises/", "-o", work / "autograder.zip"], cwd=course)
    root = work / "autograder"
    (root / "source").mkdir(parents=True)
    with zipfile.ZipFile(work / "autograder.zip") as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():  # zipfile drops the modes; Gradescope's unzip keeps them
            os.chmod(root / "source" / info.filename, info.external_attr >> 16 & 0o777)
    assert not list((root / "source").rglob("solution.grad"))
    # An image like Ubuntu 22.04's: python3 is too old and there is no other Python until
    # setup.sh asks apt for python3.11 (stubs on PATH stand in for both; "installing"
    # python3.11 links this test's Python).
    stubs = image_without_python(work / "image", python_from_apt=True)
    env = {"GRADCLI_AUTOGRADER_ROOT": str(root), "PATH": f"{stubs}{os.pathsep}{os.environ['PATH']}",
           "PIP_COMPILE": "false"}
    setup = run(["bash", root / "source" / "setup.sh"], cwd=root, **env)
    assert f"gradcli, version {__version__}" in setup.stdout
    assert (stubs / "apt.log").read_text().splitlines() == [
        "update -q", "install -y -q python3 python3-venv", "install -y -q python3.11 python3.11-venv"]
    package, _ = where(root / "venv" / "bin", work)
    assert package.startswith(str((root / "venv").resolve()))

    # A student uploads their repository: exercises/ID/answer.grad.
    submission = root / "submission" / "exercises"
    (submission / "01-ln-sin-cos").mkdir(parents=True)
    (submission / "01-ln-sin-cos" / "answer.grad").write_text(ANSWER_01)
    (submission / "04-chain-rule").mkdir()
    (submission / "04-chain-rule" / "answer.grad").write_text(ANSWER_04)
    run([root / "source" / "run_autograder"], cwd=root, **env)
    results = json.loads((root / "results" / "results.json").read_text())
    check_gradescope_results(results)
    tests = {t["name"]: t for t in results["tests"]}
    assert all(t["status"] == "passed" and t["score"] == t["max_score"]
               for name, t in tests.items() if name.startswith("01-ln-sin-cos:"))
    assert tests["04-chain-rule: derivative"]["status"] == "failed"
    assert "d(o)/d(x)" in tests["04-chain-rule: derivative"]["output"]
    assert tests["04-chain-rule: edges"]["status"] == "passed"
    assert results["score"] == 7 + 3 and results["max_score"] == sum(t["max_score"] for t in tests.values())
    assert tests["02-jacobian: derivative"]["output"].startswith(
        "no answer found: 02-jacobian.grad or 02-jacobian/answer.grad is not in your submission, which holds "
        "2 files: exercises/01-ln-sin-cos/answer.grad, exercises/04-chain-rule/answer.grad")
    assert tests["02-jacobian: forward"]["output"].startswith("not graded: ")     # said once per exercise
    assert str(root) not in json.dumps(results)                                    # paths inside the submission

    # The same answers uploaded as one file per exercise grade the same.
    flat = root / "submission"
    for old in sorted(flat.rglob("*"), reverse=True):
        old.unlink() if old.is_file() else old.rmdir()
    (flat / "01-ln-sin-cos.grad").write_text(ANSWER_01)
    (flat / "04-chain-rule.grad").write_text(ANSWER_04)
    run([root / "source" / "run_autograder"], cwd=root, **env)
    again = json.loads((root / "results" / "results.json").read_text())
    assert again["score"] == results["score"] and [t["score"] for t in again["tests"]] == \
        [t["score"] for t in results["tests"]]

    # ... and misnamed, in a subfolder: graded, with a note that says which file was used.
    for old in sorted(flat.rglob("*"), reverse=True):
        old.unlink() if old.is_file() else old.rmdir()
    (flat / "hw").mkdir()
    (flat / "hw" / "01-ln-sin-cos-final.grad").write_text(ANSWER_01)
    (flat / "hw" / "04-chain-rule-final.grad").write_text(ANSWER_04)
    run([root / "source" / "run_autograder"], cwd=root, **env)
    moved = json.loads((root / "results" / "results.json").read_text())
    check_gradescope_results(moved)
    assert [t["score"] for t in moved["tests"]] == [t["score"] for t in results["tests"]]
    assert moved["tests"][0]["output"].startswith("graded hw/01-ln-sin-cos-final.grad: ")

    # A broken autograder (no venv) still writes a results.json that says so.
    broken = work / "broken"
    (broken / "submission").mkdir(parents=True)
    (broken / "source").symlink_to(root / "source")
    run([root / "source" / "run_autograder"], cwd=broken, GRADCLI_AUTOGRADER_ROOT=str(broken))
    failed = json.loads((broken / "results" / "results.json").read_text())
    check_gradescope_results(failed)
    assert failed["score"] == 0 and "course staff" in failed["output"]
