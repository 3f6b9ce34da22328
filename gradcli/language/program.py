"""Syntax tree to graph IR: a flat, topologically ordered list of nodes (SSA).

Every node has a name (the file's, or a generated `_N` for a sub-expression)
and the source span it came from.  `def`s are expanded inline where they are
called; sub-expressions of constants only are folded to constants.  Claims
(`d(u)/d(v) = ...`, `partial(u, v) = ...`) are lowered after the main graph,
into nodes of their own, so evaluating the program also evaluates them.
Nothing here recurses: lowering runs on an explicit work stack.
"""

from __future__ import annotations

import gc
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np

from ..errors import GradError, Source, did_you_mean
from ..autodiff.ops import CONSTANTS, FUNCTIONS, INFIX, INITIALISERS, OPS, Op, OpError, size
from .limits import FILE, PER_OP, Limits, OverBudget, initialiser_shape, too_many_elements
from .syntax import name_hint, normal_name, parse, read_source
# Functions the language spells otherwise (a hint for an unknown function).
SPELLED = {"ln": "the natural log is log(...)", "cot": "write cos(x)/sin(x)", "sec": "write 1/cos(x)",
           "csc": "write 1/sin(x)", "pow": "write a**b", "sqr": "write square(x) or x**2",
           "outer": "the outer product u vᵀ of two vectors is transpose([u]) @ [v]",
           "arctan": "there is no arctan: write the derivative, 1/(1 + x**2)",
           "d": "a derivative cannot be used inside a formula: write the formula (or the number) itself",
           "partial": "a partial cannot be used inside a formula: write the formula (or the number) itself"}


class Node:
    """One node: `id`, `name` (the file's, or a generated `_N`), `kind` (input, const, op),
    `op` and its `args` (node ids) and `params`, the source span `start`-`end`, a const's
    `value`, and whether the name was `generated`.

    Stored lean, as a large file has millions of them: the arguments in two slots rather
    than a tuple, the span as one packed int, a generated name as its number N."""

    __slots__ = ("id", "_name", "kind", "op", "_a", "_b", "params", "_span", "value")

    def __init__(self, id, name, kind, op=None, args=(), params=(), start=0, end=0,
                 value=None, generated=False):
        self.id, self.kind, self.op, self.params, self.value = id, kind, op, params, value
        self.args = args
        self._span = start << 32 | end
        if generated and type(name) is str and name[1:].isdigit() and name[1:2] != "0":
            name = int(name[1:])
        self._name = name                  # a str, or N for the generated name _N

    @property
    def name(self) -> str:
        n = self._name
        return n if type(n) is str else f"_{n}"

    @name.setter
    def name(self, value: str):
        self._name = value

    @property
    def generated(self) -> bool:
        return type(self._name) is int

    @generated.setter
    def generated(self, value: bool):
        if value != self.generated:
            if value:
                raise ValueError("a node's name becomes generated only when it is made")
            self._name = self.name

    @property
    def args(self) -> tuple:
        a = self._a
        if a is None:
            return ()
        if type(a) is tuple:
            return a
        b = self._b
        return (a,) if b is None else (a, b)

    @args.setter
    def args(self, args):
        n = len(args)
        self._a, self._b = (args[0], None) if n == 1 else (args[0], args[1]) if n == 2 else \
            (None, None) if n == 0 else (tuple(args), None)

    @property
    def start(self) -> int:
        return self._span >> 32

    @start.setter
    def start(self, value: int):
        self._span = value << 32 | (self._span & 0xFFFFFFFF)

    @property
    def end(self) -> int:
        return self._span & 0xFFFFFFFF

    @end.setter
    def end(self, value: int):
        self._span = (self._span >> 32) << 32 | value

    @classmethod
    def generated_op(cls, id: int, number: int, op, a, b, start: int, end: int) -> "Node":
        """Node(id, number, "op", op, args, (), start, end) faster: args (a,) if b is None
        else (a, b) (the parser's hot path)."""
        node = cls.__new__(cls)
        node.id, node._name, node.kind, node.op, node._a, node._b = id, number, "op", op, a, b
        node.params, node._span, node.value = (), start << 32 | end, None
        return node

    def __repr__(self):  # pragma: no cover - debugging aid
        what = self.op.name if self.op else self.kind
        return f"<{self.id} {self.name} = {what}{self.args}>"


