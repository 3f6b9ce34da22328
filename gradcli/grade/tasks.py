"""Grading one answer: the tasks ask for items, each claim is graded once, every claim is checked.

1. The answer is built statement by statement (answer.py) and evaluated at every sample
   point in one batched pass; what fails is recorded per line.
2. Each task kind lists what it asks for: finished items (a node that could not be
   built, "one primitive op per node") and `Want`s, requests to grade a claim or a value.
3. A claim is graded once, in the first task (exercise.toml order) that asks for it; the
   later tasks show it "graded in <task>".  A wrong claim that follows from the student's
   own wrong claims (scored elsewhere), recomputed with the chain rule on their values,
   passes with the note follow-through.
4. Every other claim is still checked against the truth; a wrong one, a claim made twice
   and a line with an error no item showed are extra items worth 0 points.

Derivatives of the problem's outputs w.r.t. its inputs are checked against the problem;
every other (intermediate) claim against the engine run on the student's own graph, so
students name their nodes freely.
"""

from __future__ import annotations

import re
import time
from pathlib import Path

import numpy as np

from ..errors import GradError
from ..numbers import num, shape_words
from . import batch, notes
from .answer import Answer, Claim, Line, build_answer, read_answer, unparse
from .batch import AnswerTimeout, Limits
from .context import Context, Test, Want
from .diagnose import diagnose, follow_through
from .exercise import Exercise, Task, fmt
from .report import ExerciseResult, Item, TaskResult

COMMUTATIVE = {"add", "mul", "maximum", "minimum"}


# ---------------------------------------------------------------- what each task asks

def _broken_items(ctx: Context, names, what) -> list[Want]:
    """One failed item per node the student wrote that could not be built (graded in order)."""
    return [Want(("broken", what(name)), what(name), "broken", (name,)) for name in names]


def _broken_feedback(ctx: Context, item: str, name: str, line: Line) -> str:
    root = line.root
    text = f"{item}: your line {line.line} defining {name} could not be built, so this cannot be checked"
    if root is not line:
        text += f" (it needs line {root.line})"
    if id(root) not in ctx.reported:
        ctx.reported.add(id(root))
        text += "\n" + root.error
    return text


def _broken_nodes(ctx: Context, outputs: bool = False) -> list[str]:
    ans = ctx.ans
    return [n for n, line in sorted(ans.broken_names.items(), key=lambda kv: kv[1].start)
            if line.name == n and n not in ctx.ex.inputs and (outputs or n not in ctx.ex.outputs)
            and line.node and (ans.needed is None or n in ans.needed)]


def _no_graph(ctx: Context) -> bool:
    return not ctx.ans.graph and not _broken_nodes(ctx, outputs=True)


def _no_graph_item(name: str = "your graph") -> Item:
    return Item(name, False, "your answer has no graph: assign one primitive op per node, e.g. "
                "`w1 = sin(x)`, and name the outputs as the problem does", notes.MISSING)


def derivative(ctx: Context, task: Task) -> list:
    ex = ctx.ex
    wants = []
    for o in task.of:
        for x in task.wrt:
            if (o, x) in ex.zero and not task.zeros:
                continue
            wants.append(Want(("total", o, x), f"d({o})/d({x})", "output",
                              (ex.program.names[o], ex.program.names[x]), ex.jac[(o, x)]))
    return wants


def graph(ctx: Context, task: Task) -> list:
    ex, ans = ctx.ex, ctx.ans
    out: list = []
    for o in task.of:
        out.append(Want(("value", o), f"value of {o}", "graph", (), ex.values[o]))
    name = "one primitive op per node"
    if _no_graph(ctx):
        out.append(_no_graph_item(name))
        return out
    if not ans.graph:
        out.append(Item(name, False, f"{name}: none of your graph's lines could be built, so its "
                        "decomposition cannot be checked", notes.ERROR))
        return out
    out.append(_undecomposed(ctx) or Item(name, True))
    if task.distinct:
        out.append(_repeated(ctx) or Item("each sub-expression computed once", True))
    return out


