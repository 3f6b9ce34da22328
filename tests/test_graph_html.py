"""`gradcli graph --format html`: the sweeps' numbers, the page, and the page in a real browser.

The browser tests drive Debian's Chromium through its chromedriver with selenium (one
browser for the whole module); they skip, saying why, where Chromium, its driver or
selenium is not installed (`.ci/run` installs them as it installs Graphviz).
"""

from __future__ import annotations

import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings

from gradcli.autodiff import engine
from gradcli.cli import main
from gradcli.errors import Source
from gradcli.graph import html as graphhtml
from gradcli.graph import layout as graphlayout
from gradcli.graph import sweep as graphsweep
from gradcli.graph import view as graphview
from gradcli.language.program import bind, build

from conftest import EXAMPLES, central_difference
from test_graph import random_graph

HAS_DOT = shutil.which("dot") is not None


def shown_num(v: float) -> str:
    """A number as gradcli prints it by default: exactly (repr), a whole number without '.0'."""
    return str(int(v)) if v == int(v) else repr(float(v))


def gv_of(text: str, name: str = "t.grad", wrt=None):
    program = build(Source(name, text))
    point = bind(program)
    gv = graphview.view(program, point)
    ids = list(program.inputs) if wrt is None else [program.names[w] for w in wrt]
    gv.sweeps = graphsweep.sweeps(program, gv, ids, picked=wrt is not None)
    return program, gv


def example_gv(name: str, **kw):
    return graphview.run(str(EXAMPLES / name), with_sweeps=True, **kw)


def write_page(tmp: Path, name: str, layout: str = "auto", **kw) -> Path:
    page = tmp / (Path(name).stem + f"-{layout}.html")
    page.write_text(graphhtml.page(example_gv(name, **kw), layout), encoding="utf-8")
    return page


# ---------------------------------------------------------------- the sweeps' numbers

def _check_sweeps(program, gv):
    sw = gv.sweeps
    vals = gv.vals
    out = gv.output_id
    seed = np.ones_like(np.asarray(vals[out], float))
    adj = engine.backward(program, vals, out, seed=seed[()] if seed.ndim == 0 else seed)
    final = {}
    order = []
    for s in sw.reverse:
        if s.via is not None:
            # a node passes its adjoint back only once it is complete
            assert all(t.node != s.via for t in sw.reverse[len(order):]), "adjoint used before complete"
            assert final[s.via] is not None
        final[s.node] = s.total
        order.append(s)
    for i, total in final.items():
        expect = adj[i] if adj[i] is not None else 0.0
        assert np.allclose(total, expect, rtol=1e-9, atol=1e-12), (program.nodes[i].name, total, expect)
    counts = {}
    for s in sw.reverse[1:]:
        counts[s.node] = counts.get(s.node, 0) + 1
        assert s.k == counts[s.node] and s.k <= s.uses
    for s in sw.reverse[1:]:
        assert counts[s.node] == s.uses
    for x, steps in sw.tangent.items():
        t0 = np.ones_like(np.asarray(vals[x], float))
        tan = engine.tangents(program, vals, {x: t0[()] if t0.ndim == 0 else t0})
        for s in steps:
            want = tan[s.node]
            got = 0.0 if s.total is None else s.total
            assert np.allclose(got, 0.0 if want is None else want, rtol=1e-9, atol=1e-12)
            if s.terms and all(t is not None for t in s.terms):
                assert np.allclose(sum(s.terms), got, rtol=1e-12, atol=1e-15)


@pytest.mark.parametrize("name", sorted(p.name for p in EXAMPLES.glob("*.grad")))
def test_sweeps_agree_with_the_engine_and_finite_differences(name):
    program = build(Source(name, (EXAMPLES / name).read_text()))
    point = bind(program)
    gv = graphview.view(program, point)
    gv.sweeps = graphsweep.sweeps(program, gv, list(program.inputs))
    _check_sweeps(program, gv)
    # the last word of each sweep on an input is d(out)/d(input), which finite differences check
    out = gv.output_id
    last = {s.node: s.total for s in gv.sweeps.reverse}
    for x in program.inputs:
        if not any(e.src == x and e.differentiable for e in gv.edges):
            continue        # an integer index, held fixed
        fd = central_difference(program, point, x, output=out)
        fd = np.sum(fd, axis=tuple(range(np.ndim(gv.vals[out])))) if np.ndim(gv.vals[out]) else fd
        if x in last:
            assert np.allclose(last[x], fd, rtol=1e-5, atol=1e-6), (name, program.nodes[x].name)
        tangent = gv.sweeps.tangent[x]
        at_out = [s for s in tangent if s.node == out][0].total
        jac_cols = central_difference(program, point, x, output=out)
        want = np.sum(jac_cols, axis=tuple(range(np.ndim(gv.vals[out]), np.ndim(jac_cols))))
        assert np.allclose(0.0 if at_out is None else at_out, want, rtol=1e-5, atol=1e-6)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph())