@dataclass
class Claim:
    kind: str           # "total" for d(u)/d(v), "partial" for partial(u, v)
    u: int
    v: int
    node: int           # the node holding the claimed value
    start: int
    end: int

    def text(self, program: "Program") -> str:
        u, v = program.nodes[self.u].name, program.nodes[self.v].name
        return f"d({u})/d({v})" if self.kind == "total" else f"partial({u}, {v})"


@dataclass
class Program:
    source: Source
    nodes: list[Node]
    n_main: int                       # nodes[n_main:] compute claims only
    names: dict[str, int]
    inputs: list[int]
    outputs: list[int]
    defaults: dict[int, np.ndarray | float] = field(default_factory=dict)
    domains: dict[int, tuple] = field(default_factory=dict)
    claims: list[Claim] = field(default_factory=list)

    def describe(self, nid: int) -> str:
        """A node as the file shows it: its name, or a sub-expression's text in backticks
        (outer brackets and runs of spaces dropped, cut at 40 characters), never `_N`."""
        node = self.nodes[nid]
        if not node.generated:
            return node.name
        text = " ".join(self.source.text[node.start:node.end].split())
        while text.startswith("(") and text.endswith(")") and _balanced(text[1:-1]):
            text = text[1:-1].strip()
        return f"`{text if len(text) <= 40 else text[:39] + '…'}`"

    def error(self, message: str, node_or_span, hint: str | None = None) -> GradError:
        if isinstance(node_or_span, Node):
            start, end = node_or_span.start, node_or_span.end
        else:
            start, end = node_or_span
        return GradError(message, self.source, start, end, hint)


class Const:
    """A value known while building; becomes a const node only when an op uses it."""

    __slots__ = ("value", "start", "end", "name")

    def __init__(self, value, start, end, name=None):
        self.value, self.start, self.end, self.name = value, start, end, name


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        depth += ch in "(["
        depth -= ch in ")]"
        if depth < 0:
            return False
    return depth == 0


def _children(ex):
    kind = ex[0]
    if kind == "bin":
        return (ex[4], ex[5])
    if kind in ("neg", "attr"):
        return (ex[3],)
    if kind == "call" or kind == "tensor":
        return ex[4] if kind == "call" else ex[3]
    return ()


