"""Where `--format html` puts the boxes: Graphviz's `dot`, or a layered layout of our own.

Both take the boxes' sizes (px) and the edges with their labels' sizes, and give
the boxes' top-left corners, an SVG path per edge and a point per edge label, left
to right as the other pictures are.  `dot` lays out well but its time grows much
faster than the graph (0.1 s for 60 nodes and 100 labelled edges, 4 s for 100 and
170, minutes for 2,000), so "auto" uses it only up to DOT_MAX_NODES boxes and
DOT_MAX_EDGES edges and for DOT_TIMEOUT seconds, and else falls back to the
layered layout: a node's layer is the longest path to it from the inputs, pulled
right to just before its first use; nodes in a layer are ordered by the mean
position of their neighbours (two sweeps); each edge is one cubic curve.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass

DOT_MAX_NODES = 60
DOT_MAX_EDGES = 100
DOT_TIMEOUT = 3.0
MARGIN = 28          # room for the ▶ marker left of a box
NODE_GAP = 22        # between boxes in a layer
LAYER_GAP = 48       # between layers, besides the widest edge label into the layer
LABEL_MAX = 320      # a wider edge label may overlap its neighbours


@dataclass
class Geometry:
    nodes: dict          # id -> (x, y) of the box's top-left corner
    paths: dict          # edge key -> SVG path data
    labels: dict         # edge key -> (x, y) of the label's centre
    width: float
    height: float
    engine: str          # "Graphviz dot" | "gradcli layered"


def place(boxes: dict, edges: list, label_sizes: dict, layout: str = "auto",
          pull=frozenset()) -> Geometry:
    """boxes: id -> (w, h) in topological order of ids; edges: (key, src, dst);
    label_sizes: key -> (w, h); pull: boxes without arguments that the layered layout
    puts just before their first use (constants).  layout: "auto", "dot" or "layered"."""
    if layout not in ("auto", "dot", "layered"):
        raise ValueError(f"unknown layout {layout!r}")
    small = len(boxes) <= DOT_MAX_NODES and len(edges) <= DOT_MAX_EDGES
    if layout == "dot" or (layout == "auto" and small and shutil.which("dot")):
        geo = _dot(boxes, edges, label_sizes, strict=layout == "dot")
        if geo is not None:
            return geo
    return layered(boxes, edges, label_sizes, pull)


# ---------------------------------------------------------------- Graphviz

def _dot(boxes, edges, label_sizes, strict: bool) -> Geometry | None:
    from .render import graphviz

    lines = ["digraph G {", "  rankdir=LR; nodesep=0.3; ranksep=0.45;",
             '  node [shape=box, fixedsize=true, label=""];',
             '  edge [fontname="Courier", fontsize=11];']
    for i, (w, h) in boxes.items():
        lines.append(f"  n{i} [width={w / 72:.3f}, height={h / 72:.3f}];")
    for key, src, dst in edges:
        lw, lh = label_sizes.get(key, (0, 0))
        # a stand-in of the label's size: dot needs its size, not its text, which we draw
        # ourselves (smaller than Courier 11 is to dot, so that it keeps clear of the edge)
        rows = max(1, round(lh / 13)) if lw else 0
        label = "\\n".join(["0" * max(1, round(lw / 6.0))] * rows) if rows else ""
        lines.append(f'  n{src} -> n{dst} [id="e{key}"' + (f', label="{label}"' if label else "") + "];")
    lines.append("}")
    try:
        data = json.loads(graphviz("\n".join(lines) + "\n", "json0", timeout=DOT_TIMEOUT))
    except Exception:
        if strict:
            raise
        return None
    llx, lly, urx, ury = (float(v) for v in data["bb"].split(","))
    nodes = {}
    for obj in data.get("objects", []):
        i = int(obj["name"][1:])
        cx, cy = (float(v) for v in obj["pos"].split(","))
        w, h = boxes[i]
        nodes[i] = (cx - llx - w / 2 + MARGIN, ury - cy - h / 2 + MARGIN)

    def pt(s):
        x, y = (float(v) for v in s.split(","))
        return x - llx + MARGIN, ury - y + MARGIN

    paths, labels = {}, {}
    for e in data.get("edges", []):
        key = int(e["id"][1:])
        end, pts = None, []
        for tok in e["pos"].split():
            if tok.startswith("e,"):
                end = pt(tok[2:])
            elif not tok.startswith("s,"):
                pts.append(pt(tok))
        d = f"M{pts[0][0]:.1f},{pts[0][1]:.1f}"
        for j in range(1, len(pts) - 2, 3):
            d += " C" + " ".join(f"{x:.1f},{y:.1f}" for x, y in pts[j:j + 3])
        if end is not None:
            d += f" L{end[0]:.1f},{end[1]:.1f}"
        paths[key] = d
        if "lp" in e:
            lx, ly = pt(e["lp"])
            labels[key] = (lx, _clear(lx, ly, label_sizes.get(key, (0, 0))[1] / 2, pts))
    return Geometry(nodes, paths, labels, urx - llx + 2 * MARGIN, ury - lly + 2 * MARGIN, "Graphviz dot")


def _clear(lx, ly, half, pts) -> float:
    """dot puts a label beside its edge, by its own font's measure: keep our text clear of it."""
    best = None
    for j in range(0, len(pts) - 3, 3):
        for k in range(9):
            x, y = _bezier(pts[j:j + 4], k / 8)
            if best is None or abs(x - lx) < abs(best[0] - lx):
                best = (x, y)
    if best is None:
        return ly
    gap = half + 3
    edge_y = best[1]
    if abs(edge_y - ly) >= gap:
        return ly
    return edge_y - gap if edge_y >= ly else edge_y + gap


