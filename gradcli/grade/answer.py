"""A student's answer: parsed and built statement by statement, never executed.

A broken statement costs only what needs it.  The answer is parsed whole when it
can be; otherwise it is split into statements (a newline or `;` outside brackets,
or a newline inside brackets before a line that can only start a statement, so an
unclosed bracket is one statement's error) and each is parsed on its own.  The
statements are then built one by one after the problem's inputs: a statement
that fails (a syntax error, an undefined name, a shape error found when folding)
is recorded as a `Line` with its FILE:LINE:COL error, and what uses the name it
would have defined fails with a message that points back to it.  Claims are
lowered after the graph, one by one; a claim made twice is an error on its
second line.  Evaluation errors (a shape error at a node) are recorded the same
way by `settle`, after the grader's batched pass.  Limits: file size, bracket
depth, nodes, tensor sizes (the graph's node limit fails the whole answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..autodiff import engine
from ..errors import GradError, Source
from ..language.program import Builder, Const, Program
from ..language.syntax import CLOSING, LOOKALIKES, SUPERSCRIPTS, parse, parse_span, read_source
from ..numbers import exact
from .batch import Limits


@dataclass(eq=False)
class Line:
    """A statement that could not be parsed, built or evaluated."""
    start: int
    end: int
    line: int
    error: str                      # the rendered FILE:LINE:COL error, caret included
    name: str | None = None         # the name it would have defined
    cause: "Line | None" = None     # the broken line it needed (then `error` says so)
    node: bool = True               # it would have defined a node (not a const or a def)
    mended: str | None = None       # a typo the grader mended: the line as it was graded

    @property
    def root(self) -> "Line":
        return self.cause.root if self.cause is not None else self


@dataclass(eq=False)
class Claim:
    kind: str            # "total" | "partial"
    u: str
    v: str
    node: int | None     # the node holding the claimed value (None: the claim has an error)
    start: int
    end: int
    line: int = 0
    error: str | None = None
    live: bool = False   # depends on an input: a formula, not a number
    expr: tuple | None = None       # the parsed right-hand side
    cause: Line | None = None       # the broken graph line it needs

    @property
    def key(self):
        return (self.kind, self.u, self.v)

    def text(self) -> str:
        return f"d({self.u})/d({self.v})" if self.kind == "total" else f"partial({self.u}, {self.v})"


@dataclass
class Answer:
    program: Program
    claims: dict[tuple, Claim]
    inputs: dict[str, int]                                    # problem input name -> id here
    graph: list[int] = field(default_factory=list)            # named op nodes depending on an input
    unnamed: list[int] = field(default_factory=list)          # op nodes of sub-expressions
    duplicates: list[Claim] = field(default_factory=list)     # second claims of a key
    broken: list[Line] = field(default_factory=list)          # every statement that failed, in order
    broken_names: dict[str, Line] = field(default_factory=dict)
    statements: dict[str, tuple] = field(default_factory=dict)   # name -> its assignment
    words: dict[str, str] = field(default_factory=dict)       # name -> the choice word it was given
    consts: dict[str, object] = field(default_factory=dict)   # name -> value of a `const` statement
    owner: dict[int, object] = field(default_factory=dict)    # node id -> its assignment's name or Claim
    typos: list[Line] = field(default_factory=list)           # graph lines built as mended
    needed: set | None = None       # broken names the outputs need (None: every broken name counts)

    @property
    def source(self) -> Source:
        return self.program.source

    def node_id(self, name: str) -> int | None:
        nid = self.program.names.get(name)
        if nid is None or nid >= self.program.n_main:
            return None
        return nid

    def line_of(self, name: str) -> int | None:
        st = self.statements.get(name)
        return None if st is None else self.source.line_col(st[1])[0]

    # ------------------------------------------------------------ after evaluation
    def settle(self, vals: list, errors: dict[int, GradError], outputs=()) -> None:
        """Record the nodes that failed in the batched pass (and what they block) and turn them
        into constants, so the graph the tasks see holds only what was computed; then list the
        student's graph: the named and unnamed operations that feed the `outputs` (all of them
        when the answer names none of the outputs)."""
        program = self.program
        bad: dict[int, Line] = {}
        nodes = program.nodes
        if errors:       # a line that fails fails whole: none of its nodes is part of the graph
            failed = {self.owner.get(i) for i in errors if isinstance(self.owner.get(i), str)}
            for i in range(program.n_main):
                if self.owner.get(i) in failed and i not in errors and vals[i] is not None:
                    vals[i] = None
                    errors[i] = next(errors[j] for j in sorted(errors) if self.owner.get(j) == self.owner.get(i))
        if errors or any(v is None for v in vals):
            for node in nodes:
                i = node.id
                if vals[i] is not None:
                    continue
                err = errors.get(i)
                cause = None
                if err is None:
                    cause = next((bad[a] for a in node.args if a in bad), None)
                owner = self.owner.get(i)
                if isinstance(owner, Claim):
                    if owner.error is None:
                        if err is not None:
                            owner.error = err.render()
                        else:
                            owner.cause = cause.root if cause else None
                            owner.error = _needs(self.source, owner.start, owner.end, cause)
                        owner.node = None
                elif isinstance(owner, str):
                    line = self.broken_names.get(owner)
                    if line is None:
                        st = self.statements[owner]
                        text = err.render() if err is not None else _needs(self.source, st[1], st[2], cause)
                        line = Line(st[1], st[2], self.source.line_col(st[1])[0], text, owner,
                                    None if err is not None else (cause.root if cause else None))
                        self.broken_names[owner] = line
                        self.broken.append(line)
                    bad[i] = line
                node.kind, node.op, node.args, node.value = "const", None, (), np.nan
                vals[i] = np.full(1, np.nan)
            program._plan = None
            program.__dict__.pop("_live_cache", None)
            for name in self.broken_names:       # a broken line defines nothing
                if program.names.get(name, -1) in bad:
                    del program.names[name]
            self.broken.sort(key=lambda b: b.start)
        plan = engine.plan(program)
        for claim in self.claims.values():
            if claim.node is not None:
                claim.live = plan.live[claim.node]
        feeds = self._upstream([self.node_id(o) for o in outputs if self.node_id(o) is not None])
        for node in nodes[: program.n_main]:
            if node.kind != "op" or not plan.live[node.id] or (feeds is not None and node.id not in feeds):
                continue
            (self.unnamed if node.generated else self.graph).append(node.id)
        broken_outputs = [self.broken_names[o] for o in outputs if o in self.broken_names and self.node_id(o) is None]
        if feeds is not None or broken_outputs:
            needed = set()
            for line in broken_outputs:
                while line is not None:
                    needed.add(line.name)
                    line = line.cause
            self.needed = needed
        else:
            self.needed = None

    def _upstream(self, ids) -> set | None:
        if not ids:
            return None
        program = self.program
        seen, work = set(ids), list(ids)
        while work:
            node = program.nodes[work.pop()]
            for a in node.args:
                if a not in seen:
                    seen.add(a)
                    work.append(a)
        return seen


def _needs(source: Source, start: int, end: int, cause: Line | None) -> str:
    if cause is None:
        return GradError("this line needs a value that could not be computed", source, start, end).render()
    root = cause.root
    what = f"'{root.name}' (line {root.line})" if root.name else f"line {root.line}"
    return GradError(f"this line needs {what}, which has an error: fix that line first", source, start,
                     end).render()


class TooLarge(GradError):
    """The answer's graph passes the node limit: the whole answer fails."""


