"""What evaluating a graph may cost, known from the shapes before anything runs.

Every command builds graphs with the same `Builder` and the same `Limits`; only the
numbers differ (a user's own file may be much larger than a student's answer):

    nodes     nodes of the graph, after `def` expansion, claims included
    elements  elements of one value (an answer's: all its sample points together)
    work      element-operations of everything one run computes

Work is counted from the op table (ops.py: each op's `shape` and `work` rules): an op
costs the elements it touches (a matmul m·k·n multiply-adds) plus PER_OP, the cost of
the call itself, for each pass over the graph that a command makes (an evaluation, a
reverse or tangent pass, a finite difference).  Nothing here reads a clock, so the same
file and options are refused, or not, on an idle machine and on a busy one alike.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from ..autodiff.ops import INITIALISERS, OpError, size
from ..errors import GradError

PER_OP = 1_000      # what one op costs beyond its elements: about numpy's call overhead


@dataclass(frozen=True)
class Limits:
    nodes: int = 2_000_000
    elements: int = 30_000_000
    work: int = 10_000_000_000
    who: str = "a file"          # in messages: "the limit for a file is ..."

    def raised(self, nodes: int | None = None, elements: int | None = None,
               work: int | None = None) -> "Limits":
        """These limits with the ones given replaced (None: kept)."""
        given = {k: v for k, v in (("nodes", nodes), ("elements", elements), ("work", work)) if v is not None}
        return replace(self, **given) if given else self

    @classmethod
    def answer(cls, **given) -> "Limits":
        """A student's answer's limits (what `grade` uses), with the numbers given replaced."""
        return replace(ANSWER, **given)

    def hint(self, option: str) -> str:
        if self.who == "a file":
            return f"raise the limit with {option} N, if the machine can take it"
        return (f"{self.who} is meant to be a small graph: check the shapes (the instructor can raise "
                f"the limit with `gradcli grade {option} N`)")


FILE = Limits()
GRAPH = Limits(nodes=10_000)        # `graph` shows every node: about 1 ms each in text
ANSWER = Limits(nodes=5_000, elements=1_000_000, work=20_000_000, who="an answer")
DEFAULTS = {"file": FILE, "graph": GRAPH, "answer": ANSWER}


class TooLarge(GradError):
    """A value beyond the limits (exit status 2; in `grade`, that line of the answer fails)."""


class OverBudget(TooLarge):
    """The whole graph beyond the limits: too many nodes, too much work (in `grade`, the whole
    answer fails)."""


def initialiser_shape(fname: str, dims: list[int]) -> tuple:
    """The shape `fname(*dims)` makes: eye(n) is n×n."""
    return (dims[0], dims[0]) if fname == "eye" else tuple(dims)


assert set(INITIALISERS) == {"randn", "rand", "zeros", "ones", "eye"}


def too_many_elements(limits: Limits, text: str, shape: tuple, n: int, source=None, start=0, end=None,
                      verb: str = "is") -> TooLarge:
    what = f"a {'×'.join(map(str, shape))} tensor" if len(shape) > 1 else None
    return TooLarge(f"`{_short(text)}` {verb} {n:,} elements{f' ({what})' if what else ''}; the limit for "
                    f"{limits.who} is {limits.elements:,}", source, start, end,
                    hint=limits.hint("--max-elements"))


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:59] + "…"


_FLOATS = {float, np.float64}


@dataclass
class Cost:
    """One pass over a program at some input shapes: each node's shape and what the pass costs."""
    shapes: list            # per node; [] when every value is a scalar
    work: int               # element-operations of one pass, PER_OP per op included
    costliest: int          # the op node that costs most (-1: none)
    cost: int               # its cost

    def size(self, i: int) -> int:
        """Elements of node i's value."""
        return size(self.shapes[i]) if self.shapes else 1