def test_random_graphs_sweeps_and_pages_scalar(text):
    program, gv = gv_of(text)
    _check_sweeps(program, gv)
    page = graphhtml.page(gv, "layered")
    assert page.count("<li data-n=") == (len(gv.sweeps.forward) + len(gv.sweeps.reverse)
                                         + sum(len(s) for s in gv.sweeps.tangent.values()))


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(random_graph(tensor=True))
def test_random_graphs_sweeps_and_pages_tensor(text):
    program, gv = gv_of(text)
    _check_sweeps(program, gv)
    graphhtml.page(gv, "layered")


def test_lecture_reverse_sweep_order_and_sums():
    """Every number of the lecture's reverse sweep, from the notes: d(o)/d(x) = -2π."""
    gv = example_gv("lecture_sin.grad")
    names = [n.name for n in gv.nodes]
    steps = [(names[s.node], None if s.via is None else names[s.via]) for s in gv.sweeps.reverse]
    assert steps == [("o", None), ("w1", "o"), ("w2", "o"), ("x", "w1"), ("y", "w1"), ("x", "w2")]
    last = gv.sweeps.reverse[-1]
    assert last.total == pytest.approx(-2 * math.pi)
    assert last.parts[:last.k] == pytest.approx([math.sin(math.pi), -2 * math.pi])


def test_two_paths_arrive_in_file_order():
    """e = (a + b)(b + 1): d(e)/d(b) = 2 + 3 = 5, through c = a + b first, then d = b + 1."""
    gv = example_gv("e_two_paths.grad")
    b = [s for s in gv.sweeps.reverse if gv.nodes[s.node].name == "b"]
    assert [gv.nodes[s.via].name for s in b] == ["c", "d"]
    assert b[-1].parts == [2.0, 3.0] and b[-1].total == 5.0 and b[-1].uses == 2
    fwd = gv.sweeps.tangent[gv.nodes[[n.name for n in gv.nodes].index("b")].id]
    e = [s for s in fwd if gv.nodes[s.node].name == "e"][0]
    assert e.terms == [2.0, 3.0] and e.total == 5.0


def test_forward_mode_inputs_are_capped_unless_picked():
    lines = [f"input x{i} = {i}" for i in range(graphsweep.MAX_TANGENT_INPUTS + 3)]
    lines.append("o = " + " + ".join(f"x{i}" for i in range(graphsweep.MAX_TANGENT_INPUTS + 3)))
    text = "\n".join(lines) + "\n"
    _, gv = gv_of(text)
    assert len(gv.sweeps.tangent) == graphsweep.MAX_TANGENT_INPUTS and len(gv.sweeps.skipped) == 3
    assert "choose with <code>--wrt</code>" in graphhtml.page(gv, "layered")
    _, gv = gv_of(text, wrt=["x14", "x13"])
    assert [gv.nodes[x].name for x in gv.sweeps.tangent] == ["x14", "x13"] and not gv.sweeps.skipped


# ---------------------------------------------------------------- the page as a file

def test_page_is_self_contained_and_escapes_the_file(tmp_path):
    text = ("# </script><script>alert(1)</script> <b>bold</b> & more\n"
            "input x = 1\ny = sin(x) # \"quoted\" 'single'\nd(y)/d(x) = cos(x)\n")
    _, gv = gv_of(text, name='we<ird>&"name.grad')
    page = graphhtml.page(gv, "layered")
    assert page.startswith("<!DOCTYPE html>") and page.rstrip().endswith("</html>")
    assert "alert(1)</script>" not in page and "<b>bold" not in page
    assert "&lt;/script&gt;&lt;script&gt;alert(1)" in page and "we&lt;ird&gt;&amp;&quot;name.grad" in page
    # nothing is fetched: no external URL but the SVG namespace, no src/link/import
    urls = set(re.findall(r"https?://[^\s\"'<>)]+", page))
    assert urls <= {"http://www.w3.org/2000/svg"}, urls
    assert not re.search(r"<(script|img|iframe)[^>]*\ssrc=|<link\b|@import|url\((?!#)", page)
    assert page.count("<script>") == 1 and page.count("<style>") == 1


