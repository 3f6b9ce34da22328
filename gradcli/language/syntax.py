"""Text to syntax tree: our lexer, Lark's LALR parser over grammars/gradcli.lark.

The tree is made of plain tuples, built by Lark's inline transformer as the
parser reduces, so no recursion walks it and no Lark tree is ever built.

Expressions (`kind, start, end, ...`, offsets into the text):
    ("num", s, e, value)          ("name", s, e, name)
    ("call", s, e, fname, args)   ("bin", s, e, symbol, a, b)
    ("neg", s, e, a)              ("attr", s, e, a, attribute)
    ("tensor", s, e, items)
Statements:
    ("input", s, e, name, domain | None, default | None)   domain = (lo, hi)
    ("const", s, e, name, expr)   ("def", s, e, name, params, body)
    ("assign", s, e, name, expr)  ("output", s, e, [(name, s, e), ...])
    ("claim_total", s, e, u, v, expr)   ("claim_partial", s, e, u, v, expr)
  where names are (text, start, end).
"""

from __future__ import annotations

import os
import re
from functools import lru_cache
from pathlib import Path

from lark import Lark, Transformer
from lark.lexer import Lexer

from ..errors import GradError, Source, shown

RESERVED = {"input": "INPUT", "const": "CONST", "def": "DEF", "output": "OUTPUT", "in": "IN"}
PUNCT = {"+": "PLUS", "-": "MINUS", "*": "STAR", "/": "SLASH", "@": "AT", "=": "_EQ",
         "(": "LPAR", ")": "RPAR", ",": "_COMMA", ".": "DOT", "[": "LSQB", "]": "RSQB"}
CLOSING = {"(": ")", "[": "]"}
# One match per token, blanks before it included; the group's name is the token's type.
TOKEN_RE = re.compile(r"""[ \t\r\f\v]*(?:
    (?P<NAME>[^\W\d]\w*)
  | (?P<NUMBER>(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?)
  | (?P<POW>\*\*|\^)
  | (?P<PLUS>\+) | (?P<MINUS>-) | (?P<STAR>\*) | (?P<SLASH>/) | (?P<AT>@) | (?P<_EQ>=)
  | (?P<_COMMA>,) | (?P<DOT>\.)
  | (?P<open>[(\[]) | (?P<close>[)\]])
  | (?P<nl>\n) | (?P<semi>;) | (?P<comment>\#[^\n]*)
  | (?P<eof>$) | (?P<bad>.))""", re.VERBOSE)

# How an expected terminal reads in a message.
WORDS = {"NAME": "a name", "NUMBER": "a number", "_SEP": "the end of the statement",
         "$END": "the end of the file", "INPUT": "'input'", "CONST": "'const'",
         "DEF": "'def'", "OUTPUT": "'output'", "IN": "'in'", "POW": "'**'"}
WORDS.update({v: f"'{k}'" for k, v in PUNCT.items()})
EXPRESSION_START = {"NAME", "NUMBER", "LPAR", "LSQB", "MINUS", "PLUS"}


def grammar_path() -> Path:
    """grammars/gradcli.lark, wherever gradcli's data is shipped (gradcli.shipped)."""
    from .. import shipped

    return shipped.path("grammars") / "gradcli.lark"


