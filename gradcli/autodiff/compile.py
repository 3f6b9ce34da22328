"""The compiled path: a program lowered to straight-line Python source, compiled once.

`Lower` turns a program, at the shapes of one point, into source: one line per node
for the values, one per edge for the adjoints (reverse mode) or the tangents (forward
mode), each pasted from the op's templates in ops.py (`Op.source`).  Scalars become
Python floats with `math`; tensors stay numpy arrays.  An op without a template is
called through its rule in the table (`op_softmax(v3)`).  The source is built from
node ids and the op table only: a value is `v12`, its adjoint `g12`, its tangent
`t12`; nothing the file wrote (no name, no text) is ever pasted into it.

A kernel is one such function, compiled with `compile()` once it is worth it (see
`Kernels.get`) and cached three ways: on the program (its plan's entry for the input
shapes), in memory by a key that digests everything the source depends on (`signature`:
another Program of the same content, e.g. the same file loaded again, finds it), and on
disk under that key in the user's cache directory (another process:
`$XDG_CACHE_HOME/gradcli/code`, else `~/.cache/gradcli/code`), as the marshalled code
object, as Python's own `__pycache__` does.

A kernel gives up (returns None) on any exception -- a float division by zero or
`math.log(0)` where numpy would give inf or NaN, `index` out of range -- and the
engine then runs its interpreter, which is the reference: its values, its errors.
"""

from __future__ import annotations

import hashlib
import importlib.util
import marshal
import math
import os
import re
from pathlib import Path

import numpy as np

from . import ops
from .ops import _sum_to

POLICY = os.environ.get("GRADCLI_COMPILE", "auto")  # auto | always | never
LOOKUP = 2             # the call of a kernel (same program, shapes, kind) that looks in the caches
THRESHOLD_SCALAR = 80  # ... that compiles it, on floats: compile() costs ~80 interpreted calls
THRESHOLD_TENSOR = 8   # ... with numpy: the interpreter's overhead per op is larger
MAX_NODES = 250_000    # larger programs stay interpreted (compile() needs ~1 KB per line)
CACHE_FILES = 512      # at most this many kernels on disk; the oldest go first
MEMORY = 64            # kernels kept in memory by key

