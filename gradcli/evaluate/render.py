"""`eval` reports to text (plain, or rich on a terminal) and JSON. Nothing here computes."""

from __future__ import annotations

from ..numbers import block
from ..render import Col, Styled, fits, printer, tolist


def eval_json(report) -> dict:
    return {"outputs": {o.name: {"value": tolist(o.value),
                                 "grad": {k: tolist(g) for k, g in o.grad.items()}}
                        for o in report.outputs}}


def eval_text(report, show_file: bool = False, out=None) -> None:
    """A table per output: a boxed rich one on a terminal; plain aligned text in pipes and CI
    logs, which also spares `eval`, the command CI calls most, the import of rich's console.
    Tensors over several lines, their columns aligned."""
    out = out or printer()
    if show_file:
        out.print(Styled(report.file, "bold"))
    for o in report.outputs:
        value = block(o.value)
        title = f"{o.name} = {value}   ({report.mode} mode)" if "\n" not in value else \
            f"{o.name} =   ({report.mode} mode)\n{value}"
        cols = [Col("input"), Col("value", right=True), Col(f"d({o.name})/d(input)", right=True)]
        rows = [[name, _cell(block(report.point[name])), _cell(block(g))] for name, g in o.grad.items()]
        if fits(cols, rows, out.width, boxed=out.rich):
            out.table(cols, rows, title=title, boxed=out.rich)
            continue
        out.print(title)      # too wide for the terminal: each value under its name instead
        for name, g in o.grad.items():
            out.print([Styled(name, "bold"), " ="])
            out.print(block(report.point[name]))
            out.print([Styled(f"d({o.name})/d({name})", "bold"), " ="])
            out.print(block(g))


def _cell(text: str) -> str:
    """A tensor's lines padded to one width, so that a right-aligned column keeps its columns."""
    lines = text.split("\n")
    width = max(map(len, lines))
    return "\n".join(line.ljust(width) for line in lines)
