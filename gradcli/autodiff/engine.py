"""Evaluation, reverse mode and forward mode: loops over the program's node list.

One point: values are floats (Python floats; numpy scalars where numpy made them)
or numpy arrays.  Many points (`nb=1`): every value carries a leading batch axis (B
for what depends on an input, 1 for constants), so a batch of points is one pass of
numpy calls.  Elementwise arguments are aligned here (a per-point scalar of shape
(B,) against a per-point vector becomes (B, 1)); shape-aware ops get `nb` and
handle the axis themselves.

A missing adjoint or tangent is `None` (a symbolic zero), never an array of zeros.

Three ways to run one point, chosen per call:
* compiled (compile.py): straight-line code made from the op table's templates,
  once a kernel has been wanted often enough to pay for compiling it (or is cached);
* the scalar interpreter: when every value is a scalar, floats and `math` through
  rules made from the same templates, with no numpy call;
* the numpy interpreter: the op table's rules.  It is the reference: the other two
  give up on any exception (`math.log(0)` raises where numpy gives -inf) and this
  one runs instead, so values, NaNs and errors are always numpy's.
"""

from __future__ import annotations

import math
import operator

import numpy as np

from ..errors import GradError, NumericError
from ..numbers import nested, num, shape_words
from . import compile as jit
from .ops import EmptyError, Op, OpError, OutOfMemory, ShapeError, _sum_to


# ---------------------------------------------------------------- one op

def _align(args):
    """Batch mode: give elementwise arguments the same number of per-point axes."""
    nd = max(np.ndim(a) for a in args)
    return [a if np.ndim(a) == nd else np.reshape(a, np.shape(a)[:1] + (1,) * (nd - np.ndim(a))
                                                   + np.shape(a)[1:]) for a in args]


def apply_op(op: Op, args, params=(), nb: int = 0):
    """Forward of one op; an OpError (ops.py: ShapeError, IndexRangeError, OutOfMemory) when it
    cannot be computed."""
    try:
        if op.elementwise:
            if nb and len(args) > 1:
                args = _align(args)
            return op.fwd(*args)
        return op.fwd(*args, *params, nb=nb)
    except OpError:
        raise
    except MemoryError:
        raise OutOfMemory("the result does not fit in this machine's memory") from None
    except (ValueError, RuntimeError, TypeError, IndexError) as err:  # numpy refusing what the rules let pass
        raise _refused(op, args, params, nb, err) from None


def _refused(op: Op, args, params, nb, err) -> OpError:
    """The op's own shape rule says why, if it can; else numpy's reason, labelled as such."""
    try:
        op.shape([np.shape(a)[nb:] for a in args], params)
    except OpError as why:
        return why
    except Exception:  # noqa: BLE001  (a rule that cannot read these shapes: numpy's reason below)
        pass
    return OpError(f"numpy refused it ({str(err).splitlines()[0] if str(err) else type(err).__name__})")


def _np(x):
    """A Python float as numpy's: the op table's numpy rules want 1/0 = inf, not an exception."""
    return np.float64(x) if type(x) is float else x


def local_partial(op: Op, k: int, ans, args):
    """The local partial of an elementwise op w.r.t. argument k (number or array)."""
    p = op.partials[k]
    return p(_np(ans), *map(_np, args)) if callable(p) else p


def vjp(op: Op, k, g, ans, args, params=(), nb=0, careful=False):
    """g's contribution to the adjoint of argument k of one op (shaped like that argument)."""
    return _vjp(op, k, g, _np(ans), list(map(_np, args)), params, nb, careful)


def jvp(op: Op, k, t, ans, args, params=(), nb=0, careful=False):
    """The contribution of argument k's tangent t to the op's tangent (shaped like the op)."""
    return _jvp(op, k, t, _np(ans), list(map(_np, args)), params, nb, careful)


def times(g, p):
    """g · p for an elementwise partial p and the adjoint or tangent g flowing through it, where
    an exact zero on either side gives 0, not 0·∞ = NaN: a derivative that does not flow
    (an element the seed leaves out, a partial that is 0) stops there, in both modes alike.
    (Asked for on tensor programs only: on a graph of floats both modes keep IEEE's NaN.)"""
    c = g * p
    if np.ndim(c) == 0:
        return np.float64(0.0) if g == 0 or p == 0 else c
    return np.where((np.asarray(g) == 0) | (np.asarray(p) == 0), 0.0, c)


SPLIT = 64    # `careful`: a seed of at most this many nonzero entries is applied one entry at a time


