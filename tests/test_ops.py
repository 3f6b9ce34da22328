"""The op table's own promises (gradcli/autodiff/ops.py), each against hand values or the
reference evaluator: reaches and kink distances, softmax on large logits, PyTorch's
conventions for x**p on arrays, @ on scalars and mismatched shapes, and the VJP of @ for
every pair of ranks in a batch (the grader's path) as well as at one point."""

from __future__ import annotations

import math

import numpy as np
import pytest

import reference
from conftest import program_of
from gradcli.autodiff import engine
from gradcli.autodiff.ops import OPS
from gradcli.errors import GradError

HALF_PI = math.pi / 2


# ---------------------------------------------------------------- reach and kinks (what check steps within)

@pytest.mark.parametrize("op, k, args, distance", [
    ("tan", 0, (HALF_PI - 1e-3,), 1e-3),            # just below the pole
    ("tan", 0, (HALF_PI + 1e-3,), 1e-3),            # just above it
    ("tan", 0, (0.0,), HALF_PI),                    # halfway between two poles
    ("tan", 0, (-3 * HALF_PI + 0.25,), 0.25),
    ("log", 0, (0.25,), 0.25),
    ("sqrt", 0, (0.25,), 0.25),
    ("div", 1, (5.0, -0.3), 0.3),                   # 1/b: the divisor's distance from 0
    ("pow", 0, (0.2, 0.5), 0.2),                    # sqrt-like: an edge at 0
    ("pow", 0, (-0.2, -1.0), 0.2),                  # 1/x: a pole at 0
    ("pow", 0, (0.2, 2.0), math.inf),               # x**2 is smooth through 0
    ("pow", 0, (0.2, 0.0), math.inf),
    ("sin", 0, (100.0,), 4.0), ("cos", 0, (0.0,), 4.0), ("exp", 0, (3.0,), 4.0),
    ("tanh", 0, (0.0,), 4.0), ("sigmoid", 0, (0.0,), 4.0),
])
def test_reach_is_the_distance_to_the_nearest_pole_or_edge(op, k, args, distance):
    got = OPS[op].reach[k](*args)
    assert float(got) == pytest.approx(distance, rel=1e-9)


def test_reach_of_pow_elementwise_and_of_arguments_with_none():
    got = OPS["pow"].reach[0](np.array([0.2, 0.2, -0.5]), np.array([2.0, 0.5, 3.0]))
    np.testing.assert_allclose(got, [np.inf, 0.2, np.inf])
    assert OPS["div"].reach[0] is None and OPS["pow"].reach[1] is None
    assert OPS["add"].reach is None and OPS["mul"].reach is None


@pytest.mark.parametrize("op, args, distance", [
    ("relu", (-0.3,), 0.3), ("relu", (0.0,), 0.0), ("abs", (0.2,), 0.2),
    ("maximum", (1.0, 1.25), 0.25), ("minimum", (-2.0, 1.0), 3.0),
    ("max_reduce", (np.array([1.0, 3.0, 2.5]),), 0.5),          # the two largest elements
    ("max_reduce", (np.array([2.0, 7.0, 7.0, 1.0]),), 0.0),     # a tie
    ("max_reduce", (np.array([[4.0, -1.0], [3.0, 0.0]]),), 1.0),
    ("max_reduce", (np.array([4.0]),), math.inf),
])
def test_kink_is_the_distance_to_the_nearest_kink_or_tie(op, args, distance):
    assert float(OPS[op].kink(*args)) == pytest.approx(distance)


# ---------------------------------------------------------------- softmax on large logits

