"""`graph --format html`: one self-contained page that steps through the sweeps.

The page is the graph as inline SVG (laid out by Graphviz when `dot` is installed
and the graph is small enough, else by `layout.layered`), the file's lines, and
one ordered list of steps per sweep (values forward, adjoints back, tangents
forward w.r.t. each input).  Every step's text is in the DOM; a small script
(`page/page.js`, inlined with `page/page.css`) moves a cursor over the list,
highlights the step's node, edges and line, and writes each node's running
adjoint or tangent into its box.  Nothing is fetched: the page works from file://.

Nothing here computes: the numbers come from `sweep.Sweeps` and the GraphView;
this module only formats them (with render.py's helpers) and draws.
"""

from __future__ import annotations

from html import escape
from importlib import resources

import numpy as np

from . import layout as lay
from .render import claim_text, edge_label
from .view import GraphView, expr_text, fmt, shape_text
from ..autodiff.ops import OPS
from ..numbers import SUMMARY_AT, block, digits, exact

FULL = SUMMARY_AT   # a tensor's hover text lists at most this many entries
FEW = 4             # entries shown in an abbreviated tensor
SUM_TERMS = 6       # a running sum of more terms shows the sum so far + the new term
CHAR_W, LINE_H, PAD = 7.25, 16, 8      # node text metrics (12px monospace), in px
EDGE_CHAR_W, EDGE_LINE_H = 6.2, 13    # edge labels (10px monospace)


# ---------------------------------------------------------------- numbers

def _tensor(v) -> bool:
    return isinstance(v, np.ndarray) and v.ndim > 0


def abbrev(v) -> str:
    """A value on a few characters: `-6.283185307179586`, or `[2,3]{1, 1, -1, 0, …}` for a tensor."""
    a = np.asarray(v, dtype=float)
    if a.ndim == 0:
        return fmt(a)
    flat = a.ravel()
    items = [fmt(x, min(5, digits() or 5)) for x in flat[:FEW]]      # an abbreviation: 5 digits at most
    if flat.size > FEW:
        items.append("…")
    return shape_text(a.shape) + "{" + ", ".join(items) + "}"


def full(v) -> str:
    """The hover text of a tensor: its shape and entries (at most FULL of them)."""
    a = np.asarray(v, dtype=float)
    body = block(a)
    note = f" ({a.size:,} entries: the first and last of each axis)" if a.size > FULL else ""
    return f"shape {shape_text(a.shape)}{note}\n{body}"


def num(v, factor: bool = False) -> str:
    """A value as HTML: a scalar as text (in parentheses when negative and a factor),
    a tensor abbreviated, with its full value on hover."""
    if v is None:
        return "0"
    if _tensor(v):
        return f'<span class="gc-t" tabindex="0" title="{escape(full(v))}">{escape(abbrev(v))}</span>'
    text = fmt(v)               # digits, signs, '.', 'e', inf, nan: nothing to escape
    if factor and text.startswith("-"):
        text = f"({text})"
    return text


def _sum(parts) -> str:
    """`a + (-b) + c` (negative terms after the first in parentheses)."""
    return " + ".join(num(p, factor=i > 0) for i, p in enumerate(parts))


def _d(u: str, v: str) -> str:
    return f"d({u})/d({v})"


# ---------------------------------------------------------------- steps

