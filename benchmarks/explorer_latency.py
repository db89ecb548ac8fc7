"""Redraw latency of ``clmsim explore`` in headless Chromium, for every bundled scenario.

For each scenario this starts ``clmsim explore FILE --no-browser``, opens it in Debian's
Chromium (Playwright, ``executable_path``), presses the arrow key on a few sliders and
measures, in the browser, the time from the ``keydown`` event to the second animation frame
after the last document change the server sent (the figures have been painted by then).
Reports the median, the 90th percentile (nearest rank) and the largest redraw, the time from
starting the command to the first complete page, the server's own share of a redraw
(validation + analytic engine, median) and the load average.

    .venv/bin/python benchmarks/explorer_latency.py [--presses 12] [FILE ...]

To compare two versions of the code interleaved, run this script once per scenario and version
with ``PYTHONPATH`` naming the other version's source tree, from a folder outside the repository:
``clmsim explore`` is started as a subprocess (``python -m``, which puts the current folder first on
the path) and imports clmsim from there (docs/classroom.md shows the loop).

A report, not a test: the target is 300 ms per redraw on this machine (docs/classroom.md).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from clmsim.explore.browser import browser_page, open_explorer, press_slider, running_explorer  # noqa: E402

DEFAULT = sorted((ROOT / "scenarios").glob("*.yaml"))


def measure(path: Path, presses: int) -> dict:
    t0 = time.perf_counter()
    with running_explorer(path) as url, browser_page() as page:
        open_explorer(page, url)
        startup = time.perf_counter() - t0
        n = page.locator(".noUi-handle").count()
        picks = sorted({0, n // 3, (2 * n) // 3, n - 1})  # a transition, an economics, a spend slider...
        lat, server = [], []
        for k in range(presses):
            idx = picks[k % len(picks)]
            key = "ArrowRight" if (k // len(picks)) % 2 == 0 else "ArrowLeft"
            lat.append(press_slider(page, idx, key))
            status = page.locator("#redraws").inner_text()  # "update N: computed in M ms on the server"
            server.append(float(status.split("computed in ")[1].split(" ms")[0]))
    return {"startup_s": startup, "lat": lat, "sliders": n, "server": server}


def p90(values: list[float]) -> float:
    """90th percentile, nearest rank (with 12 presses: the second largest)."""
    return sorted(values)[math.ceil(0.9 * len(values)) - 1]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("files", nargs="*", type=Path, default=DEFAULT)
    ap.add_argument("--presses", type=int, default=12)
    args = ap.parse_args()
    print(f"load average {os.getloadavg()[0]:.2f} (2 cores)")
    print(f"{'scenario':<34} {'sliders':>7} {'start s':>8} {'median ms':>10} {'p90 ms':>7} {'max ms':>7} "
          f"{'server ms':>10}  all (ms)")
    worst = 0.0
    for f in args.files:
        r = measure(f, args.presses)
        worst = max(worst, max(r["lat"]))
        print(f"{f.name:<34} {r['sliders']:>7} {r['startup_s']:>8.1f} {statistics.median(r['lat']):>10.0f} "
              f"{p90(r['lat']):>7.0f} {max(r['lat']):>7.0f} {statistics.median(r['server']):>10.0f}  "
              f"{', '.join(f'{x:.0f}' for x in r['lat'])}", flush=True)
    print(f"worst redraw: {worst:.0f} ms (target 300 ms); load average now {os.getloadavg()[0]:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