def _linear(rule, t, careful):
    """rule(t) for a rule linear in t (a VJP or JVP of an op that is not elementwise).
    `careful`: as the sum over t's nonzero entries of each entry times rule(its unit vector),
    through `times` -- so an entry of t that is 0 contributes nothing even where the op's
    values are not finite (a matmul's 0 · NaN), and an entry of the op's local Jacobian that is
    0 stops an infinite one (softmax's s_j = 0 against t_j = ∞)."""
    if not careful:
        return rule(t)
    t = np.asarray(t, dtype=float)
    nonzero = t != 0
    count = int(np.count_nonzero(nonzero))
    if count > SPLIT:                         # too many to split: the finite part, then the rest
        bad = ~np.isfinite(t)
        if not bad.any() or np.count_nonzero(bad) > SPLIT:
            return rule(t)
        out, nonzero = rule(np.where(bad, 0.0, t)), bad
    else:
        out = None
    for idx in zip(*np.nonzero(nonzero)) if t.ndim else ([()] if count else []):
        unit = np.zeros(t.shape)
        unit[idx] = 1.0
        part = times(np.asarray(rule(unit[()] if not t.ndim else unit), dtype=float), t[idx])
        out = part if out is None else out + part
    if out is None:                           # t is 0: so is its image
        out = np.zeros(np.shape(rule(np.zeros(t.shape)[()] if not t.ndim else np.zeros(t.shape))))
    return out


def _vjp(op: Op, k, g, ans, args, params=(), nb=0, careful=False):
    """vjp on values that are numpy's already (the interpreter's loops); `careful`: elementwise
    products by `times` (the loops run without it first, and again with it where the
    derivatives they give are not finite)."""
    if op.elementwise:
        shape = np.shape(args[k])
        if nb and len(args) > 1:
            args = _align(args)
        p = op.partials[k]
        c = (times(g, p(ans, *args)) if careful else g * p(ans, *args)) if callable(p) else \
            (g if p == 1 else g * p)
        if np.shape(c) != shape:
            c = _sum_to(np.asarray(c), np.shape(args[k])).reshape(shape)
        return c
    rule = op.vjp_rule(k)         # the op table's VJP rules give their argument's shape
    return _linear(lambda g: rule(g, ans, *args, *params, nb=nb), g, careful)


def _jvp(op: Op, k, t, ans, args, params=(), nb=0, careful=False):
    if op.elementwise:
        if nb and len(args) > 1:
            args = _align(args)
            t = _align([t, ans])[0] if np.ndim(t) < np.ndim(ans) else t
        p = op.partials[k]
        c = (times(t, p(ans, *args)) if careful else t * p(ans, *args)) if callable(p) else \
            (t if p == 1 else t * p)
        if np.shape(c) != np.shape(ans):
            c = np.broadcast_to(c, np.shape(ans))
        return c
    rule = op.jvp_rule(k)
    return _linear(lambda t: rule(t, ans, *args, *params, nb=nb), t, careful)


# ---------------------------------------------------------------- scalar rules from the templates

ONE, NEG = "one", "neg"
BY_B, BY_A = "times b", "times a"   # the partials of a * b, which the loops apply inline
_DIRECT = {"{0} + {1}": operator.add, "{0} - {1}": operator.sub, "{0} * {1}": operator.mul,
           "{0} / {1}": operator.truediv, "-{0}": operator.neg}
_SCALAR: dict = {}


def _lambda(params: str, body: str):
    return eval(f"lambda {params}: {body}", dict(jit._BASE))  # noqa: S307  (op table templates only)


def scalar_rules(op: Op):
    """An elementwise op on floats: (forward, [VJP per argument], [JVP per argument]), made
    once from its templates, so the interpreter and the compiled code compute alike.

    A rule is ONE (pass it on), NEG (negate), or a function (g_or_t, out, *args).
    """
    rules = _SCALAR.get(op.name)
    if rules is None:
        code = op.source([()] * op.arity)
        names = ["a", "b"][: op.arity]
        args = ", ".join(names)
        fwd = _DIRECT.get(code.fwd)
        if fwd is None and code.fwd == "{0}":
            fwd = _identity
        if fwd is None:
            head = code.fwd.split("(", 1)[0]
            simple = code.fwd == f"{head}({args.replace('a', '{0}').replace('b', '{1}')})"
            fwd = jit._BASE[head] if simple and head in jit._BASE else _lambda(args, code.fwd.format(*names))
        back, tang = [], []
        for d in code.d:
            if d in ("1", "-1"):
                back.append(ONE if d == "1" else NEG)
                tang.append(ONE if d == "1" else NEG)
            elif op.arity == 2 and d in ("{1}", "{0}"):
                back.append(BY_B if d == "{1}" else BY_A)
                tang.append(BY_B if d == "{1}" else BY_A)
            else:
                body = jit._paren(d.format(*names, out="out"))
                back.append(_lambda(f"g, out, {args}", f"g * {body}"))
                tang.append(_lambda(f"t, out, {args}", f"t * {body}"))
        rules = _SCALAR[op.name] = (fwd, back, tang)
    return rules


