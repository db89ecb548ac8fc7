"""Time of ``clmsim fit rfm`` on the vendored CDNOW sample (9-month holdout), by option.

Each command runs in a fresh process (``python -m clmsim.cli``), its CPU time (user + sys of the
child) recorded. ``--against TREE`` runs the same commands in another checkout too, the two trees
alternating round by round, and prints the ratio of the medians. Commands that the other tree
does not accept (``--classes 0`` before it existed) are timed in this tree only. A report, not a
test. Usage: ``.venv/bin/python benchmarks/calibration_time.py [--rounds 3] [--against TREE]``.
"""

from __future__ import annotations

import os
import resource
import statistics
import subprocess
import sys
from pathlib import Path

import interleave

ROOT = Path(__file__).resolve().parents[1]
CDNOW = ["fit", "rfm", str(ROOT / "data" / "cdnow" / "CDNOW_sample.txt"), "--sep", "whitespace",
         "--names", "customer_id,sample_id,date,cds,amount", "--date-format", "%Y%m%d", "--holdout", "9"]
VARIANTS = {"default": [], "--classes 0": ["--classes", "0"], "--classes 2": ["--classes", "2"],
            "--classes auto": ["--classes", "auto"]}


def cpu_seconds(tree: str, extra: list[str]) -> float | None:
    """CPU seconds of one ``fit rfm`` in ``tree``; None if that tree refuses the options."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    env = dict(os.environ, PYTHONPATH=tree)
    out = subprocess.run([sys.executable, "-c", "import sys; from clmsim.cli import main; sys.exit(main(sys.argv[1:]))",
                          *CDNOW, *extra], cwd=tree, env=env, capture_output=True, text=True)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if out.returncode != 0:
        return None
    return (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def main() -> None:
    args, trees = interleave.parse(__doc__, rounds=3)
    times = {k: {v: [] for v in VARIANTS} for k in trees}
    print(f"fit rfm on CDNOW, 9-month holdout; {args.rounds} rounds; load average {os.getloadavg()[0]:.2f}")
    for r in range(args.rounds):
        for name, extra in VARIANTS.items():
            for k, tree in interleave.in_turn(trees, r):
                t = cpu_seconds(tree, extra)
                if t is not None:
                    times[k][name].append(t)
    print(f"  {'options':<16}" + "".join(f"{k + ' (s CPU)':>16}" for k in trees) + ("   new/old" if args.against else ""))
    for name in VARIANTS:
        med = {k: statistics.median(times[k][name]) if times[k][name] else None for k in trees}
        cells = "".join(f"{m:16.2f}" if m is not None else f"{'refused':>16}" for m in med.values())
        ratio = f"{med['new'] / med['old']:10.3f}" if args.against and med.get("old") else ""
        print(f"  {name:<16}{cells}{ratio}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
