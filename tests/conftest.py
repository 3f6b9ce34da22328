"""Shared helpers for the tests: build programs from text, finite differences."""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

import numpy as np
import pytest
from hypothesis import settings

from gradcli.autodiff import engine
from gradcli.errors import Source
from gradcli.language.program import bind, build

# Hypothesis: CI runs a fixed, derandomized profile (the same examples every run, so a run
# that passes once passes always); HYPOTHESIS_PROFILE=explore draws new examples each run
# with no example database, to look for bugs by hand (see docs/testing.md).
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("explore", derandomize=False, database=None, print_blob=True)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Caches (the grammar's tables, compiled kernels) go to a temporary directory, never the real
# home: set before anything is built, inherited by the subprocesses the tests start.
_CACHE = tempfile.mkdtemp(prefix="gradcli-test-cache-")
os.environ["XDG_CACHE_HOME"] = _CACHE
atexit.register(shutil.rmtree, _CACHE, True)

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"


def program_of(text: str, seed: int = 0):
    return build(Source("test.grad", text), seed)


def grads(program, point, mode="reverse", output=None):
    """{input name: d(output)/d(input)} at point, by the engine in `mode`."""
    vals = engine.forward(program, point)
    out = program.outputs[0] if output is None else output
    jac = engine.jacobian(program, vals, out, program.inputs, mode)
    return {program.nodes[i].name: jac[i] for i in program.inputs}


def central_difference(program, point, x, output=None, h=1e-6):
    """d(output)/d(x) by central differences, element by element (independent of the engine's rules)."""
    out = program.outputs[0] if output is None else output
    base = np.asarray(point[x], dtype=float)
    f0 = np.asarray(engine.forward(program, point)[out])
    result = np.zeros(f0.shape + base.shape)
    for j in range(max(base.size, 1)):
        values = []
        for sign in (1, -1):
            moved = base.copy()
            if moved.ndim:
                moved.flat[j] += sign * h
            else:
                moved = moved + sign * h
            values.append(np.asarray(engine.forward(program, {**point, x: moved[()] if not moved.ndim else moved})[out]))
        d = (values[0] - values[1]) / (2 * h)
        if base.ndim:
            result.reshape(f0.shape + (-1,))[..., j] = d
        else:
            result = d
    return result


@pytest.fixture
def example():
    """Load examples/NAME.grad: (program, point)."""
    def load(name, at=()):
        program = build(Source(str(EXAMPLES / name), (EXAMPLES / name).read_text()))
        return program, bind(program, at)
    return load
