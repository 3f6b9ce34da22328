"""The compiled path (autodiff/compile.py) against the interpreter it stands in for.

Every comparison runs the same program at the same point twice: with the interpreter
only (POLICY "never") and with kernels compiled at once (POLICY "always"), and checks
that the kernels did run.  Values, adjoints and tangents must agree to 1e-13 relative
(the two are built to compute the same operations: in practice they agree exactly),
and where a value or derivative is not finite, both must name the same node.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from gradcli.autodiff import compile as jit
from gradcli.autodiff import engine
from gradcli.errors import GradError, Source
from gradcli.evaluate.core import evaluate
from gradcli.language.program import bind, build
from conftest import EXAMPLES, ROOT, program_of

EXERCISES = sorted((ROOT / "exercises").glob("*/solution.grad"))


@pytest.fixture
def policy(monkeypatch):
    def set_to(value):
        monkeypatch.setattr(jit, "POLICY", value)
    return set_to


# ---------------------------------------------------------------- comparing the two paths

def _close(a, b, what):
    assert (a is None) == (b is None), what
    if a is None:
        return
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    assert a.shape == b.shape, what
    np.testing.assert_allclose(a, b, rtol=1e-13, atol=0, equal_nan=True, err_msg=what)


def _run(program, point, seeds, tangent_seeds, compiled: bool):
    """Values, the adjoints of every output (default seed, and a given one), the tangents
    from each input: as the engine computes them under the current policy."""
    engine.forward(program, point)               # a forward kernel compiles after its first pass
    vals = engine.forward(program, point)
    if compiled:
        assert vals.compiled, "the forward kernel did not run"
    out = {"vals": list(vals)}
    for o in program.outputs:
        for _ in range(2):      # a value kernel compiles after its first (interpreted) call
            out[("value", o)] = [engine.value(program, point, o)]
        out[("adj", o)] = engine.backward(program, vals, o)
        out[("adj seeded", o)] = engine.backward(program, vals, o, seed=seeds[o])
    for x, t in tangent_seeds.items():
        out[("tan", x)] = engine.tangents(program, vals, {x: t})
        out[("tan stop", x)] = engine.tangents(program, vals, {x: t}, stop=program.outputs[0])
    return out


def agree(program, point, policy, rng=None):
    """Run both paths; assert they agree; return the interpreter's values."""
    rng = rng or np.random.default_rng(0)
    policy("never")
    vals = engine.forward(program, point)
    seeds = {o: (rng.standard_normal(np.shape(vals[o])) if np.ndim(vals[o]) else float(rng.standard_normal()))
             for o in program.outputs}
    tangent_seeds = {x: (rng.standard_normal(np.shape(point[x])) if np.ndim(point[x]) else float(rng.standard_normal()))
                     for x in program.inputs}
    interpreted = _run(program, point, seeds, tangent_seeds, False)
    policy("always")
    before = dict(jit.STATS)
    compiled = _run(program, point, seeds, tangent_seeds, True)
    assert jit.STATS["runs"] - before["runs"] >= 1 + 3 * len(program.outputs) + 2 * len(program.inputs)
    for key, want in interpreted.items():
        got = compiled[key]
        assert len(got) == len(want)
        for i, (w, g) in enumerate(zip(want, got)):
            _close(g, w, f"{key} of node {i}")
    return interpreted["vals"]


def error_of(program, point):
    try:
        evaluate(program, point, list(program.inputs))
    except GradError as err:
        return err.render()
    return None


def errors_agree(program, point, policy):
    """evaluate's error (or none) is the same whichever path runs."""
    policy("never")
    want = error_of(program, point)
    policy("always")
    for _ in range(2):      # the second time with a compiled forward too
        engine.forward(program, point)
        assert error_of(program, point) == want
    return want


# ---------------------------------------------------------------- every example and solution

@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.grad")), ids=lambda p: p.name)
def test_examples_agree(path, policy):
    program = build(Source(str(path), path.read_text()))
    agree(program, bind(program), policy)


