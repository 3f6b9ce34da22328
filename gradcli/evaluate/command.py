"""`gradcli eval`: parse options, call the API (load(path).eval) per file, hand the reports to evaluate.render."""

from __future__ import annotations

import sys

import click

from ..options import AT, DIGITS, EXAMPLE, SEED, each_file, echo_json, with_examples


@click.command("eval")
@click.argument("files", nargs=-1, type=click.Path())
@EXAMPLE
@AT
@click.option("--wrt", metavar="X,Y", help="Differentiate w.r.t. these inputs only (default: all).")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse", show_default=True)
@SEED
@DIGITS
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def eval_cmd(files, examples, at, wrt, mode, seed, digits, fmt):
    """Values of the outputs and their gradients w.r.t. every input."""
    files = with_examples(files, examples)
    from ..api import load
    from ..numbers import options
    from ..render import printer
    from . import render

    reports, status = each_file(files, lambda path: load(path).eval(at, wrt, mode, seed))
    if fmt == "json":
        echo_json(files, reports, render.eval_json)
    else:
        out = printer()
        with options(digits=digits):
            for k, r in enumerate(reports):
                if k:
                    out.print()
                render.eval_text(r, show_file=len(files) > 1, out=out)
    sys.exit(status)
