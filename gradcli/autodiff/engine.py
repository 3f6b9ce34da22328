"""Evaluation, reverse mode and forward mode: loops over the program's node list.

One point: values are float64 scalars or arrays, exactly numpy's semantics.
Many points (`nb=1`): every value carries a leading batch axis (B for what
depends on an input, 1 for constants), so a batch of points is one pass of
numpy calls.  Elementwise arguments are aligned here (a per-point scalar of
shape (B,) against a per-point vector becomes (B, 1)); shape-aware ops get
`nb` and handle the axis themselves.

A missing adjoint or tangent is `None` (a symbolic zero), never an array of zeros.
"""

from __future__ import annotations

import numpy as np

from ..errors import GradError, NumericError
from ..numbers import num
from .ops import Op, ShapeError, _sum_to


# ---------------------------------------------------------------- one op

def _align(args):
    """Batch mode: give elementwise arguments the same number of per-point axes."""
    nd = max(np.ndim(a) for a in args)
    return [a if np.ndim(a) == nd else np.reshape(a, np.shape(a)[:1] + (1,) * (nd - np.ndim(a))
                                                   + np.shape(a)[1:]) for a in args]


def apply_op(op: Op, args, params=(), nb: int = 0):
    """Forward of one op; ShapeError when the arguments' shapes do not fit."""
    try:
        if op.elementwise:
            if nb and len(args) > 1:
                args = _align(args)
            return op.fwd(*args)
        return op.fwd(*args, *params, nb=nb)
    except ShapeError:
        raise
    except (ValueError, RuntimeError, TypeError, IndexError) as err:  # numpy refusing the shapes
        raise ShapeError(str(err).split("\n")[0]) from None
    except MemoryError:
        raise ShapeError("the result does not fit in memory") from None


def local_partial(op: Op, k: int, ans, args):
    """The local partial of an elementwise op w.r.t. argument k (number or array)."""
    p = op.partials[k]
    return p(ans, *args) if callable(p) else p


def vjp(op: Op, k, g, ans, args, params=(), nb=0):
    """g's contribution to the adjoint of argument k of one op (shaped like that argument)."""
    if op.elementwise:
        shape = np.shape(args[k])
        if nb and len(args) > 1:
            args = _align(args)
        p = op.partials[k]
        c = g * p(ans, *args) if callable(p) else (g if p == 1 else g * p)
        if np.shape(c) != shape:
            c = _sum_to(np.asarray(c), np.shape(args[k])).reshape(shape)
        return c
    c = op.vjp_rule(k)(g, ans, *args, *params, nb=nb)
    if np.shape(c) != np.shape(args[k]):
        c = _sum_to(np.asarray(c), np.shape(args[k]))
    return c


def jvp(op: Op, k, t, ans, args, params=(), nb=0):
    """The contribution of argument k's tangent t to the op's tangent (shaped like the op)."""
    if op.elementwise:
        if nb and len(args) > 1:
            args = _align(args)
            t = _align([t, ans])[0] if np.ndim(t) < np.ndim(ans) else t
        p = op.partials[k]
        c = t * p(ans, *args) if callable(p) else (t if p == 1 else t * p)
        if np.shape(c) != np.shape(ans):
            c = np.broadcast_to(c, np.shape(ans))
        return c
    return op.jvp_rule(k)(t, ans, *args, *params, nb=nb)


# ---------------------------------------------------------------- plans

