"""`check` reports to text (rich) and JSON. Nothing here computes."""

from __future__ import annotations

import math

import numpy as np

from ..numbers import nested, num, options
from ..render import Col, Styled, cell_text, fit, tolist

LABELS = {
    "engine_bug": "ENGINE BUG",
    "ad_fd_mismatch": "AD ≠ FD",
    "claim_wrong": "CLAIM WRONG",
    "kink": "not differentiable here",
    "tie": "tie: AD's convention",
    "fd_inconclusive": "FD inconclusive",
    "undefined": "undefined",
    "ok": "ok",
}
STYLES = {"engine_bug": "bold red", "ad_fd_mismatch": "bold red", "claim_wrong": "red",
          "kink": "yellow", "tie": "yellow", "fd_inconclusive": "yellow", "undefined": "yellow", "ok": "green"}
POINT_VALUES_MAX = 1000       # JSON lists a point's values up to this many elements, else its shape


def _num(x, digits: int | None = None) -> str:
    """A cell: empty for no number, else gradcli.numbers (exact, or --digits; errors to 2-3 digits)."""
    return "" if x is None else num(x, digits)


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
            f"{n} point{'s' if n != 1 else ''} ({labels}); rtol {num(report.rtol)}, atol {num(report.atol)}")


def summary(report) -> str:
    counts = report.counts()
    n, p = len(report.rows), len(report.points)
    where = f"{n} comparison{'s' if n != 1 else ''} at {p} point{'s' if p != 1 else ''}"
    extra = []
    if counts["kink"]:
        extra.append(f"{counts['kink']} not differentiable here (a kink within the FD step)")
    if counts["tie"]:
        extra.append(f"{counts['tie']} at a tie (FD gives the derivative, AD its convention's value)")
    if counts["fd_inconclusive"]:
        extra.append(f"{counts['fd_inconclusive']} FD inconclusive (a pole or domain edge too near, "
                     "or FD's error too large to decide)")
    if counts["undefined"]:
        extra.append(f"{counts['undefined']} undefined")
    tail = ("; " + "; ".join(extra)) if extra else ""
    if report.status == 0:
        who = "reverse = forward = finite differences" + (
            " = claims" if any(r.claim is not None for r in report.rows) else "")
        if counts["fd_inconclusive"] or counts["tie"]:
            cond = " and ".join(c for c, n in (("wherever finite differences can decide", counts["fd_inconclusive"]),
                                               ("away from ties", counts["tie"])) if n)
            return f"✓ no mismatch: {who} {cond} ({where}{tail})"
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
            + f": {what}\n  {report.method} finite differences; rtol {num(report.rtol)}, atol {num(report.atol)}")


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
    """The text report as a string, plain: the message of a GradientMismatch."""
    from ..render import Printer

    out = Printer(collect=True)
    check_text(report, out, limit)
    return out.text()


# How the table may shrink to fit a terminal, one step after another (the verdict stays):
# the claim's location out of the verdict (the summary line names it), the forward column
# left out where forward mode agrees with reverse mode in every row (a line says so), no abs
# err, no point column for a single point, FD without its error estimate.
_NARROW = dict(location=False, fold=True)
LAYOUTS = [dict(), _NARROW, dict(_NARROW, abs_err=False), dict(_NARROW, abs_err=False, pt=False),
           dict(_NARROW, abs_err=False, pt=False, fd_error=False)]


def _fd_text(r, error: bool = True) -> str:
    if r.left is not None:
        return f"left {_num(r.left)} | right {_num(r.right)}"
    if math.isfinite(r.fd):
        return f"{_num(r.fd)} ± {_num(r.fd_error, 2)}" if error else _num(r.fd)
    return "n/a"


def _folds(rows, fold: bool) -> bool:
    return fold and all(_num(r.reverse) == _num(r.forward) for r in rows)


