"""Why a failed item is wrong, and whether it is wrong at all.

`follow_through`: the item recomputed with the chain rule from the student's own scored
claims (forward mode from their tangents, reverse mode from their adjoints, their
partials as the local derivatives); `diagnose`: the answer notes, each the derivative
recomputed the way one mistake would have (whatif.py) or another quantity the student
may have written, compared with the item's own test.
"""

from __future__ import annotations

import numpy as np

from ..autodiff import engine
from . import batch, notes, whatif
from .context import Context, Test, Want
from .exercise import fmt


# ---------------------------------------------------------------- follow-through

def _claimed(ctx: Context, key, shape) -> np.ndarray | None:
    """A scored claim's value as (B,)+shape, if it can stand in for the truth."""
    if key not in ctx.scored:
        return None
    claim = ctx.ans.claims.get(key)
    if claim is None or claim.error is not None or claim.node is None:
        return None
    v = np.asarray(ctx.vals[claim.node], dtype=float)
    try:
        return np.broadcast_to(v, (ctx.B,) + tuple(shape)).copy()
    except ValueError:
        return None


def _partial_ops(ctx: Context) -> tuple[dict, list]:
    """Ops with the student's scored partial(u, v) claims as their local partials."""
    program = ctx.ans.program
    by_node: dict[int, dict[int, np.ndarray]] = {}
    used = []
    for key in ctx.scored:
        if key[0] != "partial":
            continue
        u, v = ctx.ans.node_id(key[1]), ctx.ans.node_id(key[2])
        if u is None or v is None or program.nodes[u].kind != "op" or not program.nodes[u].op.elementwise:
            continue
        value = _claimed(ctx, key, np.shape(ctx.vals[u])[1:])
        if value is not None:
            by_node.setdefault(u, {})[v] = value
            used.append(key)
    ops = {}
    for u, parts in by_node.items():
        op = program.nodes[u].op
        for v, value in parts.items():
            op = whatif.with_partial(program, ctx.vals, u, v, value, base=op)
        ops[u] = op
    return ops, used


def follow_through(ctx: Context, want: Want, claim, expected, given, test: Test) -> str | None:
    """'follows from your ...' when given is what the student's own scored claims give."""
    if not ctx.ex.follow_through or want.role not in ("output", "tangent", "adjoint") or claim is None:
        return None
    ans, program, B = ctx.ans, ctx.ans.program, ctx.B
    options = []
    if want.role == "output":
        o, x = ctx.ex.program.nodes[want.ids[0]].name, ctx.ex.program.nodes[want.ids[1]].name
        oid, xid = ans.node_id(o), ans.inputs.get(x)
        if oid is None or xid is None or oid not in ans.graph or not ctx.output_shape_ok(o):
            return None
        if not ctx.output_ok(o) and not _graph_charged(ctx, o):
            return None
        options += [("tangent", oid, xid), ("adjoint", oid, xid)]
    elif want.role == "tangent":
        options.append(("tangent",) + want.ids)
    else:
        options.append(("adjoint",) + want.ids)
    ops, partials = _partial_ops(ctx)
    for mode, a, b in options:
        ctx.check_time()
        between = set(whatif.nodes_between(program, b, a)) - {a, b}
        if mode == "tangent":     # d(a)/d(b), b an input: forward mode with the claimed tangents
            xs = np.shape(ctx.vals[b])[1:]
            claimed = {}
            for w in ans.graph:
                if w in between:
                    v = _claimed(ctx, ("total", program.nodes[w].name, program.nodes[b].name),
                                 np.shape(ctx.vals[w])[1:] + xs)
                    if v is not None:
                        claimed[w] = v
            if not claimed and not ops and (want.role != "output" or ctx.output_ok(program.nodes[a].name)):
                continue
            _, computed = whatif.tangents(program, ctx.vals, B, b, stop=a, ops=ops, claimed=claimed)
            value, target = computed[a], a
            sources = {w: c for w, c in claimed.items()}
            truth = ctx.tangents(b)
        else:                     # d(a)/d(b): reverse mode from a with the claimed adjoints
            os_ = np.shape(ctx.vals[a])[1:]
            claimed = {}
            for w in ans.graph:
                if w in between:
                    v = _claimed(ctx, ("total", program.nodes[a].name, program.nodes[w].name),
                                 os_ + np.shape(ctx.vals[w])[1:])
                    if v is not None:
                        claimed[w] = v
            if not claimed and not ops and (want.role != "output" or ctx.output_ok(program.nodes[a].name)):
                continue
            _, computed = whatif.adjoints(program, ctx.vals, B, a, ops=ops, claimed=claimed)
            value, target = computed[b], b
            sources = claimed
            truth = ctx.adjoints(a)
        if value is None or np.shape(value) != expected.shape or test.same(expected, value):
            continue
        if not test.same(value, given):
            continue
        wrong = []
        for w, c in sources.items():
            t = truth[w]
            t = np.zeros_like(c) if t is None else t
            if not test.same(t, c):
                key = (("total", program.nodes[w].name, program.nodes[b].name) if mode == "tangent"
                       else ("total", program.nodes[a].name, program.nodes[w].name))
                wrong.append(ans.claims[key])
        for key in partials:
            c = ans.claims[key]
            u, v = ans.node_id(key[1]), ans.node_id(key[2])
            if u not in between and u != target and u != a:
                continue
            if not test.same(ctx.local(u, v), np.broadcast_to(ctx.vals[c.node], (B,) + np.shape(ctx.vals[u])[1:])):
                wrong.append(c)
        if wrong:
            listed = ", ".join(f"{c.text()} (line {c.line})" for c in sorted(wrong, key=lambda c: c.line)[:3])
            return f"wrong on its own, but right given your {listed}"
        o = ctx.ex.program.nodes[want.ids[0]].name if want.role == "output" else None
        if o is not None and not ctx.output_ok(o):
            return f"wrong for the problem's {o}, but right for your graph's {o} (its value is charged in the graph task)"
    return None


