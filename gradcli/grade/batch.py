"""Batched evaluation for grading: every sample point in one pass (nb=1), within budgets.

`forward_tolerant` is the engine's batched loop for an untrusted answer: before each op
runs, the op table's shape rule gives the size of its value and what computing it costs,
so a value beyond the answer's element limit, or work beyond its budget, is refused
before numpy allocates anything.  Every later pass over the answer's graph (the Jacobians
the tasks ask for, the what-if passes of the notes) is charged to a `Meter` first, from
the same costs.  None of this reads a clock: the same answer is graded the same way on
an idle and on a busy machine.  The wall-clock `time_limit` is a last guard only; when it
fires, the answer is "not graded" (regrade), never given a score.
"""

from __future__ import annotations

import contextvars
import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..autodiff import engine
from ..autodiff.ops import OpError, OutOfMemory, ShapeError, size
from ..errors import GradError
from ..language.limits import ANSWER, PER_OP, OverBudget
from ..language.limits import Limits as GraphLimits
from ..numbers import shape_words


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024        # answer file size
    max_depth: int = 64               # bracket nesting
    graph: GraphLimits = ANSWER       # nodes, elements of one value (all points), work: the builder's
    time_limit: float = 30.0          # seconds per answer: a last guard, never a grade
    max_passes: int = 1_000           # tangent/adjoint passes for one Jacobian (elements of the seed)


class AnswerTimeout(Exception):
    """The per-answer time limit ran out."""


TIME_LIMIT = "not graded: time limit (machine busy?)"


@contextmanager
def time_limit(seconds: float):
    """Raise AnswerTimeout after `seconds` (SIGALRM; only in the main thread on POSIX)."""
    usable = (seconds and seconds > 0 and hasattr(signal, "setitimer")
              and threading.current_thread() is threading.main_thread())
    if not usable:
        yield
        return

    def _expired(signum, frame):
        raise AnswerTimeout()

    old = signal.signal(signal.SIGALRM, _expired)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, old)


# ---------------------------------------------------------------- the work meter

class Meter:
    """What grading one answer has computed, in element-operations (language/limits.py), against
    its budget.  `cost[i]`: one pass through node i at every sample point."""

    def __init__(self, program, budget: GraphLimits):
        self.program, self.budget = program, budget
        self.spent = 0
        self.cost: list[int] = [0] * len(program.nodes)
        self._prefix: list[int] | None = None

    def through(self, upto: int) -> int:
        """One pass over nodes 0..upto."""
        if self._prefix is None:
            total, prefix = 0, []
            for c in self.cost:
                total += c
                prefix.append(total)
            self._prefix = prefix
        return self._prefix[min(upto, len(self._prefix) - 1)] if self._prefix else 0

    def charge(self, work: int, nid: int, what: str) -> None:
        self.spent += work
        if self.spent > self.budget.work:
            program = self.program
            node = program.nodes[nid]
            raise OverBudget(f"grading this answer would take more than {self.budget.work:,} element-operations, "
                             f"the limit for {self.budget.who} (it stopped at {what} "
                             f"{program.describe(nid)})", program.source, node.start, node.end,
                             hint=self.budget.hint("--max-work"))


_METER: contextvars.ContextVar = contextvars.ContextVar("gradcli_meter", default=None)


@contextmanager
def metered(meter: Meter):
    """Charge the passes over meter.program made inside this block to the meter."""
    token = _METER.set(meter)
    try:
        yield meter
    finally:
        _METER.reset(token)


def charge(program, passes: int, upto: int, what: str, nid: int | None = None) -> None:
    """`passes` passes over program's nodes 0..upto, charged to the current meter (if it meters
    this program: the problem's own passes are the instructor's)."""
    meter = _METER.get()
    if meter is not None and meter.program is program and passes:
        meter.charge(passes * meter.through(upto), upto if nid is None else nid, what)


def charge_node(program, passes: int, nid: int, what: str) -> None:
    """`passes` evaluations of the one op at node nid."""
    meter = _METER.get()
    if meter is not None and meter.program is program and passes:
        meter.charge(passes * meter.cost[nid], nid, what)