def _identity(a):
    return a


# ---------------------------------------------------------------- plans

class Values(list):
    """The values of a program's nodes at one point, with the key of their shapes
    (None: every input is a scalar; else the inputs' shapes), computed once."""

    __slots__ = ("key", "owner", "compiled", "floats")


class Plan:
    """What the loops need from a program, computed once in one walk over its nodes.

    The single-point forward loop runs over four parallel lists (a large file has millions
    of nodes: no tuple per node is kept): `ids`, `fns` (the op's function, its params
    bound), `a`, `b` (argument ids; b = -1 for a unary op, -2 when a is a tuple of
    arguments); `ops()` yields (id, op, args, params) per op node from the nodes
    themselves (`steps`: the same as a list, kept); `live[i]`: node i depends on an input.
    """

    def __init__(self, program):
        nodes = self.nodes = program.nodes
        live = [False] * len(nodes)
        for i in program.inputs:
            live[i] = True
        ids, fns, first, second, consts = [], [], [], [], []
        self.stacks = False        # a tensor literal of nodes: scalars can make a vector
        untemplated = False        # an elementwise op without templates: no rules on floats
        shaped = False             # an op that is not elementwise (@, sum, softmax, ...)
        for n in nodes:
            kind = n.kind
            if kind == "const":
                consts.append((n.id, n.value))
                continue
            if kind != "op":
                continue
            i, op, args, params = n.id, n.op, n.args, n.params
            if op.arity < 0:
                self.stacks = True
            if not op.elementwise:
                shaped = True
            elif op.code is None:
                untemplated = True
            for a in args:
                if live[a]:
                    live[i] = True
                    break
            f = op.fwd
            if params:
                f = (lambda fn, p: (lambda *a: fn(*a, *p)))(f, params)
            ids.append(i)
            fns.append(f)
            if len(args) == 1:
                first.append(args[0])
                second.append(-1)
            elif len(args) == 2:
                first.append(args[0])
                second.append(args[1])
            else:
                first.append(args)
                second.append(-2)
        self.ids, self.fns, self.first, self.second = ids, fns, first, second
        self.consts, self.live = consts, live
        # every value is a float when the inputs are: constants are, no literal stacks them
        self.scalar_ok = not self.stacks and not untemplated and all(np.ndim(v) == 0 for _, v in consts)
        self.scalar_consts = [(i, float(v)) for i, v in consts] if self.scalar_ok else None
        self.const_values = [v for _, v in consts]
        self.scalar_const_values = [v for _, v in self.scalar_consts] if self.scalar_ok else None
        self._scalar_fns = None
        self._steps = None
        self.entries: dict = {}    # shape key -> Entry
        self.elementwise_only = not shaped and not self.stacks
        self.costs: dict = {}      # (input shapes, batch) -> limits.Cost

    def ops(self):
        """(id, op, args, params) of each op node, in order, made from the nodes as it goes."""
        return ((n.id, n.op, n.args, n.params) for n in self.nodes if n.kind == "op")

    def ops_reversed(self):
        return ((n.id, n.op, n.args, n.params) for n in reversed(self.nodes) if n.kind == "op")

    @property
    def steps(self) -> list:
        """ops() as a list, made at the first use and kept (the grader walks it often; the
        engine's own loops do not keep a tuple per node of a large file)."""
        if self._steps is None:
            self._steps = list(self.ops())
        return self._steps

    def fast(self):
        """(id, f, a, b) of each op node, in order: the forward loop's."""
        return zip(self.ids, self.fns, self.first, self.second)

    def entry(self, key) -> "Entry":
        e = self.entries.get(key)
        if e is None:
            e = self.entries[key] = Entry(key is None and self.scalar_ok)
        return e

    def scalar_fast(self):
        """As fast(), the elementwise ops' functions on floats (made from the templates)."""
        if self._scalar_fns is None:
            nodes = self.nodes
            self._scalar_fns = [scalar_rules(nodes[i].op)[0] if nodes[i].op.elementwise else f
                                for i, f in zip(self.ids, self.fns)]
        return zip(self.ids, self._scalar_fns, self.first, self.second)


class Entry:
    """One program at one shape key: its specialised reverse steps and its kernels."""

    __slots__ = ("scalar", "back", "kernels")

    def __init__(self, scalar: bool):
        self.scalar = scalar            # every value a float: the scalar rules apply
        self.back: dict = {}            # (live key, scalar rules?) -> steps
        self.kernels = jit.Kernels(scalar)


def plan(program) -> Plan:
    p = getattr(program, "_plan", None)
    if p is None:
        p = program._plan = Plan(program)
    return p