def _solution(path: Path):
    from gradcli.grade.answer import build_answer
    from gradcli.grade.batch import Limits
    from gradcli.grade.exercise import load_exercise

    ex = load_exercise(path.parent)
    answer = build_answer(Source(str(path), path.read_text()), ex.inputs, Limits())
    program = answer.program
    if not program.outputs:        # an answer names its nodes: compare at every one of them
        named = [n.id for n in program.nodes[: program.n_main] if n.kind == "op" and not n.generated]
        program = dataclasses.replace(program, outputs=named)
    assert program.outputs
    point = {answer.inputs[name]: ex.points[name][0] for name in ex.inputs}   # the default point
    return program, {i: (float(v) if np.ndim(v) == 0 else np.asarray(v)) for i, v in point.items()}


@pytest.mark.parametrize("path", EXERCISES, ids=lambda p: p.parent.name)
def test_exercise_solutions_agree(path, policy):
    program, point = _solution(path)
    agree(program, point, policy)


def test_scalar_programs_agree_exactly(policy):
    """Floats on both sides run the same templates: not close, equal."""
    program = program_of("input x = 0.3\ninput y = -1.2\na = sin(x)*y + exp(x/y)\nb = sqrt(a*a + 1)\n"
                         "o = tanh(b) ** 1.5 - max(x, y) + sigmoid(a) / (1 + relu(y) + abs(x))\n")
    point = bind(program)
    policy("never")
    v1 = engine.forward(program, point)
    a1 = engine.backward(program, v1, program.outputs[0])
    policy("always")
    engine.forward(program, point)
    v2 = engine.forward(program, point)
    a2 = engine.backward(program, v2, program.outputs[0])
    assert v2.compiled and list(v1) == list(v2) and a1 == a2


# ---------------------------------------------------------------- random programs

SCALAR_UNARY = ["sin({})", "cos({})", "tanh({})", "sigmoid({})", "square({})", "exp(tanh({}))",
                "log(1 + square({}))", "sqrt(2 + sin({}))", "-{}", "abs({})", "relu({})",
                "1/(2 + cos({}))", "(2 + sin({}))**1.5", "tan({})", "{}**2", "({})^3"]
SCALAR_BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / (3 + sin({})))", "max({}, {})",
                 "min({}, {})", "(({})**2 + ({})**2)"]
# these can leave the domain: log of a negative, a division by zero, sqrt below 0
RISKY = ["log({})", "sqrt({})", "1/({})", "({})**0.5", "exp(3*{})", "log(abs({}))"]


def _expr(leaves, unary, binary):
    def extend(children):
        u = st.tuples(st.sampled_from(unary), children).map(lambda t: t[0].format(t[1]))
        b = st.tuples(st.sampled_from(binary), children, children).map(
            lambda t: t[0].format(t[1], t[2]) if t[0].count("{}") == 2 else t[0].format(t[1], t[2], t[2]))
        return u | b
    return st.recursive(st.sampled_from(leaves), extend, max_leaves=8)


SCALAR_HEADER = "input x = 0.3\ninput y = -1.1\ninput z = 2.5\n"
TENSOR_HEADER = ("input x = 0.3\ninput y = -1.1\ninput v = [0.5, -0.2, 1.3]\n"
                 "input w = [1.0, 0.4, -0.7]\ninput M = [[1, 0.5, -1], [0.2, 2, 0.3]]\n")
REDUCE = ["sum({})", "logsumexp({} + v)", "dot({} + v, w)", "mean({})", "max({} * v)",
          "index(softmax({} + v), 1)", "sum(M @ ({} + v))", "sum(({} + v) @ M.T)", "sum([{}, x] * v)",
          "sum(log_softmax({} * w))", "sum(transpose([{} + v]) @ [w])", "sum(sum(M * ({} + v), 0))"]


def _point(program, rng, scale=0.6):
    return {i: (program.defaults[i] + scale * rng.standard_normal(np.shape(program.defaults[i])))[()]
            for i in program.inputs}


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=_expr(["x", "y", "z", "0.7"], SCALAR_UNARY, SCALAR_BINARY),
       second=_expr(["x", "y", "z"], SCALAR_UNARY, SCALAR_BINARY), seed=st.integers(0, 2**16))
