"""Realistic student answers to the shipped exercises, each with what a teacher expects (issue 8).

Every file under tests/fixtures/grade/students/<exercise>/ is one student's answer;
its first comment lines say what grading it must give:

    # score: 6.3333 / 7                           the score and the maximum
    # fail: forward | d(b)/d(x) | sign-error        a failed item: task kind, item, note (if any)
    # pass: derivative | d(f)/d(x) | follow-through a passed item with a note
    # feedback: right given your d(b)/d(x)          text the feedback must show
    # absent: multiply by                           text no feedback may show

The `fail:` lines are all the failed items (the items shown "graded in" another task
follow the one they repeat and are not listed); an answer passes (exit 0) only when
there is none.
"""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli.cli import main
from gradcli.grade import notes, runner
from gradcli.grade.batch import Limits
from gradcli.grade.exercise import load_exercise
from gradcli.grade.tasks import grade_file

ROOT = Path(__file__).resolve().parent.parent
EXERCISES = ROOT / "exercises"
STUDENTS = ROOT / "tests" / "fixtures" / "grade" / "students"
ANSWERS = sorted(STUDENTS.glob("*/*.grad"))


@pytest.fixture(scope="module")
def exercises():
    return {}


def exercise(cache, name):
    if name not in cache:
        cache[name] = load_exercise(EXERCISES / name)
    return cache[name]


def expectations(path: Path) -> dict:
    want = {"fail": set(), "pass": set(), "feedback": [], "absent": [], "score": None}
    for line in path.read_text(encoding="utf-8").splitlines():
        m = re.match(r"# (score|fail|pass|feedback|absent): (.*)$", line)
        if not m:
            break
        key, value = m.groups()
        if key == "score":
            score, top = value.split(" / ")
            want["score"] = (float(score), float(top))
        elif key in ("fail", "pass"):
            parts = [p.strip() for p in value.split(" | ")]
            want[key].add((parts[0], parts[1], parts[2] if len(parts) > 2 else None))
        else:
            want[key].append(value)
    return want


def test_at_least_forty_answers_over_every_exercise():
    assert len(ANSWERS) >= 40
    assert {p.parent.name for p in ANSWERS} == {p.parent.name for p in EXERCISES.glob("*/exercise.toml")}
    assert all(expectations(p)["score"] is not None for p in ANSWERS)


@pytest.mark.parametrize("path", ANSWERS, ids=[f"{p.parent.name[:2]}-{p.stem}" for p in ANSWERS])
def test_student_answer(exercises, path):
    want = expectations(path)
    result = grade_file(exercise(exercises, path.parent.name), path)
    assert result.error is None, result.error
    failed = {(t.kind, i.name, i.note) for t in result.tasks for i in t.items
              if not i.passed and i.graded_in is None}
    noted = {(t.kind, i.name, i.note) for t in result.tasks for i in t.items if i.passed and i.note}
    shown = "\n".join(i.feedback for t in result.tasks for i in t.items)
    assert failed == want["fail"], shown
    assert want["pass"] <= noted, shown
    assert (result.score, result.max_score) == want["score"]
    assert result.passed == (not want["fail"])
    for text in want["feedback"]:
        assert text in shown, shown
    for text in want["absent"]:
        assert text not in shown, shown
    # the extra items (claims no task asks for, lines with an error) are worth nothing, the others are scored
    for t in result.tasks:
        assert all(i.extra == (t.kind == "extra") for i in t.items), t.kind
    # a shared item shows the result of the one it repeats
    for t in result.tasks:
        for i in t.items:
            if i.graded_in is not None:
                origin = next(o for u in result.tasks for o in u.items if o.name == i.name and o.graded_in is None)
                assert (i.passed, i.note) == (origin.passed, origin.note)


# ---------------------------------------------------------------- the rules, one by one

def grade_text(ex, tmp_path, text, name="a.grad"):
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return grade_file(ex, path)


def by_name(result):
    return {(t.kind, i.name): i for t in result.tasks for i in t.items}


SOLUTION_01 = (EXERCISES / "01-ln-sin-cos" / "solution.grad").read_text()