_FLOATS = {float}


def _inputs(program, p: Plan, point: dict):
    """The point's input values in program.inputs order, and their shape key (None: all
    scalars).  Scalars are Python floats when every value will be one (the scalar rules),
    numpy's float64 otherwise (numpy's rules: 1/0 is inf, not an exception)."""
    xs = list(map(point.__getitem__, program.inputs))
    if set(map(type, xs)) == _FLOATS and p.scalar_ok:
        return xs, None, True
    tensor = False
    shapes = []
    for j, v in enumerate(xs):
        t = type(v)
        if t is np.ndarray and v.ndim:
            shapes.append(v.shape)
            tensor = True
        elif t is float or isinstance(v, float) or np.ndim(v) == 0:
            xs[j] = float(v)
            shapes.append(())
        else:
            shapes.append(np.shape(v))
            tensor = True
    if not tensor and p.scalar_ok:
        return xs, None, True
    key = tuple(shapes) if tensor else None
    return [np.float64(v) if type(v) is float else v for v in xs], key, False


def _leaves(program, p: Plan, xs, key, scalar: bool) -> Values:
    """A value list holding the constants and the inputs' values `xs`."""
    vals = Values((None,))
    vals *= len(program.nodes)
    for i, v in zip(program.inputs, xs):
        vals[i] = v
    for i, value in (p.scalar_consts if scalar else p.consts):
        vals[i] = value
    vals.key, vals.owner, vals.compiled, vals.floats = key, program, False, scalar
    return vals


def _numpy_values(vals):
    """Values for numpy's rules: no Python float, whose 1/0 raises and whose `>` has no astype."""
    if not getattr(vals, "floats", False):
        return vals
    return [np.float64(v) if type(v) is float else v for v in vals]


def _key(program, vals):
    """The shape key of values computed for this program (or for another one: check's cuts)."""
    if type(vals) is Values and vals.owner is program:
        return vals.key
    shapes = tuple(np.shape(vals[i]) for i in program.inputs)
    return shapes if any(shapes) else None


# ---------------------------------------------------------------- evaluation

def _shape_error(program, node, vals, err, nb):
    """The error of an op that failed while running (ShapeError and the like, MemoryError)."""
    shapes = [np.shape(vals[a])[nb:] if vals[a] is not None else None for a in node.args]
    if isinstance(err, MemoryError):
        err = OutOfMemory("the result does not fit in this machine's memory")
    elif not isinstance(err, OpError):
        err = _refused(node.op, [vals[a] for a in node.args], node.params, nb, err)
    return op_error(program, node, shapes, err)


def op_error(program, node, shapes, err: OpError) -> GradError:
    """A GradError at the node: "shape mismatch in `M @ v`: ...", its arguments' shapes as the hint."""
    text = program.source.text[node.start:node.end]
    title = getattr(err, "title", "cannot compute")
    hint = None
    if isinstance(err, (ShapeError, EmptyError)):
        hint = "shapes " + ", ".join(f"{program.describe(a)}: {s if s is not None else '?'}"
                                     for a, s in zip(node.args, shapes))
    elif isinstance(err, OutOfMemory):
        hint = "the values are too large for this machine; try smaller tensors"
    return GradError(f"{title} in `{text}`: {err}", program.source, node.start, node.end, hint=hint)


def prepare(program, point: dict):
    """What `forward` first reads from the point: the inputs' values, their shape key (None:
    every input a scalar) and whether the float rules apply; a caller that needs the key
    before evaluating (the limits) passes the result on to forward(prepared=...)."""
    return _inputs(program, plan(program), point)


def forward(program, point: dict, nb: int = 0, guard=None, exact: bool = False, prepared=None) -> list:
    """Values of every node (and of the claims) at `point`: {input id: value}.

    With nb=1 the point's values carry a leading batch axis, and `guard(i, op,
    argvals)`, if given, is called before each op (the grader's size and time limits).
    `exact`: the numpy interpreter, whatever else would run.
    """
    if nb or guard is not None:
        return _forward_batch(program, point, nb, guard)
    p = plan(program)
    xs, key, scalar = prepared or _inputs(program, p, point)
    if exact and scalar:
        xs, scalar = [np.float64(v) for v in xs], False
    entry = p.entry(key)
    if not exact and jit.POLICY != "never":
        kernel = entry.kernels.made.get("f")
        if kernel is not None and kernel is not jit._FAILED:
            out = kernel(xs, p.scalar_const_values if scalar else p.const_values)
            if out is not None:
                vals = Values(out)
                vals.key, vals.owner, vals.compiled, vals.floats = key, program, True, True
                return vals
    vals = _leaves(program, p, xs, key, scalar)
    if scalar:
        try:
            for i, f, a, b in p.scalar_fast():
                vals[i] = f(vals[a]) if b == -1 else f(vals[a], vals[b])
        except Exception:  # noqa: BLE001  (math refusing, or a shape error: numpy's path says which)
            vals = _leaves(program, p, [np.float64(v) for v in xs], key, False)
            _forward_numpy(program, p, vals)
    else:
        _forward_numpy(program, p, vals)
    if not exact:
        entry.kernels.get("f", program, key, lambda: _source(program, entry, vals, "f"))
    return vals