class Builder:
    """Statements to a Program, within `limits` (nodes; the elements of each constant it makes;
    the work of folding constant sub-expressions): the same Builder for every command, a
    file's limits or an answer's (language/limits.py)."""

    def __init__(self, source: Source, seed: int = 0, limits: Limits = FILE):
        self.source = source
        self.limits = limits
        self.folded = 0                          # element-operations spent folding constants
        self.rng = np.random.default_rng(seed)
        self.nodes: list[Node] = []
        self.names: dict[str, int | Const] = {}
        self.where: dict[str, int] = {}          # name -> offset of its definition
        self.defs: dict[str, tuple] = {}
        self.materialised: dict[str, int] = {}   # named constants made into nodes
        self.taken: set[str] = set()
        self.counter = 0
        self.const_names = False                 # has a `const` been defined

    # ------------------------------------------------------------ helpers
    def error(self, message, start, end=None, hint=None):
        return GradError(message, self.source, start, end, hint)

    def gensym(self) -> int:
        """N of the next generated name _N that the file does not use itself."""
        while True:
            self.counter += 1
            if f"_{self.counter}" not in self.taken:
                return self.counter

    def add(self, kind, name=None, op=None, args=(), params=(), start=0, end=0, value=None):
        if len(self.nodes) >= self.limits.nodes:
            raise self.too_many_nodes(start, end)
        nid = len(self.nodes)
        if name is None:
            self.nodes.append(Node(nid, self.gensym(), kind, op, args, params, start, end, value))
        else:
            self.nodes.append(Node(nid, name, kind, op, args, params, start, end, value, False))
        return nid

    def too_many_nodes(self, start=0, end=None) -> OverBudget:
        limits = self.limits
        return OverBudget(f"the graph of {limits.who} grows beyond {limits.nodes:,} nodes", self.source,
                        start, end, hint="a def that calls other defs expands exponentially; "
                        + limits.hint("--max-nodes"))

    def node_of(self, item) -> int:
        if type(item) is not Const:
            return item
        if item.name is not None:
            if item.name not in self.materialised:
                self.materialised[item.name] = self.add("const", item.name, start=item.start,
                                                        end=item.end, value=item.value)
            return self.materialised[item.name]
        return self.add("const", start=item.start, end=item.end, value=item.value)

    def define(self, name, start, end, item):
        text = name[0]
        if text in self.names:
            line, col = self.source.line_col(self.where.get(text, name[1]))
            raise self.error(f"'{text}' is already defined (line {line}, column {col})", name[1], name[2],
                             hint="each name is assigned once; choose a new name")
        self.names[text] = item
        self.where[text] = name[1]
        if type(item) is Const:
            self.const_names = True

    # ------------------------------------------------------------ expressions
    def resolve(self, ex, env):
        name = ex[3]
        if env is None:
            item = self.names.get(name)
            if item is not None:
                return item
        elif name in env:
            return env[name]
        if name in self.names:
            return self.names[name]
        if name in CONSTANTS:
            return Const(np.float64(CONSTANTS[name]), ex[1], ex[2], name)
        if name in self.defs or name in FUNCTIONS or name in INITIALISERS:
            raise self.error(f"'{name}' is a function: call it as {name}(...)", ex[1], ex[2])
        visible = list(self.names) + list(CONSTANTS) + list(env or ())
        raise self.error(f"undefined name '{name}'", ex[1], ex[2],
                         hint=name_hint(name) or did_you_mean(name, visible))

    def lower(self, root, init: bool = False):
        """Lower an expression; return a node id or a Const."""
        work = [(root, None, (), False)]
        out: list = []
        resolve = self.resolve
        while work:
            ex, env, chain, ready = work.pop()
            kind = ex[0]
            if kind == "num":
                out.append(Const(np.float64(ex[3]), ex[1], ex[2]))
                continue
            if kind == "name":
                out.append(resolve(ex, env))
                continue
            kids = _children(ex)
            if not ready:
                leaves = []
                for child in kids:
                    if child[0] == "name":
                        leaves.append(resolve(child, env))
                    elif child[0] == "num":
                        leaves.append(Const(np.float64(child[3]), child[1], child[2]))
                    else:
                        break
                else:  # every argument is a name or a number: no need to stack them
                    if kind == "call" and ex[3] in self.defs:
                        out.extend(leaves)
                        work.append((ex, env, chain, True))
                    else:
                        out.append(self.apply(ex, leaves, init))
                    continue
                work.append((ex, env, chain, True))
                for child in reversed(kids):
                    work.append((child, env, chain, False))
                continue
            n = len(kids)
            args = out[len(out) - n:]
            del out[len(out) - n:]
            if kind == "call" and ex[3] in self.defs:
                params, body, _ = self.defs[ex[3]]
                if len(params) != n:
                    raise self.error(f"{ex[3]}() takes {len(params)} argument(s), given {n}", ex[1], ex[2])
                if ex[3] in chain:
                    path = " -> ".join(chain[chain.index(ex[3]):] + (ex[3],))
                    raise self.error(f"recursive def: {path}", ex[1], ex[2],
                                     hint="a def is expanded inline, so it cannot call itself")
                work.append((body, dict(zip(params, args)), chain + (ex[3],), False))
                continue
            out.append(self.apply(ex, args, init))
        return out[0]

    def apply(self, ex, args, init):
        kind, start, end = ex[0], ex[1], ex[2]
        params = ()
        if kind == "bin":
            op = OPS[INFIX[ex[3]]]
        elif kind == "neg":
            op = OPS["neg"]
        elif kind == "attr":
            if ex[4] != "T":
                raise self.error(f"unknown attribute '.{ex[4]}'", start, end, hint="the only attribute is .T")
            op = OPS["transpose"]
        elif kind == "tensor":
            if all(isinstance(a, Const) for a in args):
                shapes = {np.shape(a.value) for a in args}
                if len(shapes) > 1:
                    raise self.error("the rows of this tensor have different shapes: "
                                     + ", ".join(str(s) for s in sorted(shapes)), start, end)
                if not args:
                    raise self.error("an empty tensor []", start, end)
                if np.ndim(args[0].value) >= 31:
                    raise self.error("a tensor literal nested more than 32 deep", start, end)
                return Const(np.array([a.value for a in args], dtype=float), start, end)
            op = OPS["stack"]
        else:  # call
            fname = ex[3]
            if fname in INITIALISERS:
                return self.initialise(ex, args, init)
            table = FUNCTIONS.get(fname)
            if table is None:
                hint = SPELLED.get(fname) or did_you_mean(fname, list(FUNCTIONS) + list(self.defs)
                                                          + list(INITIALISERS))
                raise self.error(f"unknown function '{fname}'", start, start + len(fname),
                                 hint=hint or "see the README for the functions gradcli knows")
            if len(args) not in table:
                want = " or ".join(str(k) for k in sorted(table))
                raise self.error(f"{fname}() takes {want} argument(s), given {len(args)}", start, end)
            op = OPS[table[len(args)]]
            if op.params:
                k = len(op.params)
                static, args = args[-k:], args[:-k]
                params = tuple(self.integer(a, fname, ex) for a in static)
        consts = 0
        for a in args:
            if type(a) is Const:
                consts += 1
        if consts == len(args):
            return self.fold(op, args, params, start, end)
        ids = tuple(self.node_of(a) for a in args) if consts else tuple(args)
        return self.add("op", op=op, args=ids, params=params, start=start, end=end)

    def integer(self, item, fname, ex):
        if (not isinstance(item, Const) or np.ndim(item.value) or not np.isfinite(item.value)
                or item.value != int(item.value)):
            start, end = (item.start, item.end) if isinstance(item, Const) else (ex[1], ex[2])
            raise self.error(f"{fname}() needs a whole number here, written in the file", start, end)
        return int(item.value)

    def fold(self, op: Op, args, params, start, end):
        """A constant sub-expression computed now, once its shape (from the op table) and its
        cost are known to be within the limits."""
        from ..autodiff.engine import apply_op

        shapes = [np.shape(a.value) for a in args]
        try:
            shape = op.shape(shapes, params)
        except OpError as err:
            raise self.error(f"{err.title} in `{self.source.text[start:end]}`: {err}", start, end) from None
        n = size(shape)
        if n > self.limits.elements:
            raise too_many_elements(self.limits, self.source.text[start:end], shape, n, self.source,
                                    start, end, verb="would be")
        self.folded += op.cost(shapes, shape) + PER_OP
        if self.folded > self.limits.work:
            raise OverBudget(f"computing the constants up to `{self.source.text[start:end]}` would take "
                           f"{self.folded:,} element-operations; the limit for {self.limits.who} is "
                           f"{self.limits.work:,}", self.source, start, end, hint=self.limits.hint("--max-work"))
        try:
            with np.errstate(all="ignore"):
                value = apply_op(op, [a.value for a in args], params)
        except OpError as err:
            raise self.error(f"{err.title} in `{self.source.text[start:end]}`: {err}", start, end) from None
        return Const(value, start, end)

    def initialise(self, ex, args, init):
        fname, start, end = ex[3], ex[1], ex[2]
        if not init:
            raise self.error(f"{fname}() can only give the value of an input or a const", start, end,
                             hint=f"write `input W = {fname}(...)` or `const C = {fname}(...)`")
        dims = []
        for a in args:
            n = self.integer(a, fname, ex)
            if n < 0:
                raise self.error(f"{fname}(): dimension {n} is negative", a.start, a.end)
            dims.append(n)
        if fname == "eye" and len(dims) != 1:
            raise self.error("eye(n) takes one argument", start, end)
        if len(dims) > 32:
            raise self.error(f"{fname}(): at most 32 dimensions", start, end)
        shape = initialiser_shape(fname, dims)
        n = size(shape)
        if n > self.limits.elements or any(d > self.limits.elements for d in dims):
            raise too_many_elements(self.limits, self.source.text[start:end], shape, n, self.source, start, end)
        return Const(INITIALISERS[fname](self.rng, *dims), start, end)

    def attempt(self, lower):
        """Run lower(); on an error, forget the nodes it added (the statement never happened).
        A limit of the whole graph (OverBudget) is raised as it is."""
        mark = len(self.nodes)
        try:
            return lower()
        except OverBudget:
            raise
        except GradError:
            del self.nodes[mark:]
            for k in [k for k, v in self.materialised.items() if v >= mark]:
                del self.materialised[k]
            raise
        except RecursionError:
            del self.nodes[mark:]
            raise GradError("this line is nested too deeply", self.source, 0) from None

    def constant(self, expr, what):
        item = self.lower(expr, init=True)
        if not isinstance(item, Const):
            raise self.error(f"{what} must be a constant: numbers, constants and initialisers only",
                             expr[1], expr[2])
        return item.value

    # ------------------------------------------------------------ statements
    def build(self, statements) -> Program:
        self.begin(statements)
        for st in statements:
            self.statement(st)
        return self.finish()

    def begin(self, statements) -> None:
        """What lowering needs from the whole file first: the names it assigns (generated
        names skip them) and its defs (callable before their line)."""
        src = self.source
        if not statements:
            raise GradError("empty file: nothing to evaluate", src, 0,
                            hint="declare an input and assign a node, e.g. `input x = 1` then `y = x*x`")
        for st in statements:
            if st[0] in ("input", "const", "assign"):
                self.taken.add(st[3][0])
            elif st[0] == "def":
                name = st[3]
                if name[0] in self.defs:
                    raise self.error(f"def '{name[0]}' is already defined", name[1], name[2])
                if name[0] in FUNCTIONS or name[0] in INITIALISERS:
                    raise self.error(f"'{name[0]}' is a built-in function; choose another name",
                                     name[1], name[2])
                params = [p[0] for p in st[4]]
                if len(set(params)) != len(params):
                    raise self.error("a def's parameters must have different names", st[1], st[2])
                self.defs[name[0]] = (params, st[5], st)
        self.reset()

    def reset(self) -> None:
        """The statements' results so far: none."""
        self.inputs, self.defaults, self.domains, self.outputs = [], {}, {}, []
        self.last_assign = None
        self.claims = []

    def statement(self, st) -> None:
        """One statement, in file order (claims are kept for finish())."""
        kind = st[0]
        if kind == "input":
            name, domain, default = st[3], st[4], st[5]
            value = None if default is None else self.constant(default, "an input's default")
            nid = self.add("input", name[0], start=st[1], end=st[2])
            self.define(name, st[1], st[2], nid)
            self.inputs.append(nid)
            if value is not None:
                self.defaults[nid] = value
            if domain is not None:
                lo = self.constant(domain[0], "the domain's lower end")
                hi = self.constant(domain[1], "the domain's upper end")
                span = (domain[0][1], domain[1][2])
                try:
                    shape = np.broadcast_shapes(np.shape(lo), np.shape(hi), np.shape(value))
                except ValueError:
                    raise self.error("the domain's ends do not fit the input's shape "
                                     f"{np.shape(value)}", *span) from None
                if value is not None and shape != np.shape(value):
                    raise self.error(f"the domain's ends do not fit the input's shape {np.shape(value)}",
                                     *span)
                if not np.all(np.asarray(lo) < np.asarray(hi)):
                    raise self.error("the domain (LO, HI) needs LO < HI", *span)
                if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
                    raise self.error("the domain (LO, HI) must be finite", *span)
                self.domains[nid] = (lo, hi)
        elif kind == "const":
            value = self.constant(st[4], "a const")
            self.define(st[3], st[1], st[2], Const(value, st[1], st[2], st[3][0]))
        elif kind == "assign":
            mark = len(self.nodes)
            self.assign(st[3], st[1], st[2], self.lower(st[4]), mark)
        elif kind == "output":
            for name in st[3]:
                nid = self.names.get(name[0])
                if nid is None:
                    raise self.error(f"output '{name[0]}' is not defined", name[1], name[2],
                                     hint=did_you_mean(name[0], self.names))
                if isinstance(nid, Const) or self.nodes[nid].kind == "const":
                    raise self.error(f"output '{name[0]}' is a constant: nothing to differentiate",
                                     name[1], name[2])
                if nid not in self.outputs:
                    self.outputs.append(nid)
        elif kind in ("claim_total", "claim_partial"):
            self.claims.append(st)

    def assign(self, name, start, end, item, mark) -> None:
        """`name = EXPR` once EXPR is lowered to `item` (nodes from `mark` on are its own)."""
        text = name[0]
        if isinstance(item, Const):
            item = Const(item.value, start, end, text)
            item = self.node_of(item)
        elif item >= mark and self.nodes[item].generated:
            self.nodes[item].name = text
        else:
            item = self.add("op", text, OPS["id"], (item,), start=start, end=end)
        self.define(name, start, end, item)
        self.last_assign = item

    def finish(self) -> Program:
        src = self.source
        if not self.inputs:
            raise GradError("nothing to differentiate: the file declares no input", src, 0,
                            hint="declare one with `input x = 1`")
        outputs = self.outputs
        if not outputs:
            if self.last_assign is None:
                raise GradError("nothing to differentiate: the file assigns no node", src, 0,
                                hint="add a node such as `y = x*x`")
            outputs = [self.last_assign]
        if self.const_names or self.materialised:
            names = {k: v for k, v in self.names.items() if not isinstance(v, Const)}
            names.update(self.materialised)  # named constants that some op uses
        else:
            names = self.names               # node ids only (a large file: no copy)
        program = Program(src, self.nodes, len(self.nodes), names, self.inputs, outputs, self.defaults,
                          self.domains)
        for st in self.claims:
            program.claims.append(self.claim(st, program))
        return program

    def claim(self, st, program) -> Claim:
        kind = "total" if st[0] == "claim_total" else "partial"
        ids = []
        for name in (st[3], st[4]):
            item = self.names.get(name[0])
            if item is None:
                raise self.error(f"undefined name '{name[0]}' in a claim", name[1], name[2],
                                 hint=did_you_mean(name[0], self.names))
            if isinstance(item, Const) or self.nodes[item].kind == "const":
                raise self.error(f"'{name[0]}' is a constant: it has no derivative", name[1], name[2])
            ids.append(item)
        u, v = ids
        if kind == "partial":
            node = self.nodes[u]
            if node.kind != "op" or v not in node.args:
                args = ", ".join(self.nodes[a].name for a in node.args) if node.kind == "op" else ""
                what = f"{node.name} = {node.op.symbol}({args})" if node.kind == "op" else f"{node.name} is an input"
                raise self.error(f"no edge {st[4][0]} -> {st[3][0]}: {what}", st[1], st[2],
                                 hint="partial(u, v) is about an argument v of the node u")
        item = self.lower(st[5])
        nid = self.node_of(item)
        return Claim(kind, u, v, nid, st[1], st[2])