def _undecomposed(ctx: Context) -> Item | None:
    """A failed item when the student's graph hides operations in sub-expressions."""
    ans = ctx.ans
    if not ans.unnamed:
        return None
    name = "one primitive op per node"
    node = ans.program.nodes[ans.unnamed[0]]
    line, _ = ans.source.line_col(node.start)
    text = " ".join(ans.source.text[node.start:node.end].split())
    return Item(name, False, f"{name}: line {line}: `{text}` is a sub-expression, not a node of "
                f"its own; give it a name ({len(ans.unnamed)} unnamed operation(s) in all)", notes.STRUCTURE)


def _repeated(ctx: Context) -> Item | None:
    """A failed item when two named nodes compute the same operation on the same arguments."""
    program = ctx.ans.program
    graph = set(ctx.ans.graph)
    canon: dict[int, object] = {}
    seen: dict[object, int] = {}
    for node in program.nodes[: program.n_main]:
        if node.kind == "input":
            canon[node.id] = ("input", node.id)
        elif node.kind == "const":
            v = np.asarray(node.value, dtype=float)
            canon[node.id] = ("const", v.shape, v.tobytes())
        elif node.op.name == "id":
            canon[node.id] = canon[node.args[0]]
        else:
            args = [canon[a] for a in node.args]
            if node.op.name in COMMUTATIVE:
                args = sorted(args, key=repr)
            key = (node.op.name, tuple(args), node.params)
            canon[node.id] = key
            if key in seen and node.id in graph:
                first = program.nodes[seen[key]]
                line = ctx.ans.source.line_col(node.start)[0]
                line1 = ctx.ans.source.line_col(first.start)[0]
                return Item("each sub-expression computed once", False,
                            f"each sub-expression computed once: line {line}: {node.name} computes again what "
                            f"{first.name} (line {line1}) computes; use {first.name}", notes.REPEATED)
            if key not in seen and node.id in graph:
                seen[key] = node.id
    return None


def _intermediates(ctx: Context) -> list[int]:
    outs = set(ctx.ex.outputs)
    return [w for w in ctx.ans.graph if ctx.ans.program.nodes[w].name not in outs]


def _node_by_node(ctx: Context, kind: str) -> Item | None:
    """forward and reverse go node by node: a graph with no named node but its outputs has
    nothing to go through (the items would only repeat the derivative)."""
    if _no_graph(ctx):
        return _no_graph_item()
    if not _intermediates(ctx) and not _broken_nodes(ctx):
        return Item("your graph", False, f"{kind} mode goes node by node: your graph names no node but the "
                    "output(s); give each operation a node of its own, e.g. `a = sin(x)`", notes.STRUCTURE)
    return None


def forward(ctx: Context, task: Task) -> list:
    ex, ans = ctx.ex, ctx.ans
    stop = _node_by_node(ctx, "forward")
    if stop is not None:
        return [stop]
    out: list = []
    wrt_names = task.wrt
    nodes = [(ans.program.nodes[w].start, ans.program.nodes[w].name, w) for w in ans.graph]
    nodes += [(ans.broken_names[n].start, n, None) for n in _broken_nodes(ctx, outputs=True)]
    for _, wname, w in sorted(nodes, key=lambda t: t[0]):
        if w is None and wname not in ex.outputs:
            x = wrt_names[0] if len(wrt_names) == 1 else "·"
            out += _broken_items(ctx, [wname], lambda n: f"d({n})/d({x})")
            ctx.consumed.update(k for k in ans.claims if k[0] == "total" and k[1] == wname)
            continue
        for x in wrt_names:
            xid = ans.inputs[x]
            if wname in ex.outputs and (w is None or ctx.output_shape_ok(wname)):
                if (wname, x) in ex.zero and not task.zeros:
                    continue
                out.append(Want(("total", wname, x), f"d({wname})/d({x})", "output",
                                (ex.program.names[wname], ex.program.names[x]), ex.jac[(wname, x)]))
                continue
            tan = ctx.tangents(xid)[w]
            if tan is None:
                if not task.zeros:
                    continue
                shape = np.shape(ctx.vals[w])[1:] + np.shape(ctx.vals[xid])[1:]
                tan = np.zeros((ctx.B,) + shape)
            out.append(Want(("total", wname, x), f"d({wname})/d({x})", "tangent", (w, xid), tan))
    return out