class _LimitedBuilder(Builder):
    """The graph builder with the grader's limits on nodes and tensor sizes."""

    def __init__(self, source, limits: Limits):
        super().__init__(source, 0)
        self.limits = limits

    def add(self, kind, name=None, op=None, args=(), params=(), start=0, end=0, value=None):
        if len(self.nodes) >= self.limits.max_nodes:
            raise TooLarge(f"the answer's graph grows beyond {self.limits.max_nodes:,} nodes", self.source,
                           start, end, hint="an answer is a small graph; a def calling defs expands exponentially")
        return super().add(kind, name, op, args, params, start, end, value)

    def initialise(self, ex, args, init):
        size = 1
        for a in args:
            value = getattr(a, "value", None)
            if value is not None and np.ndim(value) == 0 and np.isfinite(value):
                size *= max(int(value), 0)
        if size > self.limits.max_elements // 100:
            raise self.error(f"{ex[3]}(): the tensor is too large for an answer", ex[1], ex[2])
        return super().initialise(ex, args, init)

    def fold(self, op, args, params, start, end):
        from .batch import out_size

        n = out_size(op, [np.asarray(a.value)[None] for a in args])
        if n > self.limits.max_elements:
            raise self.error(f"this makes a value of {n:,} elements, too large for an answer", start, end)
        return super().fold(op, args, params, start, end)

    def attempt(self, lower):
        """Run lower(); on an error, forget the nodes it added (the statement never happened)."""
        mark = len(self.nodes)
        try:
            return lower()
        except TooLarge:
            raise
        except GradError:
            del self.nodes[mark:]
            for k in [k for k, v in self.materialised.items() if v >= mark]:
                del self.materialised[k]
            raise
        except RecursionError:
            del self.nodes[mark:]
            raise GradError("this line is nested too deeply", self.source, 0) from None


