"""Benchmark for `gradcli.check_function` (issue 10); run by hand, not in CI:

    python bench/bench_api.py              # a 10^4-element input, 7 rounds
    python bench/bench_api.py 20000 9      # another size, another number of rounds

Target: check_function on a 10^4-element input in full mode (every entry: central
differences, 4 evaluations of f per element) costs at most 3x the finite differences
alone: a hand-written loop making the same 4n + 1 numpy evaluations of f, moving one
element at a time.  The floor and the check are timed in turns in one process (the
machine is shared and noisy); the figure is the ratio of their medians.
"""

from __future__ import annotations

import statistics
import sys
import time

import numpy as np

import gradcli

EPS = float(np.finfo(float).eps)


def half_sum_squares(a):
    return 0.5 * np.sum(a**2)


def half_sum_squares_grad(a):
    return a


def smooth(a):
    return np.sum(np.tanh(a) * a + np.sin(a) ** 2)


def smooth_grad(a):
    t = np.tanh(a)
    return t + a * (1 - t**2) + 2 * np.sin(a) * np.cos(a)


def fd_floor(f, a):
    """Central differences by hand: f at a, then at a +- t s e_j, a +- 2t s e_j for every j."""
    t = EPS ** (1 / 3)
    x = a.copy()
    f(x)
    out = np.empty((4, a.size))
    for j in range(a.size):
        h = t * max(abs(a[j]), 1.0)
        for k, step in enumerate((h, -h, 2 * h, -2 * h)):
            x[j] = a[j] + step
            out[k, j] = f(x)
        x[j] = a[j]
    return (out[0] - out[1]) / (2 * t)


def timed(fn) -> float:
    t = time.perf_counter()
    fn()
    return time.perf_counter() - t


def main(n: int = 10_000, rounds: int = 7) -> None:
    a = np.random.default_rng(0).standard_normal(n)
    for f, g in ((half_sum_squares, half_sum_squares_grad), (smooth, smooth_grad)):
        report = gradcli.check_function(f, g, a, fast=False)
        assert report.ok and report.mode == "full" and report.method == "central" and len(report.rows) == n
        floors, checks = [], []
        for _ in range(rounds):   # in turns, so that both see the same machine
            floors.append(timed(lambda: fd_floor(f, a)))
            checks.append(timed(lambda: gradcli.check_function(f, g, a, fast=False)))
        mf, mc = statistics.median(floors), statistics.median(checks)
        print(f"{f.__name__}: n = {n:,}, full check, central differences ({4 * n + 1:,} evaluations of f)")
        print(f"  finite differences alone (hand-written loop): median {mf * 1e3:7.1f} ms")
        print(f"  gradcli.check_function(..., fast=False):      median {mc * 1e3:7.1f} ms")
        print(f"  ratio of medians: {mc / mf:.2f}x   (target <= 3x; per round "
              + ", ".join(f"{c / fl:.2f}" for c, fl in zip(checks, floors)) + ")")


if __name__ == "__main__":
    main(*(int(v) for v in sys.argv[1:3]))
