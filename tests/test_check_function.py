"""gradcli.check_function and `gradcli check --python`: hand-written gradients of Python functions.

The lecture notes' examples written as numpy functions: each right gradient passes, and a
deliberate slip (a sign, a missing factor, a transpose, a wrong index) is found and shown.
Public names only.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

import gradcli
from gradcli.cli import main
from gradcli.testing import assert_gradients

RNG = np.random.default_rng(2024)


def mismatch(f, grad_f, *args, **options) -> gradcli.GradientMismatch:
    with pytest.raises(gradcli.GradientMismatch) as info:
        gradcli.check_function(f, grad_f, *args, **options)
    return info.value


def wrong_rows(err):
    return [r for r in err.report.rows if r.verdict == "claim_wrong"]


# ---------------------------------------------------------------- the notes' examples

def loss(x):
    return (x**2 - 10) ** 2


def test_the_minus_36_example():
    report = gradcli.check_function(loss, lambda x: 4 * x * (x**2 - 10), 1)
    (row,) = report.rows
    assert report.ok and row.claim == -36 and row.fd == pytest.approx(-36, rel=1e-12)
    assert row.fd_error < 1e-9 and report.method == "richardson" and report.mode == "full"
    err = mismatch(loss, lambda x: 2 * (x**2 - 10), 1)          # the chain rule's inner 2x forgotten
    (row,) = wrong_rows(err)
    assert (row.claim, round(row.fd, 9), row.index) == (-18, -36, [])
    text = str(err)
    assert "WRONG" in text and "-18" in text and "-36 ±" in text
    assert text.rstrip().splitlines()[-1].startswith("✗ 1 mismatch in 1 comparison")


def test_half_sum_of_squares_with_a_sign_slip_in_one_of_100_entries():
    a = RNG.standard_normal(100)
    h = lambda a: 0.5 * np.sum(a**2)  # noqa: E731
    assert gradcli.check_function(h, lambda a: a, a).ok

    def slipped(a):
        g = a.copy()
        g[42] = -g[42]
        return g

    err = mismatch(h, slipped, a)
    (row,) = wrong_rows(err)
    assert row.index == [42] and row.claim == -a[42] and row.fd == pytest.approx(a[42], rel=1e-9)
    lines = str(err).splitlines()
    first = next(line for line in lines if line.startswith("d(f)/d(a)"))
    assert "[42]" in first and "WRONG" in first                  # the worst entry comes first
    assert "1 of 100 entries" in lines[-1]


def test_sum_of_squares_at_the_notes_point():
    x = np.array([1.0, 5.0, 6.0])
    assert gradcli.check_function(lambda x: np.sum(x**2), lambda x: 2 * x, x).rows[1].fd == pytest.approx(10)
    assert [r.index for r in wrong_rows(mismatch(lambda x: np.sum(x**2), lambda x: x, x))] == [[0], [1], [2]]


def affine_sum(X, W, B):
    return np.sum(X @ W + B)


def affine_sum_grads(X, W, B):
    J = np.ones((X.shape[0], W.shape[1]))
    return J @ W.T, X.T @ J, J.sum(axis=0, keepdims=True)


AFFINE = (np.array([[1, 0], [0, 1], [1, 1], [2, -1], [1, 2]], dtype=float),
          np.array([[1, 2, 3], [-1, 0, 2]], dtype=float), np.array([[0.5, -1, 2]]))


def test_affine_sum_of_the_notes():
    report = gradcli.check_function(affine_sum, affine_sum_grads, *AFFINE)
    assert report.ok and len(report.rows) == 10 + 6 + 3
    dB = [r.fd for r in report.rows if r.input == "B"]
    assert dB == pytest.approx([5, 5, 5])                         # B broadcast over 5 rows
    # the broadcast forgotten: dO/dB = ones(1, 3)
    err = mismatch(affine_sum, lambda X, W, B: (*affine_sum_grads(X, W, B)[:2], np.ones((1, 3))), *AFFINE)
    assert {(r.input, tuple(r.index)) for r in wrong_rows(err)} == {("B", (0, 0)), ("B", (0, 1)), ("B", (0, 2))}


def test_matrix_gradient_with_a_missing_factor():
    X, W, B = RNG.standard_normal((6, 3)), RNG.standard_normal((3, 4)), RNG.standard_normal(4)
    cost = lambda X, W, B: np.sum((X @ W + B) ** 2)  # noqa: E731

    def grads(X, W, B, factor=2.0):
        G = factor * (X @ W + B)
        return G @ W.T, X.T @ G, G.sum(axis=0)

    assert gradcli.check_function(cost, grads, X, W, B).ok
    err = mismatch(cost, lambda X, W, B: grads(X, W, B, 1.0), X, W, B)   # the 2 of the square forgotten
    rows = wrong_rows(err)
    assert len(rows) == 18 + 12 + 4 and all(r.claim == pytest.approx(r.fd / 2, rel=1e-6) for r in rows)
    # only W's gradient transposed: a wrong shape, a bad input with a hint
    with pytest.raises(gradcli.GradError, match=r"shape \(4, 3\) for W") as info:
        gradcli.check_function(cost, lambda X, W, B: (grads(X, W, B)[0], grads(X, W, B)[1].T,
                                                      grads(X, W, B)[2]), X, W, B)
    assert info.value.hint == "transposed?"


def test_the_affine_layer_as_a_jacobian_and_as_a_vjp():
    X, W, B = RNG.standard_normal((4, 2)), RNG.standard_normal((2, 3)), RNG.standard_normal(3)
    layer = lambda X, W, B: X @ W + B  # noqa: E731

    def jacobians(X, W, B):
        n, k = X.shape[0], W.shape[1]
        dX = np.einsum("ik,jl->ijkl", np.eye(n), W.T)          # (n, k) + (n, d)
        dW = np.einsum("ij,kl->ikjl", X, np.eye(k))               # (n, k) + (d, k)
        return dX, dW, np.broadcast_to(np.eye(k), (n, k, k)).copy()

    assert gradcli.check_function(layer, jacobians, X, W, B).ok
    vjp = lambda X, W, B, G: (G @ W.T, X.T @ G, G.sum(axis=0))  # noqa: E731
    assert gradcli.check_function(layer, vjp, X, W, B, vjp=True).ok
    assert gradcli.check_function(layer, vjp, X, W, B, vjp=True, fast=True).ok
    bad = lambda X, W, B, G: (G @ W.T, X.T @ G, G.sum(axis=0) * 0.5)  # noqa: E731
    err = mismatch(layer, bad, X, W, B, vjp=True)
    assert {r.input for r in wrong_rows(err)} == {"B"} and len(wrong_rows(err)) == 4 * 3 * 3 - 4 * 3 * 2
    fast = mismatch(layer, bad, X, W, B, vjp=True, fast=True)
    (row,) = fast.report.rows
    assert row.index is None and row.kind == "directional" and "uᵀJw" in str(fast)


def sigmoid(s):
    return 1 / (1 + np.exp(-s))


def logistic(w, b, x, y=1.0):
    p = sigmoid(w @ x + b)
    return -(y * np.log(p) + (1 - y) * np.log(1 - p))


def test_binary_logistic_regression():
    w, b, x = np.array([0.4, -0.7]), 0.2, np.array([1.5, 0.5])

    def grads(w, b, x, y=1.0):
        p = sigmoid(w @ x + b)
        return (p - y) * x, p - y, (p - y) * w

    assert gradcli.check_function(logistic, grads, w, b, x).ok
    # a label held fixed: only w and b differentiated, the gradient for them only
    assert gradcli.check_function(logistic, lambda w, b, x, y: grads(w, b, x, y)[:2], w, b, x, 0.0,
                                  wrt=("w", "b")).ok
    err = mismatch(logistic, lambda w, b, x: (sigmoid(w @ x + b) * x, sigmoid(w @ x + b) - 1, 0 * x), w, b, x)
    assert {r.input for r in wrong_rows(err)} == {"w", "x"}         # p x instead of (p - y) x


def test_multiclass_logistic_regression_and_a_forgotten_one_hot():
    W, b, x, y = RNG.uniform(-2, 2, (3, 2)), RNG.uniform(-2, 2, 3), np.array([1.5, -0.5]), 1

    def L(W, b):
        z = W @ x + b
        return -(z[y] - np.log(np.sum(np.exp(z))))

    def grads(W, b, onehot=True):
        z = W @ x + b
        d = np.exp(z) / np.sum(np.exp(z)) - (np.eye(3)[y] if onehot else 0)
        return np.outer(d, x), d

    assert gradcli.check_function(L, grads, W, b).ok
    err = mismatch(L, lambda W, b: grads(W, b, onehot=False), W, b)
    assert {tuple(r.index) for r in wrong_rows(err) if r.input == "b"} == {(1,)}


def test_matrix_cost_of_the_notes():
    x = np.array([[1.0, 1, -1], [0, -1, 1]])
    w1, w2, y = np.array([[1.0, 0], [1, 2]]), np.array([1.0, -2]), np.array([1.0, -2, -1])
    cost = lambda x, w1, w2, y: np.sum((y - w2 @ (w1 @ x)) ** 2)  # noqa: E731

    def grads(x, w1, w2, y):
        a = w1 @ x
        e = y - w2 @ a
        da = np.outer(w2, -2 * e)
        return w1.T @ da, da @ x.T, a @ (-2 * e), 2 * e

    report = gradcli.check_function(cost, grads, x, w1, w2, y)
    assert report.ok
    by = {(r.input, tuple(r.index)): r.fd for r in report.rows}
    assert by[("w2", (0,))] == pytest.approx(10) and by[("x", (1, 1))] == pytest.approx(-40)
    transposed = lambda *a: (grads(*a)[0], grads(*a)[1].T, *grads(*a)[2:])  # noqa: E731  (w1 is 2x2)
    assert {r.input for r in wrong_rows(mismatch(cost, transposed, x, w1, w2, y))} == {"w1"}


def test_two_outputs_make_a_jacobian_and_the_rnn_two_steps():
    f = lambda x, y, z, q: np.array([(x + y) * z, (x + y) * q])  # noqa: E731
    jac = lambda x, y, z, q: (np.array([z, q]), np.array([z, q]), np.array([x + y, 0]), np.array([0, x + y]))  # noqa: E731
    report = gradcli.check_function(f, jac, 1, 2, 3, 4)
    assert report.ok and {(r.input, tuple(r.index)): r.claim for r in report.rows}[("q", (1,))] == 3
    wrong = lambda *a: (*jac(*a)[:3], np.array([a[0] + a[1], 0]))  # noqa: E731  (rows swapped)
    assert {tuple(r.index) for r in wrong_rows(mismatch(f, wrong, 1, 2, 3, 4))} == {(0,), (1,)}
    rnn = lambda w, h0: w * (w * h0)  # noqa: E731
    assert gradcli.check_function(rnn, lambda w, h0: (2 * w * h0, w**2), 2, 0.5).ok
    # the derivatives w.r.t. two scalars as the rows of one array
    assert gradcli.check_function(lambda x, y: x * y**2, lambda x, y: np.array([y**2, 2 * x * y]), 3, 2).ok
    # several outputs as a tuple of same-shaped values
    assert gradcli.check_function(lambda x: ((x**2), np.sin(x)), lambda x: np.array([2 * x, np.cos(x)]), 0.3).ok


def test_a_kink_is_not_a_mismatch():
    report = gradcli.check_function(lambda x: abs(x), lambda x: float(np.sign(x)), 1e-10)
    (row,) = report.rows
    assert report.ok and row.verdict == "kink" and row.left == pytest.approx(-1, abs=0.1) and row.right == 1
    # a central step that straddles a kink further away: the closer look clears the entry
    assert gradcli.check_function(lambda x: np.sum(np.maximum(x, 0)), lambda x: (x > 0) * 1.0,
                                  np.array([3e-6, -3e-6, 1.0, -2.0]), method="central").ok
    # the max gate of the notes, at its default point (x2 + w2 wins)
    gate = lambda x1, w1, x2, w2: max(x2 + w1, x2 + w2) + (x1 + w1) * (x2 + w1)  # noqa: E731
    grads = lambda x1, w1, x2, w2: (x2 + w1, (x2 + w1) + (x1 + w1), 1 + (x1 + w1), 1)  # noqa: E731
    assert [r.claim for r in gradcli.check_function(gate, grads, 2, -3, 4, -1).rows] == [1, 0, 0, 1]
    # a wrong value at a kink is still wrong where the function is smooth
    assert wrong_rows(mismatch(lambda x: abs(x), lambda x: 2.0, 1.0))


def test_large_inputs_get_a_random_directional_check():
    a = RNG.standard_normal(10_000)
    h = lambda a: 0.5 * np.sum(a**2)  # noqa: E731
    report = gradcli.check_function(h, lambda a: a, a)
    assert report.mode == "fast" and report.method == "central" and report.ok and len(report.rows) == 1

    def slipped(a):
        g = a.copy()
        g[1234] = -g[1234]
        return g

    err = mismatch(h, slipped, a, seed=3)
    assert err.report.mode == "fast" and "fast=False" in str(err)
    again = mismatch(h, slipped, a, seed=3)
    assert again.report.rows[0].fd == err.report.rows[0].fd          # deterministic per seed
    full = mismatch(h, slipped, a[:2000], fast=False)
    assert [r.index for r in wrong_rows(full)] == [[1234]]


# ---------------------------------------------------------------- inputs and bad input

def test_integers_lists_scalars_and_zero_d_arrays():
    seen = []

    def f(x):
        seen.append(type(x))
        return np.sum(np.asarray(x) ** 3)

    g = lambda x: 3 * np.asarray(x) ** 2  # noqa: E731
    for x in (2, 2.0, np.float32(2.0), np.int64(2)):
        assert gradcli.check_function(f, g, x).ok and seen[-1] is float
    assert gradcli.check_function(f, g, np.array(2.0)).ok and seen[-1] is np.ndarray
    assert gradcli.check_function(f, g, [1, 2, 3]).ok and seen[-1] is np.ndarray
    assert gradcli.check_function(f, g, np.arange(4)).ok                   # an integer array
    report = gradcli.check_function(f, g, np.arange(4))
    assert report.points[0].values["x"].dtype == np.float64
    assert gradcli.check_function(lambda x: x * 3, lambda x: np.array(3.0), np.array(1.0)).ok


@pytest.mark.parametrize("args, words", [
    ((True,), "bool"),
    ((np.array([True, False]),), "bools"),
    ((1 + 1j,), "complex"),
    (("abc",), "not a number"),
    (([[1, 2], [3]],), "not a number"),
    ((float("nan"),), "NaN"),
    ((np.zeros(0),), "no elements"),
])
def test_bad_arguments(args, words):
    with pytest.raises(gradcli.GradError, match=words):
        gradcli.check_function(lambda x: np.sum(x), lambda x: np.ones_like(x), *args)


def test_a_wrong_shape_from_grad_f_is_bad_input_with_a_hint():
    with pytest.raises(gradcli.GradError, match=r"returned shape \(3, 1\) for x.*\(3,\)") as info:
        gradcli.check_function(lambda x: np.sum(x**2), lambda x: (2 * x).reshape(3, 1), np.ones(3))
    assert "reshape" in info.value.hint
    with pytest.raises(gradcli.GradError, match=r"\(3, 3\)") as info:
        gradcli.check_function(np.sin, np.cos, np.ones(3))                 # elementwise: the diagonal
    assert "vjp=True" in info.value.hint
    assert gradcli.check_function(np.sin, lambda x, g: g * np.cos(x), np.ones(3), vjp=True).ok
    with pytest.raises(gradcli.GradError, match="should return 2 derivatives"):
        gradcli.check_function(lambda x, y: x * y, lambda x, y: y, 1.0, 2.0)
    with pytest.raises(gradcli.GradError, match="give the point"):
        gradcli.check_function(lambda x: x * x, lambda x: 2 * x)
    with pytest.raises(gradcli.GradError, match="returned NoneType"):
        gradcli.check_function(lambda x: x * x, lambda x: None, 1.0)


def test_a_function_that_raises_propagates_with_a_note():
    def f(x):
        if x[0] > 0.55:
            raise ValueError("out of range")
        return np.sum(x)

    with pytest.raises(ValueError, match="out of range") as info:
        gradcli.check_function(f, lambda x: np.ones(2), np.array([0.5, 0.1]))
    assert "raised by f at a point" in info.value.__notes__[0] and "x[0] 0.5 ->" in info.value.__notes__[0]
    with pytest.raises(ZeroDivisionError) as info:
        gradcli.check_function(lambda x: 1 / x, lambda x: -1 / x**2, 0)
    assert "at the given point" in info.value.__notes__[0]
    with pytest.raises(KeyError) as info:
        gradcli.check_function(lambda x: x * x, lambda x: {}["g"], 1.0)
    assert "grad_f" in info.value.__notes__[0]


def test_nan_gradients_and_undefined_points():
    err = mismatch(lambda x: np.sum(x**2), lambda x: np.where(x > 1, np.nan, 2 * x), np.array([1.0, 2.0]))
    (row,) = wrong_rows(err)
    assert row.index == [1] and np.isnan(row.claim) and "nan" in row.note
    with pytest.raises(gradcli.GradError, match="is nan at the given point"), np.errstate(invalid="ignore"):
        gradcli.check_function(lambda x: np.log(x), lambda x: 1 / x, -1.0)
    with pytest.raises(gradcli.GradError, match="complex"):
        gradcli.check_function(lambda x: np.sqrt(x + 0j), lambda x: 1.0, 1.0)
    # the derivative is infinite at sqrt's 0: undefined, not a mismatch
    report = gradcli.check_function(np.sqrt, lambda x: 0.5 / np.sqrt(x) if x else np.inf, 0.0)
    assert report.rows[0].verdict == "undefined" and report.ok


def test_options():
    f, g = (lambda x: np.sum(np.sin(x))), (lambda x: np.cos(x) * 1.00001)
    x = np.linspace(0.1, 1, 5)
    assert not gradcli.check_function(f, g, x, raise_on_mismatch=False).ok
    assert gradcli.check_function(f, g, x, rtol=1e-4).ok
    assert gradcli.check_function(f, g, x, rtol=0, atol=1e-4).ok
    assert gradcli.check_function(f, np.cos, x, method="forward").method == "forward"
    assert gradcli.check_function(f, np.cos, x, wrt=0).ok and gradcli.check_function(f, np.cos, x, wrt=["x"]).ok
    for bad, words in [({"rtol": -1}, "rtol"), ({"method": "simpson"}, "simpson"), ({"seed": -2}, "seed"),
                       ({"wrt": "y"}, "no argument named 'y'"), ({"wrt": 3}, "given 1 argument"),
                       ({"wrt": [0, 0]}, "twice"), ({"wrt": []}, "empty"), ({"fast": "yes"}, "fast")]:
        with pytest.raises(gradcli.GradError, match=words):
            gradcli.check_function(f, np.cos, x, **bad)
    with pytest.raises(TypeError):
        gradcli.check_function(f, "cos", x)


def test_the_function_may_modify_its_arguments():
    def f(x):
        m = x.max()
        x -= m                    # a softmax's usual shift, in place
        return m + np.log(np.sum(np.exp(x)))

    def g(x):
        e = np.exp(x - x.max())
        x[:] = 0                  # and a gradient that scribbles on its argument
        return e / e.sum()

    x = np.array([1.0, 2.0, 3.0])
    assert gradcli.check_function(f, g, x).ok and x.tolist() == [1, 2, 3]


def test_assert_gradients_and_the_report_text():
    assert assert_gradients(loss, lambda x: 4 * x * (x**2 - 10), 1.0).ok
    with pytest.raises(AssertionError, match="WRONG"):
        assert_gradients(loss, lambda x: 2 * (x**2 - 10), 1.0)
    report = gradcli.check_function(loss, lambda x: 2 * (x**2 - 10), 1.0, raise_on_mismatch=False)
    data = json.loads(report.render("json"))
    assert data["function"] == "loss" and data["status"] == 1 and data["rows"][0]["verdict"] == "claim_wrong"
    assert data["rows"][0]["reverse"] is None and data["rows"][0]["claim"] == -18
    first = report.render().splitlines()[0]
    assert first.startswith("loss vs grad_f (") and "test_check_function.py:" in first


# ---------------------------------------------------------------- gradcli check --python

MODULE = """
import numpy as np

