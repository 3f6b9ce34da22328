"""One checker per task kind, all on one batched evaluation of the student's graph.

Derivatives of the problem's outputs w.r.t. its inputs are checked against the
problem; every other (intermediate) claim against the engine run on the
student's own graph, so students name their nodes freely.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from ..autodiff import engine
from ..errors import GradError
from . import batch, notes
from .answer import Answer, build_answer, read_answer
from .batch import AnswerTimeout, Limits
from .exercise import Exercise, Task, fmt
from .report import ExerciseResult, Item, TaskResult


def snippet(source, node) -> str:
    """The source text of a node, its closing brackets included."""
    text, end = source.text[node.start:node.end], node.end
    while text.count("(") > text.count(")") and source.text[end:end + 1] == ")":
        text, end = text + ")", end + 1
    return text


def shape_text(shape) -> str:
    if not shape:
        return "a number"
    if len(shape) == 1:
        return f"a vector of {shape[0]}"
    return "a " + "×".join(str(s) for s in shape) + (" matrix" if len(shape) == 2 else " tensor")


class Context:
    """The student's graph evaluated at the exercise's points; Jacobians on demand."""

    def __init__(self, ex: Exercise, ans: Answer, limits: Limits, deadline: float | None):
        self.ex, self.ans, self.limits, self.deadline = ex, ans, limits, deadline
        self.B = ex.B
        program = ans.program
        point = {ans.inputs[name]: ex.points[name] for name in ex.inputs}
        self.vals = batch.forward(program, point, limits, deadline)
        self.live = engine.plan(program).live
        self._tan: dict[int, list] = {}
        self._adj: dict[int, list] = {}

    def check_time(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise AnswerTimeout()

    def value(self, nid: int) -> np.ndarray:
        return batch.per_point(self.vals[nid], self.B)

    def name(self, nid: int) -> str:
        return self.ans.program.nodes[nid].name

    def output_shape_ok(self, o: str) -> bool:
        """The student's node named like the problem's output o has the problem's shape."""
        nid = self.ans.node_id(o)
        return nid is not None and np.shape(self.vals[nid])[1:] == self.ex.values[o].shape[1:]

    def tangents(self, x: int) -> list:
        if x not in self._tan:
            self.check_time()
            self._tan[x] = batch.tangent_jacobians(self.ans.program, self.vals, x, self.B,
                                                   stop=self.ans.program.n_main - 1, limits=self.limits)
        return self._tan[x]

    def adjoints(self, o: int) -> list:
        if o not in self._adj:
            self.check_time()
            self._adj[o] = batch.adjoint_jacobians(self.ans.program, self.vals, o, self.B, self.limits)
        return self._adj[o]


# ---------------------------------------------------------------- one item

def _failure(ctx, name, expected, given, idx, loose):
    """(feedback, note) for the first point where given differs from expected; None if it does not."""
    ex = ctx.ex
    e = np.asarray(expected)
    g = np.asarray(given, dtype=float)
    if g.shape[1:] != e.shape[1:]:
        if loose:
            try:
                g = np.broadcast_to(g, (g.shape[0],) + e.shape[1:])
            except ValueError:
                pass
        if g.shape[1:] != e.shape[1:]:
            return (f"{name}: expected {shape_text(e.shape[1:])}, given {shape_text(g.shape[1:])}",
                    notes.SHAPE, g)
    g = np.broadcast_to(g, e.shape)
    B = e.shape[0]
    with np.errstate(all="ignore"):
        ef = np.isfinite(e).reshape(B, -1)
        gf = np.isfinite(g).reshape(B, -1)
        ok = (np.abs(g - e) <= ex.atol + ex.rtol * np.abs(e)).reshape(B, -1) | ~ef
    if not any(ef[b].any() for b in idx):
        return (f"{name}: undefined at every point checked (in your graph), so it cannot be checked; "
                "make your graph compute the problem's function", notes.DOMAIN, g)
    for b in idx:
        if ok[b].all():
            continue
        where = ex.describe_point(b)
        if not gf[b][ef[b]].all():
            return (f"{name} at {where}: your answer is undefined ({fmt(g[b])}) where the expected value "
                    f"is {fmt(e[b])}: the domains differ", notes.DOMAIN, g)
        return f"{name} at {where}: expected {fmt(e[b])}, given {fmt(g[b])}", None, g
    return None


