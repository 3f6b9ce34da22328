"""Fuzzing gradcli (issue 12): valid programs from the grammar, mutations of them, and a harness
that runs an input through eval, check, graph and grade's answer path, in this process.

    program(rng)        a valid .grad program (text): every statement kind (input with and
                        without a domain or a default, const, def, assignments, `;`, output,
                        claims d(u)/d(v) and partial(u, v), comments), every function of the
                        op table, tensors of consistent shapes (empty ones now and then),
                        tensor literals of nodes, `.T`, `^`, unary signs
    mutate(text, rng)   the text with tokens deleted, inserted, swapped or duplicated, random
                        characters and bytes, Unicode (look-alikes, combining marks, full-width
                        forms, bidi controls, NUL, CR), lines cut or joined; bytes, maybe not UTF-8
    run(data, rng)      the input through the four targets; an Outcome with what went wrong

`rng` is a random.Random: bench/fuzz.py seeds one per input, the hypothesis test
(tests/test_fuzz.py) gets one from `st.randoms()`, so both share every line here.
What counts as wrong: an exception escaping a command (a traceback), an exit status
outside {0, 1, 2}, an exit 2 whose message does not start FILE:LINE:COL when it is about
the file, grading raising at all, and on a valid program, reverse and forward mode or
finite differences disagreeing (`ENGINE BUG`, `AD ≠ FD` verdicts of check).
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from pathlib import Path

SHAPES = [(), (), (), (2,), (3,), (2, 3), (3, 2), (2, 2), (1,), (0,), (4,), (1, 3)]
UNARY = ["sin", "cos", "tan", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "abs", "square"]
SAFE = ["sin({})", "cos({})", "tanh({})", "sigmoid({})", "exp(-square({}))", "log(1 + square({}))",
        "sqrt(1 + square({}))", "square({})", "relu({})", "abs({})", "-{}", "+{}", "({})", "({}) ^ 2",
        "({}) ** 3", "1 / (2 + sin({}))", "exp(tanh({}))"]
BINARY = ["({} + {})", "({} - {})", "({} * {})", "({} / (3 + {}))", "max({}, {})", "min({}, {})",
          "({} * sin({}))", "(({}) ** 2 + {})"]
NUMBERS = ["2", "0.5", "1e-3", ".25", "3.", "2.5e1", "pi", "e", "-1", "0"]


def _dims(shape) -> str:
    return ", ".join(map(str, shape))


def _literal(shape, rng) -> str:
    if not shape:
        return repr(round(rng.uniform(-2, 2), rng.randint(0, 3)))
    if shape[0] == 0:
        return "zeros(0)" if len(shape) == 1 else f"zeros({_dims(shape)})"
    return "[" + ", ".join(_literal(shape[1:], rng) for _ in range(shape[0])) + "]"


class _Gen:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.names: dict[str, tuple] = {}      # name -> shape (inputs, consts, nodes)
        self.inputs: list[str] = []
        self.nodes: list[str] = []
        self.ops: dict[str, tuple] = {}        # node -> (elementwise?, its argument names) when known
        self.defs: list[tuple[str, int]] = []
        self.lines: list[str] = []
        self.consts: list[str] = []            # const lines, put after the inputs
        self.alive: set[str] = set()           # names that depend on an input

    def of(self, shape) -> list[str]:
        return [n for n, s in self.names.items() if s == shape]

    def empty(self, shape) -> str:
        """A const holding an empty tensor of this shape (a literal cannot be empty)."""
        name = "e_" + "_".join(map(str, shape))
        if name not in self.names:
            self.consts.append(f"const {name} = zeros({_dims(shape)})")
            self.names[name] = shape
        return name

    def live(self, text: str) -> bool:
        return any(tok in self.alive for tok in re.findall(r"[^\W\d]\w*", text))

    def leaf(self, shape) -> str:
        rng = self.rng
        pool = self.of(shape)
        if pool and rng.random() < 0.8:
            return rng.choice(pool)
        if 0 in shape:
            return self.empty(shape)
        if not shape:
            return rng.choice(NUMBERS) if rng.random() < 0.7 else rng.choice(self.of(()) or ["1"])
        scalars = self.of(())
        if shape[0] and len(shape) == 1 and scalars and rng.random() < 0.4:   # a literal of nodes
            return "[" + ", ".join(rng.choice(scalars + ["1"]) for _ in range(shape[0])) + "]"
        return _literal(shape, rng)

    def expr(self, shape, depth: int) -> str:
        rng = self.rng
        if depth <= 0 or rng.random() < 0.2:
            return self.leaf(shape)
        r = rng.random()
        if r < 0.3:
            return rng.choice(SAFE if rng.random() < 0.7 else [f + "({})" for f in UNARY]).format(
                self.expr(shape, depth - 1))
        if r < 0.55:
            a, b = shape, shape
            if shape and rng.random() < 0.3:
                a, b = rng.choice([(shape, ()), ((), shape)])
            form = rng.choice(BINARY)
            return form.format(self.expr(a, depth - 1), self.expr(b, depth - 1))
        if r < 0.62 and self.defs:
            name, arity = rng.choice(self.defs)
            return f"{name}(" + ", ".join(self.expr(shape, depth - 1) for _ in range(arity)) + ")"
        return self.shaped(shape, depth)

    def shaped(self, shape, depth: int) -> str:
        """An expression of this shape made by a shape-aware op (a reduction, @, softmax, ...)."""
        rng = self.rng
        d = depth - 1
        if not shape:
            choice = rng.randrange(7)
            src = rng.choice([(3,), (2, 3), (2,), (0,)])
            if choice == 0:
                return f"sum({self.expr(src, d)})"
            if choice == 1:
                return f"mean({self.expr(src, d)})"
            if choice == 2 and src[0]:
                return f"max({self.expr(src, d)})"
            if choice == 3:
                return f"logsumexp({self.expr((3,), d)})"
            if choice == 4:
                return f"dot({self.expr((3,), d)}, {self.expr((3,), d)})"
            if choice == 5:
                return f"index({self.expr((3,), d)}, {rng.randrange(3)})"
            return f"sum(softmax({self.expr((2,), d)}) * {self.expr((2,), d)})"
        if len(shape) == 1:
            n = shape[0]
            choice = rng.randrange(6)
            if choice == 0:
                return f"({self.expr((n, 2), d)} @ {self.expr((2,), d)})"
            if choice == 1:
                return f"({self.expr((2,), d)} @ {self.expr((2, n), d)})"
            if choice == 2 and n:
                return rng.choice(["softmax", "log_softmax"]) + f"({self.expr(shape, d)})"
            if choice == 3:
                return f"sum({self.expr((2, n), d)}, 0)"
            if choice == 4:
                return f"sum({self.expr((n, 3), d)}, -1)"
            if choice == 5 and n:
                rows = ", ".join(str(rng.randrange(3)) for _ in range(n))
                return f"index({self.expr((n, 3), d)}, [{rows}])"
            return self.leaf(shape)
        m, n = shape
        choice = rng.randrange(4)
        if choice == 0:
            return f"({self.expr((m, 2), d)} @ {self.expr((2, n), d)})"
        if choice == 1:
            return f"transpose({self.expr((n, m), d)})"
        if choice == 2:
            return f"({self.expr((n, m), d)}).T"
        if m and n:
            return f"softmax({self.expr(shape, d)})"
        return self.leaf(shape)

    def program(self) -> str:
        rng = self.rng
        for k in range(rng.randint(1, 3)):
            name = rng.choice(["x", "y", "z", "w", "θ", "b"]) + (str(k) if rng.random() < 0.5 else "")
            if name in self.names:
                continue
            shape = rng.choice(SHAPES)
            domain = f" in ({rng.choice(['-2', '-1', '0.1'])}, {rng.choice(['2', '3', '1.5'])})" \
                if rng.random() < 0.4 else ""
            if shape and rng.random() < 0.4 and 0 not in shape:
                default = f"{rng.choice(['randn', 'rand', 'ones'])}({_dims(shape)})"
            elif shape == (2, 2) and rng.random() < 0.3:
                default = "eye(2)"
            else:
                default = _literal(shape, rng)
            if domain and shape:
                default = f"0.5 * {default}" if "zeros" not in default else default
            if domain and not shape:
                default = repr(round(rng.uniform(0.2, 1.4), 3))
            self.lines.append(f"input {name}{domain} = {default}")
            self.names[name] = shape
            self.inputs.append(name)
            self.alive.add(name)
        head = len(self.lines)
        if rng.random() < 0.4:
            shape = rng.choice([(), (), (2,), (2, 2)])
            value = rng.choice(["2*pi", "0.5", "ones(2)", "eye(2)", "[1, -1]", "e^2"])
            if value in ("ones(2)", "[1, -1]"):
                shape = (2,)
            elif value == "eye(2)":
                shape = (2, 2)
            else:
                shape = ()
            self.lines.append(f"const c{len(self.lines)} = {value}")
            self.names[f"c{len(self.lines) - 1}"] = shape
        if rng.random() < 0.35:
            name = rng.choice(["f", "g", "h2", "act"])
            arity = rng.randint(1, 2)
            params = ["a", "b"][:arity]
            body = rng.choice(["a * a + sin(a)", "tanh(a) * 2", "sigmoid(a) - a"]) if arity == 1 else \
                rng.choice(["a * b + sin(a)", "max(a, b) - min(a, b)", "a / (2 + b * b)"])
            self.lines.append(f"def {name}({', '.join(params)}) = {body}")
            self.defs.append((name, arity))
        for k in range(rng.randint(1, 6)):
            shape = rng.choice([s for s in self.names.values()] + [()])
            text = self.expr(shape, rng.randint(1, 4))
            if not self.live(text) and rng.random() < 0.9:     # mostly nodes that depend on an input
                other = rng.choice(sorted(self.alive))
                extra = other if self.names[other] in ((), shape) else f"sum({other})"
                text = f"{text} + {rng.choice(['', '0.5*', 'sin(', 'square('])}{extra}" + \
                    (")" if text.endswith("(") else "")
                text = text.replace("sin(" + extra, f"sin({extra})").replace("square(" + extra, f"square({extra})")
            name = f"n{k}"
            self.names[name] = shape
            self.nodes.append(name)
            if self.live(text):
                self.alive.add(name)
            m = re.fullmatch(r"(\w+)\((\w+)\)", text)
            if m and m.group(1) in UNARY and m.group(2) in self.names:
                self.ops[name] = (True, [m.group(2)])
            sep = rng.choice(["\n", "\n", "\n", "; ", "  # a comment (with [brackets])\n"])
            self.lines.append(f"{name} = {text}" + ("" if sep == "\n" else sep.rstrip("\n")))
        live = [n for n in self.nodes if n in self.alive] or self.nodes
        out = self.nodes[-1]
        if rng.random() < 0.3 or out not in self.alive:
            outs = rng.sample(live, min(len(live), rng.randint(1, 2)))
            self.lines.append("output " + ", ".join(outs))
            out = outs[0]
        for _ in range(rng.randint(0, 3)):
            if rng.random() < 0.6 and self.inputs:
                v = rng.choice(self.inputs)
                u = out if self.names[out] == () and out in self.alive else None
                if u is None:
                    continue
                claim = self.expr(self.names[v], 2) if rng.random() < 0.5 else ("0*" + v if self.names[v] else "1")
                self.lines.append(f"d({u})/d({v}) = {claim}")
            elif self.ops:
                u, (_, args) = rng.choice(list(self.ops.items()))
                if u in self.alive and args[0] in self.alive:
                    self.lines.append(f"partial({u}, {args[0]}) = {self.expr(self.names[u], 1)}")
        self.lines[head:head] = self.consts
        return "\n".join(self.lines) + rng.choice(["\n", "", "\n\n# end\n"])


def program(rng: random.Random) -> str:
    """A valid program (shapes consistent; a value may still be undefined at its point)."""
    return _Gen(rng).program()


# ---------------------------------------------------------------- mutations

TOKEN = re.compile(r"\*\*|[A-Za-z_]\w*|\d+\.?\d*(?:[eE][+-]?\d+)?|\s+|.", re.S)
ODD = ["\u0445", "\u0430", "\u03bf", "\uff46", "\uff08", "e\u0301", "\u0301", "\u202e", "\u200b", "\0",
       "\r", "\x0c", "²", "−", "×", "·", "π", "√", "'", '"', "\\", "\t", "\ufeff", "\U0001f600", "ﬁ",
       "\u2028", "\x85", "$", "`", "{", "}", "!", "?", ":", "&", "|", "~", "<", ">", "%"]
PIECES = ["(", ")", "[", "]", ",", "=", "+", "-", "*", "/", "**", "^", "@", ".T", ";", "\n", " ", "#",
          "input ", "const ", "def ", "output ", " in ", "d(", ")/d(", "partial(", "x", "y", "n0", "1e999",
          "0", "1", "-1", "0.5", "sum(", "max(", "index(", "eye(", "zeros(", "ones(", "randn(", "softmax(",
          "1e308", "99999999", "e", "pi", "_1", "mean(", "logsumexp(", "transpose(", "dot("]


def mutate(text: str, rng: random.Random) -> bytes:
    """The text with a few random edits; bytes (sometimes not UTF-8)."""
    toks = TOKEN.findall(text) or [""]
    for _ in range(rng.randint(1, 4)):
        r = rng.random()
        k = rng.randrange(len(toks)) if toks else 0
        if r < 0.2 and len(toks) > 1:
            del toks[k]
        elif r < 0.4:
            toks.insert(k, rng.choice(PIECES))
        elif r < 0.5 and len(toks) > 1:
            j = rng.randrange(len(toks))
            toks[k], toks[j] = toks[j], toks[k]
        elif r < 0.6:
            toks.insert(k, rng.choice(ODD))
        elif r < 0.7 and toks:
            toks.insert(k, toks[rng.randrange(len(toks))])
        elif r < 0.78:
            toks.insert(k, chr(rng.choice([rng.randrange(32, 127), rng.randrange(0x80, 0x3000),
                                           rng.randrange(0, 32)])))
        elif r < 0.86 and toks:
            toks[k] = rng.choice(PIECES)
        elif r < 0.93:
            lines = "".join(toks).split("\n")
            i = rng.randrange(len(lines))
            if rng.random() < 0.5:
                del lines[i]
            else:
                lines.insert(i, lines[rng.randrange(len(lines))])
            toks = TOKEN.findall("\n".join(lines))
        else:
            toks.insert(k, rng.choice(["\n" + "(" * 40, "[" * 70, "-" * 500 + "x", "x" * 300, "1" * 400]))
    data = "".join(toks).encode("utf-8", "surrogatepass")
    if rng.random() < 0.05:
        at = rng.randrange(len(data) + 1)
        data = data[:at] + bytes([rng.choice([0xff, 0xc3, 0x80, 0xe2, 0x00])]) + data[at:]
    return data


# ---------------------------------------------------------------- the harness

LOCATED = re.compile(r"^(?P<file>.+?):(?P<line>\d+):(?P<col>\d+): error: ", re.M)
# Exit-2 messages about something other than a place in the file: options, the file as a whole.
UNLOCATED = ("error: --at", "error: at ", "error: --wrt", "error: --of", "error: Invalid value",
             "error: No such", "Usage:", "error: out of memory")


@dataclass
class Outcome:
    problems: list = field(default_factory=list)     # (target, what, detail)
    engine_bug: int = 0          # check: reverse and forward mode disagree
    ad_fd: int = 0               # check: AD ≠ FD on a valid program
    valid: bool = False          # the program was generated valid and evaluated (exit 0 or 1)
    statuses: dict = field(default_factory=dict)      # target -> exit status


def _invoke(args):
    from click.testing import CliRunner

    from gradcli.cli import main

    result = CliRunner().invoke(main, args, catch_exceptions=True)
    return result.exit_code, result.output, result.stderr, result.exception


def _check_cli(outcome: Outcome, target: str, args, path: str) -> int:
    code, out, err, exc = _invoke(args)
    outcome.statuses[target] = code
    if exc is not None and not isinstance(exc, SystemExit):
        import traceback

        outcome.problems.append((target, "traceback", "".join(traceback.format_exception(exc))[-2000:]))
        return code
    if "Warning:" in err:              # numpy's RuntimeWarning and the like: never shown to a user
        outcome.problems.append((target, "a warning on stderr", err[-500:]))
    if code not in (0, 1, 2):
        outcome.problems.append((target, f"exit {code}", err[-500:]))
    elif code == 2:
        first = err.strip().splitlines()[0] if err.strip() else ""
        m = LOCATED.match(first)
        if m is None and not first.startswith(UNLOCATED) and not first.startswith(f"error: {path}:"):
            outcome.problems.append((target, "exit 2 without FILE:LINE:COL", err[-500:]))
        elif m is not None and m.group("file") != path:
            outcome.problems.append((target, "exit 2 names another file", err[-500:]))
    return code


def _inputs(text: str) -> list[str]:
    return re.findall(r"(?m)^\s*input\s+([^\W\d]\w*)", text)


def run(data: bytes, rng: random.Random, folder: Path, valid: bool, exercises=None,
        check: bool = True) -> Outcome:
    """`data` through eval (a random mode, sometimes --at), check (1 random point), graph (a
    random format) and, for each of `exercises` (loaded Exercise objects), grade's answer path."""
    outcome = Outcome()
    path = folder / "input.grad"
    path.write_bytes(data)
    p = str(path)
    text = data.decode("utf-8", "replace")
    names = _inputs(text)
    at = []
    if names and rng.random() < 0.25:
        at = ["--at", f"{rng.choice(names)}={rng.choice(['0.5', 'zeros(0)', '[1, 2]', '[[1, 2], [3, 4]]', '-1', 'eye(2)'])}"]
    mode = rng.choice(["reverse", "forward"])
    ev = _check_cli(outcome, "eval", ["eval", p, "--mode", mode, *at, "--format", rng.choice(["text", "json"])], p)
    fmt = rng.choice(["text", "json", "dot", "mermaid", "python", "html"])
    extra = rng.choice([[], ["--mode", "forward"], ["--paths"], ["--paths", "--limit", "3"]])
    _check_cli(outcome, "graph", ["graph", p, "--format", fmt, *extra, *at], p)
    if check:
        method = rng.choice([[], [], ["--method", "central"], ["--method", "forward"], ["--fast"]])
        _check_cli(outcome, "check", ["check", p, "--random", "1", "--format", "json", *method, *at], p)
        if valid and ev in (0, 1) and not at:
            outcome.valid = True
            _fd_agreement(outcome, text, method)
    for ex in exercises or ():
        _grade(outcome, ex, text)
    return outcome


