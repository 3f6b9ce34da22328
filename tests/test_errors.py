"""Bad input: FILE:LINE:COL: error: ..., the line, a caret, exit status 2, never a traceback."""

import re
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gradcli.cli import main

BAD = Path(__file__).resolve().parent / "bad"
SHARED = Path(__file__).resolve().parents[2] / "shared" / "bad-inputs"

# (file text, message fragment, line, column, hint fragment or None)
CASES = [
    ("input a = 1\nb = a ** ** 2\n", "unexpected '**'; expected an expression", 2, 10, "operand"),
    ("input a = 2\nb = a * (a + 1\n", "'(' is never closed", 2, 9, "add ')'"),
    ("input a = 2\nb = a + 1)\n", "unmatched ')'", 2, 10, None),
    ("input a = 2\nb = [a, (1]\n", "']' does not close the '('", 2, 11, None),
    ("input a = 2\nb = a $ 1\n", "unexpected character '$'", 2, 7, "operators"),
    ("input a = 2\nb = (a; 1)\n", "';' inside brackets", 2, 7, None),
    ("input a = 2\nb = a +\n", "unexpected end of line; expected an expression", 2, 8, "operand"),
    ("input input = 1\n", "unexpected 'input'; expected a name", 1, 7, "reserved word"),
    ("input x = 1e999\ny = x\n", "the number 1e999 is too large for float64", 1, 11, None),
    ("input x = 1\ny = x * sum(" + "[" * 40 + "1" + "]" * 40 + ")\n", "nested more than 32 deep", 2, 21, None),
    ("input alpha = 2\nb = alpah + 1\n", "undefined name 'alpah'", 2, 5, "did you mean 'alpha'"),
    ("input a = 2\nb = a + c\n", "undefined name 'c'", 2, 9, None),
    ("input x = 1\nx = 2*x\n", "'x' is already defined (line 1, column 7)", 2, 1, None),
    ("def f(a) = f(a) + 1\ninput x = 1\ny = f(x)\n", "recursive def: f -> f", 1, 12, "inline"),
    ("def f(a) = g(a)\ndef g(a) = 2*f(a)\ninput x = 1\ny = f(x)\n", "recursive def: f -> g -> f", 2, 14, None),
    ("input a = 1\nb = cosine(a)\n", "unknown function 'cosine'", 2, 5, "did you mean 'cos'"),
    ("input a = 1\nb = sin(a, a)\n", "sin() takes 1 argument(s), given 2", 2, 5, None),
    ("def f(a, b) = a*b\ninput x = 1\ny = f(x)\n", "f() takes 2 argument(s), given 1", 3, 5, None),
    ("input M = [[1, 2, 3]]\ninput v = [1, 2]\nw = M @ v\n", "shape mismatch in `M @ v`", 3, 5, "M: (1, 3), v: (2,)"),
    ("input a = [1, 2]\ninput b = [1, 2, 3]\nc = a + b\n", "shape mismatch in `a + b`", 3, 5, "a: (2,), b: (3,)"),
    ("input M = [[1, 2, 3]]\ninput v = [1, 2]\nw = (M*2) @ (v+1)\n", "shape mismatch in `(M*2) @ (v+1)`", 3, 5,
     "shapes `M*2`: (1, 3), `v+1`: (2,)"),
    ("input x\ny = x*2\n", "input 'x' has no value", 1, 1, "--at x=VALUE"),
    ("", "empty file", 1, 1, None),
    ("# only a comment\n\n", "empty file", 1, 1, None),
    ("c = 2*3\n", "the file declares no input", 1, 1, None),
    ("input x = 1\n", "the file assigns no node", 1, 1, None),
    ("input x = -1\ny = 2*x\nz = log(x) + y\n", "`log(x)` is nan at this point", 3, 5, "x = -1"),
    ("input x = 0\ny = 1/x\n", "`1/x` is inf at this point", 2, 5, None),
    # the arguments as the file shows them: a small tensor's entries, a large one's shape,
    # a sub-expression by its text (never a generated `_N`)
    ("input x = [1, -1]\ny = sum(log(x))\n", "`log(x)` is [0, nan] at this point", 2, 9, "x = [1, -1];"),
    ("input x = zeros(3, 4)\ny = sum(log(x - 1))\n", "`log(x - 1)` is nan (in a 3×4 matrix) at this point",
     2, 9, "its arguments: `x - 1` = a 3×4 matrix;"),
    ("input x = zeros(0)\ny = mean(x)\n", "`mean(x)` is nan at this point", 2, 5, "x = an empty vector;"),
    ("input x = [1, 1, 1, 1, 1, -1]\ny = sum(log(x))\n", "`log(x)` is [0, 0, 0, 0, 0, nan] at this point", 2, 9,
     "x = [1, 1, 1, 1, 1, -1];"),
    ("input x = [1, 1, 1, 1, 1, 1, -1]\ny = sum(log(x))\n", "`log(x)` is nan (in a vector of 7) at this point",
     2, 9, "x = a vector of 7;"),
    ("input x = 0\ny = sqrt(x)\n", "the derivative of `sqrt(x)` is not finite", 2, 5, None),
    ("input x = 1\ny = x.foo\n", "unknown attribute '.foo'", 2, 5, ".T"),
    ("input x = 1\ny = randn(2)*x\n", "randn() can only give the value of an input or a const", 2, 5, None),
    ("input x = 1\ny = x*2\noutput z\n", "output 'z' is not defined", 3, 8, None),
    ("input x = 1\ny = x*2\nd(y)/d(q) = 2\n", "undefined name 'q' in a claim", 3, 8, None),
    ("input x = 1\na = x*2\ny = a + 1\npartial(y, x) = 2\n", "no edge x -> y", 4, 1, None),
    ("input x = 1\ny = x*2\nq(y)/d(x) = 2\n", "a claim is written d(u)/d(v)", 3, 1, None),
    ("input x = 1\ninput y = x + 1\nz = y\n", "an input's default must be a constant", 2, 11, None),
    ("input x in (2, 1) = 1\ny = x\n", "the domain (LO, HI) needs LO < HI", 1, 13, None),
    ("input v = [[1, 2], [3]]\ny = sum(v)\n", "different shapes", 1, 11, None),
    ("input v = [1, 2]\ny = index(v, 5)\n", "index out of range", 2, 5, None),
    ("input v = [1, 2]\ny = sum(v, 3)\n", "axis 3 is out of range", 2, 5, None),
    ("input x = 1\ndef sin(a) = a\ny = x\n", "'sin' is a built-in function", 2, 5, None),
    ("input x = 1\ny = x +\n", "unexpected end of line; expected an expression", 2, 8,
     "an operator must be followed by an operand"),
    ("input x =\ny = x\n", "unexpected end of line; expected an expression", 1, 10, "write an expression after ="),
    ("input x = 1\ny = 2*x\nd(y)/d(x) =   \n", "expected an expression", 3, 15, "write an expression after ="),
    # typed formulas: the hint says what to write (issue 8)
    ("input x = 1\ny = 2x + 1\n", "unexpected 'x'", 2, 6, "write 2*x"),
    ("input x = 1\ny = 3.5(x + 1)\n", "unexpected '('", 2, 8, "write 3.5*("),
    ("input x = 1\ny = (x + 1)(x - 1)\n", "unexpected '('", 2, 12, "write )*("),
    ("input x = 1\ny = sin x\n", "unexpected 'x'", 2, 9, "sin(x)"),
    ("input x = 1\ny = 2\u03c0*x\n", "unexpected '\u03c0'", 2, 6, "write 2*pi"),
    ("input x = 1\ny = x \u2212 1\n", "unexpected character '\u2212'", 2, 7, "write - (the ASCII operator)"),
    ("input x = 1\ny = 2 \u00d7 x\n", "unexpected character '\u00d7'", 2, 7, "write * (the ASCII operator)"),
    ("input x = 1\ny = 2\u00b7x\n", "unexpected character '\u00b7'", 2, 6, "write * (the ASCII operator)"),
    ("input x = 1\ny = x \u00f7 2\n", "unexpected character '\u00f7'", 2, 7, "write / (the ASCII operator)"),
    ("input x = 1\ny = x\u00b2 + 1\n", "undefined name 'x\u00b2'", 2, 5, "write x**2"),
    ("input x = 1\ny = (x + 1)\u00b3\n", "unexpected '\u00b3'", 2, 12, "write **3 for a power"),
    ("input x = 1\ny = \u03c0*x\n", "undefined name '\u03c0'", 2, 5, "write pi"),
    ("input x = 1\ny = 'x'\n", "unexpected character \"'\"", 2, 5, "quotes"),
    ("input x = 1\ny = 2*x\ndy/dx = 2\n", "unexpected '/'", 3, 3, "a claim is written d(u)/d(v)"),
    ("input x = 1\ny = 2*x\nd(y)/dx = 2\n", "unexpected '='", 3, 9, "a claim is written d(u)/d(v)"),
    ("input x = 1\ny = 2*x\nd(y)/d(x) = 2,5\n", "unexpected ','", 3, 14, "written with a point: 2.5"),
    ("input x = 1\ny = 2*x\ny' = 2\n", "unexpected character \"'\"", 3, 2, "not with a prime"),
    ("input x = 1\ny = ln(x)\n", "unknown function 'ln'", 2, 5, "the natural log is log"),
    ("input x = 1\ny = cot(x)\n", "unknown function 'cot'", 2, 5, "cos(x)/sin(x)"),
    ("input x = 1\ny = 2*x\nd(y)/d(x) = d(y)/d(x)\n", "unknown function 'd'", 3, 13, "cannot be used inside"),
    # a bracket never closed is reported at the bracket, whatever the parser met first
    ("input x = 1\ny = (x + 1\noutput y\n", "'(' is never closed", 2, 5, "add ')'"),
    ("input x = 1\ny = sin((x + 1)\nz = y\n", "'(' is never closed", 2, 8, "add ')'"),
    ("input x = 1\ny = [x, 2\nz = y\n", "'[' is never closed", 2, 5, "add ']'"),
    ("input x = 1\ny = (x + * 2\n", "unexpected '*'", 2, 10, "operand"),
]


