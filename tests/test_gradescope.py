"""Gradescope's results.json from `gradcli grade --format gradescope` and the bundle's run_autograder
(issue 11): visibility per task, the student's files named as inside their submission, an answer
that cannot be graded said once per exercise, and an answer found where it was not expected.

run_autograder runs here against a fake /autograder tree (GRADCLI_AUTOGRADER_ROOT) whose
venv/bin/gradcli is this checkout's gradcli, so no virtual environment is built (the bundle's
setup.sh is run for real in tests/test_install.py).
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli.cli import main

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
SOLUTION_01 = (EXERCISES / "01-ln-sin-cos" / "solution.grad").read_text()

# Gradescope's documented results.json keys (gradescope-autograders.readthedocs.io/en/latest/specs,
# "Output format"); the top-level max_score is the contract's own (SPEC section 3).
TOP_KEYS = {"score", "execution_time", "output", "output_format", "test_output_format", "test_name_format",
            "visibility", "stdout_visibility", "extra_data", "tests", "leaderboard", "max_score"}
TEST_KEYS = {"score", "max_score", "status", "name", "name_format", "number", "output", "output_format",
             "tags", "visibility", "extra_data"}
VISIBILITY = {"hidden", "after_due_date", "after_published", "visible"}


def check_documented(results: dict) -> None:
    """Only Gradescope's keys, of their types; the score is the sum of the tests'."""
    assert set(results) <= TOP_KEYS and {"score", "tests"} <= set(results)
    assert isinstance(results["output"], str)
    for test in results["tests"]:
        assert set(test) <= TEST_KEYS and {"name", "score", "max_score", "status", "output"} <= set(test)
        assert isinstance(test["name"], str) and isinstance(test["output"], str)
        assert 0 <= test["score"] <= test["max_score"] and test["status"] in ("passed", "failed")
        assert test.get("visibility", "visible") in VISIBILITY
    assert abs(results["score"] - sum(t["score"] for t in results["tests"])) < 1e-9
    assert len({t["name"] for t in results["tests"]}) == len(results["tests"])


def gradescope(exercises, answers, cwd=None) -> dict:
    old = os.getcwd()
    if cwd:
        os.chdir(cwd)
    try:
        res = CliRunner().invoke(main, ["grade", str(exercises), "--answers", str(answers), "--format", "gradescope"])
    finally:
        os.chdir(old)
    assert res.exit_code in (0, 1), res.output
    data = json.loads(res.stdout)
    check_documented(data)
    return data


def exercise_tests(data, exercise: str) -> list[dict]:
    return [t for t in data["tests"] if t["name"].startswith(exercise + ":")]


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


# ---------------------------------------------------------------- in process

def test_paths_are_inside_the_submission_and_an_error_is_said_once(tmp_path):
    sub = tmp_path / "autograder" / "submission"
    write(sub / "01-ln-sin-cos.grad", SOLUTION_01.replace("b = cos(x)", "b = cos(x))"))   # a graph-line typo
    write(sub / "04-chain-rule" / "answer.grad", "u = x^2\no = sin(u\nd(o)/d(x) = cos(x^2)*2*x\n")
    (sub / "05-two-paths.grad").write_bytes(b"\x00\x01 not text")                          # unreadable
    data = gradescope(EXERCISES, sub)
    text = json.dumps(data)
    assert str(tmp_path) not in text and "autograder" not in text
    chain = exercise_tests(data, "04-chain-rule")
    assert "04-chain-rule/answer.grad:2:" in chain[0]["output"] + chain[1]["output"]
    # an answer that cannot be graded: the reason once, in the exercise's first test
    two = exercise_tests(data, "05-two-paths")
    assert "05-two-paths.grad" in two[0]["output"] and "binary" in two[0]["output"]
    assert all(t["output"] == "not graded: the answer could not be graded (see “05-two-paths: derivative”)"
               for t in two[1:])
    missing = exercise_tests(data, "02-jacobian")
    assert missing[0]["output"].startswith("no answer found: 02-jacobian.grad or 02-jacobian/answer.grad is "
                                           "not in your submission, which holds 3 files: ")
    assert sum("which holds" in t["output"] for t in missing) == 1
    assert all(t["score"] == 0 and t["status"] == "failed" for t in missing)


def test_a_relative_answers_folder_gives_the_same_report(tmp_path):
    sub = tmp_path / "sub"
    write(sub / "hw" / "04-chain-rule-final.grad", "u = x^2\no = sin(u\n")
    absolute = gradescope(EXERCISES, sub)
    relative = gradescope(EXERCISES, "sub", cwd=tmp_path)
    here = gradescope(EXERCISES, ".", cwd=sub)
    assert absolute == relative == here
    assert "hw/04-chain-rule-final.grad:2:" in json.dumps(absolute)


def test_a_file_that_looks_meant_is_graded_with_a_note(tmp_path):
    sub = tmp_path / "sub"
    write(sub / "hw" / "01-ln-sin-cos-final.grad", SOLUTION_01)
    write(sub / "hw" / "notes.txt", "scratch\n")
    data = gradescope(EXERCISES, sub)
    first = exercise_tests(data, "01-ln-sin-cos")
    note = ("graded hw/01-ln-sin-cos-final.grad: there is no 01-ln-sin-cos.grad or 01-ln-sin-cos/answer.grad "
            "at the top of your submission, and it is the one file that looks meant")
    assert first[0]["output"].startswith(note + "\n\n") and all(note not in t["output"] for t in first[1:])
    assert all(t["status"] == "passed" for t in first) and sum(t["score"] for t in first) == 7
    assert note in data["output"]
    # the same answer in a folder named after the exercise, anywhere
    sub2 = tmp_path / "sub2"
    write(sub2 / "work" / "01-LN-SIN-COS" / "answer.grad", SOLUTION_01)
    data = gradescope(EXERCISES, sub2)
    assert "graded work/01-LN-SIN-COS/answer.grad" in exercise_tests(data, "01-ln-sin-cos")[0]["output"]
    assert sum(t["score"] for t in exercise_tests(data, "01-ln-sin-cos")) == 7


def test_several_candidates_are_listed_and_none_graded(tmp_path):
    sub = tmp_path / "sub"
    write(sub / "hw" / "01-ln-sin-cos-v1.grad", "f = 1\n")
    write(sub / "hw" / "01-ln-sin-cos-v2.grad", SOLUTION_01)
    data = gradescope(EXERCISES, sub)
    first = exercise_tests(data, "01-ln-sin-cos")[0]
    assert first["score"] == 0 and first["output"] == (
        "no answer found: 01-ln-sin-cos.grad or 01-ln-sin-cos/answer.grad is not in your submission, and 2 files "
        "could be it: hw/01-ln-sin-cos-v1.grad, hw/01-ln-sin-cos-v2.grad; name the one to grade 01-ln-sin-cos.grad")


def test_a_missing_answer_lists_the_submission_and_the_one_that_looks_meant(tmp_path):
    sub = tmp_path / "sub"
    write(sub / "hw" / "01_ln_sin_cos.grad", SOLUTION_01)      # underscores: not graded, but named
    write(sub / "README.txt", "hi\n")
    for k in range(30):
        write(sub / "junk" / f"f{k:02d}.txt", "")
    out = exercise_tests(gradescope(EXERCISES, sub), "01-ln-sin-cos")[0]["output"]
    assert out.startswith("no answer found: 01-ln-sin-cos.grad or 01-ln-sin-cos/answer.grad is not in your "
                          "submission, which holds 32 files: README.txt, hw/01_ln_sin_cos.grad, junk/f00.txt")
    assert "and 12 more" in out
    assert out.endswith("; hw/01_ln_sin_cos.grad looks meant: name it 01-ln-sin-cos.grad to have it graded")
    empty = tmp_path / "empty"
    empty.mkdir()
    out = exercise_tests(gradescope(EXERCISES, empty), "03-sin-at-pi")[0]["output"]
    assert out == "no answer found: your submission is empty (expected 03-sin-at-pi.grad or 03-sin-at-pi/answer.grad)"


def test_a_file_another_exercise_claims_is_not_borrowed(tmp_path):
    exercises = tmp_path / "ex"
    for name in ("chain", "chain-2"):
        shutil.copytree(EXERCISES / "04-chain-rule", exercises / name)
    solution = (EXERCISES / "04-chain-rule" / "solution.grad").read_text()
    sub = tmp_path / "sub"
    write(sub / "hw" / "chain-2-final.grad", solution)            # chain-2's, though it starts with "chain"
    data = gradescope(exercises, sub)
    assert sum(t["score"] for t in exercise_tests(data, "chain-2")) == 5
    assert exercise_tests(data, "chain")[0]["output"].startswith("no answer found")
    # a hidden file, a symbolic link and a folder full of links are never taken
    sub2 = tmp_path / "sub2"
    write(sub2 / ".hidden" / "chain-final.grad", solution)
    (sub2 / "hw").mkdir()
    os.symlink(sub / "hw" / "chain-2-final.grad", sub2 / "hw" / "chain-final.grad")
    data = gradescope(exercises, sub2)
    assert exercise_tests(data, "chain")[0]["output"] == \
        "no answer found: your submission is empty (expected chain.grad or chain/answer.grad)"


def test_a_deep_or_huge_submission_is_searched_within_bounds(tmp_path):
    sub = tmp_path / "sub"
    deep = sub
    for k in range(40):                            # deeper than the search goes (16 folders)
        deep = deep / "d"
    deep.mkdir(parents=True)
    write(deep / "01-ln-sin-cos.grad", SOLUTION_01)
    write(sub / "0" / "01-ln-sin-cos-mine.grad", SOLUTION_01)     # looked at first (sorted)
    (sub / "a").mkdir()
    for k in range(5100):                          # more entries than the search looks at
        (sub / "a" / f"junk{k:04d}.txt").touch()
    out = exercise_tests(gradescope(EXERCISES, sub), "01-ln-sin-cos")[0]["output"]
    assert out.startswith("graded 0/01-ln-sin-cos-mine.grad")     # the deep copy is beyond the bound
    from gradcli.grade.runner import _files

    assert len(_files(sub)) < 5010 and not any(f.startswith("d/") for f in _files(sub))


def test_one_exercise_takes_the_only_grad_file(tmp_path):
    sub = tmp_path / "sub"
    write(sub / "my answer.grad", SOLUTION_01)
    data = gradescope(EXERCISES / "01-ln-sin-cos", sub)
    assert data["score"] == 7 and exercise_tests(data, "01-ln-sin-cos")[0]["output"].startswith("graded my answer.grad")


def test_the_repository_layout_needs_no_note(tmp_path):
    sub = tmp_path / "sub"
    write(sub / "exercises" / "01-ln-sin-cos" / "answer.grad", SOLUTION_01)
    write(sub / "exercises" / "04-chain-rule.grad", "o = sin(x^2\n")
    data = gradescope(EXERCISES, sub)
    assert sum(t["score"] for t in exercise_tests(data, "01-ln-sin-cos")) == 7 and "graded" not in data["output"]
    assert "exercises/04-chain-rule.grad:1:" in json.dumps(data)


@pytest.mark.parametrize("visibility", sorted(VISIBILITY))
def test_visibility_per_task_and_for_the_extra_test(tmp_path, visibility):
    folder = tmp_path / "04-chain-rule"
    shutil.copytree(EXERCISES / "04-chain-rule", folder)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('kind = "', f'visibility = "{visibility}"\nkind = "'))
    answer = write(tmp_path / "a.grad", (folder / "solution.grad").read_text() + "d(o)/d(x) = 5\n")
    data = gradescope(folder, answer)
    assert [t["name"].split(": ")[1] for t in data["tests"]] == ["graph", "edges", "derivative", "extra"]
    assert {t.get("visibility") for t in data["tests"]} == {visibility}   # the extra test too


def test_the_extra_test_is_visible_when_the_tasks_differ(tmp_path):
    folder = tmp_path / "04-chain-rule"
    shutil.copytree(EXERCISES / "04-chain-rule", folder)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('kind = "edges"', 'kind = "edges"\nvisibility = "hidden"'))
    answer = write(tmp_path / "a.grad", (folder / "solution.grad").read_text() + "partial(o, x) = 1\n")
    data = gradescope(folder, answer)
    assert [t.get("visibility") for t in data["tests"]] == [None, "hidden", None, None]


def test_junit_says_why_once_too(tmp_path):
    import xml.etree.ElementTree as ET

    sub = tmp_path / "sub"
    (sub / "04-chain-rule.grad").parent.mkdir(parents=True)
    (sub / "04-chain-rule.grad").write_bytes(b"\xff\xfe not UTF-8")
    res = CliRunner().invoke(main, ["grade", str(EXERCISES / "04-chain-rule"), "--answers", str(sub),
                                    "--format", "junit"])
    failures = [case.find("failure") for case in ET.fromstring(res.stdout).iter("testcase")]
    assert len(failures) == 3 and "UTF-8" in failures[0].text
    assert [f.text for f in failures[1:]] == ["not graded: the answer could not be graded (see 04-chain-rule.graph)"] * 2


def test_the_reports_are_byte_identical_for_the_same_seed(tmp_path):
    sub = tmp_path / "sub"
    write(sub / "hw" / "01-ln-sin-cos-x.grad", SOLUTION_01.replace("cos(x)/sin(x)", "sin(x)/cos(x)"))
    runs = [CliRunner().invoke(main, ["grade", str(EXERCISES), "--answers", str(sub), "--format", "gradescope",
                                      "--seed", "3"]).stdout for _ in range(2)]
    assert runs[0] == runs[1] and json.loads(runs[0])["score"] > 0


# ---------------------------------------------------------------- run_autograder

@pytest.fixture(scope="module")
def autograder(tmp_path_factory) -> Path:
    """A fake /autograder: source/ unzipped from a real bundle (exercise 04 with a hidden edges
    task), venv/bin/gradcli running this checkout's gradcli."""
    root = tmp_path_factory.mktemp("autograder")
    exercises = root / "course"
    for name in ("01-ln-sin-cos", "04-chain-rule"):
        shutil.copytree(EXERCISES / name, exercises / name)
    toml = exercises / "04-chain-rule" / "exercise.toml"
    toml.write_text(toml.read_text().replace('kind = "edges"', 'kind = "edges"\nvisibility = "after_due_date"'))
    res = CliRunner().invoke(main, ["bundle", "gradescope", str(exercises), "-o", str(root / "autograder.zip")])
    assert res.exit_code == 0, res.output
    with zipfile.ZipFile(root / "autograder.zip") as zf:
        zf.extractall(root / "source")
        for info in zf.infolist():
            os.chmod(root / "source" / info.filename, info.external_attr >> 16 & 0o777)
    shim = root / "venv" / "bin" / "gradcli"
    shim.parent.mkdir(parents=True)
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m gradcli "$@"\n')
    shim.chmod(0o755)
    return root


