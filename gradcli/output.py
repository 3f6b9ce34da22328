"""Where a command's report goes: standard output, or an `-o` file written atomically.

Every command writes its report through `emit`; `write_file` (one report) and
`write_files` (the several reports of one run, all or none) are the one way a report
reaches a file.  As pip's `adjacent_tmp_file` + `replace` do, the report is written to
a temporary file beside the target, flushed and fsynced, then renamed over it: readers
see the old report or the new one, never a part, and a run that fails (a crash, a full
disk, Ctrl-C) leaves the old file as it was.  A target that is not a regular file
(`/dev/stdout`, a pipe, `/dev/full`) cannot be renamed over and is written directly.

Text is encoded as UTF-8; a character no encoder takes (a surrogate from a file name
that is not UTF-8, if one slipped past `errors.shown`) is written as a `\\udcff` escape
rather than crashing the run.  Write errors are GradErrors: one line, exit status 2.
"""

from __future__ import annotations

import os
import secrets
import stat

from .errors import GradError, shown


def encode(text: str) -> bytes:
    return text.encode("utf-8", "backslashreplace")


def emit(data: str | bytes, output: str | os.PathLike | None = None) -> None:
    """The report to standard output (output None) or to the file `output`."""
    if output is not None:
        write_file(output, data)
        return
    import click

    if isinstance(data, bytes):
        stream = click.get_binary_stream("stdout")
        stream.write(data)
        stream.flush()
    else:
        click.echo(data, nl=False)


def write_file(path: str | os.PathLike, data: str | bytes) -> None:
    """Write `data` to `path` atomically (see the module docstring); GradError if it cannot."""
    write_files([(path, data)])


def write_files(reports) -> None:
    """Write each (path, data) atomically, and all or none: every report is written to its
    temporary file first, and only when all are there are they renamed over their targets, so a
    run that cannot write one of its reports (a folder that does not exist, a full disk) leaves
    every target as it was.  GradError if one cannot be written."""
    pending: list[tuple[str, str, str | None, int | None]] = []
    try:
        for path, data in reports:
            pending.append(_prepare(path, encode(data) if isinstance(data, str) else data))
        for name, target, tmp, mode in pending:
            if tmp is None:
                continue
            try:
                os.replace(tmp, target)
            except OSError as err:
                raise _cannot(name, err) from None
            _sync_folder(os.path.dirname(target))
    finally:
        for _, _, tmp, _ in pending:
            if tmp is not None and os.path.lexists(tmp):
                try:
                    os.unlink(tmp)
                except OSError:
                    pass


def _prepare(path, body: bytes) -> tuple[str, str, str | None, int | None]:
    """(name, target, the temporary file beside it holding `body`, the target's mode); a device or
    a pipe is written at once (nothing to keep whole) and has no temporary file."""
    name = os.fspath(path)
    target = os.path.realpath(name) if os.path.islink(name) else name
    try:
        mode = os.stat(target).st_mode
    except FileNotFoundError:
        mode = None
    except OSError as err:
        raise _cannot(name, err) from None
    if mode is not None and stat.S_ISDIR(mode):
        raise GradError(f"cannot write {shown(name)}: it is a directory")
    if mode is not None and not stat.S_ISREG(mode):
        _write_through(name, target, body)   # a device or a pipe: nothing to keep whole
        return name, target, None, mode
    if mode is not None and not os.access(target, os.W_OK):   # a rename would ignore a read-only file
        raise GradError(f"cannot write {shown(name)}: Permission denied")
    folder, base = os.path.split(target)
    tmp, fd = _adjacent(name, folder, base)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(body)
            fh.flush()
            os.fsync(fh.fileno())
        if mode is not None:
            os.chmod(tmp, stat.S_IMODE(mode))  # the report keeps the old file's permissions
    except BaseException as err:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        if isinstance(err, OSError):
            raise _cannot(name, err) from None
        raise
    return name, target, tmp, mode


def _adjacent(name: str, folder: str, base: str) -> tuple[str, int]:
    """A new file beside the target, created with the permissions a new file gets (umask)."""
    for _ in range(100):
        tmp = os.path.join(folder, f".{base}.{secrets.token_hex(4)}.tmp")
        try:
            return tmp, os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o666)
        except FileExistsError:
            continue
        except OSError as err:
            raise _cannot(name, err) from None
    raise GradError(f"cannot write {shown(name)}: no free temporary name beside it")


def _write_through(name: str, target: str, body: bytes) -> None:
    try:
        with open(target, "wb") as fh:
            fh.write(body)
            fh.flush()
    except OSError as err:
        raise _cannot(name, err) from None


def _sync_folder(folder: str) -> None:
    """Make the rename itself durable (best effort: not every system can open a folder)."""
    try:
        fd = os.open(folder or ".", os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _cannot(name: str, err: OSError) -> GradError:
    return GradError(f"cannot write {shown(name)}: {err.strerror or err}")
