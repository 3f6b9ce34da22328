"""Finite differences (gradcli/autodiff/fd.py) against values worked out by hand.

The error estimates are the ones docs/check.md documents: a truncation term (doubled, so it
bounds the error) plus rounding, eps * max(16 |f|, C) / h per difference quotient.  The
functions here are polynomials at x = 1 with steps that are powers of 2, so every perturbed
value, every difference quotient and so every estimate is exact in floating point and can
be written down in closed form.
"""

from __future__ import annotations

import numpy as np
import pytest

from gradcli.autodiff import fd

EPS = np.finfo(float).eps
ONE = fd.Coordinates(np.array([0]), np.array([1.0]))      # along x, steps in units of max(|x|, 1) = 1


def cube(X):
    return X * X * X


def square(X):
    return X * X


def run(f, x, method, **kw):
    r = fd.directional(f, np.array([x]), ONE, method, **kw)
    return r.value[0, 0], r.error[0, 0], r


# ---------------------------------------------------------------- the error estimates

def test_central_difference_and_its_error_estimate():
    # D(t) = ((1+t)^3 - (1-t)^3) / 2t = 3 + t^2 exactly; D(2t) = 3 + 4t^2
    t = 2.0 ** -17
    value, error, r = run(cube, 1.0, "central")
    assert value == 3 + t * t
    truncation = 2 * abs((3 + t * t) - (3 + 4 * t * t)) / 3          # 2 |D(t) - D(2t)| / 3
    rounding = 16 * EPS * (1 + 2 * t) ** 3 / t                       # 16 eps max|f| / t
    assert error == pytest.approx(truncation + rounding, rel=1e-12)
    assert not r.kink[0, 0] and np.isnan(r.left[0, 0]) and np.isnan(r.right[0, 0])
    assert abs(value - 3) <= error                                   # and it bounds the real error


def test_forward_difference_and_its_error_estimate():
    # D(t) = ((1+t)^2 - 1) / t = 2 + t, D(2t) = 2 + 2t; two values rounded per quotient
    t = 2.0 ** -26
    value, error, _ = run(square, 1.0, "forward")
    assert value == 2 + t
    rounding = 2 * 16 * EPS * (1 + 2 * t) ** 2 / t
    assert error == pytest.approx(2 * t + rounding, rel=1e-12)
    assert abs(value - 2) <= error


def test_richardson_error_of_exact_differences_is_its_rounding_term():
    """f = 3x: every central difference is exactly 3, the extrapolations agree exactly, and the
    estimate is rounding alone.  A candidate R2 = (64 D(t/4) - 20 D(t/2) + D(t)) / 45 carries
    rounding (64 r + 20 r/2 + r/4) / 45 = 1.65 r, r = 16 eps max|f| / (t/4) the rounding of its
    smallest step: bounded by 2r.  The candidate with the largest steps (t = 1/8) has the least."""
    value, error, _ = run(lambda X: 3 * X, 1.0, "richardson")
    assert value == 3
    t = 2.0 ** -3
    r = 16 * EPS * 3 * (1 + t) / (t / 4)
    assert error == pytest.approx(2 * r, rel=1e-12)


def test_richardson_rounding_counts_the_callers_conditioning():
    # mag (C in docs/check.md): f computed to eps * max(16 |f|, C), for an f far worse conditioned than |f|
    _, plain, _ = run(lambda X: 3 * X, 1.0, "richardson")
    _, worse, _ = run(lambda X: 3 * X, 1.0, "richardson", mag=np.array([16 * 3 * 1e6]))
    assert worse == pytest.approx(plain * 1e6 / (1 + 2.0 ** -3), rel=1e-12)


# ---------------------------------------------------------------- steps and the largest trusted step

def steps_taken(method, x=1.0, max_t=None):
    seen = []

    def f(X):
        seen.append(X[:, 0] - x)
        return np.sin(X)

    fd.directional(f, np.array([x]), ONE, method, max_t=max_t)
    taken = np.abs(np.concatenate(seen))
    return taken[taken > 0]


@pytest.mark.parametrize("method, smallest, largest", [
    ("central", 2.0 ** -17, 2.0 ** -16),
    ("forward", 2.0 ** -26, 2.0 ** -25),
    ("richardson", 2.0 ** -12, 2.0 ** -3),
])
def test_each_method_takes_its_documented_steps(method, smallest, largest):
    taken = steps_taken(method)
    assert taken.min() == smallest == fd.SMALLEST[method]
    assert taken.max() == largest
    if method != "richardson":
        assert fd.NEED[method] == largest           # the largest step it needs
    else:
        # its last candidate (2^-8, 2^-9, 2^-10 and the two after) is the one that needs the least
        assert fd.NEED[method] == 2.0 ** -8


