"""What `init` and `bundle` share: files to write (exercises, templates, tools/ with gradcli),
written all or none, or zipped deterministically."""

from __future__ import annotations

import os
import zipfile
from dataclasses import dataclass
from pathlib import Path

from .. import __version__
from ..errors import GradError

TEMPLATES = Path(__file__).resolve().parent / "templates"
EPOCH = (1980, 1, 1, 0, 0, 0)  # the earliest time a zip entry can hold

REQUIREMENTS = """\
# How this course installs gradcli: CI, the Gradescope autograder and students run
#   python -m pip install -r tools/requirements.txt
# from the repository's root (pip reads the path below relative to the current folder).
# Written by gradcli {version}. To install gradcli from a git repository instead, replace
# the last line with a requirement such as
#   gradcli @ git+https://github.com/OWNER/gradcli@v{version}
{line}
"""


@dataclass(frozen=True)
class File:
    path: str              # POSIX path relative to the course's (or the zip's) root
    data: bytes
    executable: bool = False


def template(name: str) -> str:
    return (TEMPLATES / name).read_text(encoding="utf-8")


def walk(folder: Path):
    """(relative POSIX path, file) under folder, sorted; no caches, no hidden files, no links
    to folders."""
    for dirpath, dirnames, filenames in os.walk(folder):
        dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith("."))
        for name in sorted(filenames):
            path = Path(dirpath) / name
            if name.startswith(".") or name.endswith((".pyc", ".pyo", ".lark.cache")) or not path.is_file():
                continue
            yield path.relative_to(folder).as_posix(), path


def load_exercises(source: str | Path):
    """The exercises under source, validated as `grade` does (GradError, exit 2, for a bad one)."""
    from ..grade.runner import load_all

    return load_all(source)


def exercise_files(exercises, solutions: bool) -> list[File]:
    """exercises/ID/... for every exercise: all its files, the solution only if `solutions`."""
    from ..grade.exercise import SOLUTION

    out = []
    for ex in exercises:
        for rel, path in walk(ex.folder):
            if rel == SOLUTION and not solutions:
                continue
            out.append(File(f"exercises/{ex.id}/{rel}", path.read_bytes()))
    return out


def tools(install: str | None = None) -> list[File]:
    """tools/requirements.txt and the wheel of the running gradcli it names; with `install`
    (a pip requirement, such as a git URL), that requirement and no wheel."""
    if install is None:
        from . import wheel

        name, data = wheel.build()
        files, line = [File(f"tools/{name}", data)], f"./tools/{name}"
    else:
        line = install.strip()
        if not line or "\n" in line or "\r" in line:
            raise GradError(f"--install {install!r}: one pip requirement on one line",
                            hint="e.g. --install 'gradcli @ git+https://github.com/OWNER/gradcli@v0.1.0'")
        files = []
    text = REQUIREMENTS.format(version=__version__, line=line)
    return files + [File("tools/requirements.txt", text.encode())]


def write_new(root: Path, files: list[File]) -> None:
    """Write every file under root, or none: a file already there (or a file where a folder
    must go) is refused with the list of them."""
    clashes = []
    if os.path.lexists(root) and not root.is_dir():
        clashes.append(str(root))
    for f in files:
        target = root / f.path
        if os.path.lexists(target):
            clashes.append(f.path)
            continue
        for parent in reversed(Path(f.path).parents[:-1]):
            where = root / parent
            if os.path.lexists(where) and not where.is_dir():
                clashes.append(parent.as_posix())
                break
    if clashes:
        unique = sorted(set(clashes))
        shown = ", ".join(unique[:5]) + (f" and {len(unique) - 5} more" if len(unique) > 5 else "")
        raise GradError(f"{root}: {shown} already exist{'s' if len(unique) == 1 else ''}; nothing written",
                        hint="gradcli init writes only new files: give a new folder, or move those away")
    made: list[Path] = []  # files and folders this call created, to take back if one write fails
    try:
        for f in files:
            target = root / f.path
            missing = [p for p in reversed([target.parent, *target.parent.parents]) if not p.exists()]
            for folder in missing:
                folder.mkdir()
                made.append(folder)
            with open(target, "xb") as fh:  # x: never over a file that appeared meanwhile
                made.append(target)
                fh.write(f.data)
            if f.executable:
                target.chmod(0o755)
    except OSError as err:
        for path in reversed(made):
            try:
                path.rmdir() if path.is_dir() else path.unlink()
            except OSError:
                pass
        where = err.filename or root
        raise GradError(f"cannot write {where}: {err.strerror or err}; nothing written") from None


def zip_bytes(files: list[File], keep_order: bool = False) -> bytes:
    """A zip of files, deterministic: sorted by path (unless keep_order), fixed timestamps
    and modes."""
    import io

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as zf:
        for f in files if keep_order else sorted(files, key=lambda f: f.path):
            info = zipfile.ZipInfo(f.path, EPOCH)
            info.external_attr = (0o100755 if f.executable else 0o100644) << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, f.data)
    return out.getvalue()