def reverse(ctx: Context, task: Task) -> list:
    ex, ans = ctx.ex, ctx.ans
    stop = _node_by_node(ctx, "reverse")
    if stop is not None:
        return [stop]
    program = ans.program
    out: list = []
    for o in task.of:
        oid = ans.node_id(o)
        inputs = [Want(("total", o, x), f"d({o})/d({x})", "output",
                       (ex.program.names[o], ex.program.names[x]), ex.jac[(o, x)])
                  for x in task.wrt if (o, x) not in ex.zero]
        if o in ans.broken_names and oid is None:
            out += _broken_items(ctx, [o], lambda n: f"d({n})/d(·)")
            ctx.consumed.update(k for k in ans.claims if k[0] == "total" and k[1] == o)
            out += inputs
            continue
        if oid is None or oid not in ans.graph:
            out.append(Item(f"d({o})/d(·)", False, f"d({o})/d(·): your graph has no node named {o} "
                            "(name the outputs as the problem does)", notes.MISSING))
            out += inputs
            continue
        if not ctx.output_shape_ok(o):
            out.append(Item(f"d({o})/d(·)", False, f"d({o})/d(·): the problem's {o} is "
                            f"{shape_words(ex.values[o].shape[1:])}, yours is "
                            f"{shape_words(np.shape(ctx.vals[oid])[1:])}", notes.SHAPE))
            continue
        out += inputs
        adj = ctx.adjoints(oid)
        for w in ans.graph:
            if w == oid or adj[w] is None or program.nodes[w].name in ex.outputs:
                continue
            wname = program.nodes[w].name
            out.append(Want(("total", o, wname), f"d({o})/d({wname})", "adjoint", (oid, w), adj[w]))
        for n in _broken_nodes(ctx):
            out += _broken_items(ctx, [n], lambda n, o=o: f"d({o})/d({n})")
            ctx.consumed.add(("total", o, n))
    return out


def edges(ctx: Context, task: Task) -> list:
    ans = ctx.ans
    if _no_graph(ctx):
        return [_no_graph_item()]
    program = ans.program
    out: list = []
    for u in ans.graph:
        node = program.nodes[u]
        for v in dict.fromkeys(node.args):
            vnode = program.nodes[v]
            if not ctx.live[v] or vnode.generated:
                continue
            expected = ctx.local(u, v)
            if expected is None:
                continue
            out.append(Want(("partial", node.name, vnode.name), f"partial({node.name}, {vnode.name})", "edge",
                            (u, v), expected, loose=node.op.elementwise))
    for n in _broken_nodes(ctx, outputs=True):
        out += _broken_items(ctx, [n], lambda n: f"partial({n}, ·)")
        ctx.consumed.update(k for k in ans.claims if k[0] == "partial" and k[1] == n)
    if not out:
        out.append(Item("your graph", False, "your graph has no edge between named nodes: "
                        "give each sub-expression a name", notes.STRUCTURE))
    return out


def value(ctx: Context, task: Task) -> list:
    return [Want(("value", name), f"value of {name}", "value", tuple(n for n in task.of if n != name),
                 ctx.ex.values[name]) for name in task.of]


CHECKERS = {"derivative": derivative, "graph": graph, "forward": forward, "reverse": reverse,
            "edges": edges, "value": value}


# ---------------------------------------------------------------- grading one want