def read_answer(path: str | Path, limits: Limits) -> Source:
    """Read an untrusted answer file: size limit, no binary, UTF-8 (GradError otherwise)."""
    return read_source(path, limits.max_bytes, untrusted=True)


# ---------------------------------------------------------------- statements

_SIGNIFICANT = re.compile(r"[()\[\]\n;#]")
# A line that can only start a statement: inside brackets it means the bracket was never closed.
_STARTS = re.compile(r"[ \t]*(?:(?:input|const|def|output)\b"
                     r"|d[ \t]*\([ \t]*\w+[ \t]*\)[ \t]*/[ \t]*d[ \t]*\([ \t]*\w+[ \t]*\)[ \t]*=(?!=)"
                     r"|partial[ \t]*\([ \t]*\w+[ \t]*,[ \t]*\w+[ \t]*\)[ \t]*=(?!=)"
                     r"|[^\W\d]\w*[ \t]*=(?!=))")
_BLANK = re.compile(r"(?:\s|#[^\n]*)*")
_NAME = r"([^\W\d]\w*)"
_HEADS = [
    # a claim's head, brackets or not (`df/dx = ...` is a broken claim about d(f)/d(x))
    ("total", re.compile(rf"\s*d\s*\(?\s*{_NAME}\s*\)?\s*/\s*d\s*\(?\s*{_NAME}\s*\)?\s*=")),
    ("partial", re.compile(rf"\s*partial\s*\(\s*{_NAME}\s*,\s*{_NAME}\s*\)\s*=")),
    ("const", re.compile(rf"\s*const\s+{_NAME}")),
    ("def", re.compile(rf"\s*def\s+{_NAME}\s*\(")),
    ("name", re.compile(rf"\s*{_NAME}\s*=(?!=)")),
]


def split(text: str) -> list[tuple[int, int]]:
    """Statement spans: at a newline or ';' outside brackets, and at a newline inside brackets
    that is followed by what can only start a statement (the bracket is never closed)."""
    spans, start, depth, pos, n = [], 0, 0, 0, len(text)
    search = _SIGNIFICANT.search
    while True:
        m = search(text, pos)
        if m is None:
            break
        ch, i = m.group(), m.start()
        pos = i + 1
        if ch == "#":
            j = text.find("\n", i)
            pos = n if j < 0 else j
        elif ch in "([":
            depth += 1
        elif ch in ")]":
            depth = max(0, depth - 1)
        elif ch == ";" or depth == 0 or _STARTS.match(text, i + 1):
            spans.append((start, i))
            start, depth = i + 1, 0
    spans.append((start, n))
    return [s for s in spans if not _BLANK.fullmatch(text, s[0], s[1])]


_BRACKET = re.compile(r"[()\[\]]")


def _depth_error(source: Source, start: int, end: int, limits: Limits) -> GradError | None:
    depth = 0
    for m in _BRACKET.finditer(source.text, start, end):
        if m.group() in "([":
            depth += 1
            if depth > limits.max_depth:
                return GradError(f"brackets nested more than {limits.max_depth} deep", source, m.start(),
                                 hint="an answer is a small graph; name sub-expressions")
        else:
            depth -= 1
    return None


