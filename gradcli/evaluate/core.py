"""`eval`: the values of the outputs and their gradients (Jacobians) at one point."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..autodiff import engine
from ..errors import GradError, did_you_mean
from ..language.program import Program


class Grads(Mapping):
    """Gradients by input name: a read-only mapping over the engine's list, made in O(1)
    (a file may have ten thousand inputs; a dict of them would cost more than the pass)."""

    __slots__ = ("_index", "_values")

    def __init__(self, index: dict, values: list):
        self._index, self._values = index, values     # name -> position; gradients

    def __getitem__(self, name):
        return self._values[self._index[name]]

    def __iter__(self):
        return iter(self._index)

    def __len__(self):
        return len(self._index)

    def __repr__(self):
        return repr(dict(self.items()))


@dataclass
class OutputResult:
    name: str
    value: object                 # float or ndarray
    grad: Mapping[str, object]    # input name -> gradient (output.shape + input.shape)


@dataclass
class EvalReport:
    file: str
    point: dict[str, object]
    outputs: list[OutputResult]
    mode: str


def select_inputs(program: Program, wrt: str | None) -> list[int]:
    """`--wrt x,y` as input ids (default: every input)."""
    if not wrt:
        return list(program.inputs)
    ids = []
    inputs = {program.nodes[i].name: i for i in program.inputs}
    for name in (w.strip() for w in wrt.split(",")):
        if name not in inputs:
            raise GradError(f"--wrt {name}: no input named '{name}' in {program.source.name}",
                            hint=did_you_mean(name, inputs) or "inputs: " + ", ".join(inputs))
        ids.append(inputs[name])
    return ids


def evaluate(program: Program, point: dict, wrt: list[int], mode: str = "reverse") -> list[OutputResult]:
    """The outputs' values and their Jacobians w.r.t. the inputs `wrt`, at `point`.

    A scalar is a float; GradError (exit 2) where a value or a derivative is not finite."""
    vals = engine.forward(program, point)
    engine.require_finite(program, vals, program.outputs)
    index = input_index(program, wrt)
    results = []
    for out in program.outputs:
        grads = engine.gradients(program, vals, out, wrt, mode)
        require_finite_grads(program, vals, out, grads)
        results.append(OutputResult(program.nodes[out].name, vals[out], Grads(index, grads)))
    return results


def input_index(program: Program, wrt: list[int]) -> dict[str, int]:
    """{name: position} of the inputs `wrt` (kept on the program for all of them)."""
    if wrt == program.inputs:
        index = program.__dict__.get("_input_index")
        if index is None:
            index = program._input_index = {program.nodes[x].name: k for k, x in enumerate(wrt)}
        return index
    return {program.nodes[x].name: k for k, x in enumerate(wrt)}


def require_finite_grads(program, vals, out, grads):
    """A gradient that is NaN or infinite (grads: a list, or a dict by input): name the node
    whose local derivative blew up."""
    if engine.all_finite(grads.values() if isinstance(grads, dict) else grads):
        return
    adj = engine.backward(program, vals, out, seed=np.ones(np.shape(vals[out])), exact=True)
    for node in program.nodes[: program.n_main]:
        g = adj[node.id]
        if node.kind == "op" and g is not None and np.all(np.isfinite(g)):
            if any(adj[a] is not None and not np.all(np.isfinite(adj[a])) for a in node.args):
                text = program.source.text[node.start:node.end]
                raise program.error(f"the derivative of `{text}` is not finite at this point", node,
                                    hint="the function is not differentiable here (e.g. sqrt at 0); "
                                         "choose another point with --at")
    raise GradError(f"a gradient of {program.nodes[out].name} is not finite at this point")
