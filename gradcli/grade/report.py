"""Result objects: items inside tasks inside exercises inside students. Nothing here computes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Item:
    name: str                 # what was asked: "d(f)/d(x)", "partial(w3, w1)", "value of f"
    passed: bool
    feedback: str = ""        # for a failed item: where, expected vs given, what was written, the note
    note: str | None = None   # a short answer note naming the mistake: "sign-error", ...
    graded_in: str | None = None   # asked here too, but scored in that (earlier) task
    extra: bool = False       # worth 0 points: a claim no task asks for, a line with an error

    @property
    def scored(self) -> bool:
        return self.graded_in is None and not self.extra


@dataclass
class TaskResult:
    kind: str
    max_score: float
    items: list[Item] = field(default_factory=list)
    visibility: str | None = None

    @property
    def score(self) -> float:
        """The points shared equally among the items scored here; a task all of whose items are
        scored in earlier tasks follows their results (it gives no points of its own for free)."""
        own = [i for i in self.items if i.scored]
        if not own:
            own = [i for i in self.items if i.graded_in is not None]
        if not own or not self.max_score:
            return 0.0
        passed = sum(1 for i in own if i.passed)
        return round(self.max_score * passed / len(own), 4)

    @property
    def right(self) -> tuple[int, int]:
        """(items right, items) of those scored here."""
        own = [i for i in self.items if i.scored] or [i for i in self.items if i.graded_in is not None]
        return sum(1 for i in own if i.passed), len(own)

    @property
    def passed(self) -> bool:
        return bool(self.items) and all(i.passed for i in self.items)


@dataclass
class ExerciseResult:
    id: str
    title: str
    max_score: float
    tasks: list[TaskResult] = field(default_factory=list)
    answer: str | None = None     # the answer file graded (None: not found)
    error: str | None = None      # the answer could not be graded at all (rendered, with line)
    regrade: bool = False         # the grader itself failed (its process died): grade it again
    found: str | None = None      # the answer was not where expected: where it was found, and that it was used

    @property
    def score(self) -> float:
        return round(sum(t.score for t in self.tasks), 4)

    @property
    def passed(self) -> bool:
        return self.error is None and all(t.passed for t in self.tasks)


@dataclass
class StudentResult:
    id: str
    exercises: list[ExerciseResult]

    @property
    def score(self) -> float:
        return round(sum(e.score for e in self.exercises), 4)

    @property
    def max_score(self) -> float:
        return round(sum(e.max_score for e in self.exercises), 4)

    @property
    def passed(self) -> bool:
        return all(e.passed for e in self.exercises)

    @property
    def regrade(self) -> bool:
        return any(e.regrade for e in self.exercises)


@dataclass
class Gradebook:
    exercises: list[tuple[str, str, float]]   # (id, title, max_score), in order
    students: list[StudentResult]
    single: bool = True                       # one student's answers, not --submissions
    folder: str | None = None                 # that student's folder (--answers DIR), as given

    @property
    def max_score(self) -> float:
        return round(sum(m for _, _, m in self.exercises), 4)

    @property
    def score(self) -> float:
        """The student's score (for a class, --submissions: the mean score)."""
        return round(sum(s.score for s in self.students) / max(1, len(self.students)), 4)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.students)

    def render(self, format: str = "table") -> str:
        """The report as `gradcli grade --format FORMAT` writes it: table (plain text), json,
        junit, gradescope (one student), csv or markdown."""
        from . import formats

        format = "table" if format == "text" else format
        if format not in formats.FORMATS:
            raise ValueError(f"format {format!r}: choose {', '.join(formats.FORMATS)}")
        if format == "gradescope" and not self.single:
            raise ValueError("the gradescope format reports on one student, not a class")
        return formats.FORMATS[format](self)
