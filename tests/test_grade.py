"""`gradcli grade` (issues 5 and 8): exercises, task kinds, answer notes, formats, untrusted answers, CLI.

The rules of issue 8 (per-claim isolation, one charge per mistake, every claim checked,
significant figures, the notes) are shown by the student answers of
tests/fixtures/grade/students/, asserted in test_grade_students.py.
"""

from __future__ import annotations

import csv
import io
import json
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli.cli import main
from gradcli.errors import GradError
from gradcli.grade import formats, notes, runner
from gradcli.grade.batch import Limits
from gradcli.grade.exercise import load_exercise
from gradcli.grade.tasks import grade_file

ROOT = Path(__file__).resolve().parent.parent
FIX = ROOT / "tests" / "fixtures" / "grade"
EX = FIX / "ex" / "lnsin"
ANS = FIX / "answers"
MORE = FIX / "more"
PY = sys.executable


@pytest.fixture(scope="module")
def ex():
    return load_exercise(EX)


def items(result):
    return {(t.kind, i.name): i for t in result.tasks for i in t.items}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def copy_exercise(tmp_path, src=EX, name="lnsin") -> Path:
    dst = tmp_path / "exercises" / name
    shutil.copytree(src, dst)
    return dst


# ---------------------------------------------------------------- reference and tasks

def test_solution_full_marks_template_zero(ex):
    sol = grade_file(ex, EX / "solution.grad")
    assert sol.error is None and sol.score == sol.max_score == 7 and sol.passed
    kinds = [t.kind for t in sol.tasks]
    assert kinds == ["derivative", "graph", "forward", "reverse", "edges"]
    got = items(sol)
    assert ("forward", "d(c)/d(x)") in got and ("reverse", "d(f)/d(x)") in got
    assert ("edges", "partial(c, b)") in got and ("reverse", "d(f)/d(a)") in got
    tpl = grade_file(ex, EX / "answer.grad")
    assert tpl.error is None and tpl.score == 0 and not tpl.passed
    assert all(not i.passed for i in items(tpl).values())


def test_points_default_first_then_seeded_random_in_domain(ex):
    xs = ex.points["x"]
    assert ex.B == 1 + ex.samples and xs[0] == pytest.approx(np.pi / 4)
    assert np.all((xs[1:] > 0.1) & (xs[1:] < 1.4))
    again = load_exercise(EX)
    assert np.array_equal(again.points["x"], xs)
    assert not np.array_equal(load_exercise(EX, seed=99).points["x"], xs)


def test_undefined_reference_points_are_redrawn():
    ex = load_exercise(MORE / "sqrt")
    xs = ex.points["x"]
    assert ex.B == 11 and np.all(xs > 0)         # domain (-1, 1); sqrt is undefined below 0


def test_derivative_number_and_formula_forms(ex, tmp_path):
    number = grade_file(ex, ANS / "number.grad")
    assert number.score == 1 and not number.passed
    item = items(number)[("derivative", "d(f)/d(x)")]
    assert not item.passed and item.note == notes.NUMBER
    assert "a number where a formula was asked" in item.feedback
    # form = number: checked only at the default point; a formula, even one right there, fails
    ex_n = load_exercise(MORE / "numbers")
    r = grade_file(ex_n, MORE / "numbers" / "solution.grad")
    assert r.score == 1 and r.passed
    wrong = write(tmp_path / "n.grad", "d(f)/d(x) = 2 + cos(1)\nd(f)/d(y) = 2\n")
    r = grade_file(ex_n, wrong)
    got = items(r)
    assert got[("derivative", "d(f)/d(x)")].passed and not got[("derivative", "d(f)/d(y)")].passed
    assert r.score == 0.5 and not r.passed
    assert "the default point (x = 1, y = 2): expected 1, given 2" in got[("derivative", "d(f)/d(y)")].feedback
    formula = grade_file(ex_n, write(tmp_path / "f.grad", "d(f)/d(x) = 2 + cos(1)\nd(f)/d(y) = x\n"))
    item = items(formula)[("derivative", "d(f)/d(y)")]
    assert not item.passed and item.note == notes.FORMULA and "you wrote: x" in item.feedback
    assert formula.score == 0.5 and not formula.passed


def test_number_with_form_any_is_checked_at_default_point_only(tmp_path):
    folder = copy_exercise(tmp_path)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace('form = "formula"\n', ""))
    ex = load_exercise(folder)
    # cot(x) - tan(x) is 0 at the default point pi/4: the number 0 passes there
    r = grade_file(ex, write(tmp_path / "a.grad", "d(f)/d(x) = 0\n"))
    assert items(r)[("derivative", "d(f)/d(x)")].passed and r.score == 2 and not r.passed


