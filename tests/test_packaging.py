"""A non-editable install works from any directory: the grammar ships inside the wheel."""

import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_wheel_ships_the_grammar_and_runs_from_anywhere(tmp_path):
    dist = tmp_path / "dist"
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(dist), str(ROOT)],
                   check=True, capture_output=True)
    wheel = next(dist.glob("gradcli-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    assert "gradcli/grammars/gradcli.lark" in names
    assert {"gradcli/graph/page/page.js", "gradcli/graph/page/page.css"} <= set(names)  # --format html
    assert not any(n.startswith(("tests/", "grammars/")) for n in names)
    site = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
                   check=True, capture_output=True)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    example = elsewhere / "o.grad"
    example.write_text("input x = 2\ninput y = 1\no = (x + y)*sin(x)\n")
    env = {**os.environ, "PYTHONPATH": str(site), "XDG_CACHE_HOME": str(tmp_path / "cache")}
    where = subprocess.run([sys.executable, "-P", "-c", "import gradcli; print(gradcli.__file__)"],
                           cwd=elsewhere, env=env, capture_output=True, text=True, check=True)
    assert where.stdout.startswith(str(site))
    result = subprocess.run([sys.executable, "-P", "-m", "gradcli", "eval", "o.grad", "--format", "json"],
                            cwd=elsewhere, env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["outputs"]["o"]["value"] == 3 * 0.9092974268256817
    page = subprocess.run([sys.executable, "-P", "-m", "gradcli", "graph", "o.grad", "--format", "html"],
                          cwd=elsewhere, env=env, capture_output=True, text=True)
    assert page.returncode == 0, page.stderr
    assert "function go(j)" in page.stdout and ".gc-node" in page.stdout   # script and style inlined