def test_random_scalar_programs_agree(body, second, seed, policy):
    program = program_of(SCALAR_HEADER + f"a = ({body}) * z\nf = {second} * a\noutput f, a\n")
    rng = np.random.default_rng(seed)
    point = {i: float(v) for i, v in _point(program, rng).items()}
    if error_of(program, point) is None:
        agree(program, point, policy, rng)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=_expr(["x", "y", "v", "0.7", "w"], SCALAR_UNARY, SCALAR_BINARY),
       reduce=st.sampled_from(REDUCE + ["{} * v"]), seed=st.integers(0, 2**16))
def test_random_tensor_programs_agree(body, reduce, seed, policy):
    program = program_of(TENSOR_HEADER + f"f = {reduce.format(body)}\n")
    rng = np.random.default_rng(seed)
    point = _point(program, rng)
    if error_of(program, point) is None:
        agree(program, point, policy, rng)


@settings(max_examples=60, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(body=_expr(["x", "y", "z", "0.5", "0"], SCALAR_UNARY + RISKY, SCALAR_BINARY),
       risky=st.sampled_from(RISKY), tensor=st.booleans(), seed=st.integers(0, 2**16))
@example(body="x", risky="log({})", tensor=False, seed=0).via("a NaN where math raises")
@example(body="0", risky="1/({})", tensor=False, seed=0).via("a division by zero")
@example(body="square(x) - square(x)", risky="sqrt({})", tensor=False, seed=0).via("sqrt'(0)")
def test_errors_name_the_same_node(body, risky, tensor, seed, policy):
    """Where a value or a derivative is NaN or infinite, both paths give the same error."""
    tail = "f = sum(v * g)\n" if tensor else "f = g * 2\n"
    program = program_of("input x = 0.3\ninput y = -1.1\ninput z = 2.5\ninput v = [1, 2]\n"
                         f"g = {risky.format(body)}\n{tail}")
    rng = np.random.default_rng(seed)
    error = errors_agree(program, _point(program, rng, 1.5), policy)
    event("an error" if error else "finite")


@pytest.mark.parametrize("text,message", [
    # floats overflow silently (no exception): the compiled forward runs and finds inf
    ("input x = 1e100\na = x*x*x*x\nb = a - a\no = b + x\n", "`x*x*x*x` is inf"),
    ("input x = -1\ny = 2*x\nz = log(x) + y\n", "`log(x)` is nan"),
    ("input x = 0\ny = sqrt(x)\n", "the derivative of `sqrt(x)` is not finite"),
    ("input v = [1, 0]\ny = sum(log(v))\n", "`log(v)` is [0, -inf]"),
    ("input v = [4, 0]\ny = sum(sqrt(v) + v)\n", "the derivative of `sqrt(v)` is not finite"),
])
def test_non_finite_values_name_the_same_node(text, message, policy):
    program = program_of(text)
    got = errors_agree(program, bind(program), policy)
    assert got is not None and message in got


# ---------------------------------------------------------------- names never reach the source

def test_the_files_names_never_reach_the_executed_source(policy):
    """`np`, `sin`, `seed` and `V` are names the kernels use themselves, `λ` one Python takes but
    no kernel needs: none of them is ever pasted into a kernel."""
    text = ("input fi = 1.5\ninput λ = 2\ninput np = 0.5\ninput V = 3\n"
            "sin = fi * 3 + λ\nseed = sin * np - V\ncos = exp(seed) / λ\n")
    program = program_of(text)
    point = bind(program)
    values = agree(program, point, policy)
    assert values[program.names["sin"]] == 1.5 * 3 + 2
    grads = evaluate(program, point, list(program.inputs))[0].grad
    assert set(grads) == {"fi", "λ", "np", "V"}
    vals = engine.forward(program, point)
    entry = engine.plan(program).entry(None)
    sources = [engine._source(program, entry, vals, "f")[0],
               engine._source(program, entry, vals, "b", program.outputs[0], engine.plan(program).live)[0],
               engine._source(program, entry, vals, "t", tuple(program.inputs), None)[0]]
    for src in sources:
        for name in ("fi", "λ", "V[", "seed = ", "cos = "):
            assert name not in src.replace("V[0:", "").replace("def backward(V, seed", "")
    assert "exp(" in sources[0] and "def forward(X, C" in sources[0]


# ---------------------------------------------------------------- when to compile, and the caches

def _fresh(text="input x = 0.3\ninput y = 2\no = sin(x) * y + exp(y / 7)\n"):
    return program_of(text)


def test_one_shot_eval_compiles_nothing(policy):
    """The default policy: one evaluation never pays for compiling, nor for looking in a cache."""
    policy("auto")
    program = _fresh("input x = 0.3\ninput y = 2\no = sin(x) * y + exp(y / 11)\n")
    before = dict(jit.STATS)
    evaluate(program, bind(program), list(program.inputs))
    assert jit.STATS == before
    assert "_signature" not in program.__dict__


def test_a_kernel_compiles_at_its_threshold_and_is_reused(policy):
    policy("auto")
    program = _fresh("input x = 0.3\ninput y = 2\no = sin(x) * y + exp(y / 13)\n")
    point = bind(program)
    before = jit.STATS["compiled"]
    for k in range(jit.THRESHOLD_SCALAR - 1):
        vals = engine.forward(program, point)
        assert not vals.compiled
    assert jit.STATS["compiled"] == before
    engine.forward(program, point)           # the THRESHOLD-th: interpreted, then compiled
    assert jit.STATS["compiled"] == before + 1
    assert engine.forward(program, point).compiled
    twin = _fresh("input x = 0.3\ninput y = 2\no = sin(x) * y + exp(y / 13)\n")
    for _ in range(jit.LOOKUP):          # the same content: found in memory at the LOOKUP-th call
        assert not engine.forward(twin, point).compiled
    assert engine.forward(twin, point).compiled
    assert jit.STATS["compiled"] == before + 1


def test_a_kernel_on_disk_is_loaded_by_another_process(tmp_path):
    grad = tmp_path / "f.grad"
    grad.write_text("input x = 0.3\ninput y = 2\no = tanh(x) * y + exp(y / 17)\n")
    script = textwrap.dedent(f"""
        from gradcli.autodiff import compile as jit, engine
        from gradcli.language.program import bind, load
        program = load({str(grad)!r})
        point = bind(program)
        for _ in range(int(__import__("sys").argv[1])):
            vals = engine.forward(program, point)
            engine.backward(program, vals, program.outputs[0])
        print(jit.STATS["compiled"], jit.STATS["loaded"], vals.compiled)
    """)
    env = dict(os.environ, XDG_CACHE_HOME=str(tmp_path / "cache"), GRADCLI_COMPILE="auto")
    run = lambda n: subprocess.run([sys.executable, "-c", script, str(n)], env=env, capture_output=True,  # noqa: E731
                                   text=True, check=True).stdout.split()
    assert run(jit.THRESHOLD_SCALAR + 1) == ["2", "0", "True"]          # forward and reverse compiled
    files = list((tmp_path / "cache" / "gradcli" / "code").glob("*.code"))
    assert len(files) == 2
    assert run(jit.LOOKUP + 1) == ["0", "2", "True"]                    # both loaded, nothing compiled
    for f in files:                                                      # a damaged file is ignored
        f.write_bytes(b"\x00not marshal")
    assert run(jit.LOOKUP + 1) == ["0", "0", "False"]


def test_the_cache_directory(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path = jit.cache_dir()
    assert path == tmp_path / "gradcli" / "code" and path.is_dir()
    assert path.stat().st_mode & 0o777 == 0o700
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/dir")        # the XDG spec: ignore a relative path
    assert jit.cache_dir() == Path.home() / ".cache" / "gradcli" / "code" or jit.cache_dir() is None
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path))
    path.chmod(0o777)                                            # writable by others: not trusted
    assert jit.cache_dir() is None


