"""How gradcli writes numbers for people: the one formatter every command uses.

`num(x)` is the shortest text that reads back as the same float (Python's `repr`), a
whole number without `.0` and -0 as `0`; `num(x, 6)` rounds to 6 significant digits
(`%g`).  Without `digits`, the `digits` in force (`with options(digits=N):`, as the
commands' `--digits N` sets it, like numpy's `printoptions`) applies.  Tensors are written
in the language's own syntax: `nested` on one line (`[[1, 0.5], [-2, 3]]`), `block` over
several lines with the columns aligned (`eval`'s tables).  JSON never goes through here:
its numbers are the floats themselves.

Nothing here imports more than numpy; the lowest layers (the engine's error messages)
may use it.
"""

from __future__ import annotations

import contextlib
import contextvars
import math

import numpy as np

_DIGITS: contextvars.ContextVar[int | None] = contextvars.ContextVar("gradcli_digits", default=None)

EDGE = 3              # a long axis of a large tensor shows its first and last 3 entries
SUMMARY_AT = 1000     # ... in a tensor of more than this many elements (as numpy does)
ELLIPSIS = "…"


@contextlib.contextmanager
def options(digits: int | None = None):
    """Within the block, numbers are written to `digits` significant digits (None: exactly)."""
    token = _DIGITS.set(digits)
    try:
        yield
    finally:
        _DIGITS.reset(token)


def digits() -> int | None:
    """The significant digits in force (None: the shortest exact text)."""
    return _DIGITS.get()


def num(x, digits: int | None = None) -> str:
    """A number for a person: `repr`-exact by default, or to `digits` significant digits."""
    x = float(x)
    if digits is None:
        digits = _DIGITS.get()
    if not math.isfinite(x):
        return "nan" if x != x else ("inf" if x > 0 else "-inf")
    if digits is None:
        if x.is_integer() and abs(x) < 1e16:
            return str(int(x))
        return repr(x)
    text = f"{x:.{digits}g}"
    return "0" if text == "-0" else text


def exact(x) -> str:
    """A number as the language would write it back, whatever `--digits` says (a literal)."""
    token = _DIGITS.set(None)
    try:
        return num(x)
    finally:
        _DIGITS.reset(token)


def nested(value, digits: int | None = None) -> str:
    """A scalar, or a tensor as nested lists on one line: `[[1, 0], [0.5, -2]]`."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return num(a.item(), digits)
    return "[" + ", ".join(nested(row, digits) for row in a) + "]"


def _picked(n: int, cut: bool) -> tuple[list[int], int | None]:
    """The indices of an axis that are shown, and where `…` stands for the others (None: nowhere)."""
    if cut and n > 2 * EDGE:
        return [*range(EDGE), *range(n - EDGE, n)], EDGE
    return list(range(n)), None


def block(value, digits: int | None = None) -> str:
    """A scalar, a vector on one line, or a matrix (any tensor) over several lines, each
    column right-aligned, in the language's syntax; above SUMMARY_AT elements, the first and
    last EDGE entries of each long axis with `…` between."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return num(a.item(), digits)
    cut = a.size > SUMMARY_AT
    picks = [_picked(n, cut) for n in a.shape]
    shown = a[np.ix_(*[p for p, _ in picks])] if cut else a
    texts = np.array([num(v, digits) for v in shown.ravel()], dtype=object).reshape(shown.shape)
    widths = [max((len(t) for t in texts[..., j].ravel()), default=0) for j in range(shown.shape[-1])]
    return "\n".join(_lines(texts, [g for _, g in picks], widths, 0))


def _lines(texts, gaps, widths, depth) -> list[str]:
    if texts.ndim == 1:
        cells = [t.rjust(w) for t, w in zip(texts, widths)]
        if gaps[-1] is not None:
            cells.insert(gaps[-1], ELLIPSIS)
        return ["[" + ", ".join(cells) + "]"]
    parts = [_lines(sub, gaps, widths, depth + 1) for sub in texts]
    if gaps[depth] is not None:
        parts.insert(gaps[depth], [ELLIPSIS])
    blank = texts.ndim - 2          # numpy's layout: a blank line between blocks of matrices
    out: list[str] = []
    for k, part in enumerate(parts):
        last = k == len(parts) - 1
        for i, line in enumerate(part):
            lead = "[" if k == 0 and i == 0 else " "
            out.append(lead + line + ("" if i < len(part) - 1 else ("]" if last else ",")))
        if not last:
            out += [""] * blank
    return out


def shape_words(shape) -> str:
    """A shape for people: 'a number', 'a vector of 3', 'a 2×3 matrix', 'a 2×2×2 tensor'."""
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"a vector of {shape[0]}"
    return "a " + "×".join(str(s) for s in shape) + (" matrix" if len(shape) == 2 else " tensor")
