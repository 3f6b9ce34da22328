"""An exercise folder: exercise.toml validated (errors point at the key), the problem, the reference.

The reference is computed once per exercise: the sample points (the default point
first, then `samples` seeded random points in the inputs' domains, redrawn where
the reference is undefined), the problem's outputs there and the Jacobian of every
output w.r.t. every input, all in one batched pass.
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import GradError, Source, did_you_mean
from ..language.program import Program, domain, fixed_inputs, load
from . import batch
from ..numbers import nested, num, shape_words

KINDS = ("derivative", "graph", "forward", "reverse", "edges", "value")
FORMS = ("formula", "number", "any")
VISIBILITY = ("hidden", "after_due_date", "after_published", "visible")   # Gradescope's values
TOP_KEYS = {"title": str, "statement": str, "problem": str, "answer": str, "samples": int,
            "seed": int, "rtol": float, "atol": float, "sigfigs": int, "follow_through": bool,
            "tasks": list}
TASK_KEYS = {"kind": str, "of": list, "wrt": list, "form": str, "points": float, "sigfigs": int,
             "distinct": bool, "zeros": bool, "visibility": str, "choices": list}
# Which kinds take which of the keys that only some kinds have.
ONLY = {"distinct": ("graph",), "zeros": ("forward", "derivative"), "choices": ("value",)}
MAX_SAMPLES = 1000
MAX_SIGFIGS = 12
SOLUTION = "solution.grad"
FEEDBACK_ELEMENTS = 64   # feedback lists a value of at most this many elements, else its range


@dataclass
class Task:
    kind: str
    of: list[str]
    wrt: list[str]
    form: str = "any"
    points: float = 1.0
    sigfigs: int = 4
    distinct: bool = False          # graph: no sub-expression computed twice
    zeros: bool = False             # forward/derivative: derivatives that are 0 everywhere are items
    visibility: str | None = None   # Gradescope's visibility of this task's test
    choices: list[str] = field(default_factory=list)   # value: the words an answer may use
    label: str = ""                 # how feedback names the task: its kind, numbered if repeated


@dataclass
class Exercise:
    id: str
    folder: Path
    title: str
    statement: str
    problem_file: str
    answer_file: str
    samples: int
    seed: int
    rtol: float
    atol: float
    tasks: list[Task]
    sigfigs: int = 4
    follow_through: bool = True
    program: Program | None = None
    inputs: list[str] = field(default_factory=list)      # the problem's input names, in order
    outputs: list[str] = field(default_factory=list)
    points: dict[str, np.ndarray] = field(default_factory=dict)   # input name -> (B,)+shape
    B: int = 1
    values: dict[str, np.ndarray] = field(default_factory=dict)   # node name -> (B,)+shape
    jac: dict[tuple[str, str], np.ndarray] = field(default_factory=dict)   # (out, input) -> Jacobian
    adjoints: dict[str, list] = field(default_factory=dict)      # out -> per problem node d(out)/d(node)
    vals: list = field(default_factory=list)           # every problem node's value, (B,)+shape or (1,)+shape
    zero: set = field(default_factory=set)             # (out, input) pairs whose derivative is 0 everywhere

    @property
    def words(self) -> dict[str, float]:
        """The words value tasks let an answer use, each standing for its place (1, 2, ...)."""
        return {w: float(k + 1) for t in self.tasks for k, w in enumerate(t.choices)}

    @property
    def max_score(self) -> float:
        return round(sum(t.points for t in self.tasks), 4)

    def describe_point(self, b: int, limit: int = 6) -> str:
        """'the default point (x = 0.785398)' or 'random point 3 (x = 1.2, W: a 4×4 matrix)':
        every input is named, a large one by its shape only."""
        where = "the default point" if b == 0 else f"random point {b}"
        parts = []
        for name in self.inputs:
            v = self.points[name][b]
            parts.append(f"{name}: {shape_words(np.shape(v))}" if np.size(v) > limit
                         else f"{name} = {fmt(v)}")
        return where + (f" ({', '.join(parts)})" if parts else "")


def fmt(value) -> str:
    """A value in feedback (gradcli.numbers, on one line); rounding noise such as 4.4e-16 reads as 0."""
    a = np.asarray(value, dtype=float)
    with np.errstate(invalid="ignore"):
        a = np.where(np.abs(a) < 1e-12, 0.0, a)
    if a.size > FEEDBACK_ELEMENTS:
        finite = a[np.isfinite(a)]
        span = f" with entries from {num(finite.min())} to {num(finite.max())}" if finite.size else ""
        return shape_words(a.shape) + span
    return nested(a)


# ---------------------------------------------------------------- exercise.toml

def _locate(text: str, key: str, task: int | None = None) -> int:
    """Offset of `key =` in the file (inside the task-th [[tasks]] table when given)."""
    start, end = 0, len(text)
    if task is not None:
        heads = [m.start() for m in re.finditer(r"(?m)^\s*\[\[\s*tasks\s*\]\]", text)]
        if task < len(heads):
            start = heads[task]
            end = heads[task + 1] if task + 1 < len(heads) else len(text)
        else:
            m = re.search(r"(?m)^\s*tasks\s*=", text)
            return m.start() if m else 0
    m = re.compile(rf"(?m)^[ \t]*{re.escape(key)}[ \t]*=").search(text, start, end)
    if m:
        return m.start() + len(m.group()) - len(m.group().lstrip())
    return start


class TomlFile:
    def __init__(self, path: Path):
        self.path = path
        try:
            text = path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as err:
            raise GradError(f"{path}: cannot read: {err}") from None
        self.source = Source(str(path), text)
        try:
            self.data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            msg = str(err)
            m = re.search(r"\(at line (\d+), column (\d+)\)", msg)
            pos = 0
            if m:
                line, col = int(m.group(1)), int(m.group(2))
                starts = [0] + [i + 1 for i, c in enumerate(text) if c == "\n"]
                pos = starts[min(line, len(starts)) - 1] + col - 1
                msg = msg[: m.start()].strip()
            raise GradError(f"invalid TOML: {msg}", self.source, min(pos, len(text)),
                            hint="see the exercise format in the README") from None

    def error(self, message: str, key: str, task: int | None = None, hint: str | None = None):
        pos = _locate(self.source.text, key, task)
        end = pos + len(key)
        return GradError(message, self.source, pos, end, hint)


def _typed(toml: TomlFile, value, want, key: str, task: int | None):
    if want is float and isinstance(value, (int, float)) and not isinstance(value, bool):
        return float(value)
    if want is int and isinstance(value, bool):
        raise toml.error(f"'{key}' must be a whole number, not {value!r}", key, task)
    if not isinstance(value, want):
        names = {str: "a string", int: "a whole number", float: "a number", list: "a list",
                 bool: "true or false"}
        raise toml.error(f"'{key}' must be {names[want]}, not {value!r}", key, task)
    return value


def _names(toml, value, key, task, allowed, what):
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value) or not value:
        raise toml.error(f"'{key}' must be a list of names, e.g. {key} = [\"{allowed[0]}\"]", key, task)
    for v in value:
        if v not in allowed:
            raise toml.error(f"'{key}': '{v}' is not {what} of the problem", key, task,
                             hint=did_you_mean(v, allowed) or "choose from: " + ", ".join(dict.fromkeys(allowed)))
    return list(value)


def load_exercise(folder: str | Path, seed: int | None = None, samples: int | None = None) -> Exercise:
    """Read and validate an exercise folder; compute the reference. GradError (exit 2) if bad."""
    folder = Path(folder)
    toml = TomlFile(folder / "exercise.toml")
    data = toml.data
    for key in data:
        if key not in TOP_KEYS:
            raise toml.error(f"unknown key '{key}'", key,
                             hint=did_you_mean(key, TOP_KEYS) or "keys: " + ", ".join(TOP_KEYS))
    values = {k: _typed(toml, data[k], TOP_KEYS[k], k, None) for k in data}
    if "tasks" not in values or not values["tasks"]:
        raise GradError("exercise.toml has no [[tasks]]", toml.source, 0,
                        hint='add a task: [[tasks]] kind = "derivative"')
    n = values.get("samples", 8)
    if not 0 <= n <= MAX_SAMPLES:
        raise toml.error(f"'samples' must be between 0 and {MAX_SAMPLES}", "samples")
    for k in ("rtol", "atol"):
        if not 0 <= values.get(k, 0.0) < math.inf:
            raise toml.error(f"'{k}' must be a finite number, not negative", k)
    if not 0 <= values.get("seed", 0) < 2**63:
        raise toml.error("'seed' must be a whole number from 0 to 2**63 - 1", "seed")
    _check_sigfigs(toml, values.get("sigfigs", 4), None)
    ex = Exercise(id=folder.name, folder=folder, title=values.get("title", folder.name),
                  statement=values.get("statement", ""), problem_file=values.get("problem", "problem.grad"),
                  answer_file=values.get("answer", "answer.grad"),
                  samples=n if samples is None else samples,
                  seed=values.get("seed", 0) if seed is None else seed,
                  rtol=values.get("rtol", 1e-6), atol=values.get("atol", 1e-9), tasks=[],
                  sigfigs=values.get("sigfigs", 4), follow_through=values.get("follow_through", True))
    for key in ("problem", "answer"):
        name = getattr(ex, f"{key}_file")
        if Path(name).is_absolute() or ".." in Path(name).parts:
            raise toml.error(f"'{key}' must be a file name inside the exercise folder", key)
    problem_path = folder / ex.problem_file
    if not problem_path.is_file():
        raise toml.error(f"the problem file {problem_path} does not exist", "problem" if "problem" in data
                         else "title")
    ex.program = program = load(str(problem_path), ex.seed)
    ex.inputs = [program.nodes[i].name for i in program.inputs]
    ex.outputs = [program.nodes[i].name for i in program.outputs]
    nodes = [n.name for n in program.nodes[: program.n_main]
             if n.kind == "op" and not n.generated]
    for i, raw in enumerate(values["tasks"]):
        if not isinstance(raw, dict):
            raise toml.error("each task is a table: [[tasks]] kind = ...", "tasks")
        for key in raw:
            if key not in TASK_KEYS:
                raise toml.error(f"unknown task key '{key}'", key, i,
                                 hint=did_you_mean(key, TASK_KEYS) or "task keys: " + ", ".join(TASK_KEYS))
        if "kind" not in raw:
            raise toml.error(f"task {i + 1} has no 'kind'", "kind", i, hint="kind = " + " | ".join(KINDS))
        kind = _typed(toml, raw["kind"], str, "kind", i)
        if kind not in KINDS:
            raise toml.error(f"unknown task kind '{kind}'", "kind", i,
                             hint=did_you_mean(kind, KINDS) or "kinds: " + ", ".join(KINDS))
        form = _typed(toml, raw.get("form", "any"), str, "form", i)
        if form not in FORMS:
            raise toml.error(f"unknown form '{form}'", "form", i, hint="form = " + " | ".join(FORMS))
        points = _typed(toml, raw.get("points", 1), float, "points", i)
        if not 0 <= points <= 1e6:
            raise toml.error("'points' must be a number from 0 to 1,000,000", "points", i)
        wrt = _names(toml, raw["wrt"], "wrt", i, ex.inputs, "an input") if "wrt" in raw else list(ex.inputs)
        for key in ONLY:
            if key in raw and kind not in ONLY[key]:
                raise toml.error(f"'{key}' is a key of {' and '.join(ONLY[key])} tasks, not of {kind} tasks",
                                 key, i)
        task = Task(kind, [], wrt, form, points, sigfigs=ex.sigfigs)
        for key in ("sigfigs", "distinct", "zeros", "visibility"):
            if key in raw:
                setattr(task, key, _typed(toml, raw[key], TASK_KEYS[key], key, i))
        _check_sigfigs(toml, task.sigfigs, i)
        if task.visibility is not None and task.visibility not in VISIBILITY:
            raise toml.error(f"unknown visibility '{task.visibility}'", "visibility", i,
                             hint="visibility = " + " | ".join(f'"{v}"' for v in VISIBILITY))
        if kind == "value":
            task.of = _value_names(toml, raw, i, program)
            task.choices = _choices(toml, raw, i, ex)
        else:
            task.of = _names(toml, raw["of"], "of", i, ex.outputs + nodes, "an output or a node") \
                if "of" in raw else list(ex.outputs)
        if kind in ("graph", "reverse"):
            for name in task.of:
                if name not in ex.outputs:
                    raise toml.error(f"'of': '{name}' is not an output of the problem", "of", i)
        ex.tasks.append(task)
    kinds = [t.kind for t in ex.tasks]
    for k, task in enumerate(ex.tasks):
        task.label = task.kind if kinds.count(task.kind) == 1 else f"{task.kind} #{kinds[:k + 1].count(task.kind)}"
    _reference(ex)
    _check_choices(ex, toml)
    return ex


def _check_sigfigs(toml, n, task):
    if not 1 <= n <= MAX_SIGFIGS:
        raise toml.error(f"'sigfigs' must be a whole number from 1 to {MAX_SIGFIGS}", "sigfigs", task)


def _value_names(toml, raw, i, program) -> list[str]:
    """A value task's names: named nodes of the problem (computed or constant), not inputs."""
    if "of" not in raw:
        raise toml.error("a value task needs 'of': the names the answer assigns", "kind", i,
                         hint='of = ["NAME", ...], each a node of problem.grad')
    named = [n.name for n in program.nodes[: program.n_main] if n.kind in ("op", "const") and not n.generated]
    return _names(toml, raw["of"], "of", i, named or ["NAME"], "a named node")