class _Steps:
    """Format the sweeps' steps as list items; data attributes tell page.js what to move."""

    def __init__(self, gv: GraphView):
        self.gv = gv
        self.nodes = gv.nodes
        self.sweep_texts: dict[int, list[str]] = {}   # node -> every text its sweep line shows
        self.into: list[list[int]] = [[] for _ in gv.nodes]   # node -> its in-edges, by slot
        for ei, e in enumerate(gv.edges):
            self.into[e.dst].append(ei)

    def name(self, i: int) -> str:
        return self.nodes[i].name

    def item(self, node, text, detail="", via=(), edges=(), where=None, after=None,
             before=None) -> str:
        attrs = [f'data-n="{node}"', f'data-s="{node if where is None else where}"']
        via = [v for v in via if not self.nodes[v].literal]
        if via:
            attrs.append(f'data-v="{",".join(map(str, via))}"')
        if edges:
            attrs.append(f'data-e="{",".join(map(str, edges))}"')
        if after is not None:
            attrs.append(f'data-t="{escape(after)}"')
            self.sweep_texts.setdefault(node, []).append(after)
        if before is not None:
            attrs.append(f'data-p="{escape(before)}"')
        body = f'<span class="gc-main">{text}</span>'
        if detail:
            body += f'<span class="gc-detail">{detail}</span>'
        return f"<li {' '.join(attrs)}>{body}</li>"

    # -- forward sweep: values
    def values(self, order) -> list[str]:
        out = []
        for i in order:
            n = self.nodes[i]
            if n.kind == "input":
                out.append(self.item(i, f"{escape(n.name)} = {num(n.value)}",
                                     f"{escape(n.name)} is an input: its value at this point"))
            elif n.kind == "const":
                out.append(self.item(i, f"{escape(n.name)} = {num(n.value)}",
                                     f"{escape(n.name)} is a constant"))
            else:
                ins = self.into[i]
                srcs = [self.gv.edges[ei].src for ei in ins]
                op = OPS[n.op]
                infix = op.name == "neg" or (len(srcs) == 2 and (op.infix or not op.symbol.isalnum()))
                texts = [num(self.nodes[a].value, factor=infix) for a in srcs]
                shown = expr_text(op, texts, n.params)
                text = f"{escape(n.name)} = {escape(n.expr)} = {shown} = {num(n.value)}"
                out.append(self.item(i, text, via=srcs, edges=ins))
        return out

    # -- reverse sweep: adjoints
    def reverse(self, steps) -> list[str]:
        gv = self.gv
        out = gv.out
        done: dict[int, str] = {}
        items = []
        for s in steps:
            v = s.node
            name = self.name(v)
            after = f"{_d(out, name)} = {abbrev(s.total)}"
            if s.edge is None:
                detail = ("seed: the output's derivative with respect to itself; every other "
                          "adjoint starts at 0" if gv.scalar else
                          f"seed: ones, the adjoint of {escape(out)} (a tensor output is summed)")
                items.append(self.item(v, f"{escape(_d(out, name))} = {num(s.total)}", detail,
                                       after=after))
                done[v] = after
                continue
            e = gv.edges[s.edge]
            u = s.via
            title = gv.edge_title(e)
            head = f"{escape(_d(out, name))} += {escape(_d(out, self.name(u)))} · {escape(title)}"
            if e.tensor_op:
                text = f"{head} = {num(s.contribution)}"
                detail = (f"{escape(title)} = {escape(e.formula or '')}, the op's vector-Jacobian "
                          f"product, applied to {escape(_d(out, self.name(u)))} = {num(s.g)}")
            else:
                text = f"{head} = {num(s.g, True)} · {num(e.value, True)} = {num(s.contribution)}"
                detail = escape(edge_label(gv, e))
                if np.shape(s.contribution) != np.broadcast_shapes(np.shape(s.g), np.shape(e.value)):
                    detail += (f"; summed to the shape of {escape(name)}, "
                               f"{shape_text(np.shape(s.contribution))}")
            if s.uses > 1:
                k = s.k
                state = "complete" if k == s.uses else "so far"
                if k == 1:
                    total = num(s.total)
                elif k <= SUM_TERMS:
                    total = f"{_sum(s.parts[:k])} = {num(s.total)}"
                else:
                    total = (f"{num(s.before)} (the first {k - 1}) + {num(s.contribution, True)} "
                             f"= {num(s.total)}")
                detail += (f'<span class="gc-sum">running sum over the {s.uses} edges out of '
                           f"{escape(name)}, {k} of {s.uses} ({state}): "
                           f"{escape(_d(out, name))} = {total}</span>")
            items.append(self.item(v, text, detail, via=[u], edges=[s.edge], where=u,
                                   after=after, before=done.get(v)))
            done[v] = after
        return items

    # -- forward mode: tangents w.r.t. x
    def tangent(self, x: int, steps) -> list[str]:
        gv = self.gv
        xn = self.name(x)
        items = []
        for s in steps:
            i = s.node
            name = self.name(i)
            lhs = escape(_d(name, xn))
            after = f"{_d(name, xn)} = {abbrev(0.0 if s.total is None else s.total)}"
            if s.seed:
                detail = (f"seed: forward mode w.r.t. {escape(xn)} starts from "
                          f"{escape(_d(xn, xn))} = 1" + (
                              "; ones for a tensor: all its entries move together, so the "
                              "tangents are sums of the Jacobian's columns" if _tensor(s.total) else ""))
                items.append(self.item(i, f"{lhs} = {num(s.total)}", detail, after=after))
                continue
            if self.nodes[i].kind != "op":
                items.append(self.item(i, f"{lhs} = 0", f"{escape(name)} is another input, "
                                       "held fixed", after=after))
                continue
            if not s.edges:
                items.append(self.item(i, f"{lhs} = 0", f"no derivative flows into {escape(name)}",
                                       after=after))
                continue
            symbolic = " + ".join(f"{escape(gv.edge_title(gv.edges[ei]))} · "
                                  f"{escape(_d(self.name(gv.edges[ei].src), xn))}" for ei in s.edges)
            stages = [symbolic]
            elementwise = all(not gv.edges[ei].tensor_op for ei in s.edges)
            if elementwise:
                stages.append(" + ".join(f"{num(gv.edges[ei].value, True)} · {num(t, True)}"
                                         for ei, t in zip(s.edges, s.tangents)))
            if len(s.edges) > 1:
                stages.append(_sum(s.terms))
            stages.append(num(s.total))
            text = f"{lhs} = " + " = ".join(dict.fromkeys(stages))
            detail = "; ".join(escape(edge_label(gv, gv.edges[ei])) for ei in s.edges)
            if len(s.edges) > 1:
                detail += (f'<span class="gc-sum">the sum over the {len(s.edges)} edges into '
                           f"{escape(name)}: every path from {escape(xn)} reaches it along one of them</span>")
            srcs = [gv.edges[ei].src for ei in s.edges]
            items.append(self.item(i, text, detail, via=srcs, edges=s.edges, after=after))
        return items


