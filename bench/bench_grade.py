"""Benchmark for `gradcli grade` (issue 5); run by hand, not in CI:

    python bench/bench_grade.py [N_STUDENTS] [JOBS]     # default 1000 students, 2 jobs

Generates N submissions for the shipped exercises/ (or, without them, the test
fixture) into bench/out/grade/: each student's answer to each exercise is the
reference solution, the template, or the solution with one or two seeded mistakes
(a claim's sign flipped, a claim dropped, a wrong factor, an unclosed bracket, a
Unicode minus, `2x` for `2*x`, a claim given twice, a wrong claim no task asks for);
the wrong answers are what makes the grader look for notes and follow-through.  Then
times `python -m gradcli grade EXERCISES --submissions ... --jobs J --format csv`,
end to end, and prints the figure against the target (1,000 submissions x the
shipped exercises in <= 30 s).
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "bench" / "out" / "grade"


def exercises_dir() -> Path:
    shipped = ROOT / "exercises"
    if any(shipped.glob("*/exercise.toml")):
        return shipped
    return ROOT / "tests" / "fixtures" / "grade" / "ex"


def mutate(solution: str, template: str, rng: random.Random) -> str:
    lines = solution.splitlines()
    claims = [i for i, line in enumerate(lines) if re.match(r"\s*(d\(|partial\()", line)]
    roll = rng.random()
    if roll < 0.4 or not claims:
        return solution
    if roll < 0.5:
        return template
    for _ in range(1 + (rng.random() < 0.3)):
        i = rng.choice(claims)
        lhs, _, rhs = lines[i].partition("=")
        rhs = rhs.split("#")[0].strip()
        kind = rng.random()
        if kind < 0.3:
            lines[i] = f"{lhs}= -({rhs})"                 # sign error
        elif kind < 0.4:
            lines[i] = ""                                 # a missing claim
        elif kind < 0.5:
            lines[i] = f"{lhs}= ({rhs}) * 2"             # a wrong factor
        elif kind < 0.6:
            lines[i] = f"{lhs}= ({rhs}"                  # an unclosed bracket
        elif kind < 0.7:
            lines[i] = f"{lhs}= \u2212({rhs})"           # a Unicode minus
        elif kind < 0.8:
            lines[i] = f"{lhs}= 2({rhs})"                # 2(...) for 2*(...)
        elif kind < 0.9:
            lines.append(f"{lhs}= ({rhs}) + 1")           # the claim again, wrong
        else:
            lines.append("d(x)/d(x) = 2")                 # a wrong claim no task asks for
    return "\n".join(lines) + "\n"


def generate(n: int, exdir: Path, seed: int = 0) -> Path:
    rng = random.Random(seed)
    subs = OUT / f"submissions-{n}"
    if subs.exists():
        shutil.rmtree(subs)
    folders = sorted(p.parent for p in exdir.glob("*/exercise.toml"))
    texts = {f.name: ((f / "solution.grad").read_text(), (f / "answer.grad").read_text()) for f in folders}
    for k in range(n):
        student = subs / f"student{k:04d}"
        for name, (sol, tpl) in texts.items():
            (student / name).mkdir(parents=True)
            (student / name / "answer.grad").write_text(mutate(sol, tpl, rng))
    return subs


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 1000
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    exdir = exercises_dir()
    n_ex = len(list(exdir.glob("*/exercise.toml")))
    subs = generate(n, exdir)
    out = OUT / "gradebook.csv"
    cmd = [sys.executable, "-m", "gradcli", "grade", str(exdir), "--submissions", str(subs),
           "--jobs", str(jobs), "--format", "csv", "--output", str(out), "--no-progress"]
    t = time.perf_counter()
    done = subprocess.run(cmd, check=False, capture_output=True, text=True)
    elapsed = time.perf_counter() - t
    if done.returncode not in (0, 1):
        print(done.stderr)
        raise SystemExit(f"grade exited {done.returncode}")
    rows = out.read_text().splitlines()
    answers = n * n_ex
    print(f"{n} submissions x {n_ex} exercises = {answers} answers, --jobs {jobs}: "
          f"{elapsed:.2f} s end to end ({1000 * elapsed / answers:.2f} ms per answer; "
          f"target 30 s for 1,000 submissions: {'met' if elapsed * 1000 / n <= 30 else 'MISSED'})")
    print(f"gradebook: {out} ({len(rows) - 1} rows)")


if __name__ == "__main__":
    main()
