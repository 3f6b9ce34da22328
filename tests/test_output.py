"""Output that fits (issue 11): plain aligned text in a pipe or with NO_COLOR, rich tables on a
terminal that fit its width (COLUMNS with rich forced to a terminal, and a real pty), one number
formatter (exact by default, --digits N), matrices aligned by column, one error style, no SPEC
sections in help, --min-score validated, several reports per run, a summary line."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import given
from hypothesis import strategies as st

from gradcli import numbers
from gradcli.cli import LAZY, main

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
EXERCISES = ROOT / "exercises"
ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
BOX = re.compile("[┃│━─┏┓┗┛┡┩┼╇┳┻]")
QUIET = ("NO_COLOR", "TTY_COMPATIBLE", "FORCE_COLOR", "COLUMNS", "LINES")


def cli(*args, env=None, cwd=ROOT):
    """gradcli in process, from `cwd`; env: extra variables (None removes one)."""
    base = {k: None for k in QUIET}
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner(env={**base, **(env or {})}).invoke(main, [str(a) for a in args])
    finally:
        os.chdir(old)


def on_terminal(*args, columns=80, **kw):
    """Through rich forced to a terminal of `columns` (TTY_COMPATIBLE=1, COLUMNS): the text, no ANSI."""
    res = cli(*args, env={"TTY_COMPATIBLE": "1", "COLUMNS": str(columns)}, **kw)
    return res, ANSI.sub("", res.stdout)


def widest(text: str) -> int:
    return max((len(line) for line in text.splitlines()), default=0)


@pytest.fixture(scope="module")
def classroom(tmp_path_factory) -> Path:
    """Four students answering the ten shipped exercises, some right, some wrong, some missing."""
    subs = tmp_path_factory.mktemp("class") / "subs"
    for k, name in enumerate(["alice", "bob", "carol", "dan"]):
        for j, ex in enumerate(sorted(EXERCISES.iterdir())):
            if (j + k) % 3:
                src = ex / ("solution.grad" if (j + k) % 2 else "answer.grad")
                (subs / name).mkdir(parents=True, exist_ok=True)
                shutil.copy(src, subs / name / f"{ex.name}.grad")
    return subs


COMMANDS = {
    "eval": ["eval", "examples/lecture_sin.grad", "examples/matrix_cost.grad"],
    "graph": ["graph", "examples/lecture_sin.grad", "--paths", "--wrt", "x"],
    "check": ["check", "examples/wrong_claim.grad", "--random", "2"],
    "grade": ["grade", "exercises/04-chain-rule"],
    "self-test": ["grade", "--self-test", "exercises/"],
    "examples": ["examples"],
}


# ---------------------------------------------------------------- plain

@pytest.mark.parametrize("name", COMMANDS)
def test_every_command_is_plain_aligned_text_in_a_pipe_and_with_no_color(name):
    piped = cli(*COMMANDS[name])
    assert piped.exit_code in (0, 1), piped.output
    assert not ANSI.search(piped.stdout) and not BOX.search(piped.stdout), piped.stdout
    assert all(line == line.rstrip() for line in piped.stdout.splitlines())
    # NO_COLOR on a wide terminal: the same plain text
    wide = cli(*COMMANDS[name], env={"NO_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "400"})
    assert wide.stdout == piped.stdout


def test_the_class_grid_is_plain_in_a_pipe(classroom):
    res = cli("grade", "exercises/", "--submissions", classroom)
    assert res.exit_code == 1 and not BOX.search(res.stdout)
    lines = res.stdout.splitlines()
    assert lines[0] == "4 students" and lines[1].split()[:2] == ["student", "01-ln-sin-cos"]


def test_plain_eval_does_not_import_rich():
    code = ("import sys\nfrom gradcli.cli import main\ntry:\n    main(['eval', 'examples/lecture_sin.grad'])\n"
            "except SystemExit:\n    pass\nprint(sorted({m.split('.')[0] for m in sys.modules} & {'rich'}), file=sys.stderr)")
    env = {k: v for k, v in os.environ.items() if k not in QUIET}
    done = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert done.stdout.startswith("o = 7.694682774887159e-16") and done.stderr.strip() == "[]"


def test_no_color_on_a_narrow_terminal_is_plain_and_fits():
    res = cli(*COMMANDS["check"], env={"NO_COLOR": "1", "TTY_COMPATIBLE": "1", "COLUMNS": "80"})
    assert not ANSI.search(res.stdout) and not BOX.search(res.stdout)
    table = [line for line in res.stdout.splitlines() if line.startswith((" 0", " 1", " 2", "pt"))]
    assert len(table) == 7 and all(len(line) <= 80 for line in table)
    assert sum("CLAIM WRONG" in line for line in table) == 3


# ---------------------------------------------------------------- rich, fitted

@pytest.mark.parametrize("columns", [80, 100, 120, 140])
def test_the_check_table_fits_the_terminal_and_keeps_the_verdict(columns):
    res, out = on_terminal(*COMMANDS["check"], columns=columns)
    assert res.exit_code == 1 and widest(out) <= columns, out
    lines = out.splitlines()
    header = next(line for line in lines if line.startswith("pt"))
    assert header.split()[-1] == "verdict" and "derivative" in header
    rows = [line for line in lines if re.match(r" ?\d  ", line)]
    assert [("CLAIM WRONG" in r, "ok" in r.split()) for r in rows] == [(True, False)] * 3 + [(False, True)] * 3
    assert "…" not in "\n".join(rows)                   # no number is cut
    assert re.search(r" 0  d\(loss\)/d\(x\) .* -36 .* -18 ", "\n".join(rows))


def test_a_wide_terminal_shows_every_column_and_digit():
    res, out = on_terminal(*COMMANDS["check"], columns=250)
    # nothing needs to give way: the full table, as in a pipe (rich pads lines with blanks)
    assert [line.rstrip() for line in out.splitlines()] == cli(*COMMANDS["check"]).stdout.splitlines()
    assert "forward" in out and "abs err" in out and "48.680849510842556" in out


def test_a_narrow_terminal_says_when_numbers_have_fewer_digits():
    _, out = on_terminal(*COMMANDS["check"], columns=80)
    assert "significant digits to fit 80 columns" in out and "forward mode = reverse mode in every row" in out
    _, asked = on_terminal(*COMMANDS["check"], "--digits", "4", columns=80)
    assert "to fit" not in asked and "48.68" in asked and widest(asked) <= 80


def test_the_graph_listing_and_the_grade_tables_fit_80_columns(classroom):
    for args in (COMMANDS["graph"], ["graph", "examples/matrix_cost.grad", "--paths", "--wrt", "w1"],
                 ["graph", "examples/logistic_multiclass.grad"], COMMANDS["self-test"],
                 ["grade", "exercises/", "--submissions", classroom]):
        res, out = on_terminal(*args, columns=80)
        assert res.exit_code in (0, 1) and widest(out) <= 80, (args, out)
    res, out = on_terminal("grade", "exercises/", "--submissions", classroom, columns=80)
    assert "01: 01-ln-sin-cos, 02: 02-jacobian" in out          # short ids, with their legend
    for name in ("alice", "bob", "carol", "dan"):
        assert re.search(rf"│ {name} .*│ +\d+(\.\d+)? │$", out, re.M), name
    # too narrow even for short ids: the grid in parts, the student column in each
    res, out = on_terminal("grade", "exercises/", "--submissions", classroom, columns=50)
    assert widest(out) <= 50 and "(1 of 2)" in out and "(2 of 2)" in out and out.count("│ alice") == 2


def test_eval_on_a_terminal_boxes_fit_and_stack_when_too_wide(tmp_path):
    res, out = on_terminal("eval", "examples/matrix_cost.grad", columns=80)
    assert "┃ input" in out and "│ x     │ [[1,  1, -1], │  [[ 4, -10,  4], │" in out
    wide = tmp_path / "wide.grad"
    wide.write_text("input W = randn(3, 8)\ninput v = randn(8)\nu = sum(tanh(W @ v))\n")
    res, out = on_terminal("eval", wide, columns=80)
    assert res.exit_code == 0 and widest(out) <= 80 + 40     # numbers are never cut...
    assert "d(u)/d(W) =" in out and not BOX.search(out)      # ... each value under its name instead


@pytest.mark.skipif(sys.platform == "win32", reason="no pseudo-terminals")
def test_a_real_pty_of_80_columns(classroom):
    """gradcli check and gradcli grade in a real pseudo-terminal of 80 columns: rich, and every line
    fits (the table gives way; prose wraps at words)."""
    env = {k: v for k, v in os.environ.items() if k not in QUIET}
    for args in (["check", "examples/wrong_claim.grad", "--random", "2"],
                 ["grade", "exercises/", "--submissions", str(classroom)]):
        out, status = run_in_pty([sys.executable, "-m", "gradcli", *args], columns=80, env=env)
        assert status == 1, out
        assert "\x1b[" in out                                 # rich, in colour: a terminal
        text = ANSI.sub("", out).replace("\r", "")
        assert widest(text) <= 80, text
        if args[0] == "check":
            assert text.count("CLAIM WRONG") == 3 and "verdict" in text
        else:
            assert "┃ student" in text and "│ alice" in text


def run_in_pty(argv, columns: int, env) -> tuple[str, int]:
    import fcntl
    import pty
    import struct
    import termios

    master, slave = pty.openpty()
    fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 40, columns, 0, 0))
    proc = subprocess.Popen(argv, stdin=slave, stdout=slave, stderr=slave, cwd=ROOT, env=env, close_fds=True)
    os.close(slave)
    chunks = []
    while True:
        try:
            data = os.read(master, 65536)
        except OSError:            # EIO: the child closed the terminal
            break
        if not data:
            break
        chunks.append(data)
    os.close(master)
    return b"".join(chunks).decode("utf-8", "replace"), proc.wait(timeout=60)


# ---------------------------------------------------------------- numbers

@given(st.floats(allow_nan=False, allow_infinity=False))
def test_a_number_reads_back_exactly(x):
    text = numbers.num(x)
    assert float(text) == x and text != "-0"
    assert not text.endswith(".0")


@given(st.floats(allow_nan=False, allow_infinity=False), st.integers(1, 17))
def test_digits_are_significant_digits(x, d):
    text = numbers.num(x, d)
    assert float(text) == float(f"{x:.{d}g}")
    exact = numbers.num(x)
    with numbers.options(digits=d):
        assert numbers.num(x) == text and numbers.exact(x) == exact


def test_numbers_by_hand():
    assert [numbers.num(v) for v in (3.0, -0.0, 0.1, 1e16, 1e-5, math.pi, math.inf, -math.inf, math.nan)] == \
        ["3", "0", "0.1", "1e+16", "1e-05", "3.141592653589793", "inf", "-inf", "nan"]
    assert numbers.num(math.pi, 3) == "3.14" and numbers.num(-1e-20, 2) == "-1e-20"


@given(st.lists(st.lists(st.integers(-10**6, 10**6), min_size=3, max_size=3), min_size=1, max_size=6))
def test_matrices_are_aligned_by_column(rows):
    lines = numbers.block(np.array(rows, dtype=float)).split("\n")
    assert len(lines) == len(rows) and len({len(line) for line in lines}) == 1
    commas = {tuple(m.start() for m in re.finditer(",", line.rstrip(","))) for line in lines}
    assert len(commas) == 1                             # every column's right edge at one place
    assert json.loads("".join(lines)) == rows           # the language's (and JSON's) own syntax


def test_blocks_of_tensors_and_large_ones():
    assert numbers.block(np.arange(8.0).reshape(2, 2, 2)) == "[[[0, 1],\n  [2, 3]],\n\n [[4, 5],\n  [6, 7]]]"
    big = numbers.block(np.arange(2000.0).reshape(40, 50)).split("\n")
    assert big[0] == "[[   0,    1,    2, …,   47,   48,   49]," and big[3] == " …," and len(big) == 7
    assert numbers.block([]) == "[]" and numbers.block(2.5) == "2.5"


def test_eval_aligns_a_tensor_by_column_in_its_table(tmp_path):
    f = tmp_path / "t.grad"
    f.write_text("input W = [[1, 2], [3, 4]]\ninput v = [1, -1]\nu = W @ v\n")
    assert cli("eval", f).stdout.split("\n") == [
        "u = [-1, -1]   (reverse mode)",
        "input     value  d(u)/d(input)",
        "W      [[1, 2],    [[[1, -1],",
        "        [3, 4]]      [0,  0]],",
        "",
        "                    [[0,  0],",
        "                     [1, -1]]]",
        "v       [1, -1]       [[1, 2],",
        "                       [3, 4]]",
        ""]


def test_digits_on_eval_graph_and_check_and_json_keeps_every_digit():
    short = cli("eval", "examples/lecture_sin.grad", "--digits", "3").stdout
    assert short.splitlines()[2].split() == ["x", "3.14", "-6.28"]
    for command in ("eval", "graph", "check"):
        full = cli(command, "examples/lecture_sin.grad", "--format", "json").stdout
        assert cli(command, "examples/lecture_sin.grad", "--format", "json", "--digits", "2").stdout == full
    assert "3.141592653589793" in cli("graph", "examples/lecture_sin.grad", "--format", "dot").stdout
    assert "x = 3.1\\n" not in cli("graph", "examples/lecture_sin.grad", "--format", "dot", "--digits", "2").stdout
    assert cli("eval", "examples/lecture_sin.grad", "--digits", "0").exit_code == 2


def test_no_number_formatter_is_left_outside_gradcli_numbers():
    """%g-style format specs and numpy's array2string write values only in gradcli/numbers.py (the
    SVG's coordinates, a percentage and a size in KiB are written with fixed decimals elsewhere)."""
    pattern = re.compile(r":[+ ]?\.?\d*g\}|%\.?\d*g\b|array2string")
    offenders = []
    for path in (ROOT / "gradcli").rglob("*.py"):
        if path.name == "numbers.py":
            continue
        for k, line in enumerate(path.read_text().splitlines(), 1):
            if pattern.search(line):
                offenders.append(f"{path.relative_to(ROOT)}:{k}: {line.strip()}")
    assert offenders == []


