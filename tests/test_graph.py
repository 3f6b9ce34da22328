"""`gradcli graph`: goldens, formats, the sum over paths, tangents, the command line.

Goldens live in tests/golden/graph/; after an intended change of output, rewrite
them with `GRADCLI_UPDATE_GOLDEN=1 pytest tests/test_graph.py` and review the diff.
"""

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
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gradcli.autodiff import engine
from gradcli.graph import render as graphrender
from gradcli.graph import view as graphview
from gradcli.cli import main
from gradcli.errors import Source
from gradcli.language.program import bind, build

import reference

GOLDEN = Path(__file__).parent / "golden" / "graph"
UPDATE = os.environ.get("GRADCLI_UPDATE_GOLDEN") == "1"
HAS_DOT = shutil.which("dot") is not None
NEEDS_DOT = pytest.mark.skipif(not HAS_DOT, reason="Graphviz's `dot` is not installed "
                               "(apt-get install graphviz)")
ROOT = Path(__file__).parent.parent


def run(*args, cwd=GOLDEN):
    """The command through click's CliRunner, in the golden folder (relative names)."""
    old = os.getcwd()
    os.chdir(cwd)
    try:
        return CliRunner().invoke(main, ["graph", *args], catch_exceptions=False)
    finally:
        os.chdir(old)


def check_golden(name: str, text: str) -> None:
    path = GOLDEN / name
    if UPDATE:
        path.write_text(text, encoding="utf-8")
    assert path.exists(), f"no golden file {path}: make it with GRADCLI_UPDATE_GOLDEN=1"
    assert text == path.read_text(encoding="utf-8"), f"output differs from {path}"


def view_of(text: str, at=(), wrt=None, mode="reverse", output=None):
    program = build(Source("t.grad", text))
    point = bind(program, at)
    ids = [program.names[w] for w in (wrt or [])]
    return program, graphview.view(program, point, output, ids, mode)


# ---------------------------------------------------------------- goldens

@pytest.mark.parametrize("name, args", [
    ("lecture.txt", ["lecture_sin.grad"]),
    ("lecture_paths.txt", ["lecture_sin.grad", "--paths", "--wrt", "x"]),
    ("lecture_forward.txt", ["lecture_sin.grad", "--mode", "forward", "--wrt", "x"]),
    ("lecture.dot", ["lecture_sin.grad", "--format", "dot"]),
    ("lecture.mmd", ["lecture_sin.grad", "--format", "mermaid"]),
    ("lecture.json", ["lecture_sin.grad", "--paths", "--format", "json"]),
    ("matrix.txt", ["matrix.grad", "--paths", "--wrt", "w1"]),
    ("matrix.dot", ["matrix.grad", "--format", "dot"]),
    ("matrix.mmd", ["matrix.grad", "--format", "mermaid"]),
    ("matrix.json", ["matrix.grad", "--format", "json"]),
])
def test_golden(name, args):
    result = run(*args)
    assert result.exit_code == 0, result.output
    check_golden(name, result.output)


def test_lecture_numbers():
    """The lecture's numbers: d(o)/d(x) = -2π as the sum of its two paths."""
    data = json.loads(run("lecture_sin.grad", "--paths", "--format", "json").output)
    nodes = {n["name"]: n for n in data["nodes"]}
    assert nodes["x"]["adjoint"] == pytest.approx(-2 * math.pi)
    assert nodes["y"]["adjoint"] == pytest.approx(math.sin(math.pi))
    assert nodes["o"]["output"] and nodes["o"]["adjoint"] == 1
    assert nodes["w1"]["expr"] == "x + y" and nodes["w2"]["op"] == "sin"
    edge = [e for e in data["edges"] if e["from"] == "x" and e["to"] == "w2"][0]
    assert edge["formula"] == "cos(x)" and edge["value"] == pytest.approx(-1)
    assert edge["claims"][0]["claim"] == "partial(w2, x)" and edge["claims"][0]["agrees"]
    mul = [e for e in data["edges"] if e["to"] == "o"]
    assert [e["formula"] for e in mul] == ["w2", "w1"]
    px = data["paths"]["x"]
    assert px["count"] == 2 and px["complete"] and px["agrees"]
    assert [p["nodes"] for p in px["paths"]] == [["x", "w1", "o"], ["x", "w2", "o"]]
    assert sorted(p["value"] for p in px["paths"]) == pytest.approx([-2 * math.pi, math.sin(math.pi)])
    assert px["total"] == pytest.approx(-2 * math.pi)
    claim = nodes["x"]["claims"][0]
    assert claim["claim"] == "d(o)/d(x)" and claim["expr"] == "(x + y)*cos(x) + sin(x)"
    assert claim["agrees"] and claim["engine"] == pytest.approx(-2 * math.pi)


