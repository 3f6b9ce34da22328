"""The answer notes' own checks (gradcli/grade/notes.py), value by value.

The grader's use of them is shown by the student answers (test_grade_students.py); here each
check meets the cases its docstring names, with expected values worked out by hand.
Arrays are (B,) + shape: a batch of sample points first.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.grade import notes

ALL = slice(None)


def same_as(given, idx=ALL, rtol=1e-6, atol=1e-9):
    """The item's test as generic() gets it: given matches a candidate value at the points idx."""
    return lambda value: notes.close(value, given, idx, rtol, atol)


# ---------------------------------------------------------------- close: rtol/atol at some points

def test_close_is_relative_to_the_expected_value():
    e = np.array([1000.0, -2000.0])
    assert notes.close(e, e, ALL, 1e-6, 1e-9)
    # 5e-7 relative off: within rtol = 1e-6 of |e|, though far beyond atol
    assert notes.close(e, e * (1 + 5e-7), ALL, 1e-6, 1e-9)
    assert not notes.close(e, e * (1 + 2e-6), ALL, 1e-6, 1e-9)
    assert not notes.close(e, -e, ALL, 1e-6, 1e-9)


def test_close_has_an_absolute_floor_at_zero():
    e = np.array([0.0, 0.0])
    assert notes.close(e, np.array([5e-10, -5e-10]), ALL, 1e-6, 1e-9)
    assert not notes.close(e, np.array([0.0, 2e-9]), ALL, 1e-6, 1e-9)


def test_close_looks_only_at_the_points_asked_and_the_finite_expected_ones():
    e = np.array([[1.0, 2.0], [3.0, 4.0], [np.nan, 6.0]])
    g = np.array([[1.0, 2.0], [3.0, 40.0], [7.0, 6.0]])
    assert notes.close(e, g, [0], 1e-6, 1e-9)
    assert notes.close(e, g, [0, 2], 1e-6, 1e-9)        # the nan expected at point 2 is skipped
    assert not notes.close(e, g, ALL, 1e-6, 1e-9)
    assert not notes.close(e, g, [1], 1e-6, 1e-9)


def test_close_is_false_when_the_shapes_differ():
    e = np.ones((2, 3))
    assert not notes.close(e, np.ones((2, 1)), ALL, 1e-6, 1e-9)
    assert not notes.close(e, np.ones((2, 3, 1)), ALL, 1e-6, 1e-9)


# ---------------------------------------------------------------- significant figures

@pytest.mark.parametrize("expected, given, n, ok", [
    (-2 * np.pi, -6.283, 4, True),
    (-2 * np.pi, -6.2832, 4, True),
    (-2 * np.pi, -6.284, 4, False),
    (-2 * np.pi, -6.28, 4, False),
    (1234.5678, 1235.0, 4, True),
    (1234.5678, 1234.0, 4, False),
    (0.00123456, 0.001235, 4, True),
    (0.00123456, 0.001236, 4, False),
    # a value rounded half up or half down is right to n figures: 0.125 is 0.13 or 0.12 to two
    (0.125, 0.13, 2, True),
    (0.125, 0.12, 2, True),
    (0.125, 0.14, 2, False),
])
def test_sig_ok_is_half_a_unit_in_the_last_figure(expected, given, n, ok):
    got = notes.sig_ok(np.array([[expected]]), np.array([[given]]), n)
    assert got.shape == (1, 1) and bool(got[0, 0]) is ok


def test_sig_ok_exact_zero_has_an_absolute_floor():
    e = np.zeros((1, 4))
    got = notes.sig_ok(e, np.array([[0.0, 4e-5, -4.9e-5, 6e-5]]), 4)      # half a unit in the 4th decimal
    assert got.tolist() == [[True, True, True, False]]


def test_sig_ok_zero_is_relative_to_the_largest_entry_of_each_point():
    # point 0: 1e-7 beside 1e6 is rounding noise around an exact 0 (under 1e-12 of the largest);
    # point 1: beside 1e-3 (a scale under 1) 1e-7 is a real value, to be given to 4 figures
    e = np.array([[1e6, 1e-7], [1e-3, 1e-7]])
    g = np.array([[1e6, 1e-5], [1e-3, 1e-5]])
    got = notes.sig_ok(e, g, 4)
    assert got.shape == e.shape
    assert got.tolist() == [[True, True], [True, False]]


def test_sig_ok_of_plain_numbers():
    assert bool(notes.sig_ok(np.pi, 3.1416, 5)) and not bool(notes.sig_ok(np.pi, 3.1416, 6))
    assert bool(notes.sig_ok(0.0, 4e-5, 4)) and not bool(notes.sig_ok(0.0, 6e-5, 4))
    assert notes.digits(np.pi, 3.14, 6) == 3


def test_sig_ok_skips_non_finite_expected_entries():
    got = notes.sig_ok(np.array([[np.inf, np.nan, 1.0]]), np.array([[0.0, 5.0, 2.0]]), 3)
    assert got.tolist() == [[True, True, False]]


@pytest.mark.parametrize("given, n, k", [
    (3.1416, 6, 5), (3.14, 6, 3), (3.14159265, 6, 6), (3.0, 6, 1), (3.14, 2, 2), (2.0, 4, 0), (-np.pi, 4, 0),
])
def test_digits_counts_the_significant_figures_right(given, n, k):
    assert notes.digits(np.array([[np.pi]]), np.array([[given]]), n) == k