def fixed_inputs(program: Program) -> set[int]:
    """Inputs used only where no derivative flows (index's integer index): random points
    (check, grade) hold them at their value, and check does not differentiate w.r.t. them."""
    uses: dict[int, list[bool]] = {i: [] for i in program.inputs}
    for node in program.nodes[: program.n_main]:
        if node.kind == "op":
            for k, a in enumerate(node.args):
                if a in uses:
                    uses[a].append(node.op.differentiable(k))
    return {i for i, u in uses.items() if u and not any(u)}


def domain(program: Program, i: int, value) -> tuple[np.ndarray, np.ndarray]:
    """Where random points of input i are drawn (check --random, grade), elementwise in the
    shape of `value`: its `in (LO, HI)`, else (v - 1, v + 1) around its value v at the
    point being checked (its default, or --at)."""
    v = np.asarray(value, dtype=float)
    if i in program.domains:
        lo, hi = program.domains[i]
        try:
            return (np.broadcast_to(np.asarray(lo, float), v.shape),
                    np.broadcast_to(np.asarray(hi, float), v.shape))
        except ValueError:
            node = program.nodes[i]
            raise program.error(f"input '{node.name}' has the shape {v.shape} at this point, which its "
                                "domain's ends do not fit", node, hint="give --at a value of the "
                                "declared shape") from None
    return v - 1.0, v + 1.0