def tokens(source: Source, pos: int = 0, stop: int | None = None):
    """Yield tokens (type, text, start, end) of text[pos:stop]; GradError on a stray
    character or bracket.

    A newline ends a statement only outside brackets; runs of newlines and ';'
    give one _SEP; the stream ends with ("$END", "", n, n).
    """
    text = source.text
    stop = len(text) if stop is None else stop
    opened: list[tuple[str, int]] = []
    last = "_SEP"  # so leading blank lines emit nothing
    match = TOKEN_RE.match
    reserved = RESERVED
    plain = source.ascii
    while True:
        m = match(text, pos, stop)
        kind = m.lastgroup
        start, pos = m.start(kind), m.end()
        if kind == "NAME":
            if plain:
                value = m.group(kind)
            else:            # combining marks continue a name; names are normalised (NFKC)
                pos = _name_end(text, pos, stop)
                value = normal_name(text[start:pos])
            kind = reserved.get(value, "NAME")
        elif kind == "nl" or kind == "semi":
            if kind == "semi" and opened:
                raise GradError("';' inside brackets", source, start,
                                hint=f"close the '{opened[-1][0]}' opened before it")
            if opened or last == "_SEP":
                continue
            kind, value = "_SEP", text[start]
        elif kind == "comment":
            continue
        elif kind == "open":
            value = text[start]
            opened.append((value, start))
            kind = "LPAR" if value == "(" else "LSQB"
        elif kind == "close":
            value = text[start]
            if not opened:
                raise GradError(f"unmatched '{value}'", source, start)
            ch, at = opened.pop()
            if CLOSING[ch] != value:
                line, col = source.line_col(at)
                raise GradError(f"'{value}' does not close the '{ch}' at line {line}, column {col}",
                                source, start, hint=f"close it with '{CLOSING[ch]}'")
            kind = "RPAR" if value == ")" else "RSQB"
        elif kind == "eof":
            if opened:
                ch, at = opened[-1]
                raise GradError(f"'{ch}' is never closed", source, at,
                                hint=f"add '{CLOSING[ch]}' where the expression ends")
            yield ("$END", "", start, start)
            return
        elif kind == "bad":
            raise _bad_character(source, start)
        else:
            value = m.group(kind)
        last = kind
        yield (kind, value, start, pos)


def _name_end(text: str, pos: int, stop: int) -> int:
    """Where a name ends: letters, digits, `_` and combining marks (a decomposed accent, an
    Indic vowel sign), as Python's identifiers go on."""
    import unicodedata

    while pos < stop:
        ch = text[pos]
        if not (ch.isalnum() or ch == "_" or (ch > "\x7f" and unicodedata.category(ch)[0] == "M")):
            break
        pos += 1
    return pos


def normal_name(name: str) -> str:
    """A name as Python normalises identifiers (NFKC): a decomposed accent is the precomposed
    letter, a full-width `ｆ` is `f`.  A name that is not an identifier (`x²`) stays as written,
    so the error about it can say what was meant."""
    if name.isascii() or not name.isidentifier():
        return name
    import unicodedata

    normal = unicodedata.normalize("NFKC", name)
    return normal if normal.isidentifier() else name


def _span(item):
    """(start, end) of a token or an expression: both are tuples with them at [2], [3] / [1], [2]."""
    return (item[1], item[2]) if item[0][0].islower() else (item[2], item[3])


def _name(tok):
    return (tok[1], tok[2], tok[3])