def test_softmax_and_logsumexp_of_large_logits_are_finite():
    text = ("input z = [1000, 1001, 1002]\np = softmax(z)\nq = log_softmax(z)\nl = logsumexp(z)\n"
            "f = sum(p * [1, 2, 3]) + l\noutput p, q, l, f\n")
    program = program_of(text)
    (iz,) = program.inputs
    names = program.names
    e = math.e
    p = np.array([1, e, e * e]) / (1 + e + e * e)              # softmax is shift-invariant
    tail = math.log(1 + 1 / e + 1 / (e * e))                   # logsumexp(z) = max(z) + this
    z = np.array([1000.0, 1001.0, 1002.0])
    one = engine.forward(program, {iz: z})
    batch = engine.forward(program, {iz: np.stack([z, z - 1000])}, nb=1)    # the grader's path
    for got, shift in [(lambda n: one[names[n]], 0), (lambda n: batch[names[n]][0], 0),
                       (lambda n: batch[names[n]][1], 1000)]:
        np.testing.assert_allclose(got("p"), p, rtol=1e-14)
        np.testing.assert_allclose(got("l"), (1002 - shift) + tail, rtol=1e-14)
        np.testing.assert_allclose(got("q"), [-2 - tail, -1 - tail, -tail], rtol=1e-12)
    # and the gradient: d/dz of sum(p * c) + logsumexp(z) is p (c - p.c) + p
    c = np.array([1.0, 2.0, 3.0])
    want = p * (c - p @ c) + p
    for mode in ("reverse", "forward"):
        jac = engine.jacobian(program, one, names["f"], program.inputs, mode)
        np.testing.assert_allclose(jac[iz], want, rtol=1e-11)
    badj = engine.backward(program, batch, names["f"], nb=1)
    np.testing.assert_allclose(badj[iz], [want, want], rtol=1e-11)


# ---------------------------------------------------------------- x**p: PyTorch's zeros, on arrays too

def test_pow_derivatives_at_zero_on_arrays_and_batches():
    # d/dx x**p = p x**(p-1), 0 where p = 0; d/dp = x**p log x, 0 where x = 0 and p >= 0
    x = np.array([0.0, 0.0, 2.0, 1.5])
    p = np.array([2.0, 0.0, 3.0, 0.5])
    want_x = np.array([0.0, 0.0, 12.0, 0.5 / math.sqrt(1.5)])
    want_p = np.array([0.0, 0.0, 8 * math.log(2), math.sqrt(1.5) * math.log(1.5)])
    program = program_of(f"input x = {x.tolist()}\ninput p = {p.tolist()}\nf = sum(x**p)\n")
    ix, ip = program.inputs
    vals = engine.forward(program, {ix: x, ip: p})
    for mode in ("reverse", "forward"):
        jac = engine.jacobian(program, vals, program.outputs[0], program.inputs, mode)
        np.testing.assert_allclose(jac[ix], want_x, rtol=1e-14)
        np.testing.assert_allclose(jac[ip], want_p, rtol=1e-14)
    bvals = engine.forward(program, {ix: np.stack([x, x]), ip: np.stack([p, p])}, nb=1)
    badj = engine.backward(program, bvals, program.outputs[0], nb=1)
    np.testing.assert_allclose(badj[ix], [want_x, want_x], rtol=1e-14)
    np.testing.assert_allclose(badj[ip], [want_p, want_p], rtol=1e-14)


# ---------------------------------------------------------------- @: ranks and shapes

@pytest.mark.parametrize("expr, where", [("s @ v", "s @ v"), ("v @ s", "v @ s")])
def test_matmul_of_a_scalar_is_an_error_at_one_point_and_in_a_batch(expr, where):
    program = program_of(f"input s = 2\ninput v = [1, 2]\nf = sum({expr})\n")
    point = {i: program.defaults[i] for i in program.inputs}
    batch = {i: np.stack([np.asarray(v), np.asarray(v)]) for i, v in point.items()}
    for run in (lambda: engine.forward(program, point), lambda: engine.forward(program, batch, nb=1)):
        with pytest.raises(GradError) as err:
            run()
        text = err.value.render()
        assert "@ needs vectors or matrices on both sides, not scalars (use *)" in text
        assert f"test.grad:3:9: error: shape mismatch in `{where}`" in text


@pytest.mark.parametrize("a, b, inner", [
    ("[[1, 2, 3], [4, 5, 6]]", "[[1, 2], [3, 4]]", "3 and 2"),        # 2×3 @ 2×2
    ("[1, 2, 3]", "[[1, 2], [3, 4]]", "3 and 2"),                     # 3 @ 2×2
    ("[[1, 2], [3, 4]]", "[1, 2, 3]", "2 and 3"),                     # 2×2 @ 3
])
def test_matmul_inner_dimensions_must_agree(a, b, inner):
    program = program_of(f"input a = {a}\ninput b = {b}\nf = sum(a @ b)\n")
    point = {i: np.asarray(program.defaults[i], dtype=float) for i in program.inputs}
    batch = {i: np.stack([v, v, v]) for i, v in point.items()}
    for run in (lambda: engine.forward(program, point), lambda: engine.forward(program, batch, nb=1)):
        with pytest.raises(GradError, match=f"inner dimensions {inner} differ"):
            run()


