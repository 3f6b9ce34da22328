"""The sweeps `--format html` steps through: values forward, adjoints back, tangents forward.

Each sweep is a list of steps, one number written per step, computed here once
with the engine's own rules (`engine.vjp`, `engine.jvp`) so that the page only
shows them:

- forward sweep: one step per node in the file's (topological) order, its value
  from its arguments' values;
- reverse sweep: the seed d(out)/d(out) = 1, then one step per edge: a node,
  once every node that uses it has passed its adjoint back (so its adjoint is
  complete), adds `d(out)/d(node) · ∂node/∂arg` to each argument's adjoint.
  Among the nodes that are ready, the one defined first goes first, so the
  contributions reaching a node arrive in the order its uses appear in the file
  (for e = (a + b)(b + 1): d(e)/d(b) = 2 + 3, through c = a + b, then d = b + 1);
- forward mode w.r.t. an input x: one step per node in topological order, its
  tangent d(node)/d(x) as the sum over its arguments of ∂node/∂arg · d(arg)/d(x).

The running sums are the engine's arithmetic in another order: the tests check
them against `engine.backward` and `engine.tangents`, and those against finite
differences.
"""

from __future__ import annotations

import heapq
from dataclasses import dataclass, field

import numpy as np

from ..autodiff import engine

MAX_TANGENT_INPUTS = 12   # forward mode is swept w.r.t. at most this many inputs unless --wrt picks


@dataclass
class AdjointStep:
    """d(out)/d(node) += d(out)/d(via) · ∂via/∂node (edge), or the seed (edge None)."""
    node: int
    edge: int | None          # index into GraphView.edges; None for the seed
    via: int | None           # the node whose adjoint flows back along the edge
    g: object                 # d(out)/d(via), complete
    contribution: object      # what this edge adds (the engine's VJP)
    parts: list               # the contributions to node: parts[:k] so far (shared by its steps)
    k: int                    # this is node's k-th contribution
    before: object            # the running sum before this step (None: the first)
    total: object             # the running sum after this step
    uses: int                 # how many contributions node receives in all


@dataclass
class TangentStep:
    """d(node)/d(x) = Σ ∂node/∂arg · d(arg)/d(x) over node's differentiable edges."""
    node: int
    edges: list[int]          # indices into GraphView.edges
    tangents: list            # d(arg)/d(x) per edge (None: zero, arg does not depend on x)
    terms: list               # ∂node/∂arg · d(arg)/d(x) per edge (None: zero)
    total: object             # d(node)/d(x) (None: zero); for x itself, the seed
    seed: bool = False


@dataclass
class Sweeps:
    output: int
    forward: list[int]                        # node ids, in the order their values are computed
    reverse: list[AdjointStep]
    tangent: dict[int, list[TangentStep]]     # input id -> forward mode w.r.t. it
    skipped: list[int] = field(default_factory=list)   # inputs not swept (over the cap)


def _scalar(v):
    return v[()] if isinstance(v, np.ndarray) and v.ndim == 0 else v


def sweeps(program, gv, inputs: list[int], picked: bool = False) -> Sweeps:
    """All three sweeps of gv's program at gv's point; forward mode w.r.t. `inputs`
    (all of them when `picked`, as --wrt chose them; else the first MAX_TANGENT_INPUTS)."""
    drawn = [n.id for n in gv.nodes if not n.literal]
    into: list[list[int]] = [[] for _ in gv.nodes]     # node -> indices of its in-edges
    for i, e in enumerate(gv.edges):
        into[e.dst].append(i)
    swept = list(inputs) if picked else list(inputs)[:MAX_TANGENT_INPUTS]
    skipped = [] if picked else list(inputs)[MAX_TANGENT_INPUTS:]
    with np.errstate(all="ignore"):
        reverse = _reverse(program, gv, into)
        tangent = {x: _tangent(program, gv, into, x) for x in swept}
    return Sweeps(gv.output_id, drawn, reverse, tangent, skipped)


def _reverse(program, gv, into) -> list[AdjointStep]:
    out = gv.output_id
    vals = gv.vals
    edges = gv.edges
    # which nodes the output depends on (through differentiable edges), and how many
    # contributions each will receive: one per edge into a node on the way to the output
    reach = [False] * (out + 1)
    reach[out] = True
    uses = [0] * (out + 1)
    for u in range(out, -1, -1):
        if not reach[u]:
            continue
        for ei in into[u]:
            e = edges[ei]
            if e.differentiable:
                reach[e.src] = True
                uses[e.src] += 1
    seed = np.ones_like(np.asarray(vals[out], dtype=float))
    adj: dict[int, object] = {out: _scalar(seed)}
    parts: dict[int, list] = {}
    steps = [AdjointStep(out, None, None, None, adj[out], [adj[out]], 1, None, adj[out], 1)]
    pending = list(uses)
    ready = [out]
    while ready:
        u = heapq.heappop(ready)
        node = program.nodes[u]
        if node.kind != "op":
            continue
        g = adj[u]
        argvals = [vals[a] for a in node.args]
        for ei in into[u]:
            e = edges[ei]
            if not e.differentiable:
                continue
            c = _scalar(np.asarray(engine.vjp(node.op, e.slot, g, vals[u], argvals, node.params), float))
            v = e.src
            got = parts.setdefault(v, [])
            got.append(c)
            before = adj.get(v)
            adj[v] = c if before is None else before + c
            steps.append(AdjointStep(v, ei, u, g, c, got, len(got), before, adj[v], uses[v]))
            pending[v] -= 1
            if pending[v] == 0:
                heapq.heappush(ready, v)
    return steps


def _tangent(program, gv, into, x: int) -> list[TangentStep]:
    vals = gv.vals
    tan: dict[int, object] = {}
    steps = []
    for row in gv.nodes:
        i = row.id
        if not row.live:
            continue
        if i == x:
            seed = _scalar(np.ones_like(np.asarray(vals[x], dtype=float)))
            tan[i] = seed
            steps.append(TangentStep(i, [], [], [], seed, seed=True))
            continue
        if row.kind != "op":
            steps.append(TangentStep(i, [], [], [], None))
            continue
        node = program.nodes[i]
        argvals = [vals[a] for a in node.args]
        used, ts, terms, total = [], [], [], None
        for ei in into[i]:
            e = gv.edges[ei]
            if not e.differentiable:
                continue
            t = tan.get(e.src)
            c = None
            if t is not None:
                c = _scalar(np.asarray(engine.jvp(node.op, e.slot, t, vals[i], argvals, node.params), float))
                total = c if total is None else total + c
            used.append(ei)
            ts.append(t)
            terms.append(c)
        if total is not None:
            tan[i] = total
        steps.append(TangentStep(i, used, ts, terms, total))
    return steps
