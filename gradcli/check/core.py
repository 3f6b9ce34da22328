"""`check`: reverse mode vs forward mode vs finite differences vs the file's claims.

Data in (a program, a point, options), a `CheckReport` out; nothing here prints.

For each point (the default or `--at` point, then `--random N` points drawn from
the inputs' domains) the checker compares, entry by entry:

* every output against every input: the reverse-mode Jacobian, the forward-mode
  Jacobian and finite differences (`fd.py`), or with `--fast` one random
  directional derivative uᵀJw per output (reverse: one backward pass seeded
  with u; forward: one tangent pass along w; FD: a central difference along w);
* every claim `d(u)/d(v)`: the same three, computed on the program with v cut
  loose (made an input, so everything downstream of it is recomputed), against
  the claimed value;
* every claim `partial(u, v)`: the local partial on the edge (for elementwise
  ops `engine.local_partial`, compared element by element; for other ops the
  Jacobian of u w.r.t. v with u's other arguments cut loose).

Verdicts (worst first): `engine_bug` (reverse and forward disagree),
`ad_fd_mismatch` (both modes agree, finite differences do not, beyond the
tolerance *and* the FD error estimate), `claim_wrong` (AD and FD agree, the claim
does not), `kink` (within the FD step of a max/min/abs/relu kink or tie: the
one-sided differences disagree; not a mismatch), `tie` (a kink or tie exactly at the
point where the one-sided differences agree: FD has the derivative, AD its convention's
value; not a mismatch), `fd_inconclusive` (a pole or domain edge too near for any step,
or an FD error estimate too wide to decide; not a mismatch), `undefined` (also: one
mode finite and the other not where no finite difference can be formed), `ok`.

Near a pole or a domain edge the steps shrink so as never to cross it (`fit_scale`,
from the op table's `reach`), and FD's rounding estimate accounts for how well f is
computed there (`magnitude`); docs/check.md has the numbers.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import numpy as np

from ..autodiff import engine, fd
from ..errors import GradError
from ..language import limits as budget
from ..language.limits import FILE, Limits
from ..language.program import Node, Program, domain, fixed_inputs
from ..numbers import num

RTOL = 1e-6
ATOL = 1e-9
FAST_THRESHOLD = 1000        # more input elements than this: --fast by default
RICHARDSON_MAX = 100         # full check with at most this many elements: Richardson by default
RANDOM = 4                   # --random default
REDRAW_ROUNDS = 10           # candidates are drawn in rounds; give up after this many
RESOLVE = 64                 # FD needs steps of at least this many units in the last place of x
DECISIVE = 0.01              # an FD error bar wider than this times the derivative…
VAGUE = 1000                 # …and than this times the tolerance decides nothing: FD inconclusive
JITTER = 4                   # AD is compared with itself this many units in the last place of x away
ROUNDING = 16                # AD's rounding: this many eps times Σ |adjoint|·|tangent| over the nodes

SEVERITY = {"engine_bug": 6, "ad_fd_mismatch": 5, "claim_wrong": 4, "kink": 3, "tie": 3, "fd_inconclusive": 2,
            "undefined": 1, "ok": 0}
MISMATCH = ("engine_bug", "ad_fd_mismatch", "claim_wrong")


@dataclass
class Row:
    point: int                   # index into CheckReport.points
    output: str
    input: str
    index: list | None           # index into the Jacobian (output.shape + input.shape); None: uᵀJw
    kind: str                    # gradient | claim | directional
    reverse: float
    forward: float
    fd: float                    # nan where no finite difference could be formed or at a kink
    fd_error: float
    claim: float | None = None
    claim_text: str | None = None
    location: str | None = None  # FILE:LINE of the claim
    abs_error: float = 0.0
    rel_error: float = 0.0
    excess: float = 0.0          # abs_error / (atol + rtol*|reference|): > 1 beyond tolerance
    verdict: str = "ok"
    left: float | None = None    # one-sided differences at a kink
    right: float | None = None
    note: str = ""


@dataclass
class Point:
    label: str                   # "default", "--at", "random 1", ...
    values: dict                 # input name -> value


@dataclass
class CheckReport:
    file: str
    mode: str                    # "full" or "fast"
    method: str                  # richardson | central | forward
    rtol: float
    atol: float
    elements: int                # input elements at the point
    points: list[Point] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    function: str | None = None  # a Python function's check (check_function): f's name
    gradient: str | None = None  # ... and its hand-written gradient's (where it is defined)

    @property
    def status(self) -> int:
        return 1 if any(r.verdict in MISMATCH for r in self.rows) else 0

    @property
    def ok(self) -> bool:
        """No mismatch (kinks and undefined entries are not mismatches): exit status 0."""
        return self.status == 0

    def render(self, format: str = "text", limit: int = 20) -> str:
        """The report as `gradcli check` prints it: "text" (plain, worst `limit` rows; 0: all)
        or "json" (every row)."""
        from . import render

        if format == "json":
            from ..render import dumps

            return dumps(render.check_json(self)) + "\n"
        if format == "text":
            return render.check_str(self, limit)
        raise ValueError(f"format {format!r}: choose 'text' or 'json'")

    def raise_for_status(self) -> None:
        """Raise GradientMismatch (an AssertionError) whose message is the text report, if not ok."""
        __tracebackhide__ = True   # pytest shows the caller's line and the report
        if not self.ok:
            from ..errors import GradientMismatch

            raise GradientMismatch(self.render("text"), self)

    def counts(self) -> dict:
        out = {k: 0 for k in SEVERITY}
        for r in self.rows:
            out[r.verdict] += 1
        return out

    def sorted_rows(self) -> list[Row]:
        return sorted(self.rows, key=lambda r: (-SEVERITY[r.verdict], -_nan0(r.excess), r.point))


def _nan0(x):
    return 0.0 if x is None or not np.isfinite(x) else x


# ---------------------------------------------------------------- programs

def cut(program: Program, ids) -> Program:
    """The program with the nodes `ids` made inputs: d(u)/d(v) treats v as independent."""
    ids = [i for i in ids if program.nodes[i].kind == "op"]
    if not ids:
        return program
    nodes = list(program.nodes)
    for i in ids:
        n = nodes[i]
        nodes[i] = Node(n.id, n.name, "input", start=n.start, end=n.end)
    return Program(program.source, nodes, program.n_main, program.names, program.inputs + ids,
                   program.outputs, program.defaults, program.domains, program.claims)


def ancestors(program: Program, u: int) -> np.ndarray:
    """Which nodes u depends on (itself included)."""
    seen = np.zeros(len(program.nodes), dtype=bool)
    seen[u] = True
    for i in range(u, -1, -1):
        if seen[i]:
            for a in program.nodes[i].args:
                seen[a] = True
    return seen


def kink_nodes(program: Program, u: int) -> list[int]:
    anc = ancestors(program, u)
    return [n.id for n in program.nodes[: u + 1]
            if anc[n.id] and n.kind == "op" and n.op.kink is not None]


def reach_nodes(program: Program, u: int) -> list[int]:
    """The nodes u depends on whose op has a reach (ops.py: poles, domain edges, sin, exp…)."""
    anc = ancestors(program, u)
    return [n.id for n in program.nodes[: u + 1]
            if anc[n.id] and n.kind == "op" and n.op.reach is not None]


def reach_step(program, vals, tan, nodes) -> float:
    """The largest step t along the tangent direction that stays within every op's reach (clear
    of every pole and domain edge): for each argument that has one, its reach over the rate
    the argument moves at (linearised), halved; inf when there is none."""
    best = np.inf
    with np.errstate(all="ignore"):
        for i in nodes:
            node = program.nodes[i]
            args = None
            for k, distance in enumerate(node.op.reach):
                t = tan[node.args[k]]
                if distance is None or t is None:
                    continue
                args = args or [vals[a] for a in node.args]
                dist = np.asarray(distance(*args), dtype=float)
                rate = np.abs(np.asarray(t, dtype=float))
                if dist.ndim == 0:                     # the same reach everywhere: the fastest element
                    steps = dist / np.max(rate) if rate.size else np.inf
                else:                                  # an argument that does not move has no limit
                    steps = np.fmin.reduce(np.where(rate > 0, dist / rate, np.inf), axis=None, initial=np.inf)
                best = min(best, float(steps))
    return best / 2


def fit_scale(scale, reach, ulp, method: str):
    """Steps that cannot cross a pole or a domain edge: per direction, the unit of the steps
    is `scale` (max(|x|, 1) along a coordinate), or, when a singularity is nearer, `reach`
    (half its linearised distance) rounded down to a power of 2, so that the point is where
    the function varies on that scale and the steps x ± t·scale are exact.  Returns the
    scales and, per direction, whether the singularity is too near for any step to resolve
    (FD inconclusive there): the method's smallest step would be under RESOLVE units in the
    last place (`ulp`: one unit in the last place of x, in units of the direction)."""
    scale = np.asarray(scale, dtype=float)
    reach = np.broadcast_to(np.asarray(reach, dtype=float), scale.shape)
    near = reach < scale
    with np.errstate(divide="ignore"):
        fitted = np.where(near, 2.0 ** np.floor(np.log2(np.where(near, reach, 1.0))), scale)
    unresolved = near & (fitted * fd.SMALLEST[method] < RESOLVE * np.asarray(ulp, dtype=float))
    return np.where(unresolved, scale, fitted), unresolved     # (an unresolved one's FD is not used)


def power_of_2(x):
    """x (> 0) rounded up to a power of 2 (elementwise): steps in such units are exact in floating point."""
    m, e = np.frexp(x)                      # x = m 2**e, 0.5 <= m < 1
    with np.errstate(over="ignore"):        # beyond the largest float: inf, no warning
        return np.ldexp(1.0, e - (m == 0.5))


def max_step(program, vals, tan, kinks) -> float:
    """The largest step t along the tangent direction that cannot reach a kink (linearised, halved)."""
    best = np.inf
    with np.errstate(all="ignore"):
        for i in kinks:
            node = program.nodes[i]
            args = [vals[a] for a in node.args]
            ts = [tan[a] for a in node.args]
            if all(t is None for t in ts):
                continue
            dist = np.asarray(node.op.kink(*args), dtype=float)
            if node.op.elementwise:
                rate = sum(np.abs(t) for t in ts if t is not None)
                rate = np.broadcast_to(rate, np.broadcast_shapes(np.shape(rate), dist.shape))
                dist = np.broadcast_to(dist, rate.shape)
            else:
                rate = 2 * max(float(np.max(np.abs(t), initial=0.0)) for t in ts if t is not None)
            hit = np.asarray(rate) > 0
            if np.any(hit):
                best = min(best, float(np.min(np.where(hit, dist / np.where(hit, rate, 1), np.inf))))
    return best / 2


# ---------------------------------------------------------------- batched evaluation

class Flat:
    """Pack the wrt inputs of a point into one flat vector and back."""

    def __init__(self, point: dict, wrt: list[int]):
        self.point, self.wrt = point, wrt
        self.shapes = [np.shape(point[x]) for x in wrt]
        self.sizes = [int(np.prod(s)) for s in self.shapes]
        self.offsets = np.concatenate([[0], np.cumsum(self.sizes)]).astype(int)
        self.n = int(self.offsets[-1])

    def pack(self, values: dict) -> np.ndarray:
        return np.concatenate([np.ravel(np.asarray(values[x], dtype=float)) for x in self.wrt]) \
            if self.wrt else np.zeros(0)

    def unpack(self, flat) -> dict:
        return {x: flat[self.offsets[k]:self.offsets[k + 1]].reshape(self.shapes[k])
                for k, x in enumerate(self.wrt)}

    def batch(self, X) -> dict:
        B = X.shape[0]
        pt = {i: np.broadcast_to(np.asarray(v, dtype=float), (B,) + np.shape(v))
              for i, v in self.point.items()}
        for k, x in enumerate(self.wrt):
            pt[x] = X[:, self.offsets[k]:self.offsets[k + 1]].reshape((B,) + self.shapes[k])
        return pt


def upto(program: Program, u: int) -> Program:
    """The program cut short after node u: evaluating it computes nothing u does not need
    (nodes after u, claims included, are dropped)."""
    cache = program.__dict__.setdefault("_check_upto", {})
    if u not in cache:
        cache[u] = Program(program.source, program.nodes[: u + 1], min(program.n_main, u + 1), {},
                           [i for i in program.inputs if i <= u], [u])
    return cache[u]


def batch_fn(program, flat: Flat, u: int, uvec=None):
    """f(X) for fd: the value of node u (flattened, or its inner product with uvec) at a batch."""
    program = upto(program, u)

    def f(X):
        B = X.shape[0]
        if B == 1:      # one point: the engine's single-point path, a batch axis added after
            pt = {i: np.asarray(v, dtype=float) for i, v in flat.point.items()}
            pt.update({x: v[()] if v.ndim == 0 else v for x, v in flat.unpack(X[0]).items()})
            y = np.asarray(engine.value(program, pt, u), dtype=float)[None]
        else:
            vals = engine.forward(program, flat.batch(X), nb=1)
            y = np.asarray(vals[u], dtype=float)
            y = np.broadcast_to(y, (B,) + y.shape[1:])
        if uvec is not None:
            return np.tensordot(y, uvec, axes=uvec.ndim).reshape(B, 1) if uvec.ndim else (y * uvec).reshape(B, 1)
        return y.reshape(B, -1)
    return f


def magnitude(program, vals, u: int, seeds=None, adjoints=None) -> np.ndarray:
    """Per seed (a cotangent of u), how well u·seed is computed: Σ over the op nodes that move
    with the inputs of |∂(u·seed)/∂node|·|node| (each op rounds its result to about eps
    relative, so f's rounding error is about eps times this; an op whose rounding is not
    relative to its result says so in the op table: `rounding`).  Far above |f| for an
    ill-conditioned f: 1/(y*y - a) near its pole, sin(1/y) near 0.  `adjoints`: backward
    passes already made (one list per seed), used instead of new ones."""
    out = []
    with np.errstate(all="ignore"):
        for adj in adjoints if adjoints is not None else (engine.backward(program, vals, u, seed=s)
                                                           for s in seeds):
            total = 0.0
            for node in program.nodes[: u + 1]:
                g = adj[node.id]
                if node.kind == "op" and g is not None:
                    v = vals[node.id]
                    if node.op.rounding is not None:
                        v = node.op.rounding(v, *[vals[a] for a in node.args])
                    g, v = np.abs(np.asarray(g, dtype=float)), np.abs(np.asarray(v, dtype=float))
                    total += float(np.vdot(g, v)) if g.shape == v.shape else float(np.sum(g * v))
            out.append(total)
    return np.array(out)


def _terms(node, vals, tan):
    """The size of the terms a node's tangent is summed from (its rounding is about eps times
    this, however small the sum): Σ |partial|·|tangent| over the arguments of an elementwise op;
    for the others, the largest argument tangent times the terms per element (a matmul's inner
    dimension times the other factor, a sum's elements; 2 for softmax's t - Σ s·t)."""
    op, args = node.op, node.args
    t_out = np.abs(np.asarray(tan[node.id], dtype=float))
    if op.elementwise:
        total = t_out
        argvals = [vals[a] for a in args]
        for k, a in enumerate(args):
            if tan[a] is not None and op.differentiable(k):
                p = engine.local_partial(op, k, vals[node.id], argvals)
                total = total + np.abs(np.asarray(p, dtype=float)) * np.abs(np.asarray(tan[a], dtype=float))
        return np.broadcast_to(total, t_out.shape)
    biggest = max((float(np.max(np.abs(tan[a]), initial=0.0)) for a in args if tan[a] is not None), default=0.0)
    if op.name == "matmul":
        a, b = (np.asarray(vals[x], dtype=float) for x in args)
        k = np.shape(a)[-1] if np.ndim(a) else 1
        biggest *= k * max(float(np.max(np.abs(a), initial=0.0)), float(np.max(np.abs(b), initial=0.0)), 1.0)
    elif op.name in ("sum", "sum_axis"):
        biggest *= max(int(np.size(vals[args[0]])), 1)
    else:
        biggest *= 2
    return t_out + biggest


def _unit_seeds(shape):
    if not shape:
        yield np.float64(1.0)
        return
    n = int(np.prod(shape))
    for e in range(n):
        seed = np.zeros(n)
        seed[e] = 1.0
        yield seed.reshape(shape)


def _tangents(prog, vals, seeds, u):
    """engine.tangents up to u, made again with `times` where u's tangent is not finite (a zero
    stops a derivative in both modes alike: engine.backward)."""
    tan = engine.tangents(prog, vals, seeds, stop=u)
    if tan[u] is not None and not engine.all_finite([tan[u]]):
        tan = engine.tangents(prog, vals, seeds, stop=u, careful=True)
    return tan


def point_cost(vals) -> int:
    return sum(int(np.size(v)) for v in vals if v is not None)


# ---------------------------------------------------------------- blocks

@dataclass
class Block:
    """Comparisons for one (output, input) pair: arrays (m, n) of Jacobian entries."""

    output: str
    input: str
    kind: str
    oshape: tuple
    ishape: tuple
    rev: np.ndarray
    fwd: np.ndarray
    fdv: np.ndarray
    err: np.ndarray
    kink: np.ndarray
    left: np.ndarray
    right: np.ndarray
    claims: list = field(default_factory=list)     # (Claim, values (m, n))
    unresolved: np.ndarray | None = None           # (n,) a pole or domain edge too near for FD
    jitter: np.ndarray | None = None               # (m, n) how well AD itself is known (ad_jitter)
    directional: bool = False
    elementwise: bool = False                      # partial claim of an elementwise op: n == 1
    tie: np.ndarray | None = None                  # (n,) a kink or tie exactly at the point, along the column


class Checker:
    def __init__(self, program: Program, mode: str, method: str, rtol: float, atol: float,
                 rng: np.random.Generator):
        self.program, self.mode, self.method = program, mode, method
        self.rtol, self.atol, self.rng = rtol, atol, rng
        self.fixed = fixed_inputs(program)   # index's integer inputs: no derivative to check
        self._cuts: dict = {}

    def name(self, i):
        return self.program.nodes[i].name

    def cut(self, ids):
        key = tuple(sorted(ids))
        if key not in self._cuts:
            self._cuts[key] = cut(self.program, key)
        return self._cuts[key]

    # ------------------------------------------------------------ a point
    def blocks(self, point: dict, vals: list) -> list[Block]:
        program = self.program
        inputs = [i for i in program.inputs if i not in self.fixed]
        attached = {}
        extra = []
        for c in program.claims:
            if (c.kind == "total" and c.u in program.outputs and c.v in program.inputs
                    and self.mode == "full"):
                attached.setdefault((c.u, c.v), []).append(c)
            else:
                extra.append(c)
        out = []
        for o in program.outputs:
            if self.mode == "fast":
                out.append(self.fast(program, point, vals, o, inputs, []))
            else:
                out.extend(self.full(program, point, vals, o, inputs, attached))
        groups: dict = {}
        for c in extra:
            groups.setdefault((c.kind, c.u, c.v), []).append(c)
        for (kind, u, v), claims in groups.items():
            if kind == "total":
                prog = self.cut([v])
                pt = dict(point)
                pt[v] = vals[v]
                if self.mode == "fast":
                    out.append(self.fast(prog, pt, vals, u, [v], claims))
                else:
                    out.extend(self.full(prog, pt, vals, u, [v], {(u, v): claims}))
            else:
                out.append(self.partial(point, vals, u, v, claims))
        return out

    def claim_values(self, claim, vals, shape):
        value = np.asarray(vals[claim.node], dtype=float)
        try:
            return np.broadcast_to(value, shape)
        except ValueError:
            text = claim.text(self.program)
            raise self.program.error(
                f"{text} has shape {value.shape}, but the derivative has shape {shape}",
                (claim.start, claim.end),
                hint="d(u)/d(v) has shape u.shape + v.shape (for a scalar u, the shape of v)") from None

    # ------------------------------------------------------------ full Jacobians
    def empty(self, u, x: str, oshape, ishape, kind="gradient", claims=()) -> Block:
        """A block with nothing to compare: u or the input has no elements (its Jacobian is empty)."""
        m, n = int(np.prod(oshape, dtype=int)), int(np.prod(ishape, dtype=int))
        z = np.zeros((m, n))
        return Block(self.name(u), x, kind, oshape, ishape, z, z, z, z, z.astype(bool), z, z,
                     [(c, z) for c in claims], np.zeros(n, dtype=bool), z)

    def full(self, prog, point, vals, u, wrt, claims: dict) -> list[Block]:
        uval = np.asarray(vals[u], dtype=float)
        m = uval.size
        flat = Flat(point, wrt)
        if m == 0 or flat.n == 0:
            return [self.empty(u, self.name(x), uval.shape, flat.shapes[k], claims=claims.get((u, x), []))
                    for k, x in enumerate(wrt)]
        rev = engine.jacobian(prog, vals, u, wrt, "reverse")
        x0 = flat.pack(point)
        kinks, reaches = kink_nodes(prog, u), reach_nodes(prog, u)
        fwd = np.zeros((m, flat.n))
        kink_reach = np.full(flat.n, np.inf)
        reach = np.full(flat.n, np.inf)
        col = 0
        for k, x in enumerate(wrt):
            shape = flat.shapes[k]
            for j in range(flat.sizes[k]):
                seed = np.zeros(shape)
                seed.flat[j] = 1.0
                tan = _tangents(prog, vals, {x: seed[()] if not shape else seed}, u)
                t = tan[u]
                if t is not None:
                    fwd[:, col] = np.broadcast_to(np.asarray(t, dtype=float), uval.shape).ravel()
                if kinks:
                    kink_reach[col] = max_step(prog, vals, tan, kinks)
                if reaches:
                    reach[col] = reach_step(prog, vals, tan, reaches)
                col += 1
        scale, unresolved = fit_scale(np.maximum(np.abs(x0), 1.0), reach, np.spacing(np.abs(x0)), self.method)
        dirs = fd.Coordinates(np.arange(flat.n), scale)
        with np.errstate(all="ignore"):
            max_t = kink_reach / scale if kinks else None

        def directional(mag):
            return fd.directional(batch_fn(prog, flat, u), x0, dirs, self.method, max_t, self.rtol, self.atol,
                                  cost=point_cost(vals), f0=uval.reshape(-1), mag=mag, skip=unresolved)

        # f's rounding by its conditioning (magnitude: a backward pass per element of u) is
        # computed only when FD disagrees with AD without it
        r = directional(None)
        R = np.concatenate([np.asarray(rev[x], dtype=float).reshape(m, -1) for x in wrt], axis=1)
        jitter = np.zeros((m, flat.n))
        with np.errstate(all="ignore"):
            D = (r.value / scale[:, None]).T
            if np.any(np.isfinite(D) & ~np.isclose(R, D, self.rtol, self.atol)):
                r = directional(magnitude(prog, vals, u, _unit_seeds(uval.shape)))
                D, E = (r.value / scale[:, None]).T, (r.error / scale[:, None]).T
                off = np.isfinite(D) & ~np.isclose(R, D, self.rtol, self.atol) & (np.abs(R - D) > E)
            else:
                off = np.zeros(R.shape, dtype=bool)
            # reverse and forward mode apart: within how well AD is known here (rounding amplified
            # near a pole), or a bug?
            off |= np.isfinite(R) & np.isfinite(fwd) & ~np.isclose(fwd, R, self.rtol, self.atol)
            seeds = None
            for col in np.flatnonzero(off.any(axis=0)):
                jitter[:, col] = self.ad_jitter(prog, point, flat, u, x0, col, fwd[:, col], uval.shape)
                k = int(np.searchsorted(flat.offsets, col, side="right")) - 1
                x, j = wrt[k], col - flat.offsets[k]
                seed = np.zeros(flat.shapes[k])
                seed.flat[j] = 1.0
                seeds = seeds or list(_unit_seeds(uval.shape))
                jitter[:, col] = np.maximum(jitter[:, col], self.ad_rounding(
                    prog, vals, u, seeds, {x: seed[()] if not seed.ndim else seed}))
        blocks = []
        for k, x in enumerate(wrt):
            sl = slice(flat.offsets[k], flat.offsets[k + 1])
            sc = scale[sl][:, None]
            shape = flat.shapes[k]
            n = flat.sizes[k]
            R = np.asarray(rev[x], dtype=float).reshape(m, n)
            cl = [(c, self.claim_values(c, vals, uval.shape + shape).reshape(m, n))
                  for c in claims.get((u, x), [])]
            blocks.append(Block(
                self.name(u), self.name(x), "gradient", uval.shape, shape, R, fwd[:, sl],
                (r.value[sl] / sc).T, (r.error[sl] / sc).T, r.kink[sl].T,
                (r.left[sl] / sc).T, (r.right[sl] / sc).T, cl, unresolved[sl], jitter[:, sl],
                tie=kink_reach[sl] == 0))
        return blocks

    def ad_rounding(self, prog, vals, u, seeds, direction) -> np.ndarray:
        """Per seed (a cotangent of u), how well AD computes seed·J·direction: ROUNDING eps times
        Σ over the op nodes w of |seed·∂u/∂w| times the size of the terms w's tangent is summed
        from (`_terms`: each tangent is rounded to about eps of those, and reaches the
        derivative through its adjoint).  Far above the derivative where terms cancel: d/dw of
        logsumexp(log_softmax(w)) is 0 from terms of 1, and a sqrt of it near 0 multiplies
        their rounding by 10⁷ -- the modes then differ by that much, and so does AD from the
        truth."""
        tan = engine.tangents(prog, vals, direction, stop=u)
        sizes: dict = {}
        with np.errstate(all="ignore"):
            for node in prog.nodes[: u + 1]:
                if node.kind == "op" and tan[node.id] is not None:
                    sizes[node.id] = _terms(node, vals, tan)
            out = []
            for seed in seeds:
                adj = engine.backward(prog, vals, u, seed=seed)
                total = 0.0
                for i, size in sizes.items():
                    if adj[i] is not None:
                        total += float(np.sum(np.abs(np.asarray(adj[i], dtype=float)) * size))
                out.append(ROUNDING * np.finfo(float).eps * total)
        return np.array(out)

    def ad_jitter(self, prog, point, flat, u, x0, col, ad, shape) -> np.ndarray:
        """How much AD's column `col` changes between x and the floats JITTER units in the last
        place away: AD is computed from rounded values, so it is known no better than that
        (a factor like cos(u) near its zero, with u = 1/(y*y - a) near the pole, moves by
        1e-4 of itself from one float to the next).  Where AD is not finite there, AD here is
        known not at all (inf)."""
        k = int(np.searchsorted(flat.offsets, col, side="right")) - 1
        x, j = flat.wrt[k], col - flat.offsets[k]
        seed = np.zeros(flat.shapes[k])
        seed.flat[j] = 1.0
        out = np.zeros(len(ad))
        for sign in (1.0, -1.0):
            moved = x0.copy()
            moved[col] += sign * JITTER * np.spacing(abs(moved[col]))
            pt = dict(point)
            pt.update({i: v[()] if v.ndim == 0 else v for i, v in flat.unpack(moved).items()})
            with np.errstate(all="ignore"):
                t = engine.tangents(prog, engine.forward(prog, pt), {x: seed[()] if not seed.ndim else seed},
                                    stop=u)[u]
                if t is not None:
                    diff = np.abs(np.broadcast_to(np.asarray(t, dtype=float), shape).ravel() - ad)
                    out = np.maximum(out, np.where(np.isnan(diff), np.inf, diff))
        return out

    # ------------------------------------------------------------ --fast
    def fast(self, prog, point, vals, u, wrt, claims) -> Block:
        uval = np.asarray(vals[u], dtype=float)
        flat = Flat(point, wrt)
        if uval.size == 0 or flat.n == 0:
            return self.empty(u, ", ".join(self.name(x) for x in wrt), (), (0,), "directional", claims)
        uvec = self.rng.standard_normal(uval.shape) if uval.ndim else np.float64(1.0)
        x0 = flat.pack(point)
        # a random direction of signs times max(|x|, 1) rounded up to a power of 2, so that the
        # steps x ± t·w are exact
        w = self.rng.integers(0, 2, flat.n) * 2.0 - 1.0
        big = np.flatnonzero(np.abs(x0) > 1)
        w[big] *= power_of_2(np.abs(x0[big]))
        wd = flat.unpack(w)
        for careful in (False, True):         # again with `times` where not finite (engine.backward)
            adj = engine.backward(prog, vals, u, seed=uvec if uval.ndim else None, wrt=wrt, careful=careful)
            rev = sum(float(np.vdot(np.broadcast_to(adj[x], np.shape(wd[x])), wd[x]))
                      for x in wrt if adj[x] is not None)
            if np.isfinite(rev):
                break
        del adj         # every adjoint, tangent and FD value is as large as the input: one set at a time
        tan = _tangents(prog, vals, {x: (wd[x][()] if not np.shape(wd[x]) else wd[x]) for x in wrt}, u)
        t = tan[u]
        fwd = 0.0 if t is None else float(np.vdot(np.broadcast_to(t, uval.shape), uvec))
        kinks, reaches = kink_nodes(prog, u), reach_nodes(prog, u)
        # along w the unit step is w itself (scale 1); a near singularity shrinks it to f·w
        ulp = float(np.max(np.spacing(np.abs(x0)) / np.abs(w))) if x0.size else 0.0
        f, unresolved = fit_scale(1.0, reach_step(prog, vals, tan, reaches) if reaches else np.inf, ulp,
                                  self.method)
        f, unresolved = float(f), np.array([bool(unresolved)])
        with np.errstate(all="ignore"):
            max_t = max_step(prog, vals, tan, kinks) / f if kinks else None
        del tan, t
        f0 = np.array([float(np.vdot(np.broadcast_to(uval, np.shape(uvec)), uvec))])
        def directional(mag):
            return fd.directional(batch_fn(prog, flat, u, np.asarray(uvec)), x0, f * w[None, :], self.method,
                                  max_t, self.rtol, self.atol, cost=point_cost(vals), f0=f0, mag=mag,
                                  skip=unresolved)

        # f's rounding by its conditioning (magnitude) costs a pass over every value: on a large
        # input it is computed only when FD disagrees with AD without it
        r = directional(None)
        jitter = np.zeros((1, 1))
        shaky = False
        if not unresolved[0] and not (abs(r.value[0, 0] / f - rev) <= self.atol + self.rtol * abs(rev)):
            adj = engine.backward(prog, vals, u, seed=uvec if uval.ndim else None, wrt=wrt)   # again, as rarely
            r = directional(magnitude(prog, vals, u, adjoints=[adj]))                         # as it is needed
            shaky = abs(r.value[0, 0] / f - rev) > r.error[0, 0] / f     # AD known no better than this?
        apart = np.isfinite(rev) and np.isfinite(fwd) and not abs(fwd - rev) <= self.atol + self.rtol * abs(rev)
        if shaky or apart:                     # how much AD moves between floats a few ulps apart
            step = JITTER * float(np.max(np.spacing(np.abs(x0)) / np.abs(w)))
            for sign in (1.0, -1.0):
                pt = dict(point)
                pt.update({i: v[()] if v.ndim == 0 else v for i, v in flat.unpack(x0 + sign * step * w).items()})
                with np.errstate(all="ignore"):
                    tt = engine.tangents(prog, engine.forward(prog, pt),
                                         {x: (wd[x][()] if not np.shape(wd[x]) else wd[x]) for x in wrt}, stop=u)[u]
                    if tt is not None:
                        moved = abs(float(np.vdot(np.broadcast_to(tt, uval.shape), uvec)) - fwd)
                        jitter[0, 0] = max(jitter[0, 0], np.inf if np.isnan(moved) else moved)
            jitter[0, 0] = max(jitter[0, 0], float(self.ad_rounding(
                prog, vals, u, [uvec if uval.ndim else None],
                {x: (wd[x][()] if not np.shape(wd[x]) else wd[x]) for x in wrt})[0]))
        cl = []
        for c in claims:
            C = self.claim_values(c, vals, uval.shape + flat.shapes[0])
            Cw = np.tensordot(C, wd[wrt[0]], axes=len(flat.shapes[0])) if flat.shapes[0] else C * wd[wrt[0]]
            cl.append((c, np.array([[float(np.vdot(np.broadcast_to(Cw, uval.shape), uvec))]])))
        label = ", ".join(self.name(x) for x in wrt)
        one = lambda v: np.array([[v]], dtype=float)  # noqa: E731
        return Block(self.name(u), label, "directional", uval.shape, (), one(rev), one(fwd),
                     r.value.reshape(1, 1) / f, r.error.reshape(1, 1) / f, r.kink.reshape(1, 1),
                     r.left.reshape(1, 1) / f, r.right.reshape(1, 1) / f, cl, unresolved, jitter,
                     directional=True, tie=np.array([max_t is not None and max_t == 0]))

    # ------------------------------------------------------------ partial(u, v)
    def partial(self, point, vals, u, v, claims) -> Block:
        node = self.program.nodes[u]
        op = node.op
        args = list(node.args)
        prog = self.cut(args)
        pt = dict(point)
        for a in args:
            if self.program.nodes[a].kind == "op":
                pt[a] = vals[a]
        if not op.elementwise:
            if self.mode == "fast":
                return self.fast(prog, pt, vals, u, [v], claims)
            return self.full(prog, pt, vals, u, [v], {(u, v): claims})[0]
        # Elementwise: the local partial, element by element of u.
        uval = np.asarray(vals[u], dtype=float)
        if uval.size == 0:
            return self.empty(u, self.name(v), uval.shape, (), "partial", claims)
        rev = engine.local_jacobian(self.program, vals, u, v)
        vshape = np.shape(vals[v])
        flat = Flat(pt, [v])
        x0 = flat.pack(pt)
        s = power_of_2(np.maximum(np.abs(x0), 1.0))
        tan = _tangents(prog, vals, {v: np.ones(vshape) if vshape else 1.0}, u)
        fwd = np.zeros(uval.shape) if tan[u] is None else np.broadcast_to(tan[u], uval.shape)
        stan = _tangents(prog, vals, {v: s.reshape(vshape) if vshape else s[0]}, u)
        kinks, reaches = kink_nodes(prog, u), reach_nodes(prog, u)
        ulp = float(np.max(np.spacing(np.abs(x0)) / s)) if x0.size else 0.0
        f, unresolved = fit_scale(1.0, reach_step(prog, vals, stan, reaches) if reaches else np.inf, ulp,
                                  self.method)
        f = float(f)
        s = s * f
        with np.errstate(all="ignore"):
            max_t = max_step(prog, vals, stan, kinks) / f if kinks else None
        r = fd.directional(batch_fn(prog, flat, u), x0, s[None, :], self.method, max_t,
                           self.rtol, self.atol, cost=point_cost(vals), f0=uval.reshape(-1),
                           skip=np.array([bool(unresolved)]))
        sb = np.broadcast_to(s.reshape(vshape), uval.shape).reshape(-1, 1) if vshape else s[0]
        m = max(uval.size, 1)
        col = lambda a: np.asarray(a, dtype=float).reshape(m, 1)  # noqa: E731
        cl = [(c, col(self.claim_values(c, vals, uval.shape))) for c in claims]
        return Block(self.name(u), self.name(v), "partial", uval.shape, (), col(rev), col(fwd),
                     r.value.reshape(m, 1) / sb, r.error.reshape(m, 1) / sb, r.kink.reshape(m, 1),
                     r.left.reshape(m, 1) / sb, r.right.reshape(m, 1) / sb, cl,
                     np.array([bool(unresolved)]), elementwise=True, tie=np.array([max_t is not None and max_t == 0]))

    # ------------------------------------------------------------ verdicts
    def rows(self, block: Block, point_index: int) -> list[Row]:
        out = []
        for claim, C in block.claims or [(None, None)]:
            out.extend(self._rows(block, point_index, claim, C))
        return out

    def _rows(self, b: Block, p: int, claim, C) -> list[Row]:
        rtol, atol = self.rtol, self.atol
        rev, fwd, fdv, err = b.rev, b.fwd, b.fdv, b.err
        if b.unresolved is not None and b.unresolved.any():   # no step resolves it: no FD value
            fdv, err = fdv.copy(), err.copy()
            fdv[:, b.unresolved] = np.nan
            err[:, b.unresolved] = np.nan
        with np.errstate(all="ignore"):
            fr, ff = np.isfinite(rev), np.isfinite(fwd)
            fin = fr & ff
            jitter = 0 if b.jitter is None else b.jitter
            apart = fin & ~np.isclose(fwd, rev, rtol, atol)
            # the modes round differently; near a pole that is amplified: apart by no more than
            # AD itself moves between floats a few ulps apart is not a bug, but undecidable
            modes_shaky = apart & (np.abs(fwd - rev) <= jitter)
            has_fd = np.isfinite(fdv) & np.isfinite(err) & ~b.kink
            d_fd = np.abs(rev - fdv)
            beyond = fin & has_fd & ~np.isclose(rev, fdv, rtol, atol)
            # FD's error bar wider than DECISIVE times the derivative and than VAGUE times the
            # tolerance: FD does not know the derivative well enough to confirm AD or to blame it
            size = np.maximum(np.abs(rev), np.abs(fdv))
            vague = beyond & (err > DECISIVE * size) & (err > VAGUE * (atol + rtol * np.abs(fdv)))
            # at a tie or kink exactly at the point, where the one-sided differences agree: the
            # derivative exists and FD has it; AD gives its convention's value (PyTorch's) there
            tie = beyond & ~vague & ~(d_fd <= err) & (False if b.tie is None else b.tie[None, :])
            # beyond FD's error but within AD's own (ad_jitter): AD is not known well enough here
            shaky = beyond & ~vague & ~(d_fd <= err) & ~tie & (d_fd <= err + (0 if b.jitter is None else b.jitter))
            fd_bad = beyond & ~vague & ~(d_fd <= err) & ~shaky & ~tie
            # one mode finite, the other not, where no finite difference can be formed: a partial is
            # infinite here (a domain edge, a pole), and the modes meet ∞·0 in different places
            edge = (fr ^ ff) & ~has_fd
            modes_bad = (apart & ~modes_shaky) | ((fr ^ ff) & ~edge)
            inconclusive = fin & ~b.kink & (~has_fd | vague | shaky | modes_shaky)
            d_modes = np.where(fin, np.abs(fwd - rev), 0.0)
            absd = np.maximum(d_modes, np.where(fin & has_fd, d_fd, 0.0))
            if C is not None:
                cf = np.isfinite(C)
                claim_bad = fin & ~b.kink & (~cf | (~np.isclose(C, rev, rtol, atol) & ~(np.abs(C - rev) <= jitter)))
                claim_fd = has_fd & cf & (np.isclose(C, fdv, rtol, atol) | (np.abs(C - fdv) <= err))
                claim_bad &= ~(tie & claim_fd)      # at a tie both the derivative and AD's value are right
                absd = np.maximum(absd, np.where(fin & cf, np.abs(C - rev), np.where(fin, np.inf, 0.0)))
            else:
                claim_bad = np.zeros(rev.shape, dtype=bool)
                claim_fd = claim_bad
            undefined = ~fin
            ref = np.abs(np.where(fr, rev, fwd))
            rel = np.where(absd == 0, 0.0, absd / ref)
            excess = absd / (atol + rtol * ref)
        verdict = np.full(rev.shape, "ok", dtype=object)
        verdict[undefined] = "undefined"
        verdict[b.kink & ~modes_bad] = "kink"
        verdict[tie] = "tie"
        verdict[inconclusive] = "fd_inconclusive"
        verdict[claim_bad & ~b.kink] = "claim_wrong"
        verdict[fd_bad] = "ad_fd_mismatch"
        verdict[modes_bad] = "engine_bug"
        location = text = None
        if claim is not None:
            line, _ = self.program.source.line_col(claim.start)
            location = f"{self.program.source.name}:{line}"
            text = claim.text(self.program)
        rows = []
        m, n = rev.shape
        for e in range(m):
            for j in range(n):
                v = verdict[e, j]
                if b.directional:
                    index = None
                elif b.elementwise:
                    index = [int(i) for i in np.unravel_index(e, b.oshape)] if b.oshape else []
                else:
                    index = ([int(i) for i in np.unravel_index(e, b.oshape)] if b.oshape else []) + \
                            ([int(i) for i in np.unravel_index(j, b.ishape)] if b.ishape else [])
                note = ""
                if v == "engine_bug":
                    note = "ENGINE BUG: reverse and forward mode disagree"
                elif v == "ad_fd_mismatch":
                    note = ("reverse and forward agree, finite differences do not"
                            + ("; the claim agrees with FD: the engine's derivative is wrong"
                               if claim is not None and claim_fd[e, j] else ""))
                elif v == "claim_wrong":
                    note = (f"the claim is wrong: {location}" if np.isfinite(C[e, j])
                            else f"the claim is undefined here ({C[e, j]}): {location}")
                elif v == "kink":
                    note = "not differentiable here: the one-sided differences disagree"
                elif v == "tie":
                    note = (f"a tie at this point (max/min of equal arguments, or abs/relu at 0): the one-sided "
                            f"differences agree on {num(fdv[e, j])}, the derivative; AD gives the tie's "
                            f"convention (PyTorch's), {num(rev[e, j])}; neither is a bug")
                elif v == "fd_inconclusive":
                    if modes_shaky[e, j]:
                        note = (f"reverse and forward mode differ by {num(abs(fwd[e, j] - rev[e, j]), 2)}, no more "
                                f"than AD itself moves between floats a few units in the last place apart "
                                f"(± {num(b.jitter[e, j], 2)}): rounding, amplified here; neither can be checked")
                    elif shaky[e, j]:
                        note = (f"AD itself is known only to ± {num(b.jitter[e, j], 2)} here (it moves that much "
                                "between floats a few units in the last place apart); AD ≠ FD cannot be decided")
                    else:
                        note = ("finite differences cannot decide here: "
                                + ("a pole or a domain edge is too near (or the function turns too fast) "
                                   "for any step to resolve" if not np.isfinite(fdv[e, j]) else
                                   "their error estimate is too large (over 1% of the derivative)")
                                + "; AD is not checked at this point")
                elif v == "undefined":
                    note = ("the derivative is not finite here" if not edge[e, j] else
                            f"reverse mode gives {num(rev[e, j])}, forward mode {num(fwd[e, j])}: a local "
                            "derivative is infinite here (a domain edge or a pole, where finite differences "
                            "cannot step either), and the two modes meet ∞·0 in different places")
                kink = b.kink[e, j]
                rows.append(Row(
                    p, b.output, b.input, index,
                    "claim" if claim is not None else ("directional" if b.directional else b.kind),
                    float(rev[e, j]), float(fwd[e, j]), float(fdv[e, j]), float(err[e, j]),
                    None if C is None else float(C[e, j]), text, location,
                    float(absd[e, j]), float(rel[e, j]), float(excess[e, j]), v,
                    float(b.left[e, j]) if kink else None, float(b.right[e, j]) if kink else None, note))
        return rows


# ---------------------------------------------------------------- points

def draw(program: Program, base: dict, n: int, rng: np.random.Generator, cost: int = 1):
    """n random points where the outputs and every claim are finite, redrawn up to a limit:
    an iterator of (point, its values or None), and the notes it leaves (filled once the
    iterator is spent).

    The first round's candidates are drawn from `rng` at once (before the checker draws its
    own directions); they are evaluated lazily, a chunk at a time that fits fd.BUDGET
    numbers (`cost`: how many one evaluation holds), and only until n are found.  A large
    input is evaluated one candidate at a time, and that evaluation is the point's values.
    """
    notes: list[str] = []
    if n <= 0:
        return iter(()), notes
    check_ids = list(program.outputs) + [c.node for c in program.claims]
    fixed = fixed_inputs(program)

    def candidates(B):
        cand = {}
        for i in program.inputs:
            shape = np.shape(base[i])
            if i in fixed:
                cand[i] = np.broadcast_to(np.asarray(base[i], dtype=float), (B,) + shape).copy()
                continue
            lo, hi = domain(program, i, base[i])
            c = rng.random((B,) + shape)            # lo + (hi - lo) * u, in place: no copies
            c *= hi - lo
            c += lo
            # an open interval: a draw exactly at an end is vanishingly rare but possible
            cand[i] = np.clip(c, np.nextafter(lo, hi), np.nextafter(hi, lo), out=c)
        return cand

    def point(cand, b):
        return {i: (cand[i][b][()] if cand[i][b].ndim == 0 else cand[i][b]) for i in program.inputs}

    chunk = max(1, fd.BUDGET // max(cost, 1))
    first = candidates(max(2 * n, 4))

    def points():
        found = tried = 0
        for r in range(REDRAW_ROUNDS):
            B = max(2 * (n - found), 4)
            cand = first if r == 0 else candidates(B)
            for lo in range(0, B, chunk):
                hi = min(B, lo + chunk)
                try:
                    if hi - lo == 1:
                        pt = point(cand, lo)
                        vals = engine.forward(program, pt)
                        usable = [(pt, vals)] if engine.all_finite([vals[i] for i in check_ids]) else []
                    else:
                        usable = _usable(program, {i: c[lo:hi] for i, c in cand.items()}, check_ids)
                        usable = [(point(cand, lo + b), None) for b in usable]
                except GradError as err:
                    notes.append(f"random points could not be evaluated: {err.message}")
                    return
                for pt, vals in usable:
                    yield pt, vals
                    found += 1
                    if found >= n:
                        return
            tried += B
        notes.append(f"only {found} of {n} random points were usable: the function or a claim "
                     f"is undefined (NaN or infinite) at the other {tried - found} points drawn")

    return points(), notes


def _usable(program, cand: dict, check_ids) -> np.ndarray:
    """Which of a batch of candidate points give finite outputs and claims."""
    B = len(next(iter(cand.values())))
    vals = engine.forward(program, cand, nb=1)
    ok = np.ones(B, dtype=bool)
    with np.errstate(all="ignore"):
        for i in check_ids:
            v = np.broadcast_to(np.asarray(vals[i], dtype=float), (B,) + np.shape(vals[i])[1:])
            ok &= np.isfinite(v).reshape(B, -1).all(axis=1)
    return np.flatnonzero(ok)


# ---------------------------------------------------------------- entry points

FD_EVALUATIONS = {"richardson": 20, "central": 4, "forward": 2}   # per input element (docs/check.md)
FAST_PASSES = 10             # a directional check: reverse, tangent, a few FD evaluations, AD's jitter


def require(program: Program, base: dict, limits: Limits, fast: bool, method: str, random: int) -> None:
    """Refuse, before anything runs, a check that would pass `limits`: every value within
    `limits.elements`, and its passes over the graph within `limits.work` -- per point, for
    each output (and each claim d(u)/d(v)), a reverse pass per element of u, a tangent pass
    and the method's finite differences per element of the inputs (a fixed few for --fast),
    and the random candidates' evaluations."""
    cost = budget.measure(program, base, limits)
    fixed = fixed_inputs(program)
    n = sum(cost.size(i) for i in program.inputs if i not in fixed)
    per = FD_EVALUATIONS[method]
    groups = [(o, n) for o in program.outputs]
    groups += [(c.u, cost.size(c.v)) for c in program.claims if c.kind == "total"]
    per_point = sum(FAST_PASSES if fast else cost.size(u) + k * (1 + per) for u, k in groups)
    per_point += sum(cost.size(c.v) for c in program.claims if c.kind == "partial")
    passes = 1 + (1 + random) * per_point + 2 * random
    budget.require(program, base, limits, passes, f"checking at {1 + random} point{'s' if random else ''}")


