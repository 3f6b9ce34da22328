"""`graph` reports to text (rich), JSON, DOT and Mermaid.  Nothing here computes.

All four read the same `GraphView` (graphview.py): the same node names, the same
edges in the same order.  DOT and Mermaid use `NodeRow.key` as the node id (a
safe ASCII identifier: `v_NAME`, or `n<id>` for literals and non-ASCII names)
and `f_...` for the small op node in front of each value.
"""

from __future__ import annotations

import re

import numpy as np

from .view import SMALL, GraphView, Summary, fmt, shape_text, summarised
from ..numbers import block, options
from ..render import Col, Styled, fit, tolist


def _value(v):
    """A value for JSON: a number or nested lists, or {shape, size, min, max, mean, nonfinite}
    above view.FULL elements (docs/graph.md), so a huge tensor costs a few bytes."""
    v = summarised(v)
    return v.to_json() if isinstance(v, Summary) else tolist(v)

COLOURS = {  # fill, border
    "input": ("#cfe2ff", "#3d6fb6"),
    "const": ("#e9ecef", "#8a8f94"),
    "output": ("#ffe8a3", "#c99700"),
    "op": ("#ffffff", "#555555"),
}


# ---------------------------------------------------------------- shared text

def _mark(ok: bool) -> str:
    return "✓" if ok else "✗"


def claim_text(c, digits: int | None = None) -> str:
    """`d(o)/d(x) = (x+y)*cos(x) = -6.28 ✓`, or with the engine's value when they differ."""
    head = f"{c.text} = {c.source}"
    given = fmt(c.given, digits)
    if c.source != given:
        head += f" = {given}"
    if c.agrees:
        return f"{head} ✓"
    return f"{head} ✗ engine: {fmt(c.engine, digits)}"


def edge_text(gv: GraphView, e) -> tuple[str, str]:
    """(`∂w2/∂x = cos(x)`, `-1`) for an elementwise edge; shapes for a tensor op."""
    title = gv.edge_title(e)
    left = f"{title} = {e.formula}" if e.formula is not None else title
    if e.tensor_op:
        src, dst = gv.nodes[e.src], gv.nodes[e.dst]
        return left, f"shapes {src.name}{shape_text(e.src_shape)} → {dst.name}{shape_text(e.dst_shape)}"
    return left, fmt(e.value)


def edge_label(gv: GraphView, e) -> str:
    left, right = edge_text(gv, e)
    if e.tensor_op:
        return left
    return left if right == e.formula else f"{left} = {right}"


def path_name(gv: GraphView, p) -> str:
    if not p.edges:
        return gv.output
    e = gv.edges
    return " → ".join([gv.nodes[e[p.edges[0]].src].name] + [gv.nodes[e[i].dst].name for i in p.edges])


def _compound(formula: str) -> bool:
    """Does a factor need parentheses in a product: an operator outside brackets?"""
    flat, depth = [], 0
    for ch in formula:
        depth += ch in "([" 
        depth -= ch in ")]"
        flat.append(ch if depth == 0 and ch not in ")]" else "")
    top = "".join(flat)
    return any(t in top for t in (" + ", " - ", "*", "/", ",", "=", "@")) or "+" in top[1:]


def path_factors(gv: GraphView, p) -> tuple[str, str | None]:
    """The formulas along the path, and their values when all are scalars."""
    formulas, values = [], []
    for i in p.edges:
        e = gv.edges[i]
        formulas.append(e.formula if e.formula is not None else gv.edge_title(e))
        scalar = not e.tensor_op and e.value is not None and getattr(e.value, "ndim", 0) == 0
        values.append(fmt(e.value) if scalar else None)
    if not formulas:
        return "1", "1"
    shown = [f"({f})" if _compound(f) else f for f in formulas]
    numbers = None if None in values else " · ".join(values)
    return " · ".join(shown), numbers


# ---------------------------------------------------------------- text

def text(gv: GraphView, out, show_file: bool = True) -> None:
    """The listing: a Printer gets the point, the node table, the edges and the paths; on a
    narrow terminal with fewer digits if that makes the tables fit (and a note that says so)."""
    digits, layout, note = fit(out.width, lambda layout: _tables(gv, *layout), LAYOUTS)
    with options(digits=digits):
        _text(gv, out, show_file, layout)
    if note:
        out.print(Styled(f"({note})", "dim"))


# How the node table may be laid out to fit a terminal: (tensors over several lines, shapes shown).
LAYOUTS = [(False, True), (True, True), (True, False)]