def test_graph_task_values_and_one_op_per_node(ex, tmp_path):
    r = grade_file(ex, ANS / "number.grad")     # f = log(sin(x)*cos(x)) on one line
    got = items(r)
    assert r.score == 1 and not r.passed         # the graph task's value of f: half of its 2 points
    assert got[("graph", "value of f")].passed
    structure = got[("graph", "one primitive op per node")]
    assert not structure.passed and structure.note == notes.STRUCTURE
    assert "line 1: `sin(x)`" in structure.feedback
    wrong = write(tmp_path / "w.grad", "a = sin(x)\nb = cos(x)\nc = a + b\nf = log(c)\n")
    r = grade_file(ex, wrong)
    item = items(r)[("graph", "value of f")]
    assert not item.passed and "expected" in item.feedback and "given" in item.feedback
    assert items(r)[("graph", "one primitive op per node")].passed and r.score == 1 and not r.passed


def test_forward_reverse_edges_on_the_students_own_names(ex):
    r = grade_file(ex, ANS / "renamed.grad")
    assert r.error is None
    assert r.score == r.max_score == 7 and r.passed, [i.feedback for i in items(r).values() if not i.passed]
    assert ("forward", "d(prod)/d(x)") in items(r) and ("edges", "partial(prod, s1)") in items(r)


def test_answer_notes(ex):
    result = grade_file(ex, ANS / "mistakes.grad")
    # derivative 0 of 2, graph 2 of 2, forward 0 of 3 items, reverse 2 of 3, edges 5 of 5
    assert result.score == round(2 + 2 / 3 + 1, 4) and not result.passed
    got = items(result)
    assert got[("derivative", "d(f)/d(x)")].note == notes.INNER
    assert "multiply by" in got[("derivative", "d(f)/d(x)")].feedback
    assert got[("forward", "d(a)/d(x)")].note == notes.SWAPPED
    assert got[("reverse", "d(f)/d(a)")].note == notes.SWAPPED
    assert got[("forward", "d(b)/d(x)")].note == notes.SIGN
    assert got[("forward", "d(c)/d(x)")].note == notes.INNER
    assert "partial(c, a) alone" in got[("forward", "d(c)/d(x)")].feedback
    fb = got[("forward", "d(b)/d(x)")].feedback
    assert "at the default point (x = 0.7853981633974483): expected -0.7071067811865475, given 0.7071067811865475" \
        in fb
    assert got[("edges", "partial(c, a)")].passed


def test_domain_differs_overflow_and_nan(ex, tmp_path):
    result = grade_file(ex, ANS / "domain.grad")
    assert result.score == 2 and not result.passed               # the graph task only
    got = items(result)
    item = got[("derivative", "d(f)/d(x)")]
    assert not item.passed and item.note == notes.DOMAIN and "the domains differ" in item.feedback
    # the first operation that is undefined there, pointed at: log(x - 0.5) at a point below 0.5
    assert f"{ANS / 'domain.grad'}:2:47: error: `log(x - 0.5)` is" in item.feedback
    assert "\n2 | d(f)/d(x) = " in item.feedback
    assert got[("graph", "value of f")].passed
    bad = write(tmp_path / "nan.grad", "a = sin(x); b = cos(x); c = a*b; f = log(c)\n"
                "d(a)/d(x) = exp(1000*x)\nd(b)/d(x) = 0/0\nd(f)/d(c) = 1e308*1e308\n")
    result = grade_file(ex, bad)
    assert result.score == 2 and not result.passed
    got = items(result)
    for key in (("forward", "d(a)/d(x)"), ("forward", "d(b)/d(x)"), ("reverse", "d(f)/d(c)")):
        assert not got[key].passed and got[key].note == notes.DOMAIN


def test_a_graph_undefined_everywhere_checks_nothing_vacuously(ex, tmp_path):
    text = "s = square(x)\na = -1 - s\ng = sqrt(a)\nf = 2*g\nd(a)/d(x) = -2*x\nd(g)/d(x) = 7\n"
    result = grade_file(ex, write(tmp_path / "u.grad", text))
    # graph: one op per node (1 of 2 points); forward: d(a)/d(x) right of s, a, g (1 of 3)
    assert result.score == round(1 + 1 / 3, 4) and not result.passed
    got = items(result)
    assert got[("forward", "d(a)/d(x)")].passed
    item = got[("forward", "d(g)/d(x)")]
    assert not item.passed and item.note == notes.DOMAIN and "undefined at every point" in item.feedback
    assert not got[("graph", "value of f")].passed