def test_a_claim_is_one_item_whatever_asks_for_it(exercises, tmp_path):
    ex = exercise(exercises, "01-ln-sin-cos")
    text = SOLUTION_01.replace("d(f)/d(x) = cos(x)/sin(x) - sin(x)/cos(x)", "d(f)/d(x) = 1/c")
    result = grade_text(ex, tmp_path, text)
    got = by_name(result)
    assert not got[("derivative", "d(f)/d(x)")].passed
    for kind in ("forward", "reverse"):
        shared = got[(kind, "d(f)/d(x)")]
        assert shared.graded_in == "derivative" and not shared.passed and not shared.scored
    assert result.score == 5 and not result.passed     # the derivative's 2 points, once


def test_a_task_whose_items_are_all_graded_elsewhere_follows_them(tmp_path):
    folder = tmp_path / "ex"
    shutil.copytree(EXERCISES / "01-ln-sin-cos", folder)
    toml = folder / "exercise.toml"
    text = toml.read_text()
    head, _, tasks = text.partition("[[tasks]]")
    blocks = ["[[tasks]]" + b for b in tasks.split("[[tasks]]")]
    toml.write_text(head + "".join(blocks[1:] + blocks[:1]) + "\n")      # derivative last
    ex = load_exercise(folder)
    assert [t.kind for t in ex.tasks] == ["graph", "forward", "reverse", "derivative"]
    wrong = grade_text(ex, tmp_path, SOLUTION_01.replace("d(f)/d(x) = cos(x)/sin(x) - sin(x)/cos(x)",
                                                          "d(f)/d(x) = 1/c"))
    tasks = {t.kind: t for t in wrong.tasks}
    assert tasks["derivative"].score == 0 and tasks["forward"].score == 1.5 and wrong.score == 4.5
    assert not wrong.passed
    solution = grade_file(ex, folder / "solution.grad")
    assert solution.score == 7 and solution.passed


def test_follow_through_can_be_turned_off(tmp_path):
    folder = tmp_path / "ex"
    shutil.copytree(EXERCISES / "01-ln-sin-cos", folder)
    toml = folder / "exercise.toml"
    toml.write_text("follow_through = false\n" + toml.read_text())
    path = STUDENTS / "01-ln-sin-cos" / "sign_slip_carried.grad"
    off = grade_file(load_exercise(folder), path)
    got = by_name(off)
    assert not got[("derivative", "d(f)/d(x)")].passed and not got[("forward", "d(c)/d(x)")].passed
    # derivative 0 of 2, graph 1, forward 1 item of 3 (of 2 points), reverse 2: 3.6667 instead of 6.3333
    assert off.score == round(1 + 2 / 3 + 2, 4) < expectations(path)["score"][0] and not off.passed


def test_follow_through_needs_a_charged_source(exercises, tmp_path):
    """A wrong claim no task asks for (worth 0 points) carries nothing forward."""
    ex = exercise(exercises, "07-matrix-cost")
    text = ("a = w1 @ x\nb = w2 @ a\ne = y - b\ncost = sum(square(e))\n"
            "d(cost)/d(a) = [[4, -10, 4], [-8, 20, -8]]\n"          # wrong (the sign of b), not asked
            "d(cost)/d(x) = [[-4, 10, -4], [-12, 30, -12]]\n"       # w1.T @ that wrong value
            "d(cost)/d(w1) = [[10, -14], [-20, 28]]\nd(cost)/d(w2) = [10, -18]\nd(cost)/d(y) = [4, -10, 4]\n")
    result = grade_text(ex, tmp_path, text)
    got = by_name(result)
    assert not got[("derivative", "d(cost)/d(x)")].passed
    assert got[("derivative", "d(cost)/d(x)")].note != notes.FOLLOW and result.score == 3
    assert not result.passed


