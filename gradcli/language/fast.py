"""Parse + build in one pass for large files: one statement at a time, no syntax tree.

`build(source, seed)` returns exactly the Program that the exact path -- syntax.parse,
then Builder.build -- returns for the same file, or None when it cannot promise that;
the caller then takes the exact path, which also reports every error with its own
message and position (so this module never reports one).

How.  The text is cut into tokens by one regular expression a chunk at a time (C speed,
no match objects; an operator token carries the blanks around it).  An assignment
`NAME = EXPR`, nearly every line of a large file, is reduced to its shape -- the tuple
of its tokens' kinds, names and numbers all `a` -- and the shape is compiled once, by
operator precedence, into a recipe: the post-order of the Builder's lowering, as a
list of instructions (push a leaf, apply `*`, call with 2 arguments, ...).  Running a
recipe on a statement's tokens makes its nodes, ids and spans exactly as the Builder
would, and no tree is ever held; the lines of a generated file share a few shapes, so
most lines cost one recipe run.  Any other statement (input, const, output, a claim)
is parsed exactly, on its own, by the LALR parser, and handed to the same Builder.

It gives up on: a `def` anywhere (a def may be called before its line), a name of the
form `_7` (generated names skip the file's own), anything it does not parse as the
grammar does, and any error.
"""

from __future__ import annotations

import re
from itertools import accumulate, repeat

from ..autodiff.ops import FUNCTIONS, INFIX, INITIALISERS, OPS
from ..errors import GradError, Source
from .program import MAX_NODES, Builder, Const, Node
from . import syntax

_OP = r"[ \t\f\v]*(?:\*\*|[-+*/@^=(),\[\];])[ \t\f\v]*"
TOKEN = re.compile(_OP + r"|[^\W\d]\w*|(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?"
                   r"|#[^\n]*|\n|[ \t\f\v]+|.")
COMMENTS = re.compile(r"#[^\n]*")
GIVE_UP = re.compile(r"(?<!\w)(?:def|_[1-9][0-9]*)(?!\w)")   # a def; a name a generated one could take
CHUNK = 1 << 18                   # characters tokenized at a time
RESERVED = frozenset(syntax.RESERVED)
BINARY = {"+": 1, "-": 1, "*": 2, "/": 2, "@": 2, "**": 4, "^": 4}   # ** ^ right-associative
UNARY = 3
LEAF, BIN, CALL1, NEG, MARK, PAREN, CALL, TENSOR, ATTR = range(9)     # recipe instructions
_MORE = object()                  # a shape that runs on past its line: inside brackets
_NEG = OPS["neg"]
_INF = float("inf")
_op_node = Node.generated_op
_OPERATOR: dict[str, tuple] = {}  # operator token -> (operator, blanks before it)
_RECIPES: dict[tuple, object] = {}


def _kinds() -> dict:
    """A token's kind in a shape: an operator token or blanks are themselves (blanks up to 8
    wide on either side of an operator; an unusual one reads as `a`, and the file then takes
    the exact path), keywords too, a newline '\n'; a name or a number (the default) is 'a'."""
    if not _KINDS:
        blanks = ["", "\t", "\t\t", " \t", "\t "] + [" " * w for w in range(1, 9)]
        kinds = {w: w for w in RESERVED}
        kinds.update({"\n": "\n", ".": "."})
        for op in ["**", *"-+*/@^=(),[];"]:
            for before in blanks:
                for after in blanks:
                    kinds[before + op + after] = before + op + after
        for width in range(1, 65):
            kinds[" " * width] = " " * width
        for run in ["\t", "\t\t", "\t\t\t", "\t\t\t\t", "\f", "\v"]:
            kinds[run] = run
        _KINDS.update(kinds)
    return _KINDS


_KINDS: dict[str, str] = {}


def _operator(tok: str):
    """(operator, blanks before it) of an operator token; ("", 0) for blanks."""
    got = _OPERATOR.get(tok)
    if got is None:
        core = tok.strip(" \t\f\v")
        got = _OPERATOR[tok] = (core, len(tok) - len(tok.lstrip(" \t\f\v")))
    return got


