"""An independent reference evaluator for .grad files (tests only).

It walks the parser's tree of tuples with plain numpy, one function per construct, and
shares no code with the op table, the graph builder or the engine: a wrong forward rule
in gradcli.autodiff.ops, a wrong constant fold or a wrong broadcast in the engine cannot
hide behind it.  Derivatives come from central differences over this evaluator
(`derivative`), never from the engine.  Only the parser (the tree) is shared.

It supports what the tests write: inputs with defaults (overridden by `point`), consts,
defs, assignments, outputs, every function of the language and `index`.  Claims are
evaluated on request (`claims`).  Initialisers draw from the same seeded generator in
the same order as the builder, so `randn` inputs agree.
"""

from __future__ import annotations

import math

import numpy as np

from gradcli.errors import Source
from gradcli.language.syntax import parse


def _softmax(a):
    z = np.exp(a - np.max(a, axis=-1, keepdims=True))
    return z / z.sum(axis=-1, keepdims=True)


def _logsumexp(a):
    m = np.max(a, axis=-1)
    return m + np.log(np.exp(a - m[..., None]).sum(axis=-1))


def _index(a, i):
    a, i = np.asarray(a), np.asarray(i)
    if a.ndim == 1:
        return a[int(i)]
    return np.array([row[int(k)] for row, k in zip(a, i)])


def _max(*args):
    return np.max(args[0]) if len(args) == 1 else np.maximum(args[0], args[1])


UNARY = {
    "sin": np.sin, "cos": np.cos, "tan": np.tan, "exp": np.exp, "log": np.log, "sqrt": np.sqrt,
    "tanh": np.tanh, "sigmoid": lambda a: 1.0 / (1.0 + np.exp(-a)),
    "relu": lambda a: np.where(a > 0, a, 0.0), "abs": np.abs, "square": lambda a: a * a,
    "softmax": _softmax, "log_softmax": lambda a: np.log(_softmax(a)), "logsumexp": _logsumexp,
    "transpose": lambda a: np.transpose(a), "mean": lambda a: np.sum(a) / np.size(a),
}
FUNCTIONS = {
    **{k: (lambda f: lambda *a: f(*a))(f) for k, f in UNARY.items()},
    "max": _max,
    "min": lambda a, b: np.minimum(a, b),
    "sum": lambda a, axis=None: np.sum(a) if axis is None else np.sum(a, axis=int(axis)),
    "dot": lambda a, b: np.matmul(a, b),
    "index": _index,
}
BINARY = {"+": np.add, "-": np.subtract, "*": np.multiply, "/": np.divide, "@": np.matmul,
          "**": np.power}


