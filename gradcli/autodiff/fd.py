"""Finite differences with error estimates, batched: every perturbed point in one call.

The caller gives `f`, a function of a batch of flat points `X` (B, n) returning
a batch of flat values (B, m), the point `x0` (n,), and directions.  Each
direction d_k is scaled so that a step t = 1 is "a unit change" of x (the
checker uses d = max(|x|, 1) per element, or less near a pole: check/core.py
fit_scale), so the step rules below are the usual relative ones.  Quotients
divide by the step actually taken along a coordinate, (x + t s) - x, over s.

* `central`:    D(t) = (f(x + t d) - f(x - t d)) / 2t, t = 2^-17 ~ eps^(1/3); error
                estimate |D(t) - D(2t)| / 3 (the h^2 term) plus rounding.
* `forward`:    D(t) = (f(x + t d) - f(x)) / t, t = sqrt(eps); error estimate
                |D(t) - D(2t)| (the h term) plus rounding.
* `richardson`: central differences at t = 2^-3, 2^-4, ..., 2^-12, extrapolated
                twice (the h^2 and h^4 terms eliminated), as numdifftools does;
                each extrapolated value's error estimate is its distance to the
                next two extrapolations plus rounding, and the value with the
                smallest estimate wins.

Truncation estimates are first-order exact, so they are doubled (SAFETY) to
bound rather than merely estimate the error.  Rounding: f is assumed to be
computed to eps * max(KAPPA |f|, mag) (mag: the caller's measure of f's
conditioning, if any); a difference quotient with step t divides that by t.

`max_t` (per direction) is the largest step the caller trusts: beyond it a kink
of the function may be crossed.  Estimates that need a larger step are dropped;
when none is left (or none is finite) the one-sided differences at t = sqrt(eps)
decide: if they disagree beyond the tolerance and their own error estimates,
the direction is flagged as a kink ("not differentiable here").
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

EPS = float(np.finfo(float).eps)
KAPPA = 16.0
SAFETY = 2.0                                   # truncation estimates are doubled
METHODS = ("richardson", "central", "forward")
CENTRAL_T = 2.0 ** -17                         # the power of 2 nearest eps^(1/3): exact steps
FORWARD_T = EPS ** 0.5
RICHARDSON_T = 2.0 ** -np.arange(3, 13)       # 10 central differences, ratio 2
NEED = {"central": 2 * CENTRAL_T, "forward": 2 * FORWARD_T,   # the largest step each method takes
        "richardson": float(RICHARDSON_T[-5])}          # (Richardson: its last candidate's)
SMALLEST = {"central": CENTRAL_T, "forward": FORWARD_T,        # the smallest step each method takes
            "richardson": float(RICHARDSON_T[-1])}
BUDGET = 1 << 22                               # values held at once (about 32 MB)


@dataclass
class Coordinates:
    """Directions along coordinate axes: d_k = scale[k] * e_{index[k]} (no dense (k, n) array)."""

    index: np.ndarray
    scale: np.ndarray

    def __len__(self):
        return len(self.index)


@dataclass
class FDResult:
    """Derivatives along each direction k of each output component j, shape (k, m)."""

    value: np.ndarray          # nan where no finite difference could be formed (or at a kink)
    error: np.ndarray          # error estimate of `value`
    kink: np.ndarray           # bool: one-sided differences disagree: not differentiable here
    left: np.ndarray           # backward one-sided difference where the fallback ran, else nan
    right: np.ndarray          # forward one-sided difference where the fallback ran, else nan


class Pointwise:
    """f of ONE flat point, (n,) -> (m,): a user's Python function (`check_function`).

    `evaluate` calls it point by point, moving one element of a single copy of x0 along a
    coordinate direction and back, instead of forming batches of points: the cost is then
    that of f's own evaluations.  f must not keep or modify the array it is given.
    """

    def __init__(self, f):
        self.f = f

    def __call__(self, X):
        return np.stack([np.asarray(self.f(x), dtype=float).ravel() for x in X])


def _pointwise(f, x0, dirs, ts) -> np.ndarray:
    k = len(dirs)
    out = None
    x = x0.copy()
    coords = isinstance(dirs, Coordinates)
    if coords:
        index, scale, base = dirs.index.tolist(), dirs.scale.tolist(), x0.tolist()
    for a, t in enumerate(ts.tolist()):
        for j in range(k):
            if coords:
                i = index[j]
                x[i] = base[i] + t * scale[j]
                y = f(x)
                x[i] = base[i]
            else:
                y = f(x0 + t * np.asarray(dirs[j], dtype=float))
            if out is None:
                out = np.empty((len(ts), k, np.size(y)))
            out[a, j] = y
    return out


def evaluate(f, x0, dirs, ts, cost: int | None = None, budget: int = BUDGET) -> np.ndarray:
    """f at x0 + t * d_k for every t in ts and every direction: shape (len(ts), k, m).

    Points are formed and evaluated in chunks of at most `budget / cost` points
    (`cost`: how many numbers one evaluation holds; default the size of x0); a
    `Pointwise` f is called point by point.
    """
    x0 = np.asarray(x0, dtype=float).ravel()
    ts = np.asarray(ts, dtype=float)
    if isinstance(f, Pointwise):
        return _pointwise(f.f, x0, dirs, ts)
    k = len(dirs)
    total = len(ts) * k
    chunk = max(1, min(total, budget // max(cost or x0.size, 1)))
    out = None
    for lo in range(0, total, chunk):
        q = np.arange(lo, min(total, lo + chunk))
        ti, kj = ts[q // k], q % k
        if isinstance(dirs, Coordinates):
            X = np.repeat(x0[None, :], len(q), axis=0)
            X[np.arange(len(q)), dirs.index[kj]] += ti * dirs.scale[kj]
        else:
            X = x0 + ti[:, None] * np.asarray(dirs)[kj]
        Y = np.asarray(f(X), dtype=float).reshape(len(q), -1)
        if out is None:
            out = np.empty((total, Y.shape[1]))
        out[q] = Y
    return out.reshape(len(ts), k, -1)


def steps(x0, dirs, ts) -> np.ndarray:
    """The steps actually taken, shape (len(ts), k, 1): x0 + t·d is rounded to a float, so along a
    coordinate the step is (x0 + t·s) - x0 over s, not t (for a point near a pole the difference
    matters: a step of 2**-40 on x = 1.57 is off by 0.02%); the difference quotients divide by it."""
    ts = np.asarray(ts, dtype=float)
    if not isinstance(dirs, Coordinates):
        return np.broadcast_to(ts[:, None, None], (len(ts), len(dirs), 1))
    x = np.asarray(x0, dtype=float).ravel()[dirs.index]
    with np.errstate(all="ignore"):
        t = ((x[None, :] + ts[:, None] * dirs.scale[None, :]) - x[None, :]) / dirs.scale[None, :]
    return np.where(np.isfinite(t), t, ts[:, None])[..., None]


def _magnitude(F, mag):
    """How large f is for its rounding error, KAPPA·eps·this: the largest |f| seen, or, when f
    is computed less well than that, the caller's `mag` / KAPPA (mag: the sum of
    |∂f/∂node|·|node| over the graph's nodes, each op rounding its result by about eps)."""
    big = np.max(np.abs(F), axis=0)
    return big if mag is None else np.maximum(big, np.asarray(mag) / KAPPA)