def check(ctx: Context, task: Task, name: str, expected, claim, candidates=(), loose=False) -> Item:
    """A claimed value against the expected one (B,)+shape, at the points its form allows."""
    ex, ans = ctx.ex, ctx.ans
    if claim is None:
        kind, u, v = _parse_item(name)
        swapped = ans.claims.get((kind, v, u)) if kind == "total" else None
        if swapped is not None:
            return Item(name, False, f"{name}: missing; you wrote {swapped.text()} — the names are the "
                        f"other way round", notes.NAMES)
        return Item(name, False, f"{name}: missing (write `{name} = ...`)", notes.MISSING)
    if claim.error is not None:
        return Item(name, False, claim.error, notes.ERROR)
    expected = np.asarray(expected)
    B = expected.shape[0]
    with np.errstate(all="ignore"):
        constant = bool(np.all(np.abs(expected - expected[:1]) <= ex.atol + ex.rtol * np.abs(expected[:1])))
    given = ctx.vals[claim.node]
    if not loose and np.shape(given)[1:] != expected.shape[1:]:
        feedback = (f"{name}: expected {shape_text(expected.shape[1:])}, given "
                    f"{shape_text(np.shape(given)[1:])}")
        if notes.transposed(expected[:1], np.asarray(given, dtype=float)[:1]):
            return Item(name, False, feedback + "\n  note: your answer is the transpose of the expected "
                        "value", notes.TRANSPOSED)
        return Item(name, False, feedback, notes.SHAPE)
    if not claim.live and task.form == "formula" and not constant:
        return Item(name, False, f"{name}: a number where a formula was asked; write it as an expression "
                    f"in {', '.join(ex.inputs)}", notes.NUMBER)
    idx = [0] if task.form == "number" or (not claim.live and not constant) else range(B)
    failure = _failure(ctx, name, expected, given, idx, loose)
    if failure is None:
        return Item(name, True)
    feedback, note, g = failure
    if note is None:
        found = notes.diagnose(expected, np.broadcast_to(g, expected.shape), list(idx), ex.rtol, ex.atol,
                               candidates)
        if found is not None:
            note, message = found
            feedback += f"\n  note: {message}"
    return Item(name, False, feedback, note)


def _parse_item(name):
    if name.startswith("partial("):
        u, v = name[8:-1].split(", ")
        return "partial", u, v
    head, _, tail = name.partition(")/d(")
    return "total", head[2:], tail[:-1]


def _no_graph(kind: str) -> Item:
    return Item("your graph", False, "your answer has no graph: assign one primitive op per "
                "node, e.g. `w1 = sin(x)`, and name the outputs as the problem does", notes.MISSING)


# ---------------------------------------------------------------- the tasks

def derivative(ctx: Context, task: Task) -> list[Item]:
    ex, ans = ctx.ex, ctx.ans
    items = []
    for o in task.of:
        for x in task.wrt:
            name = f"d({o})/d({x})"
            expected = ex.jac[(o, x)]
            items.append(check(ctx, task, name, expected, ans.claims.get(("total", o, x)),
                               _inner_factor_candidates(ex, o, x)))
    return items


def _inner_factor_candidates(ex: Exercise, o: str, x: str):
    program = ex.program
    adj = ex.adjoints.get(o, [])
    out = []
    for w, value in enumerate(adj):
        node = program.nodes[w]
        if value is None or node.kind != "op" or node.name == o:
            continue
        text = node.name if not node.generated else "`" + snippet(program.source, node) + "`"
        out.append((notes.INNER, f"a missing inner-derivative factor: your answer is d({o})/d({text}); "
                    f"multiply by d({text})/d({x}) (the chain rule)", value))
    return out