# ---------------------------------------------------------------- the picture

def _node_lines(gv: GraphView, n) -> list[tuple[str, str]]:
    """(css class, text) per line of a node's box; the sweep line ("gc-sw") is filled by page.js."""
    head = n.name + (f" {shape_text(n.shape)}" if n.shape else "")
    if n.kind == "op":
        head += f" = {n.expr}"
    tag = [n.kind] if n.kind != "op" else []
    if n.output:
        tag.append("output")
    if tag:
        head += f" ({', '.join(tag)})"
    lines = [("gc-nm", head), ("gc-vl", abbrev(n.value)), ("gc-sw", "")]
    for c in n.claims:
        lines.append(("gc-ok" if c.agrees else "gc-bad", "claim " + claim_text(c)))
    return lines


def _edge_lines(gv: GraphView, e) -> list[str]:
    if not e.differentiable:
        return []
    lines = [edge_label(gv, e)]
    if e.tensor_op:
        lines.append(f"{shape_text(e.src_shape)} → {shape_text(e.dst_shape)}")
    lines += ["claim " + claim_text(c) for c in e.claims]
    return lines


def _svg(gv: GraphView, sweep_texts, layout: str) -> tuple[str, str]:
    """The inline SVG and the name of the layout used."""
    drawn = [n for n in gv.nodes if not n.literal]
    shown = {n.id for n in drawn}
    boxes, lines_of = {}, {}
    for n in drawn:
        lines = _node_lines(gv, n)
        longest = max(len(t) for _, t in lines)
        longest = max([longest] + [len(t) for t in sweep_texts.get(n.id, ())]
                      + [len(f"d({gv.out})/d({n.name}) = 0")])
        boxes[n.id] = (longest * CHAR_W + 2 * PAD + 14, len(lines) * LINE_H + PAD)
        lines_of[n.id] = lines
    edges, labels = [], {}
    for k, e in enumerate(gv.edges):
        if e.src in shown and e.dst in shown:
            edges.append((k, e.src, e.dst))
            labels[k] = _edge_lines(gv, e)
    sizes = {k: (max((len(t) for t in ls), default=0) * EDGE_CHAR_W, len(ls) * EDGE_LINE_H)
             for k, ls in labels.items()}
    geo = lay.place(boxes, edges, sizes, layout, pull={n.id for n in drawn if n.kind == "const"})

    out = [f'<svg id="gc-svg" xmlns="http://www.w3.org/2000/svg" width="{geo.width:.0f}" '
           f'height="{geo.height:.0f}" viewBox="0 0 {geo.width:.0f} {geo.height:.0f}" role="group" '
           'aria-labelledby="gc-graph-title">',
           '<defs><marker id="gc-ah" viewBox="0 0 10 10" refX="10" refY="5" markerUnits="userSpaceOnUse" '
           'markerWidth="8" markerHeight="8" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#555"/>'
           '</marker><marker id="gc-ah-hi" viewBox="0 0 10 10" refX="10" refY="5" '
           'markerUnits="userSpaceOnUse" markerWidth="11" markerHeight="11" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" '
           'fill="#b00020"/></marker></defs>']
    for k, src, dst in edges:
        e = gv.edges[k]
        cls = "gc-edge" + ("" if e.differentiable else " gc-nd") + (
            " gc-bad" if any(not c.agrees for c in e.claims) else "")
        path = geo.paths[k]
        parts = [f'<g class="{cls}" id="gc-e{k}"><path d="{path}"/>']
        ls = labels[k]
        if ls:
            lx, ly = geo.labels[k]
            y0 = ly - (len(ls) - 1) * EDGE_LINE_H / 2 + 3.5
            parts.append(f'<text x="{lx:.1f}" y="{y0:.1f}">' + "".join(
                f'<tspan x="{lx:.1f}" dy="{0 if j == 0 else EDGE_LINE_H}">{escape(t)}</tspan>'
                for j, t in enumerate(ls)) + "</text>")
        parts.append("</g>")
        out.append("".join(parts))
    for n in drawn:
        x, y = geo.nodes[n.id]
        w, h = boxes[n.id]
        kind = "output" if n.output else n.kind
        cls = f"gc-node gc-k-{kind}" + (" gc-bad" if any(not c.agrees for c in n.claims) else "")
        (l1, c1), (l2, c2) = n.span
        tip = f"{n.name} = {full(n.value) if _tensor(n.value) else exact(n.value)}"
        g = [f'<g class="{cls}" id="gc-n{n.id}" data-name="{escape(n.name)}" '
             f'data-live="{int(n.live)}" data-span="{l1},{c1},{l2},{c2}" '
             f'data-box="{x:.0f},{y:.0f},{w:.0f},{h:.0f}"><title>{escape(tip)}</title>',
             f'<rect x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="4"/>',
             f'<text class="gc-here" x="{x - 4:.1f}" y="{y + LINE_H:.1f}" text-anchor="end" '
             'aria-hidden="true">▶</text>']
        for j, (cls_, text) in enumerate(lines_of[n.id]):
            g.append(f'<text class="{cls_}" x="{x + PAD:.1f}" y="{y + PAD / 2 + LINE_H * (j + 1) - 4:.1f}">'
                     f"{escape(text)}</text>")
        g.append("</g>")
        out.append("".join(g))
    out.append("</svg>")
    return "\n".join(out), geo.engine


