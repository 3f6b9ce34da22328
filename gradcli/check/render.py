"""`check` reports to text (rich) and JSON. Nothing here computes."""

from __future__ import annotations

import math

import numpy as np

from ..render import number, tolist

LABELS = {
    "engine_bug": "ENGINE BUG",
    "ad_fd_mismatch": "AD ≠ FD",
    "claim_wrong": "CLAIM WRONG",
    "kink": "not differentiable here",
    "fd_inconclusive": "FD inconclusive",
    "undefined": "undefined",
    "ok": "ok",
}
STYLES = {"engine_bug": "bold red", "ad_fd_mismatch": "bold red", "claim_wrong": "red",
          "kink": "yellow", "fd_inconclusive": "yellow", "undefined": "yellow", "ok": "green"}
POINT_VALUES_MAX = 1000       # JSON lists a point's values up to this many elements, else its shape


def _num(x, digits=10):
    if x is None:
        return ""
    if not math.isfinite(x):
        return str(x)
    return f"{x:.{digits}g}"


def _json_num(x):
    return None if x is None or not math.isfinite(x) else x


def _index(row):
    if row.index is None:
        return "uᵀJw"
    return "[" + ", ".join(str(i) for i in row.index) + "]" if row.index else ""


def _what(row):
    """The derivative a row is about: d(o)/d(x), partial(u, v), or uᵀ J w."""
    if row.claim_text:
        return row.claim_text
    return f"d({row.output})/d({row.input})"


# ---------------------------------------------------------------- JSON

def check_json(report) -> dict:
    counts = report.counts()
    rows = []
    for r in report.sorted_rows():
        rows.append({
            "point": r.point, "output": r.output, "input": r.input, "index": r.index,
            "kind": r.kind, "reverse": _json_num(r.reverse), "forward": _json_num(r.forward),
            "fd": _json_num(r.fd), "fd_error": _json_num(r.fd_error),
            "claim": _json_num(r.claim) if r.claim is not None else None,
            "claim_text": r.claim_text, "location": r.location,
            "abs_error": _json_num(r.abs_error), "rel_error": _json_num(r.rel_error),
            "verdict": r.verdict,
            "one_sided": None if r.left is None else {"left": _json_num(r.left), "right": _json_num(r.right)},
            "note": r.note,
        })
    points = []
    for p in report.points:
        values = {}
        for name, v in p.values.items():
            values[name] = tolist(v) if np.size(v) <= POINT_VALUES_MAX else {"shape": list(np.shape(v))}
        points.append({"label": p.label, "values": values})
    extra = {} if report.function is None else {"function": report.function, "gradient": report.gradient}
    return {
        "file": report.file,
        **extra,
        "status": report.status,
        "mode": report.mode,
        "method": report.method,
        "rtol": report.rtol,
        "atol": report.atol,
        "elements": report.elements,
        "points": points,
        "summary": {"comparisons": len(report.rows),
                    "mismatches": sum(counts[k] for k in ("engine_bug", "ad_fd_mismatch", "claim_wrong")),
                    **counts},
        "rows": rows,
        "notes": list(report.notes),
    }


# ---------------------------------------------------------------- text

def header(report) -> str:
    n = len(report.points)
    labels = ", ".join(p.label for p in report.points[:1])
    if n > 1:
        labels += f" and {n - 1} random"
    if report.mode == "fast":
        what = (f"fast check: a random directional derivative uᵀJw per output and claim "
                f"({report.elements:,} input elements; --full for every entry)")
    else:
        what = "full check: every Jacobian entry"
    return (f"{report.file}: {what}\n  {report.method} finite differences; "
            f"{n} point{'s' if n != 1 else ''} ({labels}); rtol {report.rtol:g}, atol {report.atol:g}")


