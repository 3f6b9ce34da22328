"""The op table: every primitive's forward, derivative rules, symbol and partial formula.

Adding an op means adding an entry here (and a test); nothing else.

Conventions
-----------
* Values are numpy arrays or float64 scalars.  Evaluating many points at once
  gives every value a leading batch axis (size B, or 1 for constants); `nb` is
  the number of such axes (0 or 1).  Elementwise ops never see `nb`: the engine
  aligns their arguments.  Shape-aware ops take `nb` as a keyword.
* An elementwise op gives `partials`: per argument, the local derivative as a
  function `(ans, *args) -> array`, or a plain number for a constant one (add: 1).
  The engine turns those into the VJP `g * partial` (summed back to the
  argument's shape) and the JVP `t * partial`; `graph` prints them on the edges.
* Any other op gives `vjp` and `jvp`: per argument `(g_or_t, ans, *args, nb=)`.
  `None` marks an argument that is not differentiable (index's integer index).
* `formula` holds, per argument, the local partial as text with `{0}`, `{1}`
  standing for the argument names and `{out}` for the op's result.
* `code` gives the op as Python source (a `Code`, or a function of the arguments'
  shapes and the op's params returning one, or None where no template fits): the
  compiled path (compile.py) pastes these templates into straight-line code, the
  interpreter's scalar rules are made from them, and `graph --format python` prints
  them.  An op without a template still compiles: the code calls its rules above.
* Ties and kinks follow PyTorch: relu'(0) = 0, abs'(0) = 0, max/min of two
  equal values send half the gradient to each, and a max reduction shares it
  evenly among the maximal elements.  `kink(*args)` gives the distance to the
  nearest kink or tie, which `check` uses.
* Reach: `reach` holds, per argument, a function `(*args) -> distance` (or None): how far
  that argument may move before the op stops looking like its linearisation: the distance
  to the nearest pole or domain edge, where the op or its derivative is undefined (1/b at
  b = 0, log and sqrt at 0, tan at pi/2 + k pi, a**b at a = 0 unless b is a whole number
  >= 0), or 4 for the functions that turn on the scale of a few units (sin, cos, exp,
  tanh, sigmoid).
  `check` keeps its finite-difference steps within it, so they never cross a pole.
* Rounding: `rounding(ans, *args)` is the scale of the absolute rounding error of the op's
  result (about eps times it), where that is not |ans|: log_softmax(a) is a - logsumexp(a),
  a difference whose rounding is eps·|logsumexp(a)| however small the result.  `check`
  estimates how well f is computed from it (check/core.py `magnitude`).
* Shapes: `shape(shapes, params)` gives the shape of the op's result (one point, no
  batch axis) from its arguments' shapes, or raises ShapeError, before anything is
  computed; `work(shapes, out)` how many element-operations computing it takes (default:
  the largest of its result and arguments; a matmul m·k·n).  The limits (language/limits.py)
  are checked from these, so a graph too large to evaluate is refused before it runs.
  Elementwise ops broadcast as numpy does.
"""

from __future__ import annotations

from dataclasses import dataclass
import math
from typing import Callable

import numpy as np

from ..numbers import num


class OpError(ValueError):
    """An op that cannot compute its value; the engine adds the source.  `title` begins the
    message ("shape mismatch in `M @ v`: ...")."""

    title = "cannot compute"


class ShapeError(OpError):
    """Arguments whose shapes an op cannot take."""

    title = "shape mismatch"


class EmptyError(OpError):
    """A reduction with no identity (max, logsumexp) of an empty tensor: there is no value."""

    title = "empty tensor"


class OutOfMemory(OpError):
    """The result does not fit in the memory the machine gives."""

    title = "out of memory"


class IndexRangeError(OpError):
    """index(a, i) with an i that is not a valid position (out of range, not a whole number)."""

    title = "index out of range"


@dataclass(frozen=True)
class Code:
    """An op as source templates: `{0}`, `{1}` its arguments, `{out}` its value, `{g}` the
    adjoint reaching it (VJP), `{t}` the tangent of the argument (JVP).

    Scalar templates run on Python floats with `math` (and may raise where numpy would
    give inf or NaN: the caller then falls back to the numpy rules); `_np` templates run
    on numpy arrays.  An elementwise op gives its forward and, per argument, its local
    partial (`d`; "1" and "-1" pass the adjoint on as it is or negated); any other op its
    forward and, per argument, its VJP and JVP on arrays.  None: no template (the
    compiled code calls the op's rule).
    """

    fwd: str | None = None
    fwd_np: str | None = None
    d: tuple = ()
    d_np: tuple = ()
    vjp: tuple = ()
    jvp: tuple = ()