def run(tmp_path, text, *args):
    path = tmp_path / "bad.grad"
    path.write_text(text)
    result = CliRunner().invoke(main, ["eval", str(path), *args])
    return path, result


@pytest.mark.parametrize("text,message,line,col,hint", CASES, ids=[c[1][:40] for c in CASES])
def test_bad_input_points_at_the_source(tmp_path, text, message, line, col, hint):
    path, result = run(tmp_path, text)
    assert result.exit_code == 2, result.output
    err = result.stderr
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit)  # exit 2, not an exception escaping the command
    first = err.splitlines()[0]
    assert first.startswith(f"{path}:{line}:{col}: error: "), err
    assert message in first, err
    # the source line and a caret under the column
    lines = err.splitlines()
    if text.strip():
        gutter = f"{line} | "
        assert lines[1].startswith(gutter)
        assert lines[2].index("^") == len(gutter) + col - 1
    if hint:
        assert hint in err


@pytest.mark.parametrize("name", sorted(p.name for p in BAD.glob("*.grad")))
def test_shipped_bad_inputs_exit_2_with_a_caret(name):
    result = subprocess.run([sys.executable, "-m", "gradcli", "eval", str(BAD / name)],
                            capture_output=True, text=True)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert re.match(rf"{re.escape(str(BAD / name))}:\d+:\d+: error: ", result.stderr)
    assert "^" in result.stderr
    if name == "unclosed_paren.grad":          # `y = (x + 1` then `output y`: at the `(`
        assert result.stderr.startswith(f"{BAD / name}:2:5: error: '(' is never closed"), result.stderr
    if name == "nul_byte.grad":
        assert "a NUL byte" in result.stderr