def test_names_swapped_and_claim_errors(ex, tmp_path):
    text = "a = sin(x); b = cos(x); c = a*b; f = log(c)\nd(x)/d(f) = 1\nd(a)/d(x) = nope(x)\n"
    result = grade_file(ex, write(tmp_path / "s.grad", text))
    assert result.score == 2 and not result.passed               # the graph task only
    got = items(result)
    assert got[("derivative", "d(f)/d(x)")].note == notes.NAMES
    err = got[("forward", "d(a)/d(x)")]
    assert err.note == notes.ERROR and ":3:13: error: unknown function 'nope'" in err.feedback


def test_matrix_exercise_and_tensor_edges(tmp_path):
    ex = load_exercise(MORE / "matrix")
    solution = grade_file(ex, MORE / "matrix" / "solution.grad")
    assert solution.score == solution.max_score == 4 and solution.passed
    text = (MORE / "matrix" / "solution.grad").read_text().replace("d(f)/d(v) = W.T @ (2*u)", "d(f)/d(v) = 2*u")
    wrong = grade_file(ex, write(tmp_path / "m.grad", text))
    assert wrong.score == 3 and not wrong.passed          # d(f)/d(v): half of the derivative's 2 points
    got = items(wrong)
    assert got[("derivative", "d(f)/d(W)")].passed
    assert not got[("derivative", "d(f)/d(v)")].passed
    text = "u = W @ v\nd(f)/d(W) = transpose([v]) @ [2*u]\nd(f)/d(v) = W.T @ u\n"
    got = items(grade_file(ex, write(tmp_path / "m1.grad", text)))
    assert got[("derivative", "d(f)/d(W)")].note == notes.TRANSPOSED
    assert got[("derivative", "d(f)/d(v)")].note == notes.FACTOR
    assert "0.5 times the expected value" in got[("derivative", "d(f)/d(v)")].feedback
    text = "u = W @ v\ns = square(u)\nf = sum(s)\nd(f)/d(W) = 1\n"
    item = items(grade_file(ex, write(tmp_path / "m2.grad", text)))[("derivative", "d(f)/d(W)")]
    assert item.note == notes.SHAPE and "expected a 2×2 matrix, given a number" in item.feedback


# ---------------------------------------------------------------- untrusted answers

ADVERSARIAL = {
    "huge": "a = sin(x)\n" + "# padding\n" * 10_000,
    "deep": "f = " + "(" * 300 + "x" + ")" * 300 + "\n",
    "import": "f = __import__('os').system('touch PWNED')\n",
    "import_call": "f = __import__(x)\nd(f)/d(x) = eval(x)\n",
    "dunder_names": "__class__ = sin(x)\nf = log(__class__)\nd(f)/d(x) = __builtins__\n",
    "exponential": "def f0(a) = a*a\n" + "".join(f"def f{i}(a) = f{i - 1}(a) + f{i - 1}(a)\n"
                                             for i in range(1, 40)) + "f = f39(x)\n",
    "big_tensor": "const A = ones(3000, 1)\nconst B = ones(1, 3000)\nf = sum(A*B*x)\n",
    "big_output": "const A = ones(100, 1)\nconst B = ones(1, 100)\nf = (A*x)*(B*x)\n",
    "long_minus": "f = " + "-" * 20_000 + "x\n",
    "shape": "f = [x, x] @ [1, 2, 3]\n",
    "recursive": "def g(a) = g(a)\nf = g(x)\n",
    "redeclare": "x = 3\nf = x\n",
    "unknown_input": "input z = 1\nf = x*z\n",
    "empty": "",
}


# What fails the whole answer (its size, the node limit); every other case fails lines and items,
# each with FILE:LINE:COL feedback.
WHOLE = {"huge": "larger than 64 KiB", "exponential": "grows beyond 5,000 nodes",
         "long_minus": "grows beyond 5,000 nodes"}
LINE = {"deep": ":1:", "import": ":1:", "import_call": ":1:", "big_tensor": ":3:", "shape": ":1:",
        "recursive": ":1:", "redeclare": ":1:", "unknown_input": ":1:"}


@pytest.mark.parametrize("name", sorted(ADVERSARIAL))
def test_adversarial_answers_fail_with_feedback(ex, tmp_path, name):
    path = write(tmp_path / f"{name}.grad", ADVERSARIAL[name])
    r = grade_file(ex, path)
    assert r.score < r.max_score and not r.passed
    assert all(i.feedback for t in r.tasks for i in t.items if not i.passed)
    assert not (tmp_path / "PWNED").exists() and not Path("PWNED").exists()
    if name in WHOLE:
        assert r.error and WHOLE[name] in r.error and r.score == 0
    else:
        assert r.error is None, r.error
    if name in LINE:
        shown = "\n".join(i.feedback for t in r.tasks for i in t.items)
        assert f"{path}{LINE[name]}" in shown, shown


