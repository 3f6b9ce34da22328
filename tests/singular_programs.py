"""Valid random .grad programs evaluated near a pole or the edge of a domain (issue 12, item 8).

`program(seed)` returns the text of a program whose output and derivative are finite at
its default point, which lies close (10⁻¹ … 10⁻¹¹, relatively) to a singularity of one of
its functions: 1/y, log, sqrt, tan, cos(y)/y, powers, log(sin y), …, composed with smooth
functions and other inputs.  Every derivative rule the engine uses is right, so any
"AD ≠ FD" that `check` reports on these programs is a false alarm.  Used by
tests/test_fd_singular.py (a bounded hypothesis property) and bench/check_singular.py
(thousands, by hand).
"""

from __future__ import annotations

import math
import random

# (template in y, where the singularities are as a function of the constant a, which side
# is defined: "both" for a pole, "above"/"below" for a domain edge)
ATOMS = [
    ("1/(y - {a})", "pole"),
    ("cos(y)/(y - {a})", "pole"),
    ("(y - {a})**(-2)", "pole"),
    ("exp(tanh(y))/(y - {a})**3", "pole"),
    ("1/(y*y - {a2})", "pole2"),
    ("log(y - {a})", "above"),
    ("sqrt(y - {a})", "above"),
    ("(y - {a})**0.5", "above"),
    ("(y - {a})**1.5", "above"),
    ("log({a} - y)", "below"),
    ("sqrt({a} - y)*y", "below"),
    ("y*log(y - {a})", "above"),
    ("tan(y)", "tan"),
    ("tan(2*y - {a})", "tan2"),
    ("1/sin(y)", "sinpole"),
    ("log(sin(y))", "sinedge"),
    ("sqrt(1 - y*y)", "unit"),
    ("y/(1 - y)", "one"),
]

OUTER = ["{}", "sin({})", "exp(tanh({}))", "square({})", "2*{} + x", "{} * x", "{} + sin(x)*x",
         "log(1 + square({}))", "sigmoid({})", "({}) / (1 + square(x))", "-{}"]


def _point(kind: str, a: float, rng: random.Random) -> tuple[float, str]:
    """A point near one of the atom's singularities, on a side where it is defined."""
    k = rng.uniform(1, 11)
    d = 10.0 ** -k
    sign = rng.choice((-1.0, 1.0))
    if kind == "pole":
        return a + sign * d * max(abs(a), 1), ""
    if kind == "pole2":
        r = math.sqrt(a)
        return rng.choice((-r, r)) + sign * d * max(r, 1), ""
    if kind == "above":
        return a + d * max(abs(a), 1), ""
    if kind == "below":
        return a - d * max(abs(a), 1), ""
    if kind in ("tan", "sinpole"):
        base = (math.pi / 2 if kind == "tan" else 0.0) + math.pi * rng.randint(-2, 2)
        return base + sign * d * max(abs(base), 1), ""
    if kind == "tan2":                      # 2y - a = pi/2 + k pi
        base = (math.pi / 2 + math.pi * rng.randint(-1, 1) + a) / 2
        return base + sign * d * max(abs(base), 1), ""
    if kind == "sinedge":                   # sin y > 0 near y = 0 or pi
        base = rng.choice((0.0, math.pi))
        return base + (d if base == 0 else -d * base), ""
    if kind == "unit":
        edge = rng.choice((-1.0, 1.0))
        return edge - edge * d, ""
    if kind == "one":
        return 1.0 + sign * d, ""
    raise ValueError(kind)


def program(seed: int) -> str:
    """A program near a singularity; see the module docstring."""
    rng = random.Random(seed)
    atom, kind = rng.choice(ATOMS)
    a = round(rng.uniform(-3, 3), rng.randint(0, 3))
    a2 = round(rng.uniform(0.2, 4), 2)
    if kind == "pole2":
        a = a2
    y, _ = _point(kind, a, rng)
    inner = atom.format(a=repr(a), a2=repr(a2))
    outer = rng.choice(OUTER)
    x = round(rng.uniform(-2, 2), 3)
    vector = rng.random() < 0.25            # y a vector of points near the singularity, f summed
    ys = "[" + ", ".join(repr(_point(kind, a, rng)[0]) for _ in range(3)) + "]" if vector else repr(y)
    body = outer.format("u")
    lines = [f"input y = {ys}", f"input x = {x!r}", f"u = {inner}", f"f = {f'sum({body})' if vector else body}"]
    if rng.random() < 0.3 and not vector:   # a second singular term on the same input
        atom2, kind2 = rng.choice([(t, k) for t, k in ATOMS if k in ("pole", "tan", "one")])
        b = round(y + rng.choice((-1, 1)) * 10 ** -rng.uniform(0.5, 3), 4) if kind2 == "pole" else a
        lines[-1] += f" + {atom2.format(a=repr(b), a2=repr(a2))}"
    if "x" not in lines[-1]:
        lines[-1] += " + 0*x"
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------- any program, anywhere

UNARY = ["sin({})", "cos({})", "tan({})", "exp({})", "log({})", "sqrt({})", "tanh({})", "sigmoid({})",
         "relu({})", "abs({})", "square({})", "-{}", "1/{}", "({})**2", "({})**0.5", "({})**-1.5",
         "log(1 + square({}))", "exp(-square({}))"]
BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / {})", "max({}, {})", "min({}, {})",
          "({})**({})"]
REDUCE = ["sum({})", "mean({})", "max({})", "logsumexp({})", "sum(softmax({}) * {})"]


def general_program(seed: int) -> str:
    """A random program of every kind of function at a random point (most valid, some not:
    the caller keeps those whose output and gradient are finite there)."""
    rng = random.Random(seed)
    vector = rng.random() < 0.3
    leaves = ["x", "y", "x", "y", repr(round(rng.uniform(-2, 2), 2))]

    def expr(depth):
        if depth == 0 or rng.random() < 0.25:
            return rng.choice(leaves)
        if rng.random() < 0.55:
            return rng.choice(UNARY).format(expr(depth - 1))
        a, b = expr(depth - 1), expr(depth - 1)
        return rng.choice(BINARY).format(a, b)

    def point():
        return repr(round(rng.uniform(-3, 3), rng.randint(1, 12)))

    body = expr(rng.randint(1, 5))
    if vector:
        reduce = rng.choice(REDUCE)
        body = reduce.format(body, body) if reduce.count("{}") == 2 else reduce.format(body)
        xs = "[" + ", ".join(point() for _ in range(3)) + "]"
    else:
        xs = point()
    return f"input x = {xs}\ninput y = {point()}\nf = {body} + 0*y + 0*sum(x)\n"