def _tables(gv: GraphView, blocks: bool = False, shapes: bool = True) -> list:
    """(columns, rows, boxed) of the node table and of the edges table; `blocks`: small tensors
    over several lines (a matrix a row per line) rather than as nested lists on one."""
    value = (lambda v: block(v) if np.ndim(v) and np.size(v) <= SMALL else fmt(v)) if blocks else fmt
    cols = [Col("node"), Col("definition", wrap=True)] + ([Col("shape")] if shapes else []) + \
        [Col("value", right=True), Col(f"d({gv.out})/d(node)", right=True)]
    cols += [Col(f"d(node)/d({x})", right=True) for x in gv.wrt]
    has_claims = any(n.claims for n in gv.nodes)
    if has_claims:
        cols.append(Col("claims in the file", wrap=True))
    rows = []
    for n in gv.nodes:
        if n.literal:
            continue  # shown inline where used, like a jaxpr literal
        style = "bold" if n.output else ("cyan" if n.kind == "input" else ("dim" if n.kind == "const" else ""))
        row = [Styled(n.name + (" (output)" if n.output else ""), style), n.expr] + \
            ([shape_text(n.shape)] if shapes else []) + [value(n.value), "—" if n.adjoint is None else value(n.adjoint)]
        for x in gv.wrt:
            t = n.tangents.get(x)
            row.append("—" if t is None else value(t))
        if has_claims:
            row.append(_claims_cell(n.claims))
        rows.append(row)
    tables = [(cols, rows, False)]
    edges = [e for e in gv.edges if e.differentiable]
    if edges:
        ecols = [Col(""), Col("", wrap=True), Col("")]      # edge, partial, value: no header
        has_edge_claims = any(e.claims for e in edges)
        if has_edge_claims:
            ecols.append(Col("", wrap=True))
        erows = []
        for e in edges:
            left, right = edge_text(gv, e)
            row = [f"{gv.nodes[e.src].name} → {gv.nodes[e.dst].name}", left,
                   "" if right == e.formula else ("= " + right if not e.tensor_op else right)]
            if has_edge_claims:
                row.append(_claims_cell(e.claims))
            erows.append(row)
        tables.append((ecols, erows, False))
    return tables


def _text(gv: GraphView, out, show_file: bool, layout) -> None:
    point = ", ".join(f"{k} = {fmt(v)}" for k, v in gv.point.items())
    out.print(([Styled(gv.file, "bold"), "  "] if show_file else []) + [f"at {point}"])
    note = "" if gv.scalar else f" (a tensor: the adjoint of sum({gv.output}))"
    out.print(f"output {gv.output}{note}; d({gv.out})/d(node) by reverse mode"
              + (", d(node)/d(" + "), d(node)/d(".join(gv.wrt) + ") by forward mode" if gv.wrt else ""))
    tables = _tables(gv, *layout)
    out.table(*tables[0][:2])
    if len(tables) > 1:
        out.print()
        out.print(Styled("edges: the local partial of each node w.r.t. each argument", "bold"))
        cols, rows, _ = tables[1]
        out.table(cols, rows, headers=False)
    for rep in gv.paths:
        out.print()
        paths_text(gv, rep, out)


def _claims_cell(claims) -> str | Styled:
    """The claims about a node or an edge, `; `-separated (red if any is wrong)."""
    text = "; ".join(claim_text(c) for c in claims)
    return Styled(text, "green" if all(c.agrees for c in claims) else "bold red")


def paths_text(gv: GraphView, rep, out) -> None:
    n = len(rep.paths)
    head = f"paths from {rep.wrt} to {rep.output}: {rep.count:,}"
    if rep.count == 0:
        head += f" ({rep.output} does not depend on {rep.wrt})"
    elif rep.complete:
        head += ", all shown" if rep.count > 1 else ", shown"
    else:
        head += f"; the first {n:,} shown (--limit {rep.limit})"
    out.print(Styled(head, "bold"))
    names = [path_name(gv, p) for p in rep.paths]
    width = min(max((len(x) for x in names), default=0), 48)
    for name, p in zip(names, rep.paths):
        formulas, numbers = path_factors(gv, p)
        value = fmt(p.value)
        prod = formulas
        if numbers is not None and numbers != formulas and numbers != value:
            prod = f"{formulas} = {numbers}"
        if len(name) > width:  # a long path gets a line of its own
            out.print(f"  {name}")
            out.print(f"      {prod} = {value}")
        else:
            out.print(f"  {name:<{width}}  {prod} = {value}")
    grad = f"d({rep.output})/d({rep.wrt}) by reverse mode = {fmt(rep.gradient)}"
    if rep.complete:
        out.print([f"total (sum over {rep.count:,} path{'s' if rep.count != 1 else ''}) = "
                   f"{fmt(rep.total)}; {grad} ",
                   Styled(_mark(rep.agrees), "green" if rep.agrees else "bold red")])
    else:
        rest = rep.count - n
        out.print(f"the {n:,} shown sum to {fmt(rep.shown_sum)}; {rest:,} more path"
                  f"{'s' if rest != 1 else ''} not shown, so that is not the total")
        out.print(f"total over all {rep.count:,} paths = {fmt(rep.total)} = d({rep.output})/d({rep.wrt}) "
                  "by reverse mode, which sums every path without listing them")


