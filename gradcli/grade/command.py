"""`gradcli grade DIR`: thin; options to the grade package, a gradebook to renderers."""

from __future__ import annotations

import math
import sys

import click

FORMATS = ["table", "text", "json", "junit", "gradescope", "csv", "markdown"]  # text: table
MACHINE = {"json", "junit", "gradescope", "csv", "markdown"}


def _min_score(text: str | None, max_score: float) -> float | None:
    """--min-score as points: a number of points up to the maximum, or a percentage up to 100%."""
    if text is None:
        return None
    try:
        pct = text.endswith("%")
        value = float(text[:-1] if pct else text)
        if not math.isfinite(value):
            raise ValueError(text)
    except ValueError:
        raise click.BadParameter(f"{text!r}: a number of points or a percentage such as 80%",
                                 param_hint="--min-score") from None
    if value < 0:
        raise click.BadParameter(f"{text!r}: a score cannot be negative", param_hint="--min-score")
    if pct and value > 100:
        raise click.BadParameter(f"{text!r}: a percentage of at most 100%", param_hint="--min-score")
    if not pct and value > max_score + 1e-9:
        raise click.BadParameter(f"{text!r}: more than the {_n(max_score)} points there are "
                                 f"(at most {_n(max_score)}, or a percentage)", param_hint="--min-score")
    return value / 100.0 * max_score if pct else value


def _n(x) -> str:
    from ..numbers import num

    return num(x)


def _report(ctx, param, values) -> list[tuple[str, str]]:
    """--report FORMAT=FILE, repeatable: [(format, file)], each file once."""
    out = []
    for value in values:
        fmt, eq, path = value.partition("=")
        fmt = fmt.strip().lower()
        if not eq or not path:
            raise click.BadParameter(f"{value!r}: FORMAT=FILE, such as junit=report.xml", param_hint="--report")
        if fmt not in FORMATS:
            raise click.BadParameter(f"{value!r}: unknown format {fmt!r} (choose {', '.join(FORMATS)})",
                                     param_hint="--report")
        out.append(("table" if fmt == "text" else fmt, path))
    return out


@click.command("grade")
@click.argument("directory", type=click.Path())
@click.option("--answers", type=click.Path(), metavar="PATH",
              help="One student's answers: a folder (ID/answer.grad or ID.grad per exercise), or a "
                   ".grad file for a single exercise. Default: each exercise's own answer file.")