def _head(text: str, start: int, end: int):
    """What a broken statement was about: ("total"|"partial", u, v) for a claim, ("name", n)."""
    for kind, pattern in _HEADS:
        m = pattern.match(text, start, end)
        if m:
            return (kind,) + m.groups()
    return None


def statements(source: Source, limits: Limits):
    """(parsed statements, broken ones as (start, end, error, head), typos): a statement with a typo
    the grader can mend (an unclosed bracket, `2x`, `x²`, `−` for -, `ln`) is parsed mended, and typos
    maps its start to (the error, the mended text)."""
    text = source.text
    deep = _depth_error(source, 0, len(text), limits) is not None
    odd = _lexical(source, 0, len(text)) is not None
    if not deep and not odd:
        try:
            return parse(source), [], {}
        except GradError:
            pass
    parsed, broken, typos = [], [], {}
    for s, e in split(text):
        err = _depth_error(source, s, e, limits) if deep else None
        if err is None:
            err = _lexical(source, s, e)
            if err is None:
                try:
                    parsed += parse_span(source, s, e)
                    continue
                except GradError as raised:
                    err = raised
            mended = _mend(source, s, e, err)
            if mended is not None:
                for st in mended[0]:
                    typos[st[1]] = (err, mended[1])
                parsed += mended[0]
                continue
        lead = len(text[s:e]) - len(text[s:e].lstrip())
        broken.append((s + lead, e, err, _head(text, s, e)))
    return parsed, broken, typos


# ---------------------------------------------------------------- mending typos

_COMMENT = re.compile(r"#[^\n]*")
_SUPERSCRIPT = re.compile("[\u2070\u00b9\u00b2\u00b3\u2074-\u2079\u207b]+")
_TRAILING = re.compile(r"[ \t]*(?:#[^\n]*)?\s*\Z")


_LN = re.compile(r"(?<![\w.])ln(?=[ \t]*\()")


def _lexical(source: Source, s: int, e: int) -> GradError | None:
    """A typo the parser would take for something else, outside comments: a power written as a
    superscript (`x²`, a name to the lexer) or `ln(...)` for log (unless the answer defines ln)."""
    code = _COMMENT.sub(lambda m: " " * len(m.group()), source.text[s:e])
    m = _SUPERSCRIPT.search(code)
    if m is not None:
        power = m.group().translate(SUPERSCRIPTS)
        return GradError(f"'{m.group()}' is not an operator: a power is written with **", source, s + m.start(),
                         s + m.end(), hint=f"write **{power}")
    m = _LN.search(code)
    if m is not None and not re.search(r"(?m)^\s*def\s+ln\b", source.text):
        return GradError("unknown function 'ln'", source, s + m.start(), s + m.end(),
                         hint="the natural log is log(...)")
    return None


def _edit(span: str, err: GradError, s: int):
    """(at, removed, added) in span's coordinates: the mechanical fix of the typo err names."""
    at = err.start - s
    message, hint = err.message, err.hint or ""
    if message.endswith("is never closed"):
        closer = CLOSING[message[1]]
        return (_TRAILING.search(span).start(), 0, closer)
    if hint.startswith("multiplication needs a *") and 0 <= at <= len(span):
        return (at, 0, "*")
    if message.startswith("unexpected character") and 0 <= at < len(span) and span[at] in LOOKALIKES:
        return (at, 1, LOOKALIKES[span[at]])
    if hint.startswith("write **") and 0 <= at < len(span):
        m = _SUPERSCRIPT.match(span, at)
        if m:
            return (at, len(m.group()), "**" + m.group().translate(SUPERSCRIPTS))
    if message == "unknown function 'ln'" and span[at:at + 2] == "ln":
        return (at, 2, "log")
    return None


