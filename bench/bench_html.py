"""Benchmark for `gradcli graph --format html` (issue 13); run by hand, not in CI:

    python bench/bench_html.py            # 500 steps of a recurrence: 2,001 nodes
    python bench/bench_html.py 1000       # another size

Target: a file of 2,000 nodes writes its page in at most 2 s.  Timed end to end as a
user runs it (a fresh `python -m gradcli graph FILE --format html -o PAGE`, so Python's
start-up is included), interleaved with `--format json` of the same file as the floor
(the one walk every format shares), medians of several rounds; then the page's parts in
process.  Two shapes: a recurrence whose three inputs are used by every step (fan-out
500: long running sums) and a plain chain.  The step latency in the browser is logged
by tests/test_graph_html.py::test_browser_2000_nodes_step_latency.
"""

from __future__ import annotations

import statistics
import subprocess
import sys
import time
from pathlib import Path

from gradcli.graph import html as graphhtml
from gradcli.graph import view as graphview

OUT = Path(__file__).parent / "out"


def rnn_text(steps: int) -> str:
    lines = ["input x = 0.5", "input w = 0.9", "input u = 0.3", "h0 = tanh(w * x)"]
    lines += [f"h{i} = tanh(w * h{i - 1} + u * x)" for i in range(1, steps)]
    return "\n".join(lines) + "\n"


def chain_text(steps: int) -> str:
    lines = ["input h0 = 0.5", "input w = 0.9"]
    lines += [f"h{t} = sin(h{t - 1})*w + h{t - 1}" for t in range(1, steps + 1)]
    return "\n".join(lines) + "\n"


def cli(path: Path, fmt: str, out: Path) -> float:
    t = time.perf_counter()
    subprocess.run([sys.executable, "-m", "gradcli", "graph", str(path), "--format", fmt, "-o", str(out)],
                   check=True, capture_output=True)
    return time.perf_counter() - t


def measure(name: str, text: str, rounds: int = 5) -> float:
    OUT.mkdir(exist_ok=True)
    src = OUT / f"{name}.grad"
    src.write_text(text)
    page, js = OUT / f"{name}.html", OUT / f"{name}.json"
    html_t, json_t = [], []
    for _ in range(rounds):             # interleaved: the machine's noise hits both alike
        json_t.append(cli(src, "json", js))
        html_t.append(cli(src, "html", page))
    t0 = time.perf_counter()
    gv = graphview.run(str(src), with_sweeps=True)
    t1 = time.perf_counter()
    body = graphhtml.page(gv)
    t2 = time.perf_counter()
    h, j = statistics.median(html_t), statistics.median(json_t)
    print(f"{name}: {len(gv.nodes):,} nodes, {len(gv.edges):,} edges, "
          f"{len(gv.sweeps.reverse) + len(gv.sweeps.forward) + sum(map(len, gv.sweeps.tangent.values())):,} "
          f"steps, page {len(body) / 1e6:.1f} MB")
    print(f"  gradcli graph --format html: {h:6.2f} s  (median of {rounds}; target <= 2 s)")
    print(f"  gradcli graph --format json: {j:6.2f} s  (the floor; ratio {h / j:.2f}x)")
    print(f"  in process: load + view + sweeps {t1 - t0:.2f} s, page (layout + text) {t2 - t1:.2f} s")
    return h


def main(steps: int = 500) -> None:
    measure(f"rnn{steps}", rnn_text(steps))
    measure(f"chain{(4 * steps) // 3}", chain_text((4 * steps) // 3))


if __name__ == "__main__":
    main(*(int(a) for a in sys.argv[1:]))