# ---------------------------------------------------------------- the page

def _asset(name: str) -> str:
    return resources.files(__package__).joinpath("page", name).read_text(encoding="utf-8")


def _source(gv: GraphView) -> str:
    text = gv.source.text if gv.source is not None else ""
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return "".join(f'<li id="gc-L{i}"><code>{escape(line) or " "}</code></li>'
                   for i, line in enumerate(lines, 1))


def page(gv: GraphView, layout: str = "auto") -> str:
    """The whole page as a string.  gv must carry its sweeps (view.run(with_sweeps=True)).

    layout: "auto" (Graphviz when installed and the graph is small enough), "dot" or
    "layered" (gradcli's own).
    """
    sw = gv.sweeps
    if sw is None:
        raise ValueError("page() needs a GraphView with sweeps: view.run(..., with_sweeps=True)")
    steps = _Steps(gv)
    out_name = gv.out
    modes = [("values", "forward sweep: values", steps.values(sw.forward), "", "",
              "Values flow forward: each node is computed from its arguments, in the order "
              "of the file."),
             ("reverse", f"reverse sweep: {_d(out_name, 'node')}", steps.reverse(sw.reverse),
              f"{_d(out_name, '%')} = 0", "",
              f"Adjoints flow back from the seed {_d(out_name, out_name)} = 1: once every node "
              f"that uses a node has been visited, its adjoint is complete and is passed back "
              f"along each of its edges, multiplied by the edge's local partial; a node used "
              f"more than once adds what reaches it along every edge (the running sum).")]
    for x, tsteps in sw.tangent.items():
        xn = gv.nodes[x].name
        modes.append((f"tangent-{x}", f"forward mode: {_d('node', xn)}", steps.tangent(x, tsteps),
                      f"{_d('%', xn)} = ?", "",
                      f"Tangents flow forward from the seed {_d(xn, xn)} = 1: each node's "
                      f"derivative w.r.t. {xn} is the sum, over its arguments, of the edge's local "
                      f"partial times the argument's tangent."))
    start = "reverse"
    if gv.mode == "forward" and sw.tangent:
        first = [x for x in sw.tangent if gv.nodes[x].name in gv.wrt]
        start = f"tangent-{(first or list(sw.tangent))[0]}"
    svg, engine_used = _svg(gv, steps.sweep_texts, layout)

    options = "".join(f'<option value="{m}"{" selected" if m == start else ""}>{escape(label)}</option>'
                      for m, label, *_ in modes)
    lists = "".join(
        f'<ol class="gc-steps" id="gc-steps-{m}" data-init="{escape(init)}" '
        f'data-about="{escape(about)}" aria-label="{escape(label)}: every step" tabindex="0"'
        f'{"" if m == start else " hidden"}>{"".join(items)}</ol>'
        for m, label, items, init, _, about in modes)
    point = ", ".join(f"{k} = {abbrev(v)}" for k, v in gv.point.items())
    claims = "".join(
        f'<li class="{"gc-ok" if c.agrees else "gc-bad"}">'
        f'<a href="#gc-L{c.span[0][0]}">line {c.span[0][0]}</a>: {escape(claim_text(c))} '
        f'<span class="gc-verdict">{"agrees" if c.agrees else "WRONG"}</span></li>'
        for c in gv.claims)
    skipped = ""
    if sw.skipped:
        names = ", ".join(gv.nodes[x].name for x in sw.skipped)
        skipped = (f"<p>Forward mode is swept w.r.t. the first {len(sw.tangent)} inputs only; "
                   f"not: {escape(names)} (choose with <code>--wrt</code>).</p>")
    title = f"gradcli graph: {gv.file}"
    return f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="generator" content="gradcli graph --format html">