@click.option("--submissions", type=click.Path(), metavar="DIR",
              help="Grade a class: one folder per student inside DIR, into one gradebook.")
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option("--output", "-o", type=click.Path(dir_okay=False), help="Write the report here, not to stdout.")
@click.option("--report", "reports", multiple=True, metavar="FORMAT=FILE", callback=_report,
              help="Also write the report in FORMAT (json, junit, gradescope, csv, markdown, table) to "
                   "FILE, from the same run (repeatable): `--report junit=grade.xml --report "
                   "markdown=summary.md` beside the table on the terminal.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=None, help="Seed for the random points (default: each exercise's).")
@click.option("--jobs", "-j", type=click.IntRange(min=0), default=1, show_default=True,
              help="Worker processes for --submissions (0: one per CPU).")
@click.option("--min-score", metavar="S", help="Exit 1 only when a score is below S (points up to the maximum, "
              "or a percentage up to 100% like 80%) instead of whenever an item fails.")
@click.option("--time-limit", type=click.FloatRange(min=0), default=5.0, show_default=True,
              help="Seconds per answer.")
@click.option("--self-test", is_flag=True, help="Check the exercises: each solution.grad scores full marks, "
              "each answer template zero without an error.")
@click.option("--progress/--no-progress", default=None, help="A progress bar (default: on a terminal, for "
              "long runs).")
def grade(directory, answers, submissions, fmt, output, reports, seed, jobs, min_score, time_limit, self_test,
          progress):
    """Grade the answers to the exercises in DIRECTORY (an exercise folder, or a folder of them).

    Exit status: 0 every item right (or every score at least --min-score), 1 not, 2 a bad
    exercise or option.
    """
    from ..api import grade_loaded
    from ..output import emit, write_files
    from . import formats, runner
    from .batch import Limits

    fmt = "table" if fmt == "text" else fmt   # the name the other commands use for their tables
    if answers and submissions:
        raise click.UsageError("give --answers or --submissions, not both")
    targets = [path for _, path in reports] + ([output] if output else [])
    same = {p for p in targets if targets.count(p) > 1}
    if same:
        raise click.UsageError(f"{sorted(same)[0]} is given for two reports; give each report its own file")
    if submissions and "gradescope" in [fmt, *(f for f, _ in reports)]:
        raise click.UsageError("the gradescope format reports on one student; use --answers, not --submissions")
    if self_test:
        if fmt not in ("table", "json"):
            raise click.BadParameter(f"--self-test reports as a table or JSON, not {fmt}", param_hint="--format")
        if reports:
            raise click.UsageError("--report is for grading runs, not --self-test (use --format json -o FILE)")
        exercises = runner.load_all(directory, seed)    # a GradError: reported by cli.main, exit 2
        sys.exit(_self_test(exercises, Limits(time_limit=time_limit), fmt, output))
    exercises = runner.load_all(directory, seed)
    threshold = _min_score(min_score, round(sum(ex.max_score for ex in exercises), 4))
    with _Bar(progress) as bar:
        book = grade_loaded(exercises, answers, submissions=submissions, seed=seed, jobs=jobs,
                            time_limit=time_limit, progress=bar.update, exercises=directory)
    # Every file of the run at once (all or none: docs/grade.md); then the terminal's report.
    files = [(path, formats.FORMATS[f](book)) for f, path in reports]
    if output:
        files.append((output, formats.FORMATS[fmt](book)))
    write_files(files)
    if not output:
        if fmt == "table":
            from ..render import printer

            formats.table(book, printer())
        else:
            emit(formats.FORMATS[fmt](book))
    if files:   # what was written, and how the run went, where it does not mix with a report
        click.echo(summary(book, threshold, [path for path, _ in files]),
                   err=not output and fmt in MACHINE)
    regrade = [s.id for s in book.students if s.regrade]
    if regrade:  # the gradebook is not complete: not a student's fault, so never 0 or 1
        shown = ", ".join(regrade[:10]) + (f" and {len(regrade) - 10} more" if len(regrade) > 10 else "")
        click.echo(f"error: the grader failed on {len(regrade)} submission(s), marked "
                   f"'{runner.GRADER_ERROR}': {shown}", err=True)
        sys.exit(2)
    if threshold is not None:
        sys.exit(1 if any(s.score < threshold - 1e-9 for s in book.students) else 0)
    sys.exit(0 if book.passed else 1)


def summary(book, threshold: float | None, written: list[str]) -> str:
    """One line after a run that wrote files: `300 students, mean 41.2 / 58, 12 below 50%: wrote
    gradebook.csv` (below --min-score when given, else below half marks)."""
    from ..errors import shown
    from ..numbers import num

    top = book.max_score
    bar = threshold if threshold is not None else top / 2
    bar_text = f"{num(bar, 4)} points" if threshold is not None else "50%"
    files = ", ".join(shown(p) for p in written)
    if book.single:
        s = book.students[0]
        wrong = sum(1 for e in s.exercises for t in e.tasks for i in t.items if not i.passed and i.graded_in is None)
        pct = f" ({num(100 * s.score / top, 3)}%)" if top else ""
        what = f"{num(s.score, 4)} / {num(top)}{pct}, {wrong} item{'s' if wrong != 1 else ''} wrong"
        if threshold is not None:
            what += ", below the bar" if s.score < threshold - 1e-9 else ", at or above the bar"
        return f"{what}: wrote {files}"
    n = len(book.students)
    scores = sorted(s.score for s in book.students)
    below = sum(1 for x in scores if x < bar - 1e-9)
    mean = sum(scores) / max(1, n)
    median = (scores[(n - 1) // 2] + scores[n // 2]) / 2 if n else 0.0
    parts = [f"{n} student{'s' if n != 1 else ''}", f"mean {num(mean, 3)} / {num(top)}",
             f"median {num(median, 3)}", f"{below} below {bar_text}"]
    regrade = sum(1 for s in book.students if s.regrade)
    if regrade:
        parts.append(f"{regrade} to grade again")
    return ", ".join(parts) + f": wrote {files}"


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


def _self_test(exercises, limits, fmt, output) -> int:
    from ..output import emit
    from ..render import Col, Printer, Styled, dumps, printer
    from . import runner

    rows = runner.self_test(exercises, limits)
    bad = [r for r in rows if not r[2]]
    if fmt == "json":
        emit(dumps({"passed": not bad, "checks": [
            {"exercise": e, "file": f, "passed": ok, "message": m} for e, f, ok, m in rows]}) + "\n", output)
    else:
        out = Printer(collect=True) if output else printer()
        cols = [Col("exercise"), Col("file"), Col(""), Col("result", wrap=True)]
        cells = [[e, f, Styled("ok" if ok else "FAIL", "green" if ok else "red"), m] for e, f, ok, m in rows]
        out.table(cols, cells, title="self-test", boxed=out.rich)
        out.print(Styled(f"{len(rows) - len(bad)} of {len(rows)} checks passed", "red" if bad else "green"))
        if output:
            emit(out.text(), output)
    if output:
        click.echo(f"{len(rows) - len(bad)} of {len(rows)} checks passed: wrote {output}")
    return 1 if bad else 0