def graph(ctx: Context, task: Task) -> list[Item]:
    ex, ans = ctx.ex, ctx.ans
    items = []
    for o in task.of:
        name = f"value of {o}"
        nid = ans.node_id(o)
        if nid is None or ans.program.nodes[nid].kind == "input":
            items.append(Item(name, False, f"{name}: your graph has no node named {o} "
                              "(name the outputs as the problem does)", notes.MISSING))
            continue
        failure = _failure(ctx, name, ex.values[o], ctx.vals[nid], range(ctx.B), False)
        items.append(Item(name, True) if failure is None else Item(name, False, failure[0], failure[1]))
    name = "one primitive op per node"
    if not ans.graph:
        items.append(_no_graph("graph"))
        items[-1].name = name
    else:
        items.append(_undecomposed(ans) or Item(name, True))
    return items


def _undecomposed(ans: Answer) -> Item | None:
    """A failed item when the student's graph hides operations in sub-expressions."""
    if not ans.unnamed:
        return None
    name = "one primitive op per node"
    node = ans.program.nodes[ans.unnamed[0]]
    line, _ = ans.source.line_col(node.start)
    text = snippet(ans.source, node)
    return Item(name, False, f"{name}: line {line}: `{text}` is a sub-expression, not a node of "
                f"its own; give it a name ({len(ans.unnamed)} unnamed operation(s) in all)", notes.STRUCTURE)


def forward(ctx: Context, task: Task) -> list[Item]:
    ex, ans = ctx.ex, ctx.ans
    if not ans.graph:
        return [_no_graph("forward")]
    if ans.unnamed:  # forward mode goes node by node: without the nodes there is nothing to grade
        return [_undecomposed(ans)]
    program = ans.program
    items = []
    outs = [ans.node_id(o) for o in ex.outputs if ans.node_id(o) in ans.graph and ctx.output_shape_ok(o)]
    for w in ans.graph:
        wname = ctx.name(w)
        for x in task.wrt:
            xid = ans.inputs[x]
            tan = ctx.tangents(xid)[w]
            if tan is None:
                continue
            name = f"d({wname})/d({x})"
            expected = ex.jac[(wname, x)] if wname in ex.outputs and ctx.output_shape_ok(wname) else tan
            cands = []
            node = program.nodes[w]
            for v in dict.fromkeys(node.args):
                if v == xid or not ctx.live[v]:
                    continue
                vname = ctx.name(v)
                cands.append((notes.INNER, f"a missing factor: your answer is partial({wname}, {vname}) "
                              f"alone; multiply by d({vname})/d({x})",
                              (lambda v=v, w=w: batch.local_jacobian(program, ctx.vals, w, v, ctx.B, ctx.limits))))
            for o in outs:
                if o == w:
                    continue
                cands.append((notes.SWAPPED, f"forward and reverse swapped: your answer is "
                              f"d({ctx.name(o)})/d({wname}), reverse mode's adjoint; forward mode asks "
                              f"d({wname})/d({x})", (lambda o=o, w=w: ctx.adjoints(o)[w])))
            if wname in ex.outputs:
                cands += _inner_factor_candidates(ex, wname, x)
            items.append(check(ctx, task, name, expected, ans.claims.get(("total", wname, x)), cands))
    return items


