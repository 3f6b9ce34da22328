"""The engine: reverse mode vs forward mode vs finite differences, batches vs single points.

Gradients are never checked against themselves: each is compared with the
other mode and with central differences that only call the forward pass.
"""

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings, strategies as st

from gradcli.autodiff import engine
from gradcli.autodiff.ops import FUNCTIONS, OPS
import reference
from conftest import central_difference, grads, program_of, reference_value

# ---------------------------------------------------------------- random expressions

SAFE_UNARY = ["sin({})", "cos({})", "tanh({})", "sigmoid({})", "square({})", "exp(tanh({}))",
              "log(1 + square({}))", "sqrt(2 + sin({}))", "-{}", "({}).T", "abs(1.5 + tanh({}))",
              "relu(2 + tanh({}))", "1/(2 + cos({}))", "(2 + sin({}))**1.5"]
SAFE_BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / (3 + sin({})))", "max({}, {} + 3)",
               "min({} - 3, {})", "(({})**2 + ({})**2)"]
LEAVES = ["x", "y", "v", "0.7", "w"]  # x, y scalars; v, w 3-vectors


def _expr():
    leaf = st.sampled_from(LEAVES)

    def extend(children):
        unary = st.tuples(st.sampled_from(SAFE_UNARY), children).map(lambda t: t[0].format(t[1]))
        binary = st.tuples(st.sampled_from(SAFE_BINARY), children, children).map(
            lambda t: t[0].format(t[1], t[2]) if t[0].count("{}") == 2 else t[0].format(t[1], t[2], t[2]))
        return unary | binary

    return st.recursive(leaf, extend, max_leaves=8)


REDUCE = ["sum({})", "logsumexp({} + v)", "dot({} + v, w)", "mean({})", "max({} * v)",
          "index(softmax({} + v), 1)", "sum([[1, 0, 2], [0, 1, 1]] @ ({} + v))"]

HEADER = ("input x = 0.3\ninput y = -1.1\ninput v = [0.5, -0.2, 1.3]\n"
          "input w = [1.0, 0.4, -0.7]\n")


def random_point(program, rng):
    return {i: (program.defaults[i] + 0.5 * rng.standard_normal(np.shape(program.defaults[i])))[()]
            for i in program.inputs}


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(body=_expr(), reduce=st.sampled_from(REDUCE), seed=st.integers(0, 2**16))
def test_reverse_equals_forward_equals_finite_differences(body, reduce, seed):
    program = program_of(HEADER + f"f = {reduce.format(body)}\n")
    point = random_point(program, np.random.default_rng(seed))
    rev, fwd = grads(program, point, "reverse"), grads(program, point, "forward")
    value = engine.forward(program, point)[program.outputs[0]]
    np.testing.assert_allclose(value, reference_value(program, point), rtol=1e-12, atol=1e-14)
    for x in program.inputs:
        name = program.nodes[x].name
        np.testing.assert_allclose(rev[name], fwd[name], rtol=1e-10, atol=1e-12)
        fd = central_difference(program, point, x, h=1e-6)
        np.testing.assert_allclose(rev[name], fd, rtol=1e-4, atol=1e-5)


