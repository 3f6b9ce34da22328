"""`gradcli graph --format python`: the forward and reverse code, printed, run, and compared
with `gradcli eval` (values, gradients; tangents with --mode forward)."""

from __future__ import annotations

import ast
import json
import re
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from gradcli.cli import main
from conftest import EXAMPLES


def printed(path, *args) -> str:
    result = CliRunner().invoke(main, ["graph", str(path), "--format", "python", *args])
    assert result.exit_code in (0, 1), result.output      # 1: a claim in the file disagrees
    return result.output


def evaluated(path, *args) -> dict:
    result = CliRunner().invoke(main, ["eval", str(path), "--format", "json", *args])
    assert result.exit_code == 0, result.output
    return json.loads(result.output)["outputs"]


def run_module(code: str) -> dict:
    ns: dict = {"__name__": "printed"}
    exec(compile(code, "printed.py", "exec"), ns)   # noqa: S102  (the test runs what gradcli printed)
    return ns


def _point(code: str) -> tuple:
    """The point the module's __main__ block calls the functions at."""
    ns = run_module(code)
    line = next(li for li in code.splitlines() if li.strip().startswith("point = "))
    return eval(line.split("=", 1)[1], ns)  # noqa: S307


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.grad")), ids=lambda p: p.name)
def test_the_printed_code_runs_and_matches_eval(path):
    code = printed(path)
    ns = run_module(code)
    point = _point(code)
    value, grads = ns["value_and_gradient"](*point)
    outputs = evaluated(path)
    first = next(iter(outputs.values()))
    np.testing.assert_allclose(value, first["value"], rtol=1e-12)
    names = list(first["grad"])
    assert len(grads) == len(names)
    for g, name in zip(grads, names):
        jac = np.asarray(first["grad"][name], dtype=float)
        # for a tensor output the adjoints are those of sum(output): the Jacobian summed over its rows
        want = jac.reshape(np.shape(first["value"]) + np.shape(g)).sum(axis=tuple(range(np.ndim(first["value"]))))
        np.testing.assert_allclose(np.asarray(g, dtype=float), want, rtol=1e-12, atol=1e-15, err_msg=name)


@pytest.mark.parametrize("name,wrt", [("lecture_sin.grad", "x"), ("matrix_cost.grad", "w2"),
                                      ("logistic_binary.grad", "w"), ("max_gate.grad", "x2")])
def test_forward_mode_prints_tangents_that_match_eval(name, wrt):
    path = EXAMPLES / name
    code = printed(path, "--mode", "forward", "--wrt", wrt)
    ns = run_module(code)
    point = _point(code)
    out = next(iter(evaluated(path, "--mode", "forward").values()))
    direction = np.ones(np.shape(out["grad"][wrt]))[()] if np.ndim(out["grad"][wrt]) == 0 else \
        np.ones(np.shape(point[list(out["grad"]).index(wrt)]))
    value, tangent = ns["value_and_tangent"](*point, direction)
    jac = np.asarray(out["grad"][wrt], dtype=float)
    want = np.tensordot(jac, np.ones(np.shape(direction)), axes=np.ndim(direction)) if np.ndim(direction) else jac
    np.testing.assert_allclose(tangent, want, rtol=1e-12)
    assert "value_and_tangent" in code and "d(" in code


def test_the_names_are_comments_and_the_module_runs_as_a_script(tmp_path):
    path = tmp_path / "odd.grad"
    # `lambda` and `class` are Python keywords; `ﬁ` and `fi` are one name to Python (NFKC)
    path.write_text("input fi = 1.5\ninput ﬁ = 2\nlambda = fi * ﬁ\nclass = sin(lambda) + fi\n")
    code = printed(path)
    identifiers = {getattr(n, "id", None) or getattr(n, "arg", None) or getattr(n, "name", None)
                   for n in ast.walk(ast.parse(code))}
    assert not identifiers & {"fi", "lambda", "class"}    # `ﬁ` would parse as `fi`
    assert "# lambda = fi * ﬁ" in code and "d(class)/d(ﬁ)" in code
    script = tmp_path / "printed.py"
    script.write_text(code, encoding="utf-8")
    res = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True)
    want = evaluated(path)["class"]
    lines = dict(li.split(" = ", 1) for li in res.stdout.splitlines())
    assert float(lines["class"]) == pytest.approx(want["value"], rel=1e-15)
    assert float(lines["d(class)/d(ﬁ)"]) == pytest.approx(want["grad"]["ﬁ"], rel=1e-15)
    assert float(lines["d(class)/d(fi)"]) == pytest.approx(want["grad"]["fi"], rel=1e-15)


def test_of_picks_the_output_and_several_files_give_several_modules(tmp_path):
    code = printed(EXAMPLES / "jacobian_two_outputs.grad", "--of", "f2")
    ns = run_module(code)
    value, grads = ns["value_and_gradient"](1.0, 2.0, 3.0, 4.0)
    assert value == 12 and list(grads) == [4, 4, 0, 3]
    result = CliRunner().invoke(main, ["graph", str(EXAMPLES / "lecture_sin.grad"),
                                       str(EXAMPLES / "s_linear.grad"), "--format", "python"])
    assert result.exit_code == 0 and result.output.count("def value_and_gradient(") == 2


def test_the_documented_example_is_what_the_command_prints(monkeypatch):
    doc = (EXAMPLES.parent / "docs" / "graph.md").read_text(encoding="utf-8")
    block = re.search(r"\$ gradcli graph examples/lecture_sin.grad --format python --mode forward --wrt x\n"
                      r"(.*?)```", doc, re.S).group(1)
    monkeypatch.chdir(EXAMPLES.parent)          # the command as the docs run it, from the project's root
    assert printed("examples/lecture_sin.grad", "--mode", "forward", "--wrt", "x") == block
