"""`eval` at many points in one pass (the Python API's `Graph.eval(batch=True)`).

Every input carries a leading batch axis of B points; the engine's nb=1 path runs each op
once over all of them, and each Jacobian costs one backward pass per output element
(reverse) or one tangent pass per input element (forward), whatever B.  A value or a
gradient that is not finite at some point is reported as `eval` reports it at one point
(the same message, pointing at the node), naming the point of the batch.
"""

from __future__ import annotations

import numpy as np

from ..autodiff import engine
from ..errors import GradError
from ..language.limits import FILE, Limits
from ..language.program import Program
from .core import OutputResult, evaluate, require


def evaluate_batch(program: Program, point: dict, wrt: list[int], B: int,
                   mode: str = "reverse", limits: Limits | None = FILE) -> list[OutputResult]:
    """point: {input id: (B,) + shape}; values (B,) + output shape, gradients (B,) + output
    shape + input shape."""
    if limits is not None:
        one = {i: np.broadcast_to(0.0, np.shape(v)[1:]) if np.ndim(v) > 1 else 0.0 for i, v in point.items()}
        require(program, one, wrt, mode, limits, B)
    vals = engine.forward(program, point, nb=1)
    per = {i: _per_point(vals[i], B) for i in program.outputs}
    _require_finite(program, point, wrt, mode, B, [per[o] for o in program.outputs])
    results = []
    for out in program.outputs:
        grads = _jacobians(program, vals, out, wrt, mode, B)
        if not engine.all_finite(list(grads.values())):   # again, with a zero stopping a derivative
            grads = _jacobians(program, vals, out, wrt, mode, B, careful=True)
        _require_finite(program, point, wrt, mode, B, list(grads.values()))
        results.append(OutputResult(program.nodes[out].name, per[out],
                                    {program.nodes[x].name: g for x, g in grads.items()}))
    return results


def _per_point(value, B: int) -> np.ndarray:
    a = np.asarray(value, dtype=float)
    return np.array(np.broadcast_to(a, (B,) + a.shape[1:]))


def _jacobians(program, vals, out: int, wrt: list[int], mode: str, B: int, careful: bool = False) -> dict:
    oshape = np.shape(vals[out])[1:]
    m = int(np.prod(oshape, dtype=int))
    if mode == "reverse":
        rows: dict = {x: [] for x in wrt}
        for e in range(m):
            seed = np.zeros((B, m))
            seed[:, e] = 1.0
            adj = engine.backward(program, vals, out, seed=seed.reshape((B,) + oshape), nb=1, wrt=wrt,
                                  careful=careful)
            for x in wrt:
                xs = np.shape(vals[x])[1:]
                rows[x].append(np.zeros((B,) + xs) if adj[x] is None else _per_point(adj[x], B))
        return {x: np.stack(rows[x], axis=1).reshape((B,) + oshape + np.shape(vals[x])[1:]) if m else
                np.zeros((B,) + oshape + np.shape(vals[x])[1:]) for x in wrt}
    result = {}
    for x in wrt:
        xs = np.shape(vals[x])[1:]
        n = int(np.prod(xs, dtype=int))
        cols = []
        for j in range(n):
            seed = np.zeros((B, n))
            seed[:, j] = 1.0
            t = engine.tangents(program, vals, {x: seed.reshape((B,) + xs)}, nb=1, stop=out, careful=careful)[out]
            cols.append(np.zeros((B,) + oshape) if t is None else _per_point(t, B))
        result[x] = np.stack(cols, axis=-1).reshape((B,) + oshape + xs) if n else np.zeros((B,) + oshape + xs)
    return result


def _require_finite(program, point, wrt, mode, B, arrays) -> None:
    """At the first point where something is NaN or infinite, `eval`'s own error for that point."""
    bad = np.zeros(B, dtype=bool)
    for a in arrays:
        bad |= ~np.isfinite(a.reshape(B, -1)).all(axis=1)
    if not bad.any():
        return
    b = int(np.argmax(bad))
    one = {i: (v[b][()] if np.ndim(v[b]) == 0 else v[b]) for i, v in point.items()}
    try:
        evaluate(program, one, wrt, mode)
    except GradError as err:
        err.message += f" (point {b} of the batch)"
        raise
    raise GradError(f"a value or gradient is not finite at point {b} of the batch")
