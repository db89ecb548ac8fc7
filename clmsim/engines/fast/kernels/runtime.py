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
    if threads <= 1 or runs <= 1:
        kernel(0, runs, *args)
        return
    parts = min(runs, 4 * threads)
    bounds = [runs * i // parts for i in range(parts + 1)]
    with ThreadPoolExecutor(max_workers=min(threads, parts), thread_name_prefix="clmsim-kernel") as pool:
        for f in [pool.submit(kernel, bounds[i], bounds[i + 1], *args) for i in range(parts)]:
            f.result()


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


_NOTICE = _CompileNotice()
if os.environ.get("CLMSIM_COMPILE_NOTICE", "1").strip() != "0":      # (0: clmsim compile reports instead)
    event.register("numba:compile", _NOTICE)


def notice_compiles(dispatcher, label: str, usual: str) -> None:
    """Announce on stderr every compile of ``dispatcher`` (``label``: e.g. "counts-mode";
    ``usual``: the usual duration, e.g. "20-30 s")."""
    _NOTICE.kernels[dispatcher] = (label, usual)
