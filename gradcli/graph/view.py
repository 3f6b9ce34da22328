"""`graph`: one walk over a program at one point, into a report every format renders.

`view()` runs the engine once (values, the adjoints of one output, optionally the
tangents of some inputs), then walks the node list once and records, per node,
its definition, shape, value, adjoint and tangents, and per edge (argument slot)
the op table's local-partial formula with the argument names substituted and
its value.  The text listing, DOT and Mermaid are all drawn from that one
`GraphView`, so they name the same nodes and edges in the same order.

`paths()` enumerates the paths from an output back to an input, iteratively and
up to a limit; each path's contribution is the chain of the engine's own VJP
rules along that path, so the contributions of all paths add up to the reverse-
mode gradient (reverse mode is exactly that sum, with shared prefixes factored).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..autodiff import engine
from ..errors import GradError, did_you_mean
from ..language.program import Program, bind, load
from ..numbers import exact, nested, num

SMALL = 12          # a tensor with at most this many elements is shown in full
FULL = 10_000       # JSON lists a tensor in full up to this many elements, else a Summary
RTOL, ATOL = 1e-6, 1e-9


@dataclass(frozen=True)
class Summary:
    """A tensor too large to list (more than FULL elements): its shape and statistics over
    its finite elements (None when it has none), and how many elements are not finite."""

    shape: tuple
    min: float | None
    max: float | None
    mean: float | None
    nonfinite: int

    @property
    def ndim(self) -> int:
        return len(self.shape)

    @classmethod
    def of(cls, value) -> "Summary":
        a = np.asarray(value, dtype=float)
        with np.errstate(all="ignore"):
            finite = np.isfinite(a)
            bad = int(a.size - np.count_nonzero(finite))
            if bad:
                a = a[finite]
            if a.size == 0:
                return cls(tuple(np.shape(value)), None, None, None, bad)
            return cls(tuple(np.shape(value)), float(np.min(a)), float(np.max(a)), float(np.mean(a)), bad)

    def to_json(self) -> dict:
        return {"shape": list(self.shape), "size": int(np.prod(self.shape, dtype=np.int64)),
                "min": self.min, "max": self.max, "mean": self.mean, "nonfinite": self.nonfinite}


def summarised(value):
    """A tensor as it is kept for display: itself when small, its Summary when large."""
    if value is None or isinstance(value, Summary) or np.size(value) <= FULL:
        return value
    return Summary.of(value)


# ---------------------------------------------------------------- the report

@dataclass
class ClaimRow:
    text: str                 # "d(o)/d(x)" or "partial(w2, x)"
    kind: str                 # "total" | "partial"
    source: str               # the claimed expression as written
    given: object             # its value at the point
    engine: object            # what the engine computes
    agrees: bool
    span: tuple               # ((line, col), (line, col))


@dataclass
class NodeRow:
    id: int
    key: str                  # a safe identifier for DOT and Mermaid: v_NAME, or n<id>
    name: str                 # as printed (a scalar literal prints as its value)
    kind: str                 # "input" | "const" | "op"
    op: str | None            # op table name: "add", "sin", ...
    symbol: str | None
    args: list[str]
    expr: str                 # "x + y", "sin(x)", "input", "const"
    shape: tuple
    value: object
    adjoint: object           # d(out)/d(node); None for a constant
    tangents: dict            # input name -> d(node)/d(input); None for a constant
    output: bool
    literal: bool             # a number written in the file (`2` in `2*x`)
    live: bool                # depends on an input
    span: tuple
    claims: list[ClaimRow] = field(default_factory=list)
    params: tuple = ()        # the op's fixed parameters (sum's axis), as in `expr`


@dataclass
class EdgeRow:
    src: int                  # node ids
    dst: int
    slot: int                 # which argument of dst
    formula: str | None       # the local partial, argument names substituted
    value: object             # its value (elementwise ops); None for a tensor op
    tensor_op: bool           # True: formula + shapes, never a Jacobian
    differentiable: bool      # False: from a constant, or an integer index
    src_shape: tuple
    dst_shape: tuple
    repeated: bool            # the node takes this argument more than once (x * x)
    claims: list[ClaimRow] = field(default_factory=list)


@dataclass
class Path:
    edges: list[int]          # edge indices, from the input to the output
    value: object             # this path's contribution to d(out)/d(input)


@dataclass
class PathReport:
    wrt: str
    output: str
    count: int                # all paths (counted, not listed)
    paths: list[Path]         # the first `limit` of them
    shown_sum: object         # sum of the listed paths' contributions
    total: object             # sum over all paths
    gradient: object          # reverse mode's d(out)/d(wrt)
    limit: int

    @property
    def complete(self) -> bool:
        return len(self.paths) == self.count

    @property
    def agrees(self) -> bool:
        return _close(self.total, self.gradient)


@dataclass
class GraphView:
    file: str
    point: dict[str, object]
    output: str
    output_id: int
    mode: str
    wrt: list[str]
    nodes: list[NodeRow]      # nodes[i] is program node i (main graph only)
    edges: list[EdgeRow]
    claims: list[ClaimRow]
    paths: list[PathReport] = field(default_factory=list)
    vals: list = field(default=None, repr=False)     # the engine's values, for paths()
    source: object = field(default=None, repr=False)  # the file's errors.Source (its lines)
    sweeps: object = None     # sweep.Sweeps, step by step (`--format html`)
    program: object = field(default=None, repr=False)  # for --format python

    @property
    def scalar(self) -> bool:
        return self.nodes[self.output_id].shape == ()

    @property
    def out(self) -> str:
        """What the adjoints differentiate: the output, or the sum of a tensor output."""
        return self.output if self.scalar else f"sum({self.output})"

    @property
    def claims_ok(self) -> bool:
        return all(c.agrees for c in self.claims)

    def edge_title(self, e: EdgeRow) -> str:
        title = f"∂{self.nodes[e.dst].name}/∂{self.nodes[e.src].name}"
        return f"{title} (argument {e.slot + 1})" if e.repeated else title


# ---------------------------------------------------------------- helpers

def _close(a, b) -> bool:
    try:
        a, b = np.asarray(a, float), np.asarray(b, float)
        np.broadcast_shapes(a.shape, b.shape)
    except (ValueError, TypeError):
        return False
    with np.errstate(all="ignore"):
        return bool(np.all(np.isfinite(a)) and np.all(np.isfinite(b))
                    and np.allclose(a, b, rtol=RTOL, atol=ATOL))


def _span(program: Program, start: int, end: int) -> tuple:
    src = program.source
    return src.line_col(start), src.line_col(max(start, end))


def fmt(value, digits: int | None = None) -> str:
    """A value on one line (gradcli.numbers: exact, or `--digits`): a scalar, nested lists
    when small, min/max/mean else."""
    if isinstance(value, Summary):
        if value.min is None:
            return f"no finite element ({value.nonfinite:,} not finite)"
        extra = f", {value.nonfinite:,} not finite" if value.nonfinite else ""
        return (f"min {num(value.min, digits)}, max {num(value.max, digits)}, "
                f"mean {num(value.mean, digits)}{extra}")
    if isinstance(value, (float, int)):       # np.float64 is a float
        return num(value, digits)
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return num(a.item(), digits)
    if a.size <= SMALL:
        return nested(a, digits)
    with np.errstate(all="ignore"):
        return (f"min {num(np.min(a), digits)}, max {num(np.max(a), digits)}, "
                f"mean {num(np.mean(a), digits)}")


def shape_text(shape) -> str:
    return "[" + ",".join(str(n) for n in shape) + "]"


def _expr(node, names) -> str:
    return expr_text(node.op, [names[a] for a in node.args], node.params)


def expr_text(op, args: list[str], params=()) -> str:
    """An op applied to its arguments' texts (names, or values), as the listing writes it."""
    if op.name == "id":
        return args[0]
    if op.name == "neg":
        return f"-{args[0]}"
    if len(args) == 2 and (op.infix or not op.symbol.isalnum()):
        return f"{args[0]} {op.symbol} {args[1]}"
    if op.name == "stack":
        return "[" + ", ".join(args) + "]"
    return f"{op.symbol}(" + ", ".join(args + [str(p) for p in params]) + ")"