def value(program, point: dict, node: int):
    """The value of one node at `point` (a single point): what a finite difference needs.
    Its compiled kernel keeps nothing else, freeing each array once no later node uses it."""
    p = plan(program)
    xs, key, scalar = _inputs(program, p, point)
    entry = p.entry(key)
    if jit.POLICY != "never":
        kernel = entry.kernels.made.get(("v", node))
        if kernel is not None and kernel is not jit._FAILED:
            out = kernel(xs, p.scalar_const_values if scalar else p.const_values)
            if out is not None:
                return out
    vals = forward(program, point)
    entry.kernels.get(("v", node), program, key, lambda: _source(program, entry, vals, "v", node))
    return vals[node]


def _source(program, entry, vals, kind, *args):
    low = jit.Lower(program, vals, entry.scalar)
    if kind == "f":
        src = jit.forward_source(low)
    elif kind == "v":
        src = jit.value_source(low, *args)
    elif kind == "b":
        src = jit.backward_source(low, *args)
    else:
        src = jit.tangent_source(low, *args)
    return src, low.tensor


def _forward_numpy(program, p, vals):
    i = -1
    with np.errstate(all="ignore"):
        try:
            for i, f, a, b in p.fast():
                if b == -1:
                    vals[i] = f(vals[a])
                elif b >= 0:
                    vals[i] = f(vals[a], vals[b])
                else:
                    vals[i] = f(*[vals[x] for x in a])
        except (OpError, ValueError, TypeError, IndexError, RuntimeError, MemoryError) as err:
            if i < 0:
                raise
            raise _shape_error(program, program.nodes[i], vals, err, 0) from None


def _forward_batch(program, point, nb, guard):
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
            for i, op, args, params in p.ops():
                argvals = [vals[a] for a in args]
                if guard is not None:
                    guard(i, op, argvals)
                vals[i] = apply_op(op, argvals, params, nb)
        except (OpError, ValueError, TypeError, IndexError, RuntimeError, MemoryError) as err:
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


_SCALARS = {float, np.float64}


def all_finite(values) -> bool:
    """Are all these values (floats or arrays, None for zero) finite?  Floats are summed in
    one C loop (inf and NaN survive a sum; a finite overflow is re-checked one by one)."""
    values = values if type(values) is list else list(values)
    try:
        with np.errstate(all="ignore"):       # inf + -inf: NaN, no warning
            total = sum(values, 0.0)
    except (TypeError, ValueError):
        total = None
    if type(total) is float:                       # all floats: one C loop
        return math.isfinite(total) or all(map(math.isfinite, values))
    floats = []
    for v in values:
        if v is None:
            continue
        if type(v) in _SCALARS:
            floats.append(v)
        elif not np.all(np.isfinite(v)):
            return False
    return all(map(math.isfinite, floats))


def require_finite(program, vals, ids):
    """Raise NumericError naming the node that first made a non-finite value."""
    if all_finite([vals[i] for i in ids]):
        return
    if getattr(vals, "compiled", False):  # name the node as the interpreter sees it
        vals = forward(program, {i: vals[i] for i in program.inputs}, exact=True)
    bad = first_bad(program, vals)
    if bad is None:
        return
    node = program.nodes[bad]
    text = program.source.text[node.start:node.end]
    args = ", ".join(f"{program.describe(a)} = {_short(vals[a])}" for a in node.args)
    raise NumericError(f"`{text}` is {_short(vals[bad])} at this point", program.source,
                       node.start, node.end,
                       hint=(f"its arguments: {args}; " if args else "")
                       + "the function is not defined here; choose another point with --at")


def _short(v):
    a = np.asarray(v)
    if a.size == 1:
        return num(a.item())
    what = shape_words(a.shape)
    if a.size == 0:
        return "an empty vector" if a.ndim == 1 else "an empty" + what[1:]
    if a.size <= 6:
        return nested(a)
    bad = a[~np.isfinite(a)]
    return f"{num(bad.flat[0])} (in {what})" if bad.size else what


# ---------------------------------------------------------------- reverse mode