def test_binary_garbage_and_bad_encoding(ex, tmp_path):
    raw = tmp_path / "garbage.grad"
    raw.write_bytes(bytes(range(256)) * 40)
    r = grade_file(ex, raw)
    assert r.score == 0 and "binary" in r.error
    latin = tmp_path / "latin.grad"
    latin.write_bytes(b"f = x \xe9\n")
    assert "not UTF-8" in grade_file(ex, latin).error
    ctrl = write(tmp_path / "ctrl.grad", "f = x \x01\n")
    r = grade_file(ex, ctrl)
    value = items(r)[("graph", "value of f")]
    assert r.error is None and not value.passed and "unexpected character" in value.feedback
    assert r.score == 0 and not r.passed
    book = runner.gradebook([ex], [runner.grade_student([ex], "s", ctrl, Limits())], True)
    xml = formats.junit(book)
    assert "\x01" not in xml                    # control characters never reach the XML: shown escaped
    root = ET.fromstring(xml)
    case = next(c for c in root.iter("testcase") if c.get("name") == "value of f")
    assert case.get("classname") == "lnsin.graph"
    failure = case.find("failure")
    assert failure.get("type") == notes.ERROR
    assert f"{ctrl}:1:7: error: unexpected character '\\x01'" in failure.text
    assert root.get("tests") == root.get("failures") == str(len(list(root.iter("testcase"))))


def test_parse_error_points_at_the_answer_line(ex, tmp_path):
    path = write(tmp_path / "p.grad", "a = sin(x)\nb = cos(x\nf = log(a*b\n")
    r = grade_file(ex, path)
    assert r.score == 0 and not r.passed        # f's line is charged; a*b is not a node of its own
    shown = "\n".join(i.feedback for t in r.tasks for i in t.items if not i.passed)
    assert r.error is None and f"{path}:2:" in shown and "\n2 | b = cos(x\n" in shown
    assert f"{path}:3:" in shown and "'(' is never closed" in shown


def test_time_limit_is_a_last_guard_that_never_scores(ex):
    r = grade_file(ex, EX / "solution.grad", Limits(time_limit=1e-5))
    assert r.score == 0 and not r.passed and r.regrade
    assert r.error.startswith("not graded: time limit (machine busy?)") and "longer than" in r.error


# ---------------------------------------------------------------- exercise validation (exit 2)

@pytest.mark.parametrize("edit, message, line", [
    (('seed = 3', 'sed = 3'), "unknown key 'sed'", 4),
    (('kind = "graph"', 'kind = "grpah"'), "unknown task kind 'grpah'", 16),
    (('wrt = ["x"]', 'wrt = ["y"]'), "'wrt': 'y' is not an input", 11),
    (('form = "formula"', 'form = "formulas"'), "unknown form", 12),
    (('samples = 6', 'samples = "six"'), "'samples' must be a whole number", 3),
    (('points = 2\n\n[[tasks]]\nkind = "graph"', 'points = 2\n\n[[tasks]]\nkin = "graph"'),
     "unknown task key 'kin'", 16),
    (('rtol = 1e-6', 'rtol = = 1'), "invalid TOML", 5),
])
def test_bad_exercise_toml_points_at_the_key(tmp_path, edit, message, line):
    folder = copy_exercise(tmp_path)
    toml = folder / "exercise.toml"
    text = toml.read_text()
    assert edit[0] in text
    toml.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(GradError) as err:
        load_exercise(folder)
    rendered = err.value.render()
    assert message in rendered and f"exercise.toml:{line}:" in rendered, rendered


def test_bad_problem_is_exit_2_and_bad_answer_is_exit_1(tmp_path):
    folder = copy_exercise(tmp_path)
    cli = CliRunner()
    res = cli.invoke(main, ["grade", str(folder), "--answers", str(ANS / "mistakes.grad"), "--format", "json"])
    assert res.exit_code == 1 and json.loads(res.stdout)["score"] == pytest.approx(11 / 3, abs=1e-4)
    res = cli.invoke(main, ["grade", str(folder), "--answers", str(unparsable(tmp_path)), "--format", "json"])
    data = json.loads(res.stdout)
    assert res.exit_code == 1 and data["score"] == 0 and not data["passed"]
    assert "unparsable.grad:1:" in res.stdout
    (folder / "problem.grad").write_text("input x = 1\nf = sin(x\n")
    res = cli.invoke(main, ["grade", str(folder)])
    assert res.exit_code == 2 and "problem.grad:2:" in res.output
    assert "Traceback" not in res.output


