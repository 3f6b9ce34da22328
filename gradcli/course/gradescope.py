"""`gradcli bundle gradescope`: an autograder zip for Gradescope.

At the zip's root: setup.sh (Gradescope runs it once: a virtual environment with gradcli
from the wheel in tools/, only numpy, lark, click and rich from PyPI), run_autograder
(per submission, from inside the submission: `gradcli grade --answers . --format gradescope`
into results/results.json),
exercises/ without solutions, and tools/ (the wheel of the running gradcli and
requirements.txt naming it). Both scripts take their root from GRADCLI_AUTOGRADER_ROOT,
default /autograder, so the bundle can be tried on any machine.
"""

from __future__ import annotations

from pathlib import Path

from .files import File, exercise_files, load_exercises, template, tools, zip_bytes

SCRIPTS = ("setup.sh", "run_autograder")


def bundle(source: str | Path) -> tuple[bytes, list]:
    """(the zip's bytes, the exercises in it); GradError for bad exercises."""
    exercises = load_exercises(source)
    files = [File(name, template(f"gradescope/{name}").encode(), executable=True) for name in SCRIPTS]
    files += exercise_files(exercises, solutions=False)
    files += tools()
    return zip_bytes(files), exercises
