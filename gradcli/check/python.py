"""`check --python` and `gradcli.check_function`: a Python function's hand-written gradient.

Data in (f, the hand-written gradient, the arguments, options), a `CheckReport` out;
nothing here prints or imports the user's code (the command does that).  The
comparisons, tolerances and verdicts are `check`'s (core.py), with the hand-written
derivative in the place of a claim and finite differences (fd.py) as the reference:

* full (default up to FAST_THRESHOLD input elements): every entry of the Jacobian,
  d(f)/d(x) shaped f's output shape + x's shape, by Richardson extrapolation (up to
  RICHARDSON_MAX elements) or central differences, each with its error estimate;
* fast: one random directional derivative uᵀJw (u standard normal over f's output, 1 for
  a scalar f; w standard normal scaled by max(|x|, 1)).

An entry is wrong when it is neither within the tolerance (numpy.isclose) of the finite
difference nor within its error estimate.  f is a black box, so kinks are found from its
values: an entry that looks wrong is looked at again with one-sided differences at
t = sqrt(eps); if these disagree with each other the point is "not differentiable here"
(not a mismatch), else their mean is the finite difference the entry is judged by (a
central step that straddled a kink a little further away no longer misleads).
"""

from __future__ import annotations

import inspect
import os
from dataclasses import dataclass

import numpy as np

from ..autodiff import fd
from ..errors import GradError
from ..numbers import num
from .core import ATOL, FAST_THRESHOLD, RICHARDSON_MAX, RTOL, CheckReport, Point, Row

MAX_VALUES = 1 << 26    # finite-difference values a full check holds at once (512 MB)


@dataclass
class Arg:
    """A differentiated argument: where it sits in f's arguments and in the flat vector."""

    position: int
    name: str
    value: object           # as f receives it: a float, or a float64 array
    shape: tuple
    offset: int
    scalar: bool            # f receives a float (the caller gave a number)
    size: int = 0

    def __post_init__(self):
        self.size = int(np.prod(self.shape, dtype=int))


def name_of(fn, default: str) -> str:
    fn = getattr(fn, "func", fn)   # functools.partial
    name = getattr(fn, "__name__", None) or type(fn).__name__
    return default if "<lambda>" in name else name


def where(fn) -> str | None:
    """FILE:LINE where fn is defined (the path relative to the working directory when inside it)."""
    fn = getattr(fn, "func", fn)
    fn = getattr(fn, "__func__", fn)
    code = getattr(fn, "__code__", None)
    if code is None:
        return None
    path = code.co_filename
    try:
        rel = os.path.relpath(path)
        path = rel if not rel.startswith("..") else path
    except ValueError:
        pass
    return f"{path}:{code.co_firstlineno}"


def arg_names(f, n: int) -> list[str]:
    try:
        params = list(inspect.signature(f).parameters.values())
    except (TypeError, ValueError):
        params = []
    names: list[str] = []
    for p in params:
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            names.append(p.name)
        elif p.kind == p.VAR_POSITIONAL:
            names.extend(f"{p.name}[{k}]" for k in range(n - len(names)))
            break
    names.extend(f"arg{k}" for k in range(len(names), n))
    return names[:n]


def positions(wrt, names: list[str], n: int) -> list[int]:
    """wrt (None: every argument; an int or a name; or a sequence of them) as argument positions."""
    if wrt is None:
        return list(range(n))
    items = [wrt] if isinstance(wrt, (int, str)) else list(wrt)
    out = []
    for w in items:
        if isinstance(w, bool) or not isinstance(w, (int, str, np.integer)):
            raise GradError(f"wrt={w!r}: give argument positions (0, 1, ...) or parameter names")
        if isinstance(w, str):
            if w not in names:
                raise GradError(f"wrt={w!r}: f has no argument named {w!r}",
                                hint="arguments: " + ", ".join(names))
            k = names.index(w)
        else:
            k = int(w) + (n if w < 0 else 0)
            if not 0 <= k < n:
                raise GradError(f"wrt={w!r}: f is given {n} argument(s)")
        if k in out:
            raise GradError(f"wrt: argument {names[k]!r} is named twice")
        out.append(k)
    if not out:
        raise GradError("wrt is empty: nothing to differentiate")
    return out


