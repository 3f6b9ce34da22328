"""`gradcli eval`: parse options, call the API (load(path).eval) per file, hand the reports to evaluate.render."""

from __future__ import annotations

import sys

import click

from ..options import AT, EXAMPLE, SEED, each_file, echo_json, with_examples


@click.command("eval")
@click.argument("files", nargs=-1, type=click.Path())
@EXAMPLE
@AT
@click.option("--wrt", metavar="X,Y", help="Differentiate w.r.t. these inputs only (default: all).")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse", show_default=True)
@SEED
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def eval_cmd(files, examples, at, wrt, mode, seed, fmt):
    """Values of the outputs and their gradients w.r.t. every input."""
    files = with_examples(files, examples)
    from ..api import load
    from . import render

    reports, status = each_file(files, lambda path: load(path).eval(at, wrt, mode, seed))
    if fmt == "json":
        echo_json(files, reports, render.eval_json)
    else:
        for k, r in enumerate(reports):
            if k:
                click.echo()
            render.eval_text(r, show_file=len(files) > 1)
    sys.exit(status)