def unparsable(tmp_path):
    return write(tmp_path / "unparsable.grad", "f = = x\n")


# ---------------------------------------------------------------- formats

@pytest.fixture(scope="module")
def book(ex):
    r = runner.grade_student([ex], "alice", ANS / "mistakes.grad", Limits())
    return runner.gradebook([ex], [r], True)


def test_json_keys(book):
    data = json.loads(formats.to_json(book))
    assert data["score"] == 3.6667 and data["max_score"] == 7
    e = data["exercises"][0]
    assert {"id", "score", "max_score", "tasks"} <= set(e) and e["id"] == "lnsin"
    t = e["tasks"][0]
    assert {"kind", "score", "max_score", "items"} <= set(t)
    assert {"name", "passed", "feedback", "note", "graded_in", "extra"} <= set(t["items"][0])
    shared = [i for t in e["tasks"] for i in t["items"] if i["graded_in"]]
    assert [(i["name"], i["graded_in"]) for i in shared] == [("d(f)/d(x)", "derivative")] * 2


def test_gradescope_keys(book):
    data = json.loads(formats.gradescope(book))
    assert data["score"] == 3.6667 and data["max_score"] == 7
    assert len(data["tests"]) == 5
    for test in data["tests"]:
        assert set(test) >= {"name", "score", "max_score", "status", "output"}
        assert test["status"] in ("passed", "failed")
    forward = next(t for t in data["tests"] if t["name"] == "lnsin: forward")
    assert forward["status"] == "failed" and "sign error" in forward["output"]


def test_junit_one_testcase_per_item(book):
    root = ET.fromstring(formats.junit(book))
    cases = root.findall(".//testcase")
    n_items = sum(len(t.items) for t in book.students[0].exercises[0].tasks)
    assert len(cases) == n_items == int(root.get("tests"))
    failures = [c for c in cases if c.find("failure") is not None]
    assert len(failures) == int(root.get("failures")) == 5
    skipped = [c for c in cases if c.find("skipped") is not None]
    assert [c.get("name") for c in skipped] == ["d(f)/d(x)", "d(f)/d(x)"]
    assert skipped[0].find("skipped").get("message") == "graded in derivative"
    sign = next(c for c in cases if c.get("name") == "d(b)/d(x)")
    assert "sign error" in sign.find("failure").text and sign.get("classname") == "lnsin.forward"


def test_csv_and_markdown(ex, book):
    rows = list(csv.reader(io.StringIO(formats.to_csv(book))))
    assert rows == [["student", "lnsin", "total"], ["alice", "3.6667", "3.6667"]]
    md = formats.markdown(book)
    assert md.startswith("## ❌ gradcli grade: 3.6667 / 7") and "| ❌ lnsin |" in md and "sign error" in md
    many = runner.gradebook([ex], book.students * 3000, False)
    big = formats.markdown(many)
    assert len(big.encode()) < 1024 * 1024 and "cut to keep the summary under 1 MiB" in big


def test_table(book):
    from rich.console import Console

    from gradcli.render import Printer

    buf = io.StringIO()
    formats.table(book, Printer(Console(file=buf, width=120, no_color=True)))
    out = buf.getvalue()
    assert "score 3.6667 / 7" in out and "forward" in out and "sign error" in out and "┃" in out
    plain = book.render("table")                 # -o FILE, --report table=FILE: plain aligned text
    assert plain.startswith("score 3.6667 / 7\nexercise  task") and "┃" not in plain and "sign error" in plain


# ---------------------------------------------------------------- a class

def make_class(tmp_path, n=12) -> Path:
    subs = tmp_path / "subs"
    for k in range(n):
        src = [EX / "solution.grad", ANS / "mistakes.grad", EX / "answer.grad"][k % 3]
        write(subs / f"s{k:02d}" / "lnsin" / "answer.grad", src.read_text())
    (subs / "s05" / "lnsin" / "answer.grad").write_bytes(b"\x00\xff garbage")
    shutil.rmtree(subs / "s07" / "lnsin")                         # no answer at all
    write(subs / "s08" / "lnsin.grad", (EX / "solution.grad").read_text())   # STUDENT/ID.grad
    shutil.rmtree(subs / "s08" / "lnsin")
    return subs