def test_text_listing_lecture():
    out = run("lecture_sin.grad", "--paths", "--wrt", "x").output
    assert re.search(r"^w2\s+sin\(x\)\s+\[\]\s+1\.2246467991473532e-16\s+6\.283185307179586$", out, re.M)
    assert re.search(r"^x → w2\s+∂w2/∂x = cos\(x\)\s+= -1\s+partial\(w2, x\) = cos\(x\) = -1 ✓$", out, re.M)
    assert "total (sum over 2 paths) = -6.283185307179586; d(o)/d(x) by reverse mode = -6.283185307179586 ✓" in out
    short = run("lecture_sin.grad", "--paths", "--wrt", "x", "--digits", "4").output
    assert "total (sum over 2 paths) = -6.283; d(o)/d(x) by reverse mode = -6.283 ✓" in short
    assert re.search(r"^w2\s+sin\(x\)\s+\[\]\s+1\.225e-16\s+6\.283$", short, re.M)
    data = json.loads(run("lecture_sin.grad", "--digits", "4", "--format", "json").output)
    assert data["nodes"][0]["value"] == math.pi          # JSON keeps every digit whatever --digits says
    assert not any(line != line.rstrip() for line in out.splitlines()), "trailing blanks"


def test_matrix_tensor_edges_show_shapes_not_jacobians():
    data = json.loads(run("matrix.grad", "--format", "json").output)
    nodes = {n["name"]: n for n in data["nodes"]}
    assert nodes["cost"]["value"] == 33
    assert nodes["w1"]["adjoint"] == [[10, -14], [-20, 28]]
    assert nodes["w2"]["adjoint"] == [10, -18]
    assert nodes["a"]["shape"] == [2, 3] and nodes["a"]["expr"] == "w1 @ x"
    mm = [e for e in data["edges"] if e["to"] == "a"]
    assert all(e["tensor_op"] and e["value"] is None for e in mm)
    assert mm[0]["formula"] == "(·) @ xᵀ" and mm[0]["shapes"] == {"from": [2, 2], "to": [2, 3]}
    sq = [e for e in data["edges"] if e["from"] == "e" and not e["tensor_op"]][0]
    assert sq["formula"] == "2*e" and sq["value"] == [4, -10, 4]
    out = run("matrix.grad").output
    assert "shapes w1[2,2] → a[2,3]" in out
    assert "d(cost)/d(w2) = -2 * (a @ e) = [10, -18] ✓" in out


def test_big_tensors_are_summarised():
    _, gv = view_of("input W = ones(4, 4)\ninput v = [1, 2, 3, 4]\nu = W @ v\nc = sum(u * u)")
    w = gv.nodes[0]
    assert graphview.fmt(w.value) == "min 1, max 1, mean 1"
    assert graphview.fmt(np.arange(12.0).reshape(3, 4)).startswith("[[0, 1, 2, 3], ")
    buf = _text(gv)
    assert "min 1, max 1, mean 1" in buf and "min 20, max 80, mean 50" in buf
    assert "shapes W[4,4] → u[4]" in buf


def _text(gv):
    from gradcli.render import Printer

    out = Printer(collect=True)
    graphrender.text(gv, out)
    return out.text()


# ---------------------------------------------------------------- DOT and Mermaid

# odd.grad: a literal, a Unicode name, a node named `end`, a tensor literal of nodes,
# softmax, index with a constant, sum over an axis, two outputs.