@dataclass(frozen=True)
class Op:
    name: str                     # as written in a .grad file, or the operator's name
    symbol: str                   # printed in listings: '+', 'sin', '@'
    arity: int                    # -1: any number (tensor literals of nodes)
    fwd: Callable
    formula: tuple[str | None, ...]
    partials: tuple | None = None  # elementwise ops
    vjp: tuple | None = None       # other ops
    jvp: tuple | None = None
    params: tuple[str, ...] = ()  # static integer arguments, e.g. sum's axis
    kink: Callable | None = None
    reach: tuple | None = None    # per argument: distance to a pole or domain edge (see above)
    rounding: Callable | None = None  # (ans, *args) -> scale of its rounding error (None: |ans|)
    infix: bool = False
    code: object = None           # Code, or (shapes, params) -> Code | None
    shape: Callable | None = None  # (shapes, params) -> the result's shape (ShapeError if none)
    work: Callable | None = None   # (shapes, out) -> element-operations (None: the largest size)
    elementwise: bool = False     # set from `partials`

    def __post_init__(self):
        object.__setattr__(self, "elementwise", self.partials is not None)
        if self.shape is None and self.partials is not None:
            object.__setattr__(self, "shape", _broadcast_rule(self.symbol))

    def cost(self, shapes, out) -> int:
        """Element-operations of computing this op once (at one point)."""
        if self.work is not None:
            return self.work(shapes, out)
        n = size(out)
        for s in shapes:
            m = size(s)
            if m > n:
                n = m
        return n

    def vjp_rule(self, k: int):
        """The VJP for argument k (a variadic op's table entry makes one per k)."""
        return self.vjp[k] if self.arity >= 0 else self.vjp[0](k)

    def jvp_rule(self, k: int):
        return self.jvp[k] if self.arity >= 0 else self.jvp[0](k)

    def differentiable(self, k: int) -> bool:
        """Does a derivative flow through argument k? (Not through index's integer index.)"""
        return self.elementwise or self.vjp_rule(k) is not None

    def source(self, shapes, params=()) -> Code | None:
        """The templates for arguments of these shapes (at one point, no batch axis)."""
        return self.code(shapes, params) if callable(self.code) else self.code


# ---------------------------------------------------------------- shapes

def size(shape) -> int:
    """The number of elements of a value of this shape (1 for a scalar)."""
    n = 1
    for d in shape:
        n *= d
    return n


def broadcast(a: tuple, b: tuple, symbol: str = "") -> tuple:
    """numpy's broadcasting of two shapes, or ShapeError."""
    if a == b or not b:
        return a
    if not a:
        return b
    out = []
    for x, y in zip(reversed(a), reversed(b)):
        if x == y or y == 1:
            out.append(x)
        elif x == 1:
            out.append(y)
        else:
            raise ShapeError(f"{symbol + ' ' if symbol else ''}cannot combine shapes {_shape_str(a)} and "
                             f"{_shape_str(b)} (they do not broadcast)")
    longer = a if len(a) > len(b) else b
    return longer[: len(longer) - len(out)] + tuple(reversed(out))


def _shape_str(shape) -> str:
    return str(tuple(shape))


def _broadcast_rule(symbol):
    def rule(shapes, params=()):
        out = shapes[0]
        for s in shapes[1:]:
            out = broadcast(out, s, symbol)
        return out
    return rule


# ---------------------------------------------------------------- elementwise

def sigmoid_array(x):
    """1 / (1 + exp(-x)) on arrays; exp of a non-positive number only, so no overflow warning."""
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def sigmoid(x: float) -> float:
    """sigmoid_array on a float, the same two formulas."""
    if x >= 0.0:
        return 1.0 / (1.0 + math.exp(-x))
    e = math.exp(x)
    return e / (1.0 + e)


def maximum(a: float, b: float) -> float:
    """np.maximum on floats: NaN if either is NaN (Python's max drops a NaN in second place)."""
    return a if a >= b else b if b > a else a + b


def minimum(a: float, b: float) -> float:
    return a if a <= b else b if b < a else a + b


def _pow(a, b):
    return np.power(a, b)


def _dpow_a(ans, a, b):
    # PyTorch: zero where the exponent is zero, so 0**0 has derivative 0.
    return np.where(b == 0, 0.0, b * np.power(a, b - 1.0))


def _dpow_b(ans, a, b):
    # PyTorch: zero where the base is 0 and the exponent non-negative.
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where((a == 0) & (b >= 0), 0.0, ans * np.log(a))


def _half_where_tie(first):
    def d(ans, a, b):
        win = (a > b) if first else (b > a)
        return np.where(a == b, 0.5, win.astype(float))
    return d


def _ew(name, symbol, fwd, partials, formula, code, kink=None, infix=False, reach=None):
    return Op(name, symbol, len(partials), fwd, tuple(formula), partials=tuple(partials),
              kink=kink, infix=infix, code=code, reach=reach)


def _to_zero(*args):
    """Distance of the argument (the last one of a unary op, the divisor of /) from 0."""
    return np.abs(args[-1])


