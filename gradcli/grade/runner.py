"""Many answers: one student's folder, a class of submissions (one folder each), --jobs, --self-test.

Where a student's answer to exercise ID is found, in order:
  STUDENT/ID/ANSWER   (ANSWER: the exercise's `answer` key, answer.grad by default)
  STUDENT/ID.grad
  STUDENT/exercises/ID/ANSWER, STUDENT/exercises/ID.grad   (a student's repository, as
                      `gradcli init --students` writes it, uploaded whole)
  STUDENT/ANSWER      (only when DIR holds a single exercise)
and, when none of those is there, the one file that looks meant, anywhere in the student's
folder (`hw/01-ln-sin-cos-final.grad`, `hw/01-ln-sin-cos/answer.grad`; see `look_for`), graded
with a note that says so.  When nothing is found, the feedback lists what the folder holds.
Without --answers or --submissions, each exercise's own answer file is graded.
"""

from __future__ import annotations

import itertools
import multiprocessing
import os
import sys
from collections import deque
from collections.abc import Callable
from multiprocessing.connection import wait
from pathlib import Path
from typing import NamedTuple

from ..errors import shown
from ..numbers import num
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
    found = [folder / ex.id / ex.answer_file, folder / f"{ex.id}.grad",
             folder / "exercises" / ex.id / ex.answer_file, folder / "exercises" / f"{ex.id}.grad"]
    if single:
        found.append(folder / ex.answer_file)
    return found


class Submission(NamedTuple):
    """One row of the gradebook: a student's id (as shown), their folder or answer file (None:
    each exercise's own answer file), and why it is not graded (None: it is)."""

    id: str
    folder: Path | None
    refused: str | None = None


def grade_student(exercises: list[Exercise], student: str, folder: Path | None,
                  limits: Limits, refused: str | None = None) -> StudentResult:
    from .tasks import failed

    results = []
    files = None     # the student's folder's files, listed when an answer is not where expected
    for ex in exercises:
        if refused is not None:
            results.append(failed(ex, None, refused))
            continue
        candidates = answer_candidates(ex, folder, len(exercises) == 1)
        path = next((p for p in candidates if os.path.lexists(p)), None)
        note = None
        if path is None and folder is not None and folder.is_dir():
            files = _files(folder) if files is None else files
            path, note = look_for(ex, exercises, folder, files)
            if path is None:
                results.append(failed(ex, None, note))
                continue
        if path is None:
            looked = ", ".join(str(p) for p in candidates)
            results.append(failed(ex, None, f"no answer found (looked for {looked})"))
        elif folder is not None and folder.is_dir() and not _inside(path, folder):
            results.append(failed(ex, None, f"{path}: leads outside the student's folder {folder} "
                                            "(a symbolic link): not graded"))
        else:
            result = grade_file(ex, path, limits)
            result.found = note
            results.append(result)
    return StudentResult(shown(student), [_shown(r) for r in results])


MAX_LISTED = 20        # files an answer-not-found message lists at most
MAX_WALKED = 5000      # entries of a student's folder looked at, at most
MAX_DEPTH = 16         # ... and folders deep


def _files(folder: Path) -> list[str]:
    """The student's files, as paths inside their folder (sorted, '/'-separated): regular files
    only, no hidden ones, no symbolic link followed, at most MAX_DEPTH folders deep and
    MAX_WALKED entries looked at (a loop over a stack: no recursion a deep folder could exhaust)."""
    found: list[str] = []
    seen = 0
    stack = [(str(folder), "", 0)]
    while stack and seen <= MAX_WALKED:
        top, rel, depth = stack.pop()
        try:
            with os.scandir(top) as entries:     # a huge folder is read only as far as the bound
                listed = sorted(itertools.islice(entries, MAX_WALKED + 1 - seen), key=lambda e: e.name)
        except OSError:
            continue
        folders = []
        for entry in listed:
            seen += 1
            if entry.name.startswith(".") or entry.name == "__MACOSX" or entry.is_symlink():
                continue
            name = f"{rel}{entry.name}"
            try:
                if entry.is_dir(follow_symlinks=False):
                    if depth < MAX_DEPTH:
                        folders.append((entry.path, name + "/", depth + 1))
                elif entry.is_file(follow_symlinks=False):
                    found.append(name)
            except OSError:
                continue
        stack.extend(reversed(folders))
    return sorted(found)