def summary(report) -> str:
    counts = report.counts()
    n, p = len(report.rows), len(report.points)
    where = f"{n} comparison{'s' if n != 1 else ''} at {p} point{'s' if p != 1 else ''}"
    extra = []
    if counts["kink"]:
        extra.append(f"{counts['kink']} not differentiable here (a kink within the FD step)")
    if counts["fd_inconclusive"]:
        extra.append(f"{counts['fd_inconclusive']} FD inconclusive (a pole or domain edge too near, "
                     "or FD's error too large to decide)")
    if counts["undefined"]:
        extra.append(f"{counts['undefined']} undefined")
    tail = ("; " + "; ".join(extra)) if extra else ""
    if report.status == 0:
        who = "reverse = forward = finite differences" + (
            " = claims" if any(r.claim is not None for r in report.rows) else "")
        if counts["fd_inconclusive"]:
            return f"✓ no mismatch: {who} wherever finite differences can decide ({where}{tail})"
        return f"✓ all agree: {who} ({where}{tail})"
    causes = []
    if counts["engine_bug"]:
        causes.append(f"ENGINE BUG: reverse and forward mode disagree in {counts['engine_bug']}")
    if counts["ad_fd_mismatch"]:
        causes.append(f"AD disagrees with finite differences in {counts['ad_fd_mismatch']}")
    wrong: dict = {}
    for r in report.rows:
        if r.verdict == "claim_wrong":
            wrong.setdefault((r.claim_text, r.location), set()).add(r.point)
    for (text, loc), pts in wrong.items():
        causes.append(f"claim {text} is wrong ({loc}) at {len(pts)} of {p} point{'s' if p != 1 else ''}")
    mism = sum(counts[k] for k in ("engine_bug", "ad_fd_mismatch", "claim_wrong"))
    return f"✗ {mism} mismatch{'es' if mism != 1 else ''} in {where}: " + "; ".join(causes) + tail


def function_header(report) -> str:
    """The header of a Python function's check (check_function, check --python)."""
    where = next((r.location for r in report.rows if r.location), None)
    if report.mode == "fast":
        what = (f"fast check: a random directional derivative uᵀJw ({report.elements:,} input "
                f"elements; --full or fast=False for every entry)")
    else:
        what = "full check: every entry of the Jacobian"
    return (f"{report.function} vs {report.gradient}" + (f" ({where})" if where else "")
            + f": {what}\n  {report.method} finite differences; rtol {report.rtol:g}, atol {report.atol:g}")


def function_summary(report) -> str:
    counts = report.counts()
    n = len(report.rows)
    where = f"{n} comparison{'s' if n != 1 else ''}"
    extra = []
    if counts["kink"]:
        extra.append(f"{counts['kink']} not differentiable here (a kink within the FD step)")
    if counts["undefined"]:
        extra.append(f"{counts['undefined']} undefined (finite differences not finite)")
    tail = ("; " + "; ".join(extra)) if extra else ""
    if report.status == 0:
        return f"✓ all agree: {report.gradient} = finite differences ({where}{tail})"
    wrong: dict = {}
    for r in report.rows:
        if r.verdict == "claim_wrong":
            wrong.setdefault(r.claim_text, []).append(r)
    causes = []
    for text, rows in wrong.items():
        total = sum(1 for r in report.rows if r.claim_text == text)
        causes.append(f"{report.gradient} is wrong in {len(rows)} of {total} entr{'ies' if total != 1 else 'y'} "
                      f"of {text}")
    mism = sum(len(v) for v in wrong.values())
    return f"✗ {mism} mismatch{'es' if mism != 1 else ''} in {where}: " + "; ".join(causes) + tail


def check_str(report, limit: int = 20) -> str:
    """The text report as a string, plain (no colour): the message of a GradientMismatch."""
    import io

    from rich.console import Console

    buf = io.StringIO()
    check_text(report, Console(file=buf, no_color=True, color_system=None, highlight=False,
                               soft_wrap=False, width=200), limit)
    return "\n".join(line.rstrip() for line in buf.getvalue().splitlines()) + "\n"


