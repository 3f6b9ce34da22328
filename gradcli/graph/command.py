"""`gradcli graph`: parse options, call graph.view, hand the report to graph.render."""

from __future__ import annotations

import sys

import click

from ..options import AT, DIGITS, EXAMPLE, SEED, each_file, json_text, with_examples

FORMATS = ["text", "json", "dot", "mermaid", "svg", "png", "html", "python"]


@click.command("graph")
@click.argument("files", nargs=-1, type=click.Path())
@EXAMPLE
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
@DIGITS
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="text", show_default=True)
@click.option("--output", "-o", "output", type=click.Path(dir_okay=False), metavar="PATH",
              help="Write to PATH instead of standard output.")
def graph(files, examples, at, mode, wrt, of, with_paths, limit, seed, digits, fmt, output):
    """The computational graph: each node's value and adjoint, each edge's local partial.

    Text lists the nodes in topological order, like a jaxpr, then the edges with
    the op table's formula for the local partial and its value.  --paths shows
    reverse mode as a sum over paths.  dot, mermaid, svg and png draw the same
    graph (svg and png need Graphviz's `dot` program).  html writes one page that
    steps through the forward and reverse sweeps in a browser.  python prints the
    forward and reverse code the engine compiles, runnable, the file's names as comments.
    """
    files = with_examples(files, examples)
    from . import view
    from ..errors import GradError
    from ..numbers import options

    if fmt in ("svg", "png", "html") and len(files) > 1:
        raise GradError(f"--format {fmt} draws one file at a time; given {len(files)}")
    if fmt == "png" and output is None and sys.stdout.isatty():
        raise GradError("--format png writes binary data: give --output PATH", hint="e.g. --output graph.png")
    reports, status = each_file(files, lambda path: view.run(path, at, seed, wrt, mode, of,
                                                                   with_paths, limit, fmt == "html"))
    if any(not gv.claims_ok or any(not r.agrees for r in gv.paths) for gv in reports):
        status = status or 1
    if output is not None and status == 2:
        sys.exit(status)   # a failed run leaves an existing -o file as it was (docs/errors.md)
    # A write error is a GradError, reported (exit 2) by cli.main. JSON keeps every digit.
    with options(digits=digits):
        _write(reports, files, fmt, output)
    sys.exit(status)


def _write(reports, files, fmt, output) -> None:
    from . import render as gr
    from ..output import emit

    if fmt in ("svg", "png"):
        if reports:
            emit(gr.graphviz(gr.dot(reports[0]), fmt), output)
    elif fmt == "html":
        if reports:
            from .html import page

            emit(page(reports[0]), output)
    elif fmt == "text":
        _text(reports, output)
    elif fmt == "json":
        emit(json_text(files, reports, gr.to_json), output)
    elif fmt == "dot":
        emit("".join(gr.dot(r) for r in reports), output)
    elif fmt == "python":
        from .python import render

        emit("\n\n".join(render(r) for r in reports), output)
    else:
        emit("\n".join(gr.mermaid(r) for r in reports), output)


def _text(reports, output) -> None:
    """The listings: to a terminal (rich, fitted to its width), or plain to a pipe or -o PATH."""
    from . import render as gr
    from ..output import emit
    from ..render import printer

    out = printer(collect=output is not None)
    for i, r in enumerate(reports):
        if i:
            out.print()
        gr.text(r, out, show_file=True)
    if output is not None:
        emit(out.text(), output)
