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


def eval_text(report, con, show_file: bool = False) -> None:
    from rich.table import Table

    if show_file:
        con.print(f"[bold]{report.file}[/bold]")
    for out in report.outputs:
        con.print(f"{out.name} = {number(out.value)}   ({report.mode} mode)")
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("input")
        table.add_column("value", justify="right")
        table.add_column(f"d({out.name})/d(input)", justify="right")
        for name, g in out.grad.items():
            table.add_row(name, number(report.point[name]), number(g))
        con.print(table)