def test_class_with_broken_submissions(ex, tmp_path):
    subs = make_class(tmp_path)
    folder = copy_exercise(tmp_path)
    res = CliRunner().invoke(main, ["grade", str(folder), "--submissions", str(subs), "--format", "csv"])
    assert res.exit_code == 1, res.output
    rows = list(csv.DictReader(io.StringIO(res.output)))
    assert [r["student"] for r in rows] == [f"s{k:02d}" for k in range(12)]
    scores = {r["student"]: float(r["total"]) for r in rows}
    assert scores["s00"] == 7 and scores["s01"] == 3.6667 and scores["s02"] == 0
    assert scores["s05"] == 0 and scores["s07"] == 0 and scores["s08"] == 7
    res = CliRunner().invoke(main, ["grade", str(folder), "--submissions", str(subs), "--format", "json"])
    data = json.loads(res.output)
    s07 = next(s for s in data["students"] if s["id"] == "s07")
    assert "no answer found" in s07["exercises"][0]["error"]


def test_jobs_and_seed_give_identical_reports(tmp_path):
    subs = make_class(tmp_path)
    folder = copy_exercise(tmp_path)
    outs = []
    for jobs in ("1", "2", "2"):
        out = tmp_path / f"gb{len(outs)}.json"
        res = CliRunner().invoke(main, ["grade", str(folder), "--submissions", str(subs), "--jobs", jobs,
                                        "--format", "json", "--output", str(out), "--seed", "7"])
        assert res.exit_code == 1
        outs.append(out.read_bytes())
    assert outs[0] == outs[1] == outs[2]


def test_min_score_and_exit_codes(tmp_path):
    folder = copy_exercise(tmp_path)
    cli = CliRunner()
    mistakes = ["--answers", str(ANS / "mistakes.grad")]
    solution = cli.invoke(main, ["grade", str(folder), "--answers", str(EX / "solution.grad"), "--format", "json"])
    assert solution.exit_code == 0 and json.loads(solution.stdout)["score"] == 7
    # mistakes.grad scores 11/3 of 7 (52.4%): below the bar of every item passing, above 3 points and 52%
    for bar, status in [(None, 1), ("3", 0), ("52%", 0), ("53%", 1), ("3.67", 1)]:
        res = cli.invoke(main, ["grade", str(folder), "--format", "json"] + mistakes
                         + (["--min-score", bar] if bar else []))
        assert res.exit_code == status, bar
        data = json.loads(res.stdout)
        assert data["score"] == pytest.approx(11 / 3, abs=1e-4) and data["max_score"] == 7, bar
        assert not data["passed"] and res.stderr == "", bar
    lots = cli.invoke(main, ["grade", str(folder), "--min-score", "lots"] + mistakes)
    assert lots.exit_code == 2 and lots.stdout == ""
    assert "for --min-score: 'lots': a number of points or a percentage such as 80%" in lots.stderr
    nowhere = cli.invoke(main, ["grade", str(tmp_path / "nowhere")])
    assert nowhere.exit_code == 2 and f"{tmp_path / 'nowhere'}: not a directory" in nowhere.stderr
    res = cli.invoke(main, ["grade", str(folder), "--submissions", str(tmp_path), "--format", "gradescope"])
    assert res.exit_code == 2 and "gradescope format reports on one student; use --answers" in res.stderr


def test_self_test(tmp_path):
    res = CliRunner().invoke(main, ["grade", "--self-test", str(FIX / "ex")])
    assert res.exit_code == 0 and "FAIL" not in res.output
    folder = copy_exercise(tmp_path)
    write(folder / "answer.grad", "a = sin(x)\nd(a)/d(x) = cos(x)\nd(f)/d(x) = sin(x\n")
    res = CliRunner().invoke(main, ["grade", "--self-test", str(folder)])
    assert res.exit_code == 1 and "FAIL" in res.output


def test_self_test_shipped_exercises():
    shipped = sorted(p.parent.name for p in (ROOT / "exercises").glob("*/exercise.toml"))
    assert shipped == ["01-ln-sin-cos", "02-jacobian", "03-sin-at-pi", "04-chain-rule", "05-two-paths",
                       "06-max-gate", "07-matrix-cost", "08-logistic-regression", "09-forward-vs-reverse",
                       "10-hand-vs-autograd"]
    res = CliRunner().invoke(main, ["grade", "--self-test", str(ROOT / "exercises"), "--format", "json"])
    data = json.loads(res.output)
    assert res.exit_code == 0, [c for c in data["checks"] if not c["passed"]]
    assert len(data["checks"]) == 20 and all(c["passed"] for c in data["checks"])


