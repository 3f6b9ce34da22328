"""The running gradcli as a wheel: what `init` puts in a course repository and `bundle` in a zip.

No build backend, no network and no clone are needed: the wheel is assembled with
zipfile from the files of the running package (an installed wheel's own files, or a
checkout's package plus the data pyproject.toml maps into it) and the metadata of the
installed distribution (METADATA, entry points, license files), with a RECORD of
their hashes. It is deterministic (fixed timestamps, sorted entries), so a wheel
rebuilt from an installation of itself is byte-identical to it.
"""

from __future__ import annotations

import base64
import csv
import hashlib
import io
import tomllib
from pathlib import Path

from .. import __version__, shipped
from ..errors import GradError
from .files import File, walk, zip_bytes

NAME = "gradcli"


class WheelError(GradError):
    """The running gradcli cannot be packed (no distribution metadata for it)."""


def filename(version: str = __version__) -> str:
    return f"{NAME}-{version}-py3-none-any.whl"


def build() -> tuple[str, bytes]:
    """(file name, bytes) of a wheel of the running gradcli: the package, then its
    .dist-info, RECORD last."""
    entries = [(name, path.read_bytes()) for name, path in package_files()]
    entries += dist_info()
    record = io.StringIO()
    writer = csv.writer(record, lineterminator="\n")
    for name, data in entries:
        digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=").decode()
        writer.writerow([name, f"sha256={digest}", len(data)])
    record_name = f"{_dist_info_dir()}/RECORD"
    writer.writerow([record_name, "", ""])
    entries.append((record_name, record.getvalue().encode()))
    return filename(), zip_bytes([File(name, data) for name, data in entries], keep_order=True)


def package_files() -> list[tuple[str, Path]]:
    """(name in the wheel, file) for the package and its shipped data, sorted by name."""
    files = {f"{NAME}/{rel}": path for rel, path in walk(shipped.PACKAGE)}
    if shipped.in_checkout():
        # The checkout keeps the data at its top; map it as the wheel build does.
        root = shipped.root()
        for source, target in _force_include(root / "pyproject.toml").items():
            source_path = root / source
            if source_path.is_file():
                files[target] = source_path
            else:
                files.update({f"{target}/{rel}": path for rel, path in walk(source_path)})
    return sorted(files.items())


def dist_info() -> list[tuple[str, bytes]]:
    """METADATA, WHEEL, entry_points.txt and the license files (RECORD is added by build)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(NAME)
    except metadata.PackageNotFoundError:
        dist = None
    if dist is None or dist.version != __version__:
        found = "none" if dist is None else f"version {dist.version}"
        raise WheelError(f"gradcli {__version__} is running but its package metadata is {found}: "
                         "install gradcli with pip (pip install . in a checkout), or give a pip "
                         "requirement with --install")
    meta = dist.read_text("METADATA") or ""
    folder = _dist_info_dir()
    entries = [(f"{folder}/METADATA", meta.encode()),
               (f"{folder}/WHEEL", (f"Wheel-Version: 1.0\nGenerator: gradcli {__version__}\n"
                                    "Root-Is-Purelib: true\nTag: py3-none-any\n").encode())]
    points = dist.read_text("entry_points.txt")
    if points:
        entries.append((f"{folder}/entry_points.txt", points.encode()))
    for name in dist.metadata.get_all("License-File") or []:
        text = dist.read_text(f"licenses/{name}") or dist.read_text(name)
        if text is None and shipped.in_checkout() and (shipped.root() / name).is_file():
            text = (shipped.root() / name).read_text(encoding="utf-8")
        if text is None:
            raise WheelError(f"the license file {name} named in gradcli's METADATA is missing")
        entries.append((f"{folder}/licenses/{name}", text.encode()))
    return entries


def _dist_info_dir() -> str:
    return f"{NAME}-{__version__}.dist-info"


def _force_include(pyproject: Path) -> dict[str, str]:
    """pyproject.toml's map of checkout paths to wheel paths (hatch's force-include)."""
    config = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    targets = config.get("tool", {}).get("hatch", {}).get("build", {}).get("targets", {})
    return dict(targets.get("wheel", {}).get("force-include", {}))