@NEEDS_DOT
@pytest.mark.parametrize("file", ["lecture_sin.grad", "matrix.grad", "odd.grad"])
def test_dot_is_accepted_by_graphviz(file, tmp_path):
    src = run(file, "--format", "dot", "--mode", "forward").output
    done = subprocess.run(["dot", "-Tsvg"], input=src.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0, done.stderr.decode()
    assert done.stdout.lstrip().startswith(b"<?xml") and b"</svg>" in done.stdout
    assert not done.stderr, done.stderr.decode()   # no warnings either


MM_NODE = re.compile(r'^  ([A-Za-z][A-Za-z0-9_]*)(\["[^"]*"\]|\(\("[^"]*"\)\))$')
MM_EDGE = re.compile(r'^  ([A-Za-z][A-Za-z0-9_]*) (-->|-\.->)(\|"[^"]*"\|)? ([A-Za-z][A-Za-z0-9_]*)$')
MM_CLASS = re.compile(r"^  class ([A-Za-z0-9_,]+) (\w+)$")
MM_CLASSDEF = re.compile(r"^  classDef (\w+) [\w#:,\-.]+$")


def check_mermaid(text: str) -> None:
    """The rules our Mermaid output keeps, so GitHub renders it.

    * the diagram starts `flowchart LR` (after `%%` comments);
    * node ids are ASCII identifiers, never `end` in any case (Mermaid's reserved
      word), and do not start with `o` or `x` (which `---o`/`---x` would read as
      edge heads): ours are v_NAME, f_NAME, nN, fN;
    * every label is quoted, and holds no raw `"` (quotes become #quot;);
    * each edge joins two ids that were declared, with `-->`, or `-.->` unlabelled;
    * class lines name declared ids and classDef'd classes.
    """
    lines = text.rstrip("\n").split("\n")
    body = [ln for ln in lines if not ln.startswith("%%")]
    assert body[0] == "flowchart LR"
    declared, classes = set(), set()
    for ln in body[1:]:
        if m := MM_NODE.match(ln):
            declared.add(m.group(1))
        elif m := MM_EDGE.match(ln):
            assert m.group(1) in declared and m.group(4) in declared, ln
            assert m.group(2) == "-->" or m.group(3) is None
        elif m := MM_CLASSDEF.match(ln):
            classes.add(m.group(1))
        elif m := MM_CLASS.match(ln):
            assert m.group(2) in classes
            assert set(m.group(1).split(",")) <= declared, ln
        else:
            raise AssertionError(f"not a line our Mermaid rules allow: {ln!r}")
    for ident in declared:
        assert ident.lower() != "end" and ident[0] not in "oxOX", ident


@pytest.mark.parametrize("file", ["lecture_sin.grad", "matrix.grad", "odd.grad"])
def test_mermaid_rules(file):
    text = run(file, "--format", "mermaid", "--mode", "forward").output
    check_mermaid(text)


def test_mermaid_escapes_and_reserved_names():
    _, gv = view_of('input x = 1\nend = x * 2\nd(end)/d(x) = 3')
    text = graphrender.mermaid(gv)
    check_mermaid(text)
    assert "v_end[" in text and "\n  end" not in text
    assert "#quot;" not in text and "✗ engine: 2" in text
    assert graphrender._mm('a "b" <c> | #') == '"a #quot;b#quot; #lt;c#gt; #124; #35;"'


def test_one_walk_three_views_agree():
    """Listing, DOT and Mermaid come from the same GraphView: same names, same edges."""
    for file in ["lecture_sin.grad", "matrix.grad", "odd.grad"]:
        program = build(Source(file, (GOLDEN / file).read_text()))
        gv = graphview.view(program, bind(program))
        dot, mm, txt = graphrender.dot(gv), graphrender.mermaid(gv), _text(gv)
        for e in gv.edges:
            if e.differentiable:
                label = graphrender.edge_label(gv, e)
                assert label in dot and label in mm, label
                assert graphrender.edge_text(gv, e)[0] in txt
        for n in gv.nodes:
            assert f"  {n.key} [" in dot and f"  {n.key}[" in mm
        # deterministic
        gv2 = graphview.view(program, bind(program))
        assert graphrender.dot(gv2) == dot and graphrender.mermaid(gv2) == mm


# ---------------------------------------------------------------- paths

def test_paths_exponential_are_counted_not_listed():
    k = 40
    lines = ["input x = 0.1", "a0 = x"]
    lines += [f"a{i + 1} = sin(a{i}) + cos(a{i})" for i in range(k)]
    program, gv = view_of("\n".join(lines))
    rep = graphview.paths(program, gv, program.names["x"], limit=50)
    assert rep.count == 2 ** k
    assert len(rep.paths) == 50 and not rep.complete
    grad = engine.jacobian(program, gv.vals, program.outputs[0], [program.names["x"]])
    assert rep.total == pytest.approx(grad[program.names["x"]])
    out = _text_paths(gv, rep)
    assert f"{2 ** k:,}" in out and "the first 50 shown (--limit 50)" in out
    assert f"{2 ** k - 50:,} more paths not shown, so that is not the total" in out


def _text_paths(gv, rep):
    from gradcli.render import Printer

    out = Printer(collect=True)
    graphrender.paths_text(gv, rep, out)
    return out.text()


def test_paths_limit_zero_and_no_path():
    program, gv = view_of("input x = 1\ninput y = 2\nz = x * x\nw = sin(z)")
    rep = graphview.paths(program, gv, program.names["y"], limit=50)
    assert rep.count == 0 and rep.paths == [] and rep.complete and rep.total == 0
    rep = graphview.paths(program, gv, program.names["x"], limit=0)
    assert rep.count == 2 and rep.paths == [] and not rep.complete
    rep = graphview.paths(program, gv, program.names["x"], limit=5)
    assert rep.count == 2 and rep.agrees
    assert [gv.edge_title(gv.edges[p.edges[0]]) for p in rep.paths] == [
        "∂z/∂x (argument 1)", "∂z/∂x (argument 2)"]


UNARY = ["sin", "cos", "tanh", "sigmoid", "square", "neg"]
BINARY = ["+", "-", "*"]


@st.composite
def random_graph(draw, tensor=False):
    """A random program: 1-3 inputs, 1-9 nodes of random ops on earlier nodes."""
    n_in = draw(st.integers(1, 3))
    names = [f"x{i}" for i in range(n_in)]
    lines = []
    for i, nm in enumerate(names):
        if tensor:
            vals = draw(st.lists(st.floats(-1.5, 1.5), min_size=3, max_size=3))
            lines.append(f"input {nm} = [{', '.join(repr(v) for v in vals)}]")
        else:
            lines.append(f"input {nm} = {draw(st.floats(-1.5, 1.5))!r}")
    for j in range(draw(st.integers(1, 9))):
        pick = st.sampled_from(names)
        if draw(st.booleans()):
            f = draw(st.sampled_from(UNARY))
            a = draw(pick)
            expr = f"-{a}" if f == "neg" else f"{f}({a})"
        else:
            expr = f"{draw(pick)} {draw(st.sampled_from(BINARY))} {draw(pick)}"
        lines.append(f"n{j} = {expr}")
        names.append(f"n{j}")
    if tensor:
        lines.append(f"out = sum({names[-1]} * {names[-1]})")
    return "\n".join(lines) + "\n"


def _check_paths_and_tangents(text):
    program = build(Source("h.grad", text))
    point = bind(program)
    gv = graphview.view(program, point, None, list(program.inputs), "forward")
    out = gv.output_id
    jac = engine.jacobian(program, gv.vals, out, list(program.inputs), "reverse")
    for x in program.inputs:
        rep = graphview.paths(program, gv, x, limit=10_000)
        assert rep.complete
        assert np.allclose(rep.total, jac[x], rtol=1e-9, atol=1e-12), text
        assert len(rep.paths) == rep.count
        # forward tangents are the Jacobian's column, at every node
        name = program.nodes[x].name
        for node in program.nodes[: program.n_main]:
            if node.kind != "input" and np.ndim(gv.vals[node.id]) == 0:
                col = engine.jacobian(program, gv.vals, node.id, [x], "reverse")[x]
                t = gv.nodes[node.id].tangents[name]
                if np.ndim(col) == 0:
                    assert np.allclose(t, col, rtol=1e-9, atol=1e-12), text
                else:
                    assert np.allclose(t, np.sum(col), rtol=1e-9, atol=1e-12), text
        assert np.allclose(gv.nodes[out].tangents[name],
                           np.sum(engine.jacobian(program, gv.vals, out, [x], "forward")[x]))


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_sum_over_paths_is_the_gradient_scalar(text):
    _check_paths_and_tangents(text)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph(tensor=True))
