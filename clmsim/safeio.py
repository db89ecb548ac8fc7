"""Safe file access: inputs are checked before they are read, outputs are written atomically.

Inputs. :func:`open_input` refuses, by path and before reading a byte, anything that is
not a regular file (a directory, a FIFO, a device such as ``/dev/zero``, a socket) and any
file larger than the limit for its kind (:mod:`clmsim.limits`). The file is opened
without blocking (``O_NONBLOCK``, so a FIFO swapped in after the check cannot hang the
open) and checked again on the open descriptor. :func:`read_text` reads at most the limit.

Outputs. :func:`atomic_write` and :func:`atomic_path` write to a temporary file in the
target's directory, flush it to disk and rename it over the final name (``os.replace``,
atomic on POSIX): a reader sees the old file or the whole new one, never a part. When a
write fails (read-only directory, full disk, file size limit, permission) the temporary
file is removed and :class:`WriteError` names the path and the reason in one line.
"""

from __future__ import annotations

import contextlib
import errno
import os
import stat
import uuid
from pathlib import Path
from typing import Callable, Iterator

from .errors import ClmsimError

__all__ = ["InputError", "WriteError", "open_input", "read_text", "read_bytes", "atomic_write",
           "atomic_path", "ensure_dir", "os_reason", "write_error"]

_REASONS = {
    errno.ENOSPC: "the disk is full",
    errno.EDQUOT: "the disk quota is exceeded",
    errno.EFBIG: "the file is larger than this process may write (file size limit)",
    errno.EROFS: "the file system is read-only",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.ENOENT: "a directory on the path does not exist",
    errno.ENOTDIR: "a component of the path is not a directory",
    errno.EISDIR: "it is a directory",
    errno.ENAMETOOLONG: "the name is too long",
    errno.EEXIST: "a file of that name is in the way",
}


class InputError(ClmsimError):
    """An input file cannot be read as asked: ``path`` and ``reason`` (one line)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{path}: {reason}")


class WriteError(ClmsimError):
    """An output could not be written: names the path and the reason (one line)."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"cannot write {path}: {reason}")


def os_reason(exc: OSError) -> str:
    """A short human reason for an ``OSError`` (``the disk is full``), never a traceback."""
    return _REASONS.get(exc.errno, exc.strerror or type(exc).__name__)


def write_error(path: str | Path, exc: OSError) -> WriteError:
    """The :class:`WriteError` of a failed write of ``path``."""
    return WriteError(path, os_reason(exc))


def _human_bytes(n: float) -> str:
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB"):
        if n < 1024 or unit == "TiB":
            return f"{n:,.0f} {unit}" if unit == "bytes" else f"{n:,.1f} {unit}"
        n /= 1024
    return f"{n:,.1f} TiB"  # pragma: no cover


def _kind(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "a directory"
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    if stat.S_ISSOCK(mode):
        return "a socket"
    return "not a regular file"


def _a(what: str) -> str:
    return f"{'an' if what[:1] in 'aeiou' else 'a'} {what}"


def _check_stat(path: str | Path, st: os.stat_result, what: str, limit: int | None) -> None:
    if not stat.S_ISREG(st.st_mode):
        raise InputError(path, f"is {_kind(st.st_mode)}, not {_a(what)} file: refused")
    if limit is not None and st.st_size > limit:
        from .limits import ALLOW_HINT

        raise InputError(path, f"is {_human_bytes(st.st_size)}; {_a(what)} file may be at most "
                               f"{_human_bytes(limit)} ({ALLOW_HINT})")


@contextlib.contextmanager
def open_input(path: str | Path, what: str, limit: int | None) -> Iterator:
    """Open ``path`` for reading in binary mode after checking it is a regular file of at
    most ``limit`` bytes (``None``: no size limit). Raises :class:`InputError`."""
    try:
        st = os.stat(path)
    except FileNotFoundError:
        raise InputError(path, "file not found") from None
    except OSError as exc:
        raise InputError(path, f"cannot read: {os_reason(exc)}") from None
    _check_stat(path, st, what, limit)
    try:
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise InputError(path, f"cannot read: {os_reason(exc)}") from None
    try:
        _check_stat(path, os.fstat(fd), what, limit)  # the file checked is the file opened
        if hasattr(os, "set_blocking"):
            os.set_blocking(fd, True)
        fh = os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise
    with fh:
        yield fh


def read_bytes(path: str | Path, what: str, limit: int | None) -> bytes:
    """The bytes of a checked input file (see :func:`open_input`)."""
    with open_input(path, what, limit) as fh:
        try:
            data = fh.read(limit + 1) if limit is not None else fh.read()
        except OSError as exc:
            raise InputError(path, f"cannot read: {os_reason(exc)}") from None
    if limit is not None and len(data) > limit:  # it grew after the check
        raise InputError(path, f"grew beyond {_human_bytes(limit)} while being read")
    return data


def read_text(path: str | Path, what: str, limit: int | None) -> str:
    """The UTF-8 text of a checked input file; a file that is not UTF-8 text is refused by path."""
    data = read_bytes(path, what, limit)
    if b"\x00" in data:
        raise InputError(path, f"holds binary data (NUL bytes), not {_a(what)} file: refused")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise InputError(path, f"is not UTF-8 text (byte {exc.start + 1}): not {_a(what)} file") from None


def ensure_dir(path: str | Path) -> Path:
    """Create directory ``path`` (and parents) or raise :class:`WriteError` naming it."""
    p = Path(path)
    try:
        p.mkdir(parents=True, exist_ok=True)
    except FileExistsError:
        raise WriteError(p, "a file of that name is in the way (expected a directory)") from None
    except OSError as exc:
        raise write_error(p, exc) from None
    return p


def _tmp_name(path: Path) -> Path:
    return path.with_name(f".{path.name}.{os.getpid()}.{uuid.uuid4().hex[:8]}.tmp")


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path beside ``path``; on success it is synced and renamed to ``path``.

    Use with writers that take a path (``df.to_parquet(tmp)``). On any failure the
    temporary file is removed; an ``OSError`` becomes :class:`WriteError` naming ``path``.
    """
    path = Path(path)
    tmp = _tmp_name(path)
    try:
        yield tmp
        fd = os.open(tmp, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except OSError as exc:
        _unlink(tmp)
        raise write_error(path, exc) from None
    except BaseException:
        _unlink(tmp)
        raise


def atomic_write(path: str | Path, data: bytes | str | Callable[[object], None]) -> Path:
    """Write ``data`` (bytes, text as UTF-8, or a function writing to a binary file object)
    to ``path`` atomically. Raises :class:`WriteError` naming ``path`` when it fails."""
    path = Path(path)
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as fh:
            if callable(data):
                data(fh)
            else:
                fh.write(data.encode("utf-8") if isinstance(data, str) else data)
            fh.flush()
    return path


def _unlink(p: Path) -> None:
    with contextlib.suppress(OSError):
        os.unlink(p)