def check_program(program: Program, base: dict, *, random: int = RANDOM, seed: int = 0,
                  method: str | None = None, fast: bool | None = None, rtol: float = RTOL,
                  atol: float = ATOL, label: str = "default", limits: Limits | None = FILE) -> CheckReport:
    if rtol < 0 or atol < 0:
        raise GradError("--rtol and --atol must be non-negative")
    if method is not None and method not in fd.METHODS:
        raise GradError(f"--method {method}: choose one of {', '.join(fd.METHODS)}")
    elements = sum(int(np.size(base[i])) for i in program.inputs)
    if fast is None:
        fast = elements > FAST_THRESHOLD
    if method is None:
        method = "central" if fast or elements > RICHARDSON_MAX else "richardson"
    if limits is not None:
        require(program, base, limits, fast, method, random)
    report = CheckReport(program.source.name, "fast" if fast else "full", method, rtol, atol,
                         elements)
    rng = np.random.default_rng(seed)
    vals = engine.forward(program, base)
    engine.require_finite(program, vals, program.outputs)
    randoms, notes = draw(program, base, random, rng, point_cost(vals))
    checker = Checker(program, report.mode, method, rtol, atol, rng)
    points = itertools.chain([(label, base, vals)],
                             ((f"random {k + 1}", pt, v) for k, (pt, v) in enumerate(randoms)))
    del vals          # one point's values alive at a time (a large input's are large)
    for p, (lab, pt, vals) in enumerate(points):
        if vals is None:
            vals = engine.forward(program, pt)
        report.points.append(Point(lab, {program.nodes[i].name: pt[i] for i in program.inputs}))
        for block in checker.blocks(pt, vals):
            report.rows.extend(checker.rows(block, p))
        del vals
    report.notes.extend(notes)
    return report


__all__ = ["CheckReport", "Row", "Point", "check_program", "cut"]