def test_every_node_shows_name_op_value_and_every_edge_its_partial():
    gv = example_gv("lecture_sin.grad")
    page = graphhtml.page(gv, "layered")
    for n in gv.nodes:
        box = re.search(rf'<g class="gc-node[^"]*" id="gc-n{n.id}".*?</g>', page, re.S).group(0)
        assert f">{n.name}" in box and shown_num(float(n.value)) in box
        if n.kind == "op":
            assert n.expr in box
    for k, e in enumerate(gv.edges):
        label = re.search(rf'<g class="gc-edge[^"]*" id="gc-e{k}">.*?</g>', page, re.S).group(0)
        assert gv.edge_title(e) in label and shown_num(float(e.value)) in label
    assert "∂w2/∂x = cos(x) = -1" in page
    assert page.count("d(o)/d(x) = (x + y)*cos(x) + sin(x) = -6.283185307179586 ✓") == 2  # box and claims list


def test_tensors_are_abbreviated_with_the_full_value_on_hover():
    gv = example_gv("matrix_cost.grad")
    page = graphhtml.page(gv, "layered")
    assert "[2,3]{1, 1, -1, 0, …}" in page                      # x, abbreviated
    x = re.search(r'<g class="gc-node[^"]*" id="gc-n0".*?<title>(.*?)</title>', page, re.S).group(1)
    assert "shape [2,3]" in x and "[[1,  1, -1]," in x and "[0, -1,  1]]" in x     # aligned by column
    # a step's tensor carries its full value in a title
    assert re.search(r'class="gc-t" tabindex="0" title="shape \[2,2\]\n\[\[ 10, -14\],\n \[-20,  28\]\]"', page)
    big = graphhtml.full(np.arange(5000.0))
    assert big == "shape [5000] (5,000 entries: the first and last of each axis)\n[0, 1, 2, …, 4997, 4998, 4999]"


def test_cli_html(tmp_path):
    runner = CliRunner()
    page = tmp_path / "page.html"
    r = runner.invoke(main, ["graph", str(EXAMPLES / "lecture_sin.grad"), "--format", "html", "-o", str(page)])
    assert r.exit_code == 0, r.output
    assert "d(o)/d(x) += d(o)/d(w2) · ∂w2/∂x = 6.283185307179586 · (-1) = -6.283185307179586" in page.read_text()
    r = runner.invoke(main, ["graph", str(EXAMPLES / "wrong_claim.grad"), "--format", "html"])
    assert r.exit_code == 1 and "✗ engine: -36" in r.output and "WRONG" in r.output
    r = runner.invoke(main, ["graph", str(EXAMPLES / "lecture_sin.grad"), str(EXAMPLES / "e_two_paths.grad"),
                             "--format", "html"])
    assert r.exit_code == 2 and "one file at a time" in r.output
    r = runner.invoke(main, ["graph", str(EXAMPLES / "lecture_sin.grad"), "--format", "html",
                             "--mode", "forward", "--wrt", "y"])
    assert r.exit_code == 0
    assert '<option value="tangent-1" selected>forward mode: d(node)/d(y)</option>' in r.output
    assert 'id="gc-steps-tangent-0"' not in r.output         # --wrt picks the inputs swept
    bad = tmp_path / "bad.grad"
    bad.write_text("input x = 1\ny = sin(x\n")
    r = runner.invoke(main, ["graph", str(bad), "--format", "html", "-o", str(tmp_path / "b.html")])
    assert r.exit_code == 2 and "bad.grad:2:" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "b.html").exists()