def _to_tan_pole(a):
    r = np.remainder(np.asarray(a, dtype=float) - np.pi / 2, np.pi)
    return np.minimum(r, np.pi - r)


def _unit(a):
    # sin, cos, exp, tanh, sigmoid turn on the scale of their argument: a few units of it
    return 4.0


def _pow_base_edge(a, b):
    # a**b is smooth in a at 0 only for a whole exponent >= 0 (x**2); else 0 is a pole or an edge
    whole = (np.asarray(b) >= 0) & (np.asarray(b) == np.round(b))
    if np.ndim(whole) == 0:
        return np.inf if whole else np.abs(a)
    return np.where(whole, np.inf, np.abs(a))


def _unary(f, d, f_np=None, d_np=None):
    """Templates of a unary op: math's f on floats, numpy's f_np (default np.f) on arrays."""
    return Code(f"{f}({{0}})", f_np or f"np.{f}({{0}})", (d,), (d_np or d,))


_TIE = "(0.5 if {0} == {1} else 1.0 if {0} > {1} else 0.0)"
_TIE_NP = "np.where({0} == {1}, 0.5, ({0} > {1}).astype(float))"

ELEMENTWISE = [
    _ew("add", "+", np.add, (1, 1), ("1", "1"), Code("{0} + {1}", "{0} + {1}", ("1", "1"), ("1", "1")),
        infix=True),
    _ew("sub", "-", np.subtract, (1, -1), ("1", "-1"),
        Code("{0} - {1}", "{0} - {1}", ("1", "-1"), ("1", "-1")), infix=True),
    _ew("mul", "*", np.multiply, (lambda ans, a, b: b, lambda ans, a, b: a), ("{1}", "{0}"),
        Code("{0} * {1}", "{0} * {1}", ("{1}", "{0}"), ("{1}", "{0}")), infix=True),
    _ew("div", "/", np.divide, (lambda ans, a, b: 1.0 / b, lambda ans, a, b: -a / (b * b)),
        ("1/{1}", "-{0}/{1}^2"),
        Code("{0} / {1}", "{0} / {1}", ("1.0 / {1}", "-{0} / ({1} * {1})"),
             ("1.0 / {1}", "-{0} / ({1} * {1})")), infix=True, reach=(None, _to_zero)),
    _ew("pow", "**", _pow, (_dpow_a, _dpow_b), ("{1}*{0}^({1}-1)", "log({0})*{0}^{1}"),
        Code("pow({0}, {1})", "np.power({0}, {1})",
             ("(0.0 if {1} == 0.0 else {1} * pow({0}, {1} - 1.0))",
              "(0.0 if {0} == 0.0 and {1} >= 0.0 else {out} * log({0}))"),
             ("np.where({1} == 0, 0.0, {1} * np.power({0}, {1} - 1.0))",
              "np.where(({0} == 0) & ({1} >= 0), 0.0, {out} * np.log({0}))")), infix=True,
        reach=(_pow_base_edge, None)),
    _ew("neg", "-", np.negative, (-1,), ("-1",), Code("-{0}", "-{0}", ("-1",), ("-1",))),
    _ew("id", "=", lambda a: a, (1,), ("1",), Code("{0}", "{0}", ("1",), ("1",))),
    _ew("sin", "sin", np.sin, (lambda ans, a: np.cos(a),), ("cos({0})",),
        _unary("sin", "cos({0})", d_np="np.cos({0})"), reach=(_unit,)),
    _ew("cos", "cos", np.cos, (lambda ans, a: -np.sin(a),), ("-sin({0})",),
        _unary("cos", "-sin({0})", d_np="-np.sin({0})"), reach=(_unit,)),
    _ew("tan", "tan", np.tan, (lambda ans, a: 1.0 + ans * ans,), ("1 + tan({0})^2",),
        _unary("tan", "1.0 + {out} * {out}"), reach=(_to_tan_pole,)),
    _ew("exp", "exp", np.exp, (lambda ans, a: ans,), ("exp({0})",), _unary("exp", "{out}"), reach=(_unit,)),
    _ew("log", "log", np.log, (lambda ans, a: 1.0 / a,), ("1/{0}",), _unary("log", "1.0 / {0}"),
        reach=(_to_zero,)),
    _ew("sqrt", "sqrt", np.sqrt, (lambda ans, a: 0.5 / ans,), ("1/(2*sqrt({0}))",),
        _unary("sqrt", "0.5 / {out}"), reach=(_to_zero,)),
    _ew("tanh", "tanh", np.tanh, (lambda ans, a: 1.0 - ans * ans,), ("1 - tanh({0})^2",),
        _unary("tanh", "1.0 - {out} * {out}"), reach=(_unit,)),
    _ew("sigmoid", "sigmoid", sigmoid_array, (lambda ans, a: ans * (1.0 - ans),),
        ("sigmoid({0})*(1 - sigmoid({0}))",), _unary("sigmoid", "{out} * (1.0 - {out})", "sigmoid_array({0})"),
        reach=(_unit,)),
    _ew("relu", "relu", lambda a: np.maximum(a, 0.0), (lambda ans, a: (a > 0).astype(float),),
        ("[{0} > 0]",), Code("({0} if not {0} < 0.0 else 0.0)", "np.maximum({0}, 0.0)",
                             ("(1.0 if {0} > 0.0 else 0.0)",), ("({0} > 0).astype(float)",)),
        kink=lambda a: np.abs(a)),
    _ew("abs", "abs", np.abs, (lambda ans, a: np.sign(a),), ("sign({0})",),
        _unary("fabs", "(1.0 if {0} > 0.0 else -1.0 if {0} < 0.0 else {0} * 0.0)", "np.abs({0})", "np.sign({0})"),
        kink=lambda a: np.abs(a)),
    _ew("square", "square", np.square, (lambda ans, a: 2.0 * a,), ("2*{0}",),
        Code("{0} * {0}", "np.square({0})", ("2.0 * {0}",), ("2.0 * {0}",))),
    _ew("maximum", "max", np.maximum, (_half_where_tie(True), _half_where_tie(False)),
        ("[{0} > {1}] (1/2 at a tie)", "[{1} > {0}] (1/2 at a tie)"),
        Code("maximum({0}, {1})", "np.maximum({0}, {1})", (_TIE, _TIE.format("{1}", "{0}")),
             (_TIE_NP, _TIE_NP.format("{1}", "{0}"))),
        kink=lambda a, b: np.abs(a - b)),
    _ew("minimum", "min", np.minimum, (_half_where_tie(False), _half_where_tie(True)),
        ("[{0} < {1}] (1/2 at a tie)", "[{1} < {0}] (1/2 at a tie)"),
        Code("minimum({0}, {1})", "np.minimum({0}, {1})", (_TIE.format("{1}", "{0}"), _TIE),
             (_TIE_NP.format("{1}", "{0}"), _TIE_NP)),
        kink=lambda a, b: np.abs(a - b)),
]


