"""Many answers: one student's folder, a class of submissions (one folder each), --jobs, --self-test.

Where a student's answer to exercise ID is found, in order:
  STUDENT/ID/ANSWER   (ANSWER: the exercise's `answer` key, answer.grad by default)
  STUDENT/ID.grad
  STUDENT/ANSWER      (only when DIR holds a single exercise)
Without --answers or --submissions, each exercise's own answer file is graded.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
from collections.abc import Callable
from pathlib import Path

from .batch import Limits
from .exercise import SOLUTION, Exercise, find_exercises, load_exercise
from .report import ExerciseResult, Gradebook, StudentResult
from .tasks import grade_file


def load_all(root: str | Path, seed: int | None = None) -> list[Exercise]:
    """Every exercise under root, validated (GradError, exit 2, for the first bad one)."""
    return [load_exercise(folder, seed) for folder in find_exercises(root)]


def answer_candidates(ex: Exercise, folder: Path | None, single: bool) -> list[Path]:
    if folder is None:
        return [ex.folder / ex.answer_file]
    if folder.is_file():
        return [folder]
    found = [folder / ex.id / ex.answer_file, folder / f"{ex.id}.grad"]
    if single:
        found.append(folder / ex.answer_file)
    return found


def grade_student(exercises: list[Exercise], student: str, folder: Path | None,
                  limits: Limits) -> StudentResult:
    results = []
    for ex in exercises:
        from .tasks import failed

        candidates = answer_candidates(ex, folder, len(exercises) == 1)
        path = next((p for p in candidates if os.path.lexists(p)), None)
        if path is None:
            looked = ", ".join(str(p) for p in candidates)
            results.append(failed(ex, None, f"no answer found (looked for {looked})"))
        elif folder is not None and folder.is_dir() and not _inside(path, folder):
            results.append(failed(ex, None, f"{path}: leads outside the student's folder {folder} "
                                            "(a symbolic link): not graded"))
        else:
            results.append(grade_file(ex, path, limits))
    return StudentResult(student, results)


def _inside(path: Path, folder: Path) -> bool:
    """Does `path`, with every link followed, stay inside `folder`?"""
    return os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)


def students_in(submissions: str | Path) -> list[tuple[str, Path]]:
    """One folder per student; a folder that is a symbolic link (to another student's) is skipped."""
    from ..errors import GradError

    root = Path(submissions)
    if not root.is_dir():
        raise GradError(f"--submissions {root}: not a directory")
    found = [(p.name, p) for p in sorted(root.iterdir(), key=lambda p: p.name)
             if p.is_dir() and not p.is_symlink() and not p.name.startswith(".")]
    if not found:
        raise GradError(f"--submissions {root}: no student folders in it",
                        hint="one folder per student, each with that student's answers")
    return found


# ---------------------------------------------------------------- in parallel

_STATE: dict = {}


def _init(paths, seed, limits):
    if "exercises" not in _STATE:
        _STATE["exercises"] = [load_exercise(p, seed) for p in paths]
    _STATE["limits"] = limits


def _work(job):
    student, folder = job
    try:
        return grade_student(_STATE["exercises"], student, folder, _STATE["limits"])
    except Exception as err:  # pragma: no cover - grade_file never raises; belt and braces
        return _broken(_STATE["exercises"], student, err)


def _broken(exercises, student, err) -> StudentResult:
    from .tasks import failed

    msg = f"the grader failed on this submission ({type(err).__name__}: {err})"
    return StudentResult(student, [failed(ex, None, msg) for ex in exercises])


def grade_many(exercises: list[Exercise], jobs: list[tuple[str, Path | None]], limits: Limits,
               workers: int = 1, seed: int | None = None,
               progress: Callable[[int], None] | None = None) -> list[StudentResult]:
    """Grade each (student, folder); in order, whatever the number of workers."""
    results: list[StudentResult] = []
    if workers <= 1 or len(jobs) < 2:
        for job in jobs:
            try:
                results.append(grade_student(exercises, job[0], job[1], limits))
            except Exception as err:  # pragma: no cover
                results.append(_broken(exercises, job[0], err))
            if progress:
                progress(1)
        return results
    methods = multiprocessing.get_all_start_methods()
    if "fork" in methods and sys.platform != "darwin":
        ctx = multiprocessing.get_context("fork")
        _STATE["exercises"] = exercises        # inherited by the forked workers
        initargs = ([], seed, limits)
    else:
        ctx = multiprocessing.get_context("spawn")
        _STATE.pop("exercises", None)
        initargs = ([str(ex.folder) for ex in exercises], seed, limits)
    chunk = max(1, min(16, len(jobs) // (workers * 8) or 1))
    with ctx.Pool(workers, initializer=_init, initargs=initargs) as pool:
        for result in pool.imap(_work, jobs, chunksize=chunk):
            results.append(result)
            if progress:
                progress(1)
    return results


def gradebook(exercises: list[Exercise], students: list[StudentResult], single: bool) -> Gradebook:
    return Gradebook([(ex.id, ex.title, ex.max_score) for ex in exercises], students, single)


# ---------------------------------------------------------------- self-test

def self_test(exercises: list[Exercise], limits: Limits) -> list[tuple[str, str, bool, str]]:
    """(exercise, what, ok, message): the solution scores full marks, the template zero, no error."""
    rows = []
    for ex in exercises:
        sol = ex.folder / SOLUTION
        if not sol.is_file():
            rows.append((ex.id, SOLUTION, False, f"{sol} does not exist"))
        else:
            r = grade_file(ex, sol, limits)
            ok = r.error is None and r.score == ex.max_score and r.passed
            rows.append((ex.id, SOLUTION, ok, f"{r.score:g} / {ex.max_score:g}" + _first_failure(r)))
        tpl = ex.folder / ex.answer_file
        if not tpl.is_file():
            rows.append((ex.id, ex.answer_file, False, f"{tpl} does not exist"))
        else:
            r = grade_file(ex, tpl, limits)
            ok = r.error is None and r.score == 0
            msg = f"{r.score:g} / {ex.max_score:g}"
            if r.error:
                msg += f"; error: {r.error.splitlines()[0]}"
            elif r.score:
                passed = [i.name for t in r.tasks for i in t.items if i.passed]
                msg += "; passes " + ", ".join(passed[:5])
            rows.append((ex.id, ex.answer_file, ok, msg))
    return rows


def _first_failure(r: ExerciseResult) -> str:
    if r.error:
        return "; " + r.error.splitlines()[0]
    for t in r.tasks:
        for i in t.items:
            if not i.passed:
                return "; " + i.feedback.splitlines()[0]
    return ""


def default_workers() -> int:
    return max(1, min(os.cpu_count() or 1, 8))
