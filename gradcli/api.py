"""gradcli from Python: the package's face (SPEC section 4; every name here is in docs/api.md).

    gradcli.load(path) / gradcli.parse(text, name)  -> Graph
    Graph.eval(at, wrt, mode, seed)                 -> Evaluation (.values, .grads)
    Graph.check(at, random, seed, ...)              -> CheckReport (.ok, .rows, .raise_for_status())
    gradcli.check_function(f, grad_f, *args, ...)   -> CheckReport, or GradientMismatch
    gradcli.grade(exercises, answers, ...)          -> Gradebook
    gradcli.GradError, gradcli.GradientMismatch

The click commands are thin users of these functions (one code path); the commands' cores
(evaluate/, check/, grade/) never import this module.  Each core is imported only when its
function is called, so that `gradcli eval` starts without check's or grade's modules.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from os import PathLike
from typing import TYPE_CHECKING, Any, NamedTuple, Union, cast

import numpy as np

from .errors import GradError, GradientMismatch, shown
from .evaluate.core import EvalReport, OutputResult
from .language.program import Program, bind, build, no_gc
from .language.syntax import read_source, text_source

if TYPE_CHECKING:
    from .check.core import CheckReport
    from .grade.report import Gradebook

__all__ = ["load", "parse", "Graph", "Node", "Claim", "Evaluation", "CheckReport", "check_function",
           "grade", "Gradebook", "GradError", "GradientMismatch"]

Value = Union[float, np.ndarray]
"""A value or a derivative: a Python float for shape (), else a float64 numpy array."""

At = Union[Mapping[str, Any], Iterable[str], None]
"""Input values: {name: number, list, array or "EXPR"}, or "NAME=EXPR" strings (as --at takes)."""

_SEEDED = re.compile(r"\brandn?\s*\(")   # only rand/randn make a file's graph depend on the seed


def __getattr__(name: str):
    """CheckReport and Gradebook are the check and grade cores' classes, imported when asked for."""
    if name == "CheckReport":
        from .check.core import CheckReport
        return CheckReport
    if name == "Gradebook":
        from .grade.report import Gradebook
        return Gradebook
    raise AttributeError(f"module 'gradcli.api' has no attribute {name!r}")


# ---------------------------------------------------------------- graphs

def load(path: str | PathLike[str]) -> Graph:
    """The graph of a .grad file; a bad file raises GradError (with .file, .line, .column)."""
    try:
        return Graph(read_source(str(path)))
    except GradError as err:
        if err.file is None:
            err.filename = str(path)
        raise


def parse(text: str, name: str = "<string>") -> Graph:
    """The graph of .grad source text; `name` stands for the file name in errors and reports."""
    return Graph(text_source(text, name))


class Node(NamedTuple):
    """One node of a graph, in topological order."""

    name: str                 # the file's name, or _1, _2, ... for a sub-expression
    kind: str                 # "input", "const" or "op"
    op: str | None            # for an op: its name ("add", "mul", "sin", "matmul", "sum", ...)
    args: tuple[str, ...]     # the names of its arguments
    line: int                 # where it is defined (1-based)
    text: str                 # its source text


class Claim(NamedTuple):
    """A hand-derived derivative in the file: `d(of)/d(wrt) = ...` or `partial(of, wrt) = ...`."""

    name: str                 # "d(o)/d(x)" or "partial(u, v)"
    kind: str                 # "total" or "partial"
    of: str
    wrt: str
    line: int
    text: str                 # the claim's source text


