"""A non-editable install works from any directory: the grammar, the exercises and the examples
ship inside the wheel (gradcli/data/), found there by gradcli.shipped; the sdist has the docs."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def shipped_files(top: str) -> set[str]:
    """Every file of the checkout's top-level folder `top`, as named in the wheel."""
    return {f"gradcli/data/{p.relative_to(ROOT).as_posix()}" for p in (ROOT / top).rglob("*")
            if p.is_file() and "__pycache__" not in p.parts}


def test_wheel_ships_the_data_and_runs_from_anywhere(tmp_path, built_wheel):
    names = set(zipfile.ZipFile(built_wheel).namelist())
    for top in ("grammars", "exercises", "examples"):
        assert shipped_files(top) and shipped_files(top) <= names, top
    assert any(n.endswith("/solution.grad") for n in names)        # solutions ship: init needs them
    assert "gradcli-0.1.0.dist-info/licenses/LICENSE" in names
    assert {"gradcli/graph/page/page.js", "gradcli/graph/page/page.css"} <= names  # --format html
    assert "gradcli/py.typed" in names                                  # a typed package
    text = zipfile.ZipFile(built_wheel).read("gradcli-0.1.0.dist-info/entry_points.txt").decode()
    assert "[pytest11]\ngradcli = gradcli.plugin" in text                # the pytest plugin
    assert not any(n.startswith(("tests/", "grammars/", "exercises/", "examples/", "docs/")) for n in names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site),
                    str(built_wheel)], check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    example = elsewhere / "o.grad"
    example.write_text("input x = 2\ninput y = 1\no = (x + y)*sin(x)\n")
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    where = subprocess.run([sys.executable, "-P", "-c", "import gradcli.shipped as s; print(s.root())"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.strip() == str(site / "gradcli" / "data")
    result = subprocess.run([sys.executable, "-P", "-m", "gradcli", "eval", "o.grad", "--format", "json"],
                            cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["o"]["value"] == 3 * 0.9092974268256817
    page = subprocess.run([sys.executable, "-P", "-m", "gradcli", "graph", "o.grad", "--format", "html"],
                          cwd=elsewhere, env=env, capture_output=True, text=True)
    assert page.returncode == 0, page.stderr
    assert "function go(j)" in page.stdout and ".gc-node" in page.stdout   # script and style inlined
    # A shipped example, with no clone in reach.
    result = subprocess.run([sys.executable, "-P", "-m", "gradcli", "eval", "--example", "linear_z",
                             "--format", "json"], cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["z"]["value"] == 16.5


def test_sdist_ships_the_docs_the_license_and_the_data(tmp_path):
    out = subprocess.run([sys.executable, "-c", "import sys; from hatchling.build import build_sdist; "
                          "print(build_sdist(sys.argv[1]))", str(tmp_path)],
                         cwd=ROOT, check=True, capture_output=True, text=True).stdout.split()[-1]
    import tarfile

    with tarfile.open(tmp_path / out) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    docs = {p.relative_to(ROOT).as_posix() for p in (ROOT / "docs").rglob("*") if p.is_file()}
    assert docs and docs <= names
    assert {"LICENSE", "README.md", "pyproject.toml", "grammars/gradcli.lark"} <= names
    assert {n for n in names if n.startswith("exercises/")} == {
        p.relative_to(ROOT).as_posix() for p in (ROOT / "exercises").rglob("*") if p.is_file()}


def test_license_is_mit_held_by_the_gradcli_authors():
    text = (ROOT / "LICENSE").read_text()
    assert text.startswith("MIT License") and "Copyright (c) 2026 the gradcli authors" in text
    assert 'license = "MIT"' in (ROOT / "pyproject.toml").read_text()
