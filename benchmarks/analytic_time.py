"""CPU time of the analytic engine on the shipped scenarios (best of 5 per process).

``--against TREE`` runs the same in another checkout, the two trees alternating round by round,
and prints the ratio of the best times. A report, not a test. Usage:
``.venv/bin/python benchmarks/analytic_time.py [--rounds 4] [--against TREE]``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import interleave

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = ("telecom", "textbook", "subscription", "ecommerce")

CHILD = """
import json, sys, time
from clmsim.api import simulate
out = {}
for name in sys.argv[1:]:
    path = f"scenarios/{name}.yaml"
    simulate(path, engine="analytic")
    best = None
    for _ in range(5):
        t = time.process_time()
        simulate(path, engine="analytic")
        dt = time.process_time() - t
        best = dt if best is None else min(best, dt)
    out[name] = best
print(json.dumps(out))
"""


def main() -> None:
    args, trees = interleave.parse(__doc__, rounds=4)
    names = [n for n in SCENARIOS if (ROOT / "scenarios" / f"{n}.yaml").exists()]
    best: dict[str, dict[str, float]] = {k: {} for k in trees}
    print(f"analytic engine, CPU seconds per simulate (best of 5 x {args.rounds} rounds); "
          f"load average {os.getloadavg()[0]:.2f}")
    for r in range(args.rounds):
        for k, tree in interleave.in_turn(trees, r):
            run = subprocess.run([sys.executable, "-c", CHILD, *names], cwd=tree, env=dict(os.environ, PYTHONPATH=tree),
                                 capture_output=True, text=True, check=True)
            for n, v in json.loads(run.stdout.strip().splitlines()[-1]).items():
                best[k][n] = min(v, best[k].get(n, v))
    for n in names:
        line = f"  {n:<14} new {best['new'][n]:.4f} s"
        if args.against:
            line += f"   old {best['old'][n]:.4f} s   new/old {best['new'][n] / best['old'][n]:.3f}"
        print(line)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
