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
            "passed": e.passed, "answer": e.answer, "found": e.found, "error": e.error, "regrade": e.regrade,
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
    """Gradescope's results.json for one student (gradescope-autograders.readthedocs.io, "Output
    format"): a test per task, the feedback in its output, the task's `visibility`.  The student's
    files are named as paths inside their submission (the folder given with --answers is left
    out), and an answer that could not be graded at all says why once, in the exercise's first
    test; its other tests point there."""
    s = book.students[0]
    inside = _inside(book.folder)
    tests, notes = [], []
    for e in s.exercises:
        labels = task_labels(e)
        first = f"{e.id}: {labels[0]}" if labels else ""
        shown = {t.visibility for t in e.tasks if t.kind != "extra"}
        for k, (t, label) in enumerate(zip(e.tasks, labels)):
            if e.error is not None:
                out = inside(e.error) if k == 0 else f"not graded: the answer could not be graded (see “{first}”)"
            else:
                out = _test_output(t)
            if k == 0 and e.found:
                out = inside(e.found) + "\n\n" + out
            test = {"name": f"{e.id}: {label}", "score": num(t.score), "max_score": num(t.max_score),
                    "status": "passed" if t.passed else "failed", "output": inside(out)}
            # the extra test (claims no task asks for) is as visible as the exercise's tasks
            visibility = t.visibility if t.kind != "extra" else (shown.pop() if len(shown) == 1 else None)
            if visibility:
                test["visibility"] = visibility
            tests.append(test)
        if e.found:
            notes.append(f"{e.id}: {inside(e.found)}")
    data = {"score": num(s.score), "max_score": num(s.max_score),
            "output": "\n".join([f"{num(s.score)} / {num(s.max_score)} points", *notes]), "tests": tests}
    return json.dumps(data, indent=2, ensure_ascii=False) + "\n"


def _test_output(t) -> str:
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
    return out


