"""The command line: thin commands that parse options, call the core, hand a report to a renderer."""

from __future__ import annotations

import sys

import click

from . import __version__

AT = click.option("--at", "at", multiple=True, metavar="NAME=EXPR",
                  help="An input's value, an expression of the language (repeatable).")
SEED = click.option("--seed", type=int, default=0, show_default=True,
                    help="Seed for randn/rand initialisers and random points.")


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
    from .errors import GradError

    reports, status = [], 0
    for path in files:
        try:
            reports.append(evaluate.run(path, at, seed, wrt, mode))
        except GradError as err:
            click.echo(err.render(), err=True)
            status = err.status
    if fmt == "json":
        data = [render.eval_json(r) for r in reports]
        if len(files) == 1:
            if data:
                click.echo(render.dumps(data[0]))
        else:
            click.echo(render.dumps({r.file: d for r, d in zip(reports, data)}))
    else:
        con = render.console()
        for r in reports:
            render.eval_text(r, con, show_file=len(files) > 1)
    sys.exit(status)