# ---------------------------------------------------------------- shape-aware ops

def _point_axes(a, nb):
    return tuple(range(nb, np.ndim(a)))


def _expand_to(g, shape, nb):
    """Broadcast a per-point scalar result g back over a per-point tensor shape."""
    g = np.asarray(g)
    return np.broadcast_to(g.reshape(g.shape + (1,) * (len(shape) - np.ndim(g))), shape)


def _sum_fwd(a, nb=0):
    if np.ndim(a) <= nb:
        return a
    return np.sum(a) if nb == 0 else np.sum(a, axis=_point_axes(a, nb))


def _axis(a, axis, nb):
    nd = np.ndim(a) - nb
    if not -nd <= axis < nd:
        raise ShapeError(f"axis {axis} is out of range for a value with {nd} dimension(s)")
    return axis + nb if axis >= 0 else axis + np.ndim(a)


def _sum_axis_fwd(a, axis, nb=0):
    return np.sum(a, axis=_axis(a, axis, nb))


def _sum_axis_back(g, ans, a, axis, nb=0):
    return np.broadcast_to(np.expand_dims(g, _axis(a, axis, nb)), np.shape(a))


SMALL = 4096   # a sum's adjoint spread over at most this many elements is a new array, else a view


def _spread(shape) -> str:
    """g (a scalar) over `shape`: np.full is quicker on small arrays, a view costs no memory on large."""
    return f"np.full({shape}, {{g}})" if int(np.prod(shape)) <= SMALL else f"np.broadcast_to({{g}}, {shape})"


def _sum_back(g, ans, a, nb=0):
    if nb == 0:
        shape = np.shape(a)
        return np.full(shape, g) if np.size(a) <= SMALL else np.broadcast_to(g, shape)
    return _expand_to(g, np.shape(a), nb)


def _sum_code(shapes, params):
    if not shapes[0]:
        return Code(fwd_np="{0}", vjp=("{g}",), jvp=("{t}",))
    return Code(fwd_np="{0}.sum()", vjp=(_spread(shapes[0]),), jvp=("{t}.sum()",))


def _sum_axis_code(shapes, params):
    nd = len(shapes[0])
    axis = params[0] + nd if params[0] < 0 else params[0]
    return Code(fwd_np=f"np.sum({{0}}, axis={axis})",
                vjp=(f"np.broadcast_to(np.expand_dims({{g}}, {axis}), {shapes[0]})",),
                jvp=(f"np.sum({{t}}, axis={axis})",))