def test_every_claim_is_checked_and_counts_for_the_exit_status(exercises, tmp_path):
    ex = exercise(exercises, "05-two-paths")
    right = (EXERCISES / "05-two-paths" / "solution.grad").read_text()
    ok = grade_text(ex, tmp_path, right + "d(c)/d(b) = 1\n", "ok.grad")
    assert ok.passed and ok.score == 6 and all(t.kind != "extra" for t in ok.tasks)
    bad = grade_text(ex, tmp_path, right + "d(c)/d(b) = 2\n", "bad.grad")
    extra = next(t for t in bad.tasks if t.kind == "extra")
    (item,) = extra.items
    assert item.extra and not item.passed and "not asked, but wrong" in item.feedback
    assert bad.score == 6 and not bad.passed and extra.max_score == 0


def test_a_node_w_r_t_itself_is_the_identity(exercises, tmp_path):
    """d(u)/d(u) is 1 (the identity matrix for a vector), for an input or an operation alike:
    right, it passes silently; wrong, it is a wrong extra claim (it once expected 0 for an
    operation and skipped an input)."""
    ex = exercise(exercises, "05-two-paths")
    right = (EXERCISES / "05-two-paths" / "solution.grad").read_text()
    ok = grade_text(ex, tmp_path, right + "d(e)/d(e) = 1\nd(c)/d(c) = 1\nd(a)/d(a) = 1\n", "ok.grad")
    assert ok.passed and ok.score == 6 and all(t.kind != "extra" for t in ok.tasks)
    bad = grade_text(ex, tmp_path, right + "d(e)/d(e) = 0\nd(b)/d(b) = 2\n", "bad.grad")
    got = by_name(bad)
    assert "expected 1, given 0" in got[("extra", "d(e)/d(e)")].feedback
    assert "expected 1, given 2" in got[("extra", "d(b)/d(b)")].feedback
    assert bad.score == 6 and not bad.passed
    ex8 = exercise(exercises, "08-logistic-regression")
    right8 = (EXERCISES / "08-logistic-regression" / "solution.grad").read_text()
    vec = grade_text(ex8, tmp_path, right8 + "d(z)/d(z) = [[1, 0, 0], [0, 1, 0], [0, 0, 1]]\n"
                     "d(x)/d(x) = [[1, 0], [0, 2]]\n", "vec.grad")
    got = by_name(vec)
    assert ("extra", "d(z)/d(z)") not in got
    assert "expected [[1, 0], [0, 1]], given [[1, 0], [0, 2]]" in got[("extra", "d(x)/d(x)")].feedback
    assert vec.score == vec.max_score and not vec.passed


def test_exit_status_follows_the_extra_items(tmp_path):
    folder = tmp_path / "05"
    shutil.copytree(EXERCISES / "05-two-paths", folder)
    right = (folder / "solution.grad").read_text()
    (tmp_path / "ok.grad").write_text(right)
    (tmp_path / "bad.grad").write_text(right + "d(c)/d(b) = 2\n")
    cli = CliRunner()
    assert cli.invoke(main, ["grade", str(folder), "--answers", str(tmp_path / "ok.grad")]).exit_code == 0
    bad = cli.invoke(main, ["grade", str(folder), "--answers", str(tmp_path / "bad.grad"), "--format", "json"])
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["score"] == 6 and not data["passed"]
    extra = [t for t in data["exercises"][0]["tasks"] if t["kind"] == "extra"]
    assert extra[0]["max_score"] == 0 and extra[0]["items"][0]["extra"] is True