def _choices(toml, raw, i, ex) -> list[str]:
    if "choices" not in raw:
        return []
    words = raw["choices"]
    if (not isinstance(words, list) or not words or len(set(map(str, words))) != len(words)
            or not all(isinstance(w, str) and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", w) for w in words)):
        raise toml.error("'choices' must be a list of different words, e.g. choices = [\"forward\", \"reverse\"]",
                         "choices", i)
    clash = [w for w in words if w in ex.inputs or w in ("d", "partial", "pi", "e")]
    if clash:
        raise toml.error(f"'choices': '{clash[0]}' is already a name of the language or the problem", "choices", i)
    return list(words)


def _check_choices(ex: Exercise, toml) -> None:
    """Each name of a value task with choices is, in the problem, the place of one word (1, 2, ...)."""
    for i, task in enumerate(ex.tasks):
        if not task.choices:
            continue
        for name in task.of:
            v = np.asarray(ex.values[name], dtype=float)
            ok = v.ndim == 1 and np.all(v == v[0]) and v[0] == int(v[0]) and 1 <= v[0] <= len(task.choices)
            if not ok:
                raise toml.error(f"'{name}' is the answer to a choice: in problem.grad it must be the place "
                                 f"of one of the words (1 to {len(task.choices)})", "choices", i,
                                 hint=f"e.g. `const {task.choices[-1]} = {len(task.choices)}` and "
                                      f"`{name} = {task.choices[-1]}`")


# ---------------------------------------------------------------- the reference

def _draw(ex: Exercise, rng, count: int) -> dict[int, np.ndarray]:
    program = ex.program
    fixed = fixed_inputs(program)
    point = {}
    for i in program.inputs:
        default = np.asarray(program.defaults[i], dtype=float)
        if i in fixed:
            point[i] = np.broadcast_to(default, (count,) + default.shape).copy()
            continue
        lo, hi = domain(program, i, default)
        u = rng.random((count,) + default.shape)
        point[i] = lo + (hi - lo) * u
    return point


def _targets(ex: Exercise) -> list[int]:
    """The problem's outputs and any other node a derivative task asks about."""
    names = list(ex.outputs)
    for t in ex.tasks:
        if t.kind == "derivative":
            names += [o for o in t.of if o not in names]
    return [ex.program.names[n] for n in names]


def _evaluate(ex: Exercise, point: dict, B: int):
    program = ex.program
    vals = batch.forward(program, point)
    jac, adjoints = {}, {}
    ex.zero = set()
    for o in _targets(ex):
        adj = batch.adjoint_jacobians(program, vals, o, B)
        adjoints[program.nodes[o].name] = adj
        for x in program.inputs:
            g = adj[x]
            if g is None:
                os_ = np.shape(vals[o])[1:]
                g = np.zeros((B,) + os_ + np.shape(vals[x])[1:])
                ex.zero.add((program.nodes[o].name, program.nodes[x].name))
            jac[(program.nodes[o].name, program.nodes[x].name)] = g
    return vals, jac, adjoints


def _finite_rows(arrays, B) -> np.ndarray:
    ok = np.ones(B, dtype=bool)
    for a in arrays:
        a = batch.per_point(a, B)
        ok &= np.isfinite(a.reshape(B, -1)).all(axis=1)
    return ok


def _reference(ex: Exercise) -> None:
    program = ex.program
    for i in program.inputs:
        if i not in program.defaults:
            node = program.nodes[i]
            raise program.error(f"input '{node.name}' needs a default value: the grader checks "
                                "every answer at the default point", node,
                                hint=f"input {node.name} in (LO, HI) = VALUE")
    rng = np.random.default_rng(ex.seed)
    default = {i: np.asarray(program.defaults[i], dtype=float)[None] for i in program.inputs}
    needed = [o for o in program.outputs]
    vals, jac, _ = _evaluate(ex, default, 1)
    if not _finite_rows([vals[o] for o in needed] + list(jac.values()), 1)[0]:
        raise GradError(f"{program.source.name}: the problem's outputs or derivatives are not finite "
                        "at the default point", hint="choose other default values")
    rows = {i: [default[i]] for i in program.inputs}
    have, rounds = 0, 0
    while have < ex.samples and rounds < 20:
        rounds += 1
        want = ex.samples - have
        count = max(2 * want, 8)
        cand = _draw(ex, rng, count)
        vals, jac, _ = _evaluate(ex, cand, count)
        ok = np.flatnonzero(_finite_rows([vals[o] for o in needed] + list(jac.values()), count))[:want]
        for i in program.inputs:
            rows[i].append(cand[i][ok])
        have += len(ok)
    if have < ex.samples:
        raise GradError(f"{program.source.name}: only {have} of {ex.samples} random points in the inputs' "
                        "domains give finite values and derivatives of the problem",
                        hint="narrow the domains (input x in (LO, HI) = VALUE) or lower `samples`")
    point = {i: np.concatenate(rows[i], axis=0) for i in program.inputs}
    ex.B = B = 1 + have
    vals, jac, adjoints = _evaluate(ex, point, B)
    ex.points = {program.nodes[i].name: point[i] for i in program.inputs}
    ex.values = {n.name: batch.per_point(vals[n.id], B) for n in program.nodes[: program.n_main]
                 if not n.generated}
    ex.jac = jac
    ex.adjoints = adjoints
    ex.vals = vals


def find_exercises(root: str | Path) -> list[Path]:
    """Exercise folders: root itself if it has exercise.toml, else its sub-folders that do (sorted)."""
    root = Path(root)
    if not root.is_dir():
        raise GradError(f"{root}: not a directory")
    if (root / "exercise.toml").is_file():
        return [root]
    found = sorted(p.parent for p in root.glob("*/exercise.toml"))
    if not found:
        raise GradError(f"{root}: no exercise.toml in it or in its sub-folders",
                        hint="an exercise is a folder with exercise.toml and problem.grad")
    return found
