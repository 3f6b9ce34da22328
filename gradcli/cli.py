"""The command line: thin commands that parse options, call the core, hand a report to a renderer."""

from __future__ import annotations

import sys

import click

from . import __version__

AT = click.option("--at", "at", multiple=True, metavar="NAME=EXPR",
                  help="An input's value, an expression of the language (repeatable).")
SEED = click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
                    help="Seed for randn/rand initialisers and random points.")


def each_file(files, run):
    """run(path) for every file; a bad file prints FILE:LINE:COL and the rest go on.

    Returns the reports and the exit status so far (2 if any file was bad).
    """
    from .errors import GradError

    reports, status = [], 0
    for path in files:
        try:
            reports.append(run(path))
        except GradError as err:
            click.echo(err.render(), err=True)
            status = max(status, err.status)
    return reports, status


def json_text(files, reports, to_json) -> str:
    """One file: its object; several: an object keyed by file path ("" if nothing to say)."""
    from .render import dumps

    if len(files) == 1:
        return dumps(to_json(reports[0])) + "\n" if reports else ""
    return dumps({r.file: to_json(r) for r in reports}) + "\n"


def echo_json(files, reports, to_json) -> None:
    click.echo(json_text(files, reports, to_json), nl=False)


# Commands in modules of their own, imported only when run (start-up time is a feature).
LAZY = {"graph": "gradcli.graphcmd:graph", "check": "gradcli.checkcmd:check",
        "grade": "gradcli.gradecmd:grade"}


class Commands(click.Group):
    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *LAZY])

    def get_command(self, ctx, name):
        if name in LAZY:
            import importlib

            module, attr = LAZY[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcli")
def main():
    """Check gradients of .grad computational graphs and grade autodiff exercises."""


@main.command("eval")
@click.argument("files", nargs=-1, required=True, type=click.Path())
@AT
@click.option("--wrt", metavar="X,Y", help="Differentiate w.r.t. these inputs only (default: all).")
@click.option("--mode", type=click.Choice(["reverse", "forward"]), default="reverse", show_default=True)
@SEED
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def eval_cmd(files, at, wrt, mode, seed, fmt):
    """Values of the outputs and their gradients w.r.t. every input."""
    from . import evaluate, render

    reports, status = each_file(files, lambda path: evaluate.run(path, at, seed, wrt, mode))
    if fmt == "json":
        echo_json(files, reports, render.eval_json)
    else:
        for k, r in enumerate(reports):
            if k:
                click.echo()
            render.eval_text(r, show_file=len(files) > 1)
    sys.exit(status)

