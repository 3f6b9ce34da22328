"""Issue 12, items 9 and 10: empty tensors, errors with their own messages, names as Python
normalises them, and reverse and forward mode agreeing where a zero meets an infinity."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.autodiff import engine
from gradcli.autodiff.ops import OPS
from gradcli.cli import main
from gradcli.errors import GradError, Source
from gradcli.grade.exercise import load_exercise
from gradcli.grade.tasks import grade_file
from gradcli.language.program import bind, build

ROOT = Path(__file__).resolve().parent.parent
LNSIN = ROOT / "tests" / "fixtures" / "grade" / "ex" / "lnsin"


def run(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def write(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def no_traceback(result):
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output


# ---------------------------------------------------------------- 9. empty tensors

EMPTY = {
    "times": ("input x = zeros(0)\ny = x * 2\n", 0),
    "sum": ("input x = zeros(0)\ny = sum(x)\n", 0),
    "claims": ("input x = zeros(0)\ninput z = 2\ny = sum(x*z) + z*z\nd(y)/d(z) = 2*z\nd(y)/d(x) = x\n", 0),
    "matrix": ("input W = zeros(0, 3)\ninput v = [1, 2, 3]\ny = W @ v\ns = sum(softmax(W)) + sum(y) + dot(v, v)\n", 0),
    "rows": ("input W = zeros(2, 0)\ninput b = 1\ns = sum(log_softmax(W), 0)\nt = sum(s) + b\n", 0),
    "mean": ("input x = zeros(0)\ny = mean(x)\n", 2),
    "max": ("input x = zeros(0)\ny = max(x)\n", 2),
    "logsumexp": ("input x = zeros(0)\ny = logsumexp(x)\n", 2),
    "index": ("input x = zeros(0)\ny = index(x, 0)\n", 2),
}


@pytest.mark.parametrize("name", sorted(EMPTY))
def test_empty_tensors_in_every_command_and_mode(tmp_path, name):
    text, status = EMPTY[name]
    path = write(tmp_path / f"{name}.grad", text)
    runs = [["eval", path, "--mode", m, "--format", f] for m in ("reverse", "forward") for f in ("text", "json")]
    runs += [["graph", path, "--format", f, *extra] for f in ("text", "json", "dot", "mermaid", "html", "python")
             for extra in ([], ["--mode", "forward", "--paths"])]
    runs += [["check", path, *extra] for extra in ([], ["--fast"], ["--method", "forward"], ["--method", "central"])]
    for args in runs:
        result = run(*args)
        no_traceback(result)
        assert result.exit_code in ((0, 1) if status == 0 else (2,)), (args, result.output)
        if status == 2:
            assert result.stderr.startswith(f"{path}:2:5: error: "), result.stderr


def test_empty_values_and_gradients_are_empty(tmp_path):
    path = write(tmp_path / "e.grad", EMPTY["claims"][0])
    for mode in ("reverse", "forward"):
        data = json.loads(run("eval", path, "--mode", mode, "--format", "json").stdout)
        assert data["outputs"]["y"] == {"value": 4.0, "grad": {"x": [], "z": 4.0}}
    e = gradcli.parse(EMPTY["times"][0]).eval(mode="forward")
    assert e.value.shape == (0,) and e.grad["x"].shape == (0, 0)


def test_empty_tensors_given_with_at(tmp_path):
    path = write(tmp_path / "s.grad", "input x = 1\ny = sum(x*2)\n")
    for mode in ("reverse", "forward"):
        result = run("eval", path, "--at", "x=zeros(0)", "--mode", mode, "--format", "json")
        no_traceback(result)
        assert result.exit_code == 0 and json.loads(result.stdout)["outputs"]["y"] == {"value": 0.0, "grad": {"x": []}}
    assert run("check", path, "--at", "x=zeros(0)").exit_code == 0
    assert run("graph", path, "--at", "x=zeros(0, 2)", "--format", "json").exit_code == 0


def test_the_messages_of_empty_reductions(tmp_path):
    messages = {"mean": "`mean(x)` is nan at this point", "max": "empty tensor in `max(x)`: max(a) of no elements "
                "has no value", "logsumexp": "empty tensor in `logsumexp(x)`: logsumexp of an empty vector",
                "index": "index out of range in `index(x, 0)`: a's last axis is empty"}
    for name, message in messages.items():
        result = run("eval", write(tmp_path / f"{name}.grad", EMPTY[name][0]))
        assert message in result.stderr and "zero-size" not in result.stderr, result.stderr


def test_mean_of_no_elements_is_nan_as_in_numpy():
    mean = OPS["mean"]
    assert np.isnan(mean.fwd(np.zeros(0))) and np.isnan(mean.fwd(np.zeros((0, 3))))
    assert mean.fwd(np.array([1.0, 3.0])) == 2.0
    batched = mean.fwd(np.zeros((4, 0)), nb=1)
    assert batched.shape == (4,) and np.isnan(batched).all()
    assert mean.vjp[0](1.0, np.nan, np.zeros(0)).shape == (0,)


def test_empty_tensors_in_an_answer(tmp_path):
    ex = load_exercise(LNSIN)
    solution = (LNSIN / "solution.grad").read_text()
    for extra, feedback in [("const e0 = zeros(0)\nu = sum(e0) * x\n", None),
                            ("const e0 = zeros(0)\nu = max(e0) * x\n", "empty tensor in `max(e0)`"),
                            ("const e0 = zeros(0, 3)\nu = e0 @ [1, 2, 3]\nv = sum(u * x)\n", None)]:
        r = grade_file(ex, write(tmp_path / "a.grad", extra + solution))
        shown = "\n".join(i.feedback for t in r.tasks for i in t.items)
        assert r.error is None
        if feedback is None:
            assert r.score == r.max_score, shown
        else:
            assert feedback in shown


# ---------------------------------------------------------------- 10. each error its own message

def test_an_index_out_of_range_is_not_a_shape_mismatch(tmp_path):
    path = write(tmp_path / "i.grad", "input v = [1, 2, 3]\ny = index(v, 5)\n")
    result = run("eval", path)
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:2:5: error: index out of range in `index(v, 5)`: the last axis has "
                                    "3 entries (0 to 2), given 5")
    assert "shape mismatch" not in result.stderr
    half = run("eval", write(tmp_path / "h.grad", "input v = [1, 2, 3]\ny = index(v, 0.5)\n"))
    assert "index out of range in `index(v, 0.5)`: index(a, i) needs whole numbers for i, given 0.5" in half.stderr


def test_out_of_memory_is_not_a_shape_mismatch(tmp_path, monkeypatch):
    path = write(tmp_path / "m.grad", "input x = [1, 2]\ny = exp(x)\nz = sum(y)\n")
    program = build(Source(str(path), path.read_text()))

    def exhausted(*args):
        raise MemoryError()

    for node in program.nodes:
        if node.op is OPS["exp"]:
            node.op = OPS["exp"].__class__(**{**OPS["exp"].__dict__, "fwd": exhausted, "code": None})
    program._plan = None
    with pytest.raises(GradError) as err:
        engine.forward(program, bind(program))
    assert err.value.message == "out of memory in `exp(x)`: the result does not fit in this machine's memory"
    assert err.value.line == 2


def test_no_numpy_text_reaches_the_user(tmp_path):
    """numpy's own words ("zero-size array to reduction operation maximum which has no identity",
    "operands could not be broadcast") never reach a message: the op table's rules say why first."""
    cases = {"input x = zeros(0)\ny = max(x)\n": "max(a) of no elements has no value",
             "input x = [1, 2]\ninput y = [1, 2, 3]\nz = x + y\n": "cannot combine shapes (2,) and (3,)",
             "input W = ones(2, 3)\ninput v = [1, 2]\nz = W @ v\n": "inner dimensions 3 and 2 differ",
             "input W = ones(2, 3)\nz = sum(W, 2)\n": "axis 2 is out of range for a value with 2 dimension(s)"}
    for k, (text, message) in enumerate(cases.items()):
        result = run("eval", write(tmp_path / f"c{k}.grad", text))
        assert result.exit_code == 2 and message in result.stderr, result.stderr
        said = result.stderr.split(" error: ", 1)[1]
        for numpy_words in ("zero-size array", "could not be broadcast", "numpy"):
            assert numpy_words not in said