def test_sigfigs_is_a_key(tmp_path):
    folder = tmp_path / "03"
    shutil.copytree(EXERCISES / "03-sin-at-pi", folder)
    path = STUDENTS / "03-sin-at-pi" / "too_few_digits.grad"
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace("sigfigs = 4", "sigfigs = 2"))
    loose = grade_file(load_exercise(folder), path)
    assert loose.score == 6 and loose.passed
    toml.write_text(toml.read_text().replace("sigfigs = 2", "sigfigs = 6"))
    strict = grade_file(load_exercise(folder), STUDENTS / "03-sin-at-pi" / "rounded_lecture.grad")
    assert not strict.passed and all(i.note == notes.DIGITS for t in strict.tasks for i in t.items
                                     if not i.passed and i.graded_in is None)
    # d(f)/d(w2) = 6.2832 is not 2π to 6 figures: half of the reverse task's 2 points (d(f)/d(x) = -6.2832
    # follows from it, and is not charged again)
    assert strict.score == 5
    # "right to k figures" is said of a rounding, not of an answer with one figure of three right
    toml.write_text(toml.read_text().replace("sigfigs = 6", "sigfigs = 3"))
    three = load_exercise(folder)
    for given, note in [("-6.3", notes.DIGITS), ("-6.0", None), ("-6.28", None)]:
        result = grade_text(three, tmp_path, f"d(f)/d(x) = {given}\nd(f)/d(y) = 0\n")
        item = by_name(result)[("derivative", "d(f)/d(x)")]
        assert item.passed is (note is None and given == "-6.28") and item.note == note, given
        assert result.score == (1 if item.passed else 0.5)
    assert "right to 2 significant figures; give 3" in by_name(
        grade_text(three, tmp_path, "d(f)/d(x) = -6.3\nd(f)/d(y) = 0\n"))[("derivative", "d(f)/d(x)")].feedback


@pytest.mark.parametrize("given,ok", [("-6.2832", True), ("-6.283", True), ("-2*pi", True), ("-6.2831853", True),
                                      ("-6.284", False), ("-6.28", False), ("6.2832", False)])
def test_numbers_to_four_significant_figures(exercises, tmp_path, given, ok):
    ex = exercise(exercises, "03-sin-at-pi")
    result = grade_text(ex, tmp_path, f"d(f)/d(x) = {given}\nd(f)/d(y) = 0\n")
    assert by_name(result)[("derivative", "d(f)/d(x)")].passed is ok
    assert result.score == (1 if ok else 0.5) and not result.passed      # the derivative task's point only
    graph = by_name(result)[("graph", "one primitive op per node")]      # the claims alone: no graph
    assert graph.note == notes.MISSING and "your answer has no graph" in graph.feedback


@pytest.mark.parametrize("given,ok", [("0", True), ("-8.7423e-08", True), ("1.2e-16", True), ("4e-5", True),
                                      ("6e-5", False), ("0.001", False)])
def test_an_exact_zero_has_an_absolute_floor(exercises, tmp_path, given, ok):
    ex = exercise(exercises, "03-sin-at-pi")
    result = grade_text(ex, tmp_path, f"d(f)/d(x) = -2*pi\nd(f)/d(y) = {given}\n")
    assert by_name(result)[("derivative", "d(f)/d(y)")].passed is ok
    assert result.score == (1 if ok else 0.5) and not result.passed


def test_a_formula_keeps_rtol_atol(exercises, tmp_path):
    ex = exercise(exercises, "04-chain-rule")
    close = grade_text(ex, tmp_path, "d(o)/d(x) = 2*x*cos(x**2)*(1 + 1e-9)\n", "close.grad")
    rounded = grade_text(ex, tmp_path, "d(o)/d(x) = 2*x*cos(x**2)*1.0001\n", "rounded.grad")
    assert by_name(close)[("derivative", "d(o)/d(x)")].passed
    assert not by_name(rounded)[("derivative", "d(o)/d(x)")].passed
    assert (close.score, rounded.score) == (2, 0) and not close.passed and not rounded.passed


def test_a_compound_node_costs_the_graph_item_once(exercises):
    result = grade_file(exercise(exercises, "01-ln-sin-cos"), STUDENTS / "01-ln-sin-cos" / "compound_c.grad")
    got = by_name(result)
    assert not got[("graph", "one primitive op per node")].passed
    assert ("forward", "d(a)/d(x)") in got and got[("reverse", "d(f)/d(a)")].passed
    assert result.score == 6.5 and not result.passed