<title>{escape(title)}</title>
<style>
{_asset("page.css")}
</style>
</head>
<body>
<div id="gradcli" class="gc-root" data-start="{start}">
<header>
<h1>{escape(gv.file)}</h1>
<p>at {escape(point)}; output <strong>{escape(gv.output)}</strong>; layout: {engine_used}</p>
</header>
<main>
<section class="gc-controls" aria-label="controls">
<label for="gc-mode">sweep</label>
<select id="gc-mode">{options}</select>
<button type="button" id="gc-reset">Reset</button>
<button type="button" id="gc-back">◀ Back</button>
<button type="button" id="gc-play" aria-pressed="false">▶ Play</button>
<button type="button" id="gc-step">Step ▶</button>
<span id="gc-count" class="gc-count">step 0 of 0</span>
<p class="gc-keys">Keys: ← back, → step, space play/pause, Home reset, End last step.</p>
</section>
<section class="gc-now" aria-label="current step">
<p id="gc-about"></p>
<div id="gc-now" aria-live="polite" aria-atomic="true"><span class="gc-main">Press Step (or →) to start.</span></div>
<p id="gc-where" class="gc-where"></p>
</section>
<section class="gc-graph" aria-label="graph">
<h2 id="gc-graph-title">The graph of {escape(gv.file)}</h2>
<p class="gc-legend">Boxes: name = operation, value, then the sweep's running number.
Inputs are blue and marked “(input)”, constants grey “(const)”, the output yellow “(output)”.
The current node has a thick black border and ▶; the nodes it reads from have dashed borders;
the edges of the step are red and thick. Claims: ✓ agrees, ✗ wrong (red border).
Hover a tensor for its full value.</p>
<div class="gc-scroll" id="gc-scroll" tabindex="0" role="group" aria-label="graph picture, scrollable">
{svg}
</div>
</section>
<section class="gc-lists" aria-label="steps and source">
<div class="gc-steplist"><h2>Steps</h2>{lists}</div>
<div class="gc-source"><h2>The file</h2><ol class="gc-src" id="gc-src" tabindex="0" aria-label="the file, line by line">{_source(gv)}</ol>
{f'<h2>Claims</h2><ul class="gc-claims">{claims}</ul>' if claims else ''}{skipped}</div>
</section>
</main>
</div>
<script>
{_asset("page.js")}
</script>
</body>
</html>
"""
