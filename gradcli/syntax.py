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

from lark import Lark, Token, Transformer
from lark.exceptions import UnexpectedInput
from lark.lexer import Lexer

from .errors import GradError, Source

RESERVED = {"input": "INPUT", "const": "CONST", "def": "DEF", "output": "OUTPUT", "in": "IN"}
PUNCT = {"+": "PLUS", "-": "MINUS", "*": "STAR", "/": "SLASH", "@": "AT", "=": "_EQ",
         "(": "_LPAR", ")": "_RPAR", ",": "_COMMA", ".": "DOT", "[": "LSQB", "]": "RSQB"}
CLOSING = {"(": ")", "[": "]"}
TOKEN_RE = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<comment>\#[^\n]*)
  | (?P<nl>\n)
  | (?P<semi>;)
  | (?P<NUMBER>(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)
  | (?P<NAME>[^\W\d]\w*)
  | (?P<POW>\*\*|\^)
  | (?P<punct>[-+*/@=(),.\[\]])
  | (?P<bad>.)
""", re.VERBOSE)

# How an expected terminal reads in a message.
WORDS = {"NAME": "a name", "NUMBER": "a number", "_SEP": "the end of the statement",
         "$END": "the end of the file", "INPUT": "'input'", "CONST": "'const'",
         "DEF": "'def'", "OUTPUT": "'output'", "IN": "'in'", "POW": "'**'"}
WORDS.update({v: f"'{k}'" for k, v in PUNCT.items()})
EXPRESSION_START = {"NAME", "NUMBER", "_LPAR", "LSQB", "MINUS", "PLUS"}


def grammar_path() -> Path:
    """The grammar ships inside the wheel as gradcli/grammars; in a checkout it is ../grammars."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "grammars" / "gradcli.lark", here.parent / "grammars" / "gradcli.lark"):
        if candidate.is_file():
            return candidate
    raise FileNotFoundError("gradcli.lark not found next to the gradcli package")


def tokens(source: Source):
    """Yield Lark tokens; raise GradError on a stray character or an unbalanced bracket."""
    text = source.text
    opened: list[tuple[str, int]] = []
    last = "_SEP"  # so leading blank lines emit nothing
    for m in TOKEN_RE.finditer(text):
        kind = m.lastgroup
        if kind == "ws" or kind == "comment":
            continue
        start = m.start()
        if kind == "nl":
            if opened or last == "_SEP":
                continue
            kind, value = "_SEP", "\n"
        elif kind == "semi":
            if opened:
                raise GradError("';' inside brackets", source, start,
                                hint=f"close the '{opened[-1][0]}' opened before it")
            if last == "_SEP":
                continue
            kind, value = "_SEP", ";"
        else:
            value = m.group()
            if kind == "NAME":
                kind = RESERVED.get(value, "NAME")
            elif kind == "punct":
                kind = PUNCT[value]
                if value in "([":
                    opened.append((value, start))
                elif value in ")]":
                    if not opened:
                        raise GradError(f"unmatched '{value}'", source, start)
                    ch, at = opened.pop()
                    if CLOSING[ch] != value:
                        line, col = source.line_col(at)
                        raise GradError(f"'{value}' does not close the '{ch}' at line {line}, column {col}",
                                        source, start, hint=f"close it with '{CLOSING[ch]}'")
            elif kind == "bad":
                raise GradError(f"unexpected character {value!r}", source, start,
                                hint="operators are + - * / @ ** ^; comments start with #")
        last = kind
        yield Token(kind, value, start, None, None, None, None, m.end())
    if opened:
        ch, at = opened[-1]
        raise GradError(f"'{ch}' is never closed", source, at,
                        hint=f"add '{CLOSING[ch]}' where the expression ends")


def _span(item):
    """(start, end) of a token or an expression tuple."""
    if isinstance(item, tuple):
        return item[1], item[2]
    return item.start_pos, item.end_pos


def _name(tok):
    return (str(tok), tok.start_pos, tok.end_pos)


class _Build(Transformer):
    """Callbacks run by the LALR parser at each reduction: children in, tuple out."""

    # statements
    def start(self, c):
        return c

    def expr_only(self, c):
        return c[0]

    def input(self, c):
        kw, name = c[0], c[1]
        domain = default = None
        for item in c[2:]:
            if isinstance(item, tuple) and item[0] == "domain":
                domain = item[1:]
            else:
                default = item
        end = _span(c[-1])[1]
        return ("input", kw.start_pos, end, _name(name), domain, default)

    def domain(self, c):
        return ("domain", c[1], c[2])

    def const(self, c):
        return ("const", c[0].start_pos, c[-1][2], _name(c[1]), c[2])

    def define(self, c):
        params = [_name(t) for t in c[2:-1] if t is not None]
        return ("def", c[0].start_pos, c[-1][2], _name(c[1]), params, c[-1])

    def output(self, c):
        return ("output", c[0].start_pos, c[-1].end_pos, [_name(t) for t in c[1:]])

    def assign(self, c):
        return ("assign", c[0].start_pos, c[1][2], _name(c[0]), c[1])

    def claim_total(self, c):
        d1, u, _slash, d2, v, expr = c
        for d in (d1, d2):
            if d != "d":
                raise GradError(f"a claim is written d(u)/d(v), not {d}(...)", None, d.start_pos, d.end_pos)
        return ("claim_total", d1.start_pos, expr[2], _name(u), _name(v), expr)

    def claim_partial(self, c):
        word, u, v, expr = c
        if word != "partial":
            raise GradError(f"'{word}' is a name, not a function: write `{word} = ...`"
                            " or a claim partial(u, v) = ...", None, word.start_pos, word.end_pos)
        return ("claim_partial", word.start_pos, expr[2], _name(u), _name(v), expr)

    # expressions
    def binary(self, c):
        a, op, b = c
        return ("bin", a[1], b[2], "**" if op == "^" else str(op), a, b)

    def negate(self, c):
        return ("neg", c[0].start_pos, c[1][2], c[1])

    def plus(self, c):
        return c[1]

    def call(self, c):
        args = tuple(a for a in c[1:] if a is not None)
        end = args[-1][2] if args else c[0].end_pos
        return ("call", c[0].start_pos, end, str(c[0]), args)

    def attribute(self, c):
        return ("attr", c[0][1], c[2].end_pos, c[0], str(c[2]))

    def number(self, c):
        t = c[0]
        return ("num", t.start_pos, t.end_pos, float(t))

    def name(self, c):
        t = c[0]
        return ("name", t.start_pos, t.end_pos, str(t))

    def tensor(self, c):
        items = tuple(a for a in c[1:-1] if a is not None)
        return ("tensor", c[0].start_pos, c[-1].end_pos, items)


class _Tokens(Lexer):
    """Lark's hook for a custom lexer: `parse` is handed our token stream."""

    def __init__(self, lexer_conf):
        pass

    def lex(self, stream, parser_state=None):
        return stream


@lru_cache(maxsize=None)
def _parser():
    """The LALR parser, built once per process and cached on disk by Lark."""
    cache_dir = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "gradcli"
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        from . import __version__
        cache = str(cache_dir / f"grammar-{__version__}.lark.cache")
    except OSError:
        cache = False
    return Lark(grammar_path().read_text(encoding="utf-8"), parser="lalr", lexer=_Tokens,
                start=["start", "expr_only"], transformer=_Build(), cache=cache)


def _describe(tok) -> str:
    if tok.type == "$END":
        return "the end of the file"
    if tok.type == "_SEP":
        return "the end of the line" if tok == "\n" else "';'"
    return f"'{tok}'"


def _expected(expected) -> str:
    names = set(expected)
    parts = []
    if EXPRESSION_START & names:
        parts.append("an expression")
        names -= EXPRESSION_START
    parts += sorted(WORDS.get(n, n) for n in names if n != "$END")
    return ", ".join(parts[:6])


def parse(source: Source, start: str = "start"):
    """Parse a whole file (`start`) or one expression (`expr_only`)."""
    parser = _parser()
    try:
        return parser.parse(tokens(source), start=start)
    except GradError as err:
        raise err.located(source) from None
    except UnexpectedInput as err:
        tok = getattr(err, "token", None)
        if tok is None or tok.type == "$END" or tok.start_pos is None:
            pos = len(source.text.rstrip())
            what = "the end of the file"
        else:
            pos, what = tok.start_pos, _describe(tok)
        expected = getattr(err, "expected", None) or getattr(err, "allowed", None) or ()
        hint = None
        if EXPRESSION_START & set(expected):
            hint = "an operator must be followed by an operand"
        msg = f"unexpected {what}"
        if expected:
            msg += f"; expected {_expected(expected)}"
        raise GradError(msg, source, pos, hint=hint) from None
    except RecursionError:  # pragma: no cover - the parser has no recursion; belt and braces
        raise GradError("expression nested too deeply", source, 0) from None


def read_source(path: str) -> Source:
    """Read a .grad file; unreadable, binary or non-UTF-8 files are GradErrors."""
    try:
        data = Path(path).read_bytes()
    except IsADirectoryError:
        raise GradError(f"{path}: is a directory, not a .grad file") from None
    except OSError as err:
        raise GradError(f"{path}: cannot read: {err.strerror or err}") from None
    if b"\0" in data:
        raise GradError(f"{path}: binary file, not a .grad text file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as err:
        src = Source(path, data[: err.start].decode("utf-8") + "?")
        raise GradError("not UTF-8 text: bad byte 0x%02x" % data[err.start], src, err.start) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    return Source(path, text)