# ---------------------------------------------------------------- 10. names as Python normalises them

def names(text: str) -> list[str]:
    program = build(Source("n.grad", text))
    return [n.name for n in program.nodes if not n.generated]


def test_a_decomposed_accent_is_the_precomposed_letter():
    decomposed, precomposed = "e\u0301", "\u00e9"
    g = gradcli.parse(f"input {decomposed}t = 2\ny = {precomposed}t * 3\n")
    assert g.inputs == (f"{precomposed}t",) and g.eval().grad[f"{precomposed}t"] == 3.0
    assert gradcli.parse("input \u0928\u093e\u092e = 2\ny = \u0928\u093e\u092e * 3\n").eval().value == 6.0  # Hindi


def test_full_width_letters_are_the_ascii_name():
    g = gradcli.parse("input \uff46 = 2\ny = f * f\n")
    assert g.inputs == ("f",) and g.eval().value == 4.0
    with pytest.raises(GradError, match=r"'f' is already defined \(line 1, column 7\)"):
        gradcli.parse("input f = 1\ninput \uff46 = 2\ny = f\n")
    assert gradcli.parse("input x = 2\ny = \uff53\uff49\uff4e(x)\n").eval().value == pytest.approx(np.sin(2))
    assert gradcli.parse("input fi = 1\ny = \ufb01 * 2\n").eval().value == 2.0    # the ligature ﬁ is fi


