"""`check` on valid random programs near poles and domain edges, by hand (issue 12, item 8).

    .venv/bin/python bench/check_singular.py [N] [--random R] [--method M] [--start S] [--fast]
                                             [--general]

Generates N valid programs (tests/singular_programs.py: 1/y, log, sqrt, tan, cos(y)/y,
powers … at points 10⁻¹ … 10⁻¹¹ from a singularity), runs each through `check` at its
default point and R random points, and counts the verdicts.  Every derivative rule is
right, so every "AD ≠ FD" is a false alarm: the goal is 0.  Prints the counts and the
first few false alarms (their programs, to reproduce by hand).  --general: random
programs of every function (relu, max, **, softmax, …) at random points instead.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))

from singular_programs import general_program, program  # noqa: E402

from gradcli.autodiff import engine  # noqa: E402
from gradcli.check import core  # noqa: E402
from gradcli.errors import GradError, Source  # noqa: E402
from gradcli.language.program import bind, build  # noqa: E402


def valid(text: str):
    """(program, point) when the output and its gradient are finite at the default point."""
    try:
        p = build(Source("near.grad", text))
        point = bind(p, ())
        vals = engine.forward(p, point)
        out = p.outputs[0]
        if not np.all(np.isfinite(vals[out])):
            return None
        grads = engine.jacobian(p, vals, out, p.inputs, "reverse")
        if not all(np.all(np.isfinite(g)) for g in grads.values()):
            return None
        return p, point
    except GradError:
        return None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=3000)
    ap.add_argument("--random", type=int, default=2)
    ap.add_argument("--method", default=None)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--fast", action="store_true", help="directional checks uᵀJw (check --fast)")
    ap.add_argument("--general", action="store_true",
                    help="random programs of every function at random points, not near singularities")
    args = ap.parse_args(argv)
    verdicts: Counter = Counter()
    programs = skipped = 0
    files_with = Counter()
    alarms = []
    t0 = time.perf_counter()
    seed = args.start
    while programs < args.n:
        text = (general_program if args.general else program)(seed)
        seed += 1
        built = valid(text)
        if built is None:
            skipped += 1
            continue
        programs += 1
        p, point = built
        try:
            report = core.check_program(p, point, random=args.random, seed=seed, method=args.method,
                                        fast=True if args.fast else None)
        except GradError as err:
            verdicts["error (exit 2)"] += 1
            alarms.append((seed - 1, "exit 2: " + err.message, text))
            continue
        here = Counter(r.verdict for r in report.rows)
        verdicts.update(here)
        for v in here:
            files_with[v] += 1
        if here["ad_fd_mismatch"] or here["engine_bug"]:
            bad = next(r for r in report.rows if r.verdict in ("ad_fd_mismatch", "engine_bug"))
            alarms.append((seed - 1, f"{bad.verdict} at point {bad.point}: AD {bad.reverse!r} FD {bad.fd!r} "
                                     f"± {bad.fd_error!r}", text))
    secs = time.perf_counter() - t0
    print(f"{programs} valid programs (seeds {args.start}..{seed - 1}, {skipped} invalid ones skipped), "
          f"--random {args.random}, method {args.method or 'default'}{', --fast' if args.fast else ''}, "
          f"{secs:.1f} s")
    print("comparisons by verdict:", dict(sorted(verdicts.items())))
    print("programs with at least one:", dict(sorted(files_with.items())))
    print(f"false AD ≠ FD: {verdicts['ad_fd_mismatch']} comparisons in {files_with['ad_fd_mismatch']} programs")
    for seed_, what, text in alarms[:8]:
        print(f"\n# seed {seed_}: {what}\n{text}", end="")
    return 1 if verdicts["ad_fd_mismatch"] or verdicts["engine_bug"] else 0


if __name__ == "__main__":
    sys.exit(main())