class Plan:
    """What the loops need from a program, computed once in one walk over its nodes.

    steps: (id, op, args, params) per op node; fast: the same for the single-point
    forward loop, with the op's function bound: (id, f, a, b), b = -1 for a unary op,
    -2 when a is a tuple of arguments; live: the node depends on an input.
    """

    def __init__(self, program):
        nodes = program.nodes
        live = [False] * len(nodes)
        for i in program.inputs:
            live[i] = True
        steps, fast, consts = [], [], []
        self.stacks = False        # a tensor literal of nodes: scalars can make a vector
        for n in nodes:
            if n.kind == "const":
                consts.append((n.id, n.value))
                continue
            if n.kind != "op":
                continue
            i, op, args, params = n.id, n.op, n.args, n.params
            steps.append((i, op, args, params))
            for a in args:
                if live[a]:
                    live[i] = True
                    break
            f = op.fwd
            if params:
                f = (lambda fn, p: (lambda *a: fn(*a, *p)))(f, params)
            if len(args) == 1:
                fast.append((i, f, args[0], -1))
            elif len(args) == 2:
                fast.append((i, f, args[0], args[1]))
            else:
                fast.append((i, f, args, -2))
                self.stacks = True
        self.steps, self.fast, self.consts, self.live = steps, fast, consts, live
        self._fast_back = {}

    def fast_back(self, vals, live, key, inputs):
        """Single-point reverse steps, specialised to the shapes at hand: (id, a, b, rule_a, rule_b).

        A rule is ONE (pass g on), NEG (-g), a function (g, ans, *argvals) -> contribution,
        or None for an argument that needs no adjoint; b is -1 for a unary op.
        """
        steps = self._fast_back.get(key)
        if steps is not None:
            return steps
        steps = []
        append = steps.append
        # Scalar inputs and constants and no tensor literal: every value is a scalar, no
        # edge broadcasts, and a rule depends on the op alone.
        scalar = not self.stacks and all(getattr(vals[i], "shape", ()) == ()
                                         for i in [*inputs, *(c for c, _ in self.consts)])
        shared: dict = {}
        for i, op, args, params in reversed(self.steps):
            if scalar and not params:
                rules = shared.get(id(op))
                if rules is None:
                    rules = shared[id(op)] = [_rule(op, k, params, vals, i, args) for k in range(len(args))]
            else:
                rules = [_rule(op, k, params, vals, i, args) for k in range(len(args))]
            if len(args) == 1:
                a = args[0]
                append((i, a, -1, rules[0] if live[a] else None, None))
            elif len(args) == 2:
                a, b = args
                append((i, a, b, rules[0] if live[a] else None, rules[1] if live[b] else None))
            else:
                append((i, args, -2, [r if live[a] else None for r, a in zip(rules, args)], None))
        self._fast_back[key] = steps
        return steps


ONE, NEG = "one", "neg"


_SHARED_RULES: dict = {}


def _rule(op, k, params, vals, i, args):
    """The VJP of argument k of node i as the fast loop wants it (see Plan.fast_back).

    Rules are shared between nodes of the same op: building them is a dict lookup.
    """
    if not op.differentiable(k):
        return None
    same = getattr(vals[args[k]], "shape", ()) == getattr(vals[i], "shape", ())
    key = (id(op), k, same)
    held = _SHARED_RULES.get(key)
    if held is not None and not params:
        return held[1]
    p = op.partials[k] if op.elementwise else None
    if op.elementwise and same and not callable(p):
        rule = ONE if p == 1 else NEG if p == -1 else (lambda g, ans, *a: g * p)
    elif op.elementwise and same:
        rule = lambda g, ans, *a: g * p(ans, *a)  # noqa: E731
    else:
        rule = lambda g, ans, *a: vjp(op, k, g, ans, list(a), params, 0)  # noqa: E731
    if not params:
        _SHARED_RULES[key] = (op, rule)  # the op is held, so its id is never reused
    return rule


def _backward_fast(steps, vals, adj):
    """The reverse loop at one point; the hot path of `eval`."""
    for i, a, b, ra, rb in steps:
        g = adj[i]
        if g is None:
            continue
        if b == -1:
            if ra is None:
                continue
            c = g if ra is ONE else -g if ra is NEG else ra(g, vals[i], vals[a])
            x = adj[a]
            adj[a] = c if x is None else x + c
        elif b >= 0:
            if ra is not None:
                c = g if ra is ONE else -g if ra is NEG else ra(g, vals[i], vals[a], vals[b])
                x = adj[a]
                adj[a] = c if x is None else x + c
            if rb is not None:
                c = g if rb is ONE else -g if rb is NEG else rb(g, vals[i], vals[a], vals[b])
                x = adj[b]
                adj[b] = c if x is None else x + c
        else:
            argvals = [vals[x] for x in a]
            for x, r in zip(a, ra):
                if r is not None:
                    c = g if r is ONE else -g if r is NEG else r(g, vals[i], *argvals)
                    adj[x] = c if adj[x] is None else adj[x] + c


def plan(program) -> Plan:
    p = getattr(program, "_plan", None)
    if p is None:
        p = program._plan = Plan(program)
    return p


# ---------------------------------------------------------------- evaluation