def _rounding(F, t, mag=None):
    return KAPPA * EPS * _magnitude(F, mag) / t


def _central(F, t, mag=None, T=None):
    """F: values at +t, -t, +2t, -2t (T: the steps taken, see steps())."""
    T = np.array([[[t]], [[-t]], [[2 * t]], [[-2 * t]]]) if T is None else T
    d1 = (F[0] - F[1]) / (T[0] - T[1])
    d2 = (F[2] - F[3]) / (T[2] - T[3])
    return d1, SAFETY * np.abs(d1 - d2) / 3 + _rounding(F, t, mag)


def _forward(F, t, mag=None, T=None):
    """F: values at 0, t, 2t (T: the steps taken at t and 2t)."""
    T = np.array([[[t]], [[2 * t]]]) if T is None else T
    d1 = (F[1] - F[0]) / T[0]
    d2 = (F[2] - F[0]) / T[1]
    return d1, SAFETY * np.abs(d1 - d2) + 2 * _rounding(F, t, mag)


def _richardson(F, ts, max_t, mag=None, T=None):
    """F: values at +t_0, -t_0, +t_1, -t_1, ...; pick the extrapolation with the least error."""
    K = len(ts)
    if T is None:
        T = np.ravel(np.column_stack([ts, -ts]))[:, None, None]
    D = (F[0::2] - F[1::2]) / (T[0::2] - T[1::2])           # (K, k, m)
    R1 = (4 * D[1:] - D[:-1]) / 3                           # h^2 gone
    R2 = (16 * R1[1:] - R1[:-1]) / 15                       # h^4 gone; R2[c] uses D[c..c+2]
    fabs = np.maximum(np.abs(F[0::2]), np.abs(F[1::2]))
    if mag is not None:
        fabs = np.maximum(fabs, np.asarray(mag) / KAPPA)
    n = K - 4                                               # candidates with two successors
    with np.errstate(invalid="ignore"):
        err = SAFETY * np.maximum(np.abs(R2[:n] - R2[1:n + 1]), np.abs(R2[:n] - R2[2:n + 2]))
        for c in range(n):
            err[c] += 2 * KAPPA * EPS * np.max(fabs[c:c + 5], axis=0) / ts[c + 2]
        ok = np.isfinite(err) & np.isfinite(R2[:n])
        if max_t is not None:
            ok &= ts[:n, None, None] <= np.asarray(max_t)[None, :, None]
        err = np.where(ok, err, np.inf)
    best = np.argmin(err, axis=0)                           # (k, m)
    value = np.take_along_axis(R2[:n], best[None], axis=0)[0]
    error = np.take_along_axis(err, best[None], axis=0)[0]
    return value, error