# ---------------------------------------------------------------- JSON

def _span_json(span):
    (l1, c1), (l2, c2) = span
    return {"line": l1, "col": c1, "end_line": l2, "end_col": c2}


def _claim_json(c):
    return {"claim": c.text, "kind": c.kind, "expr": c.source, "given": _value(c.given),
            "engine": _value(c.engine), "agrees": c.agrees, "span": _span_json(c.span)}


def to_json(gv: GraphView) -> dict:
    nodes = []
    for n in gv.nodes:
        nodes.append({
            "name": n.name, "kind": n.kind, "op": n.op, "expr": n.expr, "args": n.args,
            "shape": list(n.shape), "value": _value(n.value),
            "adjoint": None if n.adjoint is None else _value(n.adjoint),
            "tangent": {x: None if t is None else _value(t) for x, t in n.tangents.items()} or None,
            "output": n.output, "span": _span_json(n.span),
            "claims": [_claim_json(c) for c in n.claims],
        })
    edges = []
    for e in gv.edges:
        edges.append({
            "from": gv.nodes[e.src].name, "to": gv.nodes[e.dst].name, "arg": e.slot,
            "formula": e.formula, "value": None if e.value is None else _value(e.value),
            "tensor_op": e.tensor_op, "differentiable": e.differentiable,
            "shapes": {"from": list(e.src_shape), "to": list(e.dst_shape)},
            "claims": [_claim_json(c) for c in e.claims],
        })
    data = {"file": gv.file, "point": {k: _value(v) for k, v in gv.point.items()},
            "output": gv.output, "adjoint_of": gv.out, "mode": gv.mode, "wrt": gv.wrt,
            "nodes": nodes, "edges": edges, "claims": [_claim_json(c) for c in gv.claims]}
    if gv.paths:
        data["paths"] = {}
        for rep in gv.paths:
            data["paths"][rep.wrt] = {
                "output": rep.output, "count": rep.count, "shown": len(rep.paths),
                "limit": rep.limit, "complete": rep.complete,
                "paths": [{"nodes": path_name(gv, p).split(" → "),
                           "formulas": [gv.edges[i].formula for i in p.edges],
                           "factors": [None if gv.edges[i].value is None else _value(gv.edges[i].value)
                                       for i in p.edges],
                           "value": _value(p.value)} for p in rep.paths],
                "shown_sum": _value(rep.shown_sum), "total": _value(rep.total),
                "gradient": _value(rep.gradient), "agrees": rep.agrees,
            }
    return data


# ---------------------------------------------------------------- DOT

def _edge_caption(gv: GraphView, e, sep: str) -> str:
    """An edge's label in a picture: its partial, a tensor op's shapes, the claims about it."""
    parts = [edge_label(gv, e)]
    if e.tensor_op:
        parts.append(f"{shape_text(e.src_shape)} → {shape_text(e.dst_shape)}")
    parts += ["claim " + claim_text(c) for c in e.claims]
    return sep.join(parts)


def _dot_record(s: str) -> str:
    """Text inside a record label field: escape the record syntax and quotes."""
    return re.sub(r'([{}|<>"])', r"\\\1", s.replace("\\", "/"))


def _dot_str(s: str) -> str:
    """A quoted DOT string (no backslash can reach it: records get theirs from _dot_record)."""
    return '"' + s.replace("\\", "/").replace('"', '\\"').replace("\n", "\\n") + '"'


def _op_key(n) -> str:
    return "f_" + n.key[2:] if n.key.startswith("v_") else "f" + n.key[1:]