def as_float(value, what: str):
    """An argument to differentiate as float64: (value f receives, shape, scalar)."""
    scalar = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, (bool, np.bool_))
    if isinstance(value, (bool, np.bool_)):
        raise GradError(f"{what} is a bool: there is nothing to differentiate",
                        hint="pass it as a fixed argument (wrt=...) or as a number")
    try:
        a = np.asarray(value)
    except Exception:
        a = np.asarray(value, dtype=object)
    if a.dtype.kind == "b":
        raise GradError(f"{what} is an array of bools: there is nothing to differentiate",
                        hint="pass it as a fixed argument (wrt=...)")
    if a.dtype.kind == "c":
        raise GradError(f"{what} is complex: gradcli differentiates real functions of real arguments")
    if a.dtype.kind not in "iuf":
        raise GradError(f"{what} is not a number or an array of numbers ({type(value).__name__}"
                        + (f" of {a.dtype}" if a.dtype.kind != "O" else "") + ")",
                        hint="a float, an int (taken as a float), a list of numbers or a numpy array")
    a = np.array(a, dtype=np.float64)
    if not np.all(np.isfinite(a)):
        raise GradError(f"{what} holds a NaN or an infinity: no derivative to check there")
    if scalar:
        return float(a), (), True
    return a, a.shape, False


def as_output(y, what: str) -> np.ndarray:
    """f's value (a number, an array, or a list/tuple of same-shaped values) as float64."""
    if isinstance(y, (bool, np.bool_)) or y is None or isinstance(y, (str, bytes)):
        raise GradError(f"{what} returned {y!r}, not a number or an array of numbers")
    try:
        complex_ = np.iscomplexobj(y)
    except Exception:
        complex_ = False
    if complex_:
        raise GradError(f"{what} returned complex numbers: gradcli differentiates real functions")
    try:
        a = np.asarray(y, dtype=float)
    except (TypeError, ValueError) as err:
        raise GradError(f"{what} returned a value that is not a real number or an array of them "
                        f"({type(y).__name__}: {str(err).splitlines()[0]})",
                        hint="several outputs: return one array (same shapes) or check each on its own") from None
    return a


def split(given, k: int, names: list[str], what: str) -> list:
    """The hand-written derivative: one entry per differentiated argument (a tuple or list for
    several, the array itself for one; a 1-tuple is accepted for one)."""
    if k == 1:
        if isinstance(given, tuple) and len(given) == 1:
            return [given[0]]
        return [given]
    if isinstance(given, (tuple, list)) and len(given) == k:
        return list(given)
    if isinstance(given, np.ndarray) and given.ndim and len(given) == k:
        return list(given)        # np.array([df/dx, df/dy]): one row per argument
    got = f"{len(given)} values" if isinstance(given, (tuple, list)) else type(given).__name__
    raise GradError(f"{what} returned {got}; it should return {k} derivatives, one per argument "
                    f"({', '.join(names)}), as a tuple",
                    hint="or check some arguments only: wrt=(...)")


def _call(fn, args, what: str):
    try:
        return fn(*args)
    except Exception as err:
        err.add_note(f"(raised by {what}, called by gradcli.check_function)")
        raise