def _input_id(program: Program, name: str, what: str) -> int:
    nid = program.names.get(name)
    if nid is None or program.nodes[nid].kind != "input":
        inputs = [program.nodes[i].name for i in program.inputs]
        raise GradError(f"{what}: no input named '{name}' in {program.source.name}",
                        hint=did_you_mean(name, inputs) or "inputs: " + ", ".join(inputs))
    return nid


def expression_value(text: str, name: str, seed: int = 0):
    """The value of `--at NAME=EXPR`'s EXPR: numbers, constants, tensor literals, initialisers."""
    src = Source(f"--at {name}", text)
    return Builder(src, seed).constant(parse(src, start="expr_only"), f"--at {name}")


def bind(program: Program, at=(), seed: int = 0, values: dict | None = None) -> dict:
    """The point: each input's value from `--at NAME=EXPR`, from `values` ({name: number or
    array}, the Python API's) or its default; {input id: value}."""
    given = {}
    for item in at:
        name, eq, text = item.partition("=")
        name = normal_name(name.strip())
        if not eq or not name:
            raise GradError(f"--at {item!r}: write NAME=EXPR, e.g. --at x=1.5")
        given[_input_id(program, name, f"--at {name}")] = expression_value(text, name, seed)
    for name, value in (values or {}).items():
        given[_input_id(program, normal_name(name) if isinstance(name, str) else name, f"at {name!r}")] = value
    point = {}
    for nid in program.inputs:
        value = given.get(nid, program.defaults.get(nid))
        node = program.nodes[nid]
        if value is None:
            raise program.error(f"input '{node.name}' has no value", node,
                                hint=f"give one with --at {node.name}=VALUE, or a default: "
                                     f"input {node.name} = VALUE")
        value = np.asarray(value, dtype=float)
        point[nid] = float(value) if value.ndim == 0 else value
    return point


@contextmanager
def no_gc():
    """Parsing and building make millions of small tuples and no cycles: the cyclic
    collector would rescan them again and again (twice the time on large files)."""
    was = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


def build(source: Source, seed: int = 0, limits: Limits = FILE) -> Program:
    """The program of a file: the one-pass fast path (language/fast.py) where it can promise
    the same result, else parse then build (which also reports every error)."""
    from . import fast

    with no_gc():
        program = fast.build(source, seed, limits)
        if program is None:
            program = Builder(source, seed, limits).build(parse(source))
    return program


def load(path: str, seed: int = 0, limits: Limits = FILE) -> Program:
    return build(read_source(path), seed, limits)