def _check_table(report, rows, location=True, fold=False, abs_err=True, pt=True, fd_error=True):
    """The columns and cells of the comparison table (see LAYOUTS)."""
    has_claims = any(r.claim is not None for r in rows)
    fold = _folds(rows, fold)
    cols = [Col("pt", right=True), Col("derivative", wrap=True), Col("index"), Col("reverse", right=True)]
    cols += [] if fold else [Col("forward", right=True)]
    cols += [Col("FD ± error" if fd_error else "FD", right=True)] + ([Col("claim", right=True)] if has_claims else [])
    cols += ([Col("abs err", right=True)] if abs_err else []) + [Col("rel err", right=True), Col("verdict", wrap=True)]
    cells = []
    for r in rows:
        verdict = LABELS[r.verdict]
        if r.verdict == "claim_wrong" and location:
            verdict += f" {r.location}"
        row = [str(r.point), _what(r), _index(r), _num(r.reverse)] + ([] if fold else [_num(r.forward)])
        row += [_fd_text(r, fd_error)] + ([_num(r.claim)] if has_claims else [])
        row += ([_num(r.abs_error, 3)] if abs_err else []) + [_num(r.rel_error, 3), Styled(verdict, STYLES[r.verdict])]
        cells.append(row)
    keep = [k for k, c in enumerate(cols) if c.header in ("derivative", "verdict")
            or any(cell_text(row[k]) for row in cells)]                # an empty column (index) is left out
    if not pt and len(report.points) == 1:
        keep = [k for k in keep if cols[k].header != "pt"]
    return [cols[k] for k in keep], [[row[k] for k in keep] for row in cells]


def check_text(report, out, limit: int = 20, show_file: bool = True) -> None:
    """The text report to a Printer: the header, the points, the worst `limit` rows, the summary;
    fitted to a terminal's width (LAYOUTS, then fewer digits)."""
    if report.function is not None:
        return _function_text(report, out, limit)
    out.print(header(report))
    counts = report.counts()
    if counts["engine_bug"]:
        out.print(Styled("ENGINE BUG: reverse mode and forward mode disagree. This is a bug in "
                         "gradcli, not in your file; please report it with this file.", "bold red"))
    for i, p in enumerate(report.points):
        vals = ", ".join(f"{k} = {_point_value(v)}" for k, v in p.values.items())
        out.print(f"  point {i} ({p.label}): {vals}")
    rows = report.sorted_rows()
    shown = rows if limit <= 0 else rows[:limit]
    digits, layout, note = fit(out.width, lambda layout: [(*_check_table(report, shown, **layout), False)],
                               LAYOUTS)
    with options(digits=digits):
        out.table(*_check_table(report, shown, **layout))
        if _folds(shown, layout.get("fold", False)):
            out.print("(forward mode = reverse mode in every row: one column shows both)")
    _tail(out, report, len(rows) - len(shown), "all better than those above; --limit 0 shows every row",
          note, summary(report))


def _tail(out, report, more: int, why: str, note: str | None, last: str) -> None:
    """What follows a check's table: the rows left out, the notes, the fitting's note, the summary."""
    if more > 0:
        out.print(f"  … {more} more row{'s' if more != 1 else ''} ({why})")
    for text in report.notes:
        out.print(f"note: {text}")
    if note:
        out.print(Styled(f"({note})", "dim"))
    out.print(Styled(last, "bold red" if report.status else "bold green"))


def _point_value(v):
    a = np.asarray(v)
    if a.size > 12:
        return f"<{'x'.join(str(s) for s in a.shape)} tensor>"
    return nested(a)


def _function_text(report, out, limit: int) -> None:
    out.print(function_header(report))
    for p in report.points:
        for k, (name, v) in enumerate(p.values.items()):
            out.print(f"  {'at' if k == 0 else '  '} {name} = {_point_value(v)}")
    rows = report.sorted_rows()
    shown = rows if limit <= 0 else rows[:limit]

    def table(layout):
        cols = [Col("derivative", wrap=True), Col("index"), Col("given", right=True),
                Col("FD ± error", right=True)] + ([Col("abs err", right=True)] if layout else []) + \
            [Col("rel err", right=True), Col("verdict", wrap=True)]
        cells = []
        for r in shown:
            verdict = "WRONG" if r.verdict == "claim_wrong" else LABELS[r.verdict]
            cells.append([_what(r), _index(r), _num(r.claim), _fd_text(r)]
                         + ([_num(r.abs_error, 3)] if layout else [])
                         + [_num(r.rel_error, 3), Styled(verdict, STYLES[r.verdict])])
        keep = [k for k, c in enumerate(cols) if c.header in ("derivative", "verdict")
                or any(cell_text(row[k]) for row in cells)]
        return [cols[k] for k in keep], [[row[k] for k in keep] for row in cells]

    digits, layout, note = fit(out.width, lambda layout: [(*table(layout), False)], [True, False])
    with options(digits=digits):
        out.table(*table(layout))
    _tail(out, report, len(rows) - len(shown), "none worse than those above; --limit 0, or limit=0, shows every row",
          note, function_summary(report))