def _mend(source: Source, s: int, e: int, err: GradError, tries: int = 6):
    """(statements, mended text) when mechanical fixes of the typos make text[s:e] parse, else None.
    The statements' offsets are the original text's."""
    text = source.text
    span = text[s:e]
    edits = []
    for _ in range(tries):
        edit = _edit(span, err, s)
        if edit is None:
            return None
        at, removed, added = edit
        span = span[:at] + added + span[at + removed:]
        edits.append((s + at, removed, len(added)))
        patched = Source(source.name, text[:s] + span + text[e:])
        try:
            parsed = parse_span(patched, s, s + len(span))
        except GradError as again:
            err = again
            if again.source is patched:
                err = _lexical(patched, s, s + len(span)) or again
            continue
        if _lexical(patched, s, s + len(span)) is not None:
            err = _lexical(patched, s, s + len(span))
            continue
        return _remap(parsed, edits), " ".join(span.split("#")[0].split())
    return None


def _remap(tree, edits):
    """The tree's offsets (into the mended text) mapped back to the original text."""
    def back(p):
        for at, removed, added in reversed(edits):     # undo the last edit first
            if p >= at + added:
                p -= added - removed
            elif p > at:
                p = at
        return p

    def walk(item):
        stack = [(item, False)]
        done: list = []
        while stack:
            node, ready = stack.pop()
            if not isinstance(node, (tuple, list)):
                done.append(node)
                continue
            if not ready:
                stack.append((node, True))
                stack.extend((child, False) for child in reversed(node))
                continue
            kids = done[len(done) - len(node):]
            del done[len(done) - len(node):]
            if isinstance(node, tuple) and len(kids) >= 3 and isinstance(kids[0], str) \
                    and isinstance(kids[1], int) and isinstance(kids[2], int) and not isinstance(kids[1], bool):
                kids = [kids[0], back(kids[1]), back(kids[2])] + kids[3:]
            done.append(tuple(kids) if isinstance(node, tuple) else list(kids))
        return done[0]

    return walk(tree)


# ---------------------------------------------------------------- building

def _names_used(expr) -> list[tuple[str, int, int]]:
    """The names an expression uses (and the functions it calls), without recursion."""
    out, work = [], [expr]
    while work:
        ex = work.pop()
        kind = ex[0]
        if kind == "name":
            out.append((ex[3], ex[1], ex[2]))
        elif kind == "bin":
            work += (ex[4], ex[5])
        elif kind in ("neg", "attr"):
            work.append(ex[3])
        elif kind == "call":
            out.append((ex[3], ex[1], ex[1] + len(ex[3])))
            work += ex[4]
        elif kind == "tensor":
            work += ex[3]
    return out


def build_answer(source: Source, inputs: list[str], limits: Limits, words: dict[str, float] | None = None) -> Answer:
    """Parse and build an answer with the problem's `inputs` (and value tasks' `words`) in scope.

    Raises GradError only for what fails the whole answer (its size, the node limit)."""
    if len(source.text) > limits.max_bytes:
        raise GradError(f"{source.name}: the answer is larger than {limits.max_bytes // 1024} KiB")
    parsed, unparsed, typos = statements(source, limits)
    builder = _LimitedBuilder(source, limits)
    ans = Answer(None, {}, {})

    def line(offset):
        return source.line_col(offset)[0]

    def fail(start, end, err: GradError | str, name=None, cause=None, node=True):
        text = err if isinstance(err, str) else err.render()
        b = Line(start, end, line(start), text, name, cause, node)
        ans.broken.append(b)
        if name is not None and name not in ans.broken_names and name not in builder.names:
            ans.broken_names[name] = b
        return b

    with np.errstate(all="ignore"):
        for name in inputs:
            nid = builder.add("input", name)
            builder.define((name, 0, 0), 0, 0, nid)
            ans.inputs[name] = nid
        builder.words = set(words or ())
        for word, value in (words or {}).items():
            builder.define((word, 0, 0), 0, 0, Const(np.float64(value), 0, 0, word))
        claims = []
        for s, e, err, head in unparsed:
            if head is not None and head[0] in ("total", "partial"):
                claims.append(("broken", s, e, head, err))
            else:
                fail(s, e, err, head[1] if head else None, node=head is not None and head[0] == "name")
        graph = []
        for st in parsed:
            kind = st[0]
            if kind in ("input", "const", "assign"):
                builder.taken.add(st[3][0])       # generated names (`_1`) skip the student's
            typo = typos.get(st[1])
            if typo is not None and kind in ("claim_total", "claim_partial"):   # a claim's typo is its item's
                claims.append(("broken", st[1], st[2], ("total" if kind == "claim_total" else "partial",
                                                        st[3][0], st[4][0]), typo[0]))
                continue
            if typo is not None:
                name = st[3][0] if kind in ("assign", "const", "def") else None
                ans.typos.append(Line(st[1], st[2], line(st[1]), typo[0].render(), name,
                                      node=kind == "assign", mended=typo[1]))
            if kind in ("claim_total", "claim_partial"):
                claims.append(st)
            elif kind == "def":
                _define(builder, st, fail)
            else:
                graph.append(st)
        for st in graph:
            _statement(builder, ans, st, inputs, fail)
        n_main = len(builder.nodes)
        for st in sorted(claims, key=lambda c: c[1]):
            _claim(builder, ans, st, line)
    names = {k: v for k, v in builder.names.items() if not isinstance(v, Const)}
    names.update(builder.materialised)
    ans.program = Program(source, builder.nodes, n_main, names, list(ans.inputs.values()), [])
    ans.broken.sort(key=lambda b: b.start)
    return ans