def test_subprocess_junit_and_markdown(tmp_path):
    folder = copy_exercise(tmp_path)
    junit = tmp_path / "report.xml"
    done = subprocess.run([PY, "-m", "gradcli", "grade", str(folder), "--answers", str(ANS / "mistakes.grad"),
                           "--format", "junit", "--output", str(junit)], check=False, capture_output=True, text=True)
    assert done.returncode == 1 and done.stderr == ""
    root = ET.parse(junit).getroot()
    assert root.get("failures") == "5"
    failed = {(c.get("classname"), c.get("name")) for c in root.iter("testcase") if c.find("failure") is not None}
    assert failed == {("lnsin.derivative", "d(f)/d(x)"), ("lnsin.forward", "d(a)/d(x)"),
                      ("lnsin.forward", "d(b)/d(x)"), ("lnsin.forward", "d(c)/d(x)"), ("lnsin.reverse", "d(f)/d(a)")}
    done = subprocess.run([PY, "-m", "gradcli", "grade", str(folder), "--format", "markdown"],
                          check=False, capture_output=True, text=True)
    assert done.returncode == 1 and done.stdout.startswith("## ❌ gradcli grade: 0 / 7")
    done = subprocess.run([PY, "-m", "gradcli", "grade", str(folder), "--answers", str(EX / "solution.grad")],
                          check=False, capture_output=True, text=True, env={"NO_COLOR": "1", "PATH": "/usr/bin:/bin"})
    assert done.returncode == 0 and "score 7 / 7" in done.stdout and "\x1b[" not in done.stdout


def test_text_is_the_table(tmp_path):
    folder = copy_exercise(tmp_path)
    args = ["grade", str(folder), "--answers", str(ANS / "mistakes.grad")]
    table = CliRunner().invoke(main, args + ["--format", "table"])
    text = CliRunner().invoke(main, args + ["--format", "text"])
    assert table.exit_code == text.exit_code == 1
    assert table.output == text.output and "score" in text.output


def test_forward_and_reverse_need_the_decomposed_graph(ex, tmp_path):
    # the derivative alone, with the whole function on one line: no node-by-node credit
    text = "f = log(sin(x)*cos(x))\nd(f)/d(x) = cos(x)/sin(x) - sin(x)/cos(x)\n"
    result = grade_file(ex, write(tmp_path / "one.grad", text))
    by_kind = {t.kind: t for t in result.tasks}
    for kind in ("forward", "reverse"):
        (item,) = by_kind[kind].items
        assert not item.passed and item.note == notes.STRUCTURE and "node by node" in item.feedback
        assert by_kind[kind].score == 0
    assert by_kind["derivative"].score == 2 and result.score == 3      # graph: the value of f is right
    assert not result.passed


def test_symbolic_links_are_not_answers(tmp_path):
    folder = copy_exercise(tmp_path)
    subs = tmp_path / "subs"
    write(subs / "alice" / "lnsin.grad", (EX / "solution.grad").read_text())
    (subs / "bob").mkdir()
    (subs / "bob" / "lnsin.grad").symlink_to(subs / "alice" / "lnsin.grad")      # another student's file
    (subs / "carol").mkdir()
    (subs / "carol" / "lnsin").symlink_to(folder)                               # the instructor's folder
    (subs / "carol" / "lnsin.grad").symlink_to("/etc/passwd")
    res = CliRunner().invoke(main, ["grade", str(folder), "--submissions", str(subs), "--format", "csv"])
    rows = {r["student"]: r for r in csv.DictReader(io.StringIO(res.stdout))}
    assert float(rows["alice"]["total"]) == 7
    assert float(rows["bob"]["total"]) == 0 and float(rows["carol"]["total"]) == 0
    res = CliRunner().invoke(main, ["grade", str(folder), "--answers", str(subs / "carol"), "--format", "json"])
    out = res.stdout
    assert "root:" not in out and "symbolic link" in out


@pytest.mark.parametrize("key,value,message", [
    ("seed", "-4", "'seed' must be a whole number"),
    ("rtol", "nan", "'rtol' must be a finite number"),
    ("atol", "inf", "'atol' must be a finite number"),
])
def test_exercise_numbers_are_validated(tmp_path, key, value, message):
    folder = copy_exercise(tmp_path)
    toml = folder / "exercise.toml"
    text = "\n".join(line for line in toml.read_text().splitlines() if not line.startswith(f"{key} ="))
    toml.write_text(f"{key} = {value}\n" + text + "\n")
    res = CliRunner().invoke(main, ["grade", str(folder)])
    assert res.exit_code == 2 and message in res.stderr and f"{toml}:1:1:" in res.stderr


