"""`gradcli check`: parse options, call check.core.run per file, hand the reports to check.render."""

from __future__ import annotations

import sys

import click

from ..options import AT, EXAMPLE, each_file, echo_json, with_examples

# The defaults, as in gradcli.check (kept literal here so that `gradcli --help` does not
# import numpy; tests/test_check.py checks that the two agree).
RTOL, ATOL, RANDOM, FAST_THRESHOLD, RICHARDSON_MAX = 1e-6, 1e-9, 4, 1000, 100


@click.command("check")
@click.argument("files", nargs=-1, type=click.Path())
@EXAMPLE
@AT
@click.option("--random", "random", type=click.IntRange(0, 100_000), default=RANDOM, show_default=True,
              metavar="N", help="Also check at N random points drawn from the inputs' domains "
                                "(no domain: its value ± 1).")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True,
              help="Seed for randn/rand initialisers, random points and random directions.")
@click.option("--method", type=click.Choice(["richardson", "central", "forward"]), default=None,
              help=f"Finite differences (default: richardson for a full check of at most "
                   f"{RICHARDSON_MAX} input elements, else central).")
@click.option("--fast/--full", "fast", default=None,
              help=f"--fast: random directional derivatives uᵀJw instead of every entry "
                   f"(default above {FAST_THRESHOLD:,} input elements); --full: every entry.")
@click.option("--rtol", type=click.FloatRange(min=0), default=RTOL, show_default=True,
              help="Relative tolerance (numpy.isclose: |a - b| <= atol + rtol*|b|).")
@click.option("--atol", type=click.FloatRange(min=0), default=ATOL, show_default=True,
              help="Absolute tolerance.")
@click.option("--limit", type=click.IntRange(min=0), default=20, show_default=True,
              help="Text: show at most this many rows, worst first (0: all).")
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
def check(files, examples, at, random, seed, method, fast, rtol, atol, limit, fmt):
    """Reverse mode vs forward mode vs finite differences vs the claims in each FILE.

    Exit status: 0 all agree, 1 a mismatch, 2 a bad input.
    """
    files = with_examples(files, examples)
    from . import core
    from . import render as checkrender
    from .. import render

    reports, status = each_file(files, lambda path: core.run(path, at, seed, random=random, method=method,
                                                             fast=fast, rtol=rtol, atol=atol))
    if reports and status == 0:
        status = max(r.status for r in reports)
    if fmt == "json":
        echo_json(files, reports, checkrender.check_json)
    else:
        con = render.console()
        for k, r in enumerate(reports):
            if k:
                con.print()
            checkrender.check_text(r, con, limit)
    sys.exit(status)