def test_sum_over_paths_is_the_gradient_tensor(text):
    _check_paths_and_tangents(text)


@settings(max_examples=30, deadline=None)
@given(random_graph(), st.integers(0, 6))
def test_truncated_paths_count_the_rest(text, limit):
    program = build(Source("h.grad", text))
    gv = graphview.view(program, bind(program))
    x = program.inputs[0]
    full = graphview.paths(program, gv, x, limit=10_000)
    part = graphview.paths(program, gv, x, limit=limit)
    assert part.count == full.count
    assert len(part.paths) == min(limit, full.count)
    assert [p.edges for p in part.paths] == [p.edges for p in full.paths[:limit]]
    assert part.complete == (limit >= full.count)
    assert np.allclose(part.total, full.total, rtol=1e-9, atol=1e-12)


@settings(max_examples=30, deadline=None)
@given(random_graph())
def test_random_graphs_render(text):
    program = build(Source("h.grad", text))
    gv = graphview.view(program, bind(program))
    check_mermaid(graphrender.mermaid(gv))
    dot = graphrender.dot(gv)
    assert dot.startswith('digraph "h.grad" {') and dot.count("{") == dot.count("}")
    json.dumps(graphrender.to_json(gv))


# ---------------------------------------------------------------- command line

def test_cli_bad_inputs_exit_2_without_traceback(tmp_path):
    bad = tmp_path / "bad.grad"
    bad.write_text("input x = 1\ny = x +\n")
    cases = [
        [str(bad)],
        ["nothere.grad"],
        ["lecture_sin.grad", "--at", "zz=1"],
        ["lecture_sin.grad", "--wrt", "q", "--paths"],
        ["lecture_sin.grad", "--of", "nope"],
        ["lecture_sin.grad", "--output", str(tmp_path / "no" / "dir" / "out.txt")],
        ["lecture_sin.grad", "--limit", "-1"],
        ["lecture_sin.grad", "--format", "svg", "matrix.grad"],
    ]
    for args in cases:
        result = run(*args)
        assert result.exit_code == 2, (args, result.output)
        assert "Traceback" not in result.output
    result = run(str(bad))
    assert "bad.grad:2:8: error:" in result.stderr and "^" in result.stderr