def _bezier(p, t):
    u = 1 - t
    return tuple(u**3 * a + 3 * u * u * t * b + 3 * u * t * t * c + t**3 * d for a, b, c, d in zip(*p))


# ---------------------------------------------------------------- our own

def layered(boxes: dict, edges: list, label_sizes: dict, pull=frozenset()) -> Geometry:
    ids = sorted(boxes)
    preds = {i: [] for i in ids}
    succs = {i: [] for i in ids}
    for _, s, d in edges:
        preds[d].append(s)
        succs[s].append(d)
    layer = {}
    for i in ids:                                   # longest path from a source
        layer[i] = 1 + max((layer[p] for p in preds[i]), default=-1)
    for i in reversed(ids):                         # pulled right, to just before the first use
        if succs[i] and (preds[i] or i in pull):
            layer[i] = min(layer[s] for s in succs[i]) - 1
    n_layers = max(layer.values(), default=-1) + 1
    rows: list[list[int]] = [[] for _ in range(n_layers)]
    for i in ids:
        rows[layer[i]].append(i)
    pos = {}
    for row in rows:
        for k, i in enumerate(row):
            pos[i] = k
    for sweep in range(2):                          # order by the neighbours' mean position
        order = range(1, n_layers) if sweep == 0 else range(n_layers - 2, -1, -1)
        for L in order:
            row = rows[L]
            near = preds if sweep == 0 else succs

            def centre(i, near=near):
                ns = near[i]
                return sum(pos[n] for n in ns) / len(ns) if ns else pos[i]
            row.sort(key=lambda i: (centre(i), i))
            for k, i in enumerate(row):
                pos[i] = k
    # columns: each layer as wide as its widest box; the gap before it fits its edge labels
    into_w = [0.0] * n_layers
    for key, _, d in edges:
        into_w[layer[d]] = max(into_w[layer[d]], min(label_sizes.get(key, (0, 0))[0], LABEL_MAX))
    xs, x = [], MARGIN
    for L in range(n_layers):
        if L:
            x += LAYER_GAP + into_w[L]
        xs.append(x)
        x += max(boxes[i][0] for i in rows[L])
    width = x + MARGIN
    nodes, height = {}, 0.0
    for L, row in enumerate(rows):
        y = MARGIN
        for i in row:
            nodes[i] = (xs[L], y)
            y += boxes[i][1] + NODE_GAP
        height = max(height, y)
    paths, labels = {}, {}
    for key, s, d in edges:
        (sx, sy), (sw, sh) = nodes[s], boxes[s]
        (tx, ty), (_, th) = nodes[d], boxes[d]
        p0, p3 = (sx + sw, sy + sh / 2), (tx, ty + th / 2)
        c = max((p3[0] - p0[0]) / 2, 20)
        p1, p2 = (p0[0] + c, p0[1]), (p3[0] - c, p3[1])
        paths[key] = (f"M{p0[0]:.1f},{p0[1]:.1f} C{p1[0]:.1f},{p1[1]:.1f} "
                      f"{p2[0]:.1f},{p2[1]:.1f} {p3[0]:.1f},{p3[1]:.1f}")
        if key in label_sizes and label_sizes[key][0]:
            gap_mid = tx - (LAYER_GAP + into_w[layer[d]]) / 2
            lx, ly = _on_curve(p0, p1, p2, p3, max(gap_mid, p0[0]))
            labels[key] = (lx, ly - label_sizes[key][1] / 2 - 3)     # just above its edge
    # the labels of the edges into one node share its gap: stack them without overlap
    by_dst: dict[int, list] = {}
    for key, _, d in edges:
        if key in labels:
            by_dst.setdefault(d, []).append(key)
    for keys in by_dst.values():
        keys.sort(key=lambda k: labels[k][1])
        for a, b in zip(keys, keys[1:]):
            low = labels[a][1] + (label_sizes[a][1] + label_sizes[b][1]) / 2 + 2
            if labels[b][1] < low:
                labels[b] = (labels[b][0], low)
    return Geometry(nodes, paths, labels, width, height + MARGIN, "gradcli layered")


def _on_curve(p0, p1, p2, p3, x):
    """The point of the cubic curve p0..p3 (x increasing along it) at abscissa x."""
    def at(t):
        return _bezier((p0, p1, p2, p3), t)
    lo, hi = 0.0, 1.0
    for _ in range(14):
        mid = (lo + hi) / 2
        if at(mid)[0] < x:
            lo = mid
        else:
            hi = mid
    return at((lo + hi) / 2)