@settings(max_examples=40, deadline=None)
@given(body=_expr(), reduce=st.sampled_from(REDUCE + ["{} * v"]), seed=st.integers(0, 2**16))
def test_a_batch_equals_its_points_one_by_one(body, reduce, seed):
    program = program_of(HEADER + f"f = {reduce.format(body)}\n")
    rng = np.random.default_rng(seed)
    points = [random_point(program, rng) for _ in range(4)]
    batch = {i: np.stack([np.asarray(p[i]) for p in points]) for i in program.inputs}
    out = program.outputs[0]
    bvals = engine.forward(program, batch, nb=1)
    seed_b = np.ones(np.shape(bvals[out]))
    badj = engine.backward(program, bvals, out, seed=seed_b, nb=1)
    x = program.inputs[0]
    btan = engine.tangents(program, bvals, {x: np.ones((4,))}, nb=1)
    for k, p in enumerate(points):
        vals = engine.forward(program, p)
        adj = engine.backward(program, vals, out, seed=np.ones(np.shape(vals[out])))
        tan = engine.tangents(program, vals, {x: np.float64(1)})
        # a value that depends on no input keeps a batch axis of 1 (it is the same at every point)
        np.testing.assert_allclose(np.broadcast_to(bvals[out], (4,) + np.shape(vals[out]))[k], vals[out],
                                   rtol=1e-12, atol=1e-12)
        assert (btan[out] is None) == (tan[out] is None)
        if tan[out] is not None:
            np.testing.assert_allclose(btan[out][k], tan[out], rtol=1e-12, atol=1e-12)
        for i in program.inputs:
            assert (badj[i] is None) == (adj[i] is None)
            if adj[i] is not None:
                np.testing.assert_allclose(badj[i][k], adj[i], rtol=1e-12, atol=1e-12)


# ---------------------------------------------------------------- every op of the table

def _call(fname, arity):
    args = {1: "a", 2: "a, b"}[arity]
    return f"{fname}({args})"


OP_CASES = []
for fname, table in sorted(FUNCTIONS.items()):
    for arity in sorted(table):
        if table[arity] == "sum_axis":
            continue  # its second argument is a whole number: a case of its own below
        OP_CASES.append((table[arity], f"f = sum({_call(fname, arity)})" if fname != "index"
                         else "f = index(a, 1) + sum(b)"))
for sym, name in [("+", "add"), ("-", "sub"), ("*", "mul"), ("/", "div"), ("**", "pow")]:
    OP_CASES.append((name, f"f = sum(a {sym} b)"))
OP_CASES += [("matmul", "f = sum(a @ M)"), ("neg", "f = sum(-a)"), ("transpose", "f = sum(M.T @ a)"),
             ("stack", "f = sum([a, b * b])"), ("sum_axis", "f = sum(sum(M.T * a, 0) + sum(M, -1))")]


def test_every_op_in_the_table_is_covered():
    covered = {name for name, _ in OP_CASES} | {"id"}
    assert set(OPS) <= covered, set(OPS) - covered


# every op with vectors, and with a scalar broadcast against a vector where its argument
# shapes are not fixed (matmul's and index's are)
SHAPED_CASES = [(name, line, shapes) for shapes in ("vector", "broadcast") for name, line in OP_CASES
                if shapes == "vector" or name not in ("matmul", "index")]


@pytest.mark.parametrize("opname,line,shapes", SHAPED_CASES,
                         ids=[f"{c[2]}-{c[0]}:{c[1]}" for c in SHAPED_CASES])