def test_names_given_to_options_are_normalised_too(tmp_path):
    path = write(tmp_path / "n.grad", "input \u00e9 = 1\ny = \u00e9 * 3\n")
    result = run("eval", path, "--at", "e\u0301=2", "--wrt", "e\u0301", "--format", "json")
    assert result.exit_code == 0 and json.loads(result.stdout)["outputs"]["y"]["value"] == 6.0


def test_cyrillic_and_greek_look_alikes_get_a_hint(tmp_path):
    for text, hint in [("input x = 1\ny = \u0445 * 2\n",          # Cyrillic х
                        "did you mean 'x'? '\u0445' is the Cyrillic small letter ha (U+0445), not the Latin 'x'"),
                       ("input Omega = 1\ny = \u039fmega * 2\n",  # Greek Ο in a Latin word
                        "did you mean 'Omega'? '\u039f' is the Greek capital letter omicron (U+039F)"),
                       ("input x = 1\ny = s\u0441ale * x\n",      # no such Latin name either: still said
                        "'\u0441' is the Cyrillic small letter es (U+0441), which looks like the Latin 'c'")]:
        result = run("eval", write(tmp_path / "c.grad", text))
        assert result.exit_code == 2 and hint in result.stderr, result.stderr
    greek = gradcli.parse("input \u03b1 = 1\ny = \u03b1 * 2\n")        # a Greek name is a name, no hint
    assert greek.eval().value == 2.0


def test_superscripts_keep_their_hint():
    with pytest.raises(GradError) as err:
        gradcli.parse("input x = 1\ny = x\u00b2\n")
    assert err.value.hint == "write x**2"


# ---------------------------------------------------------------- reverse and forward agree

def _both(text, at=None):
    """The engine's Jacobians of f in reverse and in forward mode, {input name: array}."""
    program = build(Source("t.grad", text))
    point = bind(program, values=at)
    vals = engine.forward(program, point)
    out = program.outputs[0]
    return [{program.nodes[x].name: np.asarray(j, dtype=float)
             for x, j in engine.jacobian(program, vals, out, program.inputs, mode).items()}
            for mode in ("reverse", "forward")]


