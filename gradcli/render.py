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
    return Console(file=stream, no_color="NO_COLOR" in os.environ, highlight=False,
                   soft_wrap=False, width=None if stream.isatty() else 200)


def dumps(data) -> str:
    return json.dumps(data, indent=2, ensure_ascii=False)


# ---------------------------------------------------------------- eval

def eval_json(report) -> dict:
    return {"outputs": {o.name: {"value": tolist(o.value),
                                 "grad": {k: tolist(g) for k, g in o.grad.items()}}
                        for o in report.outputs}}


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


def eval_text(report, show_file: bool = False) -> None:
    """A table per output: a rich one on a terminal; plain text in pipes and CI logs, which
    also spares `eval`, the command CI calls most, the import of rich's console."""
    import click

    tables = []
    for out in report.outputs:
        title = f"{out.name} = {number(out.value)}   ({report.mode} mode)"
        header = ["input", "value", f"d({out.name})/d(input)"]
        rows = [[name, number(report.point[name]), number(g)] for name, g in out.grad.items()]
        tables.append((title, header, rows))
    if plain():
        if show_file:
            click.echo(report.file)
        for title, header, rows in tables:
            click.echo(title)
            click.echo(columns(header, rows, right=(1, 2)))
        return
    from rich.table import Table

    con = console()
    if show_file:
        con.print(f"[bold]{report.file}[/bold]")
    for title, header, rows in tables:
        table = Table(title=title, title_justify="left", header_style="bold")
        for k, col in enumerate(header):
            table.add_column(col, justify="right" if k else "left")
        for row in rows:
            table.add_row(*row)
        con.print(table)
