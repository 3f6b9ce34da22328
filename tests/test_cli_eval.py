"""`gradcli eval` through click's CliRunner and through real processes."""

import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli import __version__
from gradcli.cli import main

ROOT = Path(__file__).resolve().parent.parent
LECTURE = str(ROOT / "examples" / "lecture_sin.grad")
MATRIX = str(ROOT / "examples" / "matrix_cost.grad")


def invoke(*args, env=None):
    return CliRunner(env=env).invoke(main, list(args))


def test_json_is_exactly_the_spec_shape():
    result = invoke("eval", LECTURE, "--format", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert list(data) == ["outputs"]
    assert list(data["outputs"]) == ["o"]
    o = data["outputs"]["o"]
    assert set(o) == {"value", "grad"}
    assert o["grad"]["x"] == pytest.approx(-2 * math.pi, abs=1e-12)
    assert o["grad"]["y"] == math.sin(math.pi)


def test_json_tensors_are_nested_lists_with_the_inputs_shapes():
    data = json.loads(invoke("eval", MATRIX, "--format", "json").stdout)
    g = data["outputs"]["cost"]["grad"]
    assert data["outputs"]["cost"]["value"] == 33
    assert g["x"] == [[4, -10, 4], [16, -40, 16]]
    assert g["w1"] == [[10, -14], [-20, 28]]
    assert g["w2"] == [10, -18] and g["y"] == [4, -10, 4]


def test_forward_mode_gives_the_same_numbers():
    rev = json.loads(invoke("eval", MATRIX, "--format", "json").stdout)
    fwd = json.loads(invoke("eval", MATRIX, "--format", "json", "--mode", "forward").stdout)
    assert rev == fwd


def test_several_outputs_give_a_jacobian_row_each(tmp_path):
    f = tmp_path / "two.grad"
    f.write_text("input x = 1\ninput y = 2\ninput z = 3\ninput q = 4\ns = x + y\n"
                 "f1 = s*z\nf2 = s*q\noutput f1, f2\n")
    data = json.loads(invoke("eval", str(f), "--format", "json").stdout)["outputs"]
    assert [[data[o]["grad"][i] for i in "xyzq"] for o in ("f1", "f2")] == [[3, 3, 3, 0], [4, 4, 0, 3]]


def test_tensor_output_gradient_has_shape_output_plus_input(tmp_path):
    f = tmp_path / "t.grad"
    f.write_text("input W = [[1, 2], [3, 4]]\ninput v = [1, -1]\nu = W @ v\n")
    for mode in ("reverse", "forward"):
        data = json.loads(invoke("eval", str(f), "--format", "json", "--mode", mode).stdout)["outputs"]["u"]
        assert data["value"] == [-1, -1]
        assert np.shape(data["grad"]["W"]) == (2, 2, 2)
        assert data["grad"]["v"] == [[1, 2], [3, 4]]
        assert data["grad"]["W"][0] == [[1, -1], [0, 0]]


def test_at_wrt_and_seed():
    result = invoke("eval", LECTURE, "--at", "x=1", "--at", "y=2", "--wrt", "y", "--format", "json")
    data = json.loads(result.stdout)["outputs"]["o"]
    assert list(data["grad"]) == ["y"]
    assert data["value"] == pytest.approx(3 * math.sin(1))
    assert data["grad"]["y"] == pytest.approx(math.sin(1))


def test_seed_changes_randn_defaults(tmp_path):
    f = tmp_path / "r.grad"
    f.write_text("input W = randn(2, 2)\nf = sum(W)\n")
    a = invoke("eval", str(f), "--format", "json", "--seed", "1").stdout
    b = invoke("eval", str(f), "--format", "json", "--seed", "1").stdout
    c = invoke("eval", str(f), "--format", "json", "--seed", "2").stdout
    assert a == b != c


def test_text_output_for_people():
    result = invoke("eval", LECTURE, env={"NO_COLOR": "1"})
    assert result.exit_code == 0
    out = result.stdout
    assert "\x1b[" not in out
    assert out.splitlines()[0] == "o = 7.694682774887159e-16   (reverse mode)"   # exact: repr, read back
    rows = [line.split() for line in out.splitlines()[2:]]
    assert rows == [["x", repr(math.pi), repr(-2 * math.pi)], ["y", repr(math.pi), repr(math.sin(math.pi))]]
    short = invoke("eval", LECTURE, "--digits", "3", env={"NO_COLOR": "1"}).stdout.splitlines()
    assert short[0] == "o = 7.69e-16   (reverse mode)" and short[2].split() == ["x", "3.14", "-6.28"]


def test_several_files_text_and_json():
    text = invoke("eval", LECTURE, MATRIX).stdout
    assert LECTURE in text and MATRIX in text
    data = json.loads(invoke("eval", LECTURE, MATRIX, "--format", "json").stdout)
    assert set(data) == {LECTURE, MATRIX}
    assert data[MATRIX]["outputs"]["cost"]["value"] == 33


def test_version_and_help():
    assert invoke("--version").stdout.strip() == f"gradcli, version {__version__}"
    for cmd in ([], ["eval"]):
        result = invoke(*cmd, "--help")
        assert result.exit_code == 0 and "Usage:" in result.stdout


def test_real_process_python_m():
    result = subprocess.run([sys.executable, "-m", "gradcli", "eval", LECTURE, "--format", "json"],
                            capture_output=True, text=True, cwd="/")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["o"]["grad"]["x"] == pytest.approx(-2 * math.pi)


def test_real_process_console_script():
    script = shutil.which("gradcli", path=os.path.dirname(sys.executable)) or shutil.which("gradcli")
    if script is None:
        pytest.skip("the gradcli console script is not installed next to this Python")
    result = subprocess.run([script, "eval", MATRIX, "--format", "json"], capture_output=True, text=True)
    assert result.returncode == 0 and json.loads(result.stdout)["outputs"]["cost"]["value"] == 33
    bad = subprocess.run([script, "eval", "--mode", "x", MATRIX], capture_output=True, text=True)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_nan_names_the_node_and_exits_2(tmp_path):
    f = tmp_path / "nan.grad"
    f.write_text("input x = 2\na = x - 3\nb = log(a)\nc = b * x\n")
    result = subprocess.run([sys.executable, "-m", "gradcli", "eval", str(f)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr.startswith(f"{f}:3:5: error: `log(a)` is nan at this point")
    assert "a = -1" in result.stderr
    ok = invoke("eval", str(f), "--at", "x=4", "--format", "json")
    assert ok.exit_code == 0 and ok.stderr == ""
    # at x = 4: a = 1, c = log(1)*4 = 0, dc/dx = log(a) + x/a = 4
    assert json.loads(ok.stdout) == {"outputs": {"c": {"value": 0.0, "grad": {"x": 4.0}}}}


def test_on_a_terminal_the_tables_are_rich(monkeypatch):
    import io

    from rich.console import Console

    import gradcli
    from gradcli.evaluate import render

    from gradcli.render import Printer

    buffer = io.StringIO()
    render.eval_text(gradcli.load(LECTURE).eval(),
                     out=Printer(Console(file=buffer, width=100, color_system=None)))
    out = buffer.getvalue()
    assert "o = 7.694682774887159e-16   (reverse mode)" in out
    header = next(line for line in out.splitlines() if "input" in line)
    assert header.startswith("┃") and "d(o)/d(input)" in header   # a boxed rich table
    assert any("│ x" in line and "-6.283185307179586" in line for line in out.splitlines())