def _shape_error(program, node, vals, err, nb):
    shapes = []
    for a in node.args:
        s = np.shape(vals[a])[nb:] if vals[a] is not None else "?"
        shapes.append(f"{program.nodes[a].name}: {s}")
    text = program.source.text[node.start:node.end]
    return GradError(f"shape mismatch in `{text}`: {err}", program.source, node.start, node.end,
                     hint="shapes " + ", ".join(shapes))


def forward(program, point: dict, nb: int = 0, guard=None) -> list:
    """Values of every node (and of the claims) at `point`: {input id: value}.

    With nb=1 the point's values carry a leading batch axis, and `guard(i, op,
    argvals)`, if given, is called before each op (the grader's size and time limits).
    """
    p = plan(program)
    nodes = program.nodes
    vals: list = [None] * len(nodes)
    for i, value in p.consts:
        vals[i] = np.asarray(value)[None] if nb else value
    for i in program.inputs:
        vals[i] = point[i]
    i = -1
    with np.errstate(all="ignore"):
        try:
            if nb == 0:
                for i, f, a, b in p.fast:
                    if b == -1:
                        vals[i] = f(vals[a])
                    elif b >= 0:
                        vals[i] = f(vals[a], vals[b])
                    else:
                        vals[i] = f(*[vals[x] for x in a])
            else:
                for i, op, args, params in p.steps:
                    argvals = [vals[a] for a in args]
                    if guard is not None:
                        guard(i, op, argvals)
                    vals[i] = apply_op(op, argvals, params, nb)
        except (ShapeError, ValueError, TypeError, IndexError, RuntimeError, MemoryError) as err:
            if i < 0:
                raise
            raise _shape_error(program, nodes[i], vals, err, nb) from None
    return vals


def first_bad(program, vals) -> int | None:
    """The first node (in order) whose value is NaN or infinite while its arguments are not."""
    with np.errstate(all="ignore"):
        for node in program.nodes[: program.n_main]:
            v = vals[node.id]
            if v is None or np.all(np.isfinite(v)):
                continue
            if node.kind != "op" or all(np.all(np.isfinite(vals[a])) for a in node.args):
                return node.id
    return None


def require_finite(program, vals, ids):
    """Raise NumericError naming the node that first made a non-finite value."""
    if all(np.all(np.isfinite(vals[i])) for i in ids):
        return
    bad = first_bad(program, vals)
    if bad is None:
        return
    node = program.nodes[bad]
    text = program.source.text[node.start:node.end]
    args = ", ".join(f"{program.nodes[a].name} = {_short(vals[a])}" for a in node.args)
    raise NumericError(f"`{text}` is {_short(vals[bad])} at this point", program.source,
                       node.start, node.end,
                       hint=(f"its arguments: {args}; " if args else "")
                       + "the function is not defined here; choose another point with --at")


def _short(v):
    a = np.asarray(v)
    if a.size == 1:
        return num(a.item())
    bad = a[~np.isfinite(a)]
    return f"{num(bad.flat[0])} (in a {a.shape} tensor)" if bad.size else f"a {a.shape} tensor"


def backward(program, vals, output: int, seed=None, nb: int = 0, wrt=None) -> list:
    """Reverse mode: adjoint d(output)/d(node) of every node that depends on an input.

    `wrt` (input ids) restricts the pass to what those inputs' gradients need.
    """
    p = plan(program)
    nodes = program.nodes
    live = p.live if wrt is None or len(set(wrt)) == len(program.inputs) else _live_from(program, wrt)
    adj: list = [None] * len(nodes)
    adj[output] = np.ones_like(vals[output]) if seed is None else seed
    if nb == 0:
        key = (None if live is p.live else tuple(sorted(wrt)),
               tuple(np.shape(vals[x]) for x in program.inputs))
        steps = p.fast_back(vals, live, key, program.inputs)
        with np.errstate(all="ignore"):
            _backward_fast(steps, vals, adj)
        return adj
    with np.errstate(all="ignore"):
        for i, op, args, params in reversed(p.steps):
            if i > output:
                continue
            g = adj[i]
            if g is None:
                continue
            argvals = None
            for k, a in enumerate(args):
                if not live[a] or not op.differentiable(k):
                    continue
                if argvals is None:
                    argvals = [vals[x] for x in args]
                c = vjp(op, k, g, vals[i], argvals, params, nb)
                adj[a] = c if adj[a] is None else adj[a] + c
    return adj