class _Build(Transformer):
    """Callbacks run by the LALR parser at each reduction: children in, tuple out.

    Tokens are tuples (TYPE, text, start, end); tree nodes are tuples whose
    first item is a lower-case kind, so the two never mix up.
    """

    # statements
    def start(self, c):
        return c

    def expr_only(self, c):
        return c[0]

    def input(self, c):
        kw, name = c[0], c[1]
        domain = default = None
        for item in c[2:]:
            if item[0] == "domain":
                domain = item[3:]
            else:
                default = item
        return ("input", kw[2], _span(c[-1])[1], _name(name), domain, default)

    def domain(self, c):  # IN ( lo hi )
        return ("domain", c[0][2], c[-1][3], c[2], c[3])

    def const(self, c):
        return ("const", c[0][2], c[-1][2], _name(c[1]), c[2])

    def define(self, c):  # DEF NAME ( params... ) expr
        params = [_name(t) for t in c[3:-2] if t is not None]
        return ("def", c[0][2], c[-1][2], _name(c[1]), params, c[-1])

    def output(self, c):
        return ("output", c[0][2], c[-1][3], [_name(t) for t in c[1:]])

    def assign(self, c):
        return ("assign", c[0][2], c[1][2], _name(c[0]), c[1])

    def claim_total(self, c):
        d1, _, u, _, _slash, d2, _, v, _, expr = c
        for d in (d1, d2):
            if d[1] != "d":
                raise GradError(f"a claim is written d(u)/d(v), not {d[1]}(...)", None, d[2], d[3])
        return ("claim_total", d1[2], expr[2], _name(u), _name(v), expr)

    def claim_partial(self, c):
        word, _, u, v, _, expr = c
        if word[1] != "partial":
            raise GradError(f"'{word[1]}' is a name, not a function: write `{word[1]} = ...`"
                            " or a claim partial(u, v) = ...", None, word[2], word[3])
        return ("claim_partial", word[2], expr[2], _name(u), _name(v), expr)

    # expressions
    def binary(self, c):
        a, op, b = c
        return ("bin", a[1], b[2], "**" if op[1] == "^" else op[1], a, b)

    def negate(self, c):
        return ("neg", c[0][2], c[1][2], c[1])

    def plus(self, c):
        return c[1]

    def call(self, c):  # NAME ( args... )
        args = tuple(a for a in c[2:-1] if a is not None)
        return ("call", c[0][2], c[-1][3], c[0][1], args)

    def paren(self, c):  # ( expr ): the same expression, its span widened to the brackets
        e = c[1]
        return (e[0], c[0][2], c[2][3]) + e[3:]

    def attribute(self, c):
        return ("attr", c[0][1], c[2][3], c[0], c[2][1])

    def number(self, c):
        t = c[0]
        value = float(t[1])
        if value == float("inf"):
            shown = t[1] if len(t[1]) <= 16 else t[1][:12] + "…"
            raise GradError(f"the number {shown} is too large for float64 (at most about 1.8e308)",
                            None, t[2], t[3])
        return ("num", t[2], t[3], value)

    def name(self, c):
        t = c[0]
        return ("name", t[2], t[3], t[1])

    def tensor(self, c):
        items = tuple(a for a in c[1:-1] if a is not None)
        return ("tensor", c[0][2], c[-1][3], items)


class _Tokens(Lexer):
    """Lark needs a lexer class to build the tables; our own loop feeds the tokens."""

    def __init__(self, lexer_conf):
        pass

    def lex(self, stream, parser_state=None):  # pragma: no cover - not used by _drive
        return stream


class Tables:
    """Lark's LALR tables for grammars/gradcli.lark, in the shape our loop wants.

    `actions[state][terminal]` is (True, next_state) for a shift or
    (False, (size, nonterminal, callback)) for a reduction; a unit reduction
    of a `?rule` (expr -> term -> unary ...) has no callback: it keeps its value.
    `goto[state][nonterminal]` is the state after a reduction.
    """

    def __init__(self, lark: Lark):
        from lark.parsers.lalr_analysis import Shift

        inner = lark.parser.parser.parser
        table, callbacks = inner.parse_table, inner.callbacks
        builder = _Build()
        self.start, self.end = table.start_states, table.end_states
        self.units = {}  # (state below, top state, terminal) -> top state after unit reductions
        reductions = {}
        self.actions, self.goto = {}, {}
        for state, acts in table.states.items():
            act, go = {}, {}
            for sym, (action, arg) in acts.items():
                if action is Shift and (sym.isupper() or sym == "$END"):
                    act[sym] = (True, arg)
                elif action is Shift:
                    go[sym] = arg
                else:
                    info = reductions.get(arg)
                    if info is None:
                        unit = len(arg.expansion) == 1 and arg.options.expand1 and arg.alias is None
                        info = reductions[arg] = (len(arg.expansion), arg.origin.name,
                                                  None if unit else _direct(arg, builder) or callbacks[arg])
                    act[sym] = (False, info)
            self.actions[state], self.goto[state] = act, go


