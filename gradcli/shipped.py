"""Where the data gradcli ships is: the grammar, the lecture exercises, the examples.

The repository keeps them at its top (grammars/, exercises/, examples/); the wheel maps
them into the package at build time as gradcli/data/NAME (pyproject.toml's
force-include). `path(NAME)` finds them in either place, so commands, tests and
`gradcli init` never care which they run from.
"""

from __future__ import annotations

from pathlib import Path

PACKAGE = Path(__file__).resolve().parent
NAMES = ("grammars", "exercises", "examples")


def root() -> Path:
    """The folder holding grammars/, exercises/ and examples/.

    An installed package has gradcli/data; a checkout has them next to the package,
    under the pyproject.toml that builds it. Nothing else is searched: a folder called
    examples/ in site-packages belongs to some other distribution.
    """
    installed = PACKAGE / "data"
    if installed.is_dir():
        return installed
    if (PACKAGE.parent / "pyproject.toml").is_file():
        return PACKAGE.parent
    raise FileNotFoundError(f"gradcli's shipped data is missing: no {installed} "
                            "(reinstall gradcli, or run it from a checkout)")


def path(name: str) -> Path:
    """The shipped folder `name` (one of NAMES)."""
    if name not in NAMES:
        raise ValueError(f"{name!r} is not shipped; one of {', '.join(NAMES)}")
    return root() / name


def in_checkout() -> bool:
    """Is this gradcli running from a source checkout (not from an installed wheel)?"""
    return root() != PACKAGE / "data"


def examples() -> dict[str, Path]:
    """Shipped example name (file stem) -> path, sorted by name."""
    return {p.stem: p for p in sorted(path("examples").glob("*.grad"))}


def example(name: str) -> Path:
    """The shipped example NAME (`lecture_sin` or `lecture_sin.grad`); KeyError lists near names."""
    found = examples()
    stem = name[:-5] if name.endswith(".grad") else name
    if stem not in found:
        raise KeyError(stem)
    return found[stem]