def run_autograder(root: Path, files: dict[str, str | bytes]) -> dict:
    sub = root / "submission"
    shutil.rmtree(sub, ignore_errors=True)
    for name, text in files.items():
        path = sub / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text if isinstance(text, bytes) else text.encode())
    sub.mkdir(exist_ok=True)
    env = {**os.environ, "GRADCLI_AUTOGRADER_ROOT": str(root), "PYTHONPATH": str(ROOT)}
    done = subprocess.run([root / "source" / "run_autograder"], cwd=root, env=env, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    results = json.loads((root / "results" / "results.json").read_text())
    check_documented(results)
    return results


def test_run_autograder_names_files_inside_the_submission(autograder):
    results = run_autograder(autograder, {
        "exercises/01-ln-sin-cos/answer.grad": SOLUTION_01,
        "exercises/04-chain-rule/answer.grad": "u = x^2\no = sin(u))\npartial(u, x) = 2*x\n",
    })
    text = json.dumps(results)
    assert str(autograder) not in text and "/autograder" not in text
    chain = {t["name"]: t for t in results["tests"]}
    assert "exercises/04-chain-rule/answer.grad:2:" in text
    assert chain["04-chain-rule: edges"]["visibility"] == "after_due_date"
    assert "visibility" not in chain["04-chain-rule: graph"]
    assert sum(t["score"] for t in results["tests"] if t["name"].startswith("01-")) == 7


def test_run_autograder_finds_a_misplaced_answer_and_lists_a_missing_one(autograder):
    results = run_autograder(autograder, {"hw/01-ln-sin-cos (1).grad": SOLUTION_01, "hw/notes.md": "x"})
    tests = {t["name"]: t for t in results["tests"]}
    assert tests["01-ln-sin-cos: derivative"]["output"].startswith("graded hw/01-ln-sin-cos (1).grad: ")
    assert results["score"] == 7
    missing = tests["04-chain-rule: graph"]["output"]
    assert missing == ("no answer found: 04-chain-rule.grad or 04-chain-rule/answer.grad is not in your "
                       "submission, which holds 2 files: hw/01-ln-sin-cos (1).grad, hw/notes.md")
    assert tests["04-chain-rule: edges"]["output"].startswith("not graded: ")
    assert tests["04-chain-rule: edges"]["visibility"] == "after_due_date"


def test_run_autograder_without_a_submission_folder_still_writes_results(autograder, tmp_path):
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "source").symlink_to(autograder / "source")
    (broken / "venv").symlink_to(autograder / "venv")
    env = {**os.environ, "GRADCLI_AUTOGRADER_ROOT": str(broken), "PYTHONPATH": str(ROOT)}
    subprocess.run([broken / "source" / "run_autograder"], cwd=broken, env=env, capture_output=True, timeout=60,
                   check=True)
    results = json.loads((broken / "results" / "results.json").read_text())
    check_documented(results)
    assert results["score"] == 0 and "course staff" in results["output"]
