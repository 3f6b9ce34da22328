"""Benchmark for `gradcli check --fast` (issue 4); run by hand, not in CI:

    python bench/bench_check.py            # 10^6-element input
    python bench/bench_check.py 100000     # another size

Target: checking a function of a 10^6-element input with --fast costs at most 5x
one evaluation plus one reverse pass (both measured here, in the same run, on the
same program and point).  The check is timed at one point (`--random 0`): it
evaluates the function, runs one reverse pass (seeded with u) and one tangent pass
(along w), finds the largest step that cannot reach a kink, and evaluates the four
points x +- t w, x +- 2t w of the central difference as one batch.  Loading the
file (parsing, randn) is common to `eval` and `check` and is left out of both.
"""

from __future__ import annotations

import sys

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


from bench_engine import best  # noqa: E402  (bench/ is on the path: run as python bench/...)


def main(n: int = 10**6) -> float:
    program = build(Source("bench.grad", TEXT.format(n=n)), seed=0)
    point = bind(program)
    out = program.outputs[0]

    def floor():
        vals = engine.forward(program, point)
        engine.backward(program, vals, out)

    def fast_check():
        report = check.check_program(program, point, random=0, fast=True)
        assert report.status == 0, report.rows

    t_floor = best(floor)
    t_check = best(fast_check)
    ratio = t_check / t_floor
    report = check.check_program(program, point, random=0, fast=True)
    row = report.rows[0]
    print(f"input elements: {n:,}; method {report.method}; verdict {row.verdict}")
    print(f"  uᵀJw: reverse {row.reverse:.12g}, forward {row.forward:.12g}, "
          f"FD {row.fd:.12g} ± {row.fd_error:.2g}")
    print(f"  one evaluation + one reverse pass: {t_floor * 1e3:8.1f} ms")
    print(f"  check --fast (one point):          {t_check * 1e3:8.1f} ms")
    print(f"  ratio: {ratio:.2f}x   (target <= 5x)")
    return ratio


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 10**6)