@pytest.mark.parametrize("method", fd.METHODS)
def test_a_method_runs_when_its_steps_are_trusted_and_falls_back_when_not(method):
    need = fd.NEED[method]
    _, _, r = run(np.sin, 1.0, method, max_t=need)        # exactly the step it needs: trusted
    assert np.isnan(r.left[0, 0]) and np.isnan(r.right[0, 0])
    assert r.value[0, 0] == pytest.approx(np.cos(1.0), rel=1e-6)
    _, _, r = run(np.sin, 1.0, method, max_t=need / 2)    # less: the one-sided differences decide
    assert np.isfinite(r.left[0, 0]) and np.isfinite(r.right[0, 0]) and not r.kink[0, 0]
    assert r.value[0, 0] == pytest.approx(np.cos(1.0), rel=1e-6)


# ---------------------------------------------------------------- one-sided differences and kinks

def test_one_sided_differences_at_a_smooth_point():
    # x^2 at 1, t = 2^-26: right (2 + t, at 2t 2 + 2t), left (2 - t, at 2t 2 - 2t), all exact
    t = 2.0 ** -26
    value, error, r = run(square, 1.0, "central", max_t=1e-10)
    assert r.right[0, 0] == 2 + t and r.left[0, 0] == 2 - t and not r.kink[0, 0]
    assert value == 2                                        # their mean
    rounding = 2 * 16 * EPS * (1 + 2 * t) ** 2 / t
    each = 2 * t + rounding                                  # 2 |D(t) - D(2t)| + rounding, either side
    assert error == pytest.approx((2 * t) / 2 + each, rel=1e-12)   # half their gap + their mean error
    assert abs(value - 2) <= error


def test_a_kink_is_where_the_one_sided_differences_disagree():
    value, error, r = run(np.abs, 0.0, "richardson", max_t=0.0)
    assert r.kink[0, 0] and np.isnan(value) and np.isnan(error)
    assert r.left[0, 0] == -1 and r.right[0, 0] == 1


@pytest.mark.parametrize("change, kink", [(5e-7, False), (5e-6, True)])
def test_a_kink_is_a_change_of_slope_beyond_the_relative_tolerance(change, kink):
    # slopes 100 and 100 (1 + change) on either side of 0: rtol = 1e-6 of the slope decides
    slope = 100 * (1 + change)
    value, _, r = run(lambda X: np.where(X >= 0, 100 * X, slope * X), 0.0, "central", max_t=0.0)
    assert r.right[0, 0] == 100 and r.left[0, 0] == pytest.approx(slope, rel=1e-12)
    assert bool(r.kink[0, 0]) is kink
    if not kink:
        assert value == pytest.approx((100 + slope) / 2, rel=1e-12)


def test_a_steep_smooth_function_is_not_a_kink():
    # exp(100 x) at 0: the one-sided slopes differ by ~t f'' = 1.5e-4 (more than rtol |f'| = 1e-4),
    # which their own error estimates account for
    value, error, r = run(lambda X: np.exp(100 * X), 0.0, "central", max_t=0.0)
    assert r.right[0, 0] - r.left[0, 0] > 1e-6 * 100
    assert not r.kink[0, 0]
    assert abs(value - 100) <= error and error < 1e-3


@pytest.mark.parametrize("method", fd.METHODS)
def test_quotients_divide_by_the_steps_actually_taken(method):
    """x0 + t·s is rounded to a float: a difference quotient divides by the step taken.  With the
    method's smallest step t·s 1.5 units in the last place of 1.1, the point lands a whole
    number of units away; f = 3x then gives 3 only over the step taken."""
    t = fd.SMALLEST[method]
    scale = 1.5 * 2.0 ** -52 / t
    dirs = fd.Coordinates(np.array([0]), np.array([scale]))
    assert fd.steps(np.array([1.1]), dirs, [t])[0, 0, 0] != t      # the nominal step is not the one taken
    r = fd.directional(lambda X: 3 * X, np.array([1.1]), dirs, method)
    assert r.value[0, 0] / scale == pytest.approx(3.0, rel=1e-9)


def test_no_directions_give_empty_results():
    """An input with no elements: nothing to differentiate, an empty (0, m) result."""
    f = (lambda X: np.stack([X.sum(axis=1), 2 * X.sum(axis=1)], axis=1))     # m = 2 outputs
    none = fd.Coordinates(np.zeros(0, dtype=int), np.zeros(0))
    for f0 in (None, np.array([0.0, 0.0])):
        r = fd.directional(f, np.zeros(3), none, "central", f0=f0)
        for a in (r.value, r.error, r.kink, r.left, r.right):
            assert a.shape == (0, 2)