def _inside(folder: str | None):
    """Text with the student's folder left out of the paths in it: `hw/01.grad:3:5`, not
    `/autograder/submission/hw/01.grad:3:5`."""
    if not folder:
        return lambda text: text
    import os

    prefixes = sorted({folder.rstrip(os.sep) + os.sep, os.path.abspath(folder) + os.sep}, key=len, reverse=True)

    def inside(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        return text

    return inside


# ---------------------------------------------------------------- JUnit

def junit(book: Gradebook) -> str:
    """One testsuite per (student,) exercise, one testcase per item, feedback in <failure>; an
    answer that could not be graded at all says why in its first testcase only."""
    import xml.etree.ElementTree as ET

    root = ET.Element("testsuites", name="gradcli grade")
    total = failures = 0
    for s in book.students:
        for e in s.exercises:
            prefix = "" if book.single else f"{s.id}/"
            suite = ET.SubElement(root, "testsuite", name=clean_name(prefix + e.id))
            n = f = skipped = 0
            said = None         # the testcase that says why an ungradable answer was not graded
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
                        feedback = i.feedback
                        if e.error is not None and said is not None:
                            feedback = f"not graded: the answer could not be graded (see {said})"
                        elif e.error is not None:
                            said = f"{e.id}.{label}"
                        first = feedback.splitlines()[0] if feedback else "failed"
                        fail = ET.SubElement(case, "failure", message=clean_name(first),
                                             type=clean_name(i.note or "wrong"))
                        fail.text = clean(feedback)
            if e.found:
                ET.SubElement(suite, "system-out").text = clean(e.found)
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
        found = [e for e in s.exercises if e.found]
        if found:
            lines.append("")
            lines += [f"- _note:_ {_cell(e.id)}: {_cell(e.found)}" for e in found]
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

def table(book: Gradebook, out, verbose: bool = True) -> None:
    """The table for people, to a Printer (plain, or rich on a terminal): per task for one student,
    a student × exercise grid for a class (short exercise ids, then the grid in parts, where a
    terminal is too narrow for it)."""
    from ..render import Col, Styled

    if book.single:
        s = book.students[0]
        cols = [Col("exercise"), Col("task"), Col("items", right=True), Col("score", right=True)]
        rows = []
        for e in s.exercises:
            for k, task in enumerate(e.tasks):
                right, n = task.right
                if task.kind == "extra":
                    right, n = sum(1 for i in task.items if i.passed), len(task.items)
                rows.append([clean_name(e.id) if k == 0 else "", task.kind, f"{right}/{n}",
                             Styled(f"{num(task.score)} / {num(task.max_score)}", "green" if task.passed else "red")])
        out.table(cols, rows, title=f"score {num(s.score)} / {num(s.max_score)}", boxed=out.rich)
        for e in s.exercises:
            if e.found:
                out.print(Styled(f"note: {clean_name(e.id)}: {clean_name(e.found)}", "yellow"))
        if verbose:
            for e in s.exercises:
                _print_failures(out, e, "")
        return
    _grid(book, out)
    broken = [(s, e) for s in book.students for e in s.exercises if e.error]
    for s, e in broken[:20]:
        out.print([Styled(clean_name(f"{s.id}/{e.id}: "), "red"), clean_name(e.error.splitlines()[0])])
    if len(broken) > 20:
        out.print(f"… and {len(broken) - 20} more answers that could not be graded")


def _short_ids(ids: list[str]) -> list[str]:
    """`01` for `01-ln-sin-cos`: each id up to its first '-', where those are unique; else the ids."""
    short = [i.split("-", 1)[0] or i for i in ids]
    return short if len(set(short)) == len(short) else ids


def _grid(book: Gradebook, out) -> None:
    from ..render import Col, Styled, fits

    ids = [clean_name(i) for i, _, _ in book.exercises]

    def layout(names, which):
        cols = [Col("student")] + [Col(f"{names[k]}\n/{num(book.exercises[k][2])}", right=True) for k in which]
        cols.append(Col(f"total\n/{num(book.max_score)}", right=True))
        rows = []
        for s in book.students:
            cells = [Styled(str(num(s.exercises[k].score)), "green" if s.exercises[k].passed else
                            ("red" if s.exercises[k].error else "")) for k in which]
            rows.append([clean_name(s.id), *cells, Styled(str(num(s.score)), "bold")])
        return cols, rows

    title = f"{len(book.students)} students"
    every = list(range(len(ids)))
    boxed = out.rich
    for names in (ids, _short_ids(ids)):
        cols, rows = layout(names, every)
        if fits(cols, rows, out.width, boxed):
            break
    if names != ids:
        out.print(", ".join(f"{n}: {i}" for n, i in zip(names, ids)))
    if fits(cols, rows, out.width, boxed):
        out.table(cols, rows, title=title, boxed=boxed)
        return
    # too wide even so: the exercises in parts, each beside the student column (and the total)
    part: list[int] = []
    parts = []
    for k in every:
        if part and not fits(*layout(names, part + [k]), out.width, boxed):
            parts.append(part)
            part = []
        part.append(k)
    parts.append(part)
    for n, part in enumerate(parts):
        out.table(*layout(names, part), title=f"{title} ({n + 1} of {len(parts)})", boxed=boxed)


def _print_failures(out, e: ExerciseResult, prefix: str) -> None:
    from ..render import Styled

    shown = [(t, i) for t in e.tasks for i in t.items
             if i.graded_in is None and (not i.passed or i.note)]     # failures, and passes with a note
    if not any(not i.passed for _, i in shown):
        return
    out.print()
    out.print(Styled(f"{clean_name(prefix + e.id)} ({clean_name(e.title)})", "bold"))
    if e.error:
        out.print(clean(e.error))
        return
    for t, i in shown:
        mark = Styled("  ✗ ", "red") if not i.passed else Styled("  ✓ ", "green")
        out.print([mark, Styled(f"{t.kind}: ", "bold"), clean(i.feedback).replace("\n", "\n    ")])


def table_text(book: Gradebook) -> str:
    """The table as plain text (for -o, --report table=FILE and Gradebook.render)."""
    from ..render import Printer

    out = Printer(collect=True)
    table(book, out)
    return out.text()


FORMATS = {"table": table_text, "json": to_json, "junit": junit, "gradescope": gradescope, "csv": to_csv, "markdown": markdown}