def test_cli_nan_is_a_bad_point(tmp_path):
    f = tmp_path / "nan.grad"
    f.write_text("input x = -1\ny = log(x)\n")
    result = run(str(f))
    assert result.exit_code == 2 and "nan.grad:2:5: error:" in result.stderr


def test_cli_wrong_claim_exits_1(tmp_path):
    f = tmp_path / "claim.grad"
    f.write_text("input x = 1\ny = 2*x\nd(y)/d(x) = 3\n")
    result = run(str(f))
    assert result.exit_code == 1
    assert "d(y)/d(x) = 3 ✗ engine: 2" in result.output


def test_cli_output_and_several_files(tmp_path):
    target = tmp_path / "g.txt"
    result = run("lecture_sin.grad", "--output", str(target))
    assert result.exit_code == 0 and result.output == ""
    assert target.read_text(encoding="utf-8") == (GOLDEN / "lecture.txt").read_text(encoding="utf-8")
    result = run("lecture_sin.grad", "matrix.grad", "--format", "json")
    data = json.loads(result.output)
    assert set(data) == {"lecture_sin.grad", "matrix.grad"}
    result = run("lecture_sin.grad", "missing.grad", "--format", "json")
    assert result.exit_code == 2 and json.loads(result.stdout)["lecture_sin.grad"]["output"] == "o"


def test_cli_at_and_of(tmp_path):
    f = tmp_path / "two.grad"
    f.write_text("input x\nu = x * x\nv = sin(x)\noutput u, v\n")
    data = json.loads(run(str(f), "--at", "x=3", "--of", "v", "--format", "json").output)
    nodes = {n["name"]: n for n in data["nodes"]}
    assert data["output"] == "v" and nodes["x"]["adjoint"] == pytest.approx(math.cos(3))
    novalue = run(str(f))
    assert novalue.exit_code == 2 and f"{f}:1:1: error: input 'x' has no value" in novalue.stderr
    assert "--at x=VALUE" in novalue.stderr