def _formula(op, k, names, out) -> str | None:
    table = op.formula
    text = table[k] if k < len(table) else (table[-1] if op.arity < 0 else None)
    if text is None:
        return None
    return (text.replace("{out}", out).replace("{0}", names[0] if names else "")
            .replace("{1}", names[1] if len(names) > 1 else ""))


# ---------------------------------------------------------------- the walk

def view(program: Program, point: dict, output: str | None = None, wrt: list[int] | None = None,
         mode: str = "reverse", file: str | None = None) -> GraphView:
    """Everything `graph` shows, from one forward pass, one backward pass and one walk.

    With mode "forward", the tangents d(node)/d(x) of each input x in `wrt` too
    (seeded with ones: for a tensor x, the sum of the Jacobian's columns).
    """
    nodes = program.nodes
    out = _output(program, output)
    vals = engine.forward(program, point)
    engine.require_finite(program, vals, list(program.outputs))
    live = engine.plan(program).live
    seed = np.ones_like(vals[out])
    adj = engine.backward(program, vals, out, seed=seed[()] if np.ndim(seed) == 0 else seed)
    wrt = list(wrt or [])
    tans = {}
    if mode == "forward":
        for x in wrt:
            tseed = np.ones_like(vals[x])
            tans[x] = engine.tangents(program, vals, {x: tseed[()] if np.ndim(tseed) == 0 else tseed})

    names: list[str] = []
    rows: list[NodeRow] = []
    edges: list[EdgeRow] = []
    outputs = set(program.outputs)
    for node in nodes[: program.n_main]:
        value = vals[node.id]
        literal = node.kind == "const" and node.generated and np.ndim(value) == 0
        name = exact(value) if literal else node.name
        names.append(name)
        shape = tuple(np.shape(value))
        if node.kind == "op":
            expr, op, symbol = _expr(node, names), node.op.name, node.op.symbol
        else:
            expr, op, symbol = node.kind, None, None
        if live[node.id]:
            a = adj[node.id]
            adjoint = np.broadcast_to(0.0, shape) if a is None else a   # a symbolic zero, not an array
            adjoint = np.asarray(adjoint)[()] if np.ndim(adjoint) == 0 else adjoint
            tangents = {}
            for x, tan in tans.items():
                t = tan[node.id]
                t = np.broadcast_to(0.0 if t is None else t, shape)
                tangents[nodes[x].name] = t[()] if np.ndim(t) == 0 else t
        else:
            adjoint, tangents = None, {nodes[x].name: None for x in tans}
        key = f"v_{name}" if (name.isascii() and name.isidentifier() and not literal) else f"n{node.id}"
        rows.append(NodeRow(node.id, key, name, node.kind, op, symbol,
                            [names[a] for a in node.args], expr, shape, value, adjoint, tangents,
                            node.id in outputs, literal, bool(live[node.id]),
                            _span(program, node.start, node.end), params=tuple(node.params)))
        if node.kind != "op":
            continue
        op_ = node.op
        argnames = [names[a] for a in node.args]
        argvals = [vals[a] for a in node.args]
        for k, a in enumerate(node.args):
            diff = bool(live[a]) and op_.differentiable(k)
            formula = _formula(op_, k, argnames, name) if op_.differentiable(k) else None
            if op_.elementwise:  # kept only as big as display needs: a large one is summarised at once
                with np.errstate(all="ignore"):
                    v = engine.local_partial(op_, k, value, argvals)
                v = np.float64(v) if np.ndim(v) == 0 else summarised(np.asarray(v, float))
            else:
                v = None
            edges.append(EdgeRow(a, node.id, k, formula, v, not op_.elementwise, diff,
                                 tuple(np.shape(vals[a])), shape, node.args.count(a) > 1))

    gv = GraphView(file or program.source.name,
                   {nodes[i].name: point[i] for i in program.inputs},
                   nodes[out].name, out, mode, [nodes[x].name for x in wrt], rows, edges, [],
                   vals=vals, source=program.source, program=program)
    _attach_claims(program, vals, gv)
    return gv


