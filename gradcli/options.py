"""What the file commands share: the --at, --seed and --example options, the per-file loop,
JSON output."""

from __future__ import annotations

import click

AT = click.option("--at", "at", multiple=True, metavar="NAME=EXPR",
                  help="An input's value, an expression of the language (repeatable).")


def _complete_example(ctx, param, incomplete):
    from . import shipped

    return [name for name in shipped.examples() if name.startswith(incomplete)]


EXAMPLE = click.option("--example", "examples", multiple=True, metavar="NAME", shell_complete=_complete_example,
                       help="A lecture example shipped with gradcli, besides or instead of FILES "
                            "(repeatable; `gradcli examples` lists them).")
DIGITS = click.option("--digits", type=click.IntRange(1, 17), default=None, metavar="N",
                      help="Write numbers to N significant digits (default: exactly, the shortest text that "
                           "reads back as the same float).")
SEED = click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
                    help="Seed for randn/rand initialisers and random points.")


def example_path(name: str, param_hint: str = "--example"):
    """The shipped example `name`: `lecture_sin`, `lecture_sin.grad` or `examples/lecture_sin.grad`."""
    from . import shipped

    stem = name.removeprefix("examples/").removesuffix(".grad")
    try:
        return shipped.example(stem)
    except KeyError:
        from .errors import did_you_mean

        near = did_you_mean(stem, shipped.examples())
        raise click.BadParameter(f"no shipped example {name!r}" + (f"; {near}" if near else "")
                                 + " (`gradcli examples` lists them)", param_hint=param_hint) from None


def with_examples(files, examples) -> list[str]:
    """FILES, then the files of the --example names; a usage error when there is neither."""
    if not files and not examples:
        raise click.UsageError("give a FILE, or --example NAME for a shipped example")
    import os

    paths = list(files)
    for name in examples:
        path = example_path(name)
        try:  # shown as the user would type it: relative where it is under the current folder
            rel = os.path.relpath(path)
            paths.append(str(path) if rel.split(os.sep)[0] == ".." else rel)
        except ValueError:  # another drive (Windows)
            paths.append(str(path))
    return paths


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