# ---------------------------------------------------------------- passes

def _size(shape) -> int:
    return size(shape)


def too_big(program, node, n, limits: GraphLimits, shape=()) -> GradError:
    text = " ".join(program.source.text[node.start:node.end].split())
    text = text if len(text) <= 60 else text[:59] + "…"
    return GradError(f"`{text}` would be {n:,} elements over all sample points; the limit for "
                     f"{limits.who} is {limits.elements:,}", program.source, node.start, node.end,
                     hint=limits.hint("--max-elements"))


def over_budget(program, node, spent, limits: GraphLimits) -> GradError:
    text = " ".join(program.source.text[node.start:node.end].split())
    text = text if len(text) <= 60 else text[:59] + "…"
    return GradError(f"`{text}` brings the work of evaluating the answer to {spent:,} element-operations; "
                     f"the limit for {limits.who} is {limits.work:,}", program.source, node.start, node.end,
                     hint=limits.hint("--max-work"))


def forward(program, point: dict, limits: Limits | None = None, deadline: float | None = None) -> list:
    """engine.forward(program, point, nb=1); with limits, as forward_tolerant but raising the
    first error."""
    if limits is None:
        return engine.forward(program, point, nb=1)
    vals, errors, _ = forward_tolerant(program, point, limits, deadline)
    if errors:
        raise errors[min(errors)]
    return vals


def forward_tolerant(program, point: dict, limits: Limits, deadline: float | None = None,
                     meter: Meter | None = None):
    """(values, errors, meter): the batched pass over every node within the limits, where a node
    that fails (a shape error, a value too large, the budget spent) is None with its error in
    `errors` and the nodes that need it are None too: one bad line never stops the others.
    Each op's shape and cost come from the op table before it runs; the meter (a new one
    unless given) is charged with the pass and keeps each node's cost for later passes."""
    p = engine.plan(program)
    nodes = program.nodes
    graph = limits.graph
    meter = meter or Meter(program, graph)
    vals: list = [None] * len(nodes)
    shapes: list = [None] * len(nodes)
    errors: dict[int, GradError] = {}
    for i, value in p.consts:
        vals[i] = np.asarray(value)[None]
        shapes[i] = np.shape(value)
    for i in program.inputs:
        vals[i] = point[i]
        shapes[i] = np.shape(point[i])[1:]
    spent = meter.spent
    with np.errstate(all="ignore"):
        for i, op, args, params in p.steps:
            argvals = [vals[a] for a in args]
            if any(v is None for v in argvals):
                continue
            argshapes = [shapes[a] for a in args]
            try:
                shape = op.shape(argshapes, params)
            except OpError as err:
                errors[i] = op_failure(program, nodes[i], argshapes, err)
                continue
            B = max(len(v) for v in argvals)
            n = size(shape) * B
            if n > graph.elements:
                errors[i] = too_big(program, nodes[i], n, graph, shape)
                continue
            cost = op.cost(argshapes, shape) * B + PER_OP
            if spent + cost > graph.work:
                errors[i] = over_budget(program, nodes[i], spent + cost, graph)
                continue
            spent += cost
            meter.cost[i] = cost
            if deadline is not None and time.monotonic() > deadline:
                raise AnswerTimeout()
            try:
                vals[i] = engine.apply_op(op, argvals, params, 1)
                shapes[i] = shape
            except (OpError, ValueError, TypeError, IndexError, RuntimeError, MemoryError) as err:
                errors[i] = op_failure(program, nodes[i], argshapes, err)
    meter.spent = spent
    meter._prefix = None
    return vals, errors, meter


def op_failure(program, node, shapes, err) -> GradError:
    """An op that cannot be computed, in the student's terms: per-point shapes, their names."""
    text = " ".join(program.source.text[node.start:node.end].split())
    if isinstance(err, MemoryError):
        err = OutOfMemory("the value does not fit in the grader's memory")
    elif not isinstance(err, OpError):
        err = ShapeError(str(err).split("\n")[0])
    shown = [shape_words(s) for s in shapes]
    reason = str(err)
    if isinstance(err, ShapeError) and node.op.elementwise:
        reason = f"{node.op.symbol} cannot combine " + " and ".join(shown)
    what = ", ".join(f"{program.describe(a)} is {s}" for a, s in zip(node.args, shown))
    return GradError(f"{err.title} in `{text}`: {reason}", program.source, node.start, node.end,
                     hint=what if isinstance(err, ShapeError) else None)