def check_text(report, con, limit: int = 20, show_file: bool = True) -> None:
    from rich.markup import escape
    from rich.table import Table

    if report.function is not None:
        return _function_text(report, con, limit)
    con.print(escape(header(report)), highlight=False)
    counts = report.counts()
    if counts["engine_bug"]:
        con.print("[bold red]ENGINE BUG: reverse mode and forward mode disagree. This is a bug in "
                  "gradcli, not in your file; please report it with this file.[/bold red]")
    for i, p in enumerate(report.points):
        vals = ", ".join(f"{k} = {_point_value(v)}" for k, v in p.values.items())
        con.print(escape(f"  point {i} ({p.label}): {vals}"), highlight=False)
    rows = report.sorted_rows()
    shown = rows if limit <= 0 else rows[:limit]
    has_claims = any(r.claim is not None for r in rows)
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, justify in [("pt", "right"), ("derivative", "left"), ("index", "left"),
                          ("reverse", "right"), ("forward", "right"), ("FD ± error", "right")] + \
            ([("claim", "right")] if has_claims else []) + \
            [("abs err", "right"), ("rel err", "right"), ("verdict", "left")]:
        table.add_column(name, justify=justify, no_wrap=name != "verdict")
    for r in shown:
        if r.left is not None:
            fdtext = f"left {_num(r.left, 6)} | right {_num(r.right, 6)}"
        elif math.isfinite(r.fd):
            fdtext = f"{_num(r.fd)} ± {_num(r.fd_error, 2)}"
        else:
            fdtext = "n/a"
        verdict = LABELS[r.verdict]
        if r.verdict == "claim_wrong":
            verdict += f" {r.location}"
        cells = [str(r.point), escape(_what(r)), _index(r), _num(r.reverse), _num(r.forward), fdtext]
        if has_claims:
            cells.append(_num(r.claim))
        cells += [_num(r.abs_error, 3), _num(r.rel_error, 3), f"[{STYLES[r.verdict]}]{escape(verdict)}[/]"]
        table.add_row(*cells)
    con.print(table)
    if len(shown) < len(rows):
        con.print(f"  … {len(rows) - len(shown)} more row{'s' if len(rows) - len(shown) != 1 else ''} "
                  f"(all better than those above; --limit 0 shows every row)")
    for note in report.notes:
        con.print(escape(f"note: {note}"), highlight=False)
    style = "bold red" if report.status else "bold green"
    con.print(f"[{style}]{escape(summary(report))}[/]")


def _point_value(v):
    a = np.asarray(v)
    if a.size > 12:
        return f"<{'x'.join(str(s) for s in a.shape)} tensor>"
    return number(a).replace("\n", "")


def _function_text(report, con, limit: int) -> None:
    from rich.markup import escape
    from rich.table import Table

    con.print(escape(function_header(report)), highlight=False)
    for p in report.points:
        for k, (name, v) in enumerate(p.values.items()):
            con.print(escape(f"  {'at' if k == 0 else '  '} {name} = {_point_value(v)}"), highlight=False,
                      soft_wrap=True)
    rows = report.sorted_rows()
    shown = rows if limit <= 0 else rows[:limit]
    table = Table(box=None, header_style="bold", pad_edge=False)
    for name, justify in [("derivative", "left"), ("index", "left"), ("given", "right"),
                          ("FD ± error", "right"), ("abs err", "right"), ("rel err", "right"),
                          ("verdict", "left")]:
        table.add_column(name, justify=justify, no_wrap=name != "verdict")
    for r in shown:
        if r.left is not None:
            fdtext = f"left {_num(r.left, 6)} | right {_num(r.right, 6)}"
        elif math.isfinite(r.fd):
            fdtext = f"{_num(r.fd)} ± {_num(r.fd_error, 2)}"
        else:
            fdtext = "n/a"
        verdict = "WRONG" if r.verdict == "claim_wrong" else LABELS[r.verdict]
        table.add_row(escape(_what(r)), _index(r), _num(r.claim), fdtext, _num(r.abs_error, 3),
                      _num(r.rel_error, 3), f"[{STYLES[r.verdict]}]{escape(verdict)}[/]")
    con.print(table)
    if len(shown) < len(rows):
        con.print(f"  … {len(rows) - len(shown)} more row{'s' if len(rows) - len(shown) != 1 else ''} "
                  f"(none worse than those above; --limit 0, or limit=0, shows every row)")
    for note in report.notes:
        con.print(escape(f"note: {note}"), highlight=False)
    style = "bold red" if report.status else "bold green"
    con.print(f"[{style}]{escape(function_summary(report))}[/]")