def dot(gv: GraphView) -> str:
    """Graphviz, left to right: a record `name | value | adjoint` per value (stacked, as
    rankdir=LR lays out a record's top-level fields), a small circle per op."""
    out = [f"digraph {_dot_str(gv.file)} {{",
           "  rankdir=LR;",
           '  node [fontname="Helvetica", fontsize=11];',
           '  edge [fontname="Helvetica", fontsize=9];']
    for n in gv.nodes:
        kind = "output" if n.output else n.kind
        fill, line = COLOURS.get(kind, COLOURS["op"])
        fields = [_dot_record(f"{n.name} {shape_text(n.shape)}" if n.shape else n.name)]
        if not n.literal:
            fields.append(_dot_record(fmt(n.value)))
        if n.adjoint is not None:
            fields.append(_dot_record(f"d({gv.out})/d({n.name}) = {fmt(n.adjoint)}"))
        for x, t in n.tangents.items():
            if t is not None:
                fields.append(_dot_record(f"d({n.name})/d({x}) = {fmt(t)}"))
        for c in n.claims:
            fields.append(_dot_record("claim " + claim_text(c)))
        bad = any(not c.agrees for c in n.claims)
        out.append(f'  {n.key} [shape=record, style=filled, fillcolor="{fill}", '
                   f'color="{"#d00000" if bad else line}", label="' + " | ".join(fields) + '"'
                   + "];")
        if n.kind == "op":
            out.append(f"  {_op_key(n)} [shape=circle, width=0.3, fixedsize=false, margin=0.02, "
                       f"label={_dot_str(n.symbol)}];")
            out.append(f"  {_op_key(n)} -> {n.key};")
    for e in gv.edges:
        src, dst = gv.nodes[e.src], gv.nodes[e.dst]
        if not e.differentiable:
            out.append(f'  {src.key} -> {_op_key(dst)} [style=dashed, color="#8a8f94"];')
            continue
        label = _edge_caption(gv, e, "\n")
        colour = ', fontcolor="#d00000", color="#d00000"' if any(not c.agrees for c in e.claims) else ""
        out.append(f"  {src.key} -> {_op_key(dst)} [label={_dot_str(label)}{colour}];")
    out.append("}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- Mermaid

def _mm(s: str) -> str:
    """A quoted Mermaid label: entity codes for the characters its grammar reserves."""
    s = (s.replace("#", "#35;").replace('"', "#quot;").replace("<", "#lt;").replace(">", "#gt;")
         .replace("|", "#124;"))
    return '"' + s + '"'


def mermaid(gv: GraphView) -> str:
    out = [f"%% gradcli graph {gv.file}".replace("\n", " "), "flowchart LR"]
    classes: dict[str, list[str]] = {"input": [], "const": [], "output": [], "op": [], "bad": []}
    for n in gv.nodes:
        lines = [f"{n.name} {shape_text(n.shape)}" if n.shape else n.name]
        if not n.literal:
            lines.append(fmt(n.value))
        if n.adjoint is not None:
            lines.append(f"d({gv.out})/d({n.name}) = {fmt(n.adjoint)}")
        for x, t in n.tangents.items():
            if t is not None:
                lines.append(f"d({n.name})/d({x}) = {fmt(t)}")
        for c in n.claims:
            lines.append("claim " + claim_text(c))
        label = "<br/>".join(_mm(s)[1:-1] for s in lines)
        out.append(f'  {n.key}["{label}"]')
        classes["output" if n.output else n.kind if n.kind != "op" else "op"].append(n.key)
        if any(not c.agrees for c in n.claims):
            classes["bad"].append(n.key)
        if n.kind == "op":
            out.append(f"  {_op_key(n)}(({_mm(n.symbol)}))")
            out.append(f"  {_op_key(n)} --> {n.key}")
    for e in gv.edges:
        src, dst = gv.nodes[e.src], gv.nodes[e.dst]
        if not e.differentiable:
            out.append(f"  {src.key} -.-> {_op_key(dst)}")
            continue
        out.append(f"  {src.key} -->|{_mm(_edge_caption(gv, e, '; '))}| {_op_key(dst)}")
    styles = {"input": "fill:#cfe2ff,stroke:#3d6fb6", "const": "fill:#e9ecef,stroke:#8a8f94",
              "output": "fill:#ffe8a3,stroke:#c99700", "op": "fill:#ffffff,stroke:#555555",
              "bad": "stroke:#d00000,stroke-width:3px"}
    for cls, style in styles.items():
        out.append(f"  classDef {cls} {style}")
        if classes[cls]:
            out.append(f"  class {','.join(classes[cls])} {cls}")
    return "\n".join(out) + "\n"


# ---------------------------------------------------------------- Graphviz

def graphviz(dot_text: str, fmt_: str, timeout: float = 120) -> bytes:
    """Run Graphviz's `dot -T<fmt>`; a GradError with the install hint when it is missing."""
    import shutil
    import subprocess

    from ..errors import GradError

    exe = shutil.which("dot")
    if exe is None:
        raise GradError(f"--format {fmt_} needs Graphviz's `dot` program, which is not installed",
                        hint="install Graphviz (Debian/Ubuntu: apt-get install graphviz; macOS: "
                             "brew install graphviz; Windows: winget install graphviz; "
                             "https://graphviz.org/download/), or use --format dot or mermaid")
    try:
        done = subprocess.run([exe, f"-T{fmt_}"], input=dot_text.encode(), capture_output=True,
                              timeout=timeout)
    except (OSError, subprocess.TimeoutExpired) as err:
        raise GradError(f"Graphviz's dot failed: {err}") from None
    if done.returncode != 0:
        msg = done.stderr.decode(errors="replace").strip().splitlines()
        raise GradError("Graphviz's dot failed: " + (msg[0] if msg else f"status {done.returncode}"))
    return done.stdout