def _direct(rule, builder):
    """Call a _Build method without Lark's child-filter wrapper, for the plain rules.

    A rule with optional parts (placeholders) or inlined sub-rules keeps Lark's callback.
    """
    names = [sym.name for sym in rule.expansion]
    if rule.options.empty_indices or any(n.startswith("_") and not n.isupper() for n in names):
        return None
    if rule.origin.name.startswith("_"):
        return None
    keep = [i for i, n in enumerate(names) if not n.startswith("_")]
    if rule.alias is None and rule.options.expand1 and len(keep) == 1:
        k = keep[0]
        return lambda children: children[k]
    method = getattr(builder, rule.alias or rule.origin.name, None)
    if method is None:
        return None
    if len(keep) == len(names):
        return method
    return lambda children: method([children[i] for i in keep])


def _drive(tables: Tables, stream, source: Source, start: str):
    """The LALR loop over Lark's tables: shift, reduce, call the _Build callbacks."""
    actions, goto, units = tables.actions, tables.goto, tables.units
    end_state = tables.end[start]
    states = [tables.start[start]]
    values: list = []
    for tok in stream:
        kind = tok[0]
        while True:
            try:
                shift, arg = actions[states[-1]][kind]
            except KeyError:
                raise _unexpected(tok, actions[states[-1]], source) from None
            if shift:
                states.append(arg)
                values.append(tok)
                break
            size, origin, callback = arg
            if callback is None:  # a chain of unit reductions: same value, new state
                key = (states[-2], states[-1], kind)
                top = units.get(key)
                if top is None:
                    top = states[-1]
                    while True:
                        shift, arg = actions[top].get(kind, (True, None))
                        if shift or arg[2] is not None:
                            break
                        top = goto[states[-2]][arg[1]]
                    units[key] = top
                states[-1] = top
                continue
            if size:
                children = values[-size:]
                del states[-size:]
                del values[-size:]
            else:
                children = []
            values.append(callback(children))
            states.append(goto[states[-1]][origin])
            if kind == "$END" and states[-1] == end_state:
                return values[-1]
        if kind == "$END" and states[-1] == end_state:  # pragma: no cover - end reached by a shift
            return values[-1]
    raise GradError("unexpected end of input", source, len(source.text))  # pragma: no cover


# Characters typed from a word processor or a paper: what to write instead.
LOOKALIKES = {"\u2212": "-", "\u2013": "-", "\u2014": "-", "\u00d7": "*", "\u00b7": "*", "\u22c5": "*",
              "\u2217": "*", "\u2219": "*", "\u00f7": "/", "\u2215": "/", "\uff1d": "=", "\uff08": "(",
              "\uff09": ")", "\uff0c": ","}
SUPERSCRIPTS = str.maketrans("\u2070\u00b9\u00b2\u00b3\u2074\u2075\u2076\u2077\u2078\u2079\u207b",
                             "0123456789-")


def _bad_character(source: Source, at: int) -> GradError:
    ch = source.text[at]
    ascii_ = LOOKALIKES.get(ch)
    if ascii_ is not None:
        hint = f"write {ascii_} (the ASCII operator) instead of {ch}"
    elif ch == "\u221a":
        hint = "write sqrt(...)"
    elif ch == "'" and at > 0 and (source.text[at - 1].isalnum() or source.text[at - 1] in "_)"):
        hint = "a derivative is written d(f)/d(x), not with a prime"
    elif ch in "'\"\u2018\u2019\u201c\u201d":
        hint = "quotes are no part of the language: write names and words without them"
    else:
        hint = "operators are + - * / @ ** ^; comments start with #"
    return GradError(f"unexpected character {ch!r}", source, at, hint=hint)


def name_hint(name: str) -> str | None:
    """A hint for a name no file defines that is a typed formula: `x²` -> x**2, `π` -> pi."""
    if name == "\u03c0":
        return "write pi"
    power = name.translate(SUPERSCRIPTS)
    if power != name:
        k = next(i for i, (a, b) in enumerate(zip(name, power)) if a != b)
        return f"write {name[:k] or '(...)'}**{power[k:]}"
    return None


_NUMBER_END = re.compile(r"(?<![\w.])(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?[ \t]*$")
_NAME_END = re.compile(r"([^\W\d]\w*)[ \t]*$")