class Reference:
    def __init__(self, text: str, point: dict | None = None, seed: int = 0):
        self.statements = parse(Source("<reference>", text))
        self.point = {k: np.asarray(v, dtype=float) for k, v in (point or {}).items()}
        self.rng = np.random.default_rng(seed)
        self.env: dict[str, object] = {}
        self.defs: dict[str, tuple] = {}
        self.inputs: list[str] = []
        self.outputs: list[str] = []
        self.claim_exprs: list[tuple] = []
        last = None
        for st in self.statements:
            if st[0] == "def":
                self.defs[st[3][0]] = ([p[0] for p in st[4]], st[5])
        for st in self.statements:
            kind = st[0]
            if kind == "input":
                name = st[3][0]
                self.inputs.append(name)
                default = None if st[5] is None else np.asarray(self.expr(st[5], {}), dtype=float)
                self.env[name] = self.point[name] if name in self.point else default
            elif kind in ("const", "assign"):
                name = st[3][0]
                if kind == "assign" and name in self.point:    # cut loose: d(u)/d(name) treats it as free
                    self.env[name] = self.point[name]
                else:
                    self.env[name] = np.asarray(self.expr(st[4], {}), dtype=float)
                if kind == "assign":
                    last = name
            elif kind == "output":
                self.outputs += [n[0] for n in st[3] if n[0] not in self.outputs]
            elif kind in ("claim_total", "claim_partial"):
                self.claim_exprs.append(st)
        if not self.outputs and last is not None:
            self.outputs = [last]

    def expr(self, ex, local):
        kind = ex[0]
        if kind == "num":
            return float(ex[3])
        if kind == "name":
            name = ex[3]
            if name in local:
                return local[name]
            if name in self.env:
                return self.env[name]
            return {"pi": math.pi, "e": math.e}[name]
        if kind == "neg":
            return -np.asarray(self.expr(ex[3], local))
        if kind == "bin":
            return BINARY[ex[3]](np.asarray(self.expr(ex[4], local), dtype=float),
                                 np.asarray(self.expr(ex[5], local), dtype=float))
        if kind == "attr":
            return np.transpose(self.expr(ex[3], local))
        if kind == "tensor":
            items = [np.asarray(self.expr(a, local), dtype=float) for a in ex[3]]
            return np.stack(np.broadcast_arrays(*items))
        if kind == "call":
            fname, args = ex[3], ex[4]
            if fname in self.defs:
                params, body = self.defs[fname]
                return self.expr(body, dict(zip(params, [self.expr(a, local) for a in args])))
            values = [self.expr(a, local) for a in args]
            if fname in ("randn", "rand", "zeros", "ones", "eye"):
                dims = tuple(int(v) for v in values)
                return {"randn": lambda: self.rng.standard_normal(dims), "rand": lambda: self.rng.random(dims),
                        "zeros": lambda: np.zeros(dims), "ones": lambda: np.ones(dims),
                        "eye": lambda: np.eye(dims[0])}[fname]()
            return FUNCTIONS[fname](*values)
        raise ValueError(f"the reference does not know {kind}")

    def value(self, name: str):
        return self.env[name]

    def text_value(self, text: str, env: dict | None = None):
        """The value of an expression written as text, names looked up in `env` first."""
        return self.expr(parse(Source("<expr>", text), start="expr_only"), dict(env or {}))

    def claims(self) -> dict[str, object]:
        """The value of each claim's expression, keyed `d(u)/d(v)` / `partial(u, v)`."""
        out = {}
        for st in self.claim_exprs:
            u, v = st[3][0], st[4][0]
            key = f"d({u})/d({v})" if st[0] == "claim_total" else f"partial({u}, {v})"
            out[key] = self.expr(st[5], {})
        return out


def outputs(text: str, point: dict | None = None, seed: int = 0) -> dict[str, np.ndarray]:
    ref = Reference(text, point, seed)
    return {o: np.asarray(ref.value(o), dtype=float) for o in ref.outputs}


def derivative(text: str, wrt: str, point: dict | None = None, output: str | None = None,
               seed: int = 0, h: float = 1e-6) -> np.ndarray:
    """d(output)/d(wrt) by central differences over the reference, shaped out.shape + wrt.shape.

    wrt may be an input or a named node (then cut loose: everything downstream recomputed)."""
    base = Reference(text, point, seed)
    out = output or base.outputs[0]
    x0 = np.asarray(base.value(wrt), dtype=float)
    f0 = np.asarray(base.value(out), dtype=float)
    result = np.zeros(f0.shape + x0.shape)
    flat = result.reshape(f0.shape + (-1,)) if x0.ndim else None
    for j in range(max(x0.size, 1)):
        values = []
        for sign in (1.0, -1.0):
            moved = x0.copy()
            if moved.ndim:
                moved.flat[j] += sign * h
            else:
                moved = moved + sign * h
            pt = {**{k: np.asarray(base.value(k)) for k in base.inputs}, **base.point, wrt: moved}
            values.append(np.asarray(Reference(text, pt, seed).value(out), dtype=float))
        d = (values[0] - values[1]) / (2 * h)
        if flat is not None:
            flat[..., j] = d
        else:
            result = d
    return result
