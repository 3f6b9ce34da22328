"""Reports to text for people and JSON for programs: what every command's renderer shares.
Nothing here computes.

Text goes through a `Printer`: plain aligned text in a pipe, a file, a CI log or with
`NO_COLOR` (no rich, no colour, no box), rich tables on a terminal.  Either way a table is
laid out to the width it has (the terminal's; a pipe or a file has no limit): columns of
words (`Col(wrap=True)`) wrap, numbers never do, and a renderer that has more than one
layout picks the first that `fits` (see check/render.py: fewer columns, then fewer digits).
Numbers are written by gradcli.numbers.
"""

from __future__ import annotations

import json
import os
import sys
import textwrap
from typing import NamedTuple

WRAP_MIN = 16        # a column of words keeps at least this many characters when it wraps


def tolist(value):
    """A float or nested lists of floats, for JSON."""
    import numpy as np

    a = np.asarray(value, dtype=float)
    return a.item() if a.ndim == 0 else a.tolist()


def dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------- plain or rich

def no_color() -> bool:
    """NO_COLOR set to anything but the empty string (no-color.org)."""
    return os.environ.get("NO_COLOR", "") != ""


def terminal(stream=None) -> bool:
    """Is `stream` (default stdout) a terminal, as rich decides it: TTY_COMPATIBLE=1/0 and
    FORCE_COLOR override the stream's own isatty()."""
    forced = os.environ.get("TTY_COMPATIBLE", "")
    if forced in ("0", "1"):
        return forced == "1"
    if os.environ.get("FORCE_COLOR") is not None:
        return os.environ["FORCE_COLOR"] != ""
    stream = sys.stdout if stream is None else stream
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError, OSError):
        return False


def plain() -> bool:
    """Plain text: stdout is not a terminal, or NO_COLOR is set."""
    return no_color() or not terminal()


def console(stderr: bool = False):
    """A rich Console on stdout (or stderr): colour only on a terminal and never with NO_COLOR."""
    from rich.console import Console

    stream = sys.stderr if stderr else sys.stdout
    con = Console(file=stream, no_color=no_color(), highlight=False, soft_wrap=False,
                  width=None if terminal(stream) else 200)
    con.on_broken_pipe = _broken_pipe  # rich would exit 1 itself; cli.main decides (docs/errors.md)
    return con


def _broken_pipe():
    raise BrokenPipeError(32, "Broken pipe")


def terminal_width() -> int:
    import shutil

    return shutil.get_terminal_size().columns


# ---------------------------------------------------------------- tables

class Col(NamedTuple):
    header: str
    right: bool = False      # right-aligned (numbers)
    wrap: bool = False       # words that may wrap onto more lines when the table is too wide


class Styled(NamedTuple):
    """A cell (or a line) with a rich style, which plain text drops."""
    text: str
    style: str = ""


def cell_text(cell) -> str:
    return cell.text if isinstance(cell, Styled) else str(cell)


def _natural(cols, rows) -> list[int]:
    return [max([len(line) for line in c.header.split("\n")]
                + [len(line) for row in rows for line in cell_text(row[k]).split("\n")])
            for k, c in enumerate(cols)]


def _least(c: Col, natural: int) -> int:
    """How narrow a column may become: a column of words down to WRAP_MIN (or its header)."""
    return min(natural, max(WRAP_MIN, *(len(h) for h in c.header.split("\n")))) if c.wrap else natural


def needed(cols, rows, boxed: bool = False) -> int:
    """The narrowest width that shows every cell whole: columns of words count at most WRAP_MIN."""
    return _frame([_least(c, w) for c, w in zip(cols, _natural(cols, rows))], boxed)


def _frame(widths, boxed: bool) -> int:
    n = len(widths)
    return sum(widths) + (3 * n + 1 if boxed else 2 * max(n - 1, 0))


def fits(cols, rows, width: int | None, boxed: bool = False) -> bool:
    return width is None or needed(cols, rows, boxed) <= width


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


def _wrapped(cols, rows, width: int | None, boxed: bool = False) -> list[list]:
    """The cells, the columns of words wrapped (at spaces, else anywhere) so that the table fits
    `width` if it can; a Styled cell keeps its style."""
    texts = [list(row) for row in rows]
    if width is None:
        return texts
    widths = _natural(cols, rows)
    over = _frame(widths, boxed) - width
    wrap = [k for k, c in enumerate(cols) if c.wrap and widths[k] > _least(c, widths[k])]
    if over <= 0 or not wrap:
        return texts
    # take the excess from the widest columns of words first, none below its least width
    for k in sorted(wrap, key=lambda k: -widths[k]):
        cut = min(over, widths[k] - _least(cols[k], widths[k]))
        widths[k] -= cut
        over -= cut
    for row in texts:
        for k in wrap:
            lines = [piece for line in cell_text(row[k]).split("\n")
                     for piece in (textwrap.wrap(line, widths[k], break_on_hyphens=False) or [""])]
            row[k] = Styled("\n".join(lines), row[k].style) if isinstance(row[k], Styled) else "\n".join(lines)
    return texts