def test_a_programs_signature_covers_what_the_code_depends_on():
    a = _fresh("input x = 1\no = sin(x) * 2\n")
    assert jit.signature(a) == jit.signature(_fresh("input x = 5\no = sin(x) * 2\n"))   # values: no
    assert jit.signature(a) == jit.signature(_fresh("input x = 1\no = sin(x) * 3\n"))   # constant's value: no
    assert jit.signature(a) != jit.signature(_fresh("input x = 1\no = cos(x) * 2\n"))
    assert jit.signature(a) != jit.signature(_fresh("input x = 1\no = 2 * sin(x)\n"))
    assert jit.signature(a) != jit.signature(_fresh("input x = 1\no = sin(x) * [2, 2]\n"))


def test_kernels_fall_back_where_math_refuses(policy):
    """1/x at 0: math raises, numpy gives inf; the kernel gives up and the interpreter answers."""
    program = _fresh("input x = 1\ny = 1/x\n")
    policy("always")
    engine.forward(program, {program.inputs[0]: 1.0})
    before = jit.STATS["fallbacks"]
    vals = engine.forward(program, {program.inputs[0]: 0.0})
    assert jit.STATS["fallbacks"] == before + 1 and not vals.compiled
    assert vals[program.outputs[0]] == np.inf


def test_every_kind_of_kernel_falls_back_where_math_refuses(policy):
    """The value, reverse and tangent kernels too.  sqrt compiled at x = 1: at x = 0 its value
    is 0 but its derivative 0.5/0 (math raises, numpy gives inf); below 0 math.sqrt raises
    where numpy gives NaN."""
    program = _fresh("input x = 1\ny = sqrt(x)\n")
    (x,), y = program.inputs, program.outputs[0]
    policy("always")
    at1 = engine.forward(program, {x: 1.0})
    assert engine.value(program, {x: 1.0}, y) == 1.0 and engine.value(program, {x: 1.0}, y) == 1.0
    assert engine.backward(program, at1, y)[x] == 0.5 and engine.tangents(program, at1, {x: 1.0})[y] == 0.5
    at0 = engine.forward(program, {x: 0.0})
    assert at0.compiled and at0[y] == 0.0
    before = jit.STATS["fallbacks"]
    with np.errstate(divide="ignore", invalid="ignore"):
        assert engine.backward(program, at0, y)[x] == np.inf
        assert engine.tangents(program, at0, {x: 1.0})[y] == np.inf
        assert np.isnan(engine.value(program, {x: -1.0}, y))
    assert jit.STATS["fallbacks"] >= before + 3