def _claims(rel: str, ex: Exercise) -> bool:
    """Does the file `rel` look like an answer to `ex`: a .grad file whose name starts with the id
    (`hw/01-ln-sin-cos-final.grad`), or the answer file in a folder named by the id
    (`hw/01-ln-sin-cos/answer.grad`)?  Case does not matter."""
    parts = rel.lower().split("/")
    ident = ex.id.lower()
    if parts[-1].startswith(ident) and parts[-1].endswith(".grad"):
        return True
    return len(parts) > 1 and parts[-2] == ident and parts[-1] == ex.answer_file.lower()


def look_for(ex: Exercise, exercises: list[Exercise], folder: Path, files: list[str]) -> tuple[Path | None, str]:
    """The answer to `ex` somewhere in the student's folder when it is not where expected:
    (the file, a note saying it was used) when exactly one file looks meant (see _claims; a file
    that another exercise with a longer id claims is that one's; with a single exercise, the
    folder's only .grad file), else (None, what the folder holds and what to rename)."""
    def mine(rel: str) -> bool:
        longer = [o for o in exercises if o is not ex and len(o.id) > len(ex.id) and _claims(rel, o)]
        return _claims(rel, ex) and not longer

    expected = f"{ex.id}.grad or {ex.id}/{ex.answer_file}"
    meant = [rel for rel in files if mine(rel)]
    grads = [rel for rel in files if rel.lower().endswith(".grad")]
    if not meant and len(exercises) == 1 and len(grads) == 1:
        meant = grads
    if len(meant) == 1:
        return folder / meant[0], (f"graded {meant[0]}: there is no {expected} at the top of your "
                                   f"submission, and it is the one file that looks meant")
    if meant:
        return None, (f"no answer found: {expected} is not in your submission, and {len(meant)} files could "
                      f"be it: {_listed(meant)}; name the one to grade {ex.id}.grad")
    if not files:
        return None, f"no answer found: your submission is empty (expected {expected})"
    hint = ""
    near = _nearest(ex, exercises, grads)
    if near:
        hint = f"; {near} looks meant: name it {ex.id}.grad to have it graded"
    return None, (f"no answer found: {expected} is not in your submission, which holds "
                  f"{len(files)} file{'s' if len(files) != 1 else ''}: {_listed(files)}{hint}")


def _nearest(ex: Exercise, exercises: list[Exercise], grads: list[str]) -> str | None:
    """The .grad file whose name is closest to the id (`01_ln_sin_cos.grad`, `ln-sin-cos.grad`),
    if it is closer to this exercise's id than to any other's."""
    import difflib

    def score(rel: str, ident: str) -> float:
        stem = rel.rsplit("/", 1)[-1].lower().removesuffix(".grad")
        return difflib.SequenceMatcher(None, stem.replace("_", "-"), ident.lower()).ratio()

    free = [rel for rel in grads if not any(_claims(rel, o) for o in exercises)]
    best = max(free, key=lambda rel: score(rel, ex.id), default=None)
    if best is None or score(best, ex.id) < 0.6:
        return None
    if any(score(best, o.id) >= score(best, ex.id) for o in exercises if o is not ex):
        return None
    return best


def _listed(names: list[str]) -> str:
    more = len(names) - MAX_LISTED
    return ", ".join(names[:MAX_LISTED]) + (f" and {more} more" if more > 0 else "")


def _shown(r: ExerciseResult) -> ExerciseResult:
    """A result whose text holds no name the file system gave that is not UTF-8 (`bad\\xff`)."""
    r.id, r.title = shown(r.id), shown(r.title)
    r.answer = None if r.answer is None else shown(r.answer)
    r.error = None if r.error is None else shown(r.error)
    r.found = None if r.found is None else shown(r.found)
    for t in r.tasks:
        for i in t.items:
            i.name, i.feedback = shown(i.name), shown(i.feedback)
    return r