def _fd_agreement(outcome: Outcome, text: str, method) -> None:
    """check on a valid program: any ENGINE BUG or AD ≠ FD is a false alarm (the rules are right)."""
    from gradcli.check.core import check_program
    from gradcli.errors import GradError, Source
    from gradcli.language.program import bind, build

    try:
        program = build(Source("valid.grad", text))
        point = bind(program)
        report = check_program(program, point, random=1, seed=0, fast=True if method == ["--fast"] else None,
                               method=method[1] if method and method[0] == "--method" else None)
    except GradError:
        return
    except Exception as exc:  # noqa: BLE001  (a bug in check: reported, not raised)
        import traceback

        outcome.problems.append(("check", "traceback", "".join(traceback.format_exception(exc))[-2000:]))
        return
    for row in report.rows:
        if row.verdict == "engine_bug":
            outcome.engine_bug += 1
        elif row.verdict == "ad_fd_mismatch":
            outcome.ad_fd += 1
    if outcome.engine_bug or outcome.ad_fd:
        bad = next(r for r in report.rows if r.verdict in ("engine_bug", "ad_fd_mismatch"))
        outcome.problems.append(("check", bad.verdict, f"{bad.output}/{bad.input}{bad.index}: reverse "
                                 f"{bad.reverse!r} forward {bad.forward!r} FD {bad.fd!r} ± {bad.fd_error!r}"))


def _grade(outcome: Outcome, ex, text: str) -> None:
    """The text as a student's answer to `ex`: grading never raises; each failed item has feedback."""
    import traceback

    from gradcli.errors import Source
    from gradcli.grade.batch import Limits
    from gradcli.grade.tasks import grade_source

    try:
        result = grade_source(ex, Source("answer.grad", text), Limits())
    except Exception as exc:  # noqa: BLE001  (the point: nothing may escape)
        from gradcli.errors import GradError

        if isinstance(exc, GradError):      # what fails the whole answer: grade_file reports it
            return
        outcome.problems.append(("grade", "traceback", "".join(traceback.format_exception(exc))[-2000:]))
        return
    for task in result.tasks:
        for item in task.items:
            if not item.passed and not item.feedback:
                outcome.problems.append(("grade", "failed item without feedback", item.name))