def test_a_data_dependent_error_after_compiling_is_the_interpreters(policy):
    """index() out of range at a later point: the kernel gives up, the interpreter reports it."""
    program = _fresh("input v = [1, 2, 3]\ninput i = 1\ny = index(v, i) * sum(v)\n")
    v, i = program.inputs
    policy("always")
    engine.forward(program, {v: np.array([1.0, 2, 3]), i: 1.0})
    assert engine.forward(program, {v: np.array([1.0, 2, 3]), i: 2.0}).compiled
    messages = []
    for mode in ("always", "never"):
        policy(mode)
        with pytest.raises(GradError) as err:
            engine.forward(program, {v: np.array([1.0, 2, 3]), i: 7.0})
        messages.append(err.value.render())
    assert messages[0] == messages[1] and "index out of range" in messages[0]


@pytest.mark.parametrize("name", ["wrong_claim.grad", "matrix_cost.grad", "max_gate.grad",
                                  "logistic_multiclass.grad"])
def test_check_reports_are_the_same_on_either_path(name, policy):
    from gradcli.check import core as check
    from gradcli.check.render import check_json

    path = EXAMPLES / name
    reports = []
    for mode in ("never", "always"):
        policy(mode)
        program = build(Source(str(path), path.read_text()))
        reports.append(check_json(check.check_program(program, bind(program), random=2)))
    assert reports[0] == reports[1]