def _define(builder, st, fail) -> None:
    name = st[3]
    try:
        if name[0] in builder.defs:
            raise builder.error(f"def '{name[0]}' is already defined", name[1], name[2])
        from ..autodiff.ops import FUNCTIONS, INITIALISERS

        if name[0] in FUNCTIONS or name[0] in INITIALISERS:
            raise builder.error(f"'{name[0]}' is a built-in function; choose another name", name[1], name[2])
        params = [p[0] for p in st[4]]
        if len(set(params)) != len(params):
            raise builder.error("a def's parameters must have different names", st[1], st[2])
    except GradError as err:
        fail(st[1], st[2], err, name[0], node=False)
        return
    builder.defs[name[0]] = (params, st[5], st)


def _cascade(builder, ans: Answer, expr, start, end) -> Line | None:
    """The broken line an expression needs, if any: its message points back at that line."""
    for name, s, e in _names_used(expr):
        if name in ans.broken_names and name not in builder.names:
            return ans.broken_names[name]
    return None


def _statement(builder, ans: Answer, st, inputs, fail) -> None:
    kind = st[0]
    source = builder.source
    if kind == "input":
        name = st[3]
        if name[0] not in inputs:
            fail(st[1], st[2], GradError(f"'{name[0]}' is not an input of this exercise", source, name[1], name[2],
                                         hint="inputs: " + ", ".join(inputs) + " (they need no declaration)"),
                 name[0], node=False)
        return              # declaring a problem input again is allowed; its value is the grader's
    if kind == "output":
        for name in st[3]:
            if name[0] in builder.names or name[0] in ans.broken_names:
                continue
            fail(st[1], st[2], GradError(f"output '{name[0]}' is not defined", source, name[1], name[2]))
        return
    name = st[3]
    if name[0] in inputs:
        fail(st[1], st[2], GradError(f"'{name[0]}' is an input of this exercise; choose another name", source,
                                     name[1], name[2]), name[0])
        return
    expr = st[4]
    cause = _cascade(builder, ans, expr, st[1], st[2])
    if cause is not None:
        fail(st[1], st[2], _needs(source, st[1], st[2], cause), name[0], cause, node=kind == "assign")
        return
    try:
        if kind == "const":
            value = builder.attempt(lambda: builder.constant(expr, "a const"))
            builder.define(name, st[1], st[2], Const(value, st[1], st[2], name[0]))
            ans.statements[name[0]] = st
            ans.consts[name[0]] = value
            return
        mark = len(builder.nodes)
        item = builder.attempt(lambda: builder.lower(expr))
        if isinstance(item, Const):
            item = builder.node_of(Const(item.value, st[1], st[2], name[0]))
        elif item >= mark and builder.nodes[item].generated:
            node = builder.nodes[item]
            node.name, node.generated = name[0], False
        else:
            item = builder.add("op", name[0], _ID, (item,), start=st[1], end=st[2])
        builder.define(name, st[1], st[2], item)
    except TooLarge:
        raise
    except GradError as err:
        fail(st[1], st[2], err, name[0], node=kind == "assign")
        return
    ans.statements[name[0]] = st
    for i in range(mark, len(builder.nodes)):
        ans.owner[i] = name[0]
    if expr[0] == "name" and expr[3] in builder.words:
        ans.words[name[0]] = expr[3]