MATMUL_SHAPES = {
    "vector @ matrix": ("[0.3, -1.2, 0.8]", "[[1.0, 0.5], [-0.4, 2.0], [0.7, -1.1]]"),
    "matrix @ vector": ("[[1.0, 0.5, -0.3], [-0.4, 2.0, 0.9]]", "[0.3, -1.2, 0.8]"),
    "vector @ vector": ("[0.3, -1.2, 0.8]", "[1.5, 0.2, -0.6]"),
    "matrix @ matrix": ("[[1.0, 0.5, -0.3], [-0.4, 2.0, 0.9]]", "[[1.0, 0.5], [-0.4, 2.0], [0.7, -1.1]]"),
}


@pytest.mark.parametrize("case", sorted(MATMUL_SHAPES))
def test_matmul_gradients_of_every_rank_pair_in_a_batch(case):
    """d sum(c * (a @ b)) / d(a, b) at three points (a batch of 3, as long as a per-point
    axis, where a misplaced axis hides), against central differences over the reference."""
    a, b = MATMUL_SHAPES[case]
    text = f"input a = {a}\ninput b = {b}\nm = a @ b\nf = sum(m * sin(m + 1))\n"
    program = program_of(text)
    ia, ib = program.inputs
    rng = np.random.default_rng(7)
    points = []
    for _ in range(3):
        points.append({i: np.asarray(program.defaults[i], float) + 0.3 * rng.standard_normal(
            np.shape(program.defaults[i])) for i in program.inputs})
    batch = {i: np.stack([p[i] for p in points]) for i in program.inputs}
    bvals = engine.forward(program, batch, nb=1)
    out = program.outputs[0]
    badj = engine.backward(program, bvals, out, nb=1)
    btan = {i: engine.tangents(program, bvals, {i: np.ones_like(batch[i])}, nb=1)[out] for i in (ia, ib)}
    for k, p in enumerate(points):
        named = {"a": p[ia], "b": p[ib]}
        vals = engine.forward(program, p)
        adj = engine.backward(program, vals, out)
        for i, name in ((ia, "a"), (ib, "b")):
            want = reference.derivative(text, name, named)
            np.testing.assert_allclose(badj[i][k], want, rtol=1e-7, atol=1e-8, err_msg=f"batch {name}")
            np.testing.assert_allclose(adj[i], want, rtol=1e-7, atol=1e-8, err_msg=f"one point {name}")
            # forward mode along all-ones: the directional derivative sum(want)
            np.testing.assert_allclose(btan[i][k], np.sum(want), rtol=1e-7, atol=1e-8)


# ---------------------------------------------------------------- templates: every op compiles

def test_every_ops_templates_compile_into_kernels(monkeypatch):
    """compile.py pastes the op table's templates into straight-line code: for every op of the
    table (test_engine's cases), at one point, the forward, value, reverse and tangent kernels
    are made from them, none refused, and they give the interpreter's numbers."""
    from gradcli.autodiff import compile as jit
    from test_engine import OP_CASES

    for opname, line in OP_CASES:
        text = ("input a = [0.7, 1.3, 0.4]\ninput b = [1.1, 0.6, 1.9]\n"
                "input M = [[1.0, -0.5], [0.3, 0.8], [-1.2, 0.6]]\n" + line + "\n")
        program = program_of(text)
        point = {i: np.asarray(program.defaults[i], dtype=float) for i in program.inputs}
        out = program.outputs[0]
        monkeypatch.setattr(jit, "POLICY", "never")
        want_vals = list(engine.forward(program, point))
        want_adj = engine.backward(program, engine.forward(program, point), out)
        monkeypatch.setattr(jit, "POLICY", "always")
        engine.forward(program, point)
        fallbacks = jit.STATS["fallbacks"]
        vals = engine.forward(program, point)
        engine.value(program, point, out)
        adj = engine.backward(program, vals, out)
        engine.tangents(program, vals, {program.inputs[0]: np.ones(3)})
        assert jit.STATS["fallbacks"] == fallbacks, f"{opname}: a kernel gave up"
        made = engine.plan(program).entry(vals.key).kernels.made
        assert vals.compiled and {"f", ("v", out)} <= set(made), opname
        assert {kind[0] for kind in made if isinstance(kind, tuple)} == {"v", "b", "t"}, opname
        assert not [kind for kind, k in made.items() if k is jit._FAILED], opname
        np.testing.assert_allclose(vals[out], want_vals[out], rtol=1e-13, err_msg=opname)
        for i in program.inputs:
            assert (adj[i] is None) == (want_adj[i] is None), opname
            if adj[i] is not None:
                np.testing.assert_allclose(adj[i], want_adj[i], rtol=1e-13, err_msg=opname)


