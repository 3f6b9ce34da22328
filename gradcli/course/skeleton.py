"""`gradcli init`: a course repository, from the shipped lecture exercises or the course's own.

The instructors' repository (the default) keeps the solutions and its CI self-tests them;
the students' repository (`students=True`) has no solutions and its CI grades the answers.
Both get a README, a GitHub Actions workflow, a GitLab CI file and tools/, from which CI,
Gradescope and students install gradcli (tools/requirements.txt: the wheel of the running
gradcli, or a pip requirement such as a git URL).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from string import Template

from .. import __version__, shipped
from ..numbers import num
from .files import File, exercise_files, load_exercises, template, tools

WORKFLOW = ".github/workflows/grade.yml"   # one name, whichever the job (as .gitlab-ci.yml)


@dataclass
class Skeleton:
    files: list[File]
    exercises: list          # grade.exercise.Exercise, in order
    students: bool


def plan(source: str | Path | None = None, students: bool = False, install: str | None = None) -> Skeleton:
    """Every file of the skeleton (nothing is written); GradError for bad exercises or --install."""
    exercises = load_exercises(shipped.path("exercises") if source is None else source)
    who = "students" if students else "instructors"
    files = [*exercise_files(exercises, solutions=not students),
             File(WORKFLOW, template(f"github-{who}.yml").encode()),
             File(".gitlab-ci.yml", template(f"gitlab-{who}.yml").encode()),
             File("README.md", readme(exercises, students).encode()),
             *tools(install)]
    return Skeleton(files, exercises, students)


def readme(exercises, students: bool) -> str:
    rows = "\n".join(f"| `{ex.id}` | {_cell(ex.title)} | {num(ex.max_score)} |" for ex in exercises)
    more = Template(template("readme-students.md" if students else "readme-staff.md"))
    return Template(template("readme.md")).substitute(
        exercises=rows, first=exercises[0].id, more=more.substitute(version=__version__))


def _cell(text: str) -> str:
    """Text for a Markdown table cell: one line, no column breaks."""
    return " ".join(text.split()).replace("|", "\\|")
