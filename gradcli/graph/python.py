"""`graph --format python`: the graph as the straight-line Python the engine compiles.

One module per file: a function computing every value (forward) and then every adjoint
d(out)/d(node) from the output back to the inputs (reverse mode), and with `--mode
forward` a second one carrying tangents d(node)/d(x) beside the values, as google/tangent
prints derivative code.  The lines come from the same templates as the compiled kernels
(autodiff/compile.py): a node's value is `v<id>`, its adjoint `g<id>`, its tangent
`t<id>`.  The file's own names appear only in comments, never as identifiers (a name
could be a Python keyword, and Python folds Unicode names together).  The module runs:
`python graph.py` prints the values at the point gradcli used.
"""

from __future__ import annotations

import re

import numpy as np

from ..autodiff import compile as jit
from ..autodiff.engine import plan
from .view import GraphView, fmt

WIDTH = 44          # comments start in this column (later after a longer line)


def _literal(value) -> str:
    """A value as Python source that gives it back exactly."""
    a = np.asarray(value, dtype=float)
    if a.ndim == 0:
        return repr(float(a))
    return f"np.array({a.tolist()!r})"


def _line(code: str, comment: str | None = None, indent: str = "    ") -> str:
    code = indent + code
    if not comment:
        return code
    return f"{code.ljust(WIDTH)}  # {comment}" if len(code) < WIDTH else f"{code}  # {comment}"


def _imports(body: str, scalar: bool) -> list[str]:
    called = set(re.findall(r"(?<![\w.])([A-Za-z_]\w*)(?=\()", body))
    out = []
    maths = sorted(called & set(jit.MATH))
    if maths:
        out.append(f"from math import {', '.join(maths)}")
    if not scalar or "np." in body:
        out.append("import numpy as np")
    helpers = sorted(called & set(jit.HELPERS))
    if helpers:
        out.append(f"from gradcli.autodiff.ops import {', '.join(helpers)}")
    rules = sorted(n for n in called if n.startswith("op_"))
    if "_fit" in called:
        out.append("from gradcli.autodiff.compile import _fit")
    if rules:
        out.append("from gradcli.autodiff.ops import OPS   # the op table's own rules, for ops with no formula")
        for name in rules:
            m = jit._RULE.match(name)
            op, kind, k = m.group(1), m.group(2), m.group(3)
            what = {None: ".fwd", "vjp": f".vjp_rule({k})", "jvp": f".jvp_rule({k})",
                    "d": f".partials[{k}]"}[kind]
            out.append(f"{name} = OPS[{op!r}]{what}")
    return out