def test_the_report_names_the_task_that_grades_a_shared_claim(exercises):
    ex = exercise(exercises, "01-ln-sin-cos")
    student = runner.grade_student([ex], "s", STUDENTS / "01-ln-sin-cos" / "sign_slip_carried.grad", Limits())
    from gradcli.grade import formats

    book = runner.gradebook([ex], [student], True)
    gradescope = json.loads(formats.gradescope(book))
    forward = next(t for t in gradescope["tests"] if t["name"].endswith(": forward"))
    assert "graded in an earlier task: d(f)/d(x)" in forward["output"]
    assert forward["output"].startswith("2 of 3 item(s) right")
    assert forward["score"] == pytest.approx(4 / 3, abs=1e-4) and forward["max_score"] == 2
    assert gradescope["score"] == pytest.approx(7 - 2 / 3, abs=1e-4) and not student.passed


def test_visibility_reaches_gradescope(tmp_path):
    folder = tmp_path / "04"
    shutil.copytree(EXERCISES / "04-chain-rule", folder)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('kind = "edges"', 'kind = "edges"\nvisibility = "after_due_date"'))
    res = CliRunner().invoke(main, ["grade", str(folder), "--answers", str(folder / "solution.grad"),
                                    "--format", "gradescope"])
    data = json.loads(res.stdout)
    tests = data["tests"]
    assert [t.get("visibility") for t in tests] == [None, "after_due_date", None]
    assert res.exit_code == 0 and data["score"] == data["max_score"] == 5
    assert all(t["status"] == "passed" and t["score"] == t["max_score"] for t in tests)


@pytest.mark.parametrize("edit, message", [
    (('kind = "graph"', 'kind = "graph"\nzeros = true'), "'zeros' is a key of forward and derivative tasks"),
    (('kind = "edges"', 'kind = "edges"\ndistinct = true'), "'distinct' is a key of graph tasks"),
    (('seed = 4', 'seed = 4\nsigfigs = 0'), "'sigfigs' must be a whole number from 1 to 12"),
    (('seed = 4', 'seed = 4\nfollow_through = "yes"'), "'follow_through' must be true or false"),
    (('kind = "edges"', 'kind = "edges"\nvisibility = "later"'), "unknown visibility 'later'"),
    (('kind = "edges"', 'kind = "edges"\nchoices = ["a"]'), "'choices' is a key of value tasks"),
    (('kind = "edges"', 'kind = "value"'), "a value task needs 'of'"),
])
def test_new_keys_are_validated(tmp_path, edit, message):
    folder = tmp_path / "04"
    shutil.copytree(EXERCISES / "04-chain-rule", folder)
    toml = folder / "exercise.toml"
    text = toml.read_text()
    assert edit[0] in text
    toml.write_text(text.replace(edit[0], edit[1], 1))
    res = CliRunner().invoke(main, ["grade", str(folder)])
    assert res.exit_code == 2 and message in res.stderr and "exercise.toml:" in res.stderr


def test_a_choice_must_be_the_place_of_a_word(tmp_path):
    folder = tmp_path / "09"
    shutil.copytree(EXERCISES / "09-forward-vs-reverse", folder)
    problem = folder / "problem.grad"
    problem.write_text(problem.read_text().replace("net_mode = reverse", "net_mode = 7"))
    res = CliRunner().invoke(main, ["grade", str(folder)])
    assert res.exit_code == 2 and "'net_mode' is the answer to a choice" in res.stderr


def test_feedback_never_shows_sample_axes_or_generated_names(exercises):
    for path in ANSWERS:
        result = grade_file(exercise(exercises, path.parent.name), path)
        shown = "\n".join(i.feedback for t in result.tasks for i in t.items)
        assert not re.search(r"\(\d+, ?\d+\)", shown.replace("(x = ", "")), (path, shown)
        assert not re.search(r"(?<![\w.])_\d+\b", shown), (path, shown)


def test_grading_is_deterministic(exercises, tmp_path):
    subs = tmp_path / "subs"
    for k, path in enumerate(ANSWERS[:24]):
        dest = subs / f"s{k:02d}" / path.parent.name / "answer.grad"
        dest.parent.mkdir(parents=True)
        shutil.copy(path, dest)
    outs = []
    for jobs in ("1", "2"):
        res = CliRunner().invoke(main, ["grade", str(EXERCISES), "--submissions", str(subs), "--jobs", jobs,
                                        "--format", "json", "--seed", "3"])
        assert res.exit_code == 1
        outs.append(res.stdout)
    assert outs[0] == outs[1]


