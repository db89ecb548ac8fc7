"""Counts mode's cost against the population (a report, not a test: nothing is asserted).

Run ``.venv/bin/python benchmarks/counts_population.py``. Times the fast engine's counts mode
on ``scenarios/telecom.yaml`` (baseline; heterogeneity as automatic Gauss classes), one run,
one thread, with the initial population scaled to 10^5 .. 10^12 customers (the stage mix
kept), with win-back on (the scenario's policy) and off (coverage 0):

* ``kernel``: the engine call in process, kernel compiled, fastest of ``--repeat`` calls;
* ``command``: wall time of the whole ``clmsim run --engine fast --mode counts --runs 1``
  (start-up, validation, the resource check, the run and writing the results), once.

``--against TREE`` also times the ``kernel`` column with another checkout's code (e.g. the
code before a change) in a subprocess with its own numba cache, ``--timeout`` seconds per
population (slower cases are reported as "> timeout").
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TELECOM = ROOT / "scenarios" / "telecom.yaml"
MIX = {"onboarding": 3600, "new": 11500, "growing": 23000, "loyal": 56200, "declining": 24300, "at_risk": 17400}
"""Telecom's initial population by stage (scaled to the requested total)."""
OFF = "winback.policies.reactivation_offer.coverage=0"
POPULATIONS = (1e5, 1e9, 1e10, 1e11, 1e12)


def overrides(total: float, winback: bool) -> list[str]:
    """``--set`` values giving an initial population of ``total`` in telecom's mix."""
    scale = total / sum(MIX.values())
    return [f"initial_population.{k}={int(round(v * scale))}" for k, v in MIX.items()] + ([] if winback else [OFF])


CHILD = """
import json, sys, time
from clmsim import compile_model, load_scenario
from clmsim.engines import fast
cases = json.loads(sys.argv[2])
model = lambda ov: compile_model(load_scenario(sys.argv[1], overrides=ov))
fast.simulate([model([])], runs=1, seed=1, mode="counts", threads=1)      # compiled (or loaded), warm
for label, ov in cases:
    m = model(ov)
    best = None
    for _ in range(int(sys.argv[3])):
        t = time.perf_counter()
        fast.simulate([m], runs=1, seed=2, mode="counts", threads=1, quantiles=False)
        t = time.perf_counter() - t
        best = t if best is None or t < best else best
        if t > 5.0:                    # slow: one call says enough
            break
    print(json.dumps([label, best]), flush=True)
"""


def kernel_times(tree: Path, cases: list, repeat: int, timeout: float) -> dict:
    """Fastest engine call per case with ``tree``'s code; cases after a timeout are missing."""
    out: dict = {}
    with tempfile.TemporaryDirectory(prefix="clmsim-bench-pop-") as cache:
        own = tree == ROOT and "NUMBA_CACHE_DIR" in os.environ
        env = dict(os.environ, PYTHONPATH=str(tree), NUMBA_CACHE_DIR=os.environ["NUMBA_CACHE_DIR"] if own else cache,
                   CLMSIM_COMPILE_NOTICE="0")
        subprocess.run([sys.executable, "-c", CHILD, str(TELECOM), "[]", "1"], cwd=tree, env=env, check=True,
                       capture_output=True)                                  # compile once, untimed
        for case in cases:             # one process per case: a slow case cannot hold up the others
            try:
                res = subprocess.run([sys.executable, "-c", CHILD, str(TELECOM), json.dumps([case]), str(repeat)],
                                     cwd=tree, env=env, capture_output=True, text=True,
                                     timeout=timeout + 30 if timeout < float("inf") else None)
            except subprocess.TimeoutExpired:
                continue
            for line in res.stdout.splitlines():
                label, t = json.loads(line)
                if t <= timeout:
                    out[label] = t
    return out


def command_time(ov: list[str]) -> float:
    with tempfile.TemporaryDirectory(prefix="clmsim-bench-out-") as d:
        cmd = [str(ROOT / ".venv" / "bin" / "clmsim"), "run", str(TELECOM), "--engine", "fast", "--mode", "counts",
               "--runs", "1", "--seed", "1", "--out", d] + [a for o in ov for a in ("--set", o)]
        t = time.perf_counter()
        subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
        return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--against", help="another checkout whose kernel times to show beside these")
    ap.add_argument("--repeat", type=int, default=3, help="engine calls per case (fastest kept)")
    ap.add_argument("--timeout", type=float, default=100.0, help="seconds per case for --against")
    args = ap.parse_args()
    cases = [(f"{pop:.0e} {'on' if wb else 'off'}", overrides(pop, wb)) for wb in (True, False) for pop in POPULATIONS]
    print(f"telecom baseline, counts mode, 1 run, 1 thread; load average {os.getloadavg()[0]:.2f}")
    new = kernel_times(ROOT, cases, args.repeat, float("inf"))
    old = kernel_times(Path(args.against).resolve(), cases, args.repeat, args.timeout) if args.against else {}
    head = f"  {'customers':>10} {'win-back':>8} {'kernel s':>9} {'command s':>10}"
    print(head + (f" {'old kernel s':>13}" if args.against else ""))
    for label, ov in cases:
        pop, wb = label.split()
        row = f"  {pop:>10} {wb:>8} {new[label]:9.3f} {command_time(ov):10.2f}"
        if args.against:
            row += f" {old[label]:13.3f}" if label in old else f" {'> ' + format(args.timeout, 'g'):>13}"
        print(row)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
