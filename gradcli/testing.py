"""Helpers for a course's own tests (pytest or any other runner): `assert_gradients`.

The `gradcheck` fixture of gradcli's pytest plugin is this function.  Importing this
module costs nothing: gradcli's numerical modules are imported at the first call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .check.core import CheckReport

__all__ = ["assert_gradients"]


def assert_gradients(f: Callable[..., Any], grad_f: Callable[..., Any], *args: Any,
                     **options: Any) -> CheckReport:
    """Assert that grad_f, a hand-written gradient (Jacobian, or VJP with vjp=True) of f,
    agrees with finite differences at args: `gradcli.check_function` with the same options,
    always raising GradientMismatch (an AssertionError, the text report as its message) on a
    mismatch.  Returns the report."""
    __tracebackhide__ = True   # pytest shows the test's line, not this one
    from .api import check_function

    return check_function(f, grad_f, *args, raise_on_mismatch=True, **options)