class _GiveUp(Exception):
    """Not a file (or a statement) this path promises to build exactly."""


def build(source: Source, seed: int = 0):
    """The Program of `source`, or None: take the exact path."""
    text = source.text
    if ("def" in text or "_" in text) and GIVE_UP.search(text) or not text.strip():
        return None
    builder = Builder(source, seed)
    builder.reset()               # no defs; the generated names' counter never meets a file's name
    try:
        _Statements(builder, source).run()
        return builder.finish()
    except (_GiveUp, GradError):
        return None


def _chunks(text: str):
    """The text's tokens, a chunk at a time; chunks end after a newline outside brackets
    (as far as counting brackets, comments included, can tell: a statement that still
    runs on across a chunk's end makes the parser give up, never err)."""
    n = len(text)
    pos = 0
    while pos < n:
        cut = text.find("\n", pos + CHUNK)
        for _ in range(64):
            if cut < 0:
                break
            depth = (text.count("(", pos, cut) + text.count("[", pos, cut)
                     - text.count(")", pos, cut) - text.count("]", pos, cut))
            if depth == 0:
                break
            cut = text.find("\n", cut + 1)
        end = n if cut < 0 else cut + 1
        yield pos, end, end == n
        pos = end


# ---------------------------------------------------------------- shapes to recipes

def _compile(shape: tuple):
    """A statement's shape -> (tokens it takes, instructions), _MORE, or None (give up).

    shape[0] is the name, shape[1] the `=`; the expression runs to a `;` or a comment
    outside brackets, or to the shape's end (a newline)."""
    code: list = []
    ops: list = []        # (kind, token index, precedence or operand count at the bracket)
    height = 0            # operands on the stack when the recipe runs
    want = True           # an operand comes next
    after_comma = False
    k, n = 2, len(shape)
    depth = 0
    while k < n:
        kind = shape[k]
        if kind == "a":
            if not want:
                return None
            if k + 3 < n and shape[k + 1] == "(" and shape[k + 2] == "a" and \
                    _operator(shape[k + 3])[0] == ")":
                code.append((CALL1, k, k + 2, k + 3, _operator(shape[k + 3])[1]))
                k += 4
            elif k + 1 < n and shape[k + 1] not in ("a", "#", ".", "\n") and \
                    _operator(shape[k + 1])[0] == "(":
                ops.append(("call", k, height))
                depth += 1
                k += 2
                after_comma, want = True, True      # f() is an empty call, not f(,)
                continue
            else:
                code.append((LEAF, k))
                k += 1
            height += 1
            want, after_comma = False, False
            continue
        if kind == "#" or kind == "\n":
            if depth == 0:
                break                               # a comment: the statement ends
            k += 1
            continue
        if kind == "." and len(kind) == 1:
            if want or k + 1 >= n or shape[k + 1] != "a":
                return None
            code.append((ATTR, k + 1))
            k += 2
            continue
        if kind in RESERVED:
            return None
        sym, lead = _operator(kind)
        if not sym:                                 # blanks
            k += 1
            continue
        if want:
            if sym == "(":
                code.append((MARK,))
                ops.append(("paren", k, height))
                depth += 1
            elif sym == "[":
                ops.append(("tensor", k, height))
                depth += 1
                after_comma = True
                k += 1
                continue
            elif sym == "-":
                ops.append(("neg", k, UNARY))
            elif sym == "+":
                ops.append(("plus", k, UNARY))
            elif sym in (")", "]") and after_comma and ops and ops[-1][0] in ("call", "tensor"):
                top = ops.pop()
                if (sym == ")") != (top[0] == "call"):
                    return None
                depth -= 1
                code.append((CALL, top[1], height - top[2], k, lead) if sym == ")" else
                            (TENSOR, top[1], height - top[2], k, lead, _operator(shape[top[1]])[1]))
                height = top[2] + 1
                want, after_comma = False, False
            else:
                return None
            after_comma = False
            k += 1
            continue
        prec = BINARY.get(sym)
        if prec is not None:
            height = _reduce(ops, code, height, prec, prec == 4, shape)
            ops.append(("bin", k, prec))
            want = True
        elif sym == ")" or sym == "]" or sym == ",":
            height = _reduce(ops, code, height, 0, False, shape)
            if not ops:
                return None
            top = ops[-1]
            if sym == ",":
                if top[0] not in ("call", "tensor"):
                    return None
                want, after_comma = True, True
                k += 1
                continue
            ops.pop()
            depth -= 1
            if sym == ")" and top[0] == "paren":
                code.append((PAREN, top[1], _operator(shape[top[1]])[1], k, lead))
            elif sym == ")" and top[0] == "call":
                code.append((CALL, top[1], height - top[2], k, lead))
                height = top[2] + 1
            elif sym == "]" and top[0] == "tensor":
                code.append((TENSOR, top[1], height - top[2], k, lead, _operator(shape[top[1]])[1]))
                height = top[2] + 1
            else:
                return None
        elif sym == ";" and depth == 0:
            break
        else:
            return None
        after_comma = False
        k += 1
    if depth:
        return _MORE
    if want:
        return None
    height = _reduce(ops, code, height, 0, False, shape)
    if ops or height != 1:
        return None
    return k, tuple(code)