def _grade(exercises, job: Submission, limits: Limits) -> StudentResult:
    return grade_student(exercises, job.id, job.folder, limits, job.refused)


def _inside(path: Path, folder: Path) -> bool:
    """Does `path`, with every link followed, stay inside `folder`?"""
    return os.path.realpath(path).startswith(os.path.realpath(folder) + os.sep)


def students_in(submissions: str | Path) -> list[Submission]:
    """Every entry of the folder, in name order, is a row: a folder is a student's and is
    graded; a symbolic link (to another student's folder, or anywhere), a hidden entry
    (`.git`) and a plain file get a row that says why they are not graded."""
    from ..errors import GradError

    root = Path(submissions)
    if not root.is_dir():
        raise GradError(f"--submissions {shown(root)}: not a directory")
    rows = [Submission(shown(p.name), p, _refused(p)) for p in sorted(root.iterdir(), key=lambda p: p.name)]
    if not any(r.refused is None for r in rows):
        found = f" (it holds {len(rows)} entr{'y' if len(rows) == 1 else 'ies'}, none a student's folder)" \
            if rows else ""
        raise GradError(f"--submissions {shown(root)}: no student folders in it{found}",
                        hint="one folder per student, each with that student's answers")
    return rows


def _refused(p: Path) -> str | None:
    """Why an entry of --submissions is not a student's folder to grade (None: it is)."""
    if p.is_symlink():
        return (f"not graded: {shown(p.name)} is a symbolic link, not a folder of its own "
                "(a link could lend another student's answers)")
    if p.name.startswith("."):
        return f"not graded: {shown(p.name)} is hidden (its name starts with '.')"
    if not p.is_dir():
        return f"not graded: {shown(p.name)} is not a folder (one folder per student)"
    return None


# ---------------------------------------------------------------- in parallel
#
# A worker that dies (the kernel's OOM killer sends SIGKILL) must neither hang the class
# (multiprocessing.Pool waits forever for its result) nor cost other students their grade.
# concurrent.futures.ProcessPoolExecutor notices the death, but then fails every student
# in flight and stops the other workers, so it cannot say whose grading killed the worker;
# telling them apart with a SIGTERM handler in the workers deadlocks on the pool's shared
# result queue (a signal that lands just before a worker blocks on the queue's lock).  So
# each worker here has a pipe of its own and grades one student at a time: the parent
# waits on the pipes and on the processes' sentinels together, so a death is seen at once
# and belongs to exactly one student, who gets a "grader error, regrade" row; a new worker
# takes the dead one's place and the class goes on.  No lock is shared between workers.

GRADER_ERROR = "grader error, regrade"
MAX_START_FAILURES = 3  # workers that die before they are ready: give up on the rest

_STATE: dict = {}


def _serve(conn, paths, seed, limits):  # pragma: no cover - runs in a worker process
    """A worker: load the exercises (unless inherited), then grade what the pipe brings."""
    if "exercises" not in _STATE:
        _STATE["exercises"] = [load_exercise(p, seed) for p in paths]
    exercises = _STATE["exercises"]
    conn.send(None)                       # ready
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):       # the parent is gone
            return
        if msg is None:
            return
        index, job = msg
        try:
            result = _grade(exercises, Submission(*job), limits)
        except Exception as err:  # grade_file never raises; belt and braces
            result = _broken(exercises, job[0], f"the grader failed ({type(err).__name__}: {err})")
        conn.send((index, result))


def _broken(exercises, student, why) -> StudentResult:
    from .tasks import failed

    msg = f"{GRADER_ERROR}: {why}"
    results = [failed(ex, None, msg) for ex in exercises]
    for r in results:
        r.regrade = True
    return StudentResult(shown(student), results)


def grade_many(exercises: list[Exercise], jobs: list, limits: Limits,
               workers: int = 1, seed: int | None = None,
               progress: Callable[[int], None] | None = None) -> list[StudentResult]:
    """Grade each Submission (or (student, folder)); in order, whatever the number of workers."""
    jobs = [job if isinstance(job, Submission) else Submission(*job) for job in jobs]
    if workers <= 1 or len(jobs) < 2:
        results = []
        for job in jobs:
            try:
                results.append(_grade(exercises, job, limits))
            except Exception as err:  # pragma: no cover
                results.append(_broken(exercises, job.id, f"the grader failed ({type(err).__name__}: {err})"))
            if progress:
                progress(1)
        return results
    return _Pool(exercises, limits, seed).run(jobs, min(workers, len(jobs)), progress)


