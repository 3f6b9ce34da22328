"""A student's answer to a program: parsed, never executed; the problem's inputs in scope.

The answer's statements are parsed from the answer file itself (so every error
points at the student's line and column) and built after synthetic `input`
statements for the problem's inputs.  A student may declare them again (ignored)
but not other inputs.  Claims are lowered here rather than by the graph builder:
`d(f)/d(x) = ...` needs no node `f` in a derivative-only answer, and one bad claim
fails its own item only.  Limits: file size, bracket depth, nodes, tensor sizes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..autodiff import engine
from ..errors import GradError, Source
from ..language.program import Builder, Program
from ..language.syntax import parse, read_source
from .batch import Limits


@dataclass
class Claim:
    kind: str            # "total" | "partial"
    u: str
    v: str
    node: int | None     # the node holding the claimed value (None: the claim had an error)
    start: int
    end: int
    error: str | None = None
    live: bool = False   # depends on an input: a formula, not a number

    @property
    def key(self):
        return (self.kind, self.u, self.v)

    def text(self) -> str:
        return f"d({self.u})/d({self.v})" if self.kind == "total" else f"partial({self.u}, {self.v})"


@dataclass
class Answer:
    program: Program
    claims: dict[tuple, Claim]
    inputs: dict[str, int]                                    # problem input name -> id here
    graph: list[int] = field(default_factory=list)            # named op nodes depending on an input
    unnamed: list[int] = field(default_factory=list)          # op nodes of sub-expressions

    @property
    def source(self) -> Source:
        return self.program.source

    def node_id(self, name: str) -> int | None:
        nid = self.program.names.get(name)
        if nid is None or nid >= self.program.n_main:
            return None
        return nid


class _LimitedBuilder(Builder):
    """The graph builder with the grader's limits on nodes and tensor sizes."""

    def __init__(self, source, limits: Limits):
        super().__init__(source, 0)
        self.limits = limits

    def add(self, kind, name=None, op=None, args=(), params=(), start=0, end=0, value=None):
        if len(self.nodes) >= self.limits.max_nodes:
            raise self.error(f"the answer's graph grows beyond {self.limits.max_nodes:,} nodes", start, end,
                             hint="an answer is a small graph; a def calling defs expands exponentially")
        return super().add(kind, name, op, args, params, start, end, value)

    def initialise(self, ex, args, init):
        size = 1
        for a in args:
            value = getattr(a, "value", None)
            if value is not None and np.ndim(value) == 0 and np.isfinite(value):
                size *= max(int(value), 0)
        if size > self.limits.max_elements // 100:
            raise self.error(f"{ex[3]}(): the tensor is too large for an answer", ex[1], ex[2])
        return super().initialise(ex, args, init)

    def fold(self, op, args, params, start, end):
        from .batch import out_size

        n = out_size(op, [np.asarray(a.value)[None] for a in args])
        if n > self.limits.max_elements:
            raise self.error(f"this makes a value of {n:,} elements, too large for an answer", start, end)
        return super().fold(op, args, params, start, end)


def read_answer(path: str | Path, limits: Limits) -> Source:
    """Read an untrusted answer file: size limit, no binary, UTF-8 (GradError otherwise)."""
    return read_source(path, limits.max_bytes, untrusted=True)


def _check_depth(source: Source, limits: Limits) -> None:
    depth = 0
    for i, ch in enumerate(source.text):
        if ch in "([":
            depth += 1
            if depth > limits.max_depth:
                raise GradError(f"brackets nested more than {limits.max_depth} deep", source, i,
                                hint="an answer is a small graph; name sub-expressions")
        elif ch in ")]":
            depth -= 1


def build_answer(source: Source, inputs: list[str], limits: Limits) -> Answer:
    """Parse and build an answer with the problem's `inputs` in scope. GradError if it is bad."""
    if len(source.text) > limits.max_bytes:
        raise GradError(f"{source.name}: the answer is larger than {limits.max_bytes // 1024} KiB")
    _check_depth(source, limits)
    statements = parse(source)
    graph, claims = [], []
    has_output = False
    for st in statements:
        kind = st[0]
        if kind in ("claim_total", "claim_partial"):
            claims.append(st)
            continue
        if kind == "input":
            name = st[3]
            if name[0] in inputs:
                continue      # declaring a problem input again is allowed; its value is the grader's
            raise GradError(f"'{name[0]}' is not an input of this exercise", source, name[1], name[2],
                            hint="inputs: " + ", ".join(inputs) + " (they need no declaration)")
        if kind in ("const", "assign", "def") and st[3][0] in inputs:
            name = st[3]
            raise GradError(f"'{name[0]}' is an input of this exercise; choose another name", source,
                            name[1], name[2])
        if kind == "output":
            has_output = True
        graph.append(st)
    prelude = [("input", 0, 0, (name, 0, 0), None, None) for name in inputs]
    if not has_output:
        # The grader finds outputs by the problem's names; this keeps the builder from guessing one.
        graph.append(("output", 0, 0, [(inputs[0], 0, 0)]))
    builder = _LimitedBuilder(source, limits)
    with np.errstate(all="ignore"):
        program = builder.build(prelude + graph)
        return _finish(builder, program, claims, inputs)


def _finish(builder, program, claims, inputs) -> Answer:
    found: dict[tuple, Claim] = {}
    for st in claims:
        kind = "total" if st[0] == "claim_total" else "partial"
        claim = Claim(kind, st[3][0], st[4][0], None, st[1], st[2])
        try:
            claim.node = builder.node_of(builder.lower(st[5]))
        except GradError as err:
            if "nodes" in err.message and "grows beyond" in err.message:
                raise
            claim.error = err.render()
        except RecursionError:
            claim.error = f"{builder.source.name}: the claim {claim.text()} is nested too deeply"
        if claim.key not in found:
            found[claim.key] = claim
    plan = engine.plan(program)
    for claim in found.values():
        if claim.node is not None:
            claim.live = plan.live[claim.node]
    ids = {program.nodes[i].name: i for i in program.inputs}
    answer = Answer(program, found, ids)
    for node in program.nodes[: program.n_main]:
        if node.kind != "op":
            continue
        if node.generated:
            if plan.live[node.id]:
                answer.unnamed.append(node.id)
        elif plan.live[node.id]:
            answer.graph.append(node.id)
    return answer
