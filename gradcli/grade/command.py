"""`gradcli grade DIR`: thin; options to the grade package, a gradebook to a renderer."""

from __future__ import annotations

import io
import math
import sys

import click

from ..options import ANSWER_LIMITS, limit_options, limits_of

TIME_LIMIT = "not graded: time limit"   # as grade.batch.TIME_LIMIT begins (no numpy at start-up)
FORMATS = ["table", "text", "json", "junit", "gradescope", "csv", "markdown"]  # text: table


def _min_score(text: str | None, max_score: float) -> float | None:
    if text is None:
        return None
    try:
        value = float(text[:-1]) / 100.0 * max_score if text.endswith("%") else float(text)
        if not math.isfinite(value):
            raise ValueError(text)
        return value
    except ValueError:
        raise click.BadParameter(f"{text!r}: a number of points or a percentage such as 80%",
                                 param_hint="--min-score") from None


@click.command("grade")
@click.argument("directory", type=click.Path())
@click.option("--answers", type=click.Path(), metavar="PATH",
              help="One student's answers: a folder (ID/answer.grad or ID.grad per exercise), or a "
                   ".grad file for a single exercise. Default: each exercise's own answer file.")
@click.option("--submissions", type=click.Path(), metavar="DIR",
              help="Grade a class: one folder per student inside DIR, into one gradebook.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report here, not to stdout.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Seed for the random points (default: each exercise's).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes for --submissions (0: one per CPU).")
@click.option("--min-score", metavar="S", help="Exit 1 only when a score is below S (points, or a percentage "
              "like 80%) instead of whenever an item fails.")
@click.option("--time-limit", type=click.FloatRange(min=0), default=30.0, show_default=True,
              help="Seconds per answer: a last guard (the budgets below keep answers far below it); an answer "
                   "it stops is not graded but marked to be graded again.")
@limit_options(ANSWER_LIMITS, "an answer")
@click.option("--self-test", is_flag=True, help="Check the exercises: each solution.grad scores full marks, "
              "each answer template zero without an error.")
@click.option("--progress/--no-progress", default=None, help="A progress bar (default: on a terminal, for "
              "long runs).")
def grade(directory, answers, submissions, fmt, output, seed, jobs, min_score, time_limit, max_nodes,
          max_elements, max_work, self_test, progress):
    """Grade answers to the exercises in DIRECTORY (SPEC section 3)."""
    from . import formats, runner
    from .batch import Limits

    graph = limits_of("answer", max_nodes, max_elements, max_work)

    if answers and submissions:
        raise click.UsageError("give --answers or --submissions, not both")
    if fmt == "gradescope" and submissions:
        raise click.UsageError("--format gradescope reports on one student; use --answers, not --submissions")
    if self_test:
        if fmt not in ("table", "text", "json"):
            raise click.BadParameter(f"--self-test reports as a table or JSON, not {fmt}", param_hint="--format")
        exercises = runner.load_all(directory, seed)    # a GradError: reported by cli.main, exit 2
        sys.exit(_self_test(exercises, Limits(graph=graph, time_limit=time_limit), fmt))
    from ..api import grade as grade_all

    with _Bar(progress) as bar:
        book = grade_all(directory, answers, submissions=submissions, seed=seed, jobs=jobs,
                         time_limit=time_limit, limits=graph, progress=bar.update)
    threshold = _min_score(min_score, book.max_score)
    if fmt == "text":  # the name the other commands use for their tables
        fmt = "table"
    if fmt == "table":
        from ..render import console

        if output:
            from rich.console import Console

            buf = io.StringIO()
            formats.table(book, Console(file=buf, no_color=True, width=120, highlight=False))
            text = buf.getvalue()
        else:
            formats.table(book, console())
            text = None
    else:
        text = formats.FORMATS[fmt](book)
    if text is not None:
        from ..output import emit

        emit(text, output)    # -o: atomically, a failed run leaves the old report whole
    timed = [s.id for s in book.students if any((e.error or "").startswith(TIME_LIMIT) for e in s.exercises)]
    regrade = [s.id for s in book.students if s.regrade and s.id not in timed]
    for ids, what in ((regrade, f"the grader failed on {len(regrade)} submission(s), marked '{runner.GRADER_ERROR}'"),
                      (timed, f"{len(timed)} submission(s) ran out of time, marked '{TIME_LIMIT} (machine busy?)'")):
        if ids:  # the gradebook is not complete: not a student's fault, so never 0 or 1
            shown = ", ".join(ids[:10]) + (f" and {len(ids) - 10} more" if len(ids) > 10 else "")
            click.echo(f"error: {what}: {shown}", err=True)
    if regrade or timed:
        sys.exit(2)
    if threshold is not None:
        sys.exit(1 if any(s.score < threshold - 1e-9 for s in book.students) else 0)
    sys.exit(0 if book.passed else 1)


class _Bar:
    """A progress bar on stderr (default: on a terminal, for 50 answers or more), fed by the API's
    progress(done, total) and started at its first call."""

    def __init__(self, show: bool | None):
        self.show, self.bar, self.task = show, None, None

    def update(self, done: int, total: int) -> None:
        if self.bar is None:
            if not (self.show or (self.show is None and sys.stderr.isatty() and total >= 50)):
                return
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

            from ..render import console

            self.bar = Progress(TextColumn("grading"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                                console=console(stderr=True), transient=True)
            self.bar.start()
            self.task = self.bar.add_task("grading", total=total)
        self.bar.update(self.task, completed=done, total=total)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.stop()


def _self_test(exercises, limits, fmt) -> int:
    from . import runner

    rows = runner.self_test(exercises, limits)
    bad = [r for r in rows if not r[2]]
    if fmt == "json":
        import json

        click.echo(json.dumps({"passed": not bad, "checks": [
            {"exercise": e, "file": f, "passed": ok, "message": m} for e, f, ok, m in rows]}, indent=2))
    else:
        from rich.table import Table
        from rich.text import Text

        from ..render import console

        t = Table(title="self-test", title_justify="left", header_style="bold")
        for col in ("exercise", "file", "", "result"):
            t.add_column(col)
        for e, f, ok, m in rows:
            t.add_row(e, f, Text("ok" if ok else "FAIL", style="green" if ok else "red"), m)
        console().print(t)
    return 1 if bad else 0