class Graph:
    """A parsed .grad file: its inputs, outputs, nodes and claims; `eval` and `check` it."""

    def __init__(self, source):
        self._source = source
        self._programs: dict[int, Program] = {}
        self._program(0)      # errors now, not at the first eval

    def _program(self, seed: int) -> Program:
        if seed not in self._programs:
            if seed and not _SEEDED.search(self._source.text):
                return self._program(0)
            if len(self._programs) > 8:        # seed 0's and the last few others'
                del self._programs[next(k for k in self._programs if k)]
            self._programs[seed] = build(self._source, seed)
        return self._programs[seed]

    def __repr__(self) -> str:
        return (f"<gradcli.Graph {self.name!r}: inputs {', '.join(self.inputs)}; "
                f"outputs {', '.join(self.outputs)}>")

    @property
    def name(self) -> str:
        """The file's path as given to `load`, or the name given to `parse`."""
        return self._source.name

    @property
    def text(self) -> str:
        return self._source.text

    @property
    def inputs(self) -> tuple[str, ...]:
        p = self._program(0)
        return tuple(p.nodes[i].name for i in p.inputs)

    @property
    def outputs(self) -> tuple[str, ...]:
        p = self._program(0)
        return tuple(p.nodes[i].name for i in p.outputs)

    @property
    def nodes(self) -> tuple[Node, ...]:
        p = self._program(0)
        src = p.source
        return tuple(Node(n.name, n.kind, n.op.name if n.op is not None else None,
                          tuple(p.nodes[a].name for a in n.args), src.line_col(n.start)[0],
                          src.text[n.start:n.end]) for n in p.nodes[: p.n_main])

    @property
    def claims(self) -> tuple[Claim, ...]:
        p = self._program(0)
        return tuple(Claim(c.text(p), c.kind, p.nodes[c.u].name, p.nodes[c.v].name,
                           p.source.line_col(c.start)[0], p.source.text[c.start:c.end]) for c in p.claims)

    def eval(self, at: At = None, wrt: str | Iterable[str] | None = None, mode: str = "reverse",
             seed: int = 0, *, batch: bool = False) -> Evaluation:
        """The outputs' values and their gradients (Jacobians) w.r.t. the inputs (or `wrt`).

        at: input values ({name: value}; a str value is an expression of the language); the
        others keep their defaults.  batch=True: the values in `at` carry a leading batch axis
        of B points, and every value and gradient gets that axis.
        """
        from .evaluate.core import evaluate

        _choice(mode, ("reverse", "forward"), "mode")
        seed = _seed(seed)
        program = self._program(seed)
        strings, values = _at(at)
        with no_gc():
            point = bind(program, strings, seed, values)
            ids = _wrt(program, wrt)
            if batch:
                from .evaluate.batched import evaluate_batch

                B = _batch(program, point, strings, values)
                outputs = evaluate_batch(program, point, ids, B, mode)
            else:
                outputs = evaluate(program, point, ids, mode)
        names: dict[str, object] = {program.nodes[i].name: _plain(point[i]) for i in program.inputs}
        return Evaluation(self.name, names, [OutputResult(o.name, _plain(o.value),
                                                          {k: _plain(g) for k, g in o.grad.items()})
                                             for o in outputs], mode)

    def check(self, at: At = None, *, random: int = 4, seed: int = 0, method: str | None = None,
              fast: bool | None = None, rtol: float = 1e-6, atol: float = 1e-9) -> CheckReport:
        """`gradcli check`: reverse vs forward mode vs finite differences vs the file's claims,
        at the point (defaults, or `at`) and `random` random points.  Returns the report; call
        `.raise_for_status()` on it to raise GradientMismatch if anything disagrees."""
        from .check.core import check_program

        seed = _seed(seed)
        if isinstance(random, bool) or not isinstance(random, (int, np.integer)) or not 0 <= random <= 100_000:
            raise GradError(f"random={random!r}: a whole number from 0 to 100,000")
        if fast is not None and not isinstance(fast, bool):
            raise GradError(f"fast={fast!r}: True, False or None (by the number of input elements)")
        _tolerances(rtol, atol)
        if method is not None:
            _choice(method, ("richardson", "central", "forward"), "method")
        program = self._program(seed)
        strings, values = _at(at)
        point = bind(program, strings, seed, values)
        return check_program(program, point, random=int(random), seed=seed, method=method, fast=fast,
                             rtol=float(rtol), atol=float(atol), label="--at" if strings or values else "default")


@dataclass
class Evaluation(EvalReport):
    """What `Graph.eval` returns (and `gradcli eval` prints).

    Every number is a Python float when its shape is (), else a float64 numpy array.
    """

    @property
    def values(self) -> dict[str, Value]:
        """{output: value}."""
        return {o.name: cast(Value, o.value) for o in self.outputs}

    @property
    def grads(self) -> dict[str, dict[str, Value]]:
        """{output: {input: d(output)/d(input)}}, each shaped output.shape + input.shape."""
        return {o.name: cast("dict[str, Value]", dict(o.grad)) for o in self.outputs}

    @property
    def value(self) -> Value:
        """The value of the only output (ValueError if the graph has several)."""
        return cast(Value, self._only().value)

    @property
    def grad(self) -> dict[str, Value]:
        """{input: gradient} of the only output (ValueError if the graph has several)."""
        return cast("dict[str, Value]", dict(self._only().grad))

    @property
    def at(self) -> dict[str, Value]:
        """{input: value}: the point evaluated (with batch=True, each with its batch axis)."""
        return cast("dict[str, Value]", dict(self.point))

    def _only(self) -> OutputResult:
        if len(self.outputs) != 1:
            raise ValueError(f"{self.file} has {len(self.outputs)} outputs "
                             f"({', '.join(o.name for o in self.outputs)}): use .values / .grads")
        return self.outputs[0]


