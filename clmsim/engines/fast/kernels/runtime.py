"""How the fast engine's kernels run: runs spread over threads, and a notice while one compiles.

Threads: a kernel simulates a range of runs ``[r0, r1)`` and releases the GIL
(``nogil``); :func:`run_split` cuts ``[0, R)`` into contiguous ranges and runs them on a
thread pool. Every run writes only its own output rows and draws only from its own
streams, so results are bit-identical for any number of threads. (numba's
``parallel=True`` would do the same job but triples the kernels' compile time: its
parfor passes compile each kernel's loop body a second time.)

Compile notice: the first call of a kernel with an empty cache compiles it (docs/engines.md
gives the CPU time per kernel); :func:`notice_compiles` registers a kernel so that one line
on stderr says so, with the usual duration, and completes with the time it took.

One compile per cache: processes that share a numba cache (the workers of ``clmsim sweep``
or ``compare --workers``, or two commands run at once) would each compile a kernel the cache
does not hold yet, at the same time: twice the CPU, and their notices interleaved on one
terminal. :func:`run_split` therefore makes a kernel's first use in a process go through
:func:`compile_once`: a compile takes an exclusive lock on a file beside the kernel's cache
files, so one process compiles and the others wait and then load its code from the cache (a
load takes no lock). The compile generates machine code for the kernel alone, not for the
helpers whose IR it links (:mod:`.deferred_codegen`).
"""

from __future__ import annotations

import os
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numba
import numpy as np
from numba.core import config, event

from ....errors import ClmsimError
from ... import POOL_WORKER_ENV
from .cache import locator_of
from .deferred_codegen import deferring

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows: no lock, each process compiles for itself
    fcntl = None


def max_threads() -> int:
    """Threads available to the kernels: numba's ``NUMBA_NUM_THREADS`` (default: the CPUs)."""
    return int(numba.config.NUMBA_NUM_THREADS)


def threads_for(threads: int | None) -> int:
    """Threads a kernel call uses: ``threads``, or :func:`max_threads` when None.

    Raises
    ------
    ClmsimError
        More threads than :func:`max_threads`.
    """
    if threads is None:
        return max_threads()
    if threads > max_threads():
        raise ClmsimError(f"threads={threads} exceeds the {max_threads()} numba threads available "
                          "(NUMBA_NUM_THREADS)")
    return int(threads)


def run_split(kernel, runs: int, threads: int, *args) -> None:
    """``kernel(r0, r1, *args)`` over ``[0, runs)``: one call on this thread when ``threads``
    is 1, else contiguous ranges (up to four per thread, for balance) on ``threads`` threads."""
    if config.DISABLE_JIT:                     # plain Python: uint64 arithmetic wraps on purpose
        kernel = _wrapping(kernel)
    elif not kernel.signatures:                # first use in this process: compile or load, once per cache
        compile_once(kernel, (0, runs) + args)
    if threads <= 1 or runs <= 1:
        kernel(0, runs, *args)
        return
    parts = min(runs, 4 * threads)
    bounds = [runs * i // parts for i in range(parts + 1)]
    with ThreadPoolExecutor(max_workers=min(threads, parts), thread_name_prefix="clmsim-kernel") as pool:
        for f in [pool.submit(kernel, bounds[i], bounds[i + 1], *args) for i in range(parts)]:
            f.result()


def compile_lock_path(kernel) -> str | None:
    """The lock file of ``kernel``'s compile: beside its cache files (None when it is not
    cached or the cache directory cannot be written)."""
    locator = locator_of(kernel)
    if locator is None:
        return None
    try:
        locator.ensure_cache_path()
    except OSError:
        return None
    return os.path.join(locator.get_cache_path(), f"{kernel.py_func.__qualname__}.compile-lock")


def compile_once(kernel, args) -> None:
    """Compile ``kernel`` for the types of ``args``, or load it from numba's cache, so that
    processes sharing the cache compile it once (module docstring).

    A load from the cache takes no lock. A compile (a cache miss) first takes an exclusive
    lock on :func:`compile_lock_path` (:class:`_CompileLock`); if another process holds it,
    this one waits, then loads what the other wrote. Without a lock (no cache, a read-only
    cache directory, a platform without ``fcntl``) the kernel compiles as usual.
    """
    sig = tuple(kernel.typeof_pyval(a) for a in args)
    with _FIRST_USE:                                     # one thread of this process at a time
        held = _LOCK.pending[kernel] = []                # the lock's file descriptor, once held (never
                                                         # without fcntl: the listener is not registered)
        try:
            with deferring():                            # no machine code for what only the kernel calls
                try:
                    kernel.compile(sig)
                except _CompiledElsewhere:
                    kernel.compile(sig)                  # a load (or, if the other failed, a compile)
        finally:
            del _LOCK.pending[kernel]
            for fd in held:                              # after numba wrote the cache files
                fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)