# ---------------------------------------------------------------- notes on other exercises

def make(tmp_path, problem: str, tasks: str, name="ex") -> object:
    folder = tmp_path / name
    folder.mkdir()
    (folder / "problem.grad").write_text(problem)
    (folder / "exercise.toml").write_text(f'title = "{name}"\nsamples = 6\nseed = 1\n' + tasks)
    return load_exercise(folder)


def note_of(ex, tmp_path, text, kind, item, score):
    """The item graded, after checking the answer's score (and that it passes only at full marks)."""
    result = grade_text(ex, tmp_path, text)
    assert result.score == score and result.passed == (score == result.max_score), (result.score, result.passed)
    return by_name(result)[(kind, item)]


def test_wrong_branch_of_relu_and_min(tmp_path):
    ex = make(tmp_path, "input x in (0.5, 2) = 1\ninput w in (-2, -0.5) = -1\n"
              "a = x*w\nr = relu(a)\nm = min(x, 3*x)\nf = r + m\n",
              '[[tasks]]\nkind = "derivative"\nform = "formula"\n')
    # f = relu(x w) + min(x, 3x) with x > 0 > w: d(f)/d(x) = 0 + 1, d(f)/d(w) = 0
    relu = note_of(ex, tmp_path, "d(f)/d(x) = w + 1\nd(f)/d(w) = 0\n", "derivative", "d(f)/d(x)", 0.5)
    assert relu.note == notes.WRONG_BRANCH and "relu" in relu.feedback
    low = note_of(ex, tmp_path, "d(f)/d(x) = 3\nd(f)/d(w) = 0\n", "derivative", "d(f)/d(x)", 0.5)
    assert low.note == notes.WRONG_BRANCH and "smaller argument, x" in low.feedback


def test_forgot_onehot_with_logsumexp(tmp_path):
    ex = make(tmp_path, "input z in (-2, 2) = [0.5, -1, 2]\nL = logsumexp(z) - index(z, 2)\n",
              '[[tasks]]\nkind = "derivative"\nform = "formula"\n')
    item = note_of(ex, tmp_path, "d(L)/d(z) = softmax(z)\n", "derivative", "d(L)/d(z)", 0)
    assert item.note == notes.ONEHOT
    right = note_of(ex, tmp_path, "d(L)/d(z) = softmax(z) - [0, 0, 1]\n", "derivative", "d(L)/d(z)", 1)
    assert right.passed


def test_every_output_seeded_at_once_for_a_vector_output(tmp_path):
    ex = make(tmp_path, "input x in (-1, 1) = [0.3, -0.2]\ninput W in (-1, 1) = [[1, 2], [3, 4], [5, 6]]\n"
              "y = W @ x\n", '[[tasks]]\nkind = "derivative"\nwrt = ["x"]\nform = "formula"\n')
    item = note_of(ex, tmp_path, "d(y)/d(x) = [1, 1, 1] @ W\n", "derivative", "d(y)/d(x)", 0)
    assert item.note == notes.ALL_OUTPUTS and "expected a 3×2 matrix, given a vector of 2" in item.feedback
    assert note_of(ex, tmp_path, "d(y)/d(x) = W\n", "derivative", "d(y)/d(x)", 1).passed


def test_local_partial_for_a_total_derivative_in_reverse_mode(tmp_path):
    ex = make(tmp_path, "input x in (0.2, 1.2) = 0.7\nu = x*x\nv = sin(u)\nf = v*v\n",
              '[[tasks]]\nkind = "reverse"\nform = "formula"\n')
    # d(f)/d(v) and d(f)/d(x) right, d(f)/d(u) = 2 v cos(u) wrong: 2 of 3 items
    item = note_of(ex, tmp_path, "u = x*x\nv = sin(u)\nf = v*v\nd(f)/d(v) = 2*v\nd(f)/d(u) = cos(u)\n"
                   "d(f)/d(x) = 4*x*v*cos(u)\n", "reverse", "d(f)/d(u)", round(2 / 3, 4))
    assert item.note == notes.LOCAL_TOTAL and "multiply by d(f)/d(v)" in item.feedback