def test_layouts_dot_and_layered_and_fallback(monkeypatch):
    gv = example_gv("e_two_paths.grad")
    layered = graphhtml.page(gv, "layered")
    assert "layout: gradcli layered" in layered
    if HAS_DOT:
        dot = graphhtml.page(gv, "dot")
        assert "layout: Graphviz dot" in dot
        assert "layout: Graphviz dot" in graphhtml.page(gv)
        ids = lambda p: sorted(re.findall(r'id="gc-[ne]\d+"', p))   # noqa: E731
        assert ids(dot) == ids(layered)
    with monkeypatch.context() as m:     # no Graphviz
        m.setattr(graphlayout.shutil, "which", lambda name: None)
        assert "layout: gradcli layered" in graphhtml.page(gv)
    with monkeypatch.context() as m:     # too big for it
        m.setattr(graphlayout, "DOT_MAX_NODES", 2)
        assert "layout: gradcli layered" in graphhtml.page(gv)
    if HAS_DOT:                          # too slow, or failing: the layered layout, unless dot was asked for
        from gradcli.errors import GradError
        from gradcli.graph import render as graphrender

        def slow(*args, **kw):
            raise GradError("Graphviz's dot failed: timed out")
        monkeypatch.setattr(graphrender, "graphviz", slow)
        assert "layout: gradcli layered" in graphhtml.page(gv)
        with pytest.raises(GradError, match="timed out"):
            graphhtml.page(gv, "dot")


def test_layered_layout_keeps_boxes_apart():
    boxes = {i: (60 + 10 * (i % 3), 30) for i in range(12)}
    edges = [(k, k, k + 1) for k in range(11)] + [(20 + k, 0, k + 2) for k in range(0, 10, 3)]
    geo = graphlayout.layered(boxes, edges, {k: (40, 13) for k, _, _ in edges})
    rects = [(x, y, x + boxes[i][0], y + boxes[i][1]) for i, (x, y) in geo.nodes.items()]
    for a in range(len(rects)):
        for b in range(a + 1, len(rects)):
            ra, rb = rects[a], rects[b]
            assert ra[2] <= rb[0] or rb[2] <= ra[0] or ra[3] <= rb[1] or rb[3] <= ra[1]
    for k, s, d in edges:   # each edge runs left to right, from its source to its target
        assert geo.nodes[s][0] < geo.nodes[d][0] and geo.paths[k].startswith("M")


# ---------------------------------------------------------------- 2,000 nodes

def rnn_file(path: Path, steps: int = 500) -> Path:
    """An unrolled recurrence: 4 nodes a line, so 2,001 nodes for 500 steps."""
    lines = ["input x = 0.5", "input w = 0.9", "input u = 0.3", "h0 = tanh(w * x)"]
    lines += [f"h{i} = tanh(w * h{i - 1} + u * x)" for i in range(1, steps)]
    path.write_text("\n".join(lines) + "\n")
    return path


def test_a_2000_node_page_is_written_quickly(tmp_path):
    """The issue's bound is 2 s (measured in bench/bench_html.py); here a generous one."""
    src = rnn_file(tmp_path / "rnn.grad")
    page = tmp_path / "rnn.html"
    t = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", "gradcli", "graph", str(src), "--format", "html",
                           "-o", str(page)], capture_output=True, text=True, timeout=120)
    took = time.perf_counter() - t
    print(f"\n2,001-node page written in {took:.2f} s ({page.stat().st_size / 1e6:.1f} MB), "
          "including Python's start-up")
    assert done.returncode == 0, done.stderr
    assert took < 30
    assert "layout: gradcli layered" in page.read_text()


# ---------------------------------------------------------------- in a browser

CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--disable-dev-shm-usage", "--window-size=1280,1000"]


def _browser_or_skip():
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    chrome = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
    driver = shutil.which("chromedriver")
    if chrome is None or driver is None:
        pytest.skip("Chromium or its driver is not installed (apt-get install chromium chromium-driver)")
    options = webdriver.ChromeOptions()
    options.binary_location = chrome
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="gradcli-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    browser = webdriver.Chrome(options=options, service=Service(driver))
    browser.set_page_load_timeout(120)
    browser.set_script_timeout(60)
    return browser, profile


@pytest.fixture(scope="module")
def browser():
    b, profile = _browser_or_skip()
    yield b
    b.quit()
    shutil.rmtree(profile, ignore_errors=True)


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    return tmp_path_factory.mktemp("pages")