# ---------------------------------------------------------------- Python functions

def check_function(f: Callable[..., Any], grad_f: Callable[..., Any], *args: Any,
                   wrt: int | str | Iterable[int | str] | None = None, vjp: bool = False,
                   fast: bool | None = None, method: str | None = None, rtol: float = 1e-6,
                   atol: float = 1e-9, seed: int = 0, raise_on_mismatch: bool = True) -> CheckReport:
    """Check grad_f, a hand-written gradient (Jacobian, or VJP with vjp=True) of the Python
    function f, at args, against finite differences with error estimates.

    grad_f(*args) returns d(f)/d(x) for each differentiated argument x (shaped f's output
    shape + x's shape; a tuple for several); with vjp=True, grad_f(*args, g) returns gᵀJ
    for each (shaped like x).  Returns the report; raises GradientMismatch (an
    AssertionError whose message is the text report, worst entries first) on a mismatch,
    unless raise_on_mismatch=False; GradError for bad input; f's or grad_f's own exceptions
    propagate, with a note saying where.
    """
    __tracebackhide__ = True   # pytest shows the caller's line and the report, not gradcli's frames
    from .check.python import check_function as run

    if not isinstance(vjp, bool) or not isinstance(raise_on_mismatch, bool):
        raise GradError("vjp and raise_on_mismatch are True or False")
    if fast is not None and not isinstance(fast, bool):
        raise GradError(f"fast={fast!r}: True, False or None (by the number of input elements)")
    report = run(f, grad_f, args, wrt=wrt, vjp=vjp, fast=fast, method=method, rtol=rtol, atol=atol,
                 seed=seed)
    if raise_on_mismatch:
        report.raise_for_status()
    return report


# ---------------------------------------------------------------- grading

def grade(exercises: str | PathLike[str], answers: str | PathLike[str] | None = None, *,
          submissions: str | PathLike[str] | None = None, seed: int | None = None, jobs: int = 1,
          time_limit: float = 5.0, progress: Callable[[int, int], None] | None = None) -> Gradebook:
    """`gradcli grade`: the gradebook of the answers to the exercises in `exercises` (an
    exercise folder, or a folder of them) that every report format renders.

    answers: one student's answers (a folder with ID/answer.grad or ID.grad per exercise, or
    one .grad file for a single exercise); None: each exercise's own answer file.
    submissions: a folder with one folder per student (instead of `answers`).  jobs: worker
    processes (0: one per CPU).  progress(done, total) is called as answers are graded.
    """
    from pathlib import Path

    from .grade import runner

    if answers is not None and submissions is not None:
        raise GradError("give answers or submissions, not both")
    if seed is not None:
        seed = _seed(seed)
    if isinstance(jobs, bool) or not isinstance(jobs, int) or jobs < 0:
        raise GradError(f"jobs={jobs!r}: a whole number >= 0 (0: one per CPU)")
    if isinstance(time_limit, bool) or not isinstance(time_limit, (int, float)) or not time_limit >= 0:
        raise GradError(f"time_limit={time_limit!r}: seconds >= 0 (0: no limit)")
    loaded = runner.load_all(Path(exercises), seed)
    return grade_loaded(loaded, answers, submissions=submissions, seed=seed, jobs=jobs,
                        time_limit=time_limit, progress=progress, exercises=exercises)


def grade_loaded(loaded, answers=None, *, submissions=None, seed=None, jobs=1, time_limit=5.0,
                 progress=None, exercises="") -> Gradebook:
    """`grade` on exercises already loaded (`gradcli grade` checks its options against them first)."""
    from pathlib import Path

    from .grade import runner
    from .grade.batch import Limits

    limits = Limits(time_limit=float(time_limit))
    students: list[tuple[str, Path | None]]
    if submissions is not None:
        students = list(runner.students_in(Path(submissions)))
        single, where = False, None
    else:
        where = None if answers is None else Path(answers)
        if where is not None and not where.exists():
            raise GradError(f"answers {where}: does not exist")
        if where is not None and where.is_file() and len(loaded) > 1:
            raise GradError(f"answers {where}: a single .grad file answers a single exercise; give a folder",
                            hint=f"{exercises} holds {len(loaded)} exercises")
        students = [(shown(where.resolve().name) if where is not None else "answer", where)]
        single = True
    total = len(students) * len(loaded)
    tick = None
    if progress is not None:
        done = 0
        progress(0, total)

        def tick(n: int) -> None:
            nonlocal done
            done += n * len(loaded)
            progress(done, total)

    results = runner.grade_many(loaded, students, limits, jobs or runner.default_workers(), seed, progress=tick)
    return runner.gradebook(loaded, results, single, None if submissions is not None else where)