def _output(program: Program, name: str | None) -> int:
    if not name:
        return program.outputs[0]
    outs = {program.nodes[i].name: i for i in program.outputs}
    if name in outs:
        return outs[name]
    nid = program.names.get(name)
    if nid is not None and program.nodes[nid].kind != "const" and nid < program.n_main:
        return nid
    raise GradError(f"--of {name}: no node named '{name}' in {program.source.name}",
                    hint=did_you_mean(name, program.names) or "outputs: " + ", ".join(outs))


# ---------------------------------------------------------------- claims

def _attach_claims(program: Program, vals, gv: GraphView) -> None:
    text = program.source.text
    for c in program.claims:
        given = vals[c.node]
        if c.kind == "total":
            got = engine.jacobian(program, vals, c.u, [c.v], "reverse")[c.v]
        else:
            got = engine.local_jacobian(program, vals, c.u, c.v)
        end = c.end
        source = text[c.start:end].partition("=")[2].strip()
        row = ClaimRow(c.text(program), c.kind, source, given, got, _close(given, got),
                       _span(program, c.start, end))
        gv.claims.append(row)
        if c.kind == "partial":
            for e in gv.edges:
                if e.dst == c.u and e.src == c.v:
                    e.claims.append(row)
                    break
        else:
            # beside the adjoint column when u is the output shown, else the tangent's node
            gv.nodes[c.v if c.u == gv.output_id else c.u].claims.append(row)