STATE = """
var cur = document.querySelector('.gc-node.gc-current');
var li = document.querySelector('.gc-steps:not([hidden]) li.gc-current');
var sweep = {};
document.querySelectorAll('.gc-node').forEach(function (g) {
  sweep[g.getAttribute('data-name')] = g.querySelector('.gc-sw').textContent; });
return {
  current: cur ? cur.getAttribute('data-name') : null,
  via: Array.from(document.querySelectorAll('.gc-node.gc-via')).map(function (g) { return g.getAttribute('data-name'); }),
  edges: Array.from(document.querySelectorAll('.gc-edge.gc-hi text tspan:first-child')).map(function (t) { return t.textContent; }),
  main: document.querySelector('#gc-now .gc-main').textContent,
  now: document.getElementById('gc-now').textContent,
  where: document.getElementById('gc-where').textContent,
  count: document.getElementById('gc-count').textContent,
  lines: Array.from(document.querySelectorAll('#gc-src li.gc-current')).map(function (l) { return l.id; }),
  listed: li ? li.querySelector('.gc-main').textContent : null,
  sweep: sweep,
  playing: document.getElementById('gc-play').getAttribute('aria-pressed')
};
"""


def state(browser):
    return browser.execute_script(STATE)


def press(browser, button: str, times: int = 1):
    from selenium.webdriver.common.by import By

    for _ in range(times):
        browser.find_element(By.ID, f"gc-{button}").click()
    return state(browser)


def choose(browser, label_start: str):
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import Select

    select = Select(browser.find_element(By.ID, "gc-mode"))
    select.select_by_visible_text(next(o.text for o in select.options if o.text.startswith(label_start)))
    return state(browser)


def keys(browser, *ks):
    from selenium.webdriver.common.action_chains import ActionChains

    ActionChains(browser).send_keys(*ks).perform()
    return state(browser)


def open_page(browser, page: Path):
    browser.get(page.as_uri())
    errors = [e for e in browser.get_log("browser") if e.get("level") == "SEVERE"]
    assert not errors, errors
    return state(browser)


S = math.sin(math.pi)       # 1.2246467991473532e-16 in float64, as the lecture notes say
TWO_PI = 2 * math.pi
LECTURE_REVERSE = [
    ("o", [], "d(o)/d(o) = 1", "line 8: o = w1 * w2"),
    ("w1", ["o"], f"d(o)/d(w1) += d(o)/d(o) · ∂o/∂w1 = 1 · {shown_num(S)} = {shown_num(S)}", "line 8"),
    ("w2", ["o"], f"d(o)/d(w2) += d(o)/d(o) · ∂o/∂w2 = 1 · {shown_num(TWO_PI)} = {shown_num(TWO_PI)}", "line 8"),
    ("x", ["w1"], f"d(o)/d(x) += d(o)/d(w1) · ∂w1/∂x = {shown_num(S)} · 1 = {shown_num(S)}", "line 6: w1 = x + y"),
    ("y", ["w1"], f"d(o)/d(y) += d(o)/d(w1) · ∂w1/∂y = {shown_num(S)} · 1 = {shown_num(S)}", "line 6"),
    ("x", ["w2"], f"d(o)/d(x) += d(o)/d(w2) · ∂w2/∂x = {shown_num(TWO_PI)} · (-1) = {shown_num(-TWO_PI)}",
     "line 7: w2 = sin(x)"),
]


