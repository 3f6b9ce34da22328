"""What-if derivatives: the engine's two modes with some local rules changed or some values given.

A note names a mistake by recomputing the derivative the way the mistake would have
(a product rule with its partials swapped, a max gate routed to the wrong side, a
softmax without its one-hot term, a path left out) and comparing; follow-through
recomputes it from the student's own claimed values.  Both are the engine's forward
and reverse passes over all sample points at once (nb=1) with
  ops      {node: Op}: a node's derivative rules taken from another op (its value stays),
  claimed  {node: Jacobian}: a node's tangent (adjoint) replaced by a given value once
           computed; `computed` keeps what its arguments (consumers) gave.
Paths are enumerated for graphs of scalars only.
"""

from __future__ import annotations

import numpy as np

from ..autodiff import engine
from ..autodiff.ops import Op, _log_softmax_back, _log_softmax_tangent, _softmax_back
from . import batch


def _size(shape) -> int:
    n = 1
    for s in shape:
        n *= int(s)
    return n


def _column(value, B, ws, n, j):
    """Column j of a Jacobian (B,)+ws+x.shape, x's n elements flattened."""
    return np.asarray(value).reshape((B,) + ws + (n,))[..., j]


def tangents(program, vals, B, x, stop=None, ops=None, claimed=None):
    """(tangent, computed): d(w)/d(x) per node, (B,)+w.shape+x.shape or None.

    claimed values are exactly (B,)+w.shape+x.shape."""
    xs = np.shape(vals[x])[1:]
    n = _size(xs)
    steps = engine.plan(program).steps
    N = len(program.nodes)
    batch.charge(program, n, N - 1 if stop is None else stop, "recomputing the forward-mode derivatives in", x)
    cols, comps = [], []
    ops, claimed = ops or {}, claimed or {}
    with np.errstate(all="ignore"):
        for j in range(n):
            tan = [None] * N
            comp = [None] * N
            seed = np.zeros((B, n))
            seed[:, j] = 1.0
            tan[x] = seed.reshape((B,) + xs)
            for i, op, args, params in steps:
                if stop is not None and i > stop:
                    break
                rules = ops.get(i, op)
                total, argvals = None, None
                for k, a in enumerate(args):
                    t = tan[a]
                    if t is None or not op.differentiable(k):
                        continue
                    if argvals is None:
                        argvals = [vals[q] for q in args]
                    c = engine.jvp(rules, k, t, vals[i], argvals, params, nb=1)
                    total = c if total is None else total + c
                comp[i] = total
                given = claimed.get(i)
                tan[i] = total if given is None else _column(given, B, np.shape(vals[i])[1:], n, j)
            cols.append(tan)
            comps.append(comp)
    return _stack(cols, vals, B, xs, after=True), _stack(comps, vals, B, xs, after=True)


def adjoints(program, vals, B, o, ops=None, claimed=None):
    """(adjoint, computed): d(o)/d(w) per node, (B,)+o.shape+w.shape or None.

    claimed values are exactly (B,)+o.shape+w.shape."""
    os_ = np.shape(vals[o])[1:]
    m = _size(os_)
    plan = engine.plan(program)
    steps, live = plan.steps, plan.live
    N = len(program.nodes)
    batch.charge(program, m, o, "recomputing the reverse-mode derivatives of")
    rows, comps = [], []
    ops, claimed = ops or {}, claimed or {}
    with np.errstate(all="ignore"):
        for k in range(m):
            adj = [None] * N
            comp = [None] * N
            seed = np.zeros((B, m))
            seed[:, k] = 1.0
            adj[o] = seed.reshape((B,) + os_)
            for i, op, args, params in reversed(steps):
                if i > o:
                    continue
                if i != o:
                    comp[i] = adj[i]
                    if i in claimed:
                        adj[i] = _row(claimed[i], B, os_, m, k)
                g = adj[i]
                if g is None:
                    continue
                rules = ops.get(i, op)
                argvals = None
                for q, a in enumerate(args):
                    if not op.differentiable(q) or not live[a]:
                        continue
                    if argvals is None:
                        argvals = [vals[v] for v in args]
                    c = engine.vjp(rules, q, g, vals[i], argvals, params, nb=1)
                    adj[a] = c if adj[a] is None else adj[a] + c
            for x in program.inputs:
                comp[x] = adj[x]
            adj[o] = comp[o] = None
            rows.append(adj)
            comps.append(comp)
    return _stack(rows, vals, B, os_, after=False), _stack(comps, vals, B, os_, after=False)


def _row(value, B, os_, m, k):
    """Row k of a Jacobian (B,)+o.shape+w.shape, o's m elements flattened."""
    a = np.asarray(value)
    return a.reshape((B, m) + a.shape[1 + len(os_):])[:, k]


def _stack(parts, vals, B, outer, after: bool) -> list:
    """Per node, the passes stacked into a Jacobian: (B,)+w.shape+outer (after) or (B,)+outer+w.shape."""
    out: list = [None] * len(parts[0])
    for w in range(len(out)):
        if parts[0][w] is None or vals[w] is None:
            continue
        ws = np.shape(vals[w])[1:]
        cols = [np.broadcast_to(np.asarray(p[w], dtype=float), (B,) + ws) for p in parts]
        if not outer:
            out[w] = cols[0]
        elif after:
            out[w] = np.stack(cols, axis=-1).reshape((B,) + ws + outer)
        else:
            out[w] = np.stack(cols, axis=1).reshape((B,) + outer + ws)
    return out


# ---------------------------------------------------------------- changed rules

