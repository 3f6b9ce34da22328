"""One answer being graded: what a task asks for (`Want`), the answer evaluated at the
exercise's points with its Jacobians on demand (`Context`), and how a value is compared
(`Test`: a number to significant figures, a formula by rtol/atol)."""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np

from ..autodiff import engine
from . import batch, notes, whatif
from .answer import Answer
from .batch import AnswerTimeout, Limits
from .exercise import Exercise


@dataclass
class Want:
    """A request to grade one claim (or a named value) of the answer."""
    key: tuple            # ("total" | "partial", u, v) or ("value", name)
    name: str             # as shown: "d(f)/d(x)", "partial(c, a)", "value of f"
    role: str             # output | tangent | adjoint | edge | value | graph
    ids: tuple = ()       # the nodes it is about (student's graph; the problem's for `output`)
    expected: object = None   # (B,)+shape, or a function giving it
    loose: bool = False   # an elementwise partial: a scalar may stand for every entry

    def value(self):
        if callable(self.expected):
            self.expected = self.expected()
        return self.expected


class Context:
    """The student's graph evaluated at the exercise's points; Jacobians on demand."""

    def __init__(self, ex: Exercise, ans: Answer, limits: Limits, deadline: float | None):
        self.ex, self.ans, self.limits, self.deadline = ex, ans, limits, deadline
        self.B = ex.B
        program = ans.program
        point = {ans.inputs[name]: ex.points[name] for name in ex.inputs}
        self.vals, errors, self.meter = batch.forward_tolerant(program, point, limits, deadline)
        ans.settle(self.vals, errors, ex.outputs)
        self.live = engine.plan(program).live
        self._tan: dict[int, list] = {}
        self._adj: dict[int, list] = {}
        self._ptan: dict[int, list] = {}
        self._ok: dict[str, bool] = {}
        self.asked: set = set()           # claim keys some task asks for
        self.scored: set = set()          # claim keys some task with points grades
        self.reported: set = set()        # broken lines whose error an item already shows
        self.consumed: set = set()        # claim keys an item already answers for

    def check_time(self):
        if self.deadline is not None and time.monotonic() > self.deadline:
            raise AnswerTimeout()

    def name(self, nid: int) -> str:
        return self.ans.program.describe(nid)

    def value_of(self, nid: int) -> np.ndarray:
        return batch.per_point(self.vals[nid], self.B)

    def output_shape_ok(self, o: str) -> bool:
        """The student's node named like the problem's output o has the problem's shape."""
        nid = self.ans.node_id(o)
        return nid is not None and np.shape(self.vals[nid])[1:] == self.ex.values[o].shape[1:]

    def output_ok(self, o: str) -> bool:
        """The student's o computes the problem's o at every point."""
        if o not in self._ok:
            nid = self.ans.node_id(o)
            self._ok[o] = (self.output_shape_ok(o) and self.live[nid]
                           and notes.close(self.ex.values[o], self.value_of(nid), slice(None),
                                           self.ex.rtol, self.ex.atol))
        return self._ok[o]

    def tangents(self, x: int) -> list:
        if x not in self._tan:
            self.check_time()
            self._tan[x] = batch.tangent_jacobians(self.ans.program, self.vals, x, self.B,
                                                   stop=self.ans.program.n_main - 1, limits=self.limits)
        return self._tan[x]

    def adjoints(self, o: int) -> list:
        if o not in self._adj:
            self.check_time()
            self._adj[o] = batch.adjoint_jacobians(self.ans.program, self.vals, o, self.B, self.limits)
        return self._adj[o]

    def problem_tangents(self, x: int) -> list:
        """d(w)/d(x) for every node of the problem."""
        if x not in self._ptan:
            self.check_time()
            self._ptan[x] = whatif.tangents(self.ex.program, self.ex.vals, self.B, x)[0]
        return self._ptan[x]

    def local(self, u: int, v: int):
        return batch.local_jacobian(self.ans.program, self.vals, u, v, self.B, self.limits)

    def student_outputs(self) -> list[int]:
        return [self.ans.node_id(o) for o in self.ex.outputs
                if self.ans.node_id(o) in self.ans.graph and self.output_shape_ok(o)]

    def student_id(self, pid: int) -> int | None:
        """The student's node for a node of the problem: the same input, or a node of theirs with
        the same values at every point (their node of the same name first)."""
        node = self.ex.program.nodes[pid]
        if node.kind == "input":
            return self.ans.inputs.get(node.name)
        target = batch.per_point(self.ex.vals[pid], self.B)
        own = self.ans.node_id(node.name) if not node.generated else None
        order = ([own] if own is not None and own in self.ans.graph else []) + self.ans.graph
        for nid in order:
            if np.shape(self.vals[nid])[1:] == target.shape[1:] and notes.close(
                    target, self.value_of(nid), slice(None), self.ex.rtol, self.ex.atol):
                return nid
        return None

    def problem_name(self, pid: int) -> str:
        """A node of the problem by the student's name for it, else the problem's own name (or text)."""
        nid = self.student_id(pid)
        return self.name(nid) if nid is not None else self.ex.program.describe(pid)

    def claim_right(self, key, expected) -> bool | None:
        """Is the student's claim `key` right (None: not claimed or not checkable)?"""
        claim = self.ans.claims.get(key)
        if claim is None or claim.node is None or expected is None:
            return None
        given = np.asarray(self.vals[claim.node], dtype=float)
        if given.shape[1:] != np.shape(expected)[1:]:
            return None
        test = Test(not claim.live, [0] if not claim.live else slice(None), self.ex, self.ex.sigfigs)
        return test.same(expected, given)



@dataclass
class Test:
    """How an item is compared: a number to sigfigs at the default point, a formula by
    rtol/atol at every point."""
    number: bool
    idx: object
    ex: Exercise
    sigfigs: int

    def ok(self, expected, given) -> np.ndarray:
        """Per point of idx: given matches expected (either may carry a batch axis of 1)."""
        e = np.asarray(expected, dtype=float)
        g = np.asarray(given, dtype=float)
        if self.number:
            e, g = e[:1], g[:1]
        with np.errstate(all="ignore"):
            if self.number:
                good = notes.sig_ok(np.broadcast_to(e, np.broadcast_shapes(e.shape, g.shape)), g, self.sigfigs)
            else:
                good = (np.abs(g - e) <= self.ex.atol + self.ex.rtol * np.abs(e)) | ~np.isfinite(e)
        return good.reshape(good.shape[0], -1).all(axis=1)

    def same(self, expected, given) -> bool:
        if np.shape(expected)[1:] != np.shape(given)[1:]:
            return False
        return bool(self.ok(expected, given).all())