_FIRST_USE = threading.Lock()


class _CompiledElsewhere(Exception):
    """Raised into numba's compile when another process compiled the kernel meanwhile."""


class _CompileLock(event.Listener):
    """At the start of a real compile (numba found nothing in its cache) of a kernel in
    :func:`compile_once`: take the kernel's compile lock; if another process holds it, wait
    for it and abort this compile (:class:`_CompiledElsewhere`): that process wrote the cache."""

    def __init__(self):
        self.pending: dict[object, list[int]] = {}

    def on_start(self, ev):
        held = self.pending.get(ev.data["dispatcher"])
        if held is None or held:
            return
        path = compile_lock_path(ev.data["dispatcher"])
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666) if path else None
        except OSError:
            fd = None
        if fd is None:
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                _wait_for_lock(ev.data["dispatcher"], fd)
                held.append(fd)
                raise _CompiledElsewhere() from None
        except OSError:                                  # no locks on this file system: compile unlocked
            os.close(fd)
            return
        held.append(fd)

    def on_end(self, ev):
        pass


def _wait_for_lock(kernel, fd: int) -> None:
    info = _NOTICE.kernels.get(kernel)
    say = (info is not None and _NOTICES_ON
           and os.environ.get(POOL_WORKER_ENV, "").strip() not in ("1", "true"))
    t0 = time.perf_counter()
    if say:
        sys.stderr.write(f"clmsim: another process is compiling the fast engine's {info[0]} kernel into the same "
                         f"cache; waiting for it (usually {info[1]}) ...")
        sys.stderr.flush()
    fcntl.flock(fd, fcntl.LOCK_EX)
    if say:
        sys.stderr.write(f" done in {time.perf_counter() - t0:.0f} s\n")
        sys.stderr.flush()


def _wrapping(kernel):
    def call(*args):
        with np.errstate(over="ignore"):
            return kernel(*args)
    return call


class _CompileNotice(event.Listener):
    """Writes one line to stderr while a registered kernel compiles."""

    def __init__(self):
        self.kernels: dict[object, tuple[str, str]] = {}
        self.started: dict[object, float] = {}
        self.lock = threading.Lock()

    def on_start(self, ev):
        info = self.kernels.get(ev.data["dispatcher"])
        if info is not None:
            with self.lock:
                self.started[ev.data["dispatcher"]] = time.perf_counter()
            sys.stderr.write(f"clmsim: compiling the fast engine's {info[0]} kernel (once per numba cache; "
                             f"usually {info[1]}) ...")
            sys.stderr.flush()

    def on_end(self, ev):
        with self.lock:
            t0 = self.started.pop(ev.data["dispatcher"], None)
        if t0 is not None:
            sys.stderr.write(f" done in {time.perf_counter() - t0:.0f} s\n")
            sys.stderr.flush()


_LOCK = _CompileLock()
if fcntl is not None:                          # before the notice: an aborted compile prints nothing
    event.register("numba:compile", _LOCK)
_NOTICE = _CompileNotice()
_NOTICES_ON = os.environ.get("CLMSIM_COMPILE_NOTICE", "1").strip() != "0"   # (0: clmsim compile reports instead)
if _NOTICES_ON:
    event.register("numba:compile", _NOTICE)


def notice_compiles(dispatcher, label: str, usual: str) -> None:
    """Announce on stderr every compile of ``dispatcher`` (``label``: e.g. "counts-mode";
    ``usual``: the usual duration, e.g. "20-30 s")."""
    _NOTICE.kernels[dispatcher] = (label, usual)