def _back_steps(p: Plan, entry: Entry, vals, live, lkey, scalar: bool, careful: bool = False):
    """Single-point reverse steps for one shape key: (id, a, b, rule_a, rule_b).

    A rule is ONE (pass g on), NEG (-g), a function (g, ans, *argvals) -> contribution,
    or None for an argument that needs no adjoint; b is -1 for a unary op, -2 for a
    tuple of arguments.  `scalar`: every value is a float, and elementwise ops use the
    scalar rules made from their templates (else numpy's, shaped by `vjp`).
    """
    steps = entry.back.get((lkey, scalar, careful))
    if steps is not None:
        return steps
    steps = []
    append = steps.append
    for i, op, args, params in p.ops_reversed():
        rules = [_rule(op, k, params, vals, i, args, scalar, careful) for k in range(len(args))]
        if len(args) == 1:
            a = args[0]
            append((i, a, -1, rules[0] if live[a] else None, None))
        elif len(args) == 2:
            a, b = args
            append((i, a, b, rules[0] if live[a] else None, rules[1] if live[b] else None))
        else:
            append((i, args, -2, [r if live[a] else None for r, a in zip(rules, args)], None))
    entry.back[(lkey, scalar, careful)] = steps
    return steps


def _rule(op, k, params, vals, i, args, scalar, careful=False):
    """The VJP of argument k of node i as the reverse loop wants it (see _back_steps)."""
    if not op.differentiable(k):
        return None
    if op.elementwise and scalar:
        return scalar_rules(op)[1][k]
    p = op.partials[k] if op.elementwise else None
    same = np.shape(vals[args[k]]) == np.shape(vals[i])
    if op.elementwise and same and not callable(p):
        return ONE if p == 1 else NEG if p == -1 else (lambda g, ans, *a: g * p)
    if op.elementwise and same:
        if careful:
            return lambda g, ans, *a: times(g, p(ans, *a))
        return lambda g, ans, *a: g * p(ans, *a)
    return lambda g, ans, *a: _vjp(op, k, g, ans, a, params, 0, careful)


def _backward_loop(steps, vals, adj):
    """The reverse loop at one point; the hot path of the interpreter.  Binary ops first
    (most nodes are), and the rules of + - * applied inline, without a call."""
    for i, a, b, ra, rb in steps:
        g = adj[i]
        if g is None:
            continue
        if b >= 0:
            if ra is not None:
                if ra is ONE:
                    c = g
                elif ra is BY_B:
                    c = g * vals[b]
                elif ra is BY_A:
                    c = g * vals[a]
                elif ra is NEG:
                    c = -g
                else:
                    c = ra(g, vals[i], vals[a], vals[b])
                x = adj[a]
                adj[a] = c if x is None else x + c
            if rb is not None:
                if rb is ONE:
                    c = g
                elif rb is BY_A:
                    c = g * vals[a]
                elif rb is BY_B:
                    c = g * vals[b]
                elif rb is NEG:
                    c = -g
                else:
                    c = rb(g, vals[i], vals[a], vals[b])
                x = adj[b]
                adj[b] = c if x is None else x + c
        elif b == -1:
            if ra is None:
                continue
            c = g if ra is ONE else -g if ra is NEG else ra(g, vals[i], vals[a])
            x = adj[a]
            adj[a] = c if x is None else x + c
        else:
            argvals = [vals[x] for x in a]
            for x, r in zip(a, ra):
                if r is not None:
                    c = g if r is ONE else -g if r is NEG else r(g, vals[i], *argvals)
                    adj[x] = c if adj[x] is None else adj[x] + c


_FLOAT_OR_NONE = {float, type(None)}


def _float_values(vals) -> bool:
    """Are these values Python floats (what the float rules and the scalar kernels take)?  The
    engine's own are, when its plan says so; a list made elsewhere (check's cut programs reuse
    values the numpy interpreter made, numpy's float64) is looked at: numpy's scalars would
    give warnings and inf where the float rules raise, and so fall back to numpy's rules."""
    if type(vals) is Values:
        return vals.floats
    return set(map(type, vals)) <= _FLOAT_OR_NONE


def _scalar(v) -> bool:
    return type(v) is float or type(v) is np.float64 or np.ndim(v) == 0