def test_svg_needs_graphviz(monkeypatch, tmp_path):
    monkeypatch.setattr(shutil, "which", lambda name: None)
    result = run("lecture_sin.grad", "--format", "svg", "--output", str(tmp_path / "g.svg"))
    assert result.exit_code == 2
    assert "needs Graphviz's `dot` program" in result.stderr and "apt-get install graphviz" in result.stderr
    assert not (tmp_path / "g.svg").exists()


@NEEDS_DOT
def test_svg_and_png(tmp_path):
    result = run("lecture_sin.grad", "--format", "svg", "--output", str(tmp_path / "g.svg"))
    assert result.exit_code == 0, result.output
    svg = (tmp_path / "g.svg").read_text()
    assert "<svg" in svg and "∂w2/∂x = cos(x) = &#45;1" in svg
    result = run("matrix.grad", "--format", "png", "--output", str(tmp_path / "g.png"))
    assert result.exit_code == 0
    assert (tmp_path / "g.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def _proc(*args, cwd=GOLDEN):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "gradcli", "graph", *args], cwd=cwd, env=env,
                          capture_output=True, text=True, encoding="utf-8", timeout=60)


def test_subprocess_text_and_errors():
    done = _proc("lecture_sin.grad", "--paths", "--wrt", "x")
    assert done.returncode == 0, done.stderr
    assert done.stdout == (GOLDEN / "lecture_paths.txt").read_text(encoding="utf-8")
    done = _proc("lecture_sin.grad", "--at", "x=[1,", "--format", "dot")
    assert done.returncode == 2 and "error:" in done.stderr and "Traceback" not in done.stderr
    done = _proc("--help")
    assert done.returncode == 0 and "--paths" in done.stdout and "mermaid" in done.stdout


@NEEDS_DOT
def test_subprocess_svg(tmp_path):
    done = _proc("lecture_sin.grad", "--format", "svg", "-o", str(tmp_path / "g.svg"))
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "g.svg").read_text().rstrip().endswith("</svg>")