MATH = ("sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "pow", "fabs")
HELPERS = ("sigmoid", "sigmoid_array", "maximum", "minimum")

STATS = {"compiled": 0, "loaded": 0, "runs": 0, "fallbacks": 0}  # for tests and benchmarks


# ---------------------------------------------------------------- the namespace

def _fit(c, shape):
    """A rule's result summed back to its argument's shape (what engine.vjp does)."""
    return c if np.shape(c) == shape else _sum_to(np.asarray(c), shape)


_BASE = {"np": np, "_fit": _fit, **{f: getattr(math, f) for f in MATH},
         **{h: getattr(ops, h) for h in HELPERS}}
_RULE = re.compile(r"op_(\w+?)(?:_(vjp|jvp|d)(\d+))?$")
_SEEN: dict[str, object] = {}   # ops lowered in this process by name (the table's, or a test's own)


def _rule_object(name: str):
    """`op_softmax` -> softmax's forward; `op_stack_vjp2` -> stack's VJP for argument 2;
    `op_sin_d0` -> an elementwise op's local partial (ops without templates)."""
    m = _RULE.match(name)
    op = (_SEEN.get(m.group(1)) or ops.OPS.get(m.group(1))) if m else None
    if op is None:
        return None
    if m.group(2) is None:
        return op.fwd
    k = int(m.group(3))
    if m.group(2) == "d":
        p = op.partials[k]
        return p if callable(p) else (lambda *a, p=p: p)
    return op.vjp_rule(k) if m.group(2) == "vjp" else op.jvp_rule(k)


def _names(code) -> set[str]:
    out = set(code.co_names)
    for c in code.co_consts:
        if hasattr(c, "co_names"):
            out |= _names(c)
    return out


def namespace(code) -> dict:
    """The globals a kernel runs with: numpy, math's functions, the helpers of ops.py and
    the op rules its source names (resolved from the names alone, so a kernel loaded
    from disk finds the same ones)."""
    ns = dict(_BASE)
    for name in _names(code):
        if name.startswith("op_") and name not in ns:
            rule = _rule_object(name)
            if rule is not None:
                ns[name] = rule
    return ns


# ---------------------------------------------------------------- lowering

_ATOM = re.compile(r"-?[\w.]+|[\w.]+\([\w., ]*\)")


def _paren(expr: str) -> str:
    """expr, parenthesised unless it is a name, a number or a call of names."""
    return expr if _ATOM.fullmatch(expr) else f"({expr})"


def _times(x: str, d: str, names: list, i: int) -> str:
    """x times the local partial d (an op table template over the arguments' names), as source:
    an adjoint in reverse mode, a tangent in forward mode."""
    return x if d == "1" else f"-{x}" if d == "-1" else f"{x} * {_paren(d.format(*names, out=f'v{i}'))}"


def _sum_to_expr(c: str, shape_c: tuple, shape: tuple) -> str:
    """`_sum_to(c, shape)` as source, for a c of known shape (the same two sums)."""
    lead = len(shape_c) - len(shape)
    if lead:
        c = f"np.sum({c}, axis={tuple(range(lead))})"
        shape_c = shape_c[lead:]
    axes = tuple(i for i, n in enumerate(shape) if n == 1 and shape_c[i] != 1)
    if axes:
        c = f"np.sum({c}, axis={axes}, keepdims=True)"
    return c


UNIT = "1.0"   # an adjoint known to be 1.0 (the default seed of a scalar output, on floats)
_BARE = re.compile(r"[vgt]\d+|seed|-?1\.0")


class Lower:
    """Source for the nodes of `program` at the shapes of the values `vals` (one point).

    `fwd(i)` is node i's value as an expression of its arguments' names; `vjp(i, k, g)`
    the contribution of adjoint g to its argument k; `jvp(i, k, t)` the contribution
    of argument k's tangent t to its tangent.  Argument j of node i is `v<j>`.

    `scalar`: every value is a float, and every line uses the float templates (`math`);
    otherwise every line uses numpy's, scalars included, as the interpreter does -- so
    a kernel and the interpreter compute exactly the same numbers.
    """

    def __init__(self, program, vals, scalar: bool):
        self.program = program
        self.nodes = program.nodes
        self.vals = vals
        self.scalar_program = scalar
        self._shapes: dict[int, tuple] = {}
        self.tensor = False        # does any line need numpy?

    def shape(self, i: int) -> tuple:
        if self.scalar_program:
            return ()
        s = self._shapes.get(i)
        if s is None:
            s = self._shapes[i] = tuple(np.shape(self.vals[i]))
        return s

    def _code(self, i):
        node = self.nodes[i]
        op = node.op
        if op.elementwise and op.code is not None:
            return op.code
        code = op.source([self.shape(a) for a in node.args], node.params)
        if code is None:
            _SEEN[op.name] = op
        return code

    def _args(self, i):
        node = self.nodes[i]
        return [f"v{a}" for a in node.args], [str(int(p)) for p in node.params]

    def fwd(self, i: int) -> str:
        node = self.nodes[i]
        names, params = self._args(i)
        code = self._code(i)
        scalar = self.scalar_program
        tpl = None if code is None else (code.fwd if scalar and code.fwd else code.fwd_np)
        if not scalar or tpl is None or "np." in tpl:
            self.tensor = True
        if tpl is None:
            return f"op_{node.op.name}({', '.join(names + params)})"
        return tpl.format(*names, out=f"v{i}")

    def _partial(self, i, k):
        """The elementwise partial's template for argument k, and the shape of its value."""
        node = self.nodes[i]
        code = self._code(i)
        scalar = self.scalar_program
        if code is None:   # no template: the op's own partial
            d = f"op_{node.op.name}_d{k}({', '.join(['{out}'] + [f'{{{j}}}' for j in range(len(node.args))])})"
            scalar = False
        else:
            d = (code.d if scalar else code.d_np)[k]
        if scalar or d in ("1", "-1"):
            return d, ()
        from .engine import local_partial

        with np.errstate(all="ignore"):
            p = local_partial(node.op, k, self.vals[i], [self.vals[a] for a in node.args])
        return d, tuple(np.shape(p))

    def vjp(self, i: int, k: int, g: str) -> str:
        node = self.nodes[i]
        op = node.op
        a = node.args[k]
        names, params = self._args(i)
        if op.elementwise:
            d, pshape = self._partial(i, k)
            if g == UNIT:       # 1.0 * p is p exactly: the interpreter's numbers, one product fewer
                return "1.0" if d == "1" else "-1.0" if d == "-1" else d.format(*names, out=f"v{i}")
            c = _times(g, d, names, i)
            if not self.scalar_program:
                self.tensor = True
                cshape = np.broadcast_shapes(self.shape(i), pshape)
                if cshape != self.shape(a):
                    c = _sum_to_expr(c, cshape, self.shape(a))
            return c
        self.tensor = True
        code = self._code(i)
        tpl = code.vjp[k] if code is not None and code.vjp else None
        if tpl is not None:
            return tpl.format(*names, out=f"v{i}", g=g)
        rule = f"op_{op.name}_vjp{k}({', '.join([g, f'v{i}'] + names + params)})"
        return f"_fit({rule}, {self.shape(a)})"

    def jvp(self, i: int, k: int, t: str) -> str:
        node = self.nodes[i]
        op = node.op
        a = node.args[k]
        names, params = self._args(i)
        if op.elementwise:
            d, pshape = self._partial(i, k)
            c = _times(t, d, names, i)
            if not self.scalar_program:
                self.tensor = True
                if np.broadcast_shapes(self.shape(a), pshape) != self.shape(i):
                    c = f"np.broadcast_to({c}, {self.shape(i)})"
            return c
        self.tensor = True
        code = self._code(i)
        tpl = code.jvp[k] if code is not None and code.jvp else None
        if tpl is not None:
            return tpl.format(*names, out=f"v{i}", t=t)
        return f"op_{op.name}_jvp{k}({', '.join([t, f'v{i}'] + names + params)})"

    # ------------------------------------------------------------ the three kernels
    def forward_lines(self, stop: int | None = None) -> list[tuple[str, str, int]]:
        """(target, expression, node id) per node: the values, in order (up to node `stop`)."""
        out = []
        for node in self.nodes if stop is None else self.nodes[: stop + 1]:
            i = node.id
            if node.kind == "op":
                out.append((f"v{i}", self.fwd(i), i))
        return out

    def backward_lines(self, output: int, live, seed: str = "seed", alias: bool = True):
        """(target, expression, node id, argument) per contribution, and per node the name
        holding its adjoint (None: no adjoint, UNIT: 1.0).

        Mirrors engine.backward: nodes from the output down, each live, differentiable
        argument's contribution added to its adjoint in argument order.  `seed` names the
        output's adjoint, or is UNIT (1.0, floats only: every product with it is left out).
        `alias`: an adjoint passed on unchanged (`+`, `=`, a product with 1.0) is not
        copied: the argument's adjoint is that name.
        """
        nodes = self.nodes
        name: list = [None] * len(nodes)
        name[output] = seed
        out = []
        for i in range(output, -1, -1):
            node = nodes[i]
            g = name[i]
            if g is None or node.kind != "op":
                continue
            op = node.op
            for k, a in enumerate(node.args):
                if not live[a] or not op.differentiable(k):
                    continue
                c = self.vjp(i, k, g)
                if name[a] is not None:
                    out.append((f"g{a}", f"{name[a]} + {_paren(c)}", i, k))
                    name[a] = f"g{a}"
                elif alias and (c == g or _BARE.fullmatch(c)):   # a name or 1.0: no copy
                    name[a] = c
                else:
                    out.append((f"g{a}", c, i, k))
                    name[a] = f"g{a}"
        return out, name

    def tangent_lines(self, seeded, stop, alias: bool = True):
        """(target, expression, node id, argument) per contribution of forward mode from the seeded
        nodes (their tangents are `t<id>`), up to node `stop`, and per node the name holding
        its tangent (None: none), as engine.tangents computes them."""
        nodes = self.nodes
        name: list = [None] * len(nodes)
        for x in seeded:
            name[x] = f"t{x}"
        out = []
        for node in nodes:
            i = node.id
            if node.kind != "op":
                continue
            if stop is not None and i > stop:
                break
            op = node.op
            parts = [(self.jvp(i, k, name[a]), k) for k, a in enumerate(node.args)
                     if name[a] is not None and op.differentiable(k)]
            if not parts:
                continue
            if alias and len(parts) == 1 and re.fullmatch(r"t\d+", parts[0][0]):
                name[i] = parts[0][0]
                continue
            out.append((f"t{i}", parts[0][0], i, parts[0][1]))
            for c, k in parts[1:]:
                out.append((f"t{i}", f"t{i} + {_paren(c)}", i, k))
            name[i] = f"t{i}"
        return out, name


# ---------------------------------------------------------------- kernel sources

_VALUE = re.compile(r"\bv(\d+)\b")
_CALLED = re.compile(r"(?<![\w.])([A-Za-z_]\w*)(?=\(|\.)")


def _unpack(var: str, names: dict, total: int, chunk: int = 256) -> list[str]:
    """Lines reading var[j] into names[j] (j < total), a slice at a time: `v0, _, v2, = V[0:3]`
    unpacks in one instruction where `v0 = V[0]` would take four per value."""
    out = []
    for lo in range(0, total, chunk):
        hi = min(total, lo + chunk)
        got = [names.get(j, "_") for j in range(lo, hi)]
        if any(n != "_" for n in got):
            out.append(f"    {', '.join(got)}, = {var}[{lo}:{hi}]")
    return out


def _loads(body: str, total: int) -> list[str]:
    """The values the body reads, from V."""
    return _unpack("V", {int(m): f"v{m}" for m in _VALUE.findall(body)}, total)


def _locals(body: str) -> str:
    """The functions the body calls, as default arguments: LOAD_FAST, not LOAD_GLOBAL."""
    used = sorted({m for m in _CALLED.findall(body) if m in _BASE or m.startswith("op_")})
    return "".join(f", {m}={m}" for m in used)


def _listing(names) -> str:
    return "[" + ", ".join(n or "None" for n in names) + "]"


def forward_source(low: Lower) -> str:
    """`forward(X, C)`: X the inputs' values (program.inputs order), C the constants' (node order)."""
    lines = low.forward_lines()
    body = "\n".join(f"    {t} = {e}" for t, e, _ in lines)
    inputs = low.program.inputs
    consts = [n.id for n in low.nodes if n.kind == "const"]
    head = _unpack("X", {j: f"v{i}" for j, i in enumerate(inputs)}, len(inputs))
    head += _unpack("C", {j: f"v{i}" for j, i in enumerate(consts)}, len(consts))
    return "\n".join([f"def forward(X, C{_locals(body)}):", *head, body,
                      f"    return {_listing(f'v{i}' for i in range(len(low.nodes)))}", ""])


def value_source(low: Lower, node: int) -> str:
    """`value(X, C)`: node's value alone, each array freed once nothing needs it (a finite
    difference needs no other value, and a large input's values are large)."""
    nodes = low.nodes
    need = [False] * len(nodes)
    need[node] = True
    for i in range(node, -1, -1):
        if need[i]:
            for a in nodes[i].args:
                need[a] = True
    last: dict[int, int] = {}
    for i in range(node + 1):
        if need[i]:
            for a in nodes[i].args:
                last[a] = i
    inputs = low.program.inputs
    consts = [n.id for n in nodes if n.kind == "const"]
    lines = _unpack("X", {j: f"v{i}" for j, i in enumerate(inputs) if i <= node and need[i]}, len(inputs))
    lines += _unpack("C", {j: f"v{i}" for j, i in enumerate(consts) if i <= node and need[i]}, len(consts))
    for target, expr, i in low.forward_lines(stop=node):
        if not need[i]:
            continue
        lines.append(f"    {target} = {expr}")
        dead = sorted({a for a in nodes[i].args if last.get(a) == i and a != node})
        if dead and not low.scalar_program:
            lines.append(f"    del {', '.join(f'v{a}' for a in dead)}")
    body = "\n".join(lines)
    return "\n".join([f"def value(X, C{_locals(body)}):", body, f"    return v{node}", ""])


def backward_source(low: Lower, output: int, live, unit: bool = False) -> str:
    """`backward(V, seed)`: V the values, seed the output's adjoint (`unit`: it is 1.0)."""
    lines, names = low.backward_lines(output, live, UNIT if unit else "seed")
    body = "\n".join(f"    {t} = {e}" for t, e, *_ in lines)
    ret = f"    return {_listing(names)}"
    return "\n".join([f"def backward(V, seed{_locals(body)}):", *_loads(body + ret, len(low.nodes)), body,
                      ret, ""])


def tangent_source(low: Lower, seeded, stop) -> str:
    """`tangents(V, T)`: V the values, T the seeded nodes' tangents (in `seeded` order)."""
    lines, names = low.tangent_lines(seeded, stop)
    body = "\n".join(f"    {t} = {e}" for t, e, *_ in lines)
    head = [f"    t{x} = T[{j}]" for j, x in enumerate(seeded)]
    ret = f"    return {_listing(names)}"
    return "\n".join([f"def tangents(V, T{_locals(body)}):", *_loads(body + ret, len(low.nodes)), *head, body,
                      ret, ""])


# ---------------------------------------------------------------- caches

_MEMORY: dict[bytes, tuple] = {}
_GENERATOR: list[bytes] = []


def _generator() -> bytes:
    """What the sources depend on besides the program: this module and the op table."""
    if not _GENERATOR:
        from .. import __version__

        digest = hashlib.sha256(importlib.util.MAGIC_NUMBER + __version__.encode())
        for module in (ops, __import__(__name__, fromlist=["_"])):
            try:
                digest.update(Path(module.__file__).read_bytes())
            except (OSError, TypeError):
                digest.update(b"?")
        _GENERATOR.append(digest.digest())
    return _GENERATOR[0]


def signature(program) -> bytes | None:
    """A digest of everything a program's kernels depend on: each node's kind, op, arguments
    and parameters, the constants' shapes, the inputs.  None when an op is not the table's
    own (a test's stand-in): such a program's kernels are kept on the program only."""
    table = ops.OPS
    parts = []
    for n in program.nodes:
        if n.kind == "op":
            if table.get(n.op.name) is not n.op:
                return None
            parts.append((n.op.name, n.args, n.params))
        elif n.kind == "const":
            parts.append(np.shape(n.value))
        else:
            parts.append(n.kind)
    data = marshal.dumps((parts, tuple(program.inputs)))
    return hashlib.sha256(_generator() + data).digest()


def cache_dir() -> Path | None:
    """$XDG_CACHE_HOME/gradcli/code (an absolute XDG_CACHE_HOME only, as the spec says), else
    ~/.cache/gradcli/code; None when it cannot be made ours alone (then memory only)."""
    base = os.environ.get("XDG_CACHE_HOME", "")
    root = Path(base) if os.path.isabs(base) else Path.home() / ".cache"
    path = root / "gradcli" / "code"
    try:
        path.mkdir(parents=True, exist_ok=True, mode=0o700)
        st = path.stat()
    except OSError:
        return None
    if hasattr(os, "getuid") and (st.st_uid != os.getuid() or st.st_mode & 0o022):
        return None   # someone else's directory, or writable by others: do not load code from it
    return path


def _from_disk(key: bytes):
    folder = cache_dir()
    if folder is None:
        return None
    path = folder / f"{key.hex()}.code"
    try:
        with open(path, "rb") as fh:
            if hasattr(os, "getuid") and os.fstat(fh.fileno()).st_uid != os.getuid():
                return None
            tensor, code = marshal.loads(fh.read())
    except (OSError, ValueError, EOFError, TypeError):
        return None
    try:
        os.utime(path)   # recently used: pruned last
    except OSError:
        pass
    return bool(tensor), code


def _to_disk(key: bytes, held) -> None:
    folder = cache_dir()
    if folder is None:
        return
    tmp = folder / f".{key.hex()}.{os.getpid()}.tmp"
    try:
        with open(tmp, "wb") as fh:
            fh.write(marshal.dumps(held))
        os.replace(tmp, folder / f"{key.hex()}.code")
        files = list(folder.glob("*.code"))
        if len(files) > CACHE_FILES:
            files.sort(key=lambda p: p.stat().st_mtime)
            for old in files[: len(files) - CACHE_FILES * 3 // 4]:
                old.unlink(missing_ok=True)
    except (OSError, ValueError):
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass


def _remember(key, held):
    if key is None:
        return
    if len(_MEMORY) >= MEMORY:
        del _MEMORY[next(iter(_MEMORY))]
    _MEMORY[key] = held


def _function(code):
    """The function a kernel's module code defines, in its namespace."""
    ns = namespace(code)
    exec(code, ns)  # noqa: S102  (source made by Lower from node ids and the op table only)
    return ns[next(c.co_name for c in code.co_consts if hasattr(c, "co_name"))]


class Kernel:
    """A compiled function and whether it needs numpy's errstate (any tensor line)."""

    __slots__ = ("fn", "tensor")

    def __init__(self, fn, tensor: bool):
        self.fn, self.tensor = fn, tensor

    def __call__(self, *args):
        """The function's result, or None if it raised (the interpreter then runs)."""
        try:
            if self.tensor:
                with np.errstate(all="ignore"):
                    out = self.fn(*args)
            else:
                out = self.fn(*args)
        except Exception:  # noqa: BLE001  (any surprise: the interpreter is the reference)
            STATS["fallbacks"] += 1
            return None
        STATS["runs"] += 1
        return out


_FAILED = object()


class Kernels:
    """The kernels of one program at one shape key, and how often each was wanted."""

    __slots__ = ("calls", "made", "scalar")

    def __init__(self, scalar: bool):
        self.calls: dict = {}
        self.made: dict = {}
        self.scalar = scalar       # every value a float: math templates, and a higher threshold

    def get(self, kind, program, shapes, make) -> Kernel | None:
        """The kernel for `kind` if made, or made now if it is worth it.

        A kernel already compiled (in this process, or on disk by another) is taken at the
        second call; compiling one costs as many interpreted calls as THRESHOLD says, so it
        is compiled only at that call (never for a one-shot `eval`).  `make()` returns the
        source and whether it needs numpy; `shapes` is the inputs' shapes (the key).
        """
        if POLICY == "never":
            return None
        k = self.made.get(kind)
        if k is not None:
            return None if k is _FAILED else k
        if len(program.nodes) > MAX_NODES:
            return None
        n = self.calls.get(kind, 0) + 1
        self.calls[kind] = n
        always = POLICY == "always"
        if not always and n < LOOKUP:
            return None
        key = None
        if always or n == LOOKUP or n >= self.threshold(kind):
            sig = program_signature(program)
            if sig is not None:
                key = hashlib.sha256(sig + marshal.dumps((shapes, self.scalar, kind))).digest()
                held = _MEMORY.get(key) or _from_disk(key)
                if held is not None:
                    STATS["loaded"] += 1
                    _remember(key, held)
                    return self._keep(kind, held)
        if not always and n < self.threshold(kind):
            return None
        try:
            source, tensor = make()
            held = (tensor, compile(source, "<gradcli kernel>", "exec"))
        except Exception:  # noqa: BLE001  (compile() refusing a giant, anything: the interpreter runs)
            self.made[kind] = _FAILED
            return None
        STATS["compiled"] += 1
        if key is not None:
            _remember(key, held)
            _to_disk(key, held)
        return self._keep(kind, held)

    def threshold(self, kind) -> int:
        return THRESHOLD_SCALAR if self.scalar else THRESHOLD_TENSOR

    def _keep(self, kind, held):
        tensor, code = held
        k = self.made[kind] = Kernel(_function(code), tensor)
        return k


def program_signature(program):
    """signature(program), computed once per program (kept on it)."""
    sig = program.__dict__.get("_signature", False)
    if sig is False:
        sig = program._signature = signature(program)
    return sig