def backward(program, vals, output: int, seed=None, nb: int = 0, wrt=None, exact: bool = False,
             careful: bool = False) -> list:
    """Reverse mode: adjoint d(output)/d(node) of every node that depends on an input.

    `wrt` (input ids) restricts the pass to what those inputs' gradients need.  `seed` is
    the adjoint of the output (default: ones).  `exact`: the numpy interpreter.  `careful`:
    the numpy interpreter with `times`, in which a zero stops a derivative (0·∞ is 0): what
    a caller asks for again where a pass gave derivatives that are not finite.
    """
    p = plan(program)
    nodes = program.nodes
    if wrt is None or wrt == program.inputs or len(set(wrt)) == len(program.inputs):
        live, lkey = p.live, None
    else:
        live, lkey = _live_from(program, wrt), tuple(sorted(set(wrt)))
    if nb:
        with np.errstate(all="ignore"):
            return _backward_batch(p, vals, output, seed, nb, live, careful)
    key = _key(program, vals)
    entry = p.entry(key)
    out_value = vals[output]
    if seed is None:
        seed = 1.0 if _scalar(out_value) else np.ones(np.shape(out_value))
        fits = True
    else:
        fits = np.shape(seed) == np.shape(out_value)
    scalar = entry.scalar and fits and _float_values(vals)
    unit = False
    if scalar:
        seed = float(seed)
        unit = seed == 1.0
    exact = exact or (careful and not scalar)
    if not exact and fits:
        kernel = entry.kernels.get(("b", output, lkey, unit), program, key,
                                   lambda: _source(program, entry, vals, "b", output, live, unit))
        if kernel is not None:
            adj = kernel(vals, seed)
            if adj is not None:
                return adj
    adj: list = [None] * len(nodes)
    if scalar and not exact:
        adj[output] = seed
        try:
            _backward_loop(_back_steps(p, entry, vals, live, lkey, True), vals, adj)
            return adj
        except Exception:  # noqa: BLE001  (math refusing: numpy's rules below say what happens)
            adj = [None] * len(nodes)
    adj[output] = seed
    steps = _back_steps(p, entry, vals, live, lkey, False, careful)
    with np.errstate(all="ignore"):
        _backward_loop(steps, _numpy_values(vals), adj)
    return adj


def _backward_batch(p, vals, output, seed, nb, live, careful):
    adj: list = [None] * len(vals)
    adj[output] = np.ones_like(vals[output]) if seed is None else seed
    for i, op, args, params in p.ops_reversed():
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
            c = _vjp(op, k, g, vals[i], argvals, params, nb, careful)
            adj[a] = c if adj[a] is None else adj[a] + c
    return adj


def _live_from(program, wrt):
    key = tuple(sorted(wrt))
    cache = program.__dict__.setdefault("_live_cache", {})
    if key not in cache:
        live = [False] * len(program.nodes)
        for i in key:
            live[i] = True
        for i, op, args, _ in plan(program).ops():
            if any(live[a] for a in args):
                live[i] = True
        cache[key] = live
    return cache[key]


# ---------------------------------------------------------------- forward mode

def tangents(program, vals, seeds: dict, nb: int = 0, stop: int | None = None,
             exact: bool = False, careful: bool = False) -> list:
    """Forward mode: the tangent of every node given tangents of some inputs {id: t}.
    `careful`: as for `backward`."""
    p = plan(program)
    if nb == 0 and not exact:
        key = _key(program, vals)
        entry = p.entry(key)
        leaves = tuple(sorted(i for i in seeds if program.nodes[i].kind != "op"))
        fit = all(np.shape(seeds[i]) == np.shape(vals[i]) for i in leaves) and \
            (not entry.scalar or _float_values(vals))
        if fit and not (careful and not entry.scalar):
            kernel = entry.kernels.get(("t", leaves, stop), program, key,
                                       lambda: _source(program, entry, vals, "t", leaves, stop))
            if kernel is not None:
                tan = kernel(vals, [float(seeds[i]) if np.ndim(seeds[i]) == 0 else seeds[i]
                                    for i in leaves])
                if tan is not None:
                    for i, t in seeds.items():   # as below: a seeded op node's tangent is recomputed
                        if program.nodes[i].kind == "op" and stop is not None and i > stop:
                            tan[i] = t
                    return tan
        if entry.scalar and fit:
            try:
                return _tangents_scalar(p, vals, seeds, stop, len(program.nodes))
            except Exception:  # noqa: BLE001  (math refusing: numpy's rules below say what happens)
                pass
    with np.errstate(all="ignore"):
        return _tangents_pass(program, p, _numpy_values(vals), seeds, nb, stop, careful)


def _tangents_pass(program, p, vals, seeds, nb, stop, careful):
    tan: list = [None] * len(program.nodes)
    for i, t in seeds.items():
        tan[i] = t
    for i, op, args, params in p.ops():
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
            c = _jvp(op, k, t, vals[i], argvals, params, nb, careful)
            total = c if total is None else total + c
        tan[i] = total
    return tan