def test_points_must_be_finite(tmp_path):
    folder = copy_exercise(tmp_path)
    toml = folder / "exercise.toml"
    toml.write_text(toml.read_text().replace("points = 2", "points = inf", 1))
    res = CliRunner().invoke(main, ["grade", str(folder)])
    assert res.exit_code == 2 and "'points' must be a number from 0" in res.stderr


def test_min_score_must_be_a_number(tmp_path):
    folder = copy_exercise(tmp_path)
    res = CliRunner().invoke(main, ["grade", str(folder), "--min-score", "nan"])
    assert res.exit_code == 2 and "--min-score" in res.stderr


def test_an_empty_class_is_an_error(tmp_path):
    folder = copy_exercise(tmp_path)
    (tmp_path / "nobody").mkdir()
    res = CliRunner().invoke(main, ["grade", str(folder), "--submissions", str(tmp_path / "nobody")])
    assert res.exit_code == 2 and "no student folders" in res.stderr


def test_one_answer_cannot_inflate_the_report(ex, tmp_path):
    # a def that fails when expanded, on a very long line, called from a thousand claims
    text = "def g(a) = a + ones(3)  #" + "A" * 40000 + "\n"
    text += "".join(f"n{i} = sin(x)\nd(n{i})/d(x) = g(x)\n" for i in range(1000)) + "f = log(n0*cos(x))\n"
    result = grade_file(ex, write(tmp_path / "amplify.grad", text), Limits(max_bytes=10**6))
    size = sum(len(i.feedback) for t in result.tasks for i in t.items)
    assert 0 < size <= 64 * 1024 + 2000
    # the value of f is right (1 of the graph's 2 points; its line hides n0*cos(x)); every claim fails
    assert result.score == 1 and not result.passed


def test_at_most_fifty_extra_items(ex, tmp_path):
    from gradcli.grade.tasks import MAX_EXTRA

    junk = "".join(f"z{k} = nope(x)\n" for k in range(60))          # 60 lines with an error each
    result = grade_file(ex, write(tmp_path / "junk.grad", (EX / "solution.grad").read_text() + junk))
    (extra,) = [t for t in result.tasks if t.kind == "extra"]
    assert MAX_EXTRA == 50 and len(extra.items) == 50 and all(i.extra and not i.passed for i in extra.items)
    assert extra.items[-1].name == "more"
    assert extra.items[-1].feedback == "… and 11 more claims or lines with a problem (not shown)"
    assert result.score == 7 and not result.passed


def test_feedback_is_cut_where_it_passes_64_kib():
    from gradcli.grade.report import Item, TaskResult
    from gradcli.grade.tasks import FEEDBACK_BYTES, _cap_feedback

    def answer(*sizes):
        return [TaskResult("derivative", 1.0, [Item(f"i{k}", False, "x" * n) for k, n in enumerate(sizes)])]

    exact = answer(FEEDBACK_BYTES - 1000, 1000)             # exactly 64 KiB: nothing is cut
    _cap_feedback(exact)
    assert [len(i.feedback) for i in exact[0].items] == [FEEDBACK_BYTES - 1000, 1000]
    then = answer(FEEDBACK_BYTES - 1000, 1000, 10)          # ... and what comes after is
    _cap_feedback(then)
    assert [i.feedback for i in then[0].items[1:]] == ["x" * 1000, "(feedback cut: this answer's feedback passed 64 KiB)"]
    assert FEEDBACK_BYTES == 64 * 1024
    over = answer(FEEDBACK_BYTES - 1000, 1001, 50)          # one character more
    _cap_feedback(over)
    first, cut, after = over[0].items
    assert len(first.feedback) == FEEDBACK_BYTES - 1000
    assert cut.feedback == "x" * 1000 + " … (feedback cut: this answer's feedback passed 64 KiB)"
    assert after.feedback == "(feedback cut: this answer's feedback passed 64 KiB)"
    assert not cut.passed and not after.passed


def test_gradescope_and_junit_names_tell_tasks_of_one_kind_apart():
    """09 asks three `value` tasks: Gradescope and JUnit tell tests apart by name."""
    ex09 = load_exercise(ROOT / "exercises" / "09-forward-vs-reverse")
    sol = grade_file(ex09, ex09.folder / "solution.grad")
    book = runner.gradebook([ex09], [runner.grade_student([ex09], "s", ex09.folder / "solution.grad", Limits())], True)
    names = [t["name"] for t in json.loads(formats.gradescope(book))["tests"]]
    assert names == [f"09-forward-vs-reverse: value {k}" for k in (1, 2, 3)] and sol.passed
    classes = {c.get("classname") for c in ET.fromstring(formats.junit(book)).iter("testcase")}
    assert classes == {f"09-forward-vs-reverse.value {k}" for k in (1, 2, 3)}
