"""How the fast engine's kernels run: runs spread over threads.

Threads: a kernel simulates a range of runs ``[r0, r1)`` and releases the GIL
(``nogil``); :func:`run_split` cuts ``[0, R)`` into contiguous ranges and runs them on a
thread pool. Every run writes only its own output rows and draws only from its own
streams, so results are bit-identical for any number of threads. (numba's
``parallel=True`` would do the same job but triples the kernels' compile time: its
parfor passes compile each kernel's loop body a second time.)
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numba

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
    if threads <= 1 or runs <= 1:
        kernel(0, runs, *args)
        return
    parts = min(runs, 4 * threads)
    bounds = [runs * i // parts for i in range(parts + 1)]
    with ThreadPoolExecutor(max_workers=min(threads, parts), thread_name_prefix="clmsim-kernel") as pool:
        for f in [pool.submit(kernel, bounds[i], bounds[i + 1], *args) for i in range(parts)]:
            f.result()