def _reduce(ops, code, height, prec, right, shape) -> int:
    """Emit the pending operators that bind at least as tightly as one of precedence `prec`
    (more tightly, for a right-associative one); the operand count after them."""
    while ops:
        kind, k, p = ops[-1]
        if kind == "bin":
            if p < prec or (right and p == prec):
                break
            sym = _operator(shape[k])[0]
            sym = "**" if sym == "^" else sym
            code.append((BIN, OPS[INFIX[sym]], sym))
            height -= 1
        elif kind == "neg" or kind == "plus":
            if UNARY < prec or (right and UNARY == prec):
                break
            if kind == "neg":
                code.append((NEG, k, _operator(shape[k])[1]))
        else:
            break
        ops.pop()
    return height


# ---------------------------------------------------------------- statements

class _Statements:
    def __init__(self, builder: Builder, source: Source):
        self.b = builder
        self.source = source
        self.text = source.text
        self.tables = syntax._tables()
        self.kind = dict(_kinds())        # and this file's comments, '#'
        self.equals = frozenset(t for t in self.kind if _operator(t)[0] == "=")
        self.unary = {}                   # function name -> its one-argument op without params

    def run(self):
        text = self.text
        kind = self.kind
        pos = 0
        for lo, hi, last in _chunks(text):
            if text.find("#", lo, hi) >= 0:
                for tok in set(COMMENTS.findall(text, lo, hi)):
                    kind[tok] = "#"
            toks = TOKEN.findall(text, lo, hi)
            k, n = 0, len(toks)
            get = kind.get
            equals = self.equals
            while k < n:
                tok = toks[k]
                what = get(tok, "a")
                if what == "a":
                    if k + 1 < n and toks[k + 1] in equals and (tok[0] == "_" or tok[0].isalpha()):
                        k, pos = self.assign(toks, k, pos, last)
                    else:
                        k, pos = self.exact(toks, k, pos, last)
                    continue
                if what == "\n" or what == "#" or not _operator(tok)[0] or _operator(tok)[0] == ";":
                    pos += len(tok)         # newlines, comments, blanks, empty statements
                    k += 1
                    continue
                k, pos = self.exact(toks, k, pos, last)

    # ------------------------------------------------------------ any statement, exactly
    def exact(self, toks, k, pos, last):
        """A statement other than an assignment: its tokens to the end of the statement, then
        the LALR parser on that span of the text, then the Builder."""
        start, depth, n = pos, 0, len(toks)
        get = self.kind.get
        while k < n:
            tok = toks[k]
            what = get(tok, "a")
            if what == "\n":
                if depth == 0:
                    break
            elif what != "a" and what != "#" and what not in RESERVED and what != ".":
                sym = _operator(tok)[0]
                if sym == "(" or sym == "[":
                    depth += 1
                elif sym == ")" or sym == "]":
                    depth -= 1
                elif sym == ";" and depth == 0:
                    pos += _operator(tok)[1]
                    break
            pos += len(tok)
            k += 1
        if k >= n and not last:
            raise _GiveUp
        statements = syntax._drive(self.tables, syntax.tokens(self.source, start, pos), self.source, "start")
        if len(statements) != 1 or statements[0][0] == "def":
            raise _GiveUp
        self.b.statement(statements[0])
        return k, pos

    # ------------------------------------------------------------ NAME = EXPR
    def assign(self, toks, k, pos, last):
        """toks[k] at `pos` is the name, toks[k + 1] the `=`: find the statement's shape,
        its recipe (compiled once per shape), run it."""
        n = len(toks)
        try:
            e = toks.index("\n", k)
        except ValueError:
            e = n
        get = self.kind.get
        while True:
            shape = tuple(map(get, toks[k:e], repeat("a")))
            recipe = _RECIPES.get(shape)
            if recipe is None:
                recipe = _compile(shape)
                if len(_RECIPES) > 4096:
                    _RECIPES.clear()
                _RECIPES[shape] = recipe
            if recipe is not _MORE:
                break
            if e >= n:
                raise _GiveUp
            try:
                e = toks.index("\n", e + 1)
            except ValueError:
                e = n
        if recipe is None:
            raise _GiveUp
        used, code = recipe
        toks = toks[k:k + used]
        offs = list(accumulate(map(len, toks), initial=pos))
        self.run_recipe(code, toks, offs)
        return k + used, offs[used]

    def run_recipe(self, code, toks, offs):
        """The statement's nodes: a stack machine over (item, start, end) operands."""
        b = self.b
        nodes = b.nodes
        mark = len(nodes)
        vals: list = []
        marks: list = []
        resolve = b.resolve
        names = b.names
        for ins in code:
            op = ins[0]
            if op == LEAF:
                j = ins[1]
                tok = toks[j]
                item = names.get(tok)
                if item is not None:
                    vals.append((item, offs[j], offs[j + 1]))
                else:
                    vals.append(self.leaf(tok, offs[j], offs[j + 1], resolve))
            elif op == BIN:
                bb = vals.pop()
                a = vals.pop()
                ia, ib = a[0], bb[0]
                if type(ia) is Const or type(ib) is Const:
                    item = b.apply(("bin", a[1], bb[2], ins[2]), [ia, ib], False)
                else:
                    nid = len(nodes)
                    if nid >= MAX_NODES:
                        raise _GiveUp
                    b.counter += 1
                    nodes.append(_op_node(nid, b.counter, ins[1], ia, ib, a[1], bb[2]))
                    item = nid
                vals.append((item, a[1], bb[2]))
            elif op == CALL1:
                jf, ja = ins[1], ins[2]
                fname, tok, start, end = toks[jf], toks[ja], offs[jf], offs[ins[3]] + ins[4] + 1
                f = self.unary.get(fname, False)
                if f is False:
                    f = self.unary[fname] = _unary_op(fname)
                c = tok[0]
                if f is not None and (c == "_" or c.isalpha()):
                    item = names.get(tok)
                    if item is None:
                        item = resolve(("name", offs[ja], offs[ja + 1], tok), None)
                    if type(item) is Const:
                        item = b.apply(("call", start, end, fname), [item], False)
                    else:
                        nid = len(nodes)
                        if nid >= MAX_NODES:
                            raise _GiveUp
                        b.counter += 1
                        nodes.append(_op_node(nid, b.counter, f, item, None, start, end))
                        item = nid
                    vals.append((item, start, end))
                else:
                    arg = self.leaf(tok, offs[ja], offs[ja + 1], resolve)
                    vals.append(self.call(fname, [arg[0]], start, end))
            elif op == NEG:
                a = vals.pop()
                start = offs[ins[1]] + ins[2]
                item = a[0]
                if type(item) is Const:
                    item = b.apply(("neg", start, a[2]), [item], False)
                else:
                    item = self.add(_NEG, item, None, start, a[2])
                vals.append((item, start, a[2]))
            elif op == MARK:
                marks.append(len(nodes))
            elif op == PAREN:
                item = vals.pop()[0]
                start, end = offs[ins[1]] + ins[2], offs[ins[3]] + ins[4] + 1
                vals.append((self.widen(item, marks.pop(), start, end), start, end))
            elif op == CALL:
                jf, count = ins[1], ins[2]
                args = [v[0] for v in vals[len(vals) - count:]]
                del vals[len(vals) - count:]
                vals.append(self.call(toks[jf], args, offs[jf], offs[ins[3]] + ins[4] + 1))
            elif op == TENSOR:
                jo, count = ins[1], ins[2]
                items = [v[0] for v in vals[len(vals) - count:]]
                del vals[len(vals) - count:]
                start, end = offs[jo] + ins[5], offs[ins[3]] + ins[4] + 1
                vals.append((b.apply(("tensor", start, end), items, False), start, end))
            else:  # ATTR
                j = ins[1]
                attr = toks[j]
                if not (attr[0] == "_" or attr[0].isalpha()):
                    raise _GiveUp
                item, s, _ = vals.pop()
                end = offs[j + 1]
                vals.append((b.apply(("attr", s, end, None, attr), [item], False), s, end))
        item, _, end = vals[0]
        name = toks[0]
        if type(item) is int and item >= mark and name not in names and nodes[item].generated:
            nodes[item].name = name          # Builder.assign's common case, without its checks' cost
            names[name] = item
            b.last_assign = item
        else:
            b.assign((name, offs[0], offs[1]), offs[0], end, item, mark)

    def leaf(self, tok, start, end, resolve):
        """A name or a number (a shape's `a`): (item, start, end)."""
        c = tok[0]
        if c == "_" or c.isalpha():
            return resolve(("name", start, end, tok), None), start, end
        if "0" <= c <= "9" or (c == "." and len(tok) > 1):
            value = float(tok)
            if value != _INF:
                return Const(_f64(value), start, end), start, end
        raise _GiveUp

    def call(self, fname, args, start, end):
        """`fname(args)`: its node, or the Builder's apply for constants and params."""
        c = fname[0]
        table = FUNCTIONS.get(fname) if (c == "_" or c.isalpha()) and fname not in INITIALISERS else None
        opname = None if table is None else table.get(len(args))
        if opname is None:
            raise _GiveUp
        op = OPS[opname]
        if op.params or len(args) > 2 or any(type(a) is Const for a in args):
            item = self.b.apply(("call", start, end, fname), args, False)
        else:
            item = self.add(op, args[0], args[1] if len(args) == 2 else None, start, end)
        return item, start, end

    def add(self, op, a, b, start, end):
        """Builder.add for an op node of arguments (a,) or (a, b) and a generated name (no file
        name can be taken)."""
        builder = self.b
        nodes = builder.nodes
        nid = len(nodes)
        if nid >= MAX_NODES:
            raise _GiveUp
        builder.counter += 1
        nodes.append(_op_node(nid, builder.counter, op, a, b, start, end))
        return nid

    def widen(self, item, mark, start, end):
        """`( EXPR )`: the expression's span becomes the brackets' (the tree's paren rule)."""
        if type(item) is Const:
            if self.b.names.get(item.name) is item:      # a const of the file: its own span
                return item
            return Const(item.value, start, end, item.name)
        if item >= mark:
            node = self.b.nodes[item]
            node.start, node.end = start, end
        return item


def _unary_op(fname: str):
    """The op `fname(x)` calls, if it takes no params; None for anything else."""
    c = fname[0]
    if not (c == "_" or c.isalpha()) or fname in INITIALISERS:
        return None
    opname = FUNCTIONS.get(fname, {}).get(1)
    return None if opname is None or OPS[opname].params else OPS[opname]


def _f64(value: float):
    import numpy as np

    return np.float64(value)