# ---------------------------------------------------------------- sum over paths

def paths(program: Program, gv: GraphView, x: int, limit: int = 50) -> PathReport:
    """The paths from gv's output back to input x, at most `limit` listed, all counted."""
    nodes = program.nodes
    out = gv.output_id
    vals = gv.vals
    # which nodes x reaches (through differentiable slots), and how many paths lead there
    into: list[list[int]] = [[] for _ in range(out + 1)]   # node -> indices of its live in-edges
    for i, e in enumerate(gv.edges):
        if e.dst <= out:
            into[e.dst].append(i)
    count = [0] * (out + 1)
    if x <= out:
        count[x] = 1
    for i in range(x + 1, out + 1):
        n = 0
        for ei in into[i]:
            e = gv.edges[ei]
            if e.differentiable:
                n += count[e.src]
        count[i] = n
    total_count = count[out] if x <= out else 0

    seed = np.ones_like(vals[out])
    seed = seed[()] if np.ndim(seed) == 0 else seed
    found: list[Path] = []
    # depth-first, iteratively: (node, contribution so far, path as a linked list of edges)
    stack = [(out, seed, None)] if total_count and limit > 0 else []
    with np.errstate(all="ignore"):
        while stack and len(found) < limit:
            nid, g, link = stack.pop()
            if nid == x:
                chain = []
                while link is not None:
                    chain.append(link[0])
                    link = link[1]
                found.append(Path(chain, np.asarray(g, float)[()] if np.ndim(g) == 0 else np.asarray(g, float)))
                continue
            node = nodes[nid]
            argvals = [vals[a] for a in node.args]
            for ei in reversed(into[nid]):
                e = gv.edges[ei]
                if not e.differentiable or count[e.src] == 0:
                    continue
                c = engine.vjp(node.op, e.slot, g, vals[nid], argvals, node.params, 0)
                stack.append((e.src, c, (ei, link)))
    shape = np.shape(vals[x])
    shown = np.zeros(shape)
    for p in found:
        shown = shown + np.broadcast_to(p.value, shape)
    shown = shown[()] if not shape else shown
    grad = np.asarray(gv.nodes[x].adjoint, float)
    grad = grad[()] if grad.ndim == 0 else grad
    total = shown if len(found) == total_count else grad
    return PathReport(nodes[x].name, gv.output, total_count, found, shown, total, grad, limit)


# ---------------------------------------------------------------- entry point

def run(path: str, at=(), seed: int = 0, wrt: str | None = None, mode: str = "reverse",
         output: str | None = None, with_paths: bool = False, limit: int = 50,
         with_sweeps: bool = False) -> GraphView:
    """Load, bind the point, walk; `--wrt` (default: every input) picks the inputs
    whose tangents (`mode="forward"`), paths (`with_paths`) and forward-mode sweeps
    (`with_sweeps`, the steps `--format html` plays) are shown."""
    from ..evaluate.core import select_inputs

    program = load(path, seed)
    point = bind(program, at, seed)
    ids = select_inputs(program, wrt)
    gv = view(program, point, output, ids if mode == "forward" else [], mode, program.source.name)
    if with_paths:
        gv.paths = [paths(program, gv, x, limit) for x in ids]
    if with_sweeps:
        from . import sweep

        gv.sweeps = sweep.sweeps(program, gv, ids, picked=wrt is not None)
    return gv
