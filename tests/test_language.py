"""The .grad language of SPEC section 1: every statement and expression form."""

import math

import numpy as np
import pytest

from gradcli.autodiff import engine
from gradcli.errors import GradError, Source
from gradcli.language.program import bind, build
from conftest import grads, program_of


def value_of(text, name=None, at=()):
    program = program_of(text)
    vals = engine.forward(program, bind(program, at))
    return vals[program.outputs[0] if name is None else program.names[name]]


@pytest.mark.parametrize("expr,expected", [
    ("-x**2", -9.0),            # unary minus binds looser than **
    ("2**3**2", 512.0),         # ** is right-associative
    ("2^3^2", 512.0),           # ^ is **
    ("x**-1", 1 / 3),
    ("-2**2", -4.0),
    ("8/4/2", 1.0),             # left-associative
    ("10-4-3", 3.0),
    ("2*3+4*5", 26.0),
    ("2+3*4**2", 50.0),
    ("+x", 3.0),
    ("- -x", 3.0),
    ("(x+1)*(x-1)", 8.0),
    ("2*x/3", 2.0),
    (".5*x", 1.5),
    ("1e-3*x*1E3", 3.0),
    ("2.*x", 6.0),
    ("pi*x/pi", 3.0),
    ("log(e)*x", 3.0),
])
def test_precedence_and_associativity(expr, expected):
    assert value_of(f"input x = 3\nf = {expr}\n") == pytest.approx(expected, rel=1e-15)


def test_comments_semicolons_and_newlines_inside_brackets():
    text = """# a comment line
input x = 2   # trailing comment
a = x + 1; b = a * (x +
    1)
M = [[1, 2],
     [3, 4]]   # newlines inside [] do not end the statement
c = sum(M @ [b,
             a])
"""
    assert value_of(text) == pytest.approx((1 * 9 + 2 * 3) + (3 * 9 + 4 * 3))


def test_names_d_partial_e_and_unicode():
    text = "input α = 2\ninput b = 1\nd = α + b\npartial = d * 2\ne = partial + d\n"
    assert value_of(text) == 9
    program = program_of(text)
    assert [program.nodes[i].name for i in program.inputs] == ["α", "b"]


def test_pi_and_e_are_constants_a_file_may_shadow():
    assert value_of("input x = 1\nf = x*e\n") == pytest.approx(math.e)
    assert value_of("input x = 2\ne = x*3\nf = e + 1\n") == 7


def test_inputs_consts_defaults_domains_and_outputs():
    program = program_of("input x in (0, 2*pi) = pi\ninput y\nconst c = 2\n"
                         "a = c*x + y\nb = a*a\noutput a, b\n")
    x, y = program.inputs
    assert program.domains[x] == (0.0, pytest.approx(2 * math.pi))
    assert program.defaults[x] == pytest.approx(math.pi)
    assert y not in program.defaults
    assert [program.nodes[o].name for o in program.outputs] == ["a", "b"]
    assert program.nodes[program.names["c"]].kind == "const"
    vals = engine.forward(program, bind(program, ["y=1"]))
    b = program.names["b"]
    J = engine.jacobian(program, vals, b, [x, y])
    a_val = 2 * math.pi + 1
    assert J[x] == pytest.approx(2 * a_val * 2) and J[y] == pytest.approx(2 * a_val)


def test_default_output_is_the_last_assignment():
    program = program_of("input x = 1\na = x*2\nb = a + 1\n")
    assert [program.nodes[o].name for o in program.outputs] == ["b"]


def test_def_is_expanded_inline_and_may_use_other_defs():
    text = ("def sq(a) = a*a\ndef f(a, b) = sq(a) + 3*b\ninput x = 2\ninput y = 5\n"
            "z = f(x, y) + f(y, x)\n")
    program = program_of(text)
    assert all(n.op is None or n.op.name != "call" for n in program.nodes)
    g = grads(program, bind(program))
    assert g["x"] == 2 * 2 + 3 and g["y"] == 3 + 2 * 5


def test_tensor_literals_transpose_and_float64():
    program = program_of("input W = [[1, 0], [1, 2]]\nv = [1, -2]\nf = sum(W.T @ v) + sum(transpose(W) * 2)\n")
    W = program.defaults[program.inputs[0]]
    assert W.dtype == np.float64 and W.shape == (2, 2)
    assert value_of("input W = [[1, 0], [1, 2]]\nf = sum(W.T @ [1, -2]) + sum(transpose(W) * 2)\n") == (
        np.sum(np.array([[1, 0], [1, 2]]).T @ [1, -2]) + 8)


def test_tensor_literal_of_nodes_is_differentiable():
    program = program_of("input x = 2\ninput y = 3\nv = [x, x*y, 1]\nf = sum(v*v)\n")
    g = grads(program, bind(program))
    assert g["x"] == pytest.approx(2 * 2 + 2 * 6 * 3) and g["y"] == pytest.approx(2 * 6 * 2)