def _tangents_scalar(p, vals, seeds, stop, n):
    """Forward mode on floats with the scalar rules (every value a float)."""
    tan: list = [None] * n
    for i, t in seeds.items():
        tan[i] = float(t)
    for i, op, args, params in p.ops():
        if stop is not None and i > stop:
            break
        total = None
        if op.elementwise:
            rules = scalar_rules(op)[2]
            for k, a in enumerate(args):
                t = tan[a]
                if t is None:
                    continue
                r = rules[k]
                c = t if r is ONE else -t if r is NEG else t * vals[args[1]] if r is BY_B else \
                    t * vals[args[0]] if r is BY_A else r(t, vals[i], *[vals[x] for x in args])
                total = c if total is None else total + c
        else:
            argvals = None
            for k, a in enumerate(args):
                t = tan[a]
                if t is None or not op.differentiable(k):
                    continue
                if argvals is None:
                    argvals = [vals[x] for x in args]
                c = jvp(op, k, t, vals[i], argvals, params, 0)
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
    argvals = [_np(vals[a]) for a in args]
    ans = _np(vals[u])
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


def gradients(program, vals, output: int, inputs, mode: str = "reverse", careful: bool | None = None) -> list:
    """jacobian's values, in the order of `inputs` (what `eval` reports, without a dict).
    `careful`: as for `backward`; None: made again carefully if they are not finite."""
    grads = _gradients(program, vals, output, inputs, mode, bool(careful))
    if careful is None and not all_finite(grads) and not _floats(program, vals):
        grads = _gradients(program, vals, output, inputs, mode, True)
    return grads


def _floats(program, vals) -> bool:
    """Is every value a float (then `careful` changes nothing)?"""
    return _key(program, vals) is None and plan(program).scalar_ok


def _gradients(program, vals, output: int, inputs, mode: str, careful: bool) -> list:
    if mode == "reverse" and np.shape(vals[output]) == ():   # one reverse pass
        adj = backward(program, vals, output, wrt=inputs, careful=careful)
        grads = list(_getter(program, inputs)(adj)) if len(inputs) > 1 else [adj[x] for x in inputs]
        try:
            floats = type(sum(grads, 0.0)) is float    # one C loop: are they all floats?
        except (TypeError, ValueError):
            floats = False
        if not floats:
            for k, g in enumerate(grads):
                if type(g) is not float:
                    x = inputs[k]
                    grads[k] = (0.0 if np.ndim(vals[x]) == 0 else np.zeros(np.shape(vals[x]))) if g is None \
                        else (float(g) if np.ndim(g) == 0 else np.array(g, dtype=float))
        return grads
    jac = jacobian(program, vals, output, inputs, mode, careful)
    return [jac[x] for x in inputs]


def _getter(program, inputs):
    """operator.itemgetter of the inputs (kept on the program for all of them)."""
    if inputs == program.inputs:
        get = program.__dict__.get("_inputs_getter")
        if get is None:
            get = program._inputs_getter = operator.itemgetter(*program.inputs)
        return get
    return operator.itemgetter(*inputs)


def jacobian(program, vals, output: int, inputs, mode: str = "reverse", careful: bool | None = None) -> dict:
    """d(output)/d(input) for each input, shaped output.shape + input.shape (a float for a
    scalar output and a scalar input).  `careful`: as for `gradients`."""
    if careful is None:
        jac = jacobian(program, vals, output, inputs, mode, False)
        if all_finite(jac.values()) or _floats(program, vals):
            return jac
        careful = True
    if mode == "reverse" and np.shape(vals[output]) == ():
        return dict(zip(inputs, _gradients(program, vals, output, inputs, mode, careful)))
    out = np.asarray(vals[output])
    if out.size == 0:        # an empty output: an empty Jacobian, nothing to compute
        return {x: np.zeros(out.shape + np.shape(vals[x])) for x in inputs}
    if mode == "reverse":
        rows = {x: [] for x in inputs}
        for e in range(out.size):
            seed = np.zeros(out.shape)
            seed.flat[e] = 1.0
            adj = backward(program, vals, output, seed=seed, wrt=inputs, careful=careful)
            for x in inputs:
                g = adj[x]
                rows[x].append(np.zeros(np.shape(vals[x])) if g is None else np.asarray(g, float))
        return {x: np.stack(rows[x]).reshape(out.shape + np.shape(vals[x])) for x in inputs}
    result = {}
    for x in inputs:
        xs = np.shape(vals[x])
        if 0 in xs:           # an empty input: an empty Jacobian
            result[x] = np.zeros(out.shape + xs)
            continue
        cols = []
        for j in range(int(np.prod(xs))):
            seed = np.zeros(xs)
            seed.flat[j] = 1.0
            tan = tangents(program, vals, {x: seed[()] if not xs else seed}, stop=output, careful=careful)
            t = tan[output]
            cols.append(np.zeros(out.shape) if t is None else np.broadcast_to(np.asarray(t, float), out.shape))
        col = np.moveaxis(np.stack(cols), 0, -1).reshape(out.shape + xs) if xs else cols[0]
        result[x] = float(col) if np.ndim(col) == 0 else np.array(col)
    return result