def _mean_code(shapes, params):
    n = size(shapes[0])
    if not shapes[0]:
        return Code(fwd_np="{0} / 1", vjp=("{g} / 1",), jvp=("{t} / 1",))
    if n == 0:          # the mean of no elements is NaN (numpy, PyTorch); its gradient is empty
        return Code(fwd_np="np.float64(np.nan)", vjp=(f"np.zeros({shapes[0]})",), jvp=("np.float64(np.nan)",))
    return Code(fwd_np=f"{{0}}.sum() / {n}", vjp=(_spread(shapes[0]) + f" / {n}",), jvp=(f"{{t}}.sum() / {n}",))


def _transpose_code(shapes, params):
    if len(shapes[0]) < 2:
        return Code(fwd_np="{0}", vjp=("{g}",), jvp=("{t}",))
    return Code(fwd_np="{0}.T", vjp=("{g}.T",), jvp=("{t}.T",))


def _mean_fwd(a, nb=0):
    n = size(np.shape(a)[nb:])
    if n == 0:          # no elements: NaN, as numpy and PyTorch give
        return np.full(np.shape(a)[:nb], np.nan)[()]
    return _sum_fwd(a, nb) / n


def _mean_back(g, ans, a, nb=0):
    n = size(np.shape(a)[nb:])
    return np.zeros(np.shape(a)) if n == 0 else _expand_to(g, np.shape(a), nb) / n


def _max_fwd(a, nb=0):
    if np.ndim(a) <= nb:
        return a
    if size(np.shape(a)[nb:]) == 0:
        raise EmptyError(_EMPTY_MAX)
    return np.max(a, axis=_point_axes(a, nb))


_EMPTY_MAX = "max(a) of no elements has no value"


def _max_share(ans, a, nb):
    """Each element's share of max(a)'s derivative: the maximal elements' (PyTorch: evenly).
    Where the max is NaN (an element is NaN), the NaN elements are the maximal ones, so the
    derivative flows through them in both modes rather than becoming 0/0."""
    m = _expand_to(ans, np.shape(a), nb)
    hit = (a == m) | (np.isnan(a) & np.isnan(m))
    hit = hit.astype(float)
    return hit / _expand_to(_sum_fwd(hit, nb), np.shape(a), nb)


def _last_axis(a, nb, what):
    if np.ndim(a) - nb < 1:
        raise ShapeError(f"{what} needs a vector or a matrix, not a scalar")


def _softmax(a, nb=0):
    _last_axis(a, nb, "softmax")
    if np.size(a) == 0:     # an empty last axis (or none of its rows): nothing to normalise
        return np.zeros(np.shape(a))
    z = np.exp(a - np.max(a, axis=-1, keepdims=True))
    return z / np.sum(z, axis=-1, keepdims=True)


def _logsumexp(a, nb=0):
    _last_axis(a, nb, "logsumexp")
    if np.shape(a)[-1] == 0:
        raise EmptyError("logsumexp of an empty vector: the log of an empty sum is -inf")
    if np.size(a) == 0:
        return np.zeros(np.shape(a)[:-1])
    m = np.max(a, axis=-1, keepdims=True)
    return (m + np.log(np.sum(np.exp(a - m), axis=-1, keepdims=True)))[..., 0]


def _log_softmax(a, nb=0):
    _last_axis(a, nb, "log_softmax")
    if np.size(a) == 0:
        return np.zeros(np.shape(a))
    return a - _logsumexp(a)[..., None]


def _softmax_back(g, ans, a, nb=0):
    return ans * (g - np.sum(g * ans, axis=-1, keepdims=True))


def _log_softmax_back(g, ans, a, nb=0):
    return g - np.exp(ans) * np.sum(g, axis=-1, keepdims=True)


def _log_softmax_tangent(t, ans, a, nb=0):
    return t - np.sum(np.exp(ans) * t, axis=-1, keepdims=True)


def _pad(a, nd, nb):
    """a with axes of length 1 put after its nb batch axes, up to nd dimensions: the
    per-point axes then line up as numpy aligns them, and the batch axes stay first."""
    s = np.shape(a)
    return np.reshape(a, s[:nb] + (1,) * (nd - len(s)) + s[nb:]) if len(s) < nd else a


def _matmul_parts(a, b, nb):
    """a, b as stacks of matrices (vectors made rows/columns) and how to undo it."""
    va, vb = np.ndim(a) - nb == 1, np.ndim(b) - nb == 1
    if np.ndim(a) - nb < 1 or np.ndim(b) - nb < 1:
        raise ShapeError("@ needs vectors or matrices on both sides, not scalars (use *)")
    A = np.expand_dims(a, -2) if va else a
    B = np.expand_dims(b, -1) if vb else b
    nd = max(A.ndim, B.ndim)
    return _pad(A, nd, nb), _pad(B, nd, nb), va, vb