def _juxtaposed(tok, source: Source) -> str | None:
    """A hint when an operand follows an operand: `2x`, `2(x + 1)`, `(a)(b)`, `sin x`, `x²`."""
    kind, value, start, _ = tok
    if kind == "NAME" and value[0].translate(SUPERSCRIPTS) != value[0]:
        return f"write **{value.translate(SUPERSCRIPTS)} for a power"
    if kind not in ("NAME", "NUMBER", "LPAR", "LSQB"):
        return None
    line_start = source.text.rfind("\n", 0, start) + 1
    before = source.text[line_start:start]
    shown = "pi" if value == "\u03c0" else value
    m = _NUMBER_END.search(before)
    if m and kind in ("NAME", "LPAR"):
        return f"multiplication needs a *: write {m.group().strip()}*{shown}"
    if before.rstrip().endswith((")", "]")):
        return f"multiplication needs a *: write {before.rstrip()[-1]}*{shown}"
    if kind == "NAME" and name_hint(value):
        return name_hint(value)
    m = _NAME_END.search(before)
    if m and kind in ("NAME", "NUMBER"):
        from ..autodiff.ops import FUNCTIONS

        if m.group(1) in FUNCTIONS:
            return f"call a function with brackets: {m.group(1)}({value})"
    return None


_CLAIMISH = re.compile(r"[ \t]*d[ \t]*\(?[ \t]*\w+[ \t]*\)?[ \t]*/[ \t]*d")
_CLAIM = re.compile(r"[ \t]*d[ \t]*\([ \t]*\w+[ \t]*\)[ \t]*/[ \t]*d[ \t]*\([ \t]*\w+[ \t]*\)[ \t]*=")


_MISSING_AFTER = {"=": "the right-hand side is missing: write an expression after =",
                  **dict.fromkeys("+-*/@^", "an operator must be followed by an operand"),
                  **dict.fromkeys(",([", "a value is missing here")}


def _unexpected(tok, expected, source) -> GradError:
    kind, value, start, _ = tok
    if kind == "$END":      # the end of the text parsed: the file's, or one statement's
        what, start = "end of file", len(source.text[:start].rstrip())
        if start < len(source.text.rstrip()):
            what = "end of the statement"
    elif kind == "_SEP":
        what = "end of line" if value == "\n" else "';'"
    else:
        what = f"'{value}'"
    names = {s for s in expected if s.isupper() or s == "$END"}
    msg = f"unexpected {what}"
    if names:
        parts = []
        if {"NAME", "NUMBER", "LPAR"} <= names:
            parts.append("an expression")
            names -= EXPRESSION_START
        parts += sorted(WORDS.get(n, n) for n in names if n != "$END")
        msg += "; expected " + ", ".join(parts[:6])
    juxtaposed = _juxtaposed(tok, source)
    line_start = source.text.rfind("\n", 0, start) + 1
    if juxtaposed:
        hint = juxtaposed
    elif _CLAIMISH.match(source.text, line_start) and not _CLAIM.match(source.text, line_start):
        hint = "a claim is written d(u)/d(v) = ... (brackets around both names), e.g. d(f)/d(x) = ..."
    elif kind == "_COMMA" and re.search(r"[0-9]$", source.text[line_start:start]) and \
            re.match(r"[0-9]", source.text[start + 1:start + 2]):
        whole = re.search(r"[0-9]+$", source.text[line_start:start]).group()
        part = re.match(r"[0-9]+", source.text[start + 1:]).group()
        hint = f"a decimal number is written with a point: {whole}.{part}"
    elif kind in ("INPUT", "CONST", "DEF", "OUTPUT", "IN"):
        hint = f"'{value}' is a reserved word; choose another name"
    elif {"NAME", "NUMBER", "LPAR"} <= set(expected):      # an operand is missing: after what?
        hint = _MISSING_AFTER.get(source.text[line_start:start].rstrip()[-1:])
    else:
        hint = None
    return GradError(msg, source, start, hint=hint)