def _ew(op: Op, partials) -> Op:
    return Op(op.name, op.symbol, op.arity, op.fwd, op.formula, partials=tuple(partials))


def swapped_product(op: Op) -> Op:
    """A product whose partials are swapped: d(u*v) = u'u + v'v instead of u'v + uv'."""
    return _ew(op, (lambda ans, a, b: a, lambda ans, a, b: b))


def wrong_branch(op: Op) -> Op | None:
    """max/min/relu passing the gradient to the other side."""
    if op.name in ("maximum", "minimum"):
        p0, p1 = op.partials
        return _ew(op, (lambda ans, a, b: p1(ans, a, b), lambda ans, a, b: p0(ans, a, b)))
    if op.name == "relu":
        return _ew(op, (lambda ans, a: (a <= 0).astype(float),))
    return None


def _zero_back(g, ans, a, *rest, nb=0):
    return np.zeros(np.shape(a))


def _zero_tangent(t, ans, a, *rest, nb=0):
    return np.zeros(np.shape(ans))


def without_onehot(op: Op) -> Op | None:
    """softmax/log_softmax without the diagonal term that makes the one-hot of the true class;
    index without its one-hot (the cross-entropy's `- z[y]` term dropped)."""
    if op.name == "log_softmax":
        return Op(op.name, op.symbol, 1, op.fwd, op.formula,
                  vjp=(lambda g, ans, a, nb=0: _log_softmax_back(g, ans, a, nb) - g,),
                  jvp=(lambda t, ans, a, nb=0: _log_softmax_tangent(t, ans, a, nb) - t,))
    if op.name == "softmax":
        return Op(op.name, op.symbol, 1, op.fwd, op.formula,
                  vjp=(lambda g, ans, a, nb=0: _softmax_back(g, ans, a, nb) - ans * g,),
                  jvp=(lambda t, ans, a, nb=0: _softmax_back(t, ans, a, nb) - ans * t,))
    if op.name == "index":
        return Op(op.name, op.symbol, 2, op.fwd, op.formula, vjp=(_zero_back, None), jvp=(_zero_tangent, None),
                  params=op.params)
    return None


def with_partial(program, vals, u: int, v: int, value, base: Op | None = None) -> Op:
    """u's op (or `base`, an op already changed) with its local partial w.r.t. v replaced by a
    given elementwise value (a claimed partial(u, v), which counts every slot v fills)."""
    node = program.nodes[u]
    op = base or node.op
    ans_nd = np.ndim(vals[u])
    p = np.asarray(value, dtype=float)
    if p.ndim < ans_nd:
        p = p.reshape(p.shape[:1] + (1,) * (ans_nd - p.ndim) + p.shape[1:])
    parts, seen = [], False
    for k, a in enumerate(node.args):
        if a == v and not seen:
            parts.append(lambda ans, *args, p=p: p)
            seen = True
        elif a == v:
            parts.append(0)
        else:
            parts.append(op.partials[k])
    return _ew(op, parts)


def nodes_between(program, src: int, dst: int) -> list[int]:
    """Op nodes on some path from src to dst (dst included), in order."""
    steps = engine.plan(program).steps
    batch.charge(program, 1, dst, "the paths to")
    down = {src}
    for i, op, args, _ in steps:
        if i <= dst and any(a in down for a in args):
            down.add(i)
    up = {dst}
    for i, op, args, _ in reversed(steps):
        if i in up:
            up.update(args)
    return [i for i, *_ in steps if i in down and i in up]


# ---------------------------------------------------------------- paths

MAX_PATHS = 8


def paths(program, vals, B, src: int, dst: int):
    """[(nodes, value (B,))] for each path src -> dst of a graph of scalars (each edge's local
    partial multiplied along it); None when a node is not a scalar or there are too many."""
    between = set(nodes_between(program, src, dst)) | {src}
    for w in between:
        if np.ndim(vals[w]) != 1:
            return None
    consumers: dict[int, list[int]] = {}
    for i, op, args, _ in engine.plan(program).steps:
        if i in between:
            for a in dict.fromkeys(args):
                if a in between:
                    consumers.setdefault(a, []).append(i)
    local: dict = {}
    found = []
    work = [(src, (src,), np.ones(B))]
    while work:
        w, path, value = work.pop()
        if w == dst:
            found.append((path, value))
            if len(found) > MAX_PATHS:
                return None
            continue
        for u in reversed(consumers.get(w, [])):
            key = (u, w)
            if key not in local:
                batch.charge_node(program, 1, u, "the paths through")
                lj = engine.local_jacobian(program, vals, u, w, nb=1)
                local[key] = None if lj is None else np.broadcast_to(np.asarray(lj, dtype=float), (B,))
            if local[key] is None:
                continue
            work.append((u, path + (u,), value * local[key]))
    return found


def missing_paths(found, given, idx, close):
    """The paths left out when `given` is the sum over a proper subset of them: the missing ones
    (those worth something), or None."""
    n = len(found)
    if n < 2:
        return None
    values = np.stack([v for _, v in found])
    best = None
    for mask in range(1, (1 << n) - 1):
        chosen = [k for k in range(n) if mask >> k & 1]
        if best is not None and len(chosen) <= len(best):
            continue
        if close(values[chosen].sum(axis=0), given):
            best = chosen
    if best is None:
        return None
    rest = [k for k in range(n) if k not in best]
    with np.errstate(all="ignore"):
        worth = [k for k in rest if np.any(np.abs(values[k][idx]) > 1e-12)]
    return [found[k] for k in worth] or None


def product_of_paths(found):
    if found is None or len(found) < 2:
        return None
    return np.prod(np.stack([v for _, v in found]), axis=0)