def _graph_charged(ctx: Context, o: str) -> bool:
    """A graph task with points asks for the value of o (so a wrong graph is charged there)."""
    return any(t.kind == "graph" and o in t.of and t.points > 0 for t in ctx.ex.tasks)


# ---------------------------------------------------------------- notes

def diagnose(ctx: Context, want: Want, expected, given, test: Test):
    """(note, message) for the first mistake that explains given, or None."""
    single = test.number
    idx = test.idx

    def fits(value) -> bool:
        if value is None:
            return False
        v = np.asarray(value, dtype=float)
        if v.shape[1:] != expected.shape[1:]:
            return False
        v = np.broadcast_to(v, expected.shape)
        return not test.same(expected, v) and test.same(v, given)

    for kind, note, message, value in _candidates(ctx, want, expected, single):
        if kind == "test":
            found = value(given, test)
            if found:
                return note, found
            continue
        if callable(value):
            value = value()
        if value is None:
            continue
        if kind == "guess" and single and notes.trivial(value, idx):
            continue
        if fits(value):
            return note, message
    found = notes.generic(expected, given, lambda v: test.same(v, given), idx)
    if found is not None:
        return found
    for kind, note, message, value, factor in _inner_candidates(ctx, want):
        if callable(value):
            value = value()
        if callable(factor):
            factor = factor()
        if value is None or factor is None or notes.unit(factor, slice(None) if not single else [0]):
            continue
        if single and notes.trivial(value, idx):
            continue
        if fits(value):
            return note, message
    return None


def _graph_of(ctx: Context, want: Want):
    """(program, vals, namer) the candidates of this want are computed on."""
    if want.role == "output":
        return ctx.ex.program, ctx.ex.vals, ctx.problem_name
    return ctx.ans.program, ctx.vals, ctx.name


