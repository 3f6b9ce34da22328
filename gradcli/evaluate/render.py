"""`eval` reports to text (plain or rich) and JSON. Nothing here computes."""

from __future__ import annotations

from ..render import columns, console, number, plain, tolist


def eval_json(report) -> dict:
    return {"outputs": {o.name: {"value": tolist(o.value),
                                 "grad": {k: tolist(g) for k, g in o.grad.items()}}
                        for o in report.outputs}}


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
        from rich.text import Text

        con.print(Text(report.file, style="bold"))
    for title, header, rows in tables:
        table = Table(title=title, title_justify="left", header_style="bold")
        for k, col in enumerate(header):
            table.add_column(col, justify="right" if k else "left")
        for row in rows:
            table.add_row(*row)
        con.print(table)
