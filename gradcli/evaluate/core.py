"""`eval`: the values of the outputs and their gradients (Jacobians) at one point."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..autodiff import engine
from ..errors import GradError, did_you_mean
from ..language.program import Program, bind, load, no_gc


@dataclass
class OutputResult:
    name: str
    value: object                 # float or ndarray
    grad: dict[str, object]       # input name -> gradient (output.shape + input.shape)


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
    vals = engine.forward(program, point)
    engine.require_finite(program, vals, program.outputs)
    results = []
    for out in program.outputs:
        grads = engine.jacobian(program, vals, out, wrt, mode)
        require_finite_grads(program, vals, out, grads)
        results.append(OutputResult(program.nodes[out].name, vals[out],
                                    {program.nodes[x].name: g for x, g in grads.items()}))
    return results


def require_finite_grads(program, vals, out, grads):
    """A gradient that is NaN or infinite: name the node whose local derivative blew up."""
    if all(np.all(np.isfinite(g)) for g in grads.values()):
        return
    adj = engine.backward(program, vals, out, seed=np.ones_like(vals[out]))
    for node in program.nodes[: program.n_main]:
        g = adj[node.id]
        if node.kind == "op" and g is not None and np.all(np.isfinite(g)):
            if any(adj[a] is not None and not np.all(np.isfinite(adj[a])) for a in node.args):
                text = program.source.text[node.start:node.end]
                raise program.error(f"the derivative of `{text}` is not finite at this point", node,
                                    hint="the function is not differentiable here (e.g. sqrt at 0); "
                                         "choose another point with --at")
    raise GradError(f"a gradient of {program.nodes[out].name} is not finite at this point")


def run(path: str, at=(), seed: int = 0, wrt: str | None = None, mode: str = "reverse") -> EvalReport:
    with no_gc():
        program = load(path, seed)
        point = bind(program, at, seed)
        ids = select_inputs(program, wrt)
        outputs = evaluate(program, point, ids, mode)
    names = {program.nodes[i].name: point[i] for i in program.inputs}
    return EvalReport(program.source.name, names, outputs, mode)   # the path as errors show it