def _matmul(a, b, nb=0):
    if nb == 0 and np.ndim(a) <= 2 and np.ndim(b) <= 2 and np.ndim(a) and np.ndim(b):
        k = np.shape(b)[0 if np.ndim(b) == 1 else -2]
        if np.shape(a)[-1] != k:
            raise ShapeError(f"inner dimensions {np.shape(a)[-1]} and {k} differ")
        return a @ b
    A, B, va, vb = _matmul_parts(a, b, nb)
    if A.shape[-1] != B.shape[-2]:
        raise ShapeError(f"inner dimensions {A.shape[-1]} and {B.shape[-2]} differ")
    C = A @ B
    if vb:
        C = C[..., 0]
    if va:
        C = C[..., 0, :] if not vb else C[..., 0]
    return C


def _matmul_grad_g(g, a, b, nb):
    A, B, va, vb = _matmul_parts(a, b, nb)
    G = g
    if va:
        G = np.expand_dims(G, -2 if not vb else -1)
        if vb:
            G = np.expand_dims(G, -1)
    elif vb:
        G = np.expand_dims(G, -1)
    return A, B, G


def _sum_to(x, shape):
    """Sum a broadcast result back down to `shape` (the one unbroadcast in the table)."""
    if x.shape == shape:
        return x
    lead = x.ndim - len(shape)
    if lead:
        x = x.sum(axis=tuple(range(lead)))
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and x.shape[i] != 1)
    return x.sum(axis=axes, keepdims=True) if axes else x


# One point, vectors and matrices: the VJPs as numpy expressions, by the ranks of a and b.
# The interpreter runs them as functions; the compiled code pastes them in.
_MATMUL_VJP = {
    (2, 2): ("{g} @ {1}.T", "{0}.T @ {g}"),
    (1, 2): ("{1} @ {g}", "{0}[:, None] * {g}"),        # vector @ matrix: b's is an outer product
    (2, 1): ("{g}[:, None] * {1}", "{0}.T @ {g}"),       # matrix @ vector
    (1, 1): ("{g} * {1}", "{g} * {0}"),                  # dot product
}
_MATMUL_FAST = {ranks: tuple(eval("lambda g, a, b: " + t.format("a", "b", g="g"), {"np": np})  # noqa: S307
                             for t in pair) for ranks, pair in _MATMUL_VJP.items()}


def _matmul_code(shapes, params):
    ranks = tuple(len(s) for s in shapes)
    if ranks not in _MATMUL_VJP:
        return None
    return Code(fwd_np="{0} @ {1}", vjp=_MATMUL_VJP[ranks], jvp=("{t} @ {1}", "{0} @ {t}"))


def _matmul_back_a(g, ans, a, b, nb=0):
    if nb == 0:
        fast = _MATMUL_FAST.get((np.ndim(a), np.ndim(b)))
        if fast is not None:
            return fast[0](g, a, b)
    A, B, G = _matmul_grad_g(g, a, b, nb)
    return _sum_to(G @ np.swapaxes(B, -1, -2), A.shape).reshape(np.shape(a))


def _matmul_back_b(g, ans, a, b, nb=0):
    if nb == 0:
        fast = _MATMUL_FAST.get((np.ndim(a), np.ndim(b)))
        if fast is not None:
            return fast[1](g, a, b)
    A, B, G = _matmul_grad_g(g, a, b, nb)
    return _sum_to(np.swapaxes(A, -1, -2) @ G, B.shape).reshape(np.shape(b))


def _transpose(a, nb=0):
    nd = np.ndim(a)
    if nd - nb < 2:
        return a
    return np.transpose(a, tuple(range(nb)) + tuple(range(nd - 1, nb - 1, -1)))


_EMPTY_PICK = "a's last axis is empty: there is nothing to pick"


def _pick(a, i, nb):
    """index(a, i): along a's last axis, a[i] for a vector, a[k, i_k] for a matrix."""
    i = np.asarray(i)
    if np.ndim(a) - nb != np.ndim(i) - nb + 1:
        raise ShapeError("index(a, i) takes a vector and an integer, or a matrix and "
                         "an integer vector with one entry per row")
    if not np.all(i == np.round(i)):
        raise IndexRangeError("index(a, i) needs whole numbers for i" + _which(i, i != np.round(i)))
    n = np.shape(a)[-1]
    bad = (i < 0) | (i >= n)
    if np.any(bad):
        if n == 0:
            raise IndexRangeError(_EMPTY_PICK)
        raise IndexRangeError(f"the last axis has {n} entr{'y' if n == 1 else 'ies'} (0 to {n - 1})"
                              + _which(i, bad))
    idx = np.broadcast_to(i.astype(np.intp)[..., None], np.shape(a)[:-1] + (1,))
    return idx


def _which(i, bad) -> str:
    """', given 7' for the first offending value of i."""
    with np.errstate(all="ignore"):
        v = np.asarray(i)[np.asarray(bad)].ravel()
    return f", given {num(v[0])}" if v.size else ""


def _index(a, i, nb=0):
    return np.take_along_axis(a, _pick(a, i, nb), axis=-1)[..., 0]