def _candidates(ctx: Context, want: Want, expected, single: bool):
    """(kind, note, message, value) in the order they are tried; kind: structural (computed for
    this very derivative), guess (another quantity the student may have written), test."""
    program, vals, namer = _graph_of(ctx, want)
    B = ctx.B
    role = want.role
    if role == "output" and not single:      # a formula: another entry is no coincidence
        yield from _entries(ctx, want)
    if role in ("output", "tangent", "adjoint"):
        if role == "adjoint":
            top, bottom = want.ids
        else:
            bottom, top = want.ids[1], want.ids[0]
        between = whatif.nodes_between(program, bottom, top)

        def changed(ops):
            def compute():
                ctx.check_time()
                if role == "tangent":
                    return whatif.tangents(program, vals, B, bottom, stop=top, ops=ops)[0][top]
                return whatif.adjoints(program, vals, B, top, ops=ops)[0][bottom]
            return compute

        live = engine.plan(program).live
        for m in between[:8]:
            node = program.nodes[m]
            if node.op.name == "mul" and node.args[0] != node.args[1] and all(live[a] for a in node.args):
                a, b = (namer(x) for x in node.args)
                what = f"{namer(m)} = {a}*{b}" if not node.generated else f"{a}*{b}"
                yield ("structural", notes.PARTIALS_SWAPPED,
                       f"partials swapped in the product rule: for {what}, the partial w.r.t. {a} "
                       f"is {b} and the one w.r.t. {b} is {a}, not the other way round",
                       changed({m: whatif.swapped_product(node.op)}))
        for m in between[:8]:
            node = program.nodes[m]
            op = whatif.wrong_branch(node.op)
            if op is not None and not _routed_right(ctx, want, program, m):
                yield ("structural", notes.WRONG_BRANCH, _branch_message(ctx, program, vals, namer, m),
                       changed({m: op}))
        for m in between[:8]:
            op = whatif.without_onehot(program.nodes[m].op)
            if op is not None:
                yield ("structural", notes.ONEHOT, "the one-hot of the true class is missing: the gradient of "
                       "the loss w.r.t. the scores z is softmax(z) - onehot(y), not softmax(z)", changed({m: op}))
        found = whatif.paths(program, vals, B, bottom, top) if expected.ndim == 1 else None
        if found:
            yield ("test", notes.MISSING_PATH, "", _missing_path_test(found, namer, expected))
            product = whatif.product_of_paths(found)
            if product is not None:
                yield ("structural", notes.PATHS_MULTIPLIED, f"the {len(found)} paths' products are multiplied; "
                       "the chain rule adds them: the sum over all paths", product)
        if role == "output" and single:
            yield from _entries(ctx, want)
        yield from _guesses(ctx, want, namer)
    elif role == "edge":
        yield from _edge_candidates(ctx, want)
    elif role == "value":
        for other in want.ids:        # the answer to another question of the same task
            yield ("structural", notes.ANSWERS_SWAPPED, f"this is the answer to {other}", ctx.ex.values[other])


def _routed_right(ctx: Context, want: Want, program, m: int) -> bool:
    """The student's own right claims at the gate's arguments show they routed it right (so a
    value a wrong routing would give is another mistake, such as a missing path)."""
    ans = ctx.ans
    args = list(dict.fromkeys(program.nodes[m].args))
    if want.role == "output":
        ids = [ctx.student_id(a) for a in args]
        o = ctx.ex.program.nodes[want.ids[0]].name
        top = ans.node_id(o)
        x = ctx.ex.program.nodes[want.ids[1]].name
        bottom = ans.inputs.get(x)
        if top is None or bottom is None or top not in ans.graph:
            return False
        mode = "adjoint"
    else:
        ids = args
        top, bottom = (want.ids if want.role == "adjoint" else (want.ids[0], want.ids[1]))
        mode = want.role
    verdicts = []
    for a in ids:
        if a is None or ans.program.nodes[a].kind != "op":
            continue
        if mode == "adjoint":
            verdicts.append(ctx.claim_right(("total", ctx.name(top), ctx.name(a)), ctx.adjoints(top)[a]))
        else:
            verdicts.append(ctx.claim_right(("total", ctx.name(a), ctx.name(bottom)), ctx.tangents(bottom)[a]))
    verdicts = [v for v in verdicts if v is not None]
    return bool(verdicts) and all(verdicts)


def _branch_message(ctx, program, vals, namer, m) -> str:
    node = program.nodes[m]
    names = [namer(a) for a in node.args]
    if node.op.name == "relu":
        return (f"relu routed the wrong way: relu({names[0]}) passes the gradient only where {names[0]} > 0 "
                f"({names[0]} = {fmt(np.asarray(vals[node.args[0]])[0])} at the default point)")
    a, b = (np.asarray(vals[x], dtype=float)[0] for x in node.args)
    bigger = node.op.name == "maximum"
    win = names[0] if (np.all(a > b) if bigger else np.all(a < b)) else names[1]
    gate = "max" if bigger else "min"
    return (f"the {gate} gate {namer(m)} = {gate}({names[0]}, {names[1]}) routed the wrong way: it passes the "
            f"gradient only to its {'larger' if bigger else 'smaller'} argument, {win} at the default point")


def _missing_path_test(found, namer, expected):
    def test(given, t: Test):
        missing = whatif.missing_paths(found, given, t.idx, lambda s, g: t.same(s, g))
        if not missing:
            return None
        shown = "; ".join(" → ".join(namer(n) for n in path) for path, _ in missing)
        what = "the path" if len(missing) == 1 else "the paths"
        return f"a path is missing: add {what} {shown} (d/dv is the sum over all paths from v)"
    return test


