"""Every number the lecture notes show, reproduced from examples/ (issue 2, item 8).

Each gradient is computed by reverse mode and checked against forward mode and
against central finite differences; the values are the notes' own numbers.
"""

import math

import numpy as np
import pytest

from gradcli.autodiff import engine
from conftest import central_difference, grads, program_of


def check_all(program, point, expected, atol=1e-9, fd_atol=1e-5):
    rev = grads(program, point, "reverse")
    fwd = grads(program, point, "forward")
    ids = {program.nodes[i].name: i for i in program.inputs}
    for name, want in expected.items():
        np.testing.assert_allclose(rev[name], want, atol=atol, err_msg=f"reverse d/d{name}")
        np.testing.assert_allclose(fwd[name], want, atol=atol, err_msg=f"forward d/d{name}")
        np.testing.assert_allclose(central_difference(program, point, ids[name]), want, atol=fd_atol,
                                   err_msg=f"finite differences d/d{name}")


def value(program, point, name=None):
    vals = engine.forward(program, point)
    nid = program.outputs[0] if name is None else program.names[name]
    return vals[nid]


def test_two_paths(example):
    program, point = example("e_two_paths.grad")
    assert value(program, point) == 6
    check_all(program, point, {"a": 2, "b": 5})


def test_max_gate(example):
    program, point = example("max_gate.grad")
    check_all(program, point, {"x1": 1, "w1": 0, "x2": 0, "w2": 1})


def test_matrix_cost_values_and_gradients(example):
    program, point = example("matrix_cost.grad")
    vals = engine.forward(program, point)
    got = {n: vals[program.names[n]] for n in ("a", "b", "e", "cost")}
    np.testing.assert_array_equal(got["a"], [[1, 1, -1], [1, -1, 1]])
    np.testing.assert_array_equal(got["b"], [-1, 3, -3])
    np.testing.assert_array_equal(got["e"], [2, -5, 2])
    assert got["cost"] == 33
    check_all(program, point, {"x": [[4, -10, 4], [16, -40, 16]], "w1": [[10, -14], [-20, 28]],
                               "y": [4, -10, 4], "w2": [10, -18]})


def test_sin_at_pi(example):
    program, point = example("lecture_sin.grad")
    g = grads(program, point)
    assert g["x"] == pytest.approx(-2 * math.pi, abs=1e-12)
    assert g["y"] == math.sin(math.pi)  # 1.2246467991473532e-16 exactly, as the notes print
    assert g["y"] == pytest.approx(1.22e-16, rel=1e-2)
    check_all(program, point, {"x": -2 * math.pi, "y": math.sin(math.pi)})


@pytest.mark.parametrize("x,y", [(0.3, 1.7), (2.0, -1.0), (-1.2, 0.4)])
def test_sin_general_formula(example, x, y):
    program, _ = example("lecture_sin.grad")
    point = {program.names["x"]: np.float64(x), program.names["y"]: np.float64(y)}
    check_all(program, point, {"x": (x + y) * math.cos(x) + math.sin(x), "y": math.sin(x)})


@pytest.mark.parametrize("x", [0.5, 1.5, -2.2])
def test_sin_of_square(x):
    program = program_of("input x\no = sin(x**2)\n")
    check_all(program, {program.inputs[0]: np.float64(x)}, {"x": math.cos(x * x) * 2 * x})


def test_linear_s(example):
    program, point = example("s_linear.grad")
    assert value(program, point) == 3


def test_loss_square(example):
    program, point = example("loss_square.grad")
    check_all(program, point, {"x": -36})


def test_linear_z(example):
    program, point = example("linear_z.grad")
    check_all(program, point, {"w": 2.5, "b": 1})


def test_sum_of_squares(example):
    program, point = example("sum_squares.grad")
    assert value(program, point) == 62
    check_all(program, point, {"x": [2, 10, 12]})


def test_half_sum_of_squares_gradient_is_a(example):
    program, point = example("half_sum_squares.grad")
    a = point[program.names["a"]]
    check_all(program, point, {"a": a})
    rng = np.random.default_rng(1)
    other = rng.standard_normal(a.shape)
    assert np.allclose(grads(program, {program.names["a"]: other})["a"], other)


def test_affine_sum(example):
    program, point = example("affine_sum.grad")
    W = point[program.names["W"]]
    X = point[program.names["X"]]
    g = grads(program, point)
    for row in g["X"]:
        np.testing.assert_allclose(row, W.sum(axis=1))  # each row of dO/dX: the row sums of W
    # dO/dZ is ones; B (1x3) is broadcast over the 5 rows, so dO/dB adds them up.
    vals = engine.forward(program, point)
    adj = engine.backward(program, vals, program.outputs[0])
    np.testing.assert_array_equal(adj[program.names["Z"]], np.ones((5, 3)))
    np.testing.assert_array_equal(g["B"], [[5, 5, 5]])
    check_all(program, point, {"X": np.tile(W.sum(axis=1), (5, 1)), "W": np.tile(X.sum(axis=0)[:, None], (1, 3)),
                               "B": [[5, 5, 5]]})


def test_rnn_two_steps(example):
    program, point = example("rnn_two_steps.grad")
    check_all(program, point, {"w_h": 2, "h0": 4})


@pytest.mark.parametrize("name", ["logistic_multiclass.grad", "logistic_binary.grad"])
def test_logistic_regression_against_finite_differences(example, name):
    program, point = example(name)
    rev, fwd = grads(program, point, "reverse"), grads(program, point, "forward")
    for x in program.inputs:
        n = program.nodes[x].name
        np.testing.assert_allclose(rev[n], central_difference(program, point, x), atol=1e-7)
        np.testing.assert_allclose(rev[n], fwd[n], atol=1e-12)


def test_two_output_jacobian(example):
    program, point = example("jacobian_two_outputs.grad")
    vals = engine.forward(program, point)
    rows = []
    for mode in ("reverse", "forward"):
        J = [[float(engine.jacobian(program, vals, out, program.inputs, mode)[x]) for x in program.inputs]
             for out in program.outputs]
        rows.append(J)
    assert rows[0] == rows[1] == [[3, 3, 3, 0], [4, 4, 0, 3]]
