"""The command line: a group whose commands live in one subpackage each, imported only when run."""

from __future__ import annotations

import click

from . import __version__

# Start-up time is a feature: `gradcli --help` imports none of the commands' modules.
LAZY = {"eval": "gradcli.evaluate.command:eval_cmd", "graph": "gradcli.graph.command:graph",
        "check": "gradcli.check.command:check", "grade": "gradcli.grade.command:grade",
        "init": "gradcli.course.command:init", "bundle": "gradcli.course.command:bundle",
        "examples": "gradcli.course.command:examples"}


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