def check_function(f, grad_f, args, *, wrt=None, vjp: bool = False, fast: bool | None = None,
                   method: str | None = None, rtol: float = RTOL, atol: float = ATOL,
                   seed: int = 0) -> CheckReport:
    if not callable(f) or not callable(grad_f):
        raise TypeError("check_function(f, grad_f, *args): f and grad_f must be callables")
    for tol, label in ((rtol, "rtol"), (atol, "atol")):
        if isinstance(tol, bool) or not isinstance(tol, (int, float)) or not tol >= 0 or tol == float("inf"):
            raise GradError(f"{label}={tol!r}: a finite number >= 0")
    if method is not None and method not in fd.METHODS:
        raise GradError(f"method={method!r}: choose one of {', '.join(fd.METHODS)}")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise GradError(f"seed={seed!r}: a whole number >= 0")
    args = list(args)
    if not args:
        raise GradError("check_function(f, grad_f, *args): give the point, f's arguments, after grad_f")
    fname, gname = name_of(f, "f"), name_of(grad_f, "grad_f")
    names = arg_names(f, len(args))
    specs: list[Arg] = []
    offset = 0
    for k in positions(wrt, names, len(args)):
        value, shape, scalar = as_float(args[k], f"argument {names[k]!r}")
        specs.append(Arg(k, names[k], value, shape, offset, scalar))
        args[k] = value
        offset += specs[-1].size
    n = offset
    if n == 0:
        raise GradError("nothing to differentiate: the arguments have no elements")
    x0 = np.concatenate([np.ravel(np.asarray(s.value, dtype=float)) for s in specs])
    call = f"{fname}({', '.join(names)})"

    slots = [(s.position, s.offset, s.offset + s.size, s.shape, s.scalar) for s in specs]

    def point_args(x):
        """f's arguments at the flat point x: fresh copies, so that f may modify them."""
        out = list(args)
        for position, start, end, shape, scalar in slots:
            out[position] = float(x[start]) if scalar else x[start:end].reshape(shape).copy()
        return out

    y0 = as_output(_call(f, point_args(x0), f"{fname} at the given point"), call)
    oshape, m = y0.shape, y0.size
    if m == 0:
        raise GradError(f"{call} returned an empty array: nothing to differentiate")
    if not np.all(np.isfinite(y0)):
        raise GradError(f"{call} is {_first_bad(y0)} at the given point: no derivative to check there",
                        hint="choose another point")
    if fast is None:
        fast = n > FAST_THRESHOLD
    if method is None:
        method = "central" if fast or n > RICHARDSON_MAX else "richardson"
    label = ", ".join(s.name for s in specs)
    what = f"{gname}({', '.join(names)}{', g' if vjp else ''})"

    def values(x):
        try:
            y = f(*point_args(x))
        except Exception as err:
            moved = np.flatnonzero(x != x0)
            err.add_note(f"(raised by {fname} at a point gradcli.check_function's finite differences "
                         f"moved to: {_moved(specs, moved, x, x0)})")
            raise
        if not oshape and type(y) in (float, np.float64):   # the usual loss: no conversion
            return y
        a = as_output(y, call)
        if a.shape != oshape:
            raise GradError(f"{call} returned shape {a.shape} at a nearby point, {oshape} at the given point")
        return a.reshape(-1) if a.shape else a.reshape(1)

    rng = np.random.default_rng(seed)
    scale = np.maximum(np.abs(x0), 1.0)
    if fast:
        u = rng.standard_normal(oshape) if oshape else np.float64(1.0)
        w = rng.standard_normal(n) * scale
        given = _directional_given(grad_f, lambda: point_args(x0), specs, u, w, oshape, vjp, what)
        uflat = np.ravel(u)
        F = fd.Pointwise(lambda x: float(np.ravel(values(x)) @ uflat))
        f0 = np.array([y0.reshape(-1) @ uflat])
        dirs = w[None, :]
        C = np.array([[given]])
        step = np.ones(1)
    else:
        steps = {"richardson": 2 * len(fd.RICHARDSON_T), "central": 4, "forward": 2}[method]
        if steps * n * m > MAX_VALUES:
            raise GradError(f"a full check of {call} would hold {steps * n * m:,} finite differences "
                            f"({m:,} output by {n:,} input elements)", hint="check a random direction: fast=True")
        C = _full_given(grad_f, lambda: point_args(x0), specs, oshape, m, vjp, what)
        F = fd.Pointwise(values)
        f0 = y0.reshape(-1) if oshape else y0.reshape(1)
        dirs = fd.Coordinates(np.arange(n), scale)
        step = scale
    V, E, kink, left, right = _differences(F, x0, dirs, step, C, method, rtol, atol, f0)
    report = CheckReport(fname, "fast" if fast else "full", method, rtol, atol, n,
                         function=fname, gradient=gname)
    report.points.append(Point("given", {s.name: s.value for s in specs}))
    location = where(grad_f)
    if fast:
        report.rows.extend(_rows(C, V, E, kink, left, right, rtol, atol, fname, label, None, (), (),
                                 gname, location))
    else:
        for s in specs:
            sl = slice(s.offset, s.offset + s.size)
            report.rows.extend(_rows(C[:, sl], V[:, sl], E[:, sl], kink[:, sl], left[:, sl], right[:, sl],
                                     rtol, atol, fname, s.name, s.shape, oshape, s.shape, gname, location))
    return report