@lru_cache(maxsize=None)
def _tables() -> Tables:
    """The LALR tables, built once per process and cached on disk by Lark."""
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gradcli"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        from .. import __version__
        cache = str(cache_dir / f"grammar-{__version__}.lark.cache")
    except OSError:
        cache = False
    lark = Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer=_Tokens,
                start=["start", "expr_only"], transformer=_Build(), cache=cache)
    return Tables(lark)


PARALLEL_BYTES = 1 << 20  # files larger than this are parsed in two halves at once


def parse(source: Source, start: str = "start"):
    """Parse a whole file (`start`) or one expression (`expr_only`)."""
    tables = _tables()
    try:
        if start == "start" and len(source.text) > PARALLEL_BYTES and hasattr(os, "fork"):
            halves = _parse_halves(tables, source)
            if halves is not None:
                return halves
        return _drive(tables, tokens(source), source, start)
    except GradError as err:
        raise _unclosed(err.located(source), source) from None


def parse_span(source: Source, start: int, stop: int):
    """Parse the statements of text[start:stop] alone; offsets (and errors) stay the file's."""
    try:
        return _drive(_tables(), tokens(source, start, stop), source, "start")
    except GradError as err:
        raise _unclosed(err.located(source), source, start, stop) from None


def _unclosed(err: GradError, source: Source, start: int = 0, stop: int | None = None) -> GradError:
    """A parser error on a line after a bracket that is never closed is the bracket's error:
    `y = (x + 1` then `output y` is reported at the `(`, not at `output`."""
    if not err.message.startswith("unexpected") or err.source is not source:
        return err
    try:
        for _ in tokens(source, start, stop):
            pass
    except GradError as lexed:
        if (lexed.message.endswith("is never closed") and lexed.start < err.start
                and "\n" in source.text[lexed.start:err.start]):
            return lexed
    return err


