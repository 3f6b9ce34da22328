"""Gradebooks to text: a rich table, JSON, JUnit XML, Gradescope results.json, CSV, Markdown.

Renderers only; nothing here grades.  Every output is deterministic (no times,
no absolute paths added, sorted input), so the same seed gives the same bytes.
"""

from __future__ import annotations

import csv
import io
import json
import re

from ..errors import shown
from .report import ExerciseResult, Gradebook

MARKDOWN_LIMIT = 1024 * 1024 - 4096     # GitHub's job summary takes up to 1 MiB

# What a report never passes on raw from a folder name or an answer: control characters (ESC
# starts a terminal's escape sequences, CR rewrites a line), DEL and the C1 controls, the
# bidirectional marks, embeddings, overrides and isolates (text that reads one way and is
# another: "Trojan Source"), and what XML 1.0 refuses.  Each is shown as an escape: `\x1b`, `\u202e`.
_OTHER = "\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufffe\uffff"
_UNSAFE_LINE = re.compile("[\x00-\x1f" + _OTHER + "]")
_UNSAFE_TEXT = re.compile("[\x00-\x08\x0b-\x1f" + _OTHER + "]")       # tab and newline kept


def num(x: float):
    """A score for JSON: an int when whole."""
    x = round(float(x), 4)
    return int(x) if x == int(x) else x


def _escape(match) -> str:
    ch = match.group()
    return f"\\x{ord(ch):02x}" if ord(ch) < 0x100 else f"\\u{ord(ch):04x}"


def clean(text: str) -> str:
    """Text (feedback, several lines) with nothing unsafe in it (see _UNSAFE); tabs and newlines kept."""
    return _UNSAFE_TEXT.sub(_escape, shown(text))


def clean_name(text: str) -> str:
    """A name (a student's folder, an exercise's id) on one line, nothing unsafe in it."""
    return _UNSAFE_LINE.sub(_escape, shown(text))


def task_labels(e: ExerciseResult) -> list[str]:
    """A name per task, unique within its exercise: the kind, numbered when it repeats
    (Gradescope and JUnit tell tests apart by name)."""
    kinds = [t.kind for t in e.tasks]
    seen: dict[str, int] = {}
    labels = []
    for kind in kinds:
        seen[kind] = seen.get(kind, 0) + 1
        labels.append(kind if kinds.count(kind) == 1 else f"{kind} {seen[kind]}")
    return labels


# ---------------------------------------------------------------- JSON

def exercise_json(e: ExerciseResult) -> dict:
    return {"id": e.id, "title": e.title, "score": num(e.score), "max_score": num(e.max_score),
            "passed": e.passed, "answer": e.answer, "error": e.error, "regrade": e.regrade,
            "tasks": [{"kind": t.kind, "score": num(t.score), "max_score": num(t.max_score),
                       "items": [{"name": i.name, "passed": i.passed, "feedback": i.feedback,
                                  "note": i.note, "graded_in": i.graded_in, "extra": i.extra}
                                 for i in t.items]} for t in e.tasks]}


def to_json(book: Gradebook) -> str:
    if book.single:
        s = book.students[0]
        data = {"score": num(s.score), "max_score": num(s.max_score), "passed": s.passed,
                "exercises": [exercise_json(e) for e in s.exercises]}
    else:
        n = max(1, len(book.students))
        data = {"score": num(sum(s.score for s in book.students) / n), "max_score": num(book.max_score),
                "students_count": len(book.students),
                "exercises": [{"id": i, "title": t, "max_score": num(m),
                               "score": num(sum(s.exercises[k].score for s in book.students) / n)}
                              for k, (i, t, m) in enumerate(book.exercises)],
                "students": [{"id": s.id, "score": num(s.score), "max_score": num(s.max_score),
                              "passed": s.passed, "exercises": [exercise_json(e) for e in s.exercises]}
                             for s in book.students]}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- Gradescope

def gradescope(book: Gradebook) -> str:
    """Gradescope's results.json for one student: a test per task, the feedback in its output."""
    s = book.students[0]
    tests = []
    for e in s.exercises:
        for t, label in zip(e.tasks, task_labels(e)):
            failed = [i.feedback for i in t.items if not i.passed and i.graded_in is None]
            right, n = t.right
            out = f"{right} of {n} item(s) right" if t.kind != "extra" else \
                f"{len(failed)} claim(s) or line(s) no task asks for, wrong (0 points)"
            shared = [i.name for i in t.items if i.graded_in is not None]
            if shared:
                out += f"; graded in an earlier task: {', '.join(shared)}"
            if failed:
                out += "\n\n" + "\n\n".join(failed)
            noted = [i.feedback for i in t.items if i.passed and i.note and i.graded_in is None]
            if noted:
                out += "\n\n" + "\n\n".join(noted)
            test = {"name": f"{e.id}: {label}", "score": num(t.score), "max_score": num(t.max_score),
                    "status": "passed" if t.passed else "failed", "output": out}
            if t.visibility:
                test["visibility"] = t.visibility
            tests.append(test)
    data = {"score": num(s.score), "max_score": num(s.max_score),
            "output": f"{num(s.score)} / {num(s.max_score)} points", "tests": tests}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