@pytest.mark.skipif(not SHARED.is_dir(), reason="../shared/bad-inputs is not beside this checkout")
@pytest.mark.parametrize("path", sorted(SHARED.glob("*.grad")) if SHARED.is_dir() else [])
def test_shared_bad_inputs(path):
    result = CliRunner().invoke(main, ["eval", str(path)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"{path}:")
    if path.name == "unclosed_paren.grad":          # `y = (x + 1` then `output y`: at the `(`
        assert result.stderr.startswith(f"{path}:2:5: error: '(' is never closed"), result.stderr


def test_a_bracket_closed_later_is_not_reported_as_never_closed(tmp_path):
    _, result = run(tmp_path, "input x = 1\ny = (x + 1\nz = y)\n")
    assert result.exit_code == 2 and ":3:1: error: unexpected 'z'" in result.stderr


def test_unreadable_binary_and_non_utf8_files(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(main, ["eval", str(tmp_path / "nope.grad")])
    assert missing.exit_code == 2 and "cannot read" in missing.stderr
    folder = runner.invoke(main, ["eval", str(tmp_path)])
    assert folder.exit_code == 2 and "is a directory" in folder.stderr
    binary = tmp_path / "bin.grad"
    binary.write_bytes(b"input x = 1\n\x00\x01\x02")
    out = runner.invoke(main, ["eval", str(binary)])
    assert out.exit_code == 2 and out.stderr.startswith(f"{binary}:2:1: error: a NUL byte")
    latin = tmp_path / "latin.grad"
    latin.write_bytes("input x = 1\ny = x # caf\xe9\n".encode("latin-1"))
    out = runner.invoke(main, ["eval", str(latin)])
    assert out.exit_code == 2 and f"{latin}:2:12: error: not UTF-8" in out.stderr


@pytest.mark.parametrize("raw,where", [
    ("input x = 1\ny = x # \u00e9\u00e9 \xff\n".encode("utf-8").replace(b"\xc3\xbf", b"\xff"), "2:12"),
    (b"input x = 1\ry = x\r z \xff\r", "3:4"),           # old Mac line ends count as lines
    (b"input x = 1\r\ny = \x00 + x\r\n", "2:5"),
])
def test_a_bad_byte_is_located_in_characters_and_lines(tmp_path, raw, where):
    path = tmp_path / "bad.grad"
    path.write_bytes(raw)
    out = CliRunner().invoke(main, ["eval", str(path)])
    assert out.exit_code == 2 and out.stderr.startswith(f"{path}:{where}: error: "), out.stderr
    assert "^" in out.stderr and "\x00" not in out.stderr


@pytest.mark.parametrize("args,message", [
    (["--at", "z=1"], "--at z: no input named 'z'"),
    (["--at", "x"], "write NAME=EXPR"),
    (["--at", "x=1 +"], "--at x:1:4: error: unexpected end of file"),
    (["--at", "x=y"], "undefined name 'y'"),
    (["--wrt", "q"], "--wrt q: no input named 'q'"),
    (["--mode", "sideways"], "error: invalid value for '--mode'"),
])
def test_bad_options_exit_2(tmp_path, args, message):
    _, result = run(tmp_path, "input x = 1\ny = x*x\n", *args)
    assert result.exit_code == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_one_bad_file_among_good_ones(tmp_path):
    good = tmp_path / "good.grad"
    good.write_text("input x = 2\ny = x*x\n")
    bad = tmp_path / "bad.grad"
    bad.write_text("input x = 2\ny = x*\n")
    result = CliRunner().invoke(main, ["eval", str(good), str(bad), "--format", "json"])
    assert result.exit_code == 2
    assert str(bad) + ":2:" in result.stderr
    assert '"grad"' in result.stdout


# Odd input through every command: exit 0, 1 or 2, never a traceback.
ODD = {
    "domain without a default": ("input x in (0, 1)\ny = x*x\n", 2, "input 'x' has no value"),
    "claim about a folded constant": ("input x = 1\na = 2.5\nf = [x, a]\npartial(f, a) = 1\n", 2,
                                      "'a' is a constant"),
    "domain of the wrong shape": ("input v in ([0, 0], [1, 1]) = [.5, .5, .5]\ny = sum(v)\n", 2,
                                  "do not fit the input's shape (3,)"),
    "an input as index's integer": ("input W = [[1, 2], [3, 4.5]]\ninput k = 1\n"
                                    "L = -index(log_softmax(W @ [1, -1]), k)\n", 0, ""),
    "an input with no elements": ("input x = eye(0)\ny = sum(x) + 1\n", 0, ""),
}


@pytest.mark.parametrize("command", ["eval", "graph", "check"])
@pytest.mark.parametrize("case", sorted(ODD))
def test_odd_input_in_every_command(tmp_path, command, case):
    text, status, message = ODD[case]
    path = tmp_path / "odd.grad"
    path.write_text(text)
    result = CliRunner().invoke(main, [command, str(path)])
    assert "Traceback" not in result.output
    assert isinstance(result.exception, SystemExit) or result.exception is None
    assert result.exit_code == status, result.output
    if message:
        assert result.stderr.startswith(f"{path}:") and message in result.stderr


@pytest.mark.parametrize("line,message", [
    ("const c = ones(0/0)", "ones() needs a whole number here"),
    ("const c = eye(1000000)", "`eye(1000000)` is 1,000,000,000,000 elements"),
    ("const c = randn(" + ",".join(["1"] * 40) + ")", "at most 32 dimensions"),
    ("input z in (-1/0, 1/0) = 1", "the domain (LO, HI) must be finite"),
    ("c = " + "[" * 34 + "x" + "]" * 34, "shape mismatch"),
])
def test_numpy_limits_are_errors_at_the_line(tmp_path, line, message):
    _, result = run(tmp_path, f"input x = 0.7\n{line}\ny = x*2\n")
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert ":2:" in result.stderr.splitlines()[0] and message in result.stderr
    assert "Warning" not in result.stderr


@pytest.mark.parametrize("args", [["--seed", "-1"], ["--seed", "x"]])
def test_bad_seed_is_a_usage_error(args):
    result = CliRunner().invoke(main, ["eval", str(BAD.parent.parent / "examples" / "lecture_sin.grad"), *args])
    assert result.exit_code == 2 and "--seed" in result.stderr


def test_devices_and_long_lines(tmp_path):
    result = CliRunner().invoke(main, ["eval", "/dev/zero"])
    assert result.exit_code == 2 and "not a regular file" in result.stderr
    long = "input x = 1\ny = " + "x + " * 500 + "cosine(x) + " + "x + " * 500 + "x\n"
    _, result = run(tmp_path, long)
    first, code, caret = result.stderr.splitlines()[:3]
    assert first.endswith("error: unknown function 'cosine'") and len(code) < 140
    assert code[caret.index("^"):].startswith("cosine")