def _guesses(ctx: Context, want: Want, namer):
    ex, ans = ctx.ex, ctx.ans
    if want.role == "output":
        o = ex.program.nodes[want.ids[0]].name
        x = ex.program.nodes[want.ids[1]].name
        if o in ex.outputs and len(ex.outputs) > 1:
            parts = [ex.jac[(p, x)] for p in ex.outputs]
            if all(np.shape(p) == np.shape(parts[0]) for p in parts):
                yield ("guess", notes.ALL_OUTPUTS, f"this is the sum of d(·)/d({x}) over the outputs "
                       f"{', '.join(ex.outputs)}: reverse mode seeded with every output at once; seed one "
                       "output at a time (one row of the Jacobian per pass)", sum(parts))
    elif want.role == "tangent":
        w, x = want.ids
        wname = ctx.name(w)
        for o in ctx.student_outputs():
            if o != w:
                yield ("guess", notes.SWAPPED, f"forward and reverse swapped: your answer is "
                       f"d({ctx.name(o)})/d({wname}), reverse mode's adjoint; forward mode asks "
                       f"d({wname})/d({ctx.name(x)})", lambda o=o, w=w: ctx.adjoints(o)[w])
        for y in ans.inputs.values():
            if y != x:
                yield ("guess", notes.WRONG_VARIABLE, f"this is d({wname})/d({ctx.name(y)}): differentiated "
                       f"w.r.t. {ctx.name(y)}, not {ctx.name(x)}", lambda y=y, w=w: ctx.tangents(y)[w])
    else:   # adjoint
        o, w = want.ids
        wname = ctx.name(w)
        outs = ctx.student_outputs()
        if len(outs) > 1 and o in outs:
            def seeded(w=w, outs=outs):
                parts = [ctx.adjoints(p)[w] for p in outs]
                parts = [p for p in parts if p is not None]
                return sum(parts) if parts and all(np.shape(p) == np.shape(parts[0]) for p in parts) else None
            yield ("guess", notes.ALL_OUTPUTS, f"this is the sum of d(·)/d({wname}) over the outputs: reverse "
                   "mode seeded with every output at once; seed one output at a time", seeded)
        for x in ans.inputs.values():
            yield ("guess", notes.SWAPPED, f"forward and reverse swapped: your answer is d({wname})/"
                   f"d({ctx.name(x)}), forward mode's tangent; reverse mode asks d({ctx.name(o)})/d({wname})",
                   lambda x=x: ctx.tangents(x)[w])
        for u in _consumers(ctx, w):
            uname = ctx.name(u)
            yield ("guess", notes.LOCAL_TOTAL, f"this is the local partial({uname}, {wname}); d({ctx.name(o)})/"
                   f"d({wname}) is the total derivative: multiply by d({ctx.name(o)})/d({uname}) (and add the "
                   "other paths)", lambda u=u: _local_as(ctx, u, w, o))


def _entries(ctx: Context, want: Want):
    """Another entry of the Jacobian: rows and columns swapped, or another input."""
    ex = ctx.ex
    o = ex.program.nodes[want.ids[0]].name
    x = ex.program.nodes[want.ids[1]].name
    if o in ex.outputs:
        i, j = ex.outputs.index(o), ex.inputs.index(x)
        if i != j and j < len(ex.outputs) and i < len(ex.inputs):
            other = (ex.outputs[j], ex.inputs[i])
            if other in ex.jac:
                yield ("guess", notes.ROWS_COLUMNS, f"this is d({other[0]})/d({other[1]}): rows and columns "
                       "of the Jacobian swapped (a row per output, a column per input)", ex.jac[other])
    for y in ex.inputs:
        if y != x and (o, y) in ex.jac:
            yield ("guess", notes.WRONG_VARIABLE, f"this is d({o})/d({y}): differentiated w.r.t. {y}, "
                   f"not {x}", ex.jac[(o, y)])


def _local_as(ctx, u, w, o):
    """partial(u, w) as a value shaped like d(o)/d(w), for a scalar o (else None)."""
    if np.shape(ctx.vals[o])[1:]:
        return None
    lj = ctx.local(u, w)
    if lj is None:
        return None
    if not ctx.ans.program.nodes[u].op.elementwise or np.shape(lj)[1:] != np.shape(ctx.vals[w])[1:]:
        return None
    return lj


def _consumers(ctx: Context, w: int) -> list[int]:
    program = ctx.ans.program
    return [n.id for n in program.nodes[: program.n_main] if n.kind == "op" and w in n.args
            and ctx.live[n.id]]


