"""`check --python MODULE:F`: import the user's own function and bind its arguments from --at.

This runs the user's code (importing a module runs it); only the check command calls it,
never `grade`, whose answers are untrusted.  Failures are GradErrors (exit 2) that say what
went wrong and where in the user's code, not a traceback of gradcli's.
"""

from __future__ import annotations

import importlib
import importlib.util
import inspect
import os
import sys
import traceback
from pathlib import Path

from ..errors import GradError, did_you_mean


def load_callable(spec: str, option: str):
    """MODULE:NAME or path/to/file.py:NAME (NAME may be dotted: Class.method)."""
    module_name, colon, attr = spec.rpartition(":")
    if not colon or not module_name or not attr:
        raise GradError(f"{option} {spec}: write MODULE:NAME or path/to/file.py:NAME",
                        hint="e.g. --python mymodule:loss --grad mymodule:grad_loss")
    try:
        if module_name.endswith(".py") or os.sep in module_name or "/" in module_name:
            module = _from_file(module_name, option, spec)
        else:
            if "" not in sys.path and os.getcwd() not in sys.path:
                sys.path.insert(0, os.getcwd())   # as `python -m` does: modules in this folder
            module = importlib.import_module(module_name)
    except GradError:
        raise
    except ModuleNotFoundError as err:
        if err.name and module_name.startswith(err.name):
            raise GradError(f"{option} {spec}: no module named {module_name!r}",
                            hint="run gradcli from the folder that holds it, or give path/to/file.py:NAME") from None
        raise user_error(err, f"{option} {spec}: importing {module_name}") from None
    except Exception as err:   # the module itself raised while being imported
        raise user_error(err, f"{option} {spec}: importing {module_name}") from None
    obj = module
    for part in attr.split("."):
        if not hasattr(obj, part):
            names = [n for n in dir(obj) if not n.startswith("_")]
            raise GradError(f"{option} {spec}: {module_name} has no {part!r}", hint=did_you_mean(part, names))
        obj = getattr(obj, part)
    if not callable(obj):
        raise GradError(f"{option} {spec}: {attr} is a {type(obj).__name__}, not a function")
    return obj


def _from_file(path: str, option: str, spec: str):
    file = Path(path)
    if not file.is_file():
        raise GradError(f"{option} {spec}: {path} is not a file")
    name = "_gradcli_user_" + file.stem.replace("-", "_")
    loader = importlib.util.spec_from_file_location(name, file)
    if loader is None or loader.loader is None:
        raise GradError(f"{option} {spec}: {path} is not a Python file")
    module = importlib.util.module_from_spec(loader)
    sys.path.insert(0, str(file.resolve().parent))   # its own imports of modules beside it
    sys.modules[name] = module
    loader.loader.exec_module(module)
    return module


def arguments(f, spec: str, at, seed: int) -> tuple[list, list[int]]:
    """F's positional arguments from `--at NAME=EXPR` (EXPR in the .grad language), in F's order.

    The parameters without a default are differentiated (each must be given); those with a
    default are settings, held fixed at their default or at the value --at gives.
    Returns (args, the positions to differentiate).
    """
    from ..language.program import expression_value

    try:
        params = [p for p in inspect.signature(f).parameters.values()
                  if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)]
    except (TypeError, ValueError):
        raise GradError(f"--python {spec}: its parameters cannot be read (a built-in?)",
                        hint="wrap it in a def with named parameters") from None
    names = [p.name for p in params]
    given = {}
    for item in at:
        name, eq, text = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise GradError(f"--at {item!r}: write NAME=EXPR, e.g. --at x=1.5")
        if name not in names:
            raise GradError(f"--at {name}: {spec} has no parameter named '{name}'",
                            hint=did_you_mean(name, names) or "parameters: " + ", ".join(names))
        value = expression_value(text, name, seed)
        given[name] = value[()] if getattr(value, "ndim", 1) == 0 else value
    empty = inspect.Parameter.empty
    needed = [k for k, p in enumerate(params) if p.default is empty or p.name in given]
    args, wrt = [], []
    for k, p in enumerate(params[: max(needed, default=-1) + 1]):
        if p.name in given:
            args.append(given[p.name])
        elif p.default is not empty:
            args.append(p.default)
        else:
            raise GradError(f"--python {spec}: parameter '{p.name}' has no value",
                            hint=f"give it with --at {p.name}=VALUE")
        if p.default is empty:
            wrt.append(k)
    if not wrt:
        raise GradError(f"--python {spec}: every parameter has a default: nothing to differentiate",
                        hint="the parameters without a default are differentiated; those with one are held fixed")
    return args, wrt


def user_error(err: BaseException, context: str) -> GradError:
    """The user's code raised: its exception and the innermost line of the user's own code."""
    gradcli_dir = str(Path(__file__).resolve().parent.parent)
    frames = [fr for fr in traceback.extract_tb(err.__traceback__)
              if not str(Path(fr.filename).resolve()).startswith(gradcli_dir)
              and "importlib" not in fr.filename]
    where = ""
    if frames:
        fr = frames[-1]
        where = f"\n  at {fr.filename}:{fr.lineno} in {fr.name}" + (f": {fr.line}" if fr.line else "")
    notes = "".join(f"\n  {n}" for n in getattr(err, "__notes__", []))
    message = f"{type(err).__name__}: {err}".rstrip(": ")
    return GradError(f"{context}: {message}{where}{notes}")
