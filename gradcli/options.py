"""What the file commands share: the --at and --seed options, the per-file loop, JSON output."""

from __future__ import annotations

import click

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
    from .output import emit

    emit(json_text(files, reports, to_json))
