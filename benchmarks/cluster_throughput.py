"""Sweep throughput on an external Dask cluster with 1 and 2 worker processes (docs/analysis.md).

Starts ``dask scheduler`` and N ``dask worker`` processes on 127.0.0.1 (separate programs, as on
several hosts), runs the same sweep (telecom, counts mode, POINTS lever values x RUNS runs) on
each cluster, checks the runs tables are identical, and prints customer-periods per second and
the 2-worker / 1-worker ratio. A report, not a test. Usage:
``.venv/bin/python benchmarks/cluster_throughput.py [--runs 2000] [--points 6] [--repeats 2]``.
"""

from __future__ import annotations

import argparse
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


def start(n: int, tmp: Path):
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    addr = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "DASK_LOGGING__DISTRIBUTED": "error"}
    quiet = {"stdout": subprocess.DEVNULL, "stderr": subprocess.DEVNULL, "env": env}
    procs = [subprocess.Popen([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], **quiet)]
    procs += [subprocess.Popen([str(BIN / "dask"), "worker", addr, "--nthreads", "1", "--no-dashboard"],
                               cwd=str(tmp), **quiet) for _ in range(n)]
    from dask.distributed import Client

    for _ in range(120):
        try:
            with Client(addr, timeout="2s") as c:
                c.wait_for_workers(n, timeout=60)
            return addr, procs
        except OSError:
            time.sleep(0.5)
    raise SystemExit("cluster did not start")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--runs", type=int, default=2000)
    ap.add_argument("--points", type=int, default=6)
    ap.add_argument("--repeats", type=int, default=2, help="measurements per worker count, interleaved")
    a = ap.parse_args()
    from clmsim.analysis.sweep import sweep

    tmp = Path(tempfile.mkdtemp(prefix="clmsim-cluster-"))
    exp = tmp / "exp.yaml"
    exp.write_text(f"""name: cluster-throughput
scenario: {ROOT / 'scenarios' / 'telecom.yaml'}
strategies: [baseline]
levers:
  retention.programs.save_desk.spend_per_customer: {{from: 0, to: {2.5 * (a.points - 1)}, step: 2.5}}
runs: {a.runs}
chunk_runs: 100
seed: 1
engine: fast
mode: counts
""")
    rates: dict[int, list[float]] = {1: [], 2: []}
    tables = {}
    for rep, n in enumerate((1, 2) * a.repeats):
        addr, procs = start(n, tmp)
        try:
            sweep(exp, tmp / f"warm{n}", scheduler=addr, progress=False, runs=2 * n)  # workers load the kernels
            t0 = time.perf_counter()
            res = sweep(exp, tmp / f"w{n}-{rep}", scheduler=addr, progress=False)
            wall = time.perf_counter() - t0
        finally:
            for p in procs:
                p.terminate()
            for p in procs:
                p.wait()
        rates[n].append(res.manifest["customer_periods_last"] / res.manifest["seconds_last"])
        tables[n] = res.runs
        print(f"{n} worker(s): {wall:.1f} s wall ({res.manifest['seconds_last']:.1f} s computing the chunks), "
              f"{rates[n][-1]:.3g} customer-periods/s "
              f"({a.points} points x {a.runs} runs, chunks of 100)")
    best = {n: max(v) for n, v in rates.items()}
    print(f"identical runs tables: {tables[1].equals(tables[2])}; 2 / 1 workers (best of {a.repeats} each, "
          f"interleaved): {best[2] / best[1]:.2f}x (load average {os.getloadavg()[0]:.2f})")


if __name__ == "__main__":
    main()