def test_a_missing_path_is_never_a_factor_of_one(tmp_path):
    # e = c*d with c = a + b, d = b + 1: d(e)/d(b) = 3 is d(e)/d(d), whose "factor" d(d)/d(b) is 1
    ex = make(tmp_path, "input a in (1, 3) = 2\ninput b in (0.5, 2) = 1\nc = a + b\nd = b + 1\ne = c*d\n",
              '[[tasks]]\nkind = "derivative"\nform = "any"\n')
    item = note_of(ex, tmp_path, "d(e)/d(a) = b + 1\nd(e)/d(b) = a + b\n", "derivative", "d(e)/d(b)", 0.5)
    assert item.note == notes.MISSING_PATH and "multiply" not in item.feedback
    assert "add the path b → c → e" in item.feedback


def test_a_wrong_graph_line_fails_only_what_needs_it(exercises, tmp_path):
    ex = exercise(exercises, "01-ln-sin-cos")
    text = SOLUTION_01.replace("c = a * b", "c = a * bb")
    result = grade_text(ex, tmp_path, text)
    failed = {(t.kind, i.name) for t in result.tasks for i in t.items if not i.passed and i.graded_in is None}
    # c and f cannot be built: their items fail; a, b and the derivative (checked against the problem) pass
    assert failed == {("graph", "value of f"), ("forward", "d(c)/d(x)"), ("reverse", "d(f)/d(·)")}
    shown = "\n".join(i.feedback for t in result.tasks for i in t.items)
    assert "undefined name 'bb'" in shown and "did you mean 'b'" in shown
    assert result.score == round(2 + 0.5 + 2 * 2 / 3, 4) and not result.passed


def test_scores_are_byte_identical_for_the_same_seed(tmp_path):
    answers = tmp_path / "answers"
    for path in ANSWERS:
        dest = answers / path.parent.name / "answer.grad"
        if not dest.exists():
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, dest)
    outs = [CliRunner().invoke(main, ["grade", str(EXERCISES), "--answers", str(answers), "--format", fmt,
                                      "--seed", "5"]).stdout for fmt in ("json", "json", "junit", "junit")]
    assert outs[0] == outs[1] and outs[2] == outs[3]


def test_wrong_branch_on_an_edge(tmp_path):
    ex = make(tmp_path, "input x in (0.5, 2) = 1\ninput y in (-2, -0.5) = -1\nm = max(x, y)\nr = relu(y)\nf = m + r\n",
              '[[tasks]]\nkind = "edges"\nform = "formula"\n')
    text = "m = max(x, y)\nr = relu(y)\nf = m + r\n"
    # x > 0 > y: max picks x, relu(y) is 0: partials (1, 0, 0, 1, 1); the gate's two are wrong
    gate = note_of(ex, tmp_path, text + "partial(m, x) = 0\npartial(m, y) = 1\npartial(r, y) = 0\n"
                   "partial(f, m) = 1\npartial(f, r) = 1\n", "edges", "partial(m, x)", 0.6)
    assert gate.note == notes.WRONG_BRANCH and "larger argument, x" in gate.feedback
    relu = note_of(ex, tmp_path, text + "partial(m, x) = 1\npartial(m, y) = 0\npartial(r, y) = 1\n"
                   "partial(f, m) = 1\npartial(f, r) = 1\n", "edges", "partial(r, y)", 0.8)
    assert relu.note == notes.WRONG_BRANCH and "relu" in relu.feedback