# ---------------------------------------------------------------- helpers

def _plain(v) -> Value:
    """A Python float for shape (), else a float64 array of its own (never a view of the engine's)."""
    a = np.asarray(v, dtype=float)
    return float(a) if a.ndim == 0 else np.array(a)


def _seed(seed) -> int:
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or not 0 <= seed < 2**63:
        raise GradError(f"seed={seed!r}: a whole number from 0 to 2**63 - 1")
    return int(seed)


def _choice(value, choices, what: str) -> None:
    if value not in choices:
        raise GradError(f"{what}={value!r}: choose one of {', '.join(map(repr, choices))}")


def _tolerances(rtol, atol) -> None:
    for tol, label in ((rtol, "rtol"), (atol, "atol")):
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not 0 <= tol < float("inf"):
            raise GradError(f"{label}={tol!r}: a finite number >= 0")


def _at(at) -> tuple[list[str], dict[str, np.ndarray]]:
    """`at` as --at strings and {name: float64 value}."""
    if at is None:
        return [], {}
    if isinstance(at, str):
        at = [at]
    if isinstance(at, Mapping):
        strings, values = [], {}
        for name, v in at.items():
            if not isinstance(name, str):
                raise GradError(f"at: input names are strings, not {name!r}")
            if isinstance(v, str):
                strings.append(f"{name}={v}")
            else:
                values[name] = _number(v, f"at {name!r}")
        return strings, values
    items = list(at)
    for item in items:
        if not isinstance(item, str):
            raise GradError(f"at: give {{name: value}} or 'NAME=EXPR' strings, not {item!r}")
    return items, {}


def _number(v, what: str) -> np.ndarray:
    if isinstance(v, (bool, np.bool_)):
        raise GradError(f"{what} is a bool, not a number")
    try:
        a = np.asarray(v)
    except (TypeError, ValueError) as err:
        raise GradError(f"{what}: not a number or an array of numbers ({err})") from None
    if a.dtype.kind == "c":
        raise GradError(f"{what} is complex: gradcli computes with real numbers")
    if a.dtype.kind not in "iuf":
        raise GradError(f"{what}: not a number or an array of numbers ({type(v).__name__}"
                        + (f" of {a.dtype}" if a.dtype.kind != "O" else "") + ")")
    return np.array(a, dtype=float)


def _wrt(program: Program, wrt) -> list[int]:
    from .evaluate.core import select_inputs

    if wrt is None:
        return list(program.inputs)
    if isinstance(wrt, str):
        return select_inputs(program, wrt)
    names = list(wrt)
    for name in names:
        if not isinstance(name, str):
            raise GradError(f"wrt: input names are strings, not {name!r}")
    ids = select_inputs(program, ",".join(names)) if names else []
    return list(dict.fromkeys(ids))


def _batch(program: Program, point: dict, strings: list[str], values: dict) -> int:
    """B, the length of the batch axis of the inputs given; the others broadcast along it."""
    given = {item.partition("=")[0].strip() for item in strings} | set(values)
    ids = [i for i in program.inputs if program.nodes[i].name in given]
    if not ids:
        raise GradError("batch=True: give at least one input in `at`, with a leading batch axis")
    lengths = {}
    for i in ids:
        shape = np.shape(point[i])
        if not shape or shape[0] == 0:
            raise GradError(f"batch=True: input '{program.nodes[i].name}' has shape {shape}, "
                            "without a leading batch axis of at least one point")
        lengths[program.nodes[i].name] = shape[0]
    if len(set(lengths.values())) > 1:
        raise GradError("batch=True: the inputs' batch axes differ: "
                        + ", ".join(f"{k}: {v}" for k, v in lengths.items()))
    B = next(iter(lengths.values()))
    for i in program.inputs:
        if i not in ids:
            v = np.asarray(point[i], dtype=float)
            point[i] = np.broadcast_to(v, (B,) + v.shape)
    return B