def test_op_reverse_forward_and_finite_differences(opname, line, shapes):
    a = "[0.7, 1.3, 0.4]"
    b = "[1.1, 0.6, 1.9]" if shapes == "vector" else "1.6"
    if opname == "stack" and shapes == "broadcast":
        b = "[1.6, 0.3, 1.0]"
    text = f"input a = {a}\ninput b = {b}\ninput M = [[1.0, -0.5], [0.3, 0.8], [-1.2, 0.6]]\n{line}\n"
    if "M" not in line:
        text = text.replace("input M = [[1.0, -0.5], [0.3, 0.8], [-1.2, 0.6]]\n", "")
    if "b" not in line.split("=", 1)[1]:
        text = text.replace(f"input b = {b}\n", "")
    program = program_of(text)
    point = {i: program.defaults[i] for i in program.inputs}
    rev, fwd = grads(program, point, "reverse"), grads(program, point, "forward")
    for x in program.inputs:
        name = program.nodes[x].name
        np.testing.assert_allclose(rev[name], fwd[name], rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(rev[name], central_difference(program, point, x), rtol=1e-6, atol=1e-7)


# ---------------------------------------------------------------- kinks and ties: PyTorch's choices

@pytest.mark.parametrize("text,expected", [
    ("input x = 0\nf = relu(x)", {"x": 0.0}),
    ("input x = 0\nf = abs(x)", {"x": 0.0}),
    ("input x = 2\ninput y = 2\nf = max(x, y)", {"x": 0.5, "y": 0.5}),
    ("input x = 2\ninput y = 2\nf = min(x, y)", {"x": 0.5, "y": 0.5}),
    ("input v = [1, 3, 3]\nf = max(v)", {"v": [0, 0.5, 0.5]}),
    ("input x = 0\nf = x**2", {"x": 0.0}),
    ("input x = 0\ninput p = 0\nf = x**p", {"x": 0.0, "p": 0.0}),
])
def test_kinks_follow_pytorch(text, expected):
    program = program_of(text + "\n")
    point = {i: program.defaults[i] for i in program.inputs}
    for mode in ("reverse", "forward"):
        got = grads(program, point, mode)
        for name, want in expected.items():
            np.testing.assert_allclose(got[name], want, err_msg=f"{mode} {name}")


def test_adjoint_of_every_node_not_only_inputs():
    program = program_of("input x = 2\ninput y = 3\na = x + y\nb = sin(x)\no = a * b\n")
    point = {i: program.defaults[i] for i in program.inputs}
    vals = engine.forward(program, point)
    adj = engine.backward(program, vals, program.outputs[0])
    assert adj[program.names["a"]] == pytest.approx(math.sin(2))
    assert adj[program.names["b"]] == pytest.approx(5)
    assert adj[program.names["o"]] == 1


def test_forward_mode_gives_every_node_a_tangent():
    program = program_of("input x = 2\ninput y = 3\na = x + y\nb = sin(x)\no = a * b\n")
    point = {i: program.defaults[i] for i in program.inputs}
    vals = engine.forward(program, point)
    tan = engine.tangents(program, vals, {program.names["x"]: np.float64(1)})
    assert tan[program.names["a"]] == 1
    assert tan[program.names["b"]] == pytest.approx(math.cos(2))
    assert tan[program.names["o"]] == pytest.approx(math.sin(2) + 5 * math.cos(2))


def test_deep_chain_has_no_recursion_limit():
    n = 30_000
    lines = ["input h0 = 0.5", "input w = 0.9"] + [f"h{t} = sin(h{t-1})*w + h{t-1}" for t in range(1, n + 1)]
    program = program_of("\n".join(lines) + "\n")
    point = {i: program.defaults[i] for i in program.inputs}
    rev, fwd = grads(program, point, "reverse"), grads(program, point, "forward")
    assert rev["w"] == pytest.approx(fwd["w"], rel=1e-10)


def test_deeply_nested_expression():
    depth = 20_000
    program = program_of("input x = 0.1\nf = " + "(" * depth + "x" + " + 1)" * depth + "\n")
    point = {program.inputs[0]: np.float64(0.1)}
    assert engine.forward(program, point)[program.outputs[0]] == pytest.approx(0.1 + depth)
    assert grads(program, point)["x"] == 1


def test_long_left_associative_sum():
    program = program_of("input x = 1\nf = " + " + ".join(["x"] * 50_000) + "\n")
    assert grads(program, {program.inputs[0]: np.float64(1)})["x"] == 50_000


@pytest.mark.parametrize("text", [
    "input s = 2\nconst v = [1, 2, 3]\ny = sum([v, s])\n",                         # a scalar beside a vector
    "input s = 2\ninput v = [1, 2]\ny = sum([v, s*v, s] * [[1, 2], [3, 4], [5, 6]])\n",
    "input x = randn(2, 3, 4)\ninput W = randn(4, 3)\ny = sum(x @ W)\n",          # @ with a 3-D side
    "input x = randn(3, 3, 3)\ninput W = randn(3, 3)\ny = sum(W @ x)\n",
    "input x = randn(3, 3, 3)\ninput v = randn(3)\ny = sum(x @ v) + sum(v @ x)\n",
])
@pytest.mark.parametrize("B", [2, 3])  # 3: the batch as long as a per-point axis, where misalignment hides
def test_batches_of_mixed_ranks(text, B):
    program = program_of(text)
    point = {i: program.defaults[i] for i in program.inputs}
    rng = np.random.default_rng(B)
    points = [{i: (np.asarray(v) + 0.3 * rng.standard_normal(np.shape(v)))[()] for i, v in point.items()}
              for _ in range(B)]
    batch = {i: np.stack([np.asarray(p[i]) for p in points]) for i in program.inputs}
    out, x = program.outputs[0], program.inputs[0]
    bvals = engine.forward(program, batch, nb=1)
    badj = engine.backward(program, bvals, out, nb=1)
    btan = engine.tangents(program, bvals, {x: np.ones(np.shape(batch[x]))}, nb=1)
    for k, p in enumerate(points):
        vals = engine.forward(program, p)
        adj = engine.backward(program, vals, out)
        tan = engine.tangents(program, vals, {x: np.ones(np.shape(p[x]))[()]})
        np.testing.assert_allclose(bvals[out][k], vals[out], rtol=1e-12)
        np.testing.assert_allclose(btan[out][k], tan[out], rtol=1e-12)
        for i in program.inputs:
            np.testing.assert_allclose(badj[i][k], adj[i], rtol=1e-12)


# ---------------------------------------------------------------- Jacobians, the two modes kept apart

VECTOR_OUT = "input x = 0.4\ninput v = [0.5, -1.2, 2.0]\ninput z = -0.7\nf = sin(v * x) + v * v * z\n"


def test_the_jacobian_of_a_vector_output_in_both_modes():
    program = program_of(VECTOR_OUT)
    point = {i: program.defaults[i] for i in program.inputs}
    vals = engine.forward(program, point)
    out = program.outputs[0]
    named = {program.nodes[i].name: point[i] for i in program.inputs}
    for mode in ("reverse", "forward"):
        jac = engine.jacobian(program, vals, out, program.inputs, mode)
        for i in program.inputs:
            name = program.nodes[i].name
            want = reference.derivative(VECTOR_OUT, name, named)
            assert np.shape(jac[i]) == (3,) + np.shape(point[i])
            np.testing.assert_allclose(jac[i], want, rtol=1e-7, atol=1e-9, err_msg=f"{mode} {name}")


@pytest.mark.parametrize("text", [VECTOR_OUT, "input x = 0.4\ninput y = 1.5\nf = sin(x * y) / (2 + y)\n"])
def test_each_mode_runs_only_itself(monkeypatch, text):
    """The checks compare reverse with forward mode: neither may be computed by the other."""
    program = program_of(text)
    point = {i: program.defaults[i] for i in program.inputs}
    vals = engine.forward(program, point)
    out = program.outputs[0]
    want = {mode: engine.jacobian(program, vals, out, program.inputs, mode) for mode in ("reverse", "forward")}

    def refuse(*args, **kwargs):
        raise AssertionError("the other mode ran")

    for mode, other in (("reverse", "tangents"), ("forward", "backward")):
        with monkeypatch.context() as m:
            m.setattr(engine, other, refuse)
            got = engine.jacobian(program, vals, out, program.inputs, mode)
            listed = engine.gradients(program, vals, out, program.inputs, mode)
        for k, i in enumerate(program.inputs):
            np.testing.assert_array_equal(got[i], want[mode][i])
            np.testing.assert_array_equal(listed[k], want[mode][i])
            np.testing.assert_allclose(want["reverse"][i], want["forward"][i], rtol=1e-12)


def test_gradients_of_some_of_the_inputs():
    text = "input x = 0.4\ninput y = 1.5\ninput z = -0.3\nf = sin(x * y) + z * x * x\n"
    program = program_of(text)
    point = {i: program.defaults[i] for i in program.inputs}
    vals = engine.forward(program, point)
    ix, iy, iz = program.inputs
    named = {"x": 0.4, "y": 1.5, "z": -0.3}
    for wrt in ([iz, ix], [iy], [ix, iy, iz]):
        got = engine.gradients(program, vals, program.outputs[0], wrt)
        assert len(got) == len(wrt)
        for g, i in zip(got, wrt):
            want = reference.derivative(text, program.nodes[i].name, named)
            assert g == pytest.approx(float(want), rel=1e-7)


# ---------------------------------------------------------------- local derivatives (partial(u, v), graph's edges)

def local(program, vals, u, v, nb=0):
    return engine.local_jacobian(program, vals, program.names[u], program.names[v], nb)


def test_local_partials_of_elementwise_ops():
    program = program_of("input a = 0.5\ninput b = -2.0\nc = a * b\nd = a * a\nq = a / b\ns = sqrt(a - 0.5)\n"
                         "f = c + d + q + s\n")
    vals = engine.forward(program, {i: program.defaults[i] for i in program.inputs})
    assert local(program, vals, "c", "a") == -2.0 and local(program, vals, "c", "b") == 0.5   # not a + b
    assert local(program, vals, "d", "a") == 1.0               # a * a: both slots, 2a
    assert local(program, vals, "q", "b") == pytest.approx(-0.5 / 4)
    # sqrt at 0: numpy's 1/0, an infinite partial (what `graph` shows), not an exception
    s = program.names["s"]
    assert engine.local_jacobian(program, vals, s, program.nodes[s].args[0]) == np.inf
    assert local(program, vals, "c", "f") is None                 # no edge f -> c


def test_local_jacobians_of_shape_aware_ops():
    program = program_of("input W = [[1, 2, 3], [4, 5, 6]]\ninput v = [0.5, -1, 2]\ninput k = 1\n"
                         "u = W @ v\nt = sum(v)\np = index(v, k)\nf = sum(u) + t + p\n")
    point = {i: np.asarray(program.defaults[i], dtype=float) for i in program.inputs}
    vals = engine.forward(program, point)
    W, v = point[program.names["W"]], point[program.names["v"]]
    np.testing.assert_array_equal(local(program, vals, "u", "v"), W)           # d(W v)/dv = W
    duW = local(program, vals, "u", "W")                                        # (2, 2, 3): [i, i, :] = v
    assert duW.shape == (2, 2, 3)
    np.testing.assert_array_equal(duW, np.einsum("ij,k->ijk", np.eye(2), v))
    np.testing.assert_array_equal(local(program, vals, "t", "v"), np.ones(3))
    np.testing.assert_array_equal(local(program, vals, "p", "v"), [0, 1, 0])
    assert local(program, vals, "p", "k") is None                               # no derivative through an index


@pytest.mark.parametrize("B", [2, 3])     # 3: the batch as long as a per-point axis
def test_local_jacobians_in_a_batch_align_mixed_ranks(B):
    text = ("input s = 1.5\ninput v = [0.5, -1, 2]\ninput M = [[1, 2, 3], [4, 5, 6]]\n"
            "a = s * v\nb = M * v\nc = M @ v\nf = sum(a) + sum(b) + sum(c)\n")
    program = program_of(text)
    rng = np.random.default_rng(B)
    points = [{i: np.asarray(program.defaults[i], float) + rng.standard_normal(np.shape(program.defaults[i]))
               for i in program.inputs} for _ in range(B)]
    batch = {i: np.stack([p[i] for p in points]) for i in program.inputs}
    bvals = engine.forward(program, batch, nb=1)
    for k, p in enumerate(points):
        vals = engine.forward(program, p)
        s, v, M = (p[program.names[n]] for n in ("s", "v", "M"))
        want = {("a", "s"): v, ("a", "v"): np.full(3, s), ("b", "v"): M, ("b", "M"): np.broadcast_to(v, (2, 3)),
                ("c", "v"): M, ("c", "M"): np.einsum("ij,k->ijk", np.eye(2), v)}
        for (u, x), value in want.items():
            np.testing.assert_allclose(local(program, bvals, u, x, nb=1)[k], value, rtol=1e-14, err_msg=f"{u} {x}")
            np.testing.assert_allclose(local(program, vals, u, x), value, rtol=1e-14, err_msg=f"{u} {x}")


# ---------------------------------------------------------------- the scalar interpreter

def test_a_scalar_program_runs_on_floats(monkeypatch):
    """engine.py: when every value is a scalar, the interpreter computes with floats and `math`
    (no numpy call); a tensor anywhere, and it is numpy's arrays."""
    from gradcli.autodiff import compile as jit

    monkeypatch.setattr(jit, "POLICY", "never")
    program = program_of("input x = 0.3\ninput y = -1.2\na = sin(x) * y\nb = tanh(a) + x / y\n"
                         "f = b - a + max(a, b) + abs(x) ** 1.5 + sqrt(square(y))\n")
    for x in (0.3, np.float64(0.3), np.array(0.3)):
        point = {program.inputs[0]: x, program.inputs[1]: -1.2}
        vals = engine.forward(program, point)
        ops = [n.id for n in program.nodes if n.kind == "op"]
        assert all(type(vals[i]) is float for i in ops), [type(vals[i]) for i in ops]
        adj = engine.backward(program, vals, program.outputs[0])
        assert all(type(adj[i]) is float for i in program.inputs)
        tan = engine.tangents(program, vals, {program.inputs[0]: 1.0})
        assert type(tan[program.outputs[0]]) is float
        want = {name: reference.derivative(program.source.text, name, {"x": 0.3, "y": -1.2}) for name in "xy"}
        assert adj[program.inputs[0]] == pytest.approx(float(want["x"]), rel=1e-7)
        assert tan[program.outputs[0]] == pytest.approx(float(want["x"]), rel=1e-7)
        assert adj[program.inputs[1]] == pytest.approx(float(want["y"]), rel=1e-7)
    # shape-aware ops of scalars (a sum, a mean, a max of one number) on the same path
    for text in ("input x = 0.3\ninput y = -1.2\nf = sum(x * y) + mean(sin(x)) * max(y) + x.T\n",
                 "input x = 0.3\ninput y = -1.2\nf = sum(x * y) + x.T\n"):
        shaped = program_of(text)
        vals = engine.forward(shaped, {i: shaped.defaults[i] for i in shaped.inputs})
        for mode in ("reverse", "forward"):
            jac = engine.jacobian(shaped, vals, shaped.outputs[0], shaped.inputs, mode)
            for i, name in zip(shaped.inputs, "xy"):
                want = reference.derivative(text, name, {"x": 0.3, "y": -1.2})
                assert float(jac[i]) == pytest.approx(float(want), rel=1e-7), (mode, name, text)
    tensor = program_of("input x = 0.3\ninput v = [1, 2]\nf = sum(sin(v * x))\n")
    vals = engine.forward(tensor, {i: tensor.defaults[i] for i in tensor.inputs})
    assert type(vals[tensor.outputs[0]]) is not float


# ---------------------------------------------------------------- non-finite values: which node

def test_all_finite():
    assert engine.all_finite([1.0, -2.5, np.float64(3.0), None, np.array([1.0, 2.0])])
    assert engine.all_finite([1e308, 1e308])                 # their sum overflows, they do not
    assert not engine.all_finite([1.0, math.inf])
    assert not engine.all_finite([math.nan, 1.0])
    assert not engine.all_finite([1.0, np.array([1.0, np.nan])])
    assert not engine.all_finite([np.float64(-np.inf), 2.0])


@pytest.mark.parametrize("policy", ["never", "always"])
def test_a_non_finite_value_names_the_node_that_made_it(policy, monkeypatch):
    from gradcli.autodiff import compile as jit
    from gradcli.errors import NumericError

    monkeypatch.setattr(jit, "POLICY", policy)
    program = program_of("input x = 2\na = x - 3\nb = log(a)\nc = sin(b) * x\n")
    point = {program.inputs[0]: 2.0}
    engine.forward(program, point)
    vals = engine.forward(program, point)
    with pytest.raises(NumericError) as err:
        engine.require_finite(program, vals, [program.outputs[0]])
    text = err.value.render()
    assert text.startswith("test.grad:3:5: error: `log(a)` is nan at this point") and "a = -1" in text
    engine.require_finite(program, engine.forward(program, {program.inputs[0]: 4.0}), [program.outputs[0]])


# ---------------------------------------------------------------- odd shapes

def test_a_repeated_slot_of_a_tensor_literal_adds_up():
    # d/dx sum([x, 2x, x] * [1, 2, 3]) = 1 + 4 + 3, the literal's slots of x adding up
    program = program_of("input x = 0.5\nf = sum([x, 2 * x, x] * [1, 2, 3]) + x\n")
    point = {program.inputs[0]: 0.5}
    for mode in ("reverse", "forward"):
        assert grads(program, point, mode)["x"] == pytest.approx(9.0)


def test_the_local_jacobian_wrt_an_empty_tensor_is_empty():
    program = program_of("input v = zeros(0)\ninput W = ones(2, 0)\nu = W @ v\nf = sum(u)\n")
    vals = engine.forward(program, {i: program.defaults[i] for i in program.inputs})
    got = local(program, vals, "u", "v")
    assert got.shape == (2, 0)


# ---------------------------------------------------------------- a zero stops a derivative (issue 12)

@pytest.mark.filterwarnings("ignore:invalid value:RuntimeWarning")   # numpy's 0·∞ before times replaces it
def test_times_is_zero_when_either_side_is_an_exact_zero():
    """times(g, p): g·p, but 0 where g or p is exactly 0, even against ∞ or NaN (docs/language.md)."""
    assert engine.times(2.0, 3.0) == 6.0
    assert engine.times(0.0, math.inf) == 0.0 and engine.times(math.inf, 0.0) == 0.0
    assert engine.times(0.0, math.nan) == 0.0 and engine.times(math.nan, 0.0) == 0.0
    assert math.isinf(engine.times(1.0, math.inf))
    got = engine.times(np.array([0.0, 2.0, math.inf, 1.0]), np.array([math.inf, 0.0, 0.0, 4.0]))
    np.testing.assert_array_equal(got, [0.0, 0.0, 0.0, 4.0])


def test_vjp_is_ieee_by_default_and_stops_at_a_zero_when_careful():
    """A softmax whose logit is -∞ has a weight of exactly 0: its VJP with a seed that is ∞ on that
    entry is NaN by IEEE's rules (the default: what numpy computes), 0 there when careful."""
    op = OPS["softmax"]
    z = np.array([-math.inf, 0.0, 1.0])
    s = op.fwd(z, nb=0)
    g = np.array([math.inf, 1.0, 2.0])
    with np.errstate(all="ignore"):
        plain = engine.vjp(op, 0, g, s, [z])
        careful = engine.vjp(op, 0, g, s, [z], careful=True)
    assert np.isnan(plain).all()
    # the finite part by the softmax rule s·(g − Σ s g) over the entries with weight, and 0 for the first
    w = s[1:]
    want = np.concatenate([[0.0], w * (g[1:] - np.dot(w, g[1:]))])
    np.testing.assert_allclose(careful, want, rtol=1e-12)


def _careful_product(A, t):
    """Σ_j times(A[:, j], t[j]) by hand: an entry pair with an exact zero on either side adds 0."""
    out = np.zeros(A.shape[0])
    for r in range(A.shape[0]):
        for j in range(A.shape[1]):
            a, b = A[r, j], t[j]
            out[r] += 0.0 if a == 0 or b == 0 else a * b
    return out


@pytest.mark.parametrize("n", [10, engine.SPLIT + 36])     # applied entry by entry, and split in two
def test_a_careful_linear_rule_adds_nothing_through_zeros_whatever_the_size(n):
    """The careful product of a linear rule (here t ↦ A t) with a seed holding one ∞ is the same
    contract on small seeds and on seeds too large to apply one entry at a time."""
    rng = np.random.default_rng(n)
    A = rng.normal(size=(4, n))
    A[0, 3] = A[2, 3] = 0.0            # the ∞ entry meets a zero in rows 0 and 2
    t = rng.normal(size=n)
    t[3] = math.inf
    t[7] = 0.0
    with np.errstate(all="ignore"):      # as the engine's callers run it: 0 · ∞ is expected here
        got = engine._linear(lambda v: A @ v, t, True)
        plain = engine._linear(lambda v: A @ v, t, False)
    want = _careful_product(A, t)
    assert np.isfinite(got[[0, 2]]).all() and np.isinf(got[[1, 3]]).all()
    np.testing.assert_allclose(got[[0, 2]], want[[0, 2]], rtol=1e-12)
    assert np.isnan(plain[0]) and np.isnan(plain[2])           # IEEE: 0 · ∞


def test_a_careful_linear_rule_gives_ieee_products_beyond_split_non_finite_entries():
    """The documented bound (docs/language.md): more than SPLIT infinite entries in one seed are
    not applied one at a time (a pass each); the result is the plain product, 0 · ∞ = NaN."""
    n = 2 * engine.SPLIT + 10
    A = np.ones((3, n))
    A[0] = 0.0                                   # row 0 meets every ∞ with an exact zero
    t = np.ones(n)
    t[: engine.SPLIT + 1] = math.inf
    with np.errstate(all="ignore"):
        got = engine._linear(lambda v: A @ v, t, True)
        t[engine.SPLIT] = 1.0
        within = engine._linear(lambda v: A @ v, t, True)
    assert np.isnan(got[0]) and np.isinf(got[1:]).all()
    assert within[0] == 0.0 and np.isinf(within[1:]).all()   # SPLIT of them: entry by entry


def test_gradients_are_made_again_carefully_where_they_are_not_finite():
    """log of eye(2) has -∞ logits, softmax weights of exactly 0 there: reverse mode by default
    gives what forward mode gives, finite, entry by entry (reverse and forward agree)."""
    program = program_of("input y = eye(2)\nn2 = sum(sum(softmax(log(y)), 0))\n")
    point = {i: np.asarray(program.defaults[i], dtype=float) for i in program.inputs}
    vals = engine.forward(program, point)
    (rev,) = engine.gradients(program, vals, program.outputs[0], program.inputs)
    fwd = engine.jacobian(program, vals, program.outputs[0], program.inputs, "forward")[program.inputs[0]]
    np.testing.assert_array_equal(rev, fwd)
    assert np.isfinite(rev).all()
    (plain,) = engine.gradients(program, vals, program.outputs[0], program.inputs, careful=False)
    assert not np.isfinite(plain).all()          # the plain pass is the one that was not finite


def test_an_input_the_output_does_not_reach_has_a_zero_gradient_of_its_shape():
    program = program_of("input a = 2\ninput v = [1, 2, 3]\ninput m = [[1, 2], [3, 4]]\ninput b = 0.5\n"
                         "f = a * [1, 2]\ng = sum(f * f) + b\n")
    point = {i: program.defaults[i] for i in program.inputs}
    vals = engine.forward(program, point)
    got = engine.gradients(program, vals, program.outputs[0], program.inputs)
    assert got[0] == 20.0 and type(got[0]) is float and got[3] == 1.0
    np.testing.assert_array_equal(got[1], np.zeros(3))
    np.testing.assert_array_equal(got[2], np.zeros((2, 2)))
    scalar_only = program_of("input a = 2\ninput b = 3\nf = a * a\n")
    pt = {i: scalar_only.defaults[i] for i in scalar_only.inputs}
    g = engine.gradients(scalar_only, engine.forward(scalar_only, pt), scalar_only.outputs[0],
                         scalar_only.inputs)
    assert g == [4.0, 0.0] and all(type(x) is float for x in g)


def test_the_jacobian_of_an_empty_output_is_empty_in_both_modes():
    program = program_of("input x = [1, 2]\ninput e = zeros(0)\nf = e * sum(x)\n")
    point = {i: np.asarray(program.defaults[i], dtype=float) for i in program.inputs}
    vals = engine.forward(program, point)
    for mode in ("reverse", "forward"):
        jac = engine.jacobian(program, vals, program.outputs[0], program.inputs, mode)
        x, e = program.inputs
        assert jac[x].shape == (0, 2) and jac[e].shape == (0, 0)