def _line(ans: Answer, claim: Claim | None) -> str:
    return f" (line {claim.line})" if claim is not None and claim.line else ""


def grade_want(ctx: Context, task: Task, want: Want) -> Item:
    if want.role in ("value", "graph"):
        return _grade_value(ctx, task, want)
    if want.role == "broken":
        name = want.ids[0]
        return Item(want.name, False, _broken_feedback(ctx, want.name, name, ctx.ans.broken_names[name]),
                    notes.ERROR)
    ans = ctx.ans
    claim = ans.claims.get(want.key)
    name = want.name
    if claim is None:
        kind, u, v = want.key
        swapped = ans.claims.get((kind, v, u)) if kind == "total" else None
        if swapped is not None:
            ctx.consumed.add(swapped.key)
            return Item(name, False, f"{name}: missing; you wrote {swapped.text()} (line {swapped.line}) — the "
                        "names are the other way round", notes.NAMES)
        return Item(name, False, f"{name}: missing (write `{name} = ...`)", notes.MISSING)
    if claim.error is not None:
        return Item(name, False, claim.error, notes.ERROR)
    expected = np.asarray(want.value())
    given = np.asarray(ctx.vals[claim.node], dtype=float)
    return _judge(ctx, task, want, expected, given, claim, f"{name}{_line(ans, claim)}",
                  None if claim.expr is None else unparse(claim.expr))


def _judge(ctx, task, want, expected, given, claim, head, wrote) -> Item:
    """Compare, try follow-through, then the notes."""
    ex = ctx.ex
    name = want.name
    B = expected.shape[0]
    live = claim.live if claim is not None else bool(np.shape(given)[0] == B and B > 1)
    shown = f"\n  you wrote: {wrote}" if wrote else ""
    if np.shape(given)[1:] != expected.shape[1:]:
        fitted = None
        if want.loose:
            try:                # a number at each point stands for every entry (a per-point scalar too)
                one = given.reshape(given.shape + (1,) * (expected.ndim - 1)) if given.ndim == 1 else given
                fitted = np.broadcast_to(one, given.shape[:1] + expected.shape[1:])
            except ValueError:
                fitted = None
        if fitted is None:
            return _shape_item(ctx, want, expected, given, head, shown)
        given = fitted
    with np.errstate(all="ignore"):
        constant = bool(np.all(np.abs(expected - expected[:1]) <= ex.atol + ex.rtol * np.abs(expected[:1])))
    if live and task.form == "number":
        return Item(name, False, f"{head}: a formula where a number was asked: compute its value at "
                    f"{ex.describe_point(0)} and write the number{shown}", notes.FORMULA)
    if not live and task.form == "formula" and not constant:
        return Item(name, False, f"{head}: a number where a formula was asked; write it as an expression "
                    f"in {', '.join(ex.inputs)}{shown}", notes.NUMBER)
    number = not live
    test = Test(number, [0] if number else slice(None), ex, task.sigfigs)
    given = np.broadcast_to(given, expected.shape)
    idx = [0] if number else list(range(B))
    ef = np.isfinite(expected).reshape(B, -1)
    if not any(ef[b].any() for b in idx):
        return Item(name, False, f"{head}: undefined at every point checked (in your graph), so it cannot be "
                    "checked; make your graph compute the problem's function", notes.DOMAIN)
    ok = test.ok(expected, given)
    if np.all(ok):
        return Item(name, True)
    gf = np.isfinite(given).reshape(B, -1)
    bad = [b for b, good in zip(idx, ok) if not good]
    b = bad[0]
    where = ex.describe_point(b)
    if not gf[b][ef[b]].all():
        culprit = _nonfinite(ctx, claim, b, where)
        return Item(name, False, f"{head} at {where}: your answer is undefined ({fmt(given[b])}) where the "
                    f"expected value is {fmt(expected[b])}: the domains differ{shown}{culprit}", notes.DOMAIN)
    feedback = f"{head} at {where}: expected {fmt(expected[b])}, given {fmt(given[b])}"
    follow = follow_through(ctx, want, claim, expected, given, test)
    if follow is not None:
        return Item(name, True, f"{head}: {follow}: not charged again", notes.FOLLOW)
    if number:
        k = notes.digits(expected[idx], given[idx], task.sigfigs)
        if k and k >= min(2, task.sigfigs - 1):
            return Item(name, False, f"{feedback}: right to {k} significant figure{'s' if k > 1 else ''}; give "
                        f"{task.sigfigs}{shown}", notes.DIGITS)
    found = diagnose(ctx, want, expected, given, test)
    if found is not None:
        note, message = found
        return Item(name, False, f"{feedback}{shown}\n  note: {message}", note)
    return Item(name, False, feedback + shown)


