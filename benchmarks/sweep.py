"""Throughput report of strategy evaluation at scale (issue #6; a report, nothing is asserted).

Run ``.venv/bin/python benchmarks/sweep.py [--runs 1000] [--points 100] [--workers 2]``.

(a) single process, one thread: the counts kernel on telecom (the sweep's unit of work),
    customer-periods represented per second and milliseconds per run;
(b) ``clmsim sweep`` of a ``points``-point grid of the save-desk spend on telecom
    (counts mode, ``runs`` runs per point) on ``workers`` processes of the local pool and,
    with ``--dask``, on a Dask LocalCluster: wall time, customer-periods per second and the
    ratio to ``workers x`` the single-process rate of (a);
(c) the same two kernels run at once in two processes (what this machine gives two
    processes), for the overhead of the orchestration alone.

The load average is printed before and after: on a shared machine wall figures drop.
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
sys.path.insert(0, str(ROOT))
os.environ.setdefault("NUMBA_NUM_THREADS", "1")

from clmsim import compile_model, load_scenario  # noqa: E402
from clmsim.analysis.sweep import sweep  # noqa: E402
from clmsim.engines import fast  # noqa: E402

TELECOM = ROOT / "scenarios" / "telecom.yaml"


def experiment(points: int, runs: int, chunk: int) -> str:
    step = 0.5
    return f"""
name: bench-{points}x{runs}
scenario: {TELECOM}
strategies: [baseline]
levers:
  retention.programs.save_desk.spend_per_customer: {{from: 0, to: {(points - 1) * step}, step: {step}}}
runs: {runs}
seed: 7
engine: fast
mode: counts
chunk_runs: {chunk}
"""


def kernel_rate(runs: int) -> dict:
    """One process, one thread: telecom baseline in counts mode (automatic classes)."""
    model = compile_model(load_scenario(TELECOM))
    fast.simulate([model], runs=2, seed=1, threads=1)
    cpu, wall = time.process_time(), time.perf_counter()
    res = fast.simulate([model], runs=runs, seed=2, threads=1, quantiles=False)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    work = res.provenance["customer_periods"]
    return {"runs": runs, "wall": wall, "cpu": cpu, "rate": work / wall, "cpu_rate": work / cpu,
            "ms_per_run": 1000 * wall / runs, "het_nodes": res.provenance.get("het_nodes")}


def concurrent_kernels(n: int, runs: int) -> list[dict]:
    """``n`` processes running :func:`kernel_rate` at the same time."""
    code = ("import json, sys; sys.path.insert(0, 'benchmarks'); import sweep; "
            f"print(json.dumps(sweep.kernel_rate({runs})))")
    procs = [subprocess.Popen([sys.executable, "-c", code], cwd=ROOT, stdout=subprocess.PIPE, text=True)
             for _ in range(n)]
    return [json.loads(p.communicate()[0].strip().splitlines()[-1]) for p in procs]


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", type=int, default=1000, help="runs per grid point (default 1000)")
    ap.add_argument("--points", type=int, default=100, help="grid points (default 100)")
    ap.add_argument("--chunk", type=int, default=500, help="runs per task (default 500)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--dask", action="store_true", help="also run on a Dask LocalCluster")
    args = ap.parse_args(argv)
    print(f"load average before: {os.getloadavg()[0]:.2f}   cpus: {os.cpu_count()}")
    k = kernel_rate(400)
    print(f"(a) kernel, 1 process, 1 thread: {k['ms_per_run']:.2f} ms per telecom run "
          f"(het_nodes {k['het_nodes']}), {k['rate']:.3g} customer-periods/s wall, {k['cpu_rate']:.3g} per cpu-s")
    both = concurrent_kernels(args.workers, 400)
    together = sum(b["rate"] for b in both)
    print(f"(c) {args.workers} kernel processes at once: {together:.3g} customer-periods/s in total "
          f"({together / k['rate']:.2f}x one process)")
    backends = ["processes"] + (["dask"] if args.dask else [])
    for backend in backends:
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "experiment.yaml"
            path.write_text(experiment(args.points, args.runs, args.chunk))
            t0 = time.perf_counter()
            sw = sweep(path, Path(tmp) / "out", backend=backend, workers=args.workers, command=["bench"])
            wall = time.perf_counter() - t0
            work = sw.manifest["customer_periods_last"]
            rate = work / wall
            print(f"(b) sweep {args.points} points x {args.runs} runs on {args.workers} {backend} workers: "
                  f"{wall:.1f} s wall ({sw.manifest['seconds_last']:.1f} s in tasks), {rate:.3g} customer-periods/s"
                  f" = {rate / (args.workers * k['rate']):.2f}x {args.workers} x single process, "
                  f"{rate / together:.2f}x {args.workers} concurrent kernels; "
                  f"{1000 * wall / (args.points * args.runs):.3f} ms per run")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