def shapes_of(program, point: dict, upto: int | None = None) -> list:
    """Each node's shape at a point's input shapes (one point, no batch axis), from the op
    table's rules; a GradError at the first node whose arguments' shapes do not fit."""
    from ..autodiff.engine import op_error

    nodes = program.nodes
    end = len(nodes) if upto is None else upto + 1
    shapes: list = [None] * len(nodes)
    for i in program.inputs:
        shapes[i] = np.shape(point[i])
    for node in nodes[:end]:
        kind = node.kind
        if kind == "op":
            args = [shapes[a] for a in node.args]
            try:
                shapes[node.id] = node.op.shape(args, node.params)
            except OpError as err:
                raise op_error(program, node, args, err) from None
        elif kind == "const":
            shapes[node.id] = np.shape(node.value)
    return shapes


def measure(program, point: dict, limits: Limits, batch: int = 1, key=False) -> Cost:
    """The cost of one pass over `program` at `point` (input shapes are what matter), every
    value within `limits.elements` (times `batch` points); TooLarge or a shape error else.

    Cached on the program per input shapes: a command that evaluates many points of the
    same shapes pays once.  A graph of scalars (the common large file) costs O(1)."""
    from ..autodiff import engine

    p = engine.plan(program)
    if key is False:          # not given: the inputs' shapes (None: all scalars)
        xs = list(map(point.__getitem__, program.inputs))
        key = None if set(map(type, xs)) <= _FLOATS else tuple(map(np.shape, xs))
    cache = p.costs
    hit = cache.get((key, batch))
    if hit is not None:
        _elements_ok(program, hit, limits, batch)
        return hit
    if p.scalar_ok and p.elementwise_only and (key is None or not any(key)):
        n = len(p.ids)
        cost = Cost([], n * (batch + PER_OP), p.ids[0] if n else -1, batch + PER_OP)
    else:
        shapes = shapes_of(program, point)
        work, worst, top = 0, -1, -1
        for node in program.nodes:
            if node.kind != "op":
                continue
            c = node.op.cost([shapes[a] for a in node.args], shapes[node.id]) * batch + PER_OP
            work += c
            if c > top:
                worst, top = node.id, c
        cost = Cost(shapes, work, worst, top)
    cache[(key, batch)] = cost
    _elements_ok(program, cost, limits, batch)
    return cost


def _elements_ok(program, cost: Cost, limits: Limits, batch: int) -> None:
    if len(program.nodes) > limits.nodes:
        raise OverBudget(f"the graph has {len(program.nodes):,} nodes; the limit for {limits.who} is "
                       f"{limits.nodes:,}", program.source, 0, hint=limits.hint("--max-nodes"))
    if not cost.shapes:
        return
    big = batch * max((size(s) for s in cost.shapes if s is not None), default=1)
    if big <= limits.elements:
        return
    for node in program.nodes:
        shape = cost.shapes[node.id]
        if shape is not None and size(shape) * batch > limits.elements:
            text = program.source.text[node.start:node.end] if node.kind == "op" else node.name
            raise too_many_elements(limits, text, shape, size(shape) * batch, program.source, node.start,
                                    node.end, verb="would be" if node.kind == "op" else "is")


def require(program, point: dict, limits: Limits, passes: int = 1, what: str = "this run",
            batch: int = 1, extra: int = 0, key=False) -> Cost:
    """Refuse (TooLarge) before anything runs when a value would pass `limits.elements` or
    `passes` passes over the graph (plus `extra` element-operations) would pass `limits.work`.
    Returns the cost of one pass.  `key`: the inputs' shape key, if known (engine.prepare)."""
    cost = measure(program, point, limits, batch, key)
    total = cost.work * passes + extra
    if total > limits.work:
        node = program.nodes[cost.costliest] if cost.costliest >= 0 else None
        where = ""
        if node is not None and cost.cost * 4 >= cost.work:
            where = f"; `{_short(program.source.text[node.start:node.end])}` alone costs {cost.cost:,} a pass"
        raise OverBudget(f"{what} would take {total:,} element-operations ({passes:,} pass"
                       f"{'es' if passes != 1 else ''} over the graph{where}); the limit for {limits.who} "
                       f"is {limits.work:,}", program.source, node.start if node is not None else 0,
                       node.end if node is not None else None, hint=limits.hint("--max-work"))
    return cost
