"""Shared helpers for the tests: build programs from text, finite differences."""

from __future__ import annotations

import atexit
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings

from gradcli.autodiff import engine
from gradcli.errors import Source
from gradcli.language.program import bind, build

import reference

pytest_plugins = ["pytester"]   # the plugin's tests (tests/test_plugin.py)

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
    """d(output)/d(x) by central differences over the independent reference evaluator
    (tests/reference.py, which shares no code with the engine, the op table or the builder)."""
    names = {program.nodes[i].name: point[i] for i in program.inputs}
    out = program.nodes[program.outputs[0] if output is None else output].name
    return reference.derivative(program.source.text, program.nodes[x].name, names, out, h=h)


def reference_value(program, point, output=None):
    """The output's value by the reference evaluator."""
    names = {program.nodes[i].name: point[i] for i in program.inputs}
    out = program.nodes[program.outputs[0] if output is None else output].name
    return reference.Reference(program.source.text, names).value(out)


@pytest.fixture
def example():
    """Load examples/NAME.grad: (program, point)."""
    def load(name, at=()):
        program = build(Source(str(EXAMPLES / name), (EXAMPLES / name).read_text()))
        return program, bind(program, at)
    return load


@pytest.fixture(scope="session")
def built_wheel(tmp_path_factory) -> Path:
    """The wheel `pip install .` would install, built once per test run (hatchling from the
    test extra, so no isolated build environment is downloaded)."""
    dist = tmp_path_factory.mktemp("dist")
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                    "-w", str(dist), str(ROOT)], check=True, capture_output=True)
    return next(dist.glob("gradcli-*.whl"))
