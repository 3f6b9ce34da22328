"""Benchmark for `gradcli check --fast` (issues 4 and 9); run by hand, not in CI:

    python bench/bench_check.py            # 10^6-element input
    python bench/bench_check.py 100000     # another size

Targets: checking a function of a 10^6-element input with --fast costs at most 5x one
evaluation plus one reverse pass *per point checked* (the default point and the
default 4 random ones), and its peak memory is at most 3x that of one evaluation plus
one reverse pass.  All three are timed interleaved in one process (CPU time, median of
ROUNDS rounds, as bench_engine); peak memory is tracemalloc's (numpy reports its
arrays to it).  Per point the check evaluates the function, runs one reverse pass
(seeded with u) and one tangent pass (along w), finds the largest step that cannot
reach a kink, and evaluates the four points x +- t w, x +- 2t w of the central
difference; random points are drawn from the inputs' domains first.  Loading the file
(parsing, randn) is common to `eval` and `check` and is left out of both.
"""

from __future__ import annotations

import sys
import tracemalloc

from bench_engine import ROUNDS, interleaved  # noqa: E402  (first: it sets the BLAS threads and the cache)
from gradcli.autodiff import engine
from gradcli.check import core as check
from gradcli.errors import Source
from gradcli.language.program import bind, build

TEXT = """\
input x = randn({n})
h = tanh(x) * x + sin(x)**2 + exp(-square(x)) + relu(x - 0.5)
loss = sum(h) / {n}
output loss
"""


def peak(fn) -> int:
    tracemalloc.start()
    try:
        fn()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def main(n: int = 10**6):
    program = build(Source("bench.grad", TEXT.format(n=n)), seed=0)
    point = bind(program)
    out = program.outputs[0]

    def floor():
        vals = engine.forward(program, point)
        engine.backward(program, vals, out)

    def checks(random):
        def run():
            report = check.check_program(program, point, random=random, fast=True)
            assert report.status == 0 and len(report.points) == random + 1, report.rows
        return run

    report = check.check_program(program, point, random=0, fast=True)
    row = report.rows[0]
    print(f"input elements: {n:,}; method {report.method}; verdict {row.verdict}")
    print(f"  uᵀJw: reverse {row.reverse:.12g}, forward {row.forward:.12g}, "
          f"FD {row.fd:.12g} ± {row.fd_error:.2g}")
    t = interleaved({"floor": floor, "one": checks(0), "five": checks(4)}, max(5, ROUNDS // 2))
    print(f"  one evaluation + one reverse pass:  {t['floor'] * 1e3:8.1f} ms")
    print(f"  check --fast, 1 point (--random 0): {t['one'] * 1e3:8.1f} ms   "
          f"{t['one'] / t['floor']:.2f}x per point   (target <= 5x)")
    print(f"  check --fast, 5 points (default):   {t['five'] * 1e3:8.1f} ms   "
          f"{t['five'] / t['floor'] / 5:.2f}x per point   (target <= 5x)")
    base, mem = peak(floor), peak(checks(4))
    print(f"  peak memory: one evaluation + reverse {base / 1e6:.0f} MB, check (5 points) "
          f"{mem / 1e6:.0f} MB: {mem / base:.2f}x   (target <= 3x)")


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10**6)
