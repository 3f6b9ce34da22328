"""gradcli's pytest plugin: the entry point `pytest11` named `gradcli` (`-p no:gradcli` switches it off).

* The claims of the .grad files under the ini option `gradcli_paths` are test items,
  `FILE.grad::d(o)/d(x)`; a claim fails with `gradcli check`'s text report of its rows, and
  a file that does not parse (or cannot be checked) is one failed item with its
  FILE:LINE:COL message.
* `--gradcli-grade DIR` grades the answers to DIR's exercises (`gradcli grade DIR`): one
  test item per graded item, `DIR::EXERCISE::TASK::ITEM`, failing with its feedback, and
  the score in the summary.
* The `gradcheck` fixture is `gradcli.testing.assert_gradients`.

This module is loaded by every pytest run of every project where gradcli is installed:
at start-up it imports pytest and the standard library only.  gradcli's numerical modules
(numpy, lark) are imported when a .grad file is collected, a grade is run or the fixture
is used.  The items use the public API only (gradcli.load, Graph.check, gradcli.grade).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path

import pytest

_PATHS = pytest.StashKey[list]()      # gradcli_paths, resolved
_GRADE = pytest.StashKey[list]()      # --gradcli-grade folders, resolved
_BOOKS = pytest.StashKey[list]()      # (folder, gradebook) for the summary


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("gradcli", "gradcli: .grad files and exercises as tests")
    group.addoption("--gradcli-grade", action="append", default=[], metavar="DIR",
                    help="grade the answers to the exercises in DIR as `gradcli grade DIR` does: "
                         "one test item per graded item (repeatable)")
    parser.addini("gradcli_paths", type="paths", default=[],
                  help="gradcli: folders or .grad files whose claims are collected as test items")


def pytest_configure(config: pytest.Config) -> None:
    paths = [Path(p).resolve() for p in config.getini("gradcli_paths")]
    grade = [Path(config.invocation_params.dir, d).resolve() for d in config.getoption("gradcli_grade")]
    config.stash[_PATHS] = paths
    config.stash[_GRADE] = grade
    config.stash[_BOOKS] = []
    # `pytest` alone collects testpaths (or the current folder); the folders named here are
    # collected as well.  With explicit arguments only --gradcli-grade folders are added.
    explicit = config.args_source == pytest.Config.ArgsSource.ARGS
    for extra in grade + ([] if explicit else paths):
        if extra.exists() and not any(_covers(Path(config.invocation_params.dir, a), extra)
                                      for a in config.args):
            config.args.append(str(extra))


def _covers(arg: Path, path: Path) -> bool:
    arg = Path(str(arg).split("::")[0]).resolve()
    return arg == path or arg in path.parents


def _shown(config: pytest.Config, path: Path) -> str:
    """A path as the user reads it in messages: relative to where pytest was started."""
    try:
        return os.path.relpath(path, config.invocation_params.dir)
    except ValueError:   # another drive
        return str(path)


@pytest.hookimpl(tryfirst=True)
def pytest_collect_directory(path: Path, parent: pytest.Collector):
    if path.resolve() in parent.config.stash.get(_GRADE, []):
        return GradeDirectory.from_parent(parent, path=path)
    return None


def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    if file_path.suffix != ".grad":
        return None
    resolved = file_path.resolve()
    if any(p == resolved or p in resolved.parents for p in parent.config.stash.get(_PATHS, [])):
        return GradFile.from_parent(parent, path=file_path)
    return None


@pytest.fixture
def gradcheck():
    """Assert that a hand-written gradient of a Python function agrees with finite differences:
    `gradcheck(f, grad_f, *args, **options)` is gradcli.testing.assert_gradients."""
    from .testing import assert_gradients

    return assert_gradients


def pytest_terminal_summary(terminalreporter, config: pytest.Config) -> None:
    books = config.stash.get(_BOOKS, [])
    if books:
        from .numbers import num

        terminalreporter.write_sep("-", "gradcli grade")
        for folder, book in books:
            pct = 100 * book.score / book.max_score if book.max_score else 100.0
            terminalreporter.write_line(f"{folder}: {num(book.score)} / {num(book.max_score)} points ({pct:.0f}%)")


# ---------------------------------------------------------------- .grad files

class _Failure(Exception):
    """A failed gradcli item: its text is what the user reads (no traceback)."""


class _GradcliItem(pytest.Item):
    def repr_failure(self, excinfo, style=None):
        from .errors import GradError, GradientMismatch

        if isinstance(excinfo.value, (GradError, GradientMismatch, _Failure)):
            return str(excinfo.value)
        return super().repr_failure(excinfo, style)


class GradFile(pytest.File):
    """A .grad file: one item per claim (or one failed item if it does not parse)."""

    def collect(self):
        from .api import load
        from .errors import GradError

        shown = _shown(self.config, self.path)
        try:   # named as the user reads it, when that name still leads to the file
            self.graph = load(shown if Path(shown).resolve() == self.path.resolve() else self.path)
        except GradError as err:
            yield LoadFailure.from_parent(self, name="parse", error=err)
            return
        self._report = None
        count = Counter(c.name for c in self.graph.claims)
        for c in self.graph.claims:
            name = c.name if count[c.name] == 1 else f"{c.name}[line {c.line}]"
            yield ClaimItem.from_parent(self, name=name, claim=c)

    def report(self):
        """`gradcli check FILE` on this file, once for all its claims (a GradError, once, too)."""
        if self._report is None:
            from .errors import GradError

            try:
                self._report = self.graph.check()
            except GradError as err:
                self._report = err
        if isinstance(self._report, Exception):
            raise self._report
        return self._report


class ClaimItem(_GradcliItem):
    def __init__(self, *, claim, **kwargs):
        super().__init__(**kwargs)
        self.claim = claim

    def runtest(self) -> None:
        import dataclasses

        file: GradFile = self.parent  # type: ignore[assignment]
        report = file.report()
        where = f"{report.file}:{self.claim.line}"
        rows = [r for r in report.rows if r.claim_text == self.claim.name and r.location == where]
        if not rows:
            raise _Failure(f"{where}: gradcli made no comparison for {self.claim.name}")
        dataclasses.replace(report, rows=rows).raise_for_status()

    def reportinfo(self):
        return self.path, self.claim.line - 1, self.name


class LoadFailure(_GradcliItem):
    """The file (or the exercises) could not be loaded: one failed item with the message."""

    def __init__(self, *, error, **kwargs):
        super().__init__(**kwargs)
        self.error = error

    def runtest(self) -> None:
        raise self.error

    def reportinfo(self):
        line = getattr(self.error, "line", None)
        return self.path, (line - 1) if line else None, self.name


# ---------------------------------------------------------------- --gradcli-grade

class GradeDirectory(pytest.Directory):
    """`gradcli grade DIR`: an exercise per collector, a task per collector, an item per item."""

    def collect(self):
        from .api import grade
        from .errors import GradError

        shown = _shown(self.config, self.path)
        try:
            book = grade(shown if Path(shown).resolve() == self.path.resolve() else self.path)
        except GradError as err:
            yield LoadFailure.from_parent(self, name="exercises", error=err)
            return
        self.config.stash[_BOOKS].append((shown, book))
        for result in book.students[0].exercises:
            yield ExerciseNode.from_parent(self, name=result.id, result=result)


class ExerciseNode(pytest.Collector):
    def __init__(self, *, result, **kwargs):
        super().__init__(**kwargs)
        self.result = result

    def collect(self):
        kinds = Counter(t.kind for t in self.result.tasks)
        seen: Counter = Counter()
        for task in self.result.tasks:
            seen[task.kind] += 1
            name = task.kind if kinds[task.kind] == 1 else f"{task.kind}[{seen[task.kind]}]"
            yield TaskNode.from_parent(self, name=name, task=task)


class TaskNode(pytest.Collector):
    def __init__(self, *, task, **kwargs):
        super().__init__(**kwargs)
        self.task = task

    def collect(self):
        count = Counter(i.name for i in self.task.items)
        seen: Counter = Counter()
        for item in self.task.items:
            seen[item.name] += 1
            name = item.name if count[item.name] == 1 else f"{item.name}[{seen[item.name]}]"
            yield GradeItem.from_parent(self, name=name, item=item)


class GradeItem(_GradcliItem):
    def __init__(self, *, item, **kwargs):
        super().__init__(**kwargs)
        self.item = item

    def runtest(self) -> None:
        if not self.item.passed:
            note = f"\n(note: {self.item.note})" if self.item.note else ""
            raise _Failure((self.item.feedback or f"{self.item.name}: wrong") + note)

    def reportinfo(self):
        return self.path, None, self.name
