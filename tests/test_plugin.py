"""The pytest plugin, with pytest's own `pytester`: items collected, pass/fail, failure text,
`-p no:gradcli`, the `gradcheck` fixture, `--gradcli-grade`, a light start-up."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
CHAIN = ROOT / "exercises" / "04-chain-rule"


@pytest.fixture
def course(pytester):
    """A course repository: .grad files in claims/, gradcli_paths pointing at them."""
    claims = pytester.mkdir("claims")
    shutil.copy(EXAMPLES / "lecture_sin.grad", claims)
    shutil.copy(EXAMPLES / "wrong_claim.grad", claims)
    (claims / "bad.grad").write_text("input x = 1\ny = x +* 2\n")
    (claims / "notes.txt").write_text("not a .grad file\n")
    pytester.makeini("[pytest]\ngradcli_paths = claims\n")
    return pytester


def test_each_claim_is_an_item(course):
    result = course.runpytest("-v")
    result.assert_outcomes(passed=3, failed=2)
    result.stdout.fnmatch_lines([
        "claims/bad.grad::parse FAILED*",
        "claims/lecture_sin.grad::d(o)/d(x) PASSED*",
        "claims/lecture_sin.grad::d(o)/d(y) PASSED*",
        "claims/wrong_claim.grad::partial(loss, u) PASSED*",
        "claims/wrong_claim.grad::d(loss)/d(x) FAILED*",
    ])


def test_a_failing_claim_shows_the_check_report(course):
    result = course.runpytest("claims/wrong_claim.grad")
    result.assert_outcomes(passed=1, failed=1)
    out = result.stdout.str()
    assert "Traceback" not in out and "def runtest" not in out
    result.stdout.fnmatch_lines([
        "*claims/wrong_claim.grad: full check: every Jacobian entry*",
        "* 0  d(loss)/d(x) * -36 * -36 * -36 ± * -18 *CLAIM WRONG claims/wrong_claim.grad:10",
        "✗ 5 mismatches in 5 comparisons at 5 points: claim d(loss)/d(x) is wrong*",
    ])
    assert "partial(loss, u)  " not in out.split("FAILURES")[1]   # only this claim's rows


def test_a_file_that_does_not_parse_is_one_failed_item(course):
    result = course.runpytest("claims/bad.grad")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "claims/bad.grad:2:8: error: unexpected '*'; expected an expression",
        "2 | y = x +* 2",
        "*^",
    ])


def test_a_file_that_cannot_be_checked_fails_each_claim(pytester):
    pytester.makeini("[pytest]\ngradcli_paths = g.grad\n")
    pytester.makefile(".grad", g="input x = 0\ny = log(x)\nd(y)/d(x) = 1/x\nd(y)/d(x) = 1/x\n")
    result = pytester.runpytest("-v")
    result.assert_outcomes(failed=2)
    result.stdout.fnmatch_lines(["g.grad::d(y)/d(x)[[]line 3[]] FAILED*", "g.grad::d(y)/d(x)[[]line 4[]] FAILED*",
                                 "g.grad:2:5: error: `log(x)` is -inf at this point"])


def test_no_grad_files_without_gradcli_paths(pytester):
    shutil.copy(EXAMPLES / "wrong_claim.grad", pytester.path)
    pytester.makepyfile("def test_one():\n    pass\n")
    pytester.runpytest().assert_outcomes(passed=1)


def test_testpaths_and_explicit_arguments(course):
    course.makepyfile(test_one="def test_one():\n    pass\n")
    course.makeini("[pytest]\ngradcli_paths = claims\ntestpaths = test_one.py\n")
    course.runpytest().assert_outcomes(passed=4, failed=2)               # the claims come too
    course.runpytest("test_one.py").assert_outcomes(passed=1)            # only what was asked for


def test_switched_off_with_p_no_gradcli(course):
    course.makepyfile(test_fixture="def test_fixture(gradcheck):\n    pass\n")
    on = course.runpytest("--co", "-q")
    on.stdout.fnmatch_lines(["claims/lecture_sin.grad::d(o)/d(x)", "test_fixture.py::test_fixture"])
    off = course.runpytest("-p", "no:gradcli")
    off.assert_outcomes(errors=1)                                         # no gradcheck fixture
    assert ".grad" not in off.stdout.str().replace("gradcli_paths", "")
    off.stdout.fnmatch_lines(["*fixture 'gradcheck' not found*"])


def test_the_gradcheck_fixture(pytester):
    pytester.makepyfile(test_grads="""
        import numpy as np

        def loss(x):
            return (x**2 - 10)**2

        def test_right(gradcheck):
            assert gradcheck(loss, lambda x: 4*x*(x**2 - 10), 1.0).ok

        def test_sign_slip(gradcheck):
            a = np.linspace(-1, 1, 100)
            g = a.copy()
            g[7] = -g[7]
            gradcheck(lambda a: 0.5*np.sum(a**2), lambda a: g, a)

        def test_helper():
            from gradcli.testing import assert_gradients
            assert_gradients(loss, lambda x: 2*(x**2 - 10), 1.0)
    """)
    result = pytester.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        "*gradcheck(lambda a: 0.5*np.sum(a**2), lambda a: g, a)",
        "E *GradientMismatch: f vs grad_f (test_grads.py:13): full check*",
        "E *d(f)/d(a)   [[]7[]] *WRONG",
        "E *✗ 1 mismatch in 100 comparisons*",
        "*assert_gradients(loss, lambda x: 2*(x**2 - 10), 1.0)",
        "E *d(loss)/d(x) * -18 * -36 ± *WRONG",
    ])
    assert "raise_for_status" not in result.stdout.str()          # no frames of gradcli's


def test_gradcli_grade_makes_an_item_per_graded_item(pytester):
    ex = pytester.mkdir("exercises")
    for name in ("04-chain-rule", "05-two-paths"):
        shutil.copytree(ROOT / "exercises" / name, ex / name)
    shutil.copy(ex / "05-two-paths" / "solution.grad", ex / "05-two-paths" / "answer.grad")
    (ex / "04-chain-rule" / "answer.grad").write_text(
        "u = x**2\no = sin(u)\npartial(u, x) = 2*x\npartial(o, u) = cos(u)\nd(o)/d(x) = cos(x**2)\n")
    result = pytester.runpytest("--gradcli-grade", "exercises", "-v", "-rf")
    outcomes = result.parseoutcomes()
    assert outcomes.get("failed") == 1 and outcomes.get("passed", 0) >= 10
    result.stdout.fnmatch_lines([
        "exercises::04-chain-rule::graph::value of o PASSED*",
        "exercises::04-chain-rule::derivative::d(o)/d(x) FAILED*",
        "exercises::05-two-paths::*PASSED*",
        "*- gradcli grade -*",
        "exercises: * / * points (*%)",
        "FAILED exercises::04-chain-rule::derivative::d(o)/d(x) - d(o)/d(x)*",
    ])
    assert "missing-inner-factor" in result.stdout.str()
    bad = pytester.runpytest("--gradcli-grade", "nowhere")
    assert bad.ret != 0


def test_a_bad_exercise_is_one_failed_item(pytester):
    ex = pytester.mkdir("ex")
    shutil.copytree(CHAIN, ex / "one")
    (ex / "one" / "problem.grad").write_text("o = sin(\n")
    result = pytester.runpytest("--gradcli-grade", "ex")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["ex/one/problem.grad:1:8: error: '(' is never closed", "1 | o = sin("])


def test_plugin_start_up_imports_neither_numpy_nor_lark(pytester):
    pytester.makepyfile(test_light="""
        import sys

        def test_light():
            heavy = [m for m in ("numpy", "lark", "rich", "click", "gradcli.api") if m in sys.modules]
            assert heavy == []
            assert "gradcli.plugin" in sys.modules
    """)
    pytester.runpytest_subprocess("-p", "no:cacheprovider").assert_outcomes(passed=1)