def directional(f, x0, dirs, method: str = "richardson", max_t=None, rtol: float = 1e-6,
                atol: float = 1e-9, cost: int | None = None, f0=None, mag=None, skip=None) -> FDResult:
    """Derivatives of f along each direction in `dirs` at x0 (see the module docstring).

    dirs: a (k, n) array or `Coordinates`.  max_t: None or (k,) largest trusted step.
    f0: f(x0) as (m,) if known (else computed in the same batch as the others).
    mag: None or (m,): f is computed to eps·max(KAPPA·|f|, mag) (an ill-conditioned f, such as
    1/(y*y - a) near its pole, is computed far less well than to KAPPA·eps·|f|).
    skip: None or (k,) bool: directions not to evaluate at all (their value is nan).
    """
    if method not in METHODS:
        raise ValueError(f"unknown finite-difference method {method!r}")
    x0 = np.asarray(x0, dtype=float).ravel()
    k = len(dirs)
    if k == 0:  # an input with no elements: nothing to differentiate
        m = np.size(f0) if f0 is not None else np.size(f(x0[None])[0])
        empty = np.zeros((0, m))
        return FDResult(empty, empty, empty.astype(bool), empty, empty)
    mt = None if max_t is None else np.broadcast_to(np.asarray(max_t, dtype=float), (k,))
    need = NEED[method]
    near = np.zeros(k, dtype=bool) if mt is None else mt < need
    skip = np.zeros(k, dtype=bool) if skip is None else np.asarray(skip, dtype=bool)
    with np.errstate(all="ignore"):
        value = error = None
        main = np.flatnonzero(~near & ~skip)
        if main.size:
            sub = dirs if main.size == k else _subset(dirs, main)
            v, e, fz = _method(f, x0, sub, method, None if mt is None else mt[main], cost, f0, mag)
            if f0 is None:
                f0 = fz
            value = np.full((k, v.shape[1]), np.nan)
            error = np.full((k, v.shape[1]), np.nan)
            value[main], error[main] = v, e
        if value is None:
            bad = np.ones((k, 1), dtype=bool)
        else:
            bad = ~(np.isfinite(value) & np.isfinite(error)) | near[:, None]
        rows = np.flatnonzero(bad.any(axis=1) & ~skip)
        fb = None
        if rows.size:
            sub = _subset(dirs, rows)
            if f0 is None:
                f0 = evaluate(f, x0, _subset(sub, np.arange(1)), [0.0], cost)[0, 0]
            fb = _one_sided(f, x0, sub, np.asarray(f0), near[rows], rtol, atol, cost, mag)
        if value is None and fb is None:        # every direction skipped
            m = np.size(f0) if f0 is not None else np.size(f(x0[None])[0])
            empty = np.full((k, m), np.nan)
            return FDResult(empty, empty.copy(), np.zeros((k, m), dtype=bool), empty.copy(), empty.copy())
        m = value.shape[1] if value is not None else fb[0].shape[1]
        if value is None:
            value, error = np.full((k, m), np.nan), np.full((k, m), np.nan)
            bad = np.ones((k, m), dtype=bool)
        kink = np.zeros((k, m), dtype=bool)
        left = np.full((k, m), np.nan)
        right = np.full((k, m), np.nan)
        if fb is not None:
            v, e, kk, lf, rt = fb
            b = np.broadcast_to(bad[rows], v.shape)
            value[rows] = np.where(b, v, value[rows])
            error[rows] = np.where(b, e, error[rows])
            kink[rows] = b & kk
            left[rows] = np.where(b, lf, np.nan)
            right[rows] = np.where(b, rt, np.nan)
    return FDResult(value, error, kink, left, right)


