"""Reports to text (rich, for people) and JSON (for programs). Nothing here computes."""

from __future__ import annotations

import json
import os
import sys

import numpy as np


def tolist(value):
    """A float or nested lists of floats, for JSON."""
    a = np.asarray(value, dtype=float)
    return a.item() if a.ndim == 0 else a.tolist()


def number(value, digits: int = 8) -> str:
    """A value for a person: %g for a scalar, numpy's layout for a tensor."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return f"{a.item():.{digits}g}"
    return np.array2string(a, formatter={"float_kind": lambda v: f"{v:.6g}"}, max_line_width=60)


def console(stderr: bool = False):
    """A rich Console: colour only on a terminal and never with NO_COLOR."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    con = Console(file=stream, no_color="NO_COLOR" in os.environ, highlight=False,
                  soft_wrap=False, width=None if stream.isatty() else 200)
    con.on_broken_pipe = _broken_pipe  # rich would exit 1 itself; cli.main decides (docs/errors.md)
    return con


def _broken_pipe():
    raise BrokenPipeError(32, "Broken pipe")


def dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


def plain() -> bool:
    """SPEC section 2: NO_COLOR and non-terminals get plain text."""
    return "NO_COLOR" in os.environ or not sys.stdout.isatty()


def columns(header: list[str], rows: list[list[str]], right=()) -> str:
    """A plain-text table: cells may hold several lines (tensors); no trailing blanks."""
    cells = [[c.split("\n") for c in row] for row in [header, *rows]]
    widths = [max(len(line) for row in cells for line in row[k]) for k in range(len(header))]
    out = []
    for row in cells:
        for j in range(max(len(c) for c in row)):
            parts = []
            for k, c in enumerate(row):
                text = c[j] if j < len(c) else ""
                parts.append(text.rjust(widths[k]) if k in right else text.ljust(widths[k]))
            out.append("  ".join(parts).rstrip())
    return "\n".join(out)