def test_max_over_nan_elements_gives_the_same_derivative_in_both_modes():
    """max(a) with a NaN element is NaN (numpy): its derivative flows through the NaN element(s)
    in both modes (PyTorch), instead of 0/0 shares."""
    op = OPS["max_reduce"]
    a = np.array([1.0, np.nan, 3.0])
    ans = op.fwd(a)
    back = op.vjp[0](1.0, ans, a)
    assert np.isnan(ans) and back.tolist() == [0.0, 1.0, 0.0]
    assert op.jvp[0](np.array([1.0, 0.0, 0.0]), ans, a) == 0.0
    assert op.jvp[0](np.array([0.0, 2.0, 0.0]), ans, a) == 2.0


def test_a_zero_derivative_meeting_an_infinite_partial_is_zero_in_both_modes():
    """sqrt at 0 has an infinite partial; where no derivative flows through it (the element is
    not picked, or a relu is off), both modes give 0 -- not NaN in one and a number in the other."""
    for text, at in [("input v = [0, 4]\nf = index(sqrt(v), 1)\n", None),
                     ("input v = [0, 4]\nf = sum(softmax(sqrt(v)) * [1, 2])\n", None),
                     ("input v = [-1.5, 2]\nf = sum(softmax(relu(v) ** 0.5) * relu(v) ** 0.5)\n", None),
                     ("input w = [2, 3]\nf = index(log(w), 0)\n", {"w": [2.0, -1.0]})]:
        rev, fwd = _both(text, at)
        for name in rev:      # equal where finite; where not, not finite in both (undefined there)
            r, f = rev[name], fwd[name]
            assert np.array_equal(np.isfinite(r), np.isfinite(f)), (text, rev, fwd)
            assert np.allclose(r[np.isfinite(r)], f[np.isfinite(f)], rtol=1e-12, atol=0), (text, rev, fwd)
    rev, fwd = _both("input v = [0, 4]\nf = index(sqrt(v), 1)\n")
    assert rev["v"].tolist() == fwd["v"].tolist() == [0.0, 0.25]
    rev, fwd = _both("input v = [0, 4]\nf = sum(softmax(sqrt(v)) * [1, 2])\n")
    assert not np.isfinite(rev["v"][0]) and not np.isfinite(fwd["v"][0])    # v[0]: truly infinite
    assert rev["v"][1] == pytest.approx(fwd["v"][1], rel=1e-12) and rev["v"][1] > 0


def test_check_calls_no_engine_bug_where_a_kink_hides_a_pole(tmp_path):
    """A fuzzed program that check called ENGINE BUG (reverse finite, forward NaN)."""
    path = write(tmp_path / "k.grad", "input x = [-1.558975, -1.4211737, -1.3]\ninput y = 1.3\n"
                 "f = sum(softmax((relu((min(-1.43, y) + (x)**2)))**0.5) * (relu((min(-1.43, y) + (x)**2)))**0.5)\n")
    result = run("check", path, "--random", "2", "--seed", "10563", "--format", "json")
    summary = json.loads(result.stdout)["summary"]
    assert result.exit_code == 0 and summary["engine_bug"] == 0 and summary["ad_fd_mismatch"] == 0


def test_log_softmax_near_zero_is_not_a_false_mismatch(tmp_path):
    """log_softmax(a) ≈ -0.003 is a - logsumexp(a) with both ≈ 4: its rounding is eps·4, not
    eps·0.003 -- forward differences at √eps then differ from AD by 1e-8, within that rounding."""
    path = write(tmp_path / "ls.grad", "input y = [0.5595, 0, -0.5]\nn0 = [-0.27, -2.137] + 0.5*sum(y)\n"
                 "n1 = log_softmax([[0.6, -2.0], [-1.5, 0.958]] @ n0)\n")
    for method in ("forward", "central", "richardson"):
        result = run("check", path, "--method", method, "--random", "0", "--format", "json")
        assert result.exit_code == 0, (method, result.stdout[-2000:])