def _method(f, x0, dirs, method, mt, cost, f0=None, mag=None):
    """value, error (k, m) by `method`, and f(x0) when the method evaluated it (else None)."""
    if method == "central":
        t = CENTRAL_T
        F = evaluate(f, x0, dirs, [t, -t, 2 * t, -2 * t], cost)
        return (*_central(F, t, mag, steps(x0, dirs, [t, -t, 2 * t, -2 * t])), None)
    if method == "forward":
        t = FORWARD_T
        if f0 is None:  # f(x0) once, not once per direction
            f0 = evaluate(f, x0, _subset(dirs, np.arange(1)), [0.0], cost)[0, 0]
        F = evaluate(f, x0, dirs, [t, 2 * t], cost)
        F = np.concatenate([np.broadcast_to(np.asarray(f0, float), (1,) + F.shape[1:]), F])
        return (*_forward(F, t, mag, steps(x0, dirs, [t, 2 * t])), np.asarray(f0))
    ts = RICHARDSON_T
    both = np.ravel(np.column_stack([ts, -ts]))
    F = evaluate(f, x0, dirs, both, cost)
    return (*_richardson(F, ts, mt, mag, steps(x0, dirs, both)), None)


def _subset(dirs, rows):
    if isinstance(dirs, Coordinates):
        return Coordinates(dirs.index[rows], dirs.scale[rows])
    return np.asarray(dirs)[rows]


def _one_sided(f, x0, dirs, f0, near, rtol, atol, cost, mag=None):
    """Backward and forward differences at t = sqrt(eps) (and 2t for their error estimates)."""
    t = FORWARD_T
    F = evaluate(f, x0, dirs, [t, 2 * t, -t, -2 * t], cost)
    T = steps(x0, dirs, [t, 2 * t, -t, -2 * t])
    F0 = np.broadcast_to(f0, F.shape[1:])
    r1, r2 = (F[0] - F0) / T[0], (F[1] - F0) / T[1]
    l1, l2 = (F0 - F[2]) / -T[2], (F0 - F[3]) / -T[3]
    rnd = 2 * KAPPA * EPS * np.maximum(_magnitude(F, mag), np.abs(F0)) / t
    er, el = SAFETY * np.abs(r1 - r2) + rnd, SAFETY * np.abs(l1 - l2) + rnd
    fr, fl = np.isfinite(r1) & np.isfinite(er), np.isfinite(l1) & np.isfinite(el)
    gap = np.abs(r1 - l1)
    differ = fr & fl & (gap > atol + rtol * np.maximum(np.abs(r1), np.abs(l1)) + er + el)
    kink = differ & near[:, None]
    both = fr & fl & ~kink
    value = np.where(both, (r1 + l1) / 2, np.where(fr & ~fl, r1, np.where(fl & ~fr, l1, np.nan)))
    error = np.where(both, gap / 2 + (er + el) / 2, np.where(fr & ~fl, er, np.where(fl & ~fr, el, np.nan)))
    value = np.where(kink, np.nan, value)
    error = np.where(kink, np.nan, error)
    return value, error, kink, np.where(fl, l1, np.nan), np.where(fr, r1, np.nan)


def derivative(f, x: float, method: str = "richardson") -> tuple[float, float]:
    """d/dx of a scalar function of a scalar (f takes and returns numpy arrays): (value, error)."""
    scale = max(abs(x), 1.0)
    g = (lambda X: f(X[:, 0]))
    r = directional(g, np.array([x]), Coordinates(np.array([0]), np.array([scale])), method)
    return float(r.value[0, 0]) / scale, float(r.error[0, 0]) / scale