def _nonfinite(ctx: Context, claim, b: int, where: str) -> str:
    """The first operation of a claim (or a value's line) that is not finite at point b, as a
    FILE:LINE:COL error with a caret ('' if there is none to point at)."""
    ans = ctx.ans
    program = ans.program
    if claim is None or claim.node is None:
        return ""
    owner = ans.owner.get(claim.node)
    with np.errstate(all="ignore"):
        for node in program.nodes:
            if node.kind != "op" or ans.owner.get(node.id) is not owner or owner is None:
                continue
            v = batch.per_point(ctx.vals[node.id], ctx.B)[b]
            if np.all(np.isfinite(v)):
                continue
            if all(np.all(np.isfinite(batch.per_point(ctx.vals[a], ctx.B)[b])) for a in node.args):
                text = " ".join(program.source.text[node.start:node.end].split())
                return "\n" + GradError(f"`{text}` is {fmt(v)} at {where}", program.source, node.start,
                                        node.end).render()
    return ""


def _shape_item(ctx, want, expected, given, head, shown) -> Item:
    e_shape, g_shape = expected.shape[1:], np.shape(given)[1:]
    feedback = f"{head}: expected {shape_words(e_shape)}, given {shape_words(g_shape)}{shown}"
    g = np.asarray(given, dtype=float)
    if notes.transposed(expected[:1], g[:1]):
        return Item(want.name, False, feedback + "\n  note: your answer is the transpose of the expected "
                    "value", notes.TRANSPOSED)
    if want.role == "output":
        o = ctx.ex.program.nodes[want.ids[0]]
        os_ = ctx.ex.values[o.name].shape[1:] if o.name in ctx.ex.values else ()
        if os_ and g_shape == e_shape[len(os_):]:
            summed = expected.sum(axis=tuple(range(1, 1 + len(os_))))
            if notes.close(summed[:1], np.broadcast_to(g, (g.shape[0],) + g_shape)[:1], slice(None), 1e-6, 1e-9):
                return Item(want.name, False, feedback + f"\n  note: your answer is the gradient of sum({o.name}): "
                            "every output seeded at once; d(u)/d(v) of a vector u has one row per entry of u",
                            notes.ALL_OUTPUTS)
    return Item(want.name, False, feedback, notes.SHAPE)


# ---------------------------------------------------------------- values (graph, value tasks)

