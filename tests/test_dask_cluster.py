"""A sweep on a real multi-process Dask cluster: ``dask scheduler`` and two ``dask worker``
processes started as separate programs on 127.0.0.1 (as on several hosts, docs/analysis.md).

Oracle: the local serial run of the same experiment -- the runs table must be identical.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from clmsim.analysis.sweep import sweep

from test_sweep import experiment

BIN = Path(sys.executable).parent


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_sweep_on_external_scheduler_and_two_worker_processes_gives_local_bits(tmp_path):
    dask = BIN / "dask"
    if not dask.exists():
        pytest.skip("the dask command line is not installed")
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    env = {**os.environ, "NUMBA_NUM_THREADS": "1", "DASK_LOGGING__DISTRIBUTED": "error"}
    procs = [subprocess.Popen([str(dask), "scheduler", "--host", "127.0.0.1", "--port", str(port),
                               "--no-dashboard"], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([str(dask), "worker", address, "--nthreads", "1", "--nworkers", "1",
                                           "--no-dashboard"], env=env, cwd=str(tmp_path),
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        from dask.distributed import Client

        deadline = time.monotonic() + 60
        while True:
            try:
                with Client(address, timeout="2s") as client:
                    client.wait_for_workers(2, timeout=max(1.0, deadline - time.monotonic()))
                break
            except (OSError, TimeoutError):
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.5)
        exp = experiment(tmp_path, runs=4, chunk=2, samples=1)
        local = sweep(exp, tmp_path / "local", backend="serial", progress=False)
        remote = sweep(exp, tmp_path / "cluster", scheduler=address, progress=False)
        pd.testing.assert_frame_equal(remote.runs, local.runs)
        pd.testing.assert_frame_equal(remote.summary, local.summary)
    finally:
        for p in reversed(procs):
            p.terminate()
        for p in procs:
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
