"""Batched evaluation for grading: every sample point in one pass (nb=1), under limits.

`forward` is the engine's batched loop with two guards an untrusted answer needs:
no value beyond `Limits.max_elements` (checked from the arguments' shapes before
numpy allocates) and a deadline.  Jacobians come from the engine's `tangents`
and `backward`, one pass per element of the seed (one pass for scalars).
"""

from __future__ import annotations

import signal
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass

import numpy as np

from ..autodiff import engine
from ..errors import GradError
from ..autodiff.ops import ShapeError


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 64 * 1024        # answer file size
    max_depth: int = 64               # bracket nesting
    max_nodes: int = 5_000            # graph nodes, claims included, after def expansion
    max_elements: int = 1_000_000     # elements of one value (all sample points together)
    max_total: int = 20_000_000       # elements of all values of one pass
    time_limit: float = 5.0           # seconds per answer
    max_passes: int = 1_000           # tangent/adjoint passes for one Jacobian (elements of the seed)


class AnswerTimeout(Exception):
    """The per-answer time limit ran out."""


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


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def out_size(op, args) -> int:
    """An upper estimate of the elements op(*args) has (batch axis included), before computing it."""
    shapes = [np.shape(a) for a in args]
    batch = max((s[0] for s in shapes if s), default=1)
    if op.elementwise:
        try:
            per = np.broadcast_shapes(*[s[1:] for s in shapes])
        except ValueError:
            # numpy aligns trailing axes; the engine pads a per-point scalar: either way bounded by
            # the product of the sizes, which is what an outer-product broadcast gives.
            per = (max(_size(s[1:]) for s in shapes),)
        return batch * _size(per)
    if op.name == "matmul" and len(shapes) == 2:
        a, b = shapes[0][1:], shapes[1][1:]
        rows = _size(a[:-1]) if len(a) >= 2 else 1
        cols = b[-1] if len(b) >= 2 else 1
        stack = max(_size(a[:-2]), _size(b[:-2]))
        return batch * rows * int(cols) * stack
    if op.name == "stack":
        return sum(_size(s) for s in shapes)
    return max((_size(s) for s in shapes), default=1)


def too_big(program, node, n, limits: Limits) -> GradError:
    text = program.source.text[node.start:node.end]
    if n > limits.max_elements:
        what = f"makes a value of {n:,} elements, more than the grader allows ({limits.max_elements:,} " \
               "over all sample points)"
    else:
        what = f"brings the answer's values past {limits.max_total:,} elements in all"
    return GradError(f"`{text}` {what}", program.source, node.start, node.end,
                     hint="answers are small graphs; check the shapes")


def forward(program, point: dict, limits: Limits | None = None, deadline: float | None = None) -> list:
    """engine.forward(program, point, nb=1) with size and time guards."""
    if limits is None:
        return engine.forward(program, point, nb=1)
    total = 0

    def guard(i, op, argvals):
        nonlocal total
        n = out_size(op, argvals)
        total += n
        if n > limits.max_elements or total > limits.max_total:
            raise too_big(program, program.nodes[i], n, limits)
        if deadline is not None and time.monotonic() > deadline:
            raise AnswerTimeout()

    return engine.forward(program, point, nb=1, guard=guard)


def forward_tolerant(program, point: dict, limits: Limits, deadline: float | None = None):
    """(values, errors): the batched pass over every node under the limits, where a node that
    fails (a shape error, a value too large) is None with its error in `errors` and the nodes
    that need it are None too: one bad line never stops the others."""
    p = engine.plan(program)
    nodes = program.nodes
    vals: list = [None] * len(nodes)
    errors: dict[int, GradError] = {}
    for i, value in p.consts:
        vals[i] = np.asarray(value)[None]
    for i in program.inputs:
        vals[i] = point[i]
    total = 0
    with np.errstate(all="ignore"):
        for i, op, args, params in p.steps:
            argvals = [vals[a] for a in args]
            if any(v is None for v in argvals):
                continue
            n = out_size(op, argvals)
            if n > limits.max_elements or total + n > limits.max_total:
                errors[i] = too_big(program, nodes[i], n, limits)
                continue
            total += n
            if deadline is not None and time.monotonic() > deadline:
                raise AnswerTimeout()
            try:
                vals[i] = engine.apply_op(op, argvals, params, 1)
            except (ShapeError, ValueError, TypeError, IndexError, RuntimeError, MemoryError) as err:
                errors[i] = shape_error(program, nodes[i], argvals, err)
    return vals, errors