def render(gv: GraphView) -> str:
    program, vals = gv.program, gv.vals
    nodes = program.nodes
    names = [n.name for n in gv.nodes]
    out = gv.output_id
    p = plan(program)
    scalar = p.scalar_ok and all(np.ndim(vals[i]) == 0 for i in program.inputs)
    low = jit.Lower(program, vals, scalar)
    inputs = program.inputs
    params = ", ".join(f"v{i}" for i in inputs)
    adj_of = gv.out
    consts = [n for n in nodes[: out + 1] if n.kind == "const"]

    def const_lines():
        return [_line(f"v{n.id} = {_literal(vals[n.id])}",
                      f"{names[n.id]}" + (" (a number in the file)" if gv.nodes[n.id].literal else " (const)"))
                for n in consts]

    def value_line(target, expr, i):
        row = gv.nodes[i]
        return _line(f"{target} = {expr}", f"{row.name} = {row.expr}")

    # ---- reverse mode
    body = [*const_lines(), "# forward: the value of every node"]
    for target, expr, i in low.forward_lines(stop=out):
        body.append(value_line(target, expr, i))
    seed = "1.0" if np.ndim(vals[out]) == 0 else f"np.ones({tuple(np.shape(vals[out]))})"
    body.append(f"# reverse: g<id> = d({adj_of})/d(node), from the output back to the inputs")
    body.append(_line(f"g{out} = {seed}", f"d({adj_of})/d({names[out]})"))
    lines, held = low.backward_lines(out, p.live, seed=f"g{out}", alias=False)
    seen = {out}
    for target, expr, i, k in lines:
        a = nodes[i].args[k]
        d = f"d({adj_of})/d({names[a]})"
        via = f"d({adj_of})/d({names[i]}) · ∂{names[i]}/∂{names[a]}"
        body.append(_line(f"{target} = {expr}", f"{d} {'+=' if a in seen else '='} {via}"))
        seen.add(a)
    grads = ", ".join(held[i] or _zero(vals[i]) for i in inputs)
    body.append(_line(f"return v{out}, ({grads}{',' if len(inputs) == 1 else ''})",
                      f"{names[out]}, ({', '.join(f'd({adj_of})/d({names[i]})' for i in inputs)})"))
    point = ", ".join(f"{names[i]} = {fmt(vals[i])}" for i in inputs)
    doc = (f'"""{names[out]} and d({adj_of})/d(input) for each input, at ({params}) = '
           f'({", ".join(names[i] for i in inputs)})."""')
    functions = [f"def value_and_gradient({params}):", "    " + doc, *("    " + b if b.startswith("#") else b
                                                                         for b in body)]

    # ---- forward mode
    if gv.mode == "forward" and gv.wrt:
        wrt = [i for i in inputs if names[i] in gv.wrt]
        tparams = ", ".join(f"t{i}" for i in wrt)
        tlines, theld = low.tangent_lines(wrt, out, alias=False)
        by_node: dict[int, list] = {}
        for target, expr, i, k in tlines:
            by_node.setdefault(i, []).append((target, expr, k))
        fbody = [*const_lines(),
                 f"# each node's value v<id>, then its tangent t<id> = d(node)/d({', '.join(gv.wrt)}) "
                 "along the direction given"]
        for target, expr, i in low.forward_lines(stop=out):
            fbody.append(value_line(target, expr, i))
            for j, (tt, te, k) in enumerate(by_node.get(i, [])):
                a = nodes[i].args[k]
                fbody.append(_line(f"{tt} = {te}", f"d({names[i]}) {'+=' if j else '='} "
                                                   f"d({names[a]}) · ∂{names[i]}/∂{names[a]}"))
        fbody.append(_line(f"return v{out}, {theld[out] or _zero(vals[out])}",
                           f"{names[out]}, its tangent"))
        functions += ["", "", f"def value_and_tangent({params}, {tparams}):",
                      f'    """{names[out]} and its directional derivative: t<id> is the tangent of '
                      f'{", ".join(gv.wrt)} ({tparams})."""',
                      *("    " + b if b.startswith("#") else b for b in fbody)]

    main = ["", "", 'if __name__ == "__main__":', f"    # the point gradcli used: {point}",
            f"    point = ({', '.join(_literal(vals[i]) for i in inputs)}{',' if len(inputs) == 1 else ''})",
            "    value, gradient = value_and_gradient(*point)",
            f"    print({(names[out] + ' =')!r}, value)"]
    for j, i in enumerate(inputs):
        main.append(f"    print({f'd({adj_of})/d({names[i]}) =' !r}, gradient[{j}])")
    if gv.mode == "forward" and gv.wrt:
        for i in [i for i in inputs if names[i] in gv.wrt]:
            ones = ", ".join(("1.0" if np.ndim(vals[i]) == 0 else f"np.ones({tuple(np.shape(vals[i]))})")
                             if x == i else "0.0" for x in wrt)
            what = f"d({names[out]})/d({names[i]}) by forward mode" + \
                ("" if np.ndim(vals[i]) == 0 else f", along ones({np.shape(vals[i])})")
            main.append(f"    print({what + ' =' !r}, value_and_tangent(*point, {ones})[1])")

    code = "\n".join(functions + main)
    head = [f"# gradcli graph {gv.file} --format python",
            f"# {names[out]} and its derivatives as straight-line Python: v<id> is a node's value, "
            f"g<id> its adjoint d({adj_of})/d(node)" + (",\n# t<id> its tangent" if gv.mode == "forward" else "")
            + "; the file's own names are in the comments.",
            *_imports(code, scalar), "", "", ""]
    return "\n".join(head) + code + "\n"


def _zero(value) -> str:
    """A derivative that no path carries."""
    return "0.0" if np.ndim(value) == 0 else f"np.zeros({tuple(np.shape(value))})"