def _grade_value(ctx: Context, task: Task, want: Want) -> Item:
    ans = ctx.ans
    name = want.key[1]
    item = want.name
    nid = ans.node_id(name)
    if nid is None and name not in ans.consts:
        if name in ans.broken_names:
            line = ans.broken_names[name]
            return Item(item, False, _broken_feedback(ctx, item, name, line).replace(
                ", so this cannot be checked", ""), notes.ERROR)
        if want.role == "graph":
            return Item(item, False, f"{item}: your graph has no node named {name} (name the outputs as the "
                        "problem does)", notes.MISSING)
        return Item(item, False, f"{item}: missing (write `{name} = ...`)", notes.MISSING)
    st = ans.statements.get(name)
    head = f"{item} (line {ans.line_of(name)})" if st is not None else item
    wrote = unparse(st[4]) if st is not None and st[0] in ("assign", "const") else None
    given = np.asarray(ans.consts[name] if nid is None else ctx.vals[nid], dtype=float)
    if nid is None:
        given = given[None]
    expected = np.asarray(want.value())
    if task.choices:
        return _grade_choice(ctx, task, item, head, name, expected, given)
    if want.role == "graph":
        graph_task = Task("graph", [], [], "formula", task.points, task.sigfigs)
        fake = Claim("total", name, "", nid, 0, 0, live=True)
        return _judge(ctx, graph_task, want, expected, given, fake, head, None)
    live = nid is not None and ctx.live[nid]
    fake = Claim("total", name, "", nid, 0, 0, live=live)
    return _judge(ctx, task, want, expected, given, fake, head, wrote)


def _grade_choice(ctx, task, item, head, name, expected, given) -> Item:
    words = task.choices
    want = words[int(expected[0]) - 1]
    word = ctx.ans.words.get(name)
    if word is None or word not in words:
        return Item(item, False, f"{head}: answer with one of the words {', '.join(words)}", notes.CHOICE)
    if word == want:
        return Item(item, True)
    return Item(item, False, f"{head}: expected {want}, given {word}")


# ---------------------------------------------------------------- every other claim

