"""`gradcli check`: finite differences, verdicts, points, kinks, --fast, the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import gradcli
from gradcli.autodiff import engine, fd, ops
from gradcli.check import core as check
from gradcli.cli import main
from gradcli.errors import GradError, Source
from gradcli.language.program import bind, build

import reference

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = sorted((ROOT / "examples").glob("*.grad"))
WRONG = ROOT / "examples" / "wrong_claim.grad"


def program(text: str, seed: int = 0, name: str = "t.grad"):
    p = build(Source(name, text), seed)
    return p, bind(p, (), seed)


def run_text(text: str, **options):
    p, point = program(text)
    options.setdefault("random", 0)
    return check.check_program(p, point, **options)


def verdicts(report):
    return {r.verdict for r in report.rows}


def write(tmp_path, text, name="f.grad"):
    path = tmp_path / name
    path.write_text(text)
    return str(path)


def cli(*args):
    return CliRunner().invoke(main, ["check", *args])


def line_of(path: Path, needle: str) -> int:
    return next(i for i, line in enumerate(path.read_text().splitlines(), 1) if line.startswith(needle))


# ---------------------------------------------------------------- finite differences

def test_fd_accuracy_sin_at_1():
    exact = math.cos(1.0)
    rich, rich_err = fd.derivative(np.sin, 1.0, "richardson")
    cent, cent_err = fd.derivative(np.sin, 1.0, "central")
    fwd, fwd_err = fd.derivative(np.sin, 1.0, "forward")
    assert abs(rich - exact) / exact <= 1e-12
    assert abs(cent - exact) / exact <= 1e-9
    assert abs(fwd - exact) / exact <= 1e-6
    # every estimate comes with an error estimate that covers its real error
    for value, err in [(rich, rich_err), (cent, cent_err), (fwd, fwd_err)]:
        assert 0 < err and abs(value - exact) <= err


def test_fd_accuracy_through_the_checker():
    for method, bound in [("richardson", 1e-12), ("central", 1e-9)]:
        report = run_text("input x = 1\ny = sin(x)\n", method=method)
        (row,) = report.rows
        assert report.method == method
        assert abs(row.fd - math.cos(1.0)) / math.cos(1.0) <= bound
        assert row.reverse == row.forward == pytest.approx(math.cos(1.0), rel=1e-15)


def test_fd_steps_are_relative():
    # central h = eps^(1/3) max(|x|, 1): accurate at a large x as well
    v, err = fd.derivative(np.exp, 30.0, "central")
    assert abs(v - math.exp(30.0)) / math.exp(30.0) < 1e-8 and abs(v - math.exp(30.0)) <= err


def test_fd_one_sided_where_the_function_stops():
    # log at 1e-7: the central step leaves the domain; a one-sided difference still answers
    v, err = fd.derivative(np.log, 1e-7, "central")
    assert abs(v - 1e7) <= err and err < 0.5e7


def test_fd_batches_the_points():
    calls = []

    def f(X):
        calls.append(X.shape[0])
        return np.sin(X).sum(axis=1, keepdims=True)

    x0 = np.linspace(-1, 1, 50)
    r = fd.directional(f, x0, fd.Coordinates(np.arange(50), np.ones(50)), "central")
    assert np.allclose(r.value[:, 0], np.cos(x0), rtol=1e-9)
    assert calls == [200]             # 4 points per element, one call


def test_fd_pointwise_gives_the_batch_values_exactly():
    """A Python function called point by point (check_function) sees the very points a batch has."""
    def f(X):
        return np.stack([np.sin(X[:, 0]) * X[:, 1], np.exp(X[:, 1])], axis=1)

    seen = []

    def one(x):
        seen.append(x.copy())
        return f(x[None])[0]

    x0 = np.array([0.3, -1.2])
    for dirs in (fd.Coordinates(np.arange(2), np.array([1.0, 1.2])), np.array([[0.5, 2.0], [1.0, -1.0]])):
        for method in fd.METHODS:
            a = fd.directional(f, x0, dirs, method)
            b = fd.directional(fd.Pointwise(one), x0, dirs, method)
            assert np.array_equal(a.value, b.value) and np.array_equal(a.error, b.error)
    assert np.array_equal(fd.Pointwise(one)(np.array([[1.0, 2.0], [3.0, 4.0]])), f(np.array([[1.0, 2.0], [3.0, 4.0]])))
    assert all(np.count_nonzero(x != x0) <= 2 for x in seen)


# ---------------------------------------------------------------- claims

def test_wrong_claim_caught_and_pointed_at():
    result = cli(str(WRONG), "--seed", "1")
    assert result.exit_code == 1, result.output
    line = line_of(WRONG, "d(loss)/d(x)")
    assert f"wrong_claim.grad:{line}" in result.output
    assert "CLAIM WRONG" in result.output
    assert "claim d(loss)/d(x) is wrong" in result.output
    # the right partial claim in the same file is not blamed
    report = gradcli.load(WRONG).check()
    partial = [r for r in report.rows if r.claim_text == "partial(loss, u)"]
    assert partial and all(r.verdict == "ok" for r in partial)
    wrong = [r for r in report.rows if r.claim_text == "d(loss)/d(x)"]
    assert all(r.verdict == "claim_wrong" for r in wrong)
    default = next(r for r in wrong if r.point == 0)
    assert default.reverse == -36 and default.claim == -18 and default.fd == pytest.approx(-36, rel=1e-12)


@pytest.mark.parametrize("path", [p for p in EXAMPLES if p.name != "wrong_claim.grad"], ids=lambda p: p.name)
def test_lecture_examples_pass(path):
    report = gradcli.load(path).check(random=2)
    bad = [r for r in report.rows if r.verdict != "ok"]
    assert report.status == 0 and not bad, bad[:3]
    assert len(report.points) == 3


def test_intermediate_total_claim_is_the_adjoint():
    text = ("input x = 0.7\ninput y = 1.3\nw1 = x + y\nw2 = sin(x)\no = w1 * w2\n"
            "d(o)/d(w2) = w1\nd(o)/d(w1) = cos(x)\n")
    report = run_text(text)
    rows = {r.claim_text: r for r in report.rows if r.claim_text}
    assert rows["d(o)/d(w2)"].verdict == "ok"
    assert rows["d(o)/d(w2)"].reverse == pytest.approx(2.0)
    assert rows["d(o)/d(w1)"].verdict == "claim_wrong"
    assert rows["d(o)/d(w1)"].reverse == pytest.approx(math.sin(0.7))
    assert rows["d(o)/d(w1)"].location == "t.grad:7"


def test_partial_claims_elementwise_and_matmul():
    text = ("input x = [1, 2, 3]\ninput y = 2\nu = x * y\nw = u @ x\ns = w + sum(u)\n"
            "partial(u, x) = y\npartial(u, y) = x\npartial(w, x) = u\npartial(w, u) = x + 1\n")
    report = run_text(text, random=2)
    by = {}
    for r in report.rows:
        by.setdefault(r.claim_text, set()).add(r.verdict)
    assert by["partial(u, x)"] == {"ok"} and by["partial(u, y)"] == {"ok"}
    assert by["partial(w, x)"] == {"ok"}
    assert by["partial(w, u)"] == {"claim_wrong"}
    assert report.status == 1


def test_claim_undefined_where_the_derivative_exists():
    report = run_text("input x = 1\ny = x*x\nd(y)/d(x) = 2*x + 0*log(x - 1)\n")
    (row,) = report.rows
    assert row.verdict == "claim_wrong" and "undefined" in row.note


def test_tolerances_follow_numpy_isclose():
    text = "input x = 1\ny = 3*x\nd(y)/d(x) = 3.0001\n"
    assert run_text(text).status == 1                        # rtol 1e-6 by default
    assert run_text(text, rtol=1e-4).status == 0             # |a - b| <= atol + rtol |b|
    assert run_text(text, rtol=0, atol=2e-4).status == 0
    assert check.RTOL == 1e-6 and check.ATOL == 1e-9


def test_tensor_claim_shape_mismatch_is_bad_input():
    with pytest.raises(GradError, match=r"shape \(2,\)"):
        run_text("input x = [1, 2, 3]\ny = sum(x)\nd(y)/d(x) = [1, 1]\n")


# ---------------------------------------------------------------- hypothesis

UNARY = ["sin({})", "cos({})", "tanh({})", "sigmoid({})", "exp(tanh({}))", "log(1 + square({}))",
         "square({})", "-({})"]
BINARY = ["({} + {})", "({} - {})", "({} * {})", "{} / (1 + square({}))"]


def expressions(leaves):
    return st.recursive(
        st.sampled_from(leaves),
        lambda inner: st.one_of(
            st.builds(lambda f, a: f.format(a), st.sampled_from(UNARY), inner),
            st.builds(lambda f, a, b: f.format(a, b), st.sampled_from(BINARY), inner, inner)),
        max_leaves=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(expr=expressions(["x", "y", "x", "y", "0.5"]),
       x=st.floats(-2, 2), y=st.floats(-2, 2), method=st.sampled_from(fd.METHODS))
def test_random_expressions_reverse_forward_fd_agree(expr, x, y, method):
    text = f"input x = {x!r}\ninput y = {y!r}\nf = {expr} + 0*x + 0*y\n"
    report = run_text(text, method=method)
    p, point = program(text)
    f = float(engine.forward(p, point)[p.outputs[0]])
    # the truth, from a reference evaluator that shares no code with the engine
    assert f == pytest.approx(float(reference.outputs(text)["f"]), rel=1e-12, abs=1e-14)
    truth = {v: float(reference.derivative(text, v, h=1e-5)) for v in ("x", "y")}
    f = abs(f)
    for r in report.rows:
        assert r.reverse == pytest.approx(truth[r.input], rel=1e-5, abs=1e-6), (text, r)
        # forward differences (t = √ε) at a (near-)stationary point know the derivative only to
        # ~1e-6 absolute: wider than 1% of it and 1000× the tolerance, that decides nothing
        inconclusive = (method == "forward" and r.verdict == "fd_inconclusive"
                        and r.fd_error > max(0.01 * abs(r.reverse), 1000 * (1e-9 + 1e-6 * abs(r.fd))))
        assert r.verdict == "ok" or inconclusive, (text, r)
        assert r.reverse == pytest.approx(r.forward, rel=1e-9, abs=1e-12)
        assert abs(r.reverse - r.fd) <= max(1e-9 + 1e-6 * abs(r.fd), r.fd_error)
        # and the estimate is not vacuous: FD really is that close.  Its rounding term is
        # KAPPA·eps·|f|/t, so the bound scales with |f| as well as with |f'|.
        scale = max(1, abs(r.fd), f)
        assert r.fd_error <= {"richardson": 1e-9, "central": 1e-8, "forward": 1e-5}[method] * scale


@settings(max_examples=40, deadline=None)
@given(expr=expressions(["x", "y", "x"]))
def test_random_vector_expressions_fast_and_full(expr):
    text = f"input x = [0.3, -1.1, 0.8]\ninput y = [[0.5], [-0.2]]\nf = sum({expr} + 0*x + 0*y)\n"
    for fast in (False, True):
        report = run_text(text, fast=fast, random=1)
        assert report.status == 0 and verdicts(report) == {"ok"}, (text, report.rows)


# ---------------------------------------------------------------- kinks and undefined points

def test_kink_reported_not_a_mismatch():
    report = run_text("input x = 0\ny = relu(x) + 2*x\n")
    (row,) = report.rows
    assert row.verdict == "kink" and report.status == 0
    assert row.left == pytest.approx(2, abs=1e-6) and row.right == pytest.approx(3, abs=1e-6)
    assert row.reverse == 2.0                                  # PyTorch: relu'(0) = 0


def test_tie_of_max_is_a_kink_and_away_from_it_is_not():
    text = "input a = 1\ninput b = 1\nm = max(a, b)\nd(m)/d(a) = 0.5\n"
    report = run_text(text)
    assert {r.verdict for r in report.rows} == {"kink"}
    assert run_text(text.replace("input b = 1", "input b = 0.5"), random=0).status == 1


@pytest.mark.parametrize("fast", [False, True])
def test_nested_ties_where_the_derivative_exists_are_a_tie_not_a_mismatch(fast):
    """At s = t = 1, max(min(s, 1), t) is 1 whichever way s moves: the derivative w.r.t. s is 0 and
    the one-sided differences agree on it; AD splits the gradient at both ties (0.5 · 0.5)."""
    text = "input s = 1\ninput t = 1\nm = max(min(s, 1), t)\nd(m)/d(s) = {}\n"
    report = run_text(text.format(0), random=0, fast=fast)
    assert report.status == 0 and {r.verdict for r in report.rows} <= {"tie", "kink"}
    claim = next(r for r in report.rows if r.kind == "claim")
    assert claim.verdict == "tie" and claim.reverse == 0.25 and claim.fd == pytest.approx(0, abs=1e-6)
    assert "the one-sided differences agree on 0" in claim.note and "0.25" in claim.note
    assert run_text(text.format(0.25), random=0, fast=fast).status == 0   # AD's convention is right too
    assert run_text(text.format(1), random=0, fast=fast).status == 1      # but not anything else


def test_one_mode_infinite_at_a_domain_edge_is_undefined_not_an_engine_bug():
    """sqrt(w) at w = 0 feeds a softmax the output does not depend on (sum(softmax(z) * k) with
    equal k is k): reverse mode's zero adjoint stops sqrt's infinite partial, forward mode's
    infinite tangent turns into ∞ − ∞ inside softmax; FD cannot step below 0."""
    text = "input w = 0\ninput k = 3\nz = [sqrt(w), 1]\nf = sum(softmax(z) * [k, k]) + 2*w\n"
    report = run_text(text, random=0)
    row = next(r for r in report.rows if r.input == "w")
    assert row.reverse == 2.0 and math.isnan(row.forward)
    assert row.verdict == "undefined" and "infinite here" in row.note and "∞·0" in row.note
    assert report.status == 0


def test_kink_near_but_outside_the_step_is_checked_normally():
    report = run_text("input x = 0.01\ny = abs(x)\n")
    (row,) = report.rows
    assert row.verdict == "ok" and row.fd == pytest.approx(1.0, rel=1e-12)


def test_kink_in_the_cli_output(tmp_path):
    path = write(tmp_path, "input x = 0\ny = abs(x)\n", "k.grad")
    result = cli(path, "--random", "0")
    data = json.loads(cli(path, "--random", "0", "--format", "json").output)
    assert result.exit_code == 0
    assert "not differentiable here" in result.output and "left -1 | right 1" in result.output
    row = data["rows"][0]
    assert row["verdict"] == "kink" and row["one_sided"] == {"left": pytest.approx(-1), "right": pytest.approx(1)}


def test_random_points_redrawn_where_undefined():
    # log(x) is undefined for half of the default domain (-2, 2): those draws are redrawn
    report = run_text("input x = 1\ny = log(x)\nd(y)/d(x) = 1/x\n", random=6)
    assert len(report.points) == 7 and not report.notes
    assert all(p.values["x"] > 0 for p in report.points)
    assert report.status == 0


def test_random_points_reported_plainly_when_never_defined():
    report = run_text("input x in (0, 1) = 11\ny = sqrt(x - 10)\n", random=3)
    assert len(report.points) == 1
    assert report.notes and "only 0 of 3 random points" in report.notes[0]
    assert report.status == 0


def test_domains_are_respected():
    report = run_text("input x in (5, 6) = 5.5\ninput W = [[1, 2]]\ny = x*sum(W)\n", random=5)
    xs = [p.values["x"] for p in report.points[1:]]
    Ws = np.array([p.values["W"] for p in report.points[1:]])
    assert all(5 < x < 6 for x in xs)
    # W has no domain: drawn around its value, elementwise in (W - 1, W + 1)
    assert Ws.shape == (5, 1, 2) and np.all((Ws > [[0, 1]]) & (Ws < [[2, 3]]))


def test_undefined_default_point_is_bad_input(tmp_path):
    result = cli(write(tmp_path, "input x = -1\ny = log(x)\n"))
    assert result.exit_code == 2
    assert "f.grad:2:5: error:" in result.output and "Traceback" not in result.output


# ---------------------------------------------------------------- --fast and injected engine bugs

def _wrong_sin(element):
    """A test-only op: sin whose local derivative is wrong (by +1) in one element of a 10^4 vector.

    The op table is patched only while the program is built (nodes keep their Op), under a
    new op name so that the engine's per-op-name rule cache never mixes it with real sin.
    """
    real = ops.OPS["sin"]

    def dsin(ans, a):
        d = np.cos(a)
        if np.shape(a)[-1:] == (10_000,):
            d = np.array(d)
            d[..., element] += 1.0
        return d
    # code=None: sin's templates would contradict this partial (the compiled path calls the rule)
    return dataclasses.replace(real, name=f"sin_wrong_{element}", partials=(dsin,), code=None)


def test_fast_catches_one_wrong_element_of_10k(monkeypatch):
    text = "input x = randn(10000)\ny = sum(sin(x))\n"
    good = run_text(text)
    assert good.mode == "fast" and good.method == "central"   # 10^4 > FAST_THRESHOLD
    assert verdicts(good) == {"ok"}
    monkeypatch.setitem(ops.OPS, "sin", _wrong_sin(1234))
    p, point = program(text)
    monkeypatch.undo()
    report = check.check_program(p, point, random=2)
    assert report.mode == "fast" and len(report.rows) == 3
    # reverse and forward share the wrong local derivative; finite differences expose it
    assert {r.verdict for r in report.rows} == {"ad_fd_mismatch"}
    assert report.status == 1
    for r in report.rows:
        assert r.reverse == pytest.approx(r.forward, rel=1e-12)
        assert abs(r.reverse - r.fd) > 1e-3


def test_engine_bug_when_the_modes_disagree(monkeypatch, tmp_path):
    real = ops.OPS["sum"]
    wrong_vjp = (lambda g, ans, a, nb=0: 2 * real.vjp[0](g, ans, a, nb=nb),)
    monkeypatch.setitem(ops.OPS, "sum", dataclasses.replace(real, name="sum_wrong_vjp", vjp=wrong_vjp,
                                                          code=None))
    p, point = program("input x = [1, 2]\ny = sum(x*x)\n")
    report = check.check_program(p, point, random=0)
    assert {r.verdict for r in report.rows} == {"engine_bug"}
    text = report.render("text")
    assert "ENGINE BUG" in text and "reverse mode and forward mode disagree" in text
    header = next(line for line in text.splitlines() if line.startswith("pt"))
    assert header.split()[3:5] == ["reverse", "forward"]     # two columns: they differ


def test_fast_and_full_are_one_flag_apart(tmp_path):
    path = write(tmp_path, "input x = randn(2000)\ny = sum(x*x)\nd(y)/d(x) = 2*x\n")
    fast = cli(path, "--random", "0")
    assert fast.exit_code == 0 and "fast check" in fast.output and "--full" in fast.output
    data = json.loads(cli(path, "--random", "0", "--full", "--format", "json").output)
    assert data["mode"] == "full" and data["method"] == "central"
    assert data["summary"]["comparisons"] == 2000
    small = json.loads(cli(str(ROOT / "examples" / "sum_squares.grad"), "--fast", "--format", "json").output)
    assert small["mode"] == "fast" and {r["index"] for r in small["rows"]} == {None}


# ---------------------------------------------------------------- CLI and JSON

JSON_KEYS = {"file", "status", "mode", "method", "rtol", "atol", "elements", "points", "summary",
             "rows", "notes"}
ROW_KEYS = {"point", "output", "input", "index", "kind", "reverse", "forward", "fd", "fd_error",
            "claim", "claim_text", "location", "abs_error", "rel_error", "verdict", "one_sided", "note"}
SUMMARY_KEYS = {"comparisons", "mismatches", "engine_bug", "ad_fd_mismatch", "claim_wrong", "kink", "tie",
                "fd_inconclusive", "undefined", "ok"}


def test_json_keys():
    result = cli(str(WRONG), "--format", "json", "--random", "2")
    assert result.exit_code == 1
    data = json.loads(result.output)
    assert set(data) == JSON_KEYS and set(data["summary"]) == SUMMARY_KEYS
    assert all(set(r) == ROW_KEYS for r in data["rows"])
    assert data["rows"][0]["verdict"] == "claim_wrong"             # worst first
    assert data["rows"][0]["location"].endswith(f"wrong_claim.grad:{line_of(WRONG, 'd(loss)/d(x)')}")
    assert data["status"] == 1 and data["summary"]["mismatches"] == 3
    assert [p["label"] for p in data["points"]] == ["default", "random 1", "random 2"]
    assert data["points"][0]["values"] == {"x": 1.0}


def test_exit_codes(tmp_path):
    ok = cli(str(ROOT / "examples" / "lecture_sin.grad"))
    assert ok.exit_code == 0 and "✓ all agree" in ok.output
    wrong = cli(str(WRONG))
    assert wrong.exit_code == 1
    assert "✗ 5 mismatches" in wrong.stdout and f"claim d(loss)/d(x) is wrong ({WRONG}:10)" in wrong.stdout
    bad = cli(write(tmp_path, "input x = 1\ny = x +\n"))
    assert bad.exit_code == 2 and "f.grad:2:" in bad.stderr and "error:" in bad.stderr
    assert "Traceback" not in bad.output
    missing = cli(str(tmp_path / "missing.grad"))
    assert missing.exit_code == 2 and f"{tmp_path / 'missing.grad'}: cannot read" in missing.stderr
    at = cli(str(WRONG), "--at", "z=1")
    assert at.exit_code == 2 and "--at z: no input named 'z'" in at.stderr and "inputs: x" in at.stderr
    method = cli(str(WRONG), "--method", "simpson")
    assert method.exit_code == 2 and "value for '--method': 'simpson' is not one of" in method.stderr
    rtol = cli(str(WRONG), "--rtol", "-1")
    assert rtol.exit_code == 2 and "value for '--rtol': -1.0 is not in the range" in rtol.stderr
    assert all(r.stdout == "" for r in (bad, missing, at, method, rtol))     # nothing but the error
    both = cli(str(ROOT / "examples" / "lecture_sin.grad"), str(WRONG), "--format", "json")
    assert both.exit_code == 1 and set(json.loads(both.output)) == {
        str(ROOT / "examples" / "lecture_sin.grad"), str(WRONG)}


def test_at_and_seed(tmp_path):
    data = json.loads(cli(str(WRONG), "--at", "x=2", "--random", "1", "--seed", "7",
                          "--format", "json").output)
    assert data["points"][0] == {"label": "--at", "values": {"x": 2.0}}
    again = json.loads(cli(str(WRONG), "--at", "x=2", "--random", "1", "--seed", "7",
                           "--format", "json").output)
    assert again == data                                            # deterministic per seed
    row = next(r for r in data["rows"] if r["point"] == 0)
    assert row["reverse"] == 4 * 2 * (4 - 10) and row["claim"] == 2 * (4 - 10)


def test_cli_defaults_match_the_core():
    from gradcli.check import command as checkcmd

    assert (checkcmd.RTOL, checkcmd.ATOL, checkcmd.RANDOM, checkcmd.FAST_THRESHOLD, checkcmd.RICHARDSON_MAX) == (
        check.RTOL, check.ATOL, check.RANDOM, check.FAST_THRESHOLD, check.RICHARDSON_MAX)


def test_help_lists_the_options():
    out = cli("--help").output
    for opt in ["--at", "--random", "--seed", "--method", "--fast", "--full", "--rtol", "--atol", "--format"]:
        assert opt in out


def test_subprocess_cli(tmp_path):
    cmd = [sys.executable, "-m", "gradcli", "check"]
    done = subprocess.run(cmd + [str(WRONG), "--format", "json"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 1
    data = json.loads(done.stdout)
    assert data["rows"][0]["verdict"] == "claim_wrong"
    text = subprocess.run(cmd + [str(WRONG)], capture_output=True, text=True, timeout=60,
                          env={"NO_COLOR": "1", "PATH": ""})
    assert text.returncode == 1 and "\x1b[" not in text.stdout
    assert text.stdout.strip().splitlines()[-1].startswith("✗ 5 mismatches")
    bad = subprocess.run(cmd + [write(tmp_path, "input x = 1\ny = q\n")], capture_output=True,
                         text=True, timeout=60)
    assert bad.returncode == 2 and "f.grad:2:5: error: undefined name 'q'" in bad.stderr
    assert "Traceback" not in bad.stderr
    ok = subprocess.run(cmd + [str(ROOT / "examples" / "lecture_sin.grad")], capture_output=True,
                        text=True, timeout=60)
    assert ok.returncode == 0 and "✓ all agree" in ok.stdout
