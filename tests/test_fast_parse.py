"""The one-pass parser (language/fast.py) against the exact path it stands in for.

Where the fast path builds a program, it must be the program that syntax.parse then
Builder.build give, node for node: ids, names, kinds, ops, arguments, parameters, spans,
constants; the names, inputs, outputs, defaults, domains and claims.  Where the file is
bad, the fast path must give up (and `load` then reports the exact error).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, event, example, given, settings, strategies as st

from gradcli.errors import GradError, Source
from gradcli.language import fast
from gradcli.language.program import Builder, build
from gradcli.language.syntax import parse
from conftest import EXAMPLES, ROOT

FILES = sorted(EXAMPLES.glob("*.grad")) + sorted((ROOT / "exercises").glob("*/problem.grad"))


def exact(text: str):
    src = Source("t.grad", text)
    return Builder(src, 0).build(parse(src))


def assert_same(a, b):
    assert len(a.nodes) == len(b.nodes)
    for x, y in zip(a.nodes, b.nodes):
        for field in ("id", "name", "kind", "op", "args", "params", "start", "end", "generated"):
            assert getattr(x, field) == getattr(y, field), (field, x, y)
        assert (x.value is None) == (y.value is None)
        if x.value is not None:
            assert np.array_equal(x.value, y.value, equal_nan=True) and np.shape(x.value) == np.shape(y.value)
    assert a.n_main == b.n_main and a.names == b.names
    assert a.inputs == b.inputs and a.outputs == b.outputs
    assert repr(a.defaults) == repr(b.defaults) and repr(a.domains) == repr(b.domains)
    assert [(c.kind, c.u, c.v, c.node, c.start, c.end) for c in a.claims] == \
        [(c.kind, c.u, c.v, c.node, c.start, c.end) for c in b.claims]


def compare(text: str) -> bool:
    """Both paths on `text`: the same program, or the exact path fails too (then the fast
    path must have given up).  Whether the fast path built it."""
    try:
        want = exact(text)
    except GradError:
        want = None
    got = fast.build(Source("t.grad", text), 0)
    if want is None:
        assert got is None
        return False
    if got is not None:
        assert_same(got, want)
    return got is not None


@pytest.mark.parametrize("path", FILES, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_shipped_files_build_alike_and_fast(path):
    assert compare(path.read_text())


def chain(n):
    return "input h0 = 0.5\ninput w = 0.9\n" + "".join(f"h{t} = sin(h{t - 1})*w + h{t - 1}\n"
                                                        for t in range(1, n + 1))


def test_large_generated_files_build_alike():
    assert compare(chain(3000))
    wide = "".join(f"input x{i} = {i / 10}\n" for i in range(500))
    wide += "s = " + " + ".join(f"sin(x{i})*x{i}" for i in range(500)) + "\n"
    assert compare(wide)


@pytest.mark.parametrize("text", [
    "input x = 1\n(y) = x\n",                       # syntax errors: the fast path gives up
    "input x = 1\ny = x +\n",
    "input x = 1\ny = x x\n",
    "input x = 1\ny = (x\n",
    "input x = 1\ny = x)\n",
    "input x = 1\ny = [x; 2]\n",
    "input x = 1\ny = 2x\n",
    "input x = 1\ny = x $ 2\n",
    "input x = 1\ny = q + x\n",                      # build errors
    "input x = 1\ny = x\ny = 2*x\n",
    "input x = 1\ny = sinn(x)\n",
    "input x = 1\ny = sin(x, x)\n",
    "input x = 1\ny = randn(2)\n",
    "input x = 1\ny = x ** 1e999\n",
    "input x = 1\ny = x.foo\n",
    "input x = 1\ny = [1, 2] + [1, 2, 3]\n",
    "input x = 1\ny = x.\n",
    "input x = 1\ny = sin\n",
    "input x = 1\ny = in + x\n",
    "input x = 1\ny = ٣ + x\n",                      # a digit the grammar does not know
    "input x = 1\ny = x² + 1\n",
])
def test_bad_files_make_the_fast_path_give_up(text):
    assert fast.build(Source("t.grad", text), 0) is None
    with pytest.raises(GradError):
        exact(text)


@pytest.mark.parametrize("text", [
    "def f(a) = a*a\ninput x = 1\ny = f(x)\n",      # a def may be called before its line
    "input x = 1\n_1 = x*2\ny = _1 + x*3\n",         # a name a generated one would take
])
def test_what_the_fast_path_leaves_to_the_exact_one(text):
    assert fast.build(Source("t.grad", text), 0) is None
    assert build(Source("t.grad", text)).nodes          # and the exact path builds it


# ---------------------------------------------------------------- random programs as text

BLANKS = st.sampled_from(["", " ", " ", "  ", "\t"])
NUMBERS = st.sampled_from(["2", "0.5", "1e-3", ".5", "3.", "2.5e2", "pi", "e", "c"])
UNARY = ["sin({})", "exp({})", "-{}", "+{}", "({})", "sum({})", "({}).T", "square({})",
         "sin ({})", "abs({}) ", "(({}))", "-({})", "+-{}"]
BINARY = ["{}+{}", "{} - {}", "{}*{}", "{} / {}", "{}**{}", "{}^{}", "max({}, {})",
          "min({},{})", "[{}, {}]", "({}) * ({})", "{} @ {}", "[{},\n {}]", "sum([{}, {},])"]


@st.composite
def programs(draw):
    lines = ["input x = 0.5", "input y in (-1, 1) = -0.3", "input v = [1, 2]", "const c = 2"]
    names = ["x", "y", "v", "c"]

    def expr(depth=0):
        if depth > 3 or draw(st.integers(0, 3)) == 0:
            return draw(st.sampled_from(names) | NUMBERS)
        if draw(st.booleans()):
            return draw(st.sampled_from(UNARY)).format(expr(depth + 1))
        form = draw(st.sampled_from(BINARY)).replace("+", draw(BLANKS) + "+" + draw(BLANKS))
        return form.format(expr(depth + 1), expr(depth + 1))

    for k in range(draw(st.integers(1, 6))):
        name = f"n{k}"
        line = f"{name}{draw(BLANKS)}={draw(BLANKS)}{expr()}"
        line += draw(st.sampled_from(["", "  # a comment (with [brackets]", "; ", " "]))
        lines.append(line)
        names.append(name)
    tail = draw(st.sampled_from(["", f"output {names[-1]}", f"d({names[-1]})/d(x) = 2*x",
                                 f"partial({names[-1]}, x) = 1"]))
    return "\n".join(lines + [tail]) + draw(st.sampled_from(["\n", "", "\n\n# end\n"]))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=programs())
@example(text="input x = 0.5\nn3 = sin(2.5e2)**0.5 * x\n").via("a NaN constant")
def test_random_programs_build_alike(text):
    built = compare(text)
    event("fast" if built else "exact")