# ---------------------------------------------------------------- errors, help

@pytest.mark.parametrize("args", [
    ["eval", "--bogus"], ["eval"], ["nope"], ["eval", "x.grad", "--mode", "sideways"],
    ["grade", "exercises/", "--min-score", "lots"], ["graph", "examples/lecture_sin.grad", "--format", "gif"],
    ["check", "--python", "m:f"], ["grade", "exercises/", "--report", "junit"], ["init"],
    ["eval", "nothere.grad"], ["grade", "nothere/"],
])
def test_one_error_style(args):
    res = cli(*args)
    assert res.exit_code == 2
    assert res.stderr.startswith("error: ") and "Error" not in res.stderr and "Usage:" not in res.stderr
    first = res.stderr.splitlines()[0]
    assert not first.endswith("."), first


def test_help_texts_cite_no_spec_section():
    for command in [None, *LAZY]:
        res = cli(*([command] if command else []), "--help")
        assert res.exit_code == 0
        assert "SPEC" not in res.stdout and not re.search(r"section \d", res.stdout), command
    assert "--digits" in cli("check", "--help").stdout and "--report" in cli("grade", "--help").stdout


@pytest.mark.parametrize("bar, status", [("120%", 2), ("100.5%", 2), ("-1", 2), ("-5%", 2), ("6", 2),
                                         ("5", 1), ("100%", 1), ("0%", 0), ("3", 0), ("60%", 0), ("61%", 1)])