def loss(x, scale=1.0):
    return scale * (x**2 - 10)**2

def grad_loss(x, scale=1.0):
    return scale * 4*x*(x**2 - 10)

def grad_wrong(x, scale=1.0):
    return scale * 2*(x**2 - 10)

def h(a):
    return 0.5*np.sum(a**2)

def grad_h(a):
    return a

def affine(X, W):
    return X @ W

def affine_vjp(X, W, G):
    return G @ W.T, X.T @ G

def boom(x):
    return helper(x)

def helper(x):
    raise RuntimeError("it broke")
"""


@pytest.fixture
def usermod(tmp_path, monkeypatch):
    (tmp_path / "notes.py").write_text(textwrap.dedent(MODULE))
    monkeypatch.chdir(tmp_path)
    yield tmp_path
    sys.modules.pop("notes", None)


def cli(*args):
    return CliRunner().invoke(main, ["check", *args])


def test_cli_python_right_and_wrong(usermod):
    ok = cli("--python", "notes:loss", "--grad", "notes:grad_loss", "--at", "x=1")
    assert ok.exit_code == 0, ok.output
    assert "loss vs grad_loss (notes.py:7)" in ok.output and "✓ all agree" in ok.output
    bad = cli("--python", "notes:loss", "--grad", "notes:grad_wrong", "--at", "x=1", "--format", "json")
    assert bad.exit_code == 1
    data = json.loads(bad.stdout)
    assert data["rows"][0]["claim"] == -18 and data["rows"][0]["fd"] == pytest.approx(-36)
    assert data["rows"][0]["location"] == "notes.py:10"
    scaled = cli("--python", "notes:loss", "--grad", "notes:grad_loss", "--at", "x=1", "--at", "scale=2")
    assert scaled.exit_code == 0 and " -72 " in scaled.output           # scale: held fixed, at 2
    vec = cli("--python", "notes.py:h", "--grad", "notes.py:grad_h", "--at", "a=randn(50)", "--seed", "4")
    assert vec.exit_code == 0 and "50 comparisons" in vec.output
    vjp = cli("--python", "notes:affine", "--grad", "notes:affine_vjp", "--vjp", "--at", "X=randn(3, 2)",
              "--at", "W=[[1, 2], [3, 4]]")
    assert vjp.exit_code == 0, vjp.output


@pytest.mark.parametrize("args, words", [
    (["--python", "notes:loss", "--at", "x=1"], "needs --grad"),
    (["--python", "notes:loss", "--grad", "notes:grad_loss", "x.grad"], "not both"),
    (["--python", "notes:loss", "--grad", "notes:grad_loss", "--example", "loss_square"], "not both"),
    (["--python", "notes:loss", "--grad", "notes:grad_loss", "--at", "x=1", "--random", "3"], "no domain"),
    (["--python", "notes:nope", "--grad", "notes:grad_loss", "--at", "x=1"], "notes has no 'nope'"),
    (["--python", "nomodule:f", "--grad", "notes:grad_loss", "--at", "x=1"], "no module named 'nomodule'"),
    (["--python", "notes", "--grad", "notes:grad_loss"], "MODULE:NAME"),
    (["--python", "notes:loss", "--grad", "notes:grad_loss"], "parameter 'x' has no value"),
    (["--python", "notes:loss", "--grad", "notes:grad_loss", "--at", "y=1"], "no parameter named 'y'"),
    (["--python", "notes:loss", "--grad", "notes:grad_loss", "--at", "x=[1,"], "error"),
    (["--python", "notes:boom", "--grad", "notes:grad_loss", "--at", "x=1"], "RuntimeError: it broke"),
    (["--python", "notes:loss", "--grad", "notes:grad_h", "--at", "x=[1, 2]"], "shape (2,)"),
    ([], "FILES"),
])
def test_cli_python_bad_input_exits_2(usermod, args, words):
    result = cli(*args)
    assert result.exit_code == 2, result.output
    assert words in result.output and "Traceback" not in result.output


def test_cli_python_points_at_the_users_line(usermod):
    result = cli("--python", "notes:boom", "--grad", "notes:grad_loss", "--at", "x=1")
    assert "notes.py:29 in helper" in result.output and "raise RuntimeError" in result.output


def test_cli_python_in_a_subprocess(usermod):
    done = subprocess.run([sys.executable, "-m", "gradcli", "check", "--python", "notes:loss", "--grad",
                           "notes:grad_wrong", "--at", "x=1"], capture_output=True, text=True, timeout=60,
                          cwd=usermod, env={"NO_COLOR": "1", "PATH": ""})
    assert done.returncode == 1 and "WRONG" in done.stdout and "\x1b[" not in done.stdout
    help_text = subprocess.run([sys.executable, "-m", "gradcli", "check", "--help"], capture_output=True,
                               text=True, timeout=60).stdout
    help_text = " ".join(help_text.split())
    assert "--python" in help_text and "your own code" in help_text and "`gradcli grade` never" in help_text


def test_grade_never_runs_python(tmp_path):
    """An answer is parsed, never executed: a .py beside it is not imported."""
    src = Path(__file__).resolve().parent.parent / "exercises" / "04-chain-rule"
    answers = tmp_path / "answers"
    answers.mkdir()
    (answers / "answer.grad").write_text("o = sin(x**2)\n")
    (answers / "evil.py").write_text("open('pwned', 'w').write('x')\n")
    book = gradcli.grade(src, answers / "answer.grad")
    assert not (tmp_path / "pwned").exists() and not Path("pwned").exists()
    # o = sin(x**2) on one line: the graph task's value of o (half its 1 point); no edge, no derivative
    assert book.score == 0.5 and not book.passed