def _claim(builder, ans: Answer, st, line) -> None:
    source = builder.source
    if st[0] == "broken":
        _, s, e, head, err = st
        claim = Claim(head[0], head[1], head[2], None, s, e, line(s), err.render())
    else:
        kind = "total" if st[0] == "claim_total" else "partial"
        claim = Claim(kind, st[3][0], st[4][0], None, st[1], st[2], line(st[1]), expr=st[5])
    first = ans.claims.get(claim.key)
    if first is not None:
        claim.error = GradError(f"{claim.text()} is already claimed on line {first.line}; line {first.line} "
                                "is the one graded", source, claim.start, claim.end,
                                hint="write each claim once: delete one of the two lines").render()
        ans.duplicates.append(claim)
        return
    ans.claims[claim.key] = claim
    if claim.error is not None:
        return
    cause = _cascade(builder, ans, claim.expr, claim.start, claim.end)
    if cause is not None:
        claim.cause = cause.root
        claim.error = _needs(source, claim.start, claim.end, cause)
        return
    mark = len(builder.nodes)
    try:
        claim.node = builder.attempt(lambda: builder.node_of(builder.lower(claim.expr)))
    except TooLarge:
        raise
    except GradError as err:
        claim.error = err.render()
        return
    for i in range(mark, len(builder.nodes)):
        ans.owner[i] = claim
    if claim.node < mark:          # the claim is a node of the graph (`d(f)/d(x) = c`): evaluate a copy
        claim.node = builder.add("op", None, _ID, (claim.node,), start=claim.start, end=claim.end)
        ans.owner[claim.node] = claim


from ..autodiff.ops import OPS as _OPS  # noqa: E402

_ID = _OPS["id"]


# ---------------------------------------------------------------- as parsed

_PREC = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "**": 4}


def unparse(expr, limit: int = 200) -> str:
    """An expression as the parser read it, with the brackets that show how: `-x**2` is
    `-(x**2)`, `1/2*x` is `(1/2)*x`, `x + y*z` stays as it is. No recursion."""
    out: list = []
    work = [(expr, False)]
    while work:
        ex, ready = work.pop()
        kind = ex[0]
        if kind == "num":
            out.append((exact(ex[3]), 5))
            continue
        if kind == "name":
            out.append((ex[3], 5))
            continue
        kids = (ex[4], ex[5]) if kind == "bin" else (ex[3],) if kind in ("neg", "attr") else \
            ex[4] if kind == "call" else ex[3]
        if not ready:
            work.append((ex, True))
            work.extend((c, False) for c in reversed(kids))
            continue
        n = len(kids)
        args = out[len(out) - n:]
        del out[len(out) - n:]
        if kind == "bin":
            op = ex[3]
            p = _PREC[op]
            (a, pa), (b, pb) = args
            if op == "**":
                a = f"({a})" if pa < 5 else a
                b = f"({b})" if pb < 3 or pb == 4 else b
            else:
                clarify = op in "*/" and kids[0][0] == "bin" and kids[0][3] == "/"
                a = f"({a})" if pa < p or clarify else a
                b = f"({b})" if pb <= p else b
            out.append((f"{a} {op} {b}" if op in "+-@" else f"{a}{op}{b}", p))
        elif kind == "neg":
            (a, pa), = args
            out.append((f"-({a})" if pa < 3 or pa == 4 else f"-{a}", 3))
        elif kind == "attr":
            (a, pa), = args
            out.append((f"({a}).{ex[4]}" if pa < 5 else f"{a}.{ex[4]}", 5))
        elif kind == "call":
            out.append((f"{ex[3]}({', '.join(t for t, _ in args)})", 5))
        else:
            out.append(("[" + ", ".join(t for t, _ in args) + "]", 5))
    text = out[0][0]
    return text if len(text) <= limit else text[: limit - 1] + "…"