def test_initialisers_are_seeded():
    text = "input W = randn(2, 3)\nconst Z = zeros(2)\nconst I = eye(2)\ninput u = rand(3) + ones(3)\nf = sum(W @ u)\n"
    a, b, c = (build(Source("t", text), seed) for seed in (1, 1, 2))
    wa, wb, wc = (p.defaults[p.inputs[0]] for p in (a, b, c))
    assert wa.shape == (2, 3)
    np.testing.assert_array_equal(wa, wb)
    assert not np.array_equal(wa, wc)
    u = a.defaults[a.inputs[1]]
    assert np.all((u >= 1) & (u < 2))


def test_claims_are_parsed_and_kept():
    program = program_of("input x = 1\ninput y = 2\nw1 = x + y\nw2 = sin(x)\no = w1*w2\n"
                         "d(o)/d(x) = (x + y)*cos(x) + sin(x)\npartial(o, w1) = w2\n")
    kinds = [(c.kind, program.nodes[c.u].name, program.nodes[c.v].name) for c in program.claims]
    assert kinds == [("total", "o", "x"), ("partial", "o", "w1")]
    vals = engine.forward(program, bind(program))
    assert vals[program.claims[0].node] == pytest.approx(3 * math.cos(1) + math.sin(1))
    assert vals[program.claims[1].node] == pytest.approx(math.sin(1))


def test_at_takes_expressions_of_the_language():
    text = "input W\ninput x = 1\nf = sum(W @ [x, 2*x])\n"
    assert value_of(text, at=["W=[[1, 0], [0, 1]]"]) == 3
    assert value_of("input x\nf = x\n", at=["x=2*pi"]) == pytest.approx(2 * math.pi)
    assert value_of("input x\nf = x\n", at=["x=-sin(pi/2)"]) == -1


def test_sub_expressions_get_generated_names_and_spans():
    text = "input x = 1\ninput y = 2\no = (x + y) * sin(x)\n"
    program = program_of(text)
    ops = [n for n in program.nodes if n.kind == "op"]
    assert [n.name for n in ops] == ["_1", "_2", "o"]
    assert [text[n.start:n.end] for n in ops] == ["(x + y)", "sin(x)", "(x + y) * sin(x)"]


def test_constant_sub_expressions_are_folded():
    program = program_of("input x = 1\nf = x * (2*pi + 1)\n")
    ops = [n for n in program.nodes if n.kind == "op"]
    assert len(ops) == 1
    const = [n for n in program.nodes if n.kind == "const"]
    assert const[0].value == pytest.approx(2 * math.pi + 1)


def test_unicode_and_crlf_and_bom():
    program = build(Source("t", "\ufeffinput x = 1\r\ny = x*2\r\n".lstrip("\ufeff")))
    assert grads(program, bind(program))["x"] == 2


def test_a_large_file_is_parsed_in_two_halves_the_same(monkeypatch):
    from gradcli.language import syntax

    lines = ["input h0 = 0.5", "input w = 0.9", "def f(a) = sin(a)*w"]
    lines += [f"h{t} = f(h{t-1}) + sum([h{t-1},\n   1])  # (t = {t})" for t in range(1, 3001)]
    source = Source("big.grad", "\n".join(lines) + "\nd(h3000)/d(w) = 1\n")
    monkeypatch.setattr(syntax, "PARALLEL_BYTES", 1000)
    assert syntax._split_point(source.text) is not None
    halves = syntax.parse(source)
    monkeypatch.setattr(syntax, "PARALLEL_BYTES", 10**9)
    assert halves == syntax.parse(source)


def test_brackets_in_comments_make_the_parser_take_the_whole_file(monkeypatch):
    from gradcli.language import syntax

    lines = ["input x = 1"] + [f"y{t} = x*{t}  # ( unbalanced" for t in range(2000)]
    source = Source("big.grad", "\n".join(lines) + "\n")
    assert syntax._split_point(source.text) is None
    monkeypatch.setattr(syntax, "PARALLEL_BYTES", 1000)
    assert len(syntax.parse(source)) == 2001


def test_a_syntax_error_in_the_second_half_is_reported_as_usual(monkeypatch):
    from gradcli.language import syntax

    lines = ["input x = 1"] + [f"y{t} = x*{t}" for t in range(2000)] + ["z = x +* 2"]
    source = Source("big.grad", "\n".join(lines) + "\n")
    monkeypatch.setattr(syntax, "PARALLEL_BYTES", 1000)
    with pytest.raises(GradError) as err:
        syntax.parse(source)
    assert err.value.render().startswith("big.grad:2002:8: error: unexpected '*'")