def _index_back(g, ans, a, i, nb=0):
    out = np.zeros(np.shape(a))
    np.put_along_axis(out, _pick(a, i, nb), np.asarray(g, dtype=float)[..., None], axis=-1)
    return out


def _stack(*items, nb=0):
    nd = max(np.ndim(a) for a in items)
    return np.stack(np.broadcast_arrays(*[_pad(a, nd, nb) for a in items]), axis=nb)


def _stack_back(k):
    def back(g, ans, *items, nb=0):
        nd = max(np.ndim(a) for a in items)
        padded = np.shape(_pad(items[k], nd, nb))
        return _sum_to(np.take(g, k, axis=nb), padded).reshape(np.shape(items[k]))
    return back


def _stack_tangent(k):
    def place(t, ans, *items, nb=0):
        out = np.zeros(np.shape(ans))
        np.moveaxis(out, nb, 0)[k] = _pad(t, np.ndim(ans) - 1, nb)
        return out
    return place


def _shaped(name, symbol, fwd, vjp, jvp, formula, params=(), kink=None, code=None, shape=None, work=None,
            rounding=None):
    return Op(name, symbol, len(vjp), fwd, tuple(formula), vjp=tuple(vjp), jvp=tuple(jvp),
              params=params, kink=kink, code=code, shape=shape, work=work, rounding=rounding)


# Shape rules of the shape-aware ops: one point's shapes in, the result's shape out.

def _matmul_shape(shapes, params=()):
    a, b = shapes
    if not a or not b:
        raise ShapeError("@ needs vectors or matrices on both sides, not scalars (use *)")
    ka, kb = a[-1], b[0] if len(b) == 1 else b[-2]
    if ka != kb:
        raise ShapeError(f"inner dimensions {ka} and {kb} differ")
    stack = broadcast(a[:-2], b[:-2], "@") if len(a) > 2 or len(b) > 2 else ()
    return stack + a[-2:-1] + b[-1:] if len(b) >= 2 else stack + a[-2:-1]


def _matmul_work(shapes, out):
    a, b = shapes
    return size(out) * a[-1] if a[-1] else size(out)      # m·k·n multiply-adds (k = 0: m·n zeros)


def _reduced(shapes, params=()):
    return ()


def _max_shape(shapes, params=()):
    if shapes[0] and size(shapes[0]) == 0:
        raise EmptyError(_EMPTY_MAX)
    return ()


def _sum_axis_shape(shapes, params):
    a, axis = shapes[0], params[0]
    if not -len(a) <= axis < len(a):
        raise ShapeError(f"axis {axis} is out of range for a value with {len(a)} dimension(s)")
    axis %= len(a)
    return a[:axis] + a[axis + 1:]


def _last_axis_shape(what, keep):
    def rule(shapes, params=()):
        a = shapes[0]
        if not a:
            raise ShapeError(f"{what} needs a vector or a matrix, not a scalar")
        if not keep and a[-1] == 0:
            raise EmptyError(f"{what} of an empty vector: the log of an empty sum is -inf")
        return a if keep else a[:-1]
    return rule


def _transpose_shape(shapes, params=()):
    a = shapes[0]
    return a[::-1] if len(a) >= 2 else a


def _index_shape(shapes, params=()):
    a, i = shapes
    if len(a) != len(i) + 1:
        raise ShapeError("index(a, i) takes a vector and an integer, or a matrix and "
                         "an integer vector with one entry per row")
    broadcast(a[:-1], i, "index")
    if broadcast(a[:-1], i) != a[:-1]:
        raise ShapeError("index(a, i): i needs one entry per row of a")
    if a[-1] == 0 and size(i) > 0:
        raise IndexRangeError(_EMPTY_PICK)
    return a[:-1]


def _stack_shape(shapes, params=()):
    out = shapes[0]
    for s in shapes[1:]:
        out = broadcast(out, s, "[...]")
    if len(out) >= 31:     # numpy's arrays have at most 32 dimensions (and the batch axis is one)
        raise ShapeError("a tensor literal nested more than 32 deep")
    return (len(shapes),) + out


_mm_a_t = lambda t, ans, a, b, nb=0: _matmul(t, b, nb)  # noqa: E731  (linear in each argument)
_mm_b_t = lambda t, ans, a, b, nb=0: _matmul(a, t, nb)  # noqa: E731

_SOFTMAX_VJP = "{out} * ({g} - np.sum({g} * {out}, axis=-1, keepdims=True))"