class _Worker:
    def __init__(self, ctx, initargs):
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_serve, args=(child, *initargs), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.job: int | None = None

    def stop(self, graceful: bool = False):
        """Ask an idle worker to exit (graceful), else end it, and reap it."""
        if graceful:
            try:
                self.conn.send(None)
                self.proc.join(timeout=5)
            except OSError:
                pass
        if self.proc.is_alive():
            self.proc.kill()
        self.proc.join()
        self.conn.close()


class _Pool:
    """Worker processes, one student each at a time, each with its own pipe (see above)."""

    def __init__(self, exercises, limits, seed):
        self.exercises = exercises
        methods = multiprocessing.get_all_start_methods()
        if "fork" in methods and sys.platform != "darwin":
            self.ctx = multiprocessing.get_context("fork")
            _STATE["exercises"] = exercises        # inherited by the forked workers
            self.initargs = ([], seed, limits)
        else:
            self.ctx = multiprocessing.get_context("spawn")
            _STATE.pop("exercises", None)
            self.initargs = ([str(ex.folder) for ex in exercises], seed, limits)

    def run(self, jobs, n, progress) -> list[StudentResult]:
        results: list = [None] * len(jobs)
        todo = deque(range(len(jobs)))
        workers = [_Worker(self.ctx, self.initargs) for _ in range(n)]
        failed_starts = 0

        def done(i, result):
            results[i] = result
            if progress:
                progress(1)

        try:
            while workers:
                ready = wait([w.conn for w in workers] + [w.proc.sentinel for w in workers])
                for w in list(workers):
                    if w.conn not in ready and w.proc.sentinel not in ready:
                        continue
                    try:
                        msg = w.conn.recv() if w.conn in ready else None
                        alive = w.conn in ready
                    except (EOFError, OSError):
                        alive = False
                    if not alive:                 # the worker died
                        workers.remove(w)
                        w.stop()
                        if w.job is not None:
                            done(w.job, _broken(self.exercises, jobs[w.job].id, _death(w.proc)))
                        elif not w.ready:
                            failed_starts += 1
                        if todo and failed_starts < MAX_START_FAILURES:
                            workers.append(_Worker(self.ctx, self.initargs))
                        continue
                    if msg is not None:
                        i, result = msg
                        done(i, result)
                    w.ready, w.job = True, None
                    if not todo:
                        workers.remove(w)
                        w.stop(graceful=True)
                        continue
                    job = todo.popleft()
                    try:
                        w.conn.send((job, tuple(jobs[job])))
                        w.job = job
                    except OSError:               # it died after its last result: not this job's doing
                        todo.appendleft(job)
            for i in todo:                        # only when workers could not even start
                done(i, _broken(self.exercises, jobs[i].id, "the grading processes could not start"))
        finally:
            for w in workers:
                w.stop()
        return results


def _death(proc) -> str:
    code = proc.exitcode
    how = f"killed by signal {-code}" if code is not None and code < 0 else f"exit status {code}"
    return (f"the process grading this submission died ({how}; the system may have run out of "
            "memory): grade it again")


def gradebook(exercises: list[Exercise], students: list[StudentResult], single: bool,
              folder: Path | None = None) -> Gradebook:
    return Gradebook([(shown(ex.id), shown(ex.title), ex.max_score) for ex in exercises], students, single,
                     None if folder is None or not folder.is_dir() else shown(str(folder)))


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
            rows.append((ex.id, SOLUTION, ok, f"{num(r.score)} / {num(ex.max_score)}" + _first_failure(r)))
        tpl = ex.folder / ex.answer_file
        if not tpl.is_file():
            rows.append((ex.id, ex.answer_file, False, f"{tpl} does not exist"))
        else:
            r = grade_file(ex, tpl, limits)
            ok = r.error is None and r.score == 0
            msg = f"{num(r.score)} / {num(ex.max_score)}"
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