class Printer:
    """Where a report's text goes: plain lines (`lines`, or standard output as they come), or a
    rich console.  `width`: the columns a table may take (None: no limit)."""

    def __init__(self, con=None, width: int | None = None, collect: bool = False):
        self.con = con
        self.collect = collect
        self.lines: list[str] = []
        self.width = con.width if con is not None else width

    @property
    def rich(self) -> bool:
        return self.con is not None

    def print(self, text="", style: str = "") -> None:
        """A line (or several): `text` a str, a Styled, or a list of those run together."""
        parts = text if isinstance(text, list) else [text]
        if self.con is None:
            self._emit("".join(cell_text(p) for p in parts))
            return
        from rich.text import Text

        line = Text()
        for p in parts:
            if isinstance(p, Styled):
                line.append(p.text, style=p.style or style)
            else:
                line.append(str(p), style=style)
        self.con.print(line)          # prose wraps at words to the terminal's width

    def table(self, cols, rows, title: str | None = None, boxed: bool = False, headers: bool = True) -> None:
        if self.con is None:
            if title:
                self._emit(title)
            texts = [[cell_text(c) for c in row] for row in _wrapped(cols, rows, self.width)]
            text = columns([c.header for c in cols], texts, right=[k for k, c in enumerate(cols) if c.right])
            self._emit(text if headers else text.split("\n", 1)[1] if "\n" in text else "")
            return
        from rich import box
        from rich.table import Table
        from rich.text import Text

        table = Table(title=title, title_justify="left", header_style="bold", show_header=headers,
                      box=box.HEAVY_HEAD if boxed else None, pad_edge=boxed, show_edge=boxed)
        for c in cols:
            table.add_column(c.header, justify="right" if c.right else "left", no_wrap=True)
        for row in _wrapped(cols, rows, self.con.width, boxed):
            table.add_row(*[Text(c.text, style=c.style) if isinstance(c, Styled) else Text(str(c))
                            for c in row])
        # a table that cannot fit even wrapped is printed whole (the terminal folds its lines)
        # rather than cut: a number is never shown in part
        room = max(self.con.width, needed(cols, rows, boxed))
        self.con.print(table, width=room)

    def _emit(self, text: str) -> None:
        if self.collect:
            self.lines.append(text)
        else:   # as rich does: through sys.stdout, which escapes what its encoding cannot take
            sys.stdout.write("".join(line.rstrip() + "\n" for line in text.split("\n")))

    def text(self) -> str:
        """What a collecting printer was given, one line each, no trailing blanks."""
        return "".join(line.rstrip() + "\n" for chunk in self.lines for line in chunk.split("\n"))


def printer(collect: bool = False) -> Printer:
    """A Printer for standard output: rich on a terminal, plain in a pipe or with NO_COLOR (which
    on a terminal still fits its width); `collect`: plain text gathered for a file."""
    if collect:
        return Printer(collect=True)
    if plain():
        return Printer(width=terminal_width() if terminal() else None)
    return Printer(console())


# ---------------------------------------------------------------- fewer digits to fit

FIT_DIGITS = (None, 12, 8, 6)   # exact first, then fewer significant digits


def fit(width: int | None, tables, layouts=(None,)):
    """The first layout, with the most digits, in which every table of `tables(layout)` (a list of
    (cols, rows, boxed), made under gradcli.numbers' digits in force) fits `width`: each layout
    of `layouts` with every digits of FIT_DIGITS in turn, exact first (only the digits asked
    for with --digits, if any).  Returns (digits, layout, note), the note to print when the
    numbers have fewer digits than asked; the last layout at 6 digits when nothing fits."""
    from .numbers import digits, options

    asked = digits()
    tries = [(d, layout) for d in ((asked,) if asked is not None else FIT_DIGITS) for layout in layouts]
    if width is None:
        return asked, layouts[0], None
    for d, layout in tries:
        with options(digits=d):
            if all(fits(cols, rows, width, boxed) for cols, rows, boxed in tables(layout)):
                break
    if d == asked:
        return d, layout, None
    return d, layout, (f"numbers to {d} significant digits to fit {width} columns "
                       f"(--digits 17, --format json or a wider terminal for all of them)")