SHAPED = [
    _shaped("matmul", "@", _matmul, (_matmul_back_a, _matmul_back_b), (_mm_a_t, _mm_b_t),
            ("(·) @ {1}ᵀ", "{0}ᵀ @ (·)"), code=_matmul_code, shape=_matmul_shape, work=_matmul_work),
    _shaped("sum", "sum", _sum_fwd, (_sum_back,),
            (lambda t, ans, a, nb=0: _sum_fwd(t, nb),), ("1 (each element)",), code=_sum_code,
            shape=_reduced),
    _shaped("sum_axis", "sum", _sum_axis_fwd, (_sum_axis_back,),
            (lambda t, ans, a, axis, nb=0: _sum_axis_fwd(t, axis, nb),), ("1 (each element)",),
            params=("axis",), code=_sum_axis_code, shape=_sum_axis_shape),
    _shaped("mean", "mean", _mean_fwd, (_mean_back,), (lambda t, ans, a, nb=0: _mean_fwd(t, nb),),
            ("1/n (each element)",), code=_mean_code, shape=_reduced),
    _shaped("max_reduce", "max", _max_fwd,
            (lambda g, ans, a, nb=0: _expand_to(g, np.shape(a), nb) * _max_share(ans, a, nb),),
            (lambda t, ans, a, nb=0: _sum_fwd(t * _max_share(ans, a, nb), nb),),
            ("[{0} is the max] / (number of maxima)",),
            kink=lambda a: _ties_gap(a), shape=_max_shape),
    _shaped("softmax", "softmax", _softmax, (_softmax_back,),
            (lambda t, ans, a, nb=0: _softmax_back(t, ans, a, nb),), ("diag(s) - s sᵀ, s = softmax({0})",),
            code=Code(vjp=(_SOFTMAX_VJP,), jvp=(_SOFTMAX_VJP.replace("{g}", "{t}"),)),
            shape=_last_axis_shape("softmax", True)),
    _shaped("log_softmax", "log_softmax", _log_softmax, (_log_softmax_back,), (_log_softmax_tangent,),
            ("I - 1 softmax({0})ᵀ",),
            code=Code(vjp=("{g} - np.exp({out}) * np.sum({g}, axis=-1, keepdims=True)",),
                      jvp=("{t} - np.sum(np.exp({out}) * {t}, axis=-1, keepdims=True)",)),
            shape=_last_axis_shape("log_softmax", True),
            rounding=lambda ans, a, nb=0: np.abs(ans) + np.abs(np.asarray(a) - ans)),
    _shaped("logsumexp", "logsumexp", _logsumexp,
            (lambda g, ans, a, nb=0: np.asarray(g)[..., None] * _softmax(a),),
            (lambda t, ans, a, nb=0: np.sum(_softmax(a) * t, axis=-1),), ("softmax({0})ᵀ",),
            shape=_last_axis_shape("logsumexp", False)),
    _shaped("transpose", "transpose", _transpose, (lambda g, ans, a, nb=0: _transpose(g, nb),),
            (lambda t, ans, a, nb=0: _transpose(t, nb),), ("transpose (·)",), code=_transpose_code,
            shape=_transpose_shape),
    _shaped("index", "index", _index, (_index_back, None),
            (lambda t, ans, a, i, nb=0: _index(t, i, nb), None), ("one-hot(i) per row", None),
            shape=_index_shape),
]

STACK = Op("stack", "[]", -1, _stack, ("1 (its slot)",), vjp=(_stack_back,), jvp=(_stack_tangent,),
           shape=_stack_shape)


def _ties_gap(a):
    """Distance between the largest and the second largest element (0 at a tie)."""
    flat = np.sort(np.ravel(a))
    return float(flat[-1] - flat[-2]) if flat.size > 1 else np.inf


OPS: dict[str, Op] = {op.name: op for op in ELEMENTWISE + SHAPED + [STACK]}

# How the language's operators and functions name ops; (name, arity) for overloads.
INFIX = {"+": "add", "-": "sub", "*": "mul", "/": "div", "@": "matmul", "**": "pow"}
FUNCTIONS: dict[str, dict[int, str]] = {}
for _name in ["sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "square",
              "softmax", "log_softmax", "logsumexp", "transpose", "mean"]:
    FUNCTIONS[_name] = {1: _name}
FUNCTIONS["max"] = {1: "max_reduce", 2: "maximum"}
FUNCTIONS["min"] = {2: "minimum"}
FUNCTIONS["sum"] = {1: "sum", 2: "sum_axis"}
FUNCTIONS["dot"] = {2: "matmul"}
FUNCTIONS["index"] = {2: "index"}


# ---------------------------------------------------------------- initialisers

def _shape_args(args):
    return tuple(int(a) for a in args)


INITIALISERS: dict[str, Callable] = {
    "randn": lambda rng, *shape: rng.standard_normal(_shape_args(shape)),
    "rand": lambda rng, *shape: rng.random(_shape_args(shape)),
    "zeros": lambda rng, *shape: np.zeros(_shape_args(shape)),
    "ones": lambda rng, *shape: np.ones(_shape_args(shape)),
    "eye": lambda rng, n: np.eye(int(n)),
}

CONSTANTS = {"pi": np.pi, "e": np.e}