@pytest.mark.parametrize("layout", ["dot", "layered"])
def test_browser_lecture_reverse_sweep_step_by_step(browser, pages, layout):
    if layout == "dot" and not HAS_DOT:
        pytest.skip("Graphviz's `dot` is not installed (apt-get install graphviz)")
    st0 = open_page(browser, write_page(pages, "lecture_sin.grad", layout))
    assert st0["count"] == "step 0 of 6" and st0["current"] is None
    assert st0["sweep"]["x"] == "d(o)/d(x) = 0" and "Press Step" in st0["main"]
    for k, (node, via, text, where) in enumerate(LECTURE_REVERSE, 1):
        st = press(browser, "step")
        assert st["count"] == f"step {k} of 6"
        assert (st["current"], st["via"], st["main"]) == (node, via, text), k
        assert st["listed"] == text                      # the same text, in the list of all steps
        assert st["where"].startswith(where)
        line = int(where.split()[1].rstrip(":"))
        assert f"gc-L{line}" in st["lines"]
        if via:
            assert st["edges"] and st["edges"][0].startswith(f"∂{via[0]}/∂{node}")
    # the end of the sweep: d(o)/d(x) = -2π, the sum of the two paths through w1 and w2
    assert f"d(o)/d(x) = {shown_num(S)} + (-{shown_num(TWO_PI)}) = {shown_num(-TWO_PI)}" in st["now"]
    assert "2 of 2 (complete)" in st["now"]
    assert float(st["sweep"]["x"].split("= ")[1]) == pytest.approx(-TWO_PI, rel=1e-7)
    assert st["sweep"]["y"] == f"d(o)/d(y) = {shown_num(S)}" and st["sweep"]["o"] == "d(o)/d(o) = 1"
    # at the end, Step does nothing; Back undoes the last step, node text included
    assert press(browser, "step")["count"] == "step 6 of 6"
    st = press(browser, "back")
    assert st["current"] == "y" and st["sweep"]["x"] == f"d(o)/d(x) = {shown_num(S)}"
    st = press(browser, "reset")
    assert st["count"] == "step 0 of 6" and st["current"] is None and st["sweep"]["x"] == "d(o)/d(x) = 0"


def test_browser_two_paths_sum(browser, pages):
    open_page(browser, write_page(pages, "e_two_paths.grad"))
    st = press(browser, "step", 5)
    assert st["current"] == "b" and st["via"] == ["c"]
    assert st["main"] == "d(e)/d(b) += d(e)/d(c) · ∂c/∂b = 2 · 1 = 2" and "1 of 2 (so far)" in st["now"]
    assert st["sweep"]["b"] == "d(e)/d(b) = 2"
    st = press(browser, "step")
    assert st["current"] == "b" and st["via"] == ["d"]
    assert st["main"] == "d(e)/d(b) += d(e)/d(d) · ∂d/∂b = 3 · 1 = 3"
    assert "d(e)/d(b) = 2 + 3 = 5" in st["now"] and "2 of 2 (complete)" in st["now"]
    assert st["sweep"]["b"] == "d(e)/d(b) = 5" and st["count"] == "step 6 of 6"
    # forward mode w.r.t. b: the same sum, as the tangent of e
    st = choose(browser, "forward mode: d(node)/d(b)")
    assert st["count"] == "step 0 of 5" and st["sweep"]["e"] == "d(e)/d(b) = ?"
    st = press(browser, "step", 5)
    assert st["current"] == "e" and sorted(st["via"]) == ["c", "d"]
    assert st["main"] == "d(e)/d(b) = ∂e/∂c · d(c)/d(b) + ∂e/∂d · d(d)/d(b) = 2 · 1 + 3 · 1 = 2 + 3 = 5"
    assert st["sweep"]["e"] == "d(e)/d(b) = 5" and st["sweep"]["a"] == "d(a)/d(b) = 0"
    assert sorted(st["edges"]) == ["∂e/∂c = d = 2", "∂e/∂d = c = 3"]


def test_browser_forward_sweep_and_keyboard(browser, pages):
    from selenium.webdriver.common.keys import Keys

    open_page(browser, write_page(pages, "lecture_sin.grad", "layered"))
    st = choose(browser, "forward sweep")
    assert st["count"] == "step 0 of 5"
    browser.execute_script("document.activeElement.blur()")
    st = keys(browser, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT, Keys.ARROW_RIGHT)
    assert st["current"] == "w1" and sorted(st["via"]) == ["x", "y"]
    assert st["main"] == f"w1 = x + y = {shown_num(math.pi)} + {shown_num(math.pi)} = {shown_num(TWO_PI)}"
    assert st["where"] == "line 6: w1 = x + y"
    st = keys(browser, Keys.ARROW_LEFT)
    assert st["current"] == "y" and st["main"] == f"y = {shown_num(math.pi)}"
    st = keys(browser, Keys.END)
    assert st["current"] == "o" and st["main"] == f"o = w1 * w2 = {shown_num(TWO_PI)} * {shown_num(S)} = {shown_num(TWO_PI * S)}"
    st = keys(browser, Keys.HOME)
    assert st["count"] == "step 0 of 5"
    # space plays (one step every 0.7 s) and pauses
    st = keys(browser, Keys.SPACE)
    assert st["playing"] == "true"
    deadline = time.time() + 10
    while state(browser)["count"] == "step 0 of 5" and time.time() < deadline:
        time.sleep(0.1)
    st = keys(browser, Keys.SPACE)
    assert st["playing"] == "false" and st["count"] != "step 0 of 5"
    frozen = st["count"]
    time.sleep(1.0)
    assert state(browser)["count"] == frozen
    # the Play button, then space on the focused button: paused once, not twice
    st = press(browser, "play")
    assert st["playing"] == "true"
    st = keys(browser, Keys.SPACE)
    assert st["playing"] == "false"