def _live_from(program, wrt):
    key = tuple(sorted(wrt))
    cache = program.__dict__.setdefault("_live_cache", {})
    if key not in cache:
        live = [False] * len(program.nodes)
        for i in key:
            live[i] = True
        for i, op, args, _ in plan(program).steps:
            if any(live[a] for a in args):
                live[i] = True
        cache[key] = live
    return cache[key]


def tangents(program, vals, seeds: dict, nb: int = 0, stop: int | None = None) -> list:
    """Forward mode: the tangent of every node given tangents of some inputs {id: t}."""
    p = plan(program)
    tan: list = [None] * len(program.nodes)
    for i, t in seeds.items():
        tan[i] = t
    with np.errstate(all="ignore"):
        for i, op, args, params in p.steps:
            if stop is not None and i > stop:
                break
            total = None
            argvals = None
            for k, a in enumerate(args):
                t = tan[a]
                if t is None or not op.differentiable(k):
                    continue
                if argvals is None:
                    argvals = [vals[x] for x in args]
                c = jvp(op, k, t, vals[i], argvals, params, nb)
                total = c if total is None else total + c
            tan[i] = total
    return tan


# ---------------------------------------------------------------- Jacobians

def local_jacobian(program, vals, u: int, v: int, nb: int = 0, max_columns: int | None = None):
    """partial(u, v): the local derivative on the edge(s) v -> u, u's other arguments held fixed.

    An elementwise op gives its partial elementwise, shaped like u (what `graph` prints on
    the edge); any other op its full local Jacobian, u.shape + v.shape (one JVP per element
    of v).  With nb=1 the batch axis leads.  None where no derivative flows (index's i).
    """
    node = program.nodes[u]
    op, args = node.op, node.args
    slots = [k for k, a in enumerate(args) if a == v and op.differentiable(k)]
    if not slots:
        return None
    argvals = [vals[a] for a in args]
    ans = vals[u]
    with np.errstate(all="ignore"):
        if op.elementwise:
            aligned = _align(argvals) if nb and len(argvals) > 1 else argvals
            return sum(np.broadcast_to(np.asarray(local_partial(op, k, ans, aligned), float), np.shape(ans))
                       for k in slots)
        vshape = np.shape(vals[v])
        per = vshape[nb:]
        n = int(np.prod(per, dtype=int))
        if max_columns is not None and n > max_columns:
            raise program.error(f"'{program.nodes[v].name}' has {n:,} elements: too many to differentiate "
                                f"w.r.t. here (at most {max_columns:,})", program.nodes[v])
        cols = []
        for j in range(n):
            t = np.zeros(vshape[:nb] + (n,))
            t[..., j] = 1.0
            t = t.reshape(vshape)
            c = sum(np.asarray(op.jvp_rule(k)(t[()] if not vshape else t, ans, *argvals, *node.params, nb=nb),
                               float) for k in slots)
            cols.append(np.broadcast_to(c, np.shape(ans)))
        out = np.stack(cols, axis=-1) if cols else np.zeros(np.shape(ans) + (0,))
        return out.reshape(np.shape(ans) + per)


def jacobian(program, vals, output: int, inputs, mode: str = "reverse") -> dict:
    """d(output)/d(input) for each input, shaped output.shape + input.shape."""
    out = np.asarray(vals[output])
    if mode == "reverse":
        rows = {x: [] for x in inputs}
        for e in range(max(out.size, 1)):
            seed = np.zeros(out.shape)
            seed.flat[e] = 1.0
            seed = seed[()] if out.ndim == 0 else seed
            adj = backward(program, vals, output, seed=seed, wrt=inputs)
            for x in inputs:
                g = adj[x]
                rows[x].append(np.zeros(np.shape(vals[x])) if g is None else np.asarray(g, float))
        return {x: np.stack(rows[x]).reshape(out.shape + np.shape(vals[x]))
                if out.ndim else rows[x][0] for x in inputs}
    result = {}
    for x in inputs:
        xs = np.shape(vals[x])
        cols = []
        for j in range(max(int(np.prod(xs)), 1)):
            seed = np.zeros(xs)
            seed.flat[j] = 1.0
            tan = tangents(program, vals, {x: seed[()] if not xs else seed}, stop=output)
            t = tan[output]
            cols.append(np.zeros(out.shape) if t is None else np.broadcast_to(np.asarray(t, float), out.shape))
        result[x] = np.moveaxis(np.stack(cols), 0, -1).reshape(out.shape + xs) if xs else cols[0]
    return result