def test_cli_import_stays_light():
    """Start-up: registering `graph` loads neither the computation nor the renderers."""
    code = ("import sys, gradcli.graph.command, gradcli.cli; "
            "print(sorted(m for m in ('gradcli.graph.view', 'gradcli.graph.render', 'numpy') "
            "if m in sys.modules))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.stdout.strip() == "[]", done.stdout + done.stderr


@NEEDS_DOT
def test_dot_escapes_record_syntax():
    _, gv = view_of("input x = 1\ny = sin(x)\nd(y)/d(x) = 2")
    gv.nodes[0].name = 'a{b}|<c> "d" \\e'
    gv.claims[0].source = '{"q"}|<r>'
    gv.file = 'dir\\"name".grad'
    src = graphrender.dot(gv)
    assert r'a\{b\}\|\<c\> \"d\" /e' in src
    done = subprocess.run(["dot", "-Tsvg"], input=src.encode(), capture_output=True, timeout=60)
    assert done.returncode == 0 and not done.stderr, done.stderr.decode()
    assert b"a{b}|&lt;c&gt; &quot;d&quot; /e" in done.stdout


# ---------------------------------------------------------------- goldens, checked independently

def _truth_fmt(value) -> str:
    """How `graph` prints a number by default (exactly: the shortest text that reads back as the
    same float, a whole number without '.0', -0 as 0) or a small tensor (nested lists of those)."""
    a = np.asarray(value, dtype=float)

    def num(v):
        v = float(v)
        return str(int(v)) if v == int(v) and abs(v) < 1e16 else repr(v)

    def nested(x):
        return num(x) if x.ndim == 0 else "[" + ", ".join(nested(r) for r in x) + "]"

    return nested(a)


def _truths(grad_file: str):
    """Every node's value and adjoint, every elementwise edge's partial and every claim's
    engine value, computed by tests/reference.py (no engine code), keyed like the golden JSON."""
    text = (GOLDEN / grad_file).read_text(encoding="utf-8")
    data = json.loads(run(grad_file, "--format", "json").output)
    ref = reference.Reference(text)
    out = data["output"]
    env, values, adjoints = {}, {}, {}
    for n in data["nodes"]:
        name = n["name"]
        if n["kind"] == "input" or not name.startswith("_"):
            env[name] = np.asarray(ref.value(name), dtype=float)
            if n["kind"] != "const":
                adjoints[name] = reference.derivative(text, name, output=out)
        else:                       # a generated sub-expression: evaluate its printed definition
            env[name] = np.asarray(ref.text_value(n["expr"], env), dtype=float)
        values[name] = env[name]
    partials = {}
    nodes = {n["name"]: n for n in data["nodes"]}
    for e in data["edges"]:
        if e["value"] is None or nodes[e["to"]]["args"].count(e["from"]) > 1:
            continue
        h = 1e-6
        moved = [ref.text_value(nodes[e["to"]]["expr"], {**env, e["from"]: env[e["from"]] + s * h})
                 for s in (1, -1)]
        partials[(e["from"], e["to"])] = (np.asarray(moved[0]) - np.asarray(moved[1])) / (2 * h)
    return text, data, values, adjoints, partials


@pytest.mark.parametrize("grad_file, golden", [("lecture_sin.grad", "lecture.json"),
                                               ("matrix.grad", "matrix.json")])
def test_golden_json_numbers_match_an_independent_reference(grad_file, golden):
    """Regenerating a golden cannot by itself make a test pass: its numbers are asserted here
    from the reference evaluator and finite differences over it."""
    text, _, values, adjoints, partials = _truths(grad_file)
    data = json.loads((GOLDEN / golden).read_text(encoding="utf-8"))
    for n in data["nodes"]:
        np.testing.assert_allclose(n["value"], values[n["name"]], rtol=1e-12, atol=1e-15, err_msg=n["name"])
        if n["name"] in adjoints:
            np.testing.assert_allclose(n["adjoint"], adjoints[n["name"]], rtol=1e-6, atol=1e-8,
                                       err_msg=f"adjoint of {n['name']}")
    seen = 0
    for e in data["edges"]:
        if (e["from"], e["to"]) in partials:
            want = partials[(e["from"], e["to"])]
            np.testing.assert_allclose(np.broadcast_to(e["value"], np.shape(want)), want, rtol=1e-6,
                                       atol=1e-8, err_msg=f"{e['from']} -> {e['to']}")
            seen += 1
    assert seen == len(partials) > 0
    ref = reference.Reference(text)
    for c in data["claims"]:
        np.testing.assert_allclose(c["given"], ref.claims()[c["claim"]], rtol=1e-12, atol=1e-15)
        if c["kind"] == "total":
            u, v = c["claim"][2:-1].split(")/d(")
            truth = reference.derivative(text, v, output=u)
        else:
            u, v = c["claim"][8:-1].split(", ")
            truth = partials[(v, u)]
        np.testing.assert_allclose(np.broadcast_to(c["engine"], np.shape(truth)), truth, rtol=1e-6, atol=1e-8)
    if "paths" in data:
        for x, rep in data["paths"].items():
            np.testing.assert_allclose(rep["total"], adjoints[x], rtol=1e-6, atol=1e-8)
            np.testing.assert_allclose(sum(np.asarray(p["value"]) for p in rep["paths"]), adjoints[x],
                                       rtol=1e-6, atol=1e-8)


@pytest.mark.parametrize("grad_file, golden", [("lecture_sin.grad", "lecture.txt"),
                                               ("matrix.grad", "matrix.txt")])
def test_golden_listings_show_the_reference_numbers(grad_file, golden):
    """Each node's row of a text golden shows the reference's value and adjoint."""
    _, data, values, adjoints, _ = _truths(grad_file)
    rows = {}
    for line in (GOLDEN / golden).read_text(encoding="utf-8").splitlines():
        head = line.split("  ")[0].replace(" (output)", "")
        rows.setdefault(head, line)
    for n in data["nodes"]:
        if n["kind"] == "const":
            continue
        line = rows[n["name"]]
        assert _truth_fmt(values[n["name"]]) in line, (n["name"], line)
        if n["name"] in adjoints:
            # the reference's adjoint comes from finite differences, good to about 1e-8: the
            # line must show the engine's adjoint, and that must be the reference's to that precision
            np.testing.assert_allclose(n["adjoint"], adjoints[n["name"]], rtol=1e-6, atol=1e-8)
            assert _truth_fmt(n["adjoint"]) in line, (n["name"], line)