def test_browser_claims_tensors_and_hover(browser, pages):
    open_page(browser, write_page(pages, "wrong_claim.grad"))
    bad = browser.execute_script(
        "return Array.from(document.querySelectorAll('.gc-node.gc-bad .gc-bad')).map(t => t.textContent)")
    assert bad and all("✗ engine:" in t for t in bad)
    assert browser.execute_script("return document.querySelector('.gc-claims .gc-bad').textContent").endswith("WRONG")
    open_page(browser, write_page(pages, "matrix_cost.grad"))
    st = press(browser, "step", 9)
    assert st["current"] == "x" and st["main"].startswith("d(cost)/d(x) += d(cost)/d(a) · ∂a/∂x = [2,3]{4, -10, 4, 16, …}")
    assert st["sweep"]["x"] == "d(cost)/d(x) = [2,3]{4, -10, 4, 16, …}"
    tip = browser.execute_script("return document.querySelector('#gc-now .gc-t').getAttribute('title')")
    assert tip == "shape [2,3]\n[[ 4, -10,  4],\n [16, -40, 16]]"     # the lecture's d/dx, in full


def test_browser_accessibility_axe(browser, pages):
    """axe-core (the selenium-axe-python package ships it) finds no violation: labels,
    names, contrast, landmarks, ARIA — before and during a sweep, on a tensor page too."""
    try:
        from selenium_axe_python import Axe
    except ImportError:
        pytest.skip("selenium-axe-python is not installed (pip install -e '.[test]')")
    for name, steps in [("lecture_sin.grad", 6), ("matrix_cost.grad", 4), ("wrong_claim.grad", 0)]:
        open_page(browser, write_page(pages, name))
        press(browser, "step", steps)
        axe = Axe(browser)
        axe.inject()
        result = axe.run()
        assert result["passes"], "axe ran no check"
        assert not result["violations"], axe.report(result["violations"])
        assert any(p["id"] == "color-contrast" for p in result["passes"])


def test_browser_2000_nodes_step_latency(browser, pages):
    """Each step costs the same on a big graph: log the time the step text takes to update."""
    src = rnn_file(pages / "rnn.grad")
    page = pages / "rnn.html"
    t = time.perf_counter()
    page.write_text(graphhtml.page(graphview.run(str(src), with_sweeps=True)), encoding="utf-8")
    written = time.perf_counter() - t
    t = time.perf_counter()
    open_page(browser, page)
    loaded = time.perf_counter() - t
    measure = """
    var done = arguments[arguments.length - 1];
    var button = document.getElementById('gc-' + arguments[0]), now = document.getElementById('gc-now');
    var t0 = performance.now();
    button.click();
    var text = now.textContent;
    document.body.offsetHeight;
    var t1 = performance.now();
    requestAnimationFrame(function () { requestAnimationFrame(function () {
      done([t1 - t0, performance.now() - t0, text]); }); });
    """
    sync, painted, texts = [], [], []
    for button in ["step"] * 30 + ["back"] * 10:
        a, b, text = browser.execute_async_script(measure, button)
        sync.append(a)
        painted.append(b)
        texts.append(text)
    assert len(set(texts)) > 20 and texts[0].startswith("d(h499)/d(h499) = 1")
    print(f"\n2,001 nodes: page written in {written:.2f} s (in process), loaded in {loaded:.2f} s; "
          f"step text updated in median {statistics.median(sync):.1f} ms (max {max(sync):.1f}), "
          f"painted within median {statistics.median(painted):.1f} ms (max {max(painted):.1f}, "
          "two animation frames included)")
    assert statistics.median(sync) < 500                       # generous: the goal is 50 ms
