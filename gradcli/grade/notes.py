"""Answer notes: short names for common mistakes, tried only on a failed item.

Like STACK's answer notes: each compares the given value with what one mistake would
have given, at the same sample points and with the item's own test (significant
figures for a number, rtol/atol for a formula), and names the mistake if it fits.
The candidates themselves (a path left out, a product rule with swapped partials, ...)
are computed in tasks.py from whatif.py's passes; this module holds the names and
the checks that need nothing but the two values.
"""

from __future__ import annotations

import numpy as np

from ..numbers import num

SIGN = "sign-error"
INNER = "missing-inner-factor"
SWAPPED = "forward-reverse-swapped"
NUMBER = "number-not-formula"
FORMULA = "formula-not-number"
DOMAIN = "domain-differs"
MISSING = "missing"
NAMES = "names-swapped"
SHAPE = "shape"
TRANSPOSED = "transposed"
FACTOR = "constant-factor"
STRUCTURE = "not-decomposed"
REPEATED = "computed-twice"
ERROR = "error"
DUPLICATE = "duplicate-claim"
MISSING_PATH = "missing-path"
PATHS_MULTIPLIED = "paths-multiplied"
PARTIALS_SWAPPED = "partials-swapped"
WRONG_VARIABLE = "wrong-variable"
LOCAL_TOTAL = "local-vs-total"
WRONG_BRANCH = "wrong-branch"
ALL_OUTPUTS = "all-outputs-seeded"
ROWS_COLUMNS = "rows-columns-swapped"
ONEHOT = "forgot-onehot"
DIGITS = "needs-more-digits"
FOLLOW = "follow-through"
CHOICE = "not-a-choice"
ANSWERS_SWAPPED = "answers-swapped"

ZERO = 1e-12    # an expected value this small (relative to the point's largest) is exactly 0


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


def sig_ok(expected, given, n: int) -> np.ndarray:
    """Elementwise: given is expected to n significant figures (half a unit in the n-th digit);
    where expected is exactly 0, |given| is at most half a unit in the n-th decimal place."""
    e = np.asarray(expected, dtype=float)
    g = np.asarray(given, dtype=float)
    with np.errstate(all="ignore"):
        a = np.abs(e)
        flat = a.reshape(a.shape[0], -1) if a.ndim else a.reshape(1, 1)
        scale = np.max(flat, axis=1, initial=0.0).reshape((-1,) + (1,) * (a.ndim - 1)) if a.ndim else flat[0, 0]
        zero = a <= ZERO * np.maximum(1.0, scale)
        digit = np.floor(np.log10(np.where(zero, 1.0, a)))
        tol = np.where(zero, 0.5 * 10.0 ** -n, 0.5 * 10.0 ** (digit - n + 1)) * (1 + 1e-9)
        return (np.abs(g - e) <= tol) | ~np.isfinite(e)


def digits(expected, given, n: int) -> int:
    """How many significant figures (up to n) of expected given gets right everywhere: 0 if none."""
    for k in range(n, 0, -1):
        if np.all(sig_ok(expected, given, k)):
            return k
    return 0


def generic(expected, given, same, idx=slice(None)) -> tuple[str, str] | None:
    """(note, message) for a sign error, a transpose or a constant factor, or None.

    same(value) says whether given matches value by the item's test (at the points idx)."""
    e = np.asarray(expected)
    with np.errstate(all="ignore"):
        nonzero = np.any(np.abs(e[np.isfinite(e)]) > 1e-12)
    if nonzero and same(-e):
        return SIGN, "sign error: your answer is the negative of the expected value"
    if e.ndim == 3 and e.shape[1] == e.shape[2] and same(np.swapaxes(e, 1, 2)) and not same(e):
        return TRANSPOSED, "your answer is the transpose of the expected value"
    ratio = _ratio(e[idx], np.asarray(given)[idx])
    if ratio is not None and same(ratio * e):
        return FACTOR, f"your answer is {num(ratio, 6)} times the expected value: a constant factor is off"
    return None


def _ratio(e, g) -> float | None:
    """c when given ≈ c·expected, for one constant c other than ±1 and 0 (at least two
    different nonzero entries or points, else any ratio fits)."""
    with np.errstate(all="ignore"):
        if g.shape != e.shape:
            return None
        big = np.isfinite(e) & (np.abs(e) > 1e-9)
        if np.count_nonzero(big) < 2 or not np.all(np.isfinite(g[big])):
            return None
        if np.ptp(e[big]) <= 1e-9 * np.max(np.abs(e[big])):
            return None
        c = float(np.median(g[big] / e[big]))
    if not np.isfinite(c) or abs(c) < 1e-9 or abs(abs(c) - 1) < 1e-6:
        return None
    return c


def transposed(expected, given) -> bool:
    """A 2-D answer that is the transpose of the expected one."""
    e, g = np.asarray(expected), np.asarray(given)
    if e.ndim != 3 or g.ndim != 3 or e.shape[1:] != g.shape[:0:-1]:
        return False
    g = np.swapaxes(g, 1, 2)
    g = np.broadcast_to(g, e.shape) if g.shape[0] == 1 else g
    return g.shape == e.shape and close(e, g, slice(None), 1e-6, 1e-9)


def trivial(value, idx) -> bool:
    """Every entry is 0, 1 or -1 at the points idx: a value any wrong number may equal by luck,
    and never a factor worth multiplying by."""
    v = np.asarray(value, dtype=float)[idx]
    with np.errstate(all="ignore"):
        return bool(np.all((np.abs(v) < 1e-9) | (np.abs(np.abs(v) - 1) < 1e-9)))


def unit(value, idx) -> bool:
    """Every entry is 0 or 1 at the points idx: multiplying by it changes nothing worth saying."""
    v = np.asarray(value, dtype=float)[idx]
    with np.errstate(all="ignore"):
        return bool(np.all((np.abs(v) < 1e-9) | (np.abs(v - 1) < 1e-9)))
