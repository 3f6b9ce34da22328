"""Answer notes: short names for common mistakes, tried only on a failed item.

Like STACK's answer notes: each is cheap, compares the given value with one
candidate mistake at the same sample points, and names the mistake if it fits.
"""

from __future__ import annotations

import numpy as np

SIGN = "sign-error"
INNER = "missing-inner-factor"
SWAPPED = "forward-reverse-swapped"
NUMBER = "number-not-formula"
DOMAIN = "domain-differs"
MISSING = "missing"
NAMES = "names-swapped"
SHAPE = "shape"
TRANSPOSED = "transposed"
FACTOR = "constant-factor"
STRUCTURE = "not-decomposed"
ERROR = "error"


def close(expected, given, idx, rtol, atol) -> bool:
    """given ≈ expected at the points idx (both (B,)+shape; non-finite expected points skipped)."""
    e = np.asarray(expected)[idx]
    g = np.asarray(given)[idx]
    if e.shape != g.shape:
        return False
    with np.errstate(all="ignore"):
        ok = np.abs(g - e) <= atol + rtol * np.abs(e)
        ok |= ~np.isfinite(e)
    return bool(np.all(ok))


def diagnose(expected, given, idx, rtol, atol, candidates=()) -> tuple[str, str] | None:
    """(note, message) for the first mistake that explains `given`, or None.

    candidates: (note, message, value or a function giving the value or None), tried in order.
    """
    e = np.asarray(expected)
    with np.errstate(all="ignore"):
        nonzero = np.any(np.abs(e[idx]) > atol + 1e-12)
    if nonzero and close(-e, given, idx, rtol, atol):
        return SIGN, "sign error: your answer is the negative of the expected value"
    g = np.asarray(given)
    if e.ndim == 3 and e.shape[1] == e.shape[2] and close(e, np.swapaxes(g, 1, 2), idx, rtol, atol):
        return TRANSPOSED, "your answer is the transpose of the expected value"
    ratio = _ratio(e, g, idx, rtol, atol)
    if ratio is not None:
        return FACTOR, f"your answer is {ratio:.6g} times the expected value: a constant factor is off"
    for note, message, value in candidates:
        if callable(value):
            value = value()
        if value is None or np.shape(value) != np.shape(given):
            continue
        if not close(expected, value, idx, rtol, atol) and close(value, given, idx, rtol, atol):
            return note, message
    return None


def _ratio(expected, given, idx, rtol, atol) -> float | None:
    """c when given ≈ c·expected at every checked point, for one constant c other than ±1 and 0."""
    e = np.asarray(expected)[idx]
    g = np.asarray(given)[idx]
    with np.errstate(all="ignore"):
        big = np.abs(e) > max(atol, 1e-12) * 10
        if np.count_nonzero(big) < 2 or not np.all(np.isfinite(g)):      # one number: any ratio fits
            return None
        c = float(np.median(g[big] / e[big]))
    if not np.isfinite(c) or abs(c) < 1e-9 or abs(abs(c) - 1) < 1e-6:
        return None
    return c if close(c * e, g, slice(None), max(rtol, 1e-9), atol) else None


def transposed(expected, given) -> bool:
    """A 2-D answer that is the transpose of the expected one."""
    e, g = np.asarray(expected), np.asarray(given)
    if e.ndim != 3 or g.ndim != 3 or e.shape[1:] != g.shape[:0:-1]:
        return False
    g = np.swapaxes(g, 1, 2)
    g = np.broadcast_to(g, e.shape) if g.shape[0] == 1 else g
    return g.shape == e.shape and close(e, g, slice(None), 1e-6, 1e-9)
