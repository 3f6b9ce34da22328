"""Fuzz gradcli by hand (issue 12): N inputs through eval, check, graph and grade's answer path.

    .venv/bin/python bench/fuzz.py [N] [--seed S] [--jobs J] [--timeout T] [--valid P]

Each input is a valid program from the grammar (tests/fuzzing.py, with probability P,
default 0.4) or a mutation of one (tokens deleted, inserted, swapped; random characters,
bytes and Unicode), made from its own seeded random generator (seed S, input k), so any
input can be made again.  Everything runs in these processes (CliRunner), J of them;
each input runs under a guard of T seconds (default 20): one that takes longer counts as
a hang.  Prints the counts -- inputs, tracebacks, hangs, exit statuses outside {0, 1, 2},
exit 2 without FILE:LINE:COL, ENGINE BUG and false AD ≠ FD on valid programs -- the time
taken, and the first problems found with the seed and input number that reproduce them
(`--show K` prints input K).  Exit status 1 when anything was found.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests"))
os.environ.setdefault("XDG_CACHE_HOME", str(ROOT / "bench" / "out" / "cache"))
for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import fuzzing  # noqa: E402

EXERCISES = ["01-ln-sin-cos", "06-max-gate", "07-matrix-cost", "08-logistic-regression"]


class Hang(BaseException):
    """The per-input guard ran out (a BaseException: no `except Exception` in gradcli swallows it)."""


def _expired(signum, frame):
    raise Hang()


def make(seed: int, k: int, valid_share: float):
    rng = random.Random(seed * 1_000_003 + k)
    valid = rng.random() < valid_share
    text = fuzzing.program(rng)
    data = text.encode() if valid else fuzzing.mutate(text, rng)
    return rng, valid, data


def work(args):
    seed, ks, timeout, valid_share = args
    from gradcli.grade.exercise import load_exercise

    exercises = [load_exercise(ROOT / "exercises" / name) for name in EXERCISES]
    counts: Counter = Counter()
    found = []
    signal.signal(signal.SIGALRM, _expired)
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        for k in ks:
            rng, valid, data = make(seed, k, valid_share)
            counts["inputs"] += 1
            counts["valid" if valid else "mutated"] += 1
            signal.setitimer(signal.ITIMER_REAL, timeout)
            try:
                out = fuzzing.run(data, rng, folder, valid, [rng.choice(exercises)])
            except Hang:
                counts["hangs"] += 1
                found.append((k, "hang", f"more than {timeout} s"))
                continue
            finally:
                signal.setitimer(signal.ITIMER_REAL, 0)
            counts["checked valid"] += out.valid
            counts["engine bug"] += out.engine_bug
            counts["false AD ≠ FD"] += out.ad_fd
            for target, what, detail in out.problems:
                key = "tracebacks" if what == "traceback" else what
                counts[key] += 1
                found.append((k, f"{target}: {what}", detail))
            for target, code in out.statuses.items():
                counts[f"{target} exit {code}"] += 1
    return counts, found[:50]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("n", type=int, nargs="?", default=100_000)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    ap.add_argument("--timeout", type=float, default=20.0)
    ap.add_argument("--valid", type=float, default=0.4)
    ap.add_argument("--start", type=int, default=0)
    ap.add_argument("--show", type=int, default=None, help="print input K of this seed and stop")
    args = ap.parse_args(argv)
    if args.show is not None:
        _, valid, data = make(args.seed, args.show, args.valid)
        sys.stdout.buffer.write(data)
        print(f"\n# seed {args.seed}, input {args.show}, {'valid' if valid else 'mutated'}", file=sys.stderr)
        return 0
    ks = list(range(args.start, args.start + args.n))
    chunks = [(args.seed, ks[j::args.jobs], args.timeout, args.valid) for j in range(args.jobs)]
    t0 = time.perf_counter()
    if args.jobs > 1:
        with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
            results = pool.map(work, chunks)
    else:
        results = [work(chunks[0])]
    secs = time.perf_counter() - t0
    counts: Counter = Counter()
    found = []
    for c, f in results:
        counts.update(c)
        found.extend(f)
    print(f"seed {args.seed}, inputs {args.start}..{args.start + args.n - 1}, {args.jobs} process(es), "
          f"{secs:.0f} s ({secs / max(args.n, 1) * 1000:.1f} ms an input)")
    head = ["inputs", "valid", "mutated", "checked valid", "tracebacks", "hangs", "engine bug", "false AD ≠ FD"]
    for key in head:
        print(f"  {key}: {counts[key]:,}")
    for key in sorted(set(counts) - set(head)):
        print(f"  {key}: {counts[key]:,}")
    for k, what, detail in sorted(found)[:12]:
        print(f"\n# input {k} (bench/fuzz.py --seed {args.seed} --show {k}): {what}\n{detail}")
    bad = sum(counts[k] for k in counts if k not in head[:4] and " exit " not in k)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