# ---------------------------------------------------------------- JUnit

def junit(book: Gradebook) -> str:
    """One testsuite per (student,) exercise, one testcase per item, feedback in <failure>."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="gradcli grade")
    total = failures = 0
    for s in book.students:
        for e in s.exercises:
            prefix = "" if book.single else f"{s.id}/"
            suite = ET.SubElement(root, "testsuite", name=clean_name(prefix + e.id))
            n = f = skipped = 0
            for t, label in zip(e.tasks, task_labels(e)):
                for i in t.items:
                    n += 1
                    case = ET.SubElement(suite, "testcase", classname=clean_name(f"{prefix}{e.id}.{label}"),
                                         name=clean_name(i.name), time="0")
                    if i.graded_in is not None:
                        skipped += 1
                        ET.SubElement(case, "skipped", message=clean(f"graded in {i.graded_in}"))
                    elif not i.passed:
                        f += 1
                        first = i.feedback.splitlines()[0] if i.feedback else "failed"
                        fail = ET.SubElement(case, "failure", message=clean_name(first),
                                             type=clean_name(i.note or "wrong"))
                        fail.text = clean(i.feedback)
            suite.set("tests", str(n))
            suite.set("failures", str(f))
            suite.set("errors", "0")
            suite.set("skipped", str(skipped))
            suite.set("time", "0")
            total += n
            failures += f
    root.set("tests", str(total))
    root.set("failures", str(failures))
    root.set("errors", "0")
    ET.indent(root)
    return '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


# ---------------------------------------------------------------- CSV

def to_csv(book: Gradebook) -> str:
    """A row per student, a column per exercise, a total."""
    out = io.StringIO()
    w = csv.writer(out, lineterminator="\n")
    w.writerow(["student"] + [_inert(i) for i, _, _ in book.exercises] + ["total"])
    for s in book.students:
        w.writerow([_inert(s.id)] + [num(e.score) for e in s.exercises] + [num(s.score)])
    return out.getvalue()


def _inert(name: str) -> str:
    """A name a spreadsheet will neither run as a formula (a student may call a folder `=cmd|...`,
    or ` =cmd|...`: spreadsheets skip leading blanks) nor show with raw control characters."""
    name = clean_name(name)
    return "'" + name if name.lstrip(" ")[:1] in ("=", "+", "-", "@") else name


# ---------------------------------------------------------------- Markdown

_MD_SPECIAL = re.compile(r"([\\`*_\[\]|~])")


def _cell(text: str) -> str:
    """Text for a Markdown line or table cell: no raw HTML (`<script>` shows as text), no
    Markdown syntax from a name, nothing unsafe (clean_name)."""
    text = clean_name(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return _MD_SPECIAL.sub(r"\\\1", text)


def _code(text: str) -> str:
    """Inline code (shown as is, HTML included) that no backtick in the text can close."""
    text = clean_name(text)
    run = max((len(m) for m in re.findall("`+", text)), default=0)
    fence = "`" * (run + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _fence(lines: list[str], indent: str = "") -> list[str]:
    """A fenced code block (its text shown as is, HTML included) that no backticks in the
    text can close early: the fence is longer than any run of backticks inside."""
    lines = [clean(x) for x in lines]
    run = max((len(m) for x in lines for m in re.findall("`+", x)), default=0)
    fence = "`" * max(3, run + 1)
    return [indent + fence, *(indent + x for x in lines), indent + fence]


def _details(lines: list[str], prefix: str, e: ExerciseResult) -> None:
    failed = [(t, i) for t in e.tasks for i in t.items if not i.passed and i.graded_in is None]
    if not failed:
        return
    lines.append(f"\n### {_cell(prefix + e.id)}: {num(e.score)} / {num(e.max_score)}\n")
    if e.error:
        lines += _fence(e.error.splitlines())
        return
    for t, i in failed:
        note = f" _({_cell(i.note)})_" if i.note else ""
        lines.append(f"- **{_cell(t.kind)}** {_code(i.name)}{note}")
        lines += _fence(i.feedback.splitlines(), "  ")


def markdown(book: Gradebook) -> str:
    """A report for a CI job summary ($GITHUB_STEP_SUMMARY), kept under 1 MiB."""
    lines: list[str] = []
    ok = "✅" if book.passed else "❌"
    if book.single:
        s = book.students[0]
        lines += [f"## {ok} gradcli grade: {num(s.score)} / {num(s.max_score)}", "",
                  "| exercise | title | score | max |", "|---|---|---:|---:|"]
        for e in s.exercises:
            mark = "✅" if e.passed else "❌"
            lines.append(f"| {mark} {_cell(e.id)} | {_cell(e.title)} | {num(e.score)} | {num(e.max_score)} |")
        for e in s.exercises:
            _details(lines, "", e)
    else:
        n = len(book.students)
        mean = sum(s.score for s in book.students) / max(1, n)
        lines += [f"## {ok} gradcli grade: {n} students, mean {num(mean)} / {num(book.max_score)}", "",
                  "| student | " + " | ".join(_cell(i) for i, _, _ in book.exercises) + " | total |",
                  "|---|" + "---:|" * (len(book.exercises) + 1)]
        for s in book.students:
            lines.append(f"| {_cell(s.id)} | " + " | ".join(str(num(e.score)) for e in s.exercises)
                         + f" | {num(s.score)} |")
        for s in book.students:
            for e in s.exercises:
                _details(lines, f"{s.id}/", e)
    text, size = [], 0
    for line in lines:
        size += len(line.encode("utf-8")) + 1
        if size > MARKDOWN_LIMIT:
            text.append("\n_… the rest is cut to keep the summary under 1 MiB; see the JSON or JUnit report._")
            break
        text.append(line)
    return "\n".join(text) + "\n"


# ---------------------------------------------------------------- the table

def table(book: Gradebook, con, verbose: bool = True) -> None:
    """Rich tables for people: per task for one student, a student × exercise grid for a class."""
    from rich.table import Table
    from rich.text import Text

    if book.single:
        s = book.students[0]
        t = Table(title=f"score {num(s.score)} / {num(s.max_score)}", title_justify="left",
                  header_style="bold")
        for col, just in (("exercise", "left"), ("task", "left"), ("items", "right"), ("score", "right")):
            t.add_column(col, justify=just)
        for e in s.exercises:
            for k, task in enumerate(e.tasks):
                right, n = task.right
                if task.kind == "extra":
                    right, n = sum(1 for i in task.items if i.passed), len(task.items)
                style = "green" if task.passed else "red"
                t.add_row(Text(clean_name(e.id)) if k == 0 else "", task.kind, f"{right}/{n}",
                          Text(f"{num(task.score)} / {num(task.max_score)}", style=style))
        con.print(t)
        if verbose:
            for e in s.exercises:
                _print_failures(con, e, "")
        return
    t = Table(title=f"{len(book.students)} students", title_justify="left", header_style="bold")
    t.add_column("student")
    for i, _, m in book.exercises:
        t.add_column(Text(f"{clean_name(i)}\n/{num(m)}"), justify="right")
    t.add_column(f"total\n/{num(book.max_score)}", justify="right")
    for s in book.students:
        cells = [Text(str(num(e.score)), style="green" if e.passed else ("red" if e.error else ""))
                 for e in s.exercises]
        t.add_row(Text(clean_name(s.id)), *cells, Text(str(num(s.score)), style="bold"))
    con.print(t)
    broken = [(s, e) for s in book.students for e in s.exercises if e.error]
    for s, e in broken[:20]:
        con.print(Text(clean_name(f"{s.id}/{e.id}: "), style="red") + Text(clean_name(e.error.splitlines()[0])))
    if len(broken) > 20:
        con.print(f"… and {len(broken) - 20} more answers that could not be graded")


def _print_failures(con, e: ExerciseResult, prefix: str) -> None:
    from rich.text import Text

    shown = [(t, i) for t in e.tasks for i in t.items
             if i.graded_in is None and (not i.passed or i.note)]     # failures, and passes with a note
    if not any(not i.passed for _, i in shown):
        return
    con.print(Text(f"\n{clean_name(prefix + e.id)} ({clean_name(e.title)})", style="bold"))
    if e.error:
        con.print(Text(clean(e.error)))
        return
    for t, i in shown:
        mark = Text("  ✗ ", style="red") if not i.passed else Text("  ✓ ", style="green")
        con.print(mark + Text(f"{t.kind}: ", style="bold") + Text(clean(i.feedback).replace("\n", "\n    ")))


FORMATS = {"json": to_json, "junit": junit, "gradescope": gradescope, "csv": to_csv, "markdown": markdown}
