"""`gradcli init`, `gradcli bundle gradescope` and `gradcli examples`: thin; the work is in
skeleton.py, gradescope.py and gradcli.shipped."""

from __future__ import annotations

import sys
from pathlib import Path

import click


def _fail(err) -> None:
    click.echo(err.render(), err=True)
    sys.exit(err.status)


@click.command("init")
@click.argument("directory", type=click.Path(path_type=Path))
@click.option("--students", is_flag=True,
              help="The students' repository: no solutions, and CI grades the answers. Default: the "
                   "instructors' repository, with the solutions, and CI self-tests them.")
@click.option("--exercises", "source", type=click.Path(path_type=Path), metavar="DIR",
              help="Take the exercises from DIR (default: the lecture exercises shipped with gradcli).")
@click.option("--install", metavar="REQUIREMENT",
              help="Install gradcli in the course from this pip requirement, such as a git URL, written to "
                   "tools/requirements.txt (default: a wheel of the running gradcli, written to tools/).")
def init(directory, students, source, install):
    """Write a course repository in DIRECTORY: the exercises, a GitHub Actions workflow, a
    GitLab CI file, a README for students, and tools/ from which CI, Gradescope and
    students install gradcli.

    DIRECTORY may exist; no file in it is ever overwritten (if one would be, nothing is
    written).
    """
    from ..errors import GradError
    from . import files, skeleton

    try:
        plan = skeleton.plan(source, students, install)
        files.write_new(directory, plan.files)
    except GradError as err:
        _fail(err)
    n = len(plan.exercises)
    with_solutions = "without" if students else "with"
    click.echo(f"{directory}/: wrote {len(plan.files)} files")
    click.echo(f"  exercises/  {n} exercise{'s' if n != 1 else ''} ({plan.exercises[0].id}"
               f"{' … ' + plan.exercises[-1].id if n > 1 else ''}), {with_solutions} solutions")
    for f in plan.files:
        if not f.path.startswith("exercises/"):
            click.echo(f"  {f.path}")
    first = "gradcli grade exercises/" if students else "gradcli grade --self-test exercises/"
    click.echo(f"next: cd {directory} && {first}")


@click.group("bundle")
def bundle():
    """Package exercises for a grading platform (Gradescope)."""


@bundle.command("gradescope")
@click.argument("exercises", type=click.Path(path_type=Path))
@click.option("--output", "-o", type=click.Path(dir_okay=False, path_type=Path), default="autograder.zip",
              show_default=True, help="The zip to write (replaced whole, or left as it was if this fails).")
def gradescope(exercises, output):
    """A Gradescope autograder: setup.sh, run_autograder, the EXERCISES without their
    solutions, and gradcli itself (a wheel; only numpy, lark, click and rich come from PyPI).

    Upload the zip as a "Zip file upload" autograder on an Ubuntu 22.04 or newer image.
    """
    from ..errors import GradError
    from ..output import write_file
    from .gradescope import bundle as make

    try:
        data, found = make(exercises)
        write_file(output, data)
    except GradError as err:
        _fail(err)
    click.echo(f"{output}: {len(found)} exercise{'s' if len(found) != 1 else ''} and gradcli, "
               f"{len(data) / 1024:.0f} KiB")


@click.command("examples")
@click.argument("name", required=False)
@click.option("--path", "show_path", is_flag=True,
              help="Print where the examples are: their folder, or NAME's file.")
def examples(name, show_path):
    """The lecture examples shipped with gradcli: list them, or print example NAME.

    Run one with `gradcli eval --example NAME` (graph and check take --example too);
    `gradcli examples NAME > mine.grad` gives a copy to edit.
    """
    from .. import shipped
    from ..options import example_path

    if name is None:
        if show_path:
            click.echo(shipped.path("examples"))
            return
        found = shipped.examples()
        width = max(map(len, found))
        from ..render import terminal, terminal_width

        room = terminal_width() if terminal() else None
        for stem, path in found.items():
            line = f"{stem:<{width}}  {_summary(path)}".rstrip()
            click.echo(line if room is None or len(line) < room else line[: room - 2] + "…")
        return
    path = example_path(name, "NAME")
    click.echo(path if show_path else path.read_text(encoding="utf-8"), nl=show_path)


def _summary(path: Path) -> str:
    """An example's opening comment, up to its first full stop, without the "Lecture example:"
    every one starts with."""
    words = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.startswith("#"):
            break
        words.append(line.lstrip("#").strip())
        if words[-1].endswith("."):
            break
    return " ".join(words).removeprefix("Lecture example:").strip()