def per_point(value, B: int) -> np.ndarray:
    """A value as float (B,)+shape (constants carry a batch axis of 1)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1)
    return a if a.shape[0] == B else np.broadcast_to(a, (B,) + a.shape[1:])


def _passes(program, nid, n, limits):
    if limits is not None and n > limits.max_passes:
        node = program.nodes[nid]
        raise GradError(f"{program.describe(nid)} has {n:,} elements: the grader differentiates w.r.t. and of "
                        f"values of at most {limits.max_passes:,} elements", program.source,
                        node.start, node.end)


def tangent_jacobians(program, vals, x: int, B: int, stop: int | None = None, limits=None,
                      careful: bool = False) -> list:
    """d(w)/d(x) for every node w: (B,)+w.shape+x.shape, or None where w does not depend on x.
    Made again with `careful` (engine.backward) where they are not finite."""
    xs = np.shape(vals[x])[1:]
    n = _size(xs)
    _passes(program, x, n, limits)
    charge(program, n, len(program.nodes) - 1 if stop is None else stop, "the forward-mode derivatives in", x)
    cols: list[list] = []
    for j in range(n):
        seed = np.zeros((B, n))
        seed[:, j] = 1.0
        cols.append(engine.tangents(program, vals, {x: seed.reshape((B,) + xs)}, nb=1, stop=stop, careful=careful))
    out: list = [None] * len(program.nodes)
    for w in range(len(program.nodes) if stop is None else stop + 1):
        if cols[0][w] is None:
            continue
        ws = np.shape(vals[w])[1:]
        parts = [np.broadcast_to(np.asarray(c[w], dtype=float), (B,) + ws) for c in cols]
        out[w] = parts[0] if not xs else np.stack(parts, axis=-1).reshape((B,) + ws + xs)
    if not careful and not engine.all_finite(out):
        return tangent_jacobians(program, vals, x, B, stop, None, True)
    return out


def adjoint_jacobians(program, vals, o: int, B: int, limits=None, careful: bool = False) -> list:
    """d(o)/d(w) for every node w: (B,)+o.shape+w.shape, or None where o does not depend on w.
    Made again with `careful` (engine.backward) where they are not finite."""
    os_ = np.shape(vals[o])[1:]
    m = _size(os_)
    _passes(program, o, m, limits)
    charge(program, m, o, "the reverse-mode derivatives of")
    rows = []
    for k in range(m):
        seed = np.zeros((B, m))
        seed[:, k] = 1.0
        rows.append(engine.backward(program, vals, o, seed=seed.reshape((B,) + os_), nb=1, careful=careful))
    out: list = [None] * len(program.nodes)
    for w in range(o + 1):
        if rows[0][w] is None or w == o:
            continue
        ws = np.shape(vals[w])[1:]
        parts = [np.broadcast_to(np.asarray(r[w], dtype=float), (B,) + ws) for r in rows]
        out[w] = parts[0] if not os_ else np.stack(parts, axis=1).reshape((B,) + os_ + ws)
    out[o] = None
    if not careful and not engine.all_finite(out):
        return adjoint_jacobians(program, vals, o, B, None, True)
    return out


def local_jacobian(program, vals, u: int, v: int, B: int, limits=None):
    """engine.local_jacobian at every sample point, as (B,) + its shape; None for index's i."""
    node = program.nodes[u]
    n = 1
    if not node.op.elementwise:
        n = _size(np.shape(vals[v])[1:])
        _passes(program, v, n, limits)
    charge_node(program, n, u, "the local derivatives of")
    out = engine.local_jacobian(program, vals, u, v, nb=1)
    return None if out is None else per_point(out, B)
