"""The command line: a group whose commands live in one subpackage each, imported only when run.

`Commands.main` is the one place that turns what can go wrong around a command into an
exit status (docs/errors.md): a GradError or a usage error prints its message (exit 2);
a write error on standard output (a full disk) is one line, exit 2; a closed pipe
(`gradcli ... | head`) ends quietly with 141, the status of a program stopped by SIGPIPE;
standard error never decides the exit status (full or closed, the message is lost,
the status stays); a character the terminal cannot encode is escaped, never a crash.
"""

from __future__ import annotations

import errno
import io
import sys

import click

from . import __version__

# Start-up time is a feature: `gradcli --help` imports none of the commands' modules.
LAZY = {"eval": "gradcli.evaluate.command:eval_cmd", "graph": "gradcli.graph.command:graph",
        "check": "gradcli.check.command:check", "grade": "gradcli.grade.command:grade",
        "init": "gradcli.course.command:init", "bundle": "gradcli.course.command:bundle",
        "examples": "gradcli.course.command:examples"}

CLOSED_PIPE = 128 + 13  # as a shell reports a program killed by SIGPIPE (cat, seq, git)


class Commands(click.Group):
    def list_commands(self, ctx):
        return sorted([*super().list_commands(ctx), *LAZY])

    def get_command(self, ctx, name):
        if name in LAZY:
            import importlib

            module, attr = LAZY[name].split(":")
            return getattr(importlib.import_module(module), attr)
        return super().get_command(ctx, name)

    # A write error (help, --version, a command's report) is carried past click, whose own
    # handling of a closed pipe (exit 1, or a traceback) varies by version, to _run.
    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent, **extra)
        except OSError as err:
            raise _WriteFailed(err) from None

    def invoke(self, ctx):
        try:
            return super().invoke(ctx)
        except OSError as err:
            raise _WriteFailed(err) from None

    def main(self, args=None, prog_name=None, complete_var=None, standalone_mode=True, **extra):
        if not standalone_mode:
            return super().main(args, prog_name, complete_var, standalone_mode, **extra)
        saved = sys.stdout, sys.stderr
        stdout_errors = _guard_streams()
        try:
            status = self._run(args, prog_name, complete_var, extra)
        finally:
            _restore_streams(saved, stdout_errors)
        sys.exit(status)

    def _run(self, args, prog_name, complete_var, extra) -> int:
        from .errors import GradError

        try:
            try:
                rv = super().main(args, prog_name, complete_var, False, **extra)
                status = rv if isinstance(rv, int) else 0
            except SystemExit as done:
                status = _exit_code(done.code)
            except GradError as err:
                click.echo(err.render(), err=True)
                status = err.status
            except click.ClickException as err:
                click.echo(usage_error(err), err=True)
                status = err.exit_code
            except click.Abort:
                click.echo("error: aborted", err=True)
                status = 1
            except MemoryError:
                click.echo("error: out of memory: the values are too large for this machine", err=True)
                status = 2
            sys.stdout.flush()
        except _WriteFailed as failed:
            return _output_failed(failed.err)
        except OSError as err:
            return _output_failed(err)
        return status


def usage_error(err: click.ClickException) -> str:
    """A usage error in gradcli's one style (as GradError renders): `error: message`, then the
    command's usage as a hint; click's own is `Usage: ...` and `Error: Message.`"""
    message = err.format_message().strip()
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[0].lower() + message[1:]
    message = message.removesuffix(".")
    ctx = getattr(err, "ctx", None)
    if ctx is None:
        return f"error: {message}"
    name = ctx.command_path
    usage = ctx.get_usage().removeprefix("Usage: ").strip()
    return f"error: {message}\n  usage: {usage}  ('{name} --help' for more)"


class _WriteFailed(Exception):
    def __init__(self, err: OSError):
        super().__init__(str(err))
        self.err = err


def _exit_code(code) -> int:
    if code is None:
        return 0
    if isinstance(code, int):
        return code
    click.echo(str(code), err=True)
    return 1


def _guard_streams() -> str | None:
    """stderr that never raises; stdout that escapes what it cannot encode (and, when
    file descriptor 1 is closed, reports that as a write error instead of crashing)."""
    err = sys.stderr
    encoding = getattr(err, "encoding", None) or "utf-8"
    target = getattr(err, "buffer", None) or (err and _TextTarget(err, encoding))
    sys.stderr = io.TextIOWrapper(_Quiet(target), encoding=encoding, errors="backslashreplace",
                                  line_buffering=True)
    out = sys.stdout
    if out is None:
        sys.stdout = _Closed()
        return None
    if isinstance(out, io.TextIOWrapper) and out.errors == "strict":
        out.reconfigure(errors="backslashreplace")
        return "strict"
    return None


def _restore_streams(saved, stdout_errors) -> None:
    try:
        sys.stderr.flush()
    except (OSError, ValueError):
        pass
    sys.stdout, sys.stderr = saved
    if stdout_errors and isinstance(sys.stdout, io.TextIOWrapper) and not sys.stdout.closed:
        try:
            sys.stdout.reconfigure(errors=stdout_errors)
        except (OSError, ValueError):
            pass


def _output_failed(err: OSError) -> int:
    """Standard output could not be written: quiet for a closed pipe, else one line (an
    OSError about a file, which no command should let through, is one line too)."""
    _silence_stdout()
    if err.errno == errno.EPIPE:
        return CLOSED_PIPE
    from .errors import shown

    what = f"{shown(err.filename)}:" if err.filename else "cannot write to standard output:"
    click.echo(f"error: {what} {err.strerror or err}", err=True)
    return 2


def _silence_stdout() -> None:
    """What is still buffered for stdout goes nowhere, so the interpreter's last flush cannot
    fail again (and print an 'Exception ignored' message) after we have reported it."""
    import os

    try:
        fd = sys.stdout.fileno()
    except (AttributeError, OSError, ValueError, io.UnsupportedOperation):
        return
    try:
        null = os.open(os.devnull, os.O_WRONLY)
        os.dup2(null, fd)
        os.close(null)
    except OSError:
        pass


class _Quiet(io.RawIOBase):
    """A binary writer that passes bytes on to `target` and drops them if that fails."""

    def __init__(self, target):
        super().__init__()
        self.target = target

    def writable(self):
        return True

    def write(self, data):
        if self.target is not None:
            try:
                self.target.write(bytes(data))
                self.target.flush()
            except (OSError, ValueError):
                pass
        return len(data)

    def isatty(self):
        try:
            return self.target is not None and self.target.isatty()
        except (OSError, ValueError):
            return False

    def fileno(self):
        if self.target is None:
            raise io.UnsupportedOperation("fileno")
        return self.target.fileno()


class _TextTarget:
    """A text stream seen as a binary one (for a stderr that has no binary buffer)."""

    def __init__(self, stream, encoding):
        self.stream, self.encoding = stream, encoding

    def write(self, data):
        self.stream.write(data.decode(self.encoding, "replace"))

    def flush(self):
        self.stream.flush()

    def isatty(self):
        return self.stream.isatty()

    def fileno(self):
        return self.stream.fileno()


class _Closed(io.TextIOBase):
    """Standard output when file descriptor 1 is closed: writing to it is a write error."""

    encoding = "utf-8"

    def writable(self):
        return True

    def write(self, text):
        raise OSError(errno.EBADF, "standard output is closed")

    def isatty(self):
        return False


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="gradcli")
def main():
    """Check gradients of .grad computational graphs and grade autodiff exercises."""