def test_digits_needs_every_entry_right():
    e = np.array([[1.0, 2.0, 300.0]])
    assert notes.digits(e, np.array([[1.0, 2.0, 301.0]]), 4) == 2
    assert notes.digits(e, np.array([[1.0, 2.0, 999.0]]), 4) == 0


# ---------------------------------------------------------------- sign, transpose, constant factor

def test_generic_names_a_sign_error():
    e = np.array([[1.5], [-2.0], [0.25]])
    assert notes.generic(e, -e, same_as(-e))[0] == notes.SIGN


def test_generic_says_nothing_of_a_zero_value_given_as_zero():
    e = np.zeros((3, 2))
    g = np.zeros((3, 2))
    assert notes.generic(e, g, same_as(g)) is None


def test_generic_names_a_transposed_square_matrix():
    e = np.array([[[1.0, 2.0], [3.0, 4.0]], [[5.0, 6.0], [7.0, 8.0]]])
    g = np.swapaxes(e, 1, 2)
    note, message = notes.generic(e, g, same_as(g))
    assert note == notes.TRANSPOSED and "transpose" in message
    sym = np.array([[[1.0, 2.0], [2.0, 1.0]]])          # a symmetric matrix is its own transpose
    assert notes.generic(sym, 3 * sym, same_as(3 * sym))[0] == notes.FACTOR


def test_generic_names_a_constant_factor():
    e = np.array([[1.0, 2.0], [3.0, -4.0], [0.5, 6.0]])
    g = 2.5 * e
    note, message = notes.generic(e, g, same_as(g))
    assert note == notes.FACTOR and "2.5 times the expected value" in message


@pytest.mark.parametrize("factor", [2.0, -3.0, 0.1])
def test_generic_names_any_factor_other_than_one_and_zero(factor):
    e = np.array([[1.0, 2.0], [3.0, -4.0]])
    g = factor * e
    note, message = notes.generic(e, g, same_as(g, rtol=1e-12, atol=0))
    assert note == notes.FACTOR and f"{factor:g} times the expected value" in message


@pytest.mark.parametrize("factor", [1 + 3e-7, 1 - 3e-7, 0.0])
def test_a_factor_of_one_or_zero_is_no_factor(factor):
    # a value a rounding off the expected one (judged by a strict test), or all zeros, is not
    # "a constant factor off"
    e = np.array([[1.0, 2.0], [3.0, -4.0]])
    g = factor * e
    assert notes.generic(e, g, same_as(g, rtol=1e-12, atol=0)) is None


def test_a_factor_of_one_point_needs_two_different_entries():
    # a number answer is checked at the default point only (idx [0]): the factor comes from there
    e = np.array([[2.0, 4.0], [3.0, 9.0], [1.0, 7.0]])
    g = np.broadcast_to(np.array([[1.0, 2.0]]), e.shape)
    note, message = notes.generic(e, g, same_as(g, [0]), [0])
    assert note == notes.FACTOR and "0.5 times" in message
    # one scalar at one point: any number is some multiple of it, so no factor is named
    e1 = np.array([[3.0], [5.0]])
    g1 = np.full((2, 1), 1.5)
    assert notes.generic(e1, g1, same_as(g1, [0]), [0]) is None


def test_no_factor_of_an_expected_value_that_is_constant():
    # d(f)/d(x) = 10**6 everywhere, computed with a unit of rounding at one point: twice it is
    # as much "off by a constant" as "off by a factor", so no factor is named
    big = 1e6
    e = np.array([[big], [np.nextafter(big, 2 * big)], [big]])
    g = np.full((3, 1), 2 * big)
    assert notes.generic(e, g, same_as(g)) is None


def test_transposed_non_square_matrices():
    e = np.arange(1.0, 7.0).reshape(1, 2, 3)
    assert notes.transposed(e, np.swapaxes(e, 1, 2))
    assert not notes.transposed(e, e)                                    # the same shape: not transposed
    assert not notes.transposed(e, np.swapaxes(e, 1, 2) * 2)             # transposed but wrong
    assert not notes.transposed(e.reshape(1, 6), e.reshape(1, 6))        # not matrices
    # a number answer (one point) against a value the same at every point, or not
    same = np.repeat(e, 3, axis=0)
    assert notes.transposed(same, np.swapaxes(e, 1, 2))
    varying = same * np.array([1.0, 2.0, 3.0])[:, None, None]
    assert not notes.transposed(varying, np.swapaxes(e, 1, 2))
    assert notes.transposed(varying, np.swapaxes(varying, 1, 2))


def test_trivial_and_unit_values():
    idx = ALL
    assert notes.trivial(np.array([[0.0, 1.0, -1.0]]), idx)
    assert not notes.trivial(np.array([[0.0, 1.0, 2.0]]), idx)
    assert notes.unit(np.array([[0.0, 1.0]]), idx)
    assert not notes.unit(np.array([[0.0, -1.0]]), idx)
    # only the points asked count
    v = np.array([[1.0], [3.0]])
    assert notes.trivial(v, [0]) and notes.unit(v, [0])
    assert not notes.trivial(v, idx) and not notes.unit(v, idx)
