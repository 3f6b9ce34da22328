"""`gradcli check`: parse options, call the API (Graph.check per file, or check_function for
--python), hand the reports to check.render."""

from __future__ import annotations

import sys

import click

from ..options import AT, DIGITS, EXAMPLE, each_file, echo_json, with_examples

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
@DIGITS
@click.option("--format", "fmt", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--python", "python", metavar="MODULE:F",
              help="Instead of FILES, check a Python function F (from MODULE, or a file.py) and its "
                   "hand-written gradient --grad against finite differences, at the arguments given by "
                   "name with --at. This imports and runs your own code: `gradcli grade` never does.")
@click.option("--grad", "grad", metavar="MODULE:G",
              help="With --python: G(*args) returns d(F)/d(x) for each parameter x of F without a default "
                   "(a tuple for several; parameters with a default are held fixed), or with --vjp, "
                   "G(*args, g) returns the vector-Jacobian products gᵀJ.")
@click.option("--vjp", is_flag=True, help="With --python: --grad is a VJP, G(*args, g).")
@click.pass_context
def check(ctx, files, examples, at, random, seed, method, fast, rtol, atol, limit, digits, fmt, python, grad,
          vjp):
    """Reverse mode vs forward mode vs finite differences vs the claims in each FILE.

    With --python MODULE:F --grad MODULE:G: a Python function's hand-written gradient vs
    finite differences.

    Exit status: 0 all agree, 1 a mismatch, 2 a bad input.
    """
    from . import render as checkrender
    from .. import render
    from ..numbers import options

    if python or grad or vjp:
        if files or examples:
            raise click.UsageError("give FILES (or --example) or --python, not both")
        if not (python and grad):
            raise click.UsageError("--python MODULE:F needs --grad MODULE:G (and --grad needs --python)")
        if ctx.get_parameter_source("random") == click.core.ParameterSource.COMMANDLINE:
            raise click.UsageError("--random: a Python function has no domain to draw points from; "
                                   "give the point with --at")
        reports, status = each_file([python], lambda _: _python(python, grad, vjp, at, seed, method, fast,
                                                                rtol, atol))
        files = [python]
    else:
        from ..api import load

        if not files and not examples:
            raise click.UsageError("give a FILE, or --example NAME for a shipped example, "
                                   "or --python MODULE:F --grad MODULE:G")
        files = with_examples(files, examples)

        reports, status = each_file(files, lambda path: load(path).check(
            at, random=random, seed=seed, method=method, fast=fast, rtol=rtol, atol=atol))
    if reports and status == 0:
        status = max(r.status for r in reports)
    if fmt == "json":
        echo_json(files, reports, checkrender.check_json)     # JSON keeps every digit
    else:
        out = render.printer()
        with options(digits=digits):
            for k, r in enumerate(reports):
                if k:
                    out.print()
                checkrender.check_text(r, out, limit)
    sys.exit(status)


def _python(spec, grad_spec, vjp, at, seed, method, fast, rtol, atol):
    """check_function on the user's own F and G, the arguments from --at by F's parameter names."""
    from ..api import check_function
    from ..errors import GradError
    from .pyload import arguments, load_callable, user_error

    f = load_callable(spec, "--python")
    g = load_callable(grad_spec, "--grad")
    args, wrt = arguments(f, spec, at, seed)
    try:
        return check_function(f, g, *args, wrt=wrt, vjp=vjp, fast=fast, method=method, rtol=rtol,
                              atol=atol, seed=seed, raise_on_mismatch=False)
    except GradError:
        raise
    except Exception as err:
        raise user_error(err, f"--python {spec} --grad {grad_spec}") from None