def _split_point(text: str) -> int | None:
    """A newline near the middle outside every bracket (counting brackets in comments too,
    so a comment's bracket can only make us give up: then the file is parsed whole)."""
    at = text.find("\n", len(text) // 2)
    depth, counted = 0, 0
    for _ in range(1000):
        if at < 0:
            return None
        depth += (text.count("(", counted, at) + text.count("[", counted, at)
                  - text.count(")", counted, at) - text.count("]", counted, at))
        counted = at
        if depth == 0:
            return at + 1
        at = text.find("\n", at + 1)
    return None


def _parse_halves(tables, source: Source):
    """Parse the second half in a forked child while this process parses the first.

    The child sends its statements back with marshal (plain tuples, strings and
    numbers only).  Any surprise -- a bracket in a comment across the split, a
    syntax error in either half, a failed fork -- returns None, and the caller
    parses the whole file in this process, so errors are always reported as usual.
    """
    import marshal

    cut = _split_point(source.text)
    if cut is None:
        return None
    try:
        read_end, write_end = os.pipe()
        pid = os.fork()
    except OSError:
        return None
    if pid == 0:  # the child: parse the second half, write it, leave at once
        status = 0
        try:
            os.close(read_end)
            data = marshal.dumps(_drive(tables, tokens(source, cut), source, "start"))
            with os.fdopen(write_end, "wb") as pipe:
                pipe.write(data)
        except BaseException:
            status = 1
        os._exit(status)
    os.close(write_end)
    first = None
    try:
        first = _drive(tables, tokens(source, 0, cut), source, "start")
    except GradError:
        pass
    with os.fdopen(read_end, "rb") as pipe:
        data = pipe.read()
    _, status = os.waitpid(pid, 0)
    if first is None or status != 0:
        return None
    return first + marshal.loads(data)


MAX_FILE_BYTES = 1 << 30  # no .grad file is this large; /dev/zero and the like stop here


def read_source(path, max_bytes: int | None = None, untrusted: bool = False) -> Source:
    """Read a .grad file; unreadable, binary, non-UTF-8, too large or not regular files
    are GradErrors.  `untrusted` (a student's answer): a symbolic link or a file with more
    than one name (a hard link) is refused too, so an answer cannot be another student's
    file or one of the grading machine's.  The Source is named as errors show the path
    (`errors.shown`: a name that is not UTF-8 appears as `bad\\xff`)."""
    import stat

    path = str(path)
    name = shown(path)
    limit = MAX_FILE_BYTES if max_bytes is None else max_bytes
    flags = os.O_RDONLY | os.O_NONBLOCK | (getattr(os, "O_NOFOLLOW", 0) if untrusted else 0)
    try:
        fd = os.open(path, flags)
    except OSError as err:
        if untrusted and os.path.islink(path):
            raise GradError(f"{name}: a symbolic link, not the answer file itself",
                            hint="an answer must be a regular file in the student's folder") from None
        if os.path.isdir(path):
            raise GradError(f"{name}: is a directory, not a .grad file") from None
        raise GradError(f"{name}: cannot read: {err.strerror or err}") from None
    info = os.fstat(fd)
    mode = info.st_mode
    if not stat.S_ISREG(mode):
        os.close(fd)
        if stat.S_ISDIR(mode):
            raise GradError(f"{name}: is a directory, not a .grad file")
        raise GradError(f"{name}: not a regular file (a device, a pipe or a socket)")
    if untrusted and info.st_nlink > 1:
        os.close(fd)
        raise GradError(f"{name}: a hard link ({info.st_nlink} names for one file), not the answer file "
                        "itself", hint="an answer must be a file of its own in the student's folder "
                                       "(a copy, not a link)")
    with os.fdopen(fd, "rb") as fh:
        try:
            data = _read_capped(fh, limit, info.st_size)
        except OSError as err:
            raise GradError(f"{name}: cannot read: {err.strerror or err}") from None
    if len(data) > limit:
        raise GradError(f"{name}: the file is larger than {limit // 1024:,} KiB",
                        hint="an answer is a short .grad file" if max_bytes else None)
    nul = data.find(b"\0")
    try:
        text = data.decode("utf-8")
        bad = None
    except UnicodeDecodeError as err:
        text, bad = None, err.start
    if nul >= 0 and (bad is None or nul < bad):
        raise _byte_error(name, data, nul, "a NUL byte: not a .grad text file (a binary file?)")
    if bad is not None:
        raise _byte_error(name, data, bad, "not UTF-8 text: bad byte 0x%02x" % data[bad])
    return Source(name, _normal_text(text))


def _read_capped(fh, limit: int, size: int) -> bytes:
    """At most limit + 1 bytes, in reads sized by the file (a read of limit + 1 bytes at once
    would reserve that much memory, a GiB, for a file of a few bytes)."""
    parts, got = [], 0
    while got <= limit:
        part = fh.read(min(limit + 1 - got, max(size + 1 - got, 1 << 16)))
        if not part:
            break
        parts.append(part)
        got += len(part)
    return b"".join(parts)


def text_source(text: str, name: str = "<string>") -> Source:
    """A .grad text given as a string (the Python API's `parse`), normalised as `read_source` does."""
    if not isinstance(text, str):
        raise GradError(f"{name}: the text of a .grad file must be a str, not {type(text).__name__}")
    return Source(name, _normal_text(text))


def _normal_text(text: str) -> str:
    """No byte-order mark; Windows and old Mac line ends become newlines."""
    if text.startswith("\ufeff"):
        text = text[1:]
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text


def _byte_error(path: str, data: bytes, at: int, message: str) -> GradError:
    """A bad byte at data[at], located by line and column (counted in characters, as elsewhere)."""
    end = data.find(b"\n", at)
    shown = data[: len(data) if end < 0 else end].replace(b"\0", b"?")
    head = _normal_text(data[:at].replace(b"\0", b"?").decode("utf-8", "replace"))
    rest = shown[at + 1:].decode("utf-8", "replace")
    return GradError(message, Source(path, head + "?" + rest), len(head))