def _differences(F, x0, dirs, step, C, method, rtol, atol, f0):
    """Finite differences (m, n) per unit change of each input element, their error estimates,
    and the kinks: an entry that looks wrong is looked at again with one-sided differences."""
    with np.errstate(all="ignore"):   # f at perturbed points: NaNs are judged, not warned about
        r = fd.directional(F, x0, dirs, method, None, rtol, atol, f0=f0)
    V = (r.value / step[:, None]).T
    E = (r.error / step[:, None]).T
    kink = np.zeros(V.shape, dtype=bool)
    left = np.full(V.shape, np.nan)
    right = np.full(V.shape, np.nan)
    bad = _wrong(C, V, E, rtol, atol)
    cols = np.flatnonzero(bad.any(axis=0))
    if cols.size:   # max_t = 0: no step is trusted, so fd takes the one-sided differences at sqrt(eps)
        sub = (fd.Coordinates(dirs.index[cols], dirs.scale[cols]) if isinstance(dirs, fd.Coordinates)
               else dirs[cols])
        with np.errstate(all="ignore"):
            r2 = fd.directional(F, x0, sub, method, np.zeros(cols.size), rtol, atol, f0=f0)
        s2 = step[cols][:, None]
        V2, E2 = (r2.value / s2).T, (r2.error / s2).T
        look, sides = bad[:, cols], r2.kink.T
        kink[:, cols] = look & sides
        left[:, cols] = np.where(look & sides, (r2.left / s2).T, np.nan)
        right[:, cols] = np.where(look & sides, (r2.right / s2).T, np.nan)
        # agreeing sides replace the first estimate only where they clear the entry (a central
        # step that straddled a kink further away); a wrong entry keeps the more accurate one
        redo = look & ~sides & np.isfinite(V2) & np.isfinite(E2) & ~_wrong(C[:, cols], V2, E2, rtol, atol)
        V[:, cols] = np.where(redo, V2, V[:, cols])
        E[:, cols] = np.where(redo, E2, E[:, cols])
    return V, E, kink, left, right


def _first_bad(a: np.ndarray) -> str:
    bad = a[~np.isfinite(a)]
    return num(bad.flat[0]) if a.ndim == 0 else f"{num(bad.flat[0])} (in an array of shape {a.shape})"


def _moved(specs, moved, x, x0) -> str:
    parts = []
    for j in moved[:3]:
        s = next(s for s in specs if s.offset <= j < s.offset + s.size)
        idx = [int(i) for i in np.unravel_index(j - s.offset, s.shape)] if s.shape else []
        parts.append(f"{s.name}{idx if idx else ''} {num(x0[j])} -> {num(x[j])}")
    return ", ".join(parts) if parts else "the given point"


def _check_shape(g, want: tuple, what: str, arg: Arg, oshape: tuple, vjp: bool) -> np.ndarray:
    bad = g is None or isinstance(g, (str, bytes, dict))
    try:
        a = np.asarray(g, dtype=float)
    except (TypeError, ValueError):
        bad = True
    if bad or np.iscomplexobj(g):
        raise GradError(f"{what} returned {type(g).__name__} for {arg.name}, not a number or an array "
                        "of real numbers")
    if a.shape != want:
        if vjp:
            rule = f"a VJP has the shape of its argument, here {arg.name}: {want}"
        else:
            rule = (f"d(f)/d({arg.name}) has shape f's output shape + {arg.name}'s shape: "
                    f"{oshape} + {arg.shape} = {want}")
        hint = None
        if len(a.shape) == len(want) == 2 and a.shape == want[::-1] and want[0] != want[1]:
            hint = "transposed?"
        elif not vjp and a.shape == arg.shape == oshape and oshape:
            hint = (f"f's output has {arg.name}'s shape: its Jacobian is {want}; for an elementwise f "
                    f"write np.diag(...) of it, or a VJP, grad_f({arg.name}, g) = g * f'({arg.name}), "
                    "with vjp=True")
        elif a.size == int(np.prod(want, dtype=int)):
            hint = "the right number of entries in another shape: reshape it"
        raise GradError(f"{what} returned shape {a.shape} for {arg.name}; {rule}", hint=hint)
    return a


