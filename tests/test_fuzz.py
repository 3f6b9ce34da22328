"""Fuzzing in the suite (issue 12): valid programs from the grammar and mutations of them,
through eval, check, graph and grade's answer path (tests/fuzzing.py; bench/fuzz.py runs
the same for 10⁵ inputs).  Asserted for every input: an exit status in {0, 1, 2}, no
traceback, no warning on stderr, FILE:LINE:COL on an exit 2 about the file, grading never
raising; and on valid programs, reverse mode, forward mode and finite differences agreeing
(no ENGINE BUG, no AD ≠ FD).  Bounded: a few hundred inputs, about 20 s in all.
"""

from __future__ import annotations

import random
import re
import warnings

import pytest
from hypothesis import HealthCheck, example, given, settings, strategies as st

import fuzzing
from gradcli.autodiff.ops import FUNCTIONS, INITIALISERS
from gradcli.errors import GradError, Source
from gradcli.grade.exercise import load_exercise
from gradcli.language.program import build
from conftest import ROOT

HEALTH = [HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.function_scoped_fixture]


@pytest.fixture(scope="module")
def exercises():
    return [load_exercise(ROOT / "exercises" / name) for name in ("01-ln-sin-cos", "07-matrix-cost")]


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    return tmp_path_factory.mktemp("fuzz")


