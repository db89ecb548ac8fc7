"""The server's share of an explorer redraw, in process: CPU and wall time per slider move.

For each scenario this builds the explorer's page (:class:`clmsim.explore.app.Page`) on a Bokeh
document without a server or browser, moves the same sliders as
``benchmarks/explorer_latency.py`` (a transition, an economics, a spend slider...; one step
right, later one step left) and times each redraw: validation, analytic engine, figure data
and texts. CPU time (``time.process_time``) hardly depends on the machine's load; wall time
does. Reports median and 90th percentile (nearest rank) of both.

    .venv/bin/python benchmarks/explorer_redraw.py [--presses 24] [FILE ...]
    .venv/bin/python benchmarks/explorer_redraw.py --source OTHER_TREE FILE   # another version's code

``--source`` imports clmsim from another source tree (e.g. ``git worktree add /tmp/old
<commit>``), so two versions can be compared interleaved in one session (docs/classroom.md).
A report, not a test.
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT = sorted((ROOT / "scenarios").glob("*.yaml"))


def p90(values: list[float]) -> float:
    """90th percentile, nearest rank."""
    return sorted(values)[math.ceil(0.9 * len(values)) - 1]


def measure(path: Path, presses: int) -> dict:
    from bokeh.document import Document

    from clmsim.explore import app

    page = app.Page(Document(), path)
    getattr(app, "settle_heap", lambda: None)()  # as the server does once a page is built (older versions: no)
    sliders = list(page.sliders.values())
    n = len(sliders)
    picks = sorted({0, n // 3, (2 * n) // 3, n - 1})
    cpu, wall = [], []
    for k in range(presses + 2):  # the first two warm caches up and are left out
        control, slider, _ = sliders[picks[k % len(picks)]]
        sign = 1 if (k // len(picks)) % 2 == 0 else -1
        value = min(slider.end, max(slider.start, slider.value + sign * slider.step))
        slider.value = value
        page.ex.set(control.keys, value)
        t0, c0 = time.perf_counter(), time.process_time()
        page.redraw()
        if k >= 2:
            wall.append(1000 * (time.perf_counter() - t0))
            cpu.append(1000 * (time.process_time() - c0))
    return {"sliders": n, "cpu": cpu, "wall": wall}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--presses", type=int, default=24)
    ap.add_argument("--source", type=Path, default=ROOT, help="source tree to import clmsim from")
    args = ap.parse_args()
    sys.path.insert(0, str(args.source.resolve()))
    warnings.simplefilter("ignore")  # plausibility advice on edited settings
    import clmsim

    print(f"clmsim from {Path(clmsim.__file__).parent}; load average {os.getloadavg()[0]:.2f} (2 cores)")
    print(f"{'scenario':<34} {'sliders':>7} {'cpu median':>10} {'cpu p90':>8} {'wall median':>11} {'wall p90':>8}")
    for f in args.files:
        r = measure(f.resolve(), args.presses)
        print(f"{f.name:<34} {r['sliders']:>7} {statistics.median(r['cpu']):>10.1f} {p90(r['cpu']):>8.1f} "
              f"{statistics.median(r['wall']):>11.1f} {p90(r['wall']):>8.1f}", flush=True)
    print(f"load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