def _full_given(grad_f, args, specs, oshape, m, vjp, what) -> np.ndarray:
    """The hand-written Jacobian as (m, n): one call (a Jacobian), or one VJP per output element.
    args() gives fresh copies of the arguments for each call."""
    n = sum(s.size for s in specs)
    C = np.empty((m, n))
    if not vjp:
        parts = split(_call(grad_f, args(), what), len(specs), [s.name for s in specs], what)
        for s, g in zip(specs, parts):
            a = _check_shape(g, oshape + s.shape, what, s, oshape, False)
            C[:, s.offset:s.offset + s.size] = a.reshape(m, s.size)
        return C
    for e in range(m):
        if oshape:
            g = np.zeros(oshape)
            g.flat[e] = 1.0
        else:
            g = 1.0
        parts = split(_call(grad_f, [*args(), g], what), len(specs), [s.name for s in specs], what)
        for s, v in zip(specs, parts):
            a = _check_shape(v, s.shape, what, s, oshape, True)
            C[e, s.offset:s.offset + s.size] = a.reshape(-1)
    return C


def _directional_given(grad_f, args, specs, u, w, oshape, vjp, what) -> float:
    """uᵀ G w from the hand-written derivative: one Jacobian call, or one VJP seeded with u."""
    total = 0.0
    if vjp:
        g = u if oshape else 1.0
        parts = split(_call(grad_f, [*args(), g], what), len(specs), [s.name for s in specs], what)
        for s, v in zip(specs, parts):
            a = _check_shape(v, s.shape, what, s, oshape, True)
            total += float(a.reshape(-1) @ w[s.offset:s.offset + s.size])
        return total
    parts = split(_call(grad_f, args(), what), len(specs), [s.name for s in specs], what)
    m = int(np.prod(oshape, dtype=int))
    for s, g in zip(specs, parts):
        a = _check_shape(g, oshape + s.shape, what, s, oshape, False)
        total += float(np.ravel(u) @ (a.reshape(m, s.size) @ w[s.offset:s.offset + s.size]))
    return total


def _wrong(C, V, E, rtol, atol) -> np.ndarray:
    """check's rule: beyond the tolerance of the finite difference and beyond its error estimate
    (a NaN or infinite derivative where the finite difference is finite is wrong)."""
    with np.errstate(all="ignore"):
        fdok = np.isfinite(V) & np.isfinite(E)
        return fdok & (~np.isfinite(C) | (~np.isclose(C, V, rtol, atol) & ~(np.abs(C - V) <= E)))


def _rows(C, V, E, kink, left, right, rtol, atol, fname, xname, xshape, oshape, ishape, gname,
          location) -> list[Row]:
    with np.errstate(all="ignore"):
        bad = _wrong(C, V, E, rtol, atol) & ~kink
        undefined = ~(np.isfinite(V) & np.isfinite(E)) & ~kink
        compared = ~kink & ~undefined
        absd = np.where(compared, np.where(np.isfinite(C), np.abs(C - V), np.inf), 0.0)
        V = np.where(kink, np.nan, V)
        E = np.where(kink, np.nan, E)
        ref = np.abs(V)
        rel = np.where(absd == 0, 0.0, absd / ref)
        excess = absd / (atol + rtol * ref)
    what = f"d({fname})/d({xname})"
    rows = []
    m, n = C.shape
    directional = xshape is None
    for e in range(m):
        oi = [int(i) for i in np.unravel_index(e, oshape)] if oshape else []
        for j in range(n):
            if kink[e, j]:
                verdict, note = "kink", "not differentiable here: the one-sided differences disagree"
            elif undefined[e, j]:
                verdict, note = "undefined", "finite differences are not finite here: nothing to compare"
            elif bad[e, j]:
                verdict = "claim_wrong"
                note = (f"{gname} is wrong" if np.isfinite(C[e, j])
                        else f"{gname} gives {C[e, j]} where the derivative is finite")
            else:
                verdict, note = "ok", ""
            index = None if directional else oi + (
                [int(i) for i in np.unravel_index(j, ishape)] if ishape else [])
            rows.append(Row(0, fname, xname, index, "directional" if directional else "given",
                            float("nan"), float("nan"), float(V[e, j]), float(E[e, j]), float(C[e, j]),
                            what, location, float(absd[e, j]), float(rel[e, j]), float(excess[e, j]),
                            verdict, float(left[e, j]) if kink[e, j] else None,
                            float(right[e, j]) if kink[e, j] else None, note))
    return rows