def reverse(ctx: Context, task: Task) -> list[Item]:
    ex, ans = ctx.ex, ctx.ans
    if ans.graph and ans.unnamed:  # as in forward mode: the nodes come first
        return [_undecomposed(ans)]
    program = ans.program
    items = []
    consumers: dict[int, list[int]] = {}
    for node in program.nodes[: program.n_main]:
        if node.kind == "op":
            for a in dict.fromkeys(node.args):
                consumers.setdefault(a, []).append(node.id)
    for o in task.of:
        oid = ans.node_id(o)
        if oid is None or oid not in ans.graph:
            items.append(Item(f"d({o})/d(·)", False, f"d({o})/d(·): your graph has no node named {o} "
                              "(name the outputs as the problem does)", notes.MISSING))
            continue
        if not ctx.output_shape_ok(o):
            items.append(Item(f"d({o})/d(·)", False, f"d({o})/d(·): the problem's {o} is "
                              f"{shape_text(ex.values[o].shape[1:])}, yours is "
                              f"{shape_text(np.shape(ctx.vals[oid])[1:])}", notes.SHAPE))
            continue
        adj = ctx.adjoints(oid)
        for w in [ans.inputs[x] for x in task.wrt] + ans.graph:
            if w == oid or adj[w] is None:
                continue
            wname = ctx.name(w)
            name = f"d({o})/d({wname})"
            is_input = program.nodes[w].kind == "input"
            expected = ex.jac[(o, wname)] if is_input else adj[w]
            cands = []
            for u in consumers.get(w, []):
                if adj[u] is None:
                    continue
                unode = program.nodes[u]
                uname = unode.name if not unode.generated else "`" + snippet(program.source, unode) + "`"
                cands.append((notes.INNER, f"a missing factor: your answer is d({o})/d({uname}); multiply "
                              f"by partial({uname}, {wname})", adj[u]))
            if is_input:
                cands += _inner_factor_candidates(ex, o, wname)
            else:
                for x in ex.inputs:
                    xid = ans.inputs[x]
                    cands.append((notes.SWAPPED, f"forward and reverse swapped: your answer is "
                                  f"d({wname})/d({x}), forward mode's tangent; reverse mode asks {name}",
                                  (lambda xid=xid, w=w: ctx.tangents(xid)[w])))
            items.append(check(ctx, task, name, expected, ans.claims.get(("total", o, wname)), cands))
    return items


def edges(ctx: Context, task: Task) -> list[Item]:
    ans = ctx.ans
    if not ans.graph:
        return [_no_graph("edges")]
    program = ans.program
    items = []
    for u in ans.graph:
        node = program.nodes[u]
        for v in dict.fromkeys(node.args):
            vnode = program.nodes[v]
            if not ctx.live[v] or vnode.generated:
                continue
            expected = batch.local_jacobian(program, ctx.vals, u, v, ctx.B, ctx.limits)
            if expected is None:
                continue
            name = f"partial({node.name}, {vnode.name})"
            items.append(check(ctx, task, name, expected, ans.claims.get(("partial", node.name, vnode.name)),
                               loose=node.op.elementwise))
    if not items:
        items.append(Item("your graph", False, "your graph has no edge between named nodes: "
                          "give each sub-expression a name", notes.STRUCTURE))
    return items


CHECKERS = {"derivative": derivative, "graph": graph, "forward": forward, "reverse": reverse,
            "edges": edges}


# ---------------------------------------------------------------- one answer

def failed(ex: Exercise, answer: str | None, message: str) -> ExerciseResult:
    """Every task failed with the same feedback: the answer could not be graded."""
    tasks = [TaskResult(t.kind, t.points, [Item("answer", False, message, notes.ERROR)]) for t in ex.tasks]
    return ExerciseResult(ex.id, ex.title, ex.max_score, tasks, answer, message)


def grade_source(ex: Exercise, source, limits: Limits, deadline: float | None = None) -> ExerciseResult:
    ans = build_answer(source, ex.inputs, limits)
    ctx = Context(ex, ans, limits, deadline)
    tasks = [TaskResult(t.kind, t.points, CHECKERS[t.kind](ctx, t)) for t in ex.tasks]
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
    except AnswerTimeout:
        return failed(ex, name, f"{name}: grading took longer than {limits.time_limit:g} s, the limit per answer")
    except MemoryError:
        return failed(ex, name, f"{name}: the answer needs more memory than the grader allows")
    except RecursionError:
        return failed(ex, name, f"{name}: the answer is nested too deeply")
    except Exception as err:  # never crash on an untrusted answer
        return failed(ex, name, f"{name}: the grader could not evaluate this answer "
                      f"({type(err).__name__}: {str(err).splitlines()[0] if str(err) else ''})")
