"""Benchmarks for the foundation (issue 2); run by hand, not in CI:

    python bench/bench_engine.py            # all
    python bench/bench_engine.py a d        # some

Prints each figure as a ratio against its floor, measured in the same run.
Generated files go to bench/out/ (ignored by git).
"""

from __future__ import annotations

import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from gradcli.autodiff import engine
from gradcli.errors import Source
from gradcli.language.program import bind, build

OUT = Path(__file__).resolve().parent / "out"
ROOT = Path(__file__).resolve().parent.parent


def best(fn, repeat=5):
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return min(times)


def chain_text(n: int) -> str:
    lines = ["input h0 = 0.5", "input w = 0.9"]
    lines += [f"h{t} = sin(h{t - 1})*w + h{t - 1}" for t in range(1, n + 1)]
    return "\n".join(lines) + "\n"


def plain_chain(n, h0=0.5, w=0.9):
    """Hand-written plain-Python forward + backward of the same chain."""
    hs = [h0]
    for _ in range(n):
        h = hs[-1]
        hs.append(math.sin(h) * w + h)
    gh, gw = 1.0, 0.0
    for t in range(n, 0, -1):
        h = hs[t - 1]
        gw += gh * math.sin(h)
        gh = gh * (math.cos(h) * w + 1.0)
    return hs[-1], gh, gw


def bench_a():
    print("(a) scalar chain h_t = sin(h_{t-1})*w + h_{t-1}: evaluation + reverse mode, one point")
    for n in (10**3, 10**4, 10**5):
        program = build(Source("chain", chain_text(n)))
        point = bind(program)
        out = program.outputs[0]

        def run():
            vals = engine.forward(program, point)
            engine.backward(program, vals, out)

        run()
        t = best(run, 3 if n >= 10**5 else 5)
        nodes = program.n_main
        t_plain = best(lambda: plain_chain(n))
        vals = engine.forward(program, point)
        adj = engine.backward(program, vals, out)
        ref = plain_chain(n)
        assert abs(adj[program.names["w"]] - ref[2]) <= 1e-9 * max(1, abs(ref[2]))
        print(f"    N={n:>6}: {nodes} nodes, {t / nodes * 1e6:.3f} us/node; plain Python "
              f"{t_plain / nodes * 1e6:.3f} us/node; ratio {t / t_plain:.1f}x")


def bench_b():
    print("(b) MLP L = sum(square(tanh(X@W1)@W2 - Y)), X 256x512, W1 512x512, W2 512x10")
    rng = np.random.default_rng(0)
    X, W1 = rng.standard_normal((256, 512)), rng.standard_normal((512, 512)) / 20
    W2, Y = rng.standard_normal((512, 10)) / 20, rng.standard_normal((256, 10))
    program = build(Source("mlp", "input X\ninput W1\ninput W2\ninput Y\n"
                                  "L = sum(square(tanh(X@W1)@W2 - Y))\n"))
    ids = {program.nodes[i].name: i for i in program.inputs}
    point = {ids["X"]: X, ids["W1"]: W1, ids["W2"]: W2, ids["Y"]: Y}
    out = program.outputs[0]
    wrt = [ids["W1"], ids["W2"]]

    def ours():
        vals = engine.forward(program, point)
        adj = engine.backward(program, vals, out, wrt=wrt)
        return adj[ids["W1"]], adj[ids["W2"]]

    def floor():
        H = np.tanh(X @ W1)
        R = H @ W2 - Y
        L = np.sum(np.square(R))
        gR = 2.0 * R
        gW2 = H.T @ gR
        gH = gR @ W2.T
        gW1 = X.T @ (gH * (1.0 - H * H))
        return L, gW1, gW2

    a, b = ours(), floor()
    assert np.allclose(a[0], b[1]) and np.allclose(a[1], b[2])
    t_ours = t_floor = float("inf")
    for _ in range(30):  # interleaved, so both see the same machine (BLAS threads, clocks)
        t_ours, t_floor = min(t_ours, best(ours, 1)), min(t_floor, best(floor, 1))
    print(f"    gradcli {t_ours * 1e3:.2f} ms, numpy by hand {t_floor * 1e3:.2f} ms: "
          f"ratio {t_ours / t_floor:.3f}x (gradients w.r.t. W1, W2)")


def bench_c():
    print("(c) wall time of `gradcli eval` on a small example vs `python -c 'import numpy, lark, rich, click'`")
    example = ROOT / "examples" / "lecture_sin.grad"
    env = dict(os.environ)
    cmd = [sys.executable, "-m", "gradcli", "eval", str(example)]
    floor_cmd = [sys.executable, "-c", "import numpy, lark, rich, click"]
    for c in (cmd, floor_cmd):  # warm the disk cache and the grammar cache
        subprocess.run(c, capture_output=True, env=env, check=True)
    t = best(lambda: subprocess.run(cmd, capture_output=True, env=env), 10)
    tf = best(lambda: subprocess.run(floor_cmd, capture_output=True, env=env), 10)
    print(f"    gradcli eval {t * 1e3:.0f} ms, import floor {tf * 1e3:.0f} ms: ratio {t / tf:.2f}x")


def bench_d():
    print("(d) `gradcli eval` of a 200,000-line generated file (the chain); cost vs size")
    OUT.mkdir(exist_ok=True)
    for n in (50_000, 100_000, 200_000):
        path = OUT / f"chain{n}.grad"
        if not path.exists():
            path.write_text(chain_text(n - 2))
        cmd = [sys.executable, "-m", "gradcli", "eval", str(path), "--format", "json"]
        t = best(lambda: subprocess.run(cmd, capture_output=True, check=True), 1 if n == 200_000 else 1)
        print(f"    {n:>7} lines ({path.stat().st_size / 1e6:.1f} MB): {t:.2f} s")


def bench_e():
    print("(e) o = (x+y)*sin(x): evaluation + reverse at 1,000 random points, one batch vs 1,000 calls")
    program = build(Source("o", "input x\ninput y\no = (x+y)*sin(x)\n"))
    x, y = program.inputs
    out = program.outputs[0]
    rng = np.random.default_rng(0)
    X, Y = rng.uniform(0, 6, 1000), rng.uniform(0, 6, 1000)

    def batch():
        vals = engine.forward(program, {x: X, y: Y}, nb=1)
        return engine.backward(program, vals, out, nb=1)

    def single():
        res = []
        for k in range(1000):
            vals = engine.forward(program, {x: X[k], y: Y[k]})
            res.append(engine.backward(program, vals, out))
        return res

    adj, ref = batch(), single()
    assert np.allclose(adj[x], [r[x] for r in ref])
    tb, ts = best(batch, 20), best(single, 3)
    print(f"    batch {tb * 1e3:.3f} ms, 1,000 single calls {ts * 1e3:.1f} ms: batch costs 1/{ts / tb:.0f}")


if __name__ == "__main__":
    which = sys.argv[1:] or list("abcde")
    for name in which:
        globals()[f"bench_{name}"]()