# ---------------------------------------------------------------- every elementwise op, floats and arrays

UNARY_POINTS = {"log": [0.3, 2.5], "sqrt": [0.3, 2.5], "tan": [-1.2, 0.4]}
BINARY_POINTS = {"pow": [(0.7, 2.5), (2.0, -1.5), (1.3, 0.0)], "div": [(1.5, -0.4), (-2.0, 3.0)]}


@pytest.mark.parametrize("name", sorted(n for n, op in OPS.items() if op.elementwise and n != "id"))
def test_each_elementwise_op_on_floats_and_on_arrays_is_the_references(name, monkeypatch):
    """The scalar interpreter (math, the op's templates), the numpy interpreter and the reference
    evaluator agree on every elementwise op, on both sides of 0 (sigmoid's two formulas, relu's
    two branches, max and min both ways round)."""
    from gradcli.autodiff import compile as jit
    from gradcli.autodiff.ops import FUNCTIONS, INFIX

    monkeypatch.setattr(jit, "POLICY", "never")
    op = OPS[name]
    infix = {v: k for k, v in INFIX.items()}
    call = next((f for f, table in FUNCTIONS.items() if table.get(op.arity) == name), None)
    if op.arity == 1:
        points = [(x,) for x in UNARY_POINTS.get(name, [-2.5, -0.3, 0.7, 3.0])]
        expr = f"{call}(x)" if call else "-x"
    else:
        points = BINARY_POINTS.get(name, [(-2.5, 0.7), (0.7, -2.5), (1.5, 1.5), (0.3, 2.0)])
        expr = f"x {infix[name]} y" if name in infix else f"{call}(x, y)"
    names = "xy"[: op.arity]
    text = "".join(f"input {n} = 1\n" for n in names) + f"f = {expr}\n"
    program = program_of(text)
    out = program.outputs[0]
    for args in points:
        want = reference.outputs(text, dict(zip(names, args)))["f"]
        floats = engine.forward(program, dict(zip(program.inputs, args)))
        arrays = engine.forward(program, {i: np.array([a, a]) for i, a in zip(program.inputs, args)})
        assert type(floats[out]) is float, (name, args)
        assert floats[out] == pytest.approx(float(want), rel=1e-14, abs=1e-300), (name, args)
        np.testing.assert_allclose(arrays[out], [want, want], rtol=1e-14, err_msg=f"{name} {args}")


# ---------------------------------------------------------------- index

def test_index_picks_along_the_last_axis_from_the_first_entry_to_the_last():
    program = program_of("input v = [5, 6, 7]\ninput M = [[1, 2, 3], [4, 5, 6]]\n"
                         "f = index(v, 0) + 10 * index(v, 2)\ng = index(M, [0, 2])\noutput f, g\n")
    point = {i: np.asarray(program.defaults[i], dtype=float) for i in program.inputs}
    vals = engine.forward(program, point)
    f, g = program.outputs
    assert float(vals[f]) == 75.0
    np.testing.assert_array_equal(vals[g], [1.0, 6.0])


@pytest.mark.parametrize("expr, message", [
    ("index(v, 3)", "index out of range in `index(v, 3)`: the last axis has 3 entries (0 to 2), given 3"),
    ("index(v, -1)", "the last axis has 3 entries (0 to 2), given -1"),
    ("index(one, 1)", "the last axis has 1 entry (0 to 0), given 1"),
    ("index(e, 0)", "index out of range in `index(e, 0)`: a's last axis is empty: there is nothing to pick"),
    ("index(M, [0, 1, 2])", "shape mismatch in `index(M, [0, 1, 2])`: index cannot combine shapes (2,) and (3,)"),
])
def test_index_out_of_range_names_the_axis_and_the_position(expr, message):
    program = program_of("input v = [5, 6, 7]\ninput one = [5]\ninput e = zeros(0)\n"
                         f"input M = [[1, 2, 3], [4, 5, 6]]\nf = {expr}\n")
    point = {i: np.asarray(program.defaults[i], dtype=float) for i in program.inputs}
    with pytest.raises(GradError) as err:
        engine.forward(program, point)
    assert message in err.value.render()
