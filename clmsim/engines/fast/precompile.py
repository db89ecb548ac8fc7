"""Compile the fast engine's kernels ahead of their first use (``clmsim compile``; ``make
install`` runs it, so a fresh installation's first run does not wait for numba).

Each kernel compiles in its own process, both at once: the compile of one kernel is
single-threaded, so on two cores the pair takes about as long as the slower one. The
kernels' argument types do not depend on the scenario (:mod:`.bundle`), so a run of a tiny
scenario compiles exactly what every later run loads from numba's cache (``NUMBA_CACHE_DIR``,
else ``__pycache__`` beside the kernel sources). This module does not import numba itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from ...errors import ClmsimError

MODES = ("counts", "individual")
"""The kernels, by the mode that runs them."""

TINY = """
schema_version: 1
name: compile-kernels
time: {period: month, horizon: 3}
stages:
  active: {kind: active, revenue: 10, margin: 0.5}
  lapsed: {kind: churned}
  gone: {kind: lost}
transitions:
  active: {lapsed: 0.1}
  lapsed: {gone: 0.5}
initial_population: {active: 20}
"""
"""A scenario just big enough to run every kernel once (any scenario compiles the same code)."""

CHILD = """
import json, sys, time
from clmsim import compile_model, scenario_from_text
from clmsim.engines import fast
from clmsim.engines.fast.precompile import TINY
mode = sys.argv[1]
t = time.perf_counter()
fast.simulate([compile_model(scenario_from_text(TINY))], runs=1, seed=0, mode=mode, threads=1)
from clmsim.engines.fast.kernels import counts, individual
kernel = {"counts": counts.simulate_counts, "individual": individual.simulate_individual}[mode]
print(json.dumps({"mode": mode, "compiled": sum(kernel.stats.cache_misses.values()) > 0,
                  "seconds": time.perf_counter() - t}))
"""


def precompile(modes=MODES, echo=None) -> list[dict]:
    """Compile (or find in the cache) the kernels of ``modes``, one process each, all at once.

    Parameters
    ----------
    modes : sequence of {"counts", "individual"}
    echo : callable, optional
        Receives progress text (one line when the processes start, one per kernel done).

    Returns
    -------
    list of dict
        Per kernel: ``mode``, ``compiled`` (False: it was in the cache) and ``seconds``.

    Raises
    ------
    ClmsimError
        A kernel failed to compile (with the end of its error output).
    """
    modes = list(dict.fromkeys(modes))
    bad = [m for m in modes if m not in MODES]
    if bad:
        raise ClmsimError(f"unknown mode(s) {', '.join(bad)}; choose from {', '.join(MODES)}")
    env = dict(os.environ, CLMSIM_COMPILE_NOTICE="0")
    if echo:
        echo(f"clmsim: compiling the fast engine's kernels ({' and '.join(modes)} mode, "
             f"{len(modes)} process{'es' if len(modes) > 1 else ''}; a minute or less, once per numba cache) ...")
    t0 = time.perf_counter()
    procs = {m: subprocess.Popen([sys.executable, "-c", CHILD, m], env=env, stdout=subprocess.PIPE,
                                 stderr=subprocess.PIPE, text=True) for m in modes}
    results = []
    for m, p in procs.items():
        out, err = p.communicate()
        if p.returncode != 0:
            raise ClmsimError(f"compiling the {m}-mode kernel failed:\n{err[-2000:]}")
        res = json.loads(out.strip().splitlines()[-1])
        results.append(res)
        if echo:
            what = f"compiled in {res['seconds']:.0f} s" if res["compiled"] else "already compiled (cached)"
            echo(f"clmsim:   {m}-mode kernel {what}")
    if echo:
        echo(f"clmsim: kernels ready in {time.perf_counter() - t0:.0f} s")
    return results