def _edge_candidates(ctx: Context, want: Want):
    ans, program = ctx.ans, ctx.ans.program
    u, v = want.ids
    node = program.nodes[u]
    uname, vname = ctx.name(u), ctx.name(v)
    others = [a for a in dict.fromkeys(node.args) if a != v]
    if node.op.name == "mul" and others and ctx.live[others[0]]:
        yield ("structural", notes.PARTIALS_SWAPPED, f"partials swapped: for {uname} = {ctx.name(node.args[0])}*"
               f"{ctx.name(node.args[1])}, partial({uname}, {vname}) is the other factor, "
               f"{ctx.name(others[0])}, not {vname}", _as_partial(ctx, u, v))
    if node.op.name in ("maximum", "minimum") and others:     # the gate's partial of its other side
        yield ("structural", notes.WRONG_BRANCH, _branch_message(ctx, program, ctx.vals, ctx.name, u),
               lambda: ctx.local(u, others[0]))
    elif node.op.name == "relu":
        yield ("structural", notes.WRONG_BRANCH, _branch_message(ctx, program, ctx.vals, ctx.name, u),
               lambda: 1.0 - ctx.local(u, v))
    for x in ans.inputs.values():
        yield ("guess", notes.LOCAL_TOTAL, f"this is the total derivative d({uname})/d({ctx.name(x)}); "
               f"partial({uname}, {vname}) is the local derivative of {uname} w.r.t. {vname} alone, its other "
               "arguments held fixed", lambda x=x: ctx.tangents(x)[u])
    for o in ctx.student_outputs():
        yield ("guess", notes.LOCAL_TOTAL, f"this is the total derivative d({ctx.name(o)})/d({vname}); "
               f"partial({uname}, {vname}) is the local derivative on the edge {vname} → {uname} alone",
               lambda o=o: ctx.adjoints(o)[v])
    if node.op.name != "mul":
        for a in others:
            if ctx.live[a]:
                yield ("guess", notes.WRONG_VARIABLE, f"this is partial({uname}, {ctx.name(a)}): the derivative "
                       f"w.r.t. {ctx.name(a)}, not {vname}", lambda a=a: ctx.local(u, a))


def _as_partial(ctx, u, v):
    """For u = a*b, what partial(u, v) is with the factors swapped: v's own value, shaped like u."""
    shape = np.shape(ctx.vals[u])[1:]
    try:
        return np.broadcast_to(batch.per_point(ctx.vals[v], ctx.B), (ctx.B,) + shape)
    except ValueError:
        return None


def _inner_candidates(ctx: Context, want: Want):
    """(kind, note, message, value, factor): "multiply by FACTOR" hints, never for a factor of 0 or 1."""
    ex, ans = ctx.ex, ctx.ans
    if want.role == "output":
        o_id, x_id = want.ids
        o = ex.program.nodes[o_id].name
        adj = ex.adjoints.get(o, [])
        for w, value in enumerate(adj):
            node = ex.program.nodes[w]
            if value is None or node.kind != "op" or w == o_id:
                continue
            text = ctx.problem_name(w)
            yield ("guess", notes.INNER, f"a missing inner-derivative factor: your answer is d({o})/d({text}); "
                   f"multiply by d({text})/d({ex.program.nodes[x_id].name}) (the chain rule)", value,
                   lambda w=w: ctx.problem_tangents(x_id)[w])
    elif want.role == "tangent":
        w, x = want.ids
        node = ans.program.nodes[w]
        wname = ctx.name(w)
        for v in dict.fromkeys(node.args):
            if v == x or not ctx.live[v]:
                continue
            vname = ctx.name(v)
            yield ("guess", notes.INNER, f"a missing factor: your answer is partial({wname}, {vname}) alone; "
                   f"multiply by d({vname})/d({ctx.name(x)})",
                   lambda v=v: ctx.local(w, v) if ans.program.nodes[w].op.elementwise else None,
                   lambda v=v: ctx.tangents(x)[v])
    elif want.role == "adjoint":
        o, w = want.ids
        adj = ctx.adjoints(o)
        for u in _consumers(ctx, w):
            if adj[u] is None:
                continue
            uname = ctx.name(u)
            yield ("guess", notes.INNER, f"a missing factor: your answer is d({ctx.name(o)})/d({uname}); "
                   f"multiply by partial({uname}, {ctx.name(w)})", adj[u],
                   lambda u=u: ctx.local(u, w) if ans.program.nodes[u].op.elementwise else None)