def describe(program, nid: int) -> str:
    """A node as the student wrote it: its name, or the text of a sub-expression in backticks."""
    node = program.nodes[nid]
    if not node.generated:
        return node.name
    text = " ".join(program.source.text[node.start:node.end].split())
    while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
        text = text[1:-1].strip()
    return f"`{text if len(text) <= 40 else text[:39] + '…'}`"


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch in "(["
        depth -= ch in ")]"
        if depth < 0:
            return False
    return depth == 0


def shape_error(program, node, argvals, err) -> GradError:
    """A shape error at a node in the student's terms: per-point shapes, the student's names."""
    from .exercise import shape_text

    text = " ".join(program.source.text[node.start:node.end].split())
    shapes = [shape_text(np.shape(v)[1:]) for v in argvals]
    reason = str(err).split("\n")[0]
    if node.op.elementwise or "broadcast" in reason or "(" in reason:
        reason = f"{node.op.symbol} cannot combine " + " and ".join(shapes)
    what = ", ".join(f"{describe(program, a)} is {s}" for a, s in zip(node.args, shapes))
    return GradError(f"shape mismatch in `{text}`: {reason}", program.source, node.start, node.end,
                     hint=what)


def per_point(value, B: int) -> np.ndarray:
    """A value as float (B,)+shape (constants carry a batch axis of 1)."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        a = a.reshape(1)
    return a if a.shape[0] == B else np.broadcast_to(a, (B,) + a.shape[1:])


def _passes(program, nid, n, limits):
    if limits is not None and n > limits.max_passes:
        node = program.nodes[nid]
        raise GradError(f"{describe(program, nid)} has {n:,} elements: the grader differentiates w.r.t. and of "
                        f"values of at most {limits.max_passes:,} elements", program.source,
                        node.start, node.end)


def tangent_jacobians(program, vals, x: int, B: int, stop: int | None = None, limits=None) -> list:
    """d(w)/d(x) for every node w: (B,)+w.shape+x.shape, or None where w does not depend on x."""
    xs = np.shape(vals[x])[1:]
    n = _size(xs)
    _passes(program, x, n, limits)
    cols: list[list] = []
    for j in range(n):
        seed = np.zeros((B, n))
        seed[:, j] = 1.0
        cols.append(engine.tangents(program, vals, {x: seed.reshape((B,) + xs)}, nb=1, stop=stop))
    out: list = [None] * len(program.nodes)
    for w in range(len(program.nodes) if stop is None else stop + 1):
        if cols[0][w] is None:
            continue
        ws = np.shape(vals[w])[1:]
        parts = [np.broadcast_to(np.asarray(c[w], dtype=float), (B,) + ws) for c in cols]
        out[w] = parts[0] if not xs else np.stack(parts, axis=-1).reshape((B,) + ws + xs)
    return out


def adjoint_jacobians(program, vals, o: int, B: int, limits=None) -> list:
    """d(o)/d(w) for every node w: (B,)+o.shape+w.shape, or None where o does not depend on w."""
    os_ = np.shape(vals[o])[1:]
    m = _size(os_)
    _passes(program, o, m, limits)
    rows = []
    for k in range(m):
        seed = np.zeros((B, m))
        seed[:, k] = 1.0
        rows.append(engine.backward(program, vals, o, seed=seed.reshape((B,) + os_), nb=1))
    out: list = [None] * len(program.nodes)
    for w in range(o + 1):
        if rows[0][w] is None or w == o:
            continue
        ws = np.shape(vals[w])[1:]
        parts = [np.broadcast_to(np.asarray(r[w], dtype=float), (B,) + ws) for r in rows]
        out[w] = parts[0] if not os_ else np.stack(parts, axis=1).reshape((B,) + os_ + ws)
    out[o] = None
    return out


def local_jacobian(program, vals, u: int, v: int, B: int, limits=None):
    """engine.local_jacobian at every sample point, as (B,) + its shape; None for index's i."""
    node = program.nodes[u]
    if not node.op.elementwise:
        _passes(program, v, _size(np.shape(vals[v])[1:]), limits)
    out = engine.local_jacobian(program, vals, u, v, nb=1)
    return None if out is None else per_point(out, B)
