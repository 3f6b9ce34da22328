"""gradcli: a gradient checker and exercise grader for computational graphs.

From Python (docs/api.md lists every name; they are stable):

    import gradcli
    g = gradcli.load("examples/lecture_sin.grad")      # or gradcli.parse(text)
    g.eval().grads["o"]["x"]                           # -6.283185307179586
    g.check().raise_for_status()                       # GradientMismatch if a claim is wrong
    gradcli.check_function(f, grad_f, x)               # a Python function's hand-written gradient
    gradcli.grade("exercises/")                        # the gradebook

`import gradcli` stays cheap (the command line starts with it): the API's module and numpy
are imported only when one of its names is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from .errors import GradError, GradientMismatch

__version__ = "0.1.0"

__all__ = ["__version__", "load", "parse", "check_function", "grade", "Graph", "Evaluation",
           "CheckReport", "Gradebook", "GradError", "GradientMismatch", "Limits"]

if TYPE_CHECKING:  # what type checkers and IDEs see; at run time __getattr__ imports them
    from . import api as api, testing as testing
    from .api import CheckReport, Evaluation, Gradebook, Graph, Limits, check_function, grade, load, parse

_API = {"load", "parse", "check_function", "grade", "Graph", "Evaluation", "CheckReport", "Gradebook", "Limits"}

# `gradcli.grade` is the API's function, and `gradcli/grade/` the command's subpackage.
# Importing a package binds it in its parent: import the subpackage (a docstring) now,
# once, and drop that binding, so that `gradcli.grade` always resolves to the function.
from . import grade as _grade_package  # noqa: E402,F401

del globals()["grade"]


def __getattr__(name: str):
    import importlib

    if name in _API:
        value = getattr(importlib.import_module(".api", __name__), name)
        globals()[name] = value
        return value
    if name in ("api", "testing"):
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'gradcli' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__, "api", "testing"})