def test_a_loss_left_without_its_sum_has_the_wrong_shape(tmp_path):
    ex = make(tmp_path, "input x in (-1, 1) = [0.3, -0.2, 0.5]\ne = x - 1\nL = sum(square(e))\noutput L\n",
              '[[tasks]]\nkind = "reverse"\nform = "formula"\n')
    result = grade_text(ex, tmp_path, "e = x - 1\nL = square(e)\nd(L)/d(e) = 2*e\nd(L)/d(x) = 2*e\n")
    got = by_name(result)
    item = got[("reverse", "d(L)/d(·)")]
    assert not item.passed and item.note == notes.SHAPE
    assert "the problem's L is a number, yours is a vector of 3" in item.feedback
    # and the other way round: a vector output summed too early
    ex2 = make(tmp_path, "input x in (-1, 1) = [0.3, -0.2, 0.5]\ny = square(x)\noutput y\n",
               '[[tasks]]\nkind = "reverse"\nform = "formula"\n', name="ex2")
    summed = by_name(grade_text(ex2, tmp_path, "s = square(x)\ny = sum(s)\n", "b.grad"))[("reverse", "d(y)/d(·)")]
    assert not summed.passed and summed.note == notes.SHAPE
    assert "the problem's y is a vector of 3, yours is a number" in summed.feedback
    # the claims are still checked: d(L)/d(x) = 2e is the problem's gradient (no item); d(L)/d(e), on the
    # student's graph, is the Jacobian of a vector
    assert ("extra", "d(L)/d(x)") not in got
    extra = got[("extra", "d(L)/d(e)")]
    assert extra.extra and not extra.passed and extra.note == notes.SHAPE
    assert extra.feedback.startswith("d(L)/d(e) (line 3): not asked, but wrong; expected a 3×3 matrix, given a "
                                     "vector of 3")
    assert result.score == 0 and result.max_score == 1 and not result.passed


def test_items_follow_the_order_of_the_answers_lines(exercises, tmp_path):
    ex = exercise(exercises, "01-ln-sin-cos")
    text = ("s1 = sin(x)\nc1 = cos(x)\nprod = s1 * c1\nf = log(prod)\nd(f)/d(x) = cos(x)/sin(x) - sin(x)/cos(x)\n"
            "d(s1)/d(x) = cos(x)\nd(c1)/d(x) = -sin(x)\nd(prod)/d(x) = c1*c1 - s1*s1\n"
            "d(f)/d(prod) = 1/prod\nd(f)/d(c1) = s1/prod\nd(f)/d(s1) = c1/prod\n")
    result = grade_text(ex, tmp_path, text)
    tasks = {t.kind: [i.name for i in t.items] for t in result.tasks}
    assert tasks["forward"] == ["d(s1)/d(x)", "d(c1)/d(x)", "d(prod)/d(x)", "d(f)/d(x)"]
    assert tasks["reverse"] == ["d(f)/d(x)", "d(f)/d(s1)", "d(f)/d(c1)", "d(f)/d(prod)"]
    assert result.score == 7 and result.passed


def test_a_number_stands_for_every_entry_of_an_elementwise_partial(tmp_path):
    # u = s v, s a number at each point: partial(u, v) is s in every entry, partial(u, s) the vector v
    ex = make(tmp_path, "input s in (0.5, 2) = 1.5\ninput v in (-1, 1) = [0.5, -1, 2]\nu = s*v\nf = sum(u)\n",
              '[[tasks]]\nkind = "edges"\nform = "any"\n')
    graph = "u = s*v\nf = sum(u)\n"
    for partial in ("s", "s * [1, 1, 1]"):
        right = grade_text(ex, tmp_path, graph + f"partial(u, v) = {partial}\npartial(u, s) = v\n"
                           "partial(f, u) = [1, 1, 1]\n")
        assert right.score == 1 and right.passed, partial
    # sum is not elementwise: its partial is a vector, and the number 1 does not stand for it
    wrong = grade_text(ex, tmp_path, graph + "partial(u, v) = s\npartial(u, s) = v\npartial(f, u) = 1\n", "w.grad")
    item = by_name(wrong)[("edges", "partial(f, u)")]
    assert not item.passed and item.note == notes.SHAPE and "expected a vector of 3, given a number" in item.feedback
    assert by_name(wrong)[("edges", "partial(u, v)")].passed and wrong.score == round(2 / 3, 4)