def test_min_score_is_at_most_the_maximum(bar, status, tmp_path):
    answer = tmp_path / "a.grad"
    answer.write_text("u = x^2\no = sin(u)\npartial(u, x) = 2*x\npartial(o, u) = cos(u)\nd(o)/d(x) = cos(x^2)\n")
    res = cli("grade", "exercises/04-chain-rule", "--answers", answer, "--min-score", bar)     # 3 of 5
    assert res.exit_code == status, res.output
    if status == 2:
        assert "error: invalid value for --min-score" in res.stderr


# ---------------------------------------------------------------- several reports, one summary

def test_several_reports_from_one_run_equal_separate_runs(classroom, tmp_path):
    args = ["grade", "exercises/", "--submissions", classroom, "--seed", "5"]
    res = cli(*args, "--report", f"junit={tmp_path / 'g.xml'}", "--report", f"markdown={tmp_path / 'g.md'}",
              "--report", f"CSV={tmp_path / 'g.csv'}", "--report", f"json={tmp_path / 'g.json'}",
              "--report", f"text={tmp_path / 'g.txt'}")
    assert res.exit_code == 1, res.output
    assert res.stdout.startswith("4 students\n")                     # the table on the terminal...
    last = res.stdout.splitlines()[-1]                               # ... and what was written
    assert re.fullmatch(r"4 students, mean [\d.]+ / 58, median [\d.]+, \d below 50%: wrote .*g\.xml, .*g\.md, "
                        r".*g\.csv, .*g\.json, .*g\.txt", last), last
    for fmt, name in (("junit", "g.xml"), ("markdown", "g.md"), ("csv", "g.csv"), ("json", "g.json"),
                      ("table", "g.txt")):
        alone = cli(*args, "--format", fmt)
        assert (tmp_path / name).read_text() == alone.stdout, fmt      # the same bytes as its own run
    data = json.loads((tmp_path / "g.json").read_text())
    below = sum(1 for s in data["students"] if s["score"] < 29)
    assert f", {below} below 50%" in last


