"""The Python API through its public names only: load, parse, Graph.eval/check, grade, the errors."""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import gradcli

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXERCISES = ROOT / "exercises"


# ---------------------------------------------------------------- the package's face

def test_every_public_name_resolves_and_import_stays_light():
    code = ("import sys, gradcli; light = not [m for m in ('numpy', 'lark', 'gradcli.api') if m in sys.modules]; "
            "names = [getattr(gradcli, n) for n in gradcli.__all__]; import gradcli.testing; "
            "print(light, 'numpy' in sys.modules, len(names), sorted(set(gradcli.__all__) - set(dir(gradcli))))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.split() == ["True", "True", str(len(gradcli.__all__)), "[]"], done.stderr
    assert issubclass(gradcli.GradientMismatch, AssertionError)
    assert issubclass(gradcli.GradError, Exception)
    with pytest.raises(AttributeError):
        gradcli.no_such_name  # noqa: B018


def test_the_commands_start_without_numpy():
    code = ("import sys, gradcli.cli, gradcli.evaluate.command, gradcli.check.command, gradcli.grade.command; "
            "print(sorted(m for m in ('numpy', 'lark', 'gradcli.api') if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


def test_typed_package_ships_py_typed():
    assert (ROOT / "gradcli" / "py.typed").is_file()


# ---------------------------------------------------------------- load and parse

def test_load_gives_inputs_outputs_nodes_claims():
    g = gradcli.load(EXAMPLES / "lecture_sin.grad")
    assert g.name == str(EXAMPLES / "lecture_sin.grad")
    assert g.inputs == ("x", "y") and g.outputs == ("o",)
    nodes = {n.name: n for n in g.nodes}
    assert [n.name for n in g.nodes] == ["x", "y", "w1", "w2", "o"]
    assert nodes["x"].kind == "input" and nodes["x"].op is None and nodes["x"].line == 4
    assert nodes["o"] == ("o", "op", "mul", ("w1", "w2"), 8, "w1 * w2")
    assert [(c.name, c.kind, c.of, c.wrt, c.line) for c in g.claims] == [
        ("d(o)/d(x)", "total", "o", "x", 10), ("d(o)/d(y)", "total", "o", "y", 11)]
    assert "lecture_sin" in repr(g)


def test_parse_names_the_source_and_generated_nodes():
    g = gradcli.parse("input x = 2\ny = sin(x) * x\npartial(y, x) = sin(x)\n", name="mine.grad")
    assert g.name == "mine.grad" and g.text.startswith("input x")
    assert [(n.name, n.op) for n in g.nodes] == [("x", None), ("_1", "sin"), ("y", "mul")]
    assert g.claims[0].name == "partial(y, x)" and g.claims[0].kind == "partial"
    assert gradcli.parse("input x = 1\r\ny = x*x\r\n").eval().value == 1.0   # CR LF as in files


@pytest.mark.parametrize("text, line, col, words", [
    ("input x = 1\ny = x +* 2\n", 2, 8, "unexpected '*'"),
    ("input x = 1\ny = q\n", 2, 5, "undefined name 'q'"),
    ("", 1, 1, "empty file"),
])
def test_a_bad_text_raises_grad_error_with_its_place(text, line, col, words):
    with pytest.raises(gradcli.GradError) as info:
        gradcli.parse(text, name="bad.grad")
    err = info.value
    assert (err.file, err.line, err.column) == ("bad.grad", line, col)
    assert words in err.message
    shown = str(err)   # the rendered message: FILE:LINE:COL, the line, a caret
    assert shown.startswith(f"bad.grad:{line}:{col}: error:") and "^" in shown


def test_shape_errors_come_at_eval_with_their_place():
    g = gradcli.parse("input x = [1, 2]\ny = x @ [1, 2, 3]\n", name="s.grad")   # x may change shape
    with pytest.raises(gradcli.GradError, match="shape mismatch") as info:
        g.eval()
    assert (info.value.file, info.value.line, info.value.column) == ("s.grad", 2, 5)
    assert g.eval(at={"x": [1, 2, 3]}).value == 14.0


def test_grade_is_the_function_whatever_was_imported_before():
    import gradcli.grade.runner  # noqa: F401  (the command's subpackage)
    from gradcli.grade import report  # noqa: F401

    assert callable(gradcli.grade) and gradcli.grade.__module__ == "gradcli.api"
    from gradcli import grade

    assert grade is gradcli.grade


def test_a_missing_or_binary_file_is_a_grad_error(tmp_path):
    with pytest.raises(gradcli.GradError, match="cannot read") as info:
        gradcli.load(tmp_path / "nowhere.grad")
    assert info.value.file == str(tmp_path / "nowhere.grad") and info.value.line is None
    (tmp_path / "b.grad").write_bytes(b"input x = 1\ny = \x00x\n")
    with pytest.raises(gradcli.GradError, match="NUL") as info:
        gradcli.load(tmp_path / "b.grad")
    assert (info.value.line, info.value.column) == (2, 5)
    with pytest.raises(gradcli.GradError, match="must be a str"):
        gradcli.parse(b"input x = 1")  # type: ignore[arg-type]


# ---------------------------------------------------------------- eval

def test_eval_values_and_grads_are_floats_or_arrays():
    r = gradcli.load(EXAMPLES / "lecture_sin.grad").eval()
    assert type(r.values["o"]) is float and type(r.grads["o"]["x"]) is float
    assert r.grads["o"]["x"] == pytest.approx(-2 * math.pi, abs=1e-12)
    assert r.value == r.values["o"] and r.grad == r.grads["o"] and r.mode == "reverse"
    assert r.at == {"x": math.pi, "y": math.pi}
    m = gradcli.load(EXAMPLES / "matrix_cost.grad").eval()
    assert m.value == 33.0
    assert isinstance(m.grad["x"], np.ndarray) and m.grad["x"].dtype == np.float64
    assert m.grad["x"].tolist() == [[4, -10, 4], [16, -40, 16]]
    assert m.grad["w1"].tolist() == [[10, -14], [-20, 28]] and m.grad["w2"].tolist() == [10, -18]
    m.grad["x"][0, 0] = 99                      # the caller's own array
    assert gradcli.load(EXAMPLES / "matrix_cost.grad").eval().grad["x"][0, 0] == 4


def test_eval_agrees_with_the_cli_json():
    from click.testing import CliRunner

    from gradcli.cli import main

    path = str(EXAMPLES / "jacobian_two_outputs.grad")
    cli = json.loads(CliRunner().invoke(main, ["eval", path, "--format", "json", "--at", "x=2"]).stdout)
    r = gradcli.load(path).eval(at={"x": 2})
    assert {o: {"value": r.values[o], "grad": r.grads[o]} for o in r.values} == cli["outputs"]


def test_eval_at_numbers_lists_arrays_and_expressions():
    g = gradcli.parse("input x\ninput W = [[1, 0], [0, 1]]\ny = sum(W @ x) * 1\n")
    for x in ([1, 2], np.array([1.0, 2.0]), (1, 2), np.array([1, 2], dtype=np.int32)):
        r = g.eval(at={"x": x})
        assert r.value == 3.0 and r.grad["x"].tolist() == [1, 1] and r.grad["W"].tolist() == [[1, 2], [1, 2]]
    assert g.eval(at={"x": "[1, 2] * 2", "W": "eye(2)"}).value == 6.0
    assert g.eval(at=["x=[1, 2]", "W=2*eye(2)"]).value == 6.0
    assert g.eval(at="x=[3, 4]").value == 7.0


def test_scalars_and_zero_d_arrays_are_the_same_input():
    g = gradcli.parse("input x = 1\ny = x**3\n")
    for x in (2, 2.0, np.float32(2), np.array(2.0), np.array([2.0])[0]):
        r = g.eval(at={"x": x})
        assert r.value == 8.0 and type(r.value) is float and r.grad == {"x": 12.0}
        assert type(r.at["x"]) is float


def test_eval_several_outputs_and_wrt_subsets():
    g = gradcli.load(EXAMPLES / "jacobian_two_outputs.grad")
    r = g.eval(wrt=["z", "x"])
    assert r.values == {"f1": 9.0, "f2": 12.0}
    assert r.grads == {"f1": {"z": 3.0, "x": 3.0}, "f2": {"z": 0.0, "x": 4.0}}
    assert list(r.grads["f1"]) == ["z", "x"]              # in the order asked for
    assert g.eval(wrt="q").grads == {"f1": {"q": 0.0}, "f2": {"q": 3.0}}
    assert g.eval(wrt=[]).grads == {"f1": {}, "f2": {}}
    with pytest.raises(ValueError, match="2 outputs"):
        r.value  # noqa: B018
    with pytest.raises(ValueError, match="f1, f2"):
        r.grad  # noqa: B018
    with pytest.raises(gradcli.GradError, match="no input named 'w'") as info:
        g.eval(wrt=["w"])
    assert "did you mean" in (info.value.hint or "") or "inputs:" in (info.value.hint or "")


def test_a_tensor_output_gives_the_jacobian_in_both_modes():
    g = gradcli.parse("input x = [1, 2, 3]\ninput a = 2\ny = a * x**2\n")
    rev, fwd = g.eval(), g.eval(mode="forward")
    assert rev.mode == "reverse" and fwd.mode == "forward"
    assert rev.grad["x"].shape == (3, 3) and rev.grad["a"].shape == (3,)
    assert np.array_equal(rev.grad["x"], np.diag([4.0, 8.0, 12.0]))
    for name in ("x", "a"):
        assert np.array_equal(rev.grad[name], fwd.grad[name])


def test_batched_inputs_equal_the_points_one_by_one():
    g = gradcli.load(EXAMPLES / "logistic_binary.grad")
    rng = np.random.default_rng(3)
    w, b = rng.uniform(-2, 2, (6, 2)), rng.uniform(-2, 2, 6)
    for mode in ("reverse", "forward"):
        r = g.eval(at={"w": w, "b": b}, mode=mode, batch=True)
        assert r.values["L"].shape == (6,) and r.grad["w"].shape == (6, 2) and r.grad["x"].shape == (6, 2)
        assert r.at["x"].shape == (6, 2)                     # the default, along the batch axis
        for k in range(6):
            one = g.eval(at={"w": w[k], "b": b[k]}, mode=mode)
            assert r.values["L"][k] == pytest.approx(one.value, rel=1e-12)
            for name in ("w", "b", "x"):
                np.testing.assert_allclose(r.grad[name][k], one.grad[name], rtol=1e-12, atol=1e-15)


def test_batched_jacobians_of_several_tensor_outputs():
    g = gradcli.parse("input x = [1, 2]\ninput s = 1\nu = s * x\nv = sum(x * x)\noutput u, v\n")
    r = g.eval(at={"x": [[1, 2], [3, 4], [5, 6]], "s": [1, 2, 3]}, batch=True)
    assert r.grads["u"]["x"].shape == (3, 2, 2) and r.grads["u"]["s"].shape == (3, 2)
    assert r.grads["u"]["x"][2].tolist() == [[3, 0], [0, 3]] and r.grads["v"]["x"][1].tolist() == [6, 8]
    assert r.values["v"].tolist() == [5, 25, 61]


def test_batch_errors():
    g = gradcli.parse("input x = 1\ninput y = 2\nz = log(x) * y\n")
    with pytest.raises(gradcli.GradError, match="batch axes differ"):
        g.eval(at={"x": [1, 2], "y": [1, 2, 3]}, batch=True)
    with pytest.raises(gradcli.GradError, match="leading batch axis"):
        g.eval(at={"x": 1.0}, batch=True)
    with pytest.raises(gradcli.GradError, match="at least one input"):
        g.eval(batch=True)
    with pytest.raises(gradcli.GradError, match=r"point 2 of the batch") as info:
        g.eval(at={"x": [1, 2, -1, 3]}, batch=True)
    assert info.value.line == 3 and "log(x)" in str(info.value)


def test_seeds_drive_initialisers_and_are_deterministic():
    g = gradcli.parse("input W = randn(2, 2)\ny = sum(W * W)\n")
    a, b, c = g.eval(seed=1), g.eval(seed=1), g.eval(seed=2)
    assert np.array_equal(a.at["W"], b.at["W"]) and not np.array_equal(a.at["W"], c.at["W"])
    assert np.allclose(a.grad["W"], 2 * a.at["W"]) and a.at["W"].shape == (2, 2)
    assert np.array_equal(g.eval().at["W"], g.eval(seed=0).at["W"])
    assert np.array_equal(g.eval(at={"W": "randn(2, 2)"}, seed=5).at["W"],
                          g.eval(at={"W": "randn(2, 2)"}, seed=5).at["W"])


@pytest.mark.parametrize("call, words", [
    (lambda g: g.eval(mode="sideways"), "mode='sideways'"),
    (lambda g: g.eval(seed=-1), "seed=-1"),
    (lambda g: g.eval(seed=1.5), "seed=1.5"),
    (lambda g: g.eval(at={"x": True}), "bool"),
    (lambda g: g.eval(at={"x": 1 + 2j}), "complex"),
    (lambda g: g.eval(at={"x": "abc"}), "undefined name 'abc'"),
    (lambda g: g.eval(at={"x": [[1], [2, 3]]}), "not a number"),
    (lambda g: g.eval(at={"z": 1}), "no input named 'z'"),
    (lambda g: g.eval(at=[1]), "NAME=EXPR"),
    (lambda g: g.eval(at={"x": float("nan")}), "nan"),
    (lambda g: g.eval(at={"x": 0}), "not finite"),
    (lambda g: g.check(random=-1), "random=-1"),
    (lambda g: g.check(rtol=-1), "rtol=-1"),
    (lambda g: g.check(method="simpson"), "method='simpson'"),
])
def test_bad_arguments_raise_grad_error(call, words):
    g = gradcli.parse("input x = 1\ny = sqrt(x)\n")
    with pytest.raises(gradcli.GradError, match=words.replace("(", r"\(")):
        call(g)


def test_an_input_without_a_default_needs_a_value():
    g = gradcli.parse("input x\ny = x*x\n", name="t.grad")
    with pytest.raises(gradcli.GradError, match="input 'x' has no value") as info:
        g.eval()
    assert (info.value.line, info.value.column) == (1, 1)
    assert g.eval(at={"x": 3}).grad == {"x": 6.0}


# ---------------------------------------------------------------- check

def test_check_report_ok_rows_and_raise_for_status():
    good = gradcli.load(EXAMPLES / "lecture_sin.grad").check(random=2)
    assert good.ok and good.status == 0 and len(good.points) == 3
    assert {r.verdict for r in good.rows} == {"ok"}
    good.raise_for_status()                                   # nothing to raise
    bad = gradcli.load(EXAMPLES / "wrong_claim.grad").check(random=0)
    assert not bad.ok and bad.status == 1
    wrong = [r for r in bad.rows if r.verdict == "claim_wrong"]
    assert [(r.claim_text, r.reverse, r.claim, r.index) for r in wrong] == [("d(loss)/d(x)", -36.0, -18.0, [])]
    with pytest.raises(AssertionError) as info:
        bad.raise_for_status()
    err = info.value
    assert isinstance(err, gradcli.GradientMismatch) and err.report is bad
    assert str(err) == bad.render() and "CLAIM WRONG" in str(err) and "\x1b[" not in str(err)
    assert str(err).rstrip().splitlines()[-1].startswith("✗ 1 mismatch")


def test_check_render_is_what_the_cli_prints():
    from click.testing import CliRunner

    from gradcli.cli import main

    path = str(EXAMPLES / "wrong_claim.grad")
    report = gradcli.load(path).check(at={"x": 2}, random=1, seed=7)
    cli = CliRunner().invoke(main, ["check", path, "--at", "x=2", "--random", "1", "--seed", "7",
                                    "--format", "json"])
    assert json.loads(report.render("json")) == json.loads(cli.stdout)
    text = CliRunner(env={"NO_COLOR": "1"}).invoke(main, ["check", path, "--at", "x=2", "--random", "1",
                                                          "--seed", "7"]).stdout
    assert [line.rstrip() for line in text.splitlines()] == report.render().splitlines()
    assert json.loads(report.render("json"))["points"][0]["label"] == "--at"
    with pytest.raises(ValueError, match="'svg'"):
        report.render("svg")


def test_check_options_reach_the_checker():
    g = gradcli.parse("input x = [1, 2, 3]\ny = sum(x*x)\nd(y)/d(x) = 2*x*1.0001\n")
    assert not g.check(random=0).ok
    assert g.check(random=0, rtol=1e-3).ok
    fast = g.check(random=0, fast=True, seed=3)
    assert fast.mode == "fast" and fast.method == "central" and not fast.ok
    assert [r.index for r in fast.rows] == [None, None]
    assert g.check(random=0, method="forward").method == "forward"


# ---------------------------------------------------------------- grade

def test_grade_returns_the_gradebook_every_format_renders(tmp_path):
    answers = tmp_path / "answers"
    shipped = sorted(p for p in EXERCISES.iterdir() if (p / "exercise.toml").is_file())
    for ex in shipped:
        (answers / ex.name).mkdir(parents=True)
        shutil.copy(ex / "solution.grad", answers / ex.name / "answer.grad")
    (answers / "03-sin-at-pi" / "answer.grad").write_text("f = 1\n")
    ticks = []
    book = gradcli.grade(EXERCISES, answers, progress=lambda done, total: ticks.append((done, total)))
    n = len(shipped)
    assert n >= 8 and ticks[0] == (0, n) and ticks[-1] == (n, n)
    assert len(book.students) == 1 and not book.passed
    scores = {e.id: (e.score, e.max_score) for e in book.students[0].exercises}
    assert all(s == m for k, (s, m) in scores.items() if k != "03-sin-at-pi")
    assert scores["03-sin-at-pi"][0] < scores["03-sin-at-pi"][1]
    assert book.score == book.students[0].score < book.max_score
    data = json.loads(book.render("json"))
    assert data["score"] == book.score and data["max_score"] == book.max_score
    assert json.loads(book.render("gradescope"))["tests"]
    assert book.render("junit").startswith("<?xml") and "03-sin-at-pi" in book.render("csv")
    assert "03-sin-at-pi" in book.render("markdown") and "03-sin-at-pi" in book.render("table")
    with pytest.raises(ValueError, match="'pdf'"):
        book.render("pdf")


def test_grade_a_class_and_the_templates(tmp_path):
    one = EXERCISES / "01-ln-sin-cos"
    template = gradcli.grade(one)
    assert template.students[0].score == 0 and not template.passed and template.single
    subs = tmp_path / "subs"
    (subs / "ada").mkdir(parents=True)
    (subs / "bob").mkdir()
    shutil.copy(one / "solution.grad", subs / "ada" / "answer.grad")
    book = gradcli.grade(one, submissions=subs, jobs=1)
    assert [s.id for s in book.students] == ["ada", "bob"] and not book.single
    assert book.students[0].score == book.max_score == 7 and book.students[1].score == 0
    assert book.students[0].passed and not book.students[1].passed and not book.passed
    assert book.score == pytest.approx(book.max_score / 2)
    with pytest.raises(ValueError, match="one student"):
        book.render("gradescope")


def test_grade_bad_input(tmp_path):
    with pytest.raises(gradcli.GradError, match="not a directory"):
        gradcli.grade(tmp_path / "nowhere")
    with pytest.raises(gradcli.GradError, match="not both"):
        gradcli.grade(EXERCISES, tmp_path, submissions=tmp_path)
    with pytest.raises(gradcli.GradError, match="does not exist"):
        gradcli.grade(EXERCISES, tmp_path / "nobody")
    one = tmp_path / "a.grad"
    one.write_text("f = 1\n")
    with pytest.raises(gradcli.GradError, match="single exercise"):
        gradcli.grade(EXERCISES, one)
    with pytest.raises(gradcli.GradError, match="jobs"):
        gradcli.grade(EXERCISES, jobs=-1)
    with pytest.raises(gradcli.GradError, match="no student folders"):
        gradcli.grade(EXERCISES, submissions=tmp_path / "empty" if (tmp_path / "empty").mkdir() is None else None)
