"""`gradcli graph`: parse options, call graph.view, hand the report to graph.render."""

from __future__ import annotations

import sys

import click

from ..options import AT, SEED, each_file, json_text

FORMATS = ["text", "json", "dot", "mermaid", "svg", "png", "python"]


@click.command("graph")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@AT
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse", show_default=True,
              help="forward: also show each node's tangent d(node)/d(x) for the --wrt inputs.")
@click.option("--wrt", metavar="X,Y", help="Inputs for the tangents and the paths (default: all).")
@click.option("--of", "of", metavar="NAME", help="The node whose adjoints and paths are shown "
              "(default: the first output).")
@click.option("--paths", "with_paths", is_flag=True,
              help="List the paths from the output back to each --wrt input, with the product "
                   "of the local partials along each, and their sum.")
@click.option("--limit", type=click.IntRange(0, 100_000), default=50, show_default=True,
              help="List at most this many paths per input; the rest are counted.")
@SEED
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), metavar="PATH",
              help="Write to PATH instead of standard output.")
def graph(files, at, mode, wrt, of, with_paths, limit, seed, fmt, output):
    """The computational graph: each node's value and adjoint, each edge's local partial.

    Text lists the nodes in topological order, like a jaxpr, then the edges with
    the op table's formula for the local partial and its value.  --paths shows
    reverse mode as a sum over paths.  dot, mermaid, svg and png draw the same
    graph (svg and png need Graphviz's `dot` program).  python prints the forward
    and reverse code the engine compiles, runnable, the file's names as comments.
    """
    from . import render as gr
    from . import view
    from ..errors import GradError

    try:
        if fmt in ("svg", "png") and len(files) > 1:
            raise GradError(f"--format {fmt} draws one file at a time; given {len(files)}")
        if fmt == "png" and output is None and sys.stdout.isatty():
            raise GradError("--format png writes binary data: give --output PATH",
                            hint="e.g. --output graph.png")
    except GradError as err:
        click.echo(err.render(), err=True)
        sys.exit(err.status)
    reports, status = each_file(files, lambda path: view.run(path, at, seed, wrt, mode, of,
                                                                   with_paths, limit))
    if any(not gv.claims_ok or any(not r.agrees for r in gv.paths) for gv in reports):
        status = status or 1
    try:
        if fmt in ("svg", "png"):
            if reports:
                _write_bytes(gr.graphviz(gr.dot(reports[0]), fmt), output)
        elif fmt == "text":
            _text(reports, output)
        else:
            if fmt == "json":
                body = json_text(files, reports, gr.to_json)
            elif fmt == "dot":
                body = "".join(gr.dot(r) for r in reports)
            elif fmt == "python":
                from . import python

                body = "\n\n".join(python.render(r) for r in reports)
            else:
                body = "\n".join(gr.mermaid(r) for r in reports)
            _write_text(body, output)
    except GradError as err:
        click.echo(err.render(), err=True)
        status = err.status
    sys.exit(status)


def _open(output, mode):
    from ..errors import GradError

    try:
        return open(output, mode, **({} if "b" in mode else {"encoding": "utf-8"}))
    except OSError as err:
        raise GradError(f"--output {output}: {err.strerror or err}") from None


def _write_text(body: str, output) -> None:
    if output is None:
        click.echo(body, nl=False)
        return
    with _open(output, "w") as fh:
        fh.write(body)


def _write_bytes(body: bytes, output) -> None:
    if output is None:
        stream = click.get_binary_stream("stdout")
        stream.write(body)
        stream.flush()
        return
    with _open(output, "wb") as fh:
        fh.write(body)


def _text(reports, output) -> None:
    from . import render as gr
    from ..render import console

    def show(con):
        for i, r in enumerate(reports):
            if i:
                con.print()
            gr.text(r, con, show_file=True)

    if output is None:
        con = console()
        if con.is_terminal:
            show(con)
            return
        with con.capture() as cap:  # plain text: no trailing blanks from table padding
            show(con)
        click.echo(_rstrip(cap.get()), nl=False)
        return
    from rich.console import Console

    con = Console(no_color=True, color_system=None, highlight=False, soft_wrap=False, width=200)
    with con.capture() as cap:
        show(con)
    _write_text(_rstrip(cap.get()), output)


def _rstrip(text: str) -> str:
    return "\n".join(line.rstrip() for line in text.split("\n"))