def test_the_summary_never_mixes_with_a_report_on_stdout(tmp_path):
    res = cli("grade", "exercises/04-chain-rule", "--format", "json", "--report", f"csv={tmp_path / 'g.csv'}")
    assert json.loads(res.stdout)["max_score"] == 5                   # stdout: the JSON only
    assert res.stderr.startswith("answer: 0 / 5 (0%), ") or "wrote" in res.stderr
    res = cli("grade", "exercises/04-chain-rule", "--format", "csv", "-o", tmp_path / "x.csv", "--min-score", "2")
    assert res.stdout == f"0 / 5 (0%), 4 items wrong, below the bar: wrote {tmp_path / 'x.csv'}\n", res.stdout
    assert res.exit_code == 1


def test_reports_are_written_all_or_none(tmp_path):
    keep = tmp_path / "old.xml"
    keep.write_text("the last good report")
    res = cli("grade", "exercises/04-chain-rule", "--report", f"junit={keep}",
              "--report", f"markdown={tmp_path / 'missing' / 'g.md'}")
    assert res.exit_code == 2 and "error: cannot write" in res.stderr
    assert keep.read_text() == "the last good report" and not list(tmp_path.glob(".*.tmp"))


@pytest.mark.parametrize("args, message", [
    (["--report", "pdf=x.pdf"], "unknown format 'pdf'"),
    (["--report", "junit=a.xml", "--report", "markdown=a.xml"], "a.xml is given for two reports"),
    (["--report", "junit=a.xml", "-o", "a.xml"], "a.xml is given for two reports"),
    (["--report", "junit="], "FORMAT=FILE"),
    (["--self-test", "--report", "json=a.json"], "--report is for grading runs"),
])
def test_bad_reports_are_usage_errors(args, message, tmp_path):
    res = cli("grade", "exercises/04-chain-rule", *args)
    assert res.exit_code == 2 and message in res.stderr, res.stderr


def test_gradescope_reports_on_one_student(classroom, tmp_path):
    res = cli("grade", "exercises/", "--submissions", classroom, "--report", f"gradescope={tmp_path / 'r.json'}")
    assert res.exit_code == 2 and "one student" in res.stderr and not (tmp_path / "r.json").exists()
