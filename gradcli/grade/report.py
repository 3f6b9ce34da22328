"""Result objects: items inside tasks inside exercises inside students. Nothing here computes."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Item:
    name: str                 # what was asked: "d(f)/d(x)", "partial(w3, w1)", "f (value)"
    passed: bool
    feedback: str = ""        # for a failed item: where, expected vs given, and the note
    note: str | None = None   # a short answer note naming the mistake: "sign-error", ...


@dataclass
class TaskResult:
    kind: str
    max_score: float
    items: list[Item] = field(default_factory=list)

    @property
    def score(self) -> float:
        if not self.items:
            return 0.0
        passed = sum(1 for i in self.items if i.passed)
        return round(self.max_score * passed / len(self.items), 4)

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

    @property
    def max_score(self) -> float:
        return round(sum(m for _, _, m in self.exercises), 4)

    @property
    def passed(self) -> bool:
        return all(s.passed for s in self.students)