def _unasked(ctx: Context, claim: Claim) -> Item | None:
    """A claim no task asks for, checked against the truth: None if right, else a 0-point item."""
    ex, ans = ctx.ex, ctx.ans
    name = claim.text()
    head = f"{name} (line {claim.line})"
    task = Task("any", [], [], "any", 0.0, ex.sigfigs)
    if claim.error is not None:
        return Item(name, False, f"{head}: not asked, and it has an error:\n{claim.error}", notes.ERROR, extra=True)
    u, v = claim.u, claim.v
    uid, vid = ans.node_id(u), ans.node_id(v)
    want = None
    for n in (u, v):
        if n in ans.broken_names and ans.node_id(n) is None:
            line = ans.broken_names[n]
            return Item(name, False, f"{head}: not asked, and it cannot be checked: your line {line.line} "
                        f"defining {n} could not be built", notes.ERROR, extra=True)
    if claim.kind == "total":
        if (u, v) in ex.jac:
            want = Want(claim.key, name, "output", (ex.program.names[u], ex.program.names[v]), ex.jac[(u, v)])
        elif uid is not None and vid is not None:
            shape = np.shape(ctx.vals[uid])[1:] + np.shape(ctx.vals[vid])[1:]
            program = ans.program
            if uid == vid:          # d(u)/d(u): the identity, whatever u is
                n = int(np.prod(shape[:len(shape) // 2], dtype=np.int64))
                want = Want(claim.key, name, "value", (), np.broadcast_to(np.eye(n).reshape(shape), (ctx.B,) + shape))
            elif program.nodes[uid].kind == "input":
                want = Want(claim.key, name, "value", (), np.zeros((ctx.B,) + shape))
            elif program.nodes[vid].kind == "input":
                t = ctx.tangents(vid)[uid] if ctx.live[uid] else None
                want = Want(claim.key, name, "tangent", (uid, vid), np.zeros((ctx.B,) + shape) if t is None else t)
            else:
                a = ctx.adjoints(uid)[vid] if ctx.live[uid] else None
                want = Want(claim.key, name, "adjoint", (uid, vid), np.zeros((ctx.B,) + shape) if a is None else a)
        else:
            missing = u if uid is None else v
            return Item(name, False, f"{head}: not asked, and your graph has no node named {missing}",
                        notes.MISSING, extra=True)
    else:
        node = ans.program.nodes[uid] if uid is not None else None
        if node is None or vid is None or node.kind != "op" or vid not in node.args:
            st = ans.statements.get(u)
            what = f"{u} = {unparse(st[4])}" if node is not None and st is not None else \
                f"your graph has no node {u}" if node is None else f"{u} is not an operation"
            return Item(name, False, f"{head}: not asked, and there is no edge {v} → {u} in your graph ({what})",
                        notes.MISSING, extra=True)
        expected = ctx.local(uid, vid)
        if expected is None:
            return None
        want = Want(claim.key, name, "edge", (uid, vid), expected, loose=node.op.elementwise)
    if want.role == "value":
        given = np.asarray(ctx.vals[claim.node], dtype=float)
        item = _judge(ctx, task, want, np.asarray(want.expected), given, claim, head,
                      None if claim.expr is None else unparse(claim.expr))
    else:
        item = grade_want(ctx, task, want)
    if item.passed:
        return None
    item.extra = True
    item.feedback = item.feedback.replace(f"{head}:", head, 1).replace(head, f"{head}: not asked, but wrong;", 1)
    return item


def _extras(ctx: Context) -> list[Item]:
    ans = ctx.ans
    items = []
    asked = ctx.asked | ctx.consumed
    for claim in sorted(ans.claims.values(), key=lambda c: c.start):
        if claim.key in asked:
            continue
        item = _unasked(ctx, claim)
        if item is not None:
            items.append(item)
    for claim in ans.duplicates:
        items.append(Item(f"{claim.text()} (line {claim.line})", False, claim.error, notes.DUPLICATE, extra=True))
    for line in ans.broken:
        if line.cause is None and id(line) not in ctx.reported:
            items.append(Item(f"line {line.line}", False, line.error, notes.ERROR, extra=True))
    return items


MAX_EXTRA = 50   # extra items shown per answer: a thousand junk lines cannot flood the report


def _about(want: Want, name: str) -> bool:
    """The item needs the student's node `name` (not an output-input derivative, which is
    checked against the problem whatever the student's graph)."""
    key = want.key
    if want.role == "tangent":
        return key[1] == name
    if want.role == "adjoint":
        return key[2] == name
    if want.role == "edge":
        return name in key[1:]
    if want.role in ("graph", "value"):
        return key[1] == name
    return False


def _charge_typos(ctx: Context, scored) -> list[Item]:
    """A graph line with a typo the grader mended costs one item: the first scored item that needs
    its node (or, when none does, an extra 0-point item); the rest is graded as mended."""
    extra, charged = [], set()
    for line in ctx.ans.typos:
        note = f"\n  (the rest of your answer is graded as if line {line.line} read `{line.mended}`)"
        target = None
        if line.name is not None and line.node:
            target = next((item for item, want in scored if id(item) not in charged and _about(want, line.name)),
                          None)
        if target is None:
            extra.append(Item(f"line {line.line}", False, line.error + note, notes.ERROR, extra=True))
            continue
        charged.add(id(target))
        before = "" if target.passed else "\n" + target.feedback
        target.passed, target.note = False, notes.ERROR
        target.feedback = f"{target.name}: line {line.line} has a typo:\n{line.error}{note}{before}"
    return extra


def _item_line(item: Item) -> int:
    m = re.search(r"\bline (\d+)", item.name + " " + item.feedback)
    return int(m.group(1)) if m else 0


# ---------------------------------------------------------------- one answer

def failed(ex: Exercise, answer: str | None, message: str) -> ExerciseResult:
    """Every task failed with the same feedback: the answer could not be graded."""
    tasks = [TaskResult(t.kind, t.points, [Item("answer", False, message, notes.ERROR)], t.visibility)
             for t in ex.tasks]
    return ExerciseResult(ex.id, ex.title, ex.max_score, tasks, answer, message)


def grade_source(ex: Exercise, source, limits: Limits, deadline: float | None = None) -> ExerciseResult:
    ans = build_answer(source, ex.inputs, limits, ex.words)
    ctx = Context(ex, ans, limits, deadline)
    with batch.metered(ctx.meter):
        return _grade(ex, source, ctx)


def _grade(ex: Exercise, source, ctx: Context) -> ExerciseResult:
    asked = [CHECKERS[t.kind](ctx, t) for t in ex.tasks]
    first: dict[tuple, int] = {}
    for k, entries in enumerate(asked):
        for e in entries:
            if isinstance(e, Want):
                first.setdefault(e.key, k)
    ctx.asked = set(first)
    ctx.scored = {key for key, k in first.items() if ex.tasks[k].points > 0}
    graded: dict[tuple, tuple[Item, str]] = {}
    tasks, scored, shadows = [], [], []
    for k, (task, entries) in enumerate(zip(ex.tasks, asked)):
        items, seen = [], set()
        for e in entries:
            if isinstance(e, Item):
                items.append(e)
                continue
            if e.key in seen:
                continue
            seen.add(e.key)
            if first[e.key] == k:
                item = grade_want(ctx, task, e)
                graded[e.key] = (item, task.label)
                if task.points > 0:
                    scored.append((item, e))
            else:
                item = Item(e.name, False, f"{e.name}: graded in {graded[e.key][1]}", graded_in=graded[e.key][1])
                shadows.append((item, e.key))
            items.append(item)
        tasks.append(TaskResult(task.kind, task.points, items, task.visibility))
    extra = _charge_typos(ctx, scored)
    for item, key in shadows:       # a later task shows the result of the claim it shares
        item.passed, item.note = graded[key][0].passed, graded[key][0].note
    extra = sorted(extra + _extras(ctx), key=_item_line)
    if len(extra) > MAX_EXTRA:
        more = len(extra) - MAX_EXTRA + 1
        extra = extra[: MAX_EXTRA - 1] + [Item("more", False, f"… and {more} more claims or lines with a problem "
                                               "(not shown)", notes.ERROR, extra=True)]
    if extra:
        tasks.append(TaskResult("extra", 0.0, extra))
    _cap_feedback(tasks)
    return ExerciseResult(ex.id, ex.title, ex.max_score, tasks, source.name)


FEEDBACK_BYTES = 64 * 1024  # per answer: an answer cannot make the class report huge


def _cap_feedback(tasks) -> None:
    left = FEEDBACK_BYTES
    for task in tasks:
        for item in task.items:
            if len(item.feedback) > left:
                item.feedback = item.feedback[: max(left, 0)] + (
                    " … (feedback cut: this answer's feedback passed 64 KiB)" if left > 0 else
                    "(feedback cut: this answer's feedback passed 64 KiB)")
            left -= len(item.feedback)


def grade_file(ex: Exercise, path: str | Path | None, limits: Limits | None = None) -> ExerciseResult:
    """Grade one answer file; never raises: a bad answer is a failed exercise with feedback."""
    if path is None or not Path(path).is_file():
        where = f": {path} does not exist" if path is not None else ""
        return failed(ex, None, f"no answer{where}")
    name = str(path)
    limits = limits or Limits()
    try:
        with batch.time_limit(limits.time_limit):
            deadline = time.monotonic() + limits.time_limit if limits.time_limit else None
            source = read_answer(path, limits)
            return grade_source(ex, source, limits, deadline)
    except GradError as err:
        return failed(ex, name, err.render())
    except AnswerTimeout:      # the budgets keep an answer far below it: a busy or stalled machine
        result = failed(ex, name, f"{batch.TIME_LIMIT}: grading {name} took longer than "
                                  f"{num(limits.time_limit)} s (--time-limit); grade it again")
        result.regrade = True
        return result
    except MemoryError:
        return failed(ex, name, f"{name}: the answer needs more memory than the grader allows")
    except RecursionError:
        return failed(ex, name, f"{name}: the answer is nested too deeply")
    except Exception as err:  # never crash on an untrusted answer
        return failed(ex, name, f"{name}: the grader could not evaluate this answer "
                      f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})")