def clean(run):
    """run() -> Outcome, with no problem and no warning (pytest records warnings rather than
    letting them reach stderr, so they are caught here)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        outcome = run()
    assert not outcome.problems, "\n\n".join(f"{t}: {w}\n{d}" for t, w, d in outcome.problems)
    assert outcome.engine_bug == 0 and outcome.ad_fd == 0
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)], [str(w.message) for w in caught]


@settings(max_examples=400, deadline=None, suppress_health_check=HEALTH)
@given(rng=st.randoms(use_true_random=False))
def test_valid_programs(rng, folder, exercises):
    text = fuzzing.program(rng)
    clean(lambda: fuzzing.run(text.encode(), rng, folder, True, [rng.choice(exercises)]))


@settings(max_examples=800, deadline=None, suppress_health_check=HEALTH)
@given(rng=st.randoms(use_true_random=False))
@example(rng=random.Random(7311))
def test_mutated_programs(rng, folder, exercises):
    data = fuzzing.mutate(fuzzing.program(rng), rng)
    clean(lambda: fuzzing.run(data, rng, folder, False, [rng.choice(exercises)], check=rng.random() < 0.5))


# Inputs bench/fuzz.py found, each once the cause of a traceback, a false ENGINE BUG or AD ≠ FD.
FOUND = [
    # check on an empty output (an IndexError, then a broadcast error)
    "input x = zeros(0)\ninput z = 2\ny = x * z\n",
    # reach steps over an empty tensor (fmin.reduce of nothing)
    "input y in (-1, 3) = zeros(0)\ninput x = 0.5\nf = sum(log(1 + square(y))) + sin(x)\n",
    # 0·NaN in reverse mode where forward mode's tangent drops the element (index picks another)
    "input x in (-2, 2) = 0.5 * [[-0.01, 1.6], [-1.0, -0.48], [2.0, -1.433]]\ninput w in (-1, 2) = 0.5 * rand(2, 3)\n"
    "def g(a, b) = a / (2 + b * b)\nn1 = index(g(log(w), w), [0, 0])\nn5 = g(-n1, sum(x))\n",
    # log_softmax near 0: a difference of numbers near 4 (forward differences called it AD ≠ FD)
    "input y1 in (-1, 1.5) = 0.5 * [1.119, 0.0, -1.0]\nconst c2 = ones(2)\n"
    "n0 = ([[-1.3, 1.0], [-1.44, -0.727]] @ c2) + 0.5*sum(y1)\n"
    "n1 = min(log_softmax(([[0.6, -2.0], [-1.5, 0.958]] @ n0)), softmax((n0 + [-0.182, 1.7])))\n",
    # sqrt of a rounding error: the modes differ by 1e-9, AD's own rounding
    "input w1 = rand(3)\nn0 = logsumexp(min(index(w1, 2), log_softmax(w1)))\nn1 = sqrt(n0)\n",
    # a Jacobian whose all-ones seed hides the node that is not differentiable
    "input z0 in (-2, 3) = 0.5 * eye(2)\nn1 = sqrt(transpose(z0))\nn3 = softmax(n1)\n",
    # 0 · NaN in a scalar node of a tensor program (reverse NaN, forward 0)
    "input y = 1.34\ninput b = -2.0\ninput t = rand(2, 3)\nconst e_0 = zeros(0)\nn2 = y * sin(mean(e_0))\n"
    "n4 = dot([1.7, 2, -0.5], sigmoid([b, b, n2]))\nn5 = index(min([1.9, -1.8, -0.5], [b, b, n4]) - mean(t), 0)\n",
    # a matmul's VJP: 0 times a NaN value inside it; an empty tensor hides the NaN from the output
    "input z0 = -0.86\nconst e_0 = zeros(0)\nn0 = dot([z0, 1, 1], sqrt([[0.1, -1.01], [2.0, -1.0], [1.0, 0.9]]) @ "
    "softmax([2.0, 2.0]))\nn4 = (e_0 * sin(e_0)) + square(n0)\nn5 = mean([1.26, -1.23]) + sum(n4)\n",
    # softmax's JVP: a zero of softmax against an infinite tangent (log at 0)
    "input y = eye(2)\nn2 = sum(sum(softmax(log(y)), 0))\n",
    # numpy's float64 through the float rules (check's cut programs): warnings on stderr
    "input x = 0.5\nn = log(x - x)\ng = exp(n)\nf = x*x + g\nd(f)/d(g) = 1\nd(f)/d(n) = g\n",
    # a superscript digit after a comma: the decimal-comma hint read it as a digit (a traceback)
    "input x0 in (0.1, 2) = 0.5,\u00b2* randn(3, 2)\ny = sum(x0)\n",
    # sqrt at its domain edge feeding a softmax the output does not depend on: reverse mode's zero
    # adjoint stops the infinite partial, forward mode's infinite tangent becomes ∞ − ∞ (ENGINE BUG)
    "input w = -0.0\nconst c1 = e^2\nn0 = (2 * sin(c1)) + square(w)\nn1 = dot([n0, w, c1], [1, c1, c1])\n"
    "n2 = sum(softmax((sum([[-0.0, 1.0], [-1.72, -0.426]], 0) + sqrt([w, n0]))) * max(min(n0, [c1, n0]), (n1 + .25)))\n",
    # a tie of min inside a tie of max at eye(2): the derivative is 0 both ways, AD's convention 0.25 (AD ≠ FD)
    "input x0 = eye(2)\nconst c1 = 2*pi\nn2 = max(min(sum(x0, 0), ([1, c1]) ^ 2))\n",
]


@pytest.mark.parametrize("text", FOUND)
def test_what_the_fuzzer_found(text, folder, exercises):
    for seed in range(4):
        rng = random.Random(seed)
        clean(lambda: fuzzing.run(text.encode(), rng, folder, True, exercises))


def test_the_generator_covers_the_grammar():
    """Every statement kind, every function and initialiser, tensors (empty ones too), defs,
    claims, `;`, comments, `.T`, `^`, literals of nodes -- and most programs are valid."""
    texts = [fuzzing.program(random.Random(k)) for k in range(400)]
    joined = "\n".join(texts)
    for fname in list(FUNCTIONS) + list(INITIALISERS):
        assert re.search(rf"\b{fname}\(", joined), fname
    for piece in ["input ", " in (", "const ", "def ", "output ", "d(", ")/d(", "partial(", "; ", "# a comment",
                  ").T", " ^ ", "zeros(0", "@", "[n", ", -1)"]:
        assert piece in joined, piece
    valid = 0
    for text in texts:
        try:
            build(Source("t.grad", text))
            valid += 1
        except GradError:
            pass
    assert valid >= 0.9 * len(texts)
