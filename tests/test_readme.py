"""The README opens with the two commands, and CI runs exactly the test command it gives."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def commands():
    return re.findall(r"```sh\n(.*?)\n```", (ROOT / "README.md").read_text(), re.S)


def test_readme_starts_with_install_run_and_install_test():
    first, second = commands()[:2]
    assert "pip install" in first and "gradcli eval examples/" in first
    assert "pip install" in second and "pytest" in second


def test_ci_runs_the_readme_test_command():
    ci = (ROOT / ".ci" / "run").read_text().strip().splitlines()
    assert ci[-1] == commands()[1]


def test_the_readme_example_exists():
    path = re.search(r"gradcli eval (examples/\S+)", commands()[0]).group(1)
    assert (ROOT / path).is_file()


def test_readme_is_short_and_its_links_resolve():
    text = (ROOT / "README.md").read_text()
    assert len(text.splitlines()) <= 300
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert "docs/ci.md" in links and "docs/install.md" in links
    for link in links:
        assert (ROOT / link).exists(), link
    for doc in (ROOT / "docs").glob("*.md"):
        for link in re.findall(r"\]\(([^)#:]+)\)", doc.read_text()):
            assert (doc.parent / link).exists(), f"{doc.name}: {link}"
