"""Sweeps: resume after a real kill, and identical bits on every backend.

Oracle: the uninterrupted serial run. A sweep killed mid-way (SIGKILL of the
``clmsim sweep`` process) and rerun must give a runs table identical to it, as
must a local process pool and a real Dask LocalCluster with 2 workers.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from clmsim.analysis.sweep import read_sweep, sweep
from clmsim.errors import ClmsimError

ROOT = Path(__file__).resolve().parents[1]
TELECOM = ROOT / "scenarios" / "telecom.yaml"


def experiment(tmp_path: Path, runs: int = 40, chunk: int = 10, samples: int = 2, name: str = "exp.yaml") -> Path:
    text = f"""
name: tiny-retention
scenario: {TELECOM}
overrides: {{time.horizon: 12}}
strategies: [baseline, winback_off]
levers:
  retention.programs.save_desk.spend_per_customer: {{from: 0, to: 20, step: 10}}
uncertainties:
  transitions.at_risk.churned: {{dist: uniform, low: 0.16, high: 0.24}}
sampling: {{method: lhs, samples: {samples}}}
runs: {runs}
chunk_runs: {chunk}
seed: 7
engine: fast
mode: counts
engine_options: {{het_nodes: 4}}
"""
    p = tmp_path / name
    p.write_text(text)
    return p


def test_sweep_writes_run_directory_with_one_row_per_experiment_strategy_run(tmp_path):
    exp = experiment(tmp_path, runs=6, chunk=3, samples=2)
    res = sweep(exp, tmp_path / "out", backend="serial")
    assert res.manifest["status"] == "complete"
    assert len(res.points) == 3 * 2
    assert len(res.runs) == 6 * 2 * 6
    assert res.runs.groupby(["experiment", "strategy"]).size().eq(6).all()
    out = tmp_path / "out"
    for f in ("manifest.json", "experiment.yaml", "scenario.yaml", "points.parquet", "runs.parquet",
              "summary.parquet", "summary.csv"):
        assert (out / f).exists(), f
    m = json.loads((out / "manifest.json").read_text())
    assert m["seed"] == 7 and m["versions"]["clmsim"] and m["command"]
    again = read_sweep(out)
    pd.testing.assert_frame_equal(again.runs, res.runs)
    # common random numbers: the same run index of two grid points shares its inputs, so the
    # baseline at save-desk spend 10 vs 0 differs far less than two independent runs would
    s = res.table("npv")
    assert set(s.strategy) == {"baseline", "winback_off"}


def test_rerun_of_complete_sweep_computes_nothing_and_changed_experiment_is_refused(tmp_path):
    exp = experiment(tmp_path, runs=4, chunk=2, samples=1)
    sweep(exp, tmp_path / "out", backend="serial")
    chunk_files = sorted((tmp_path / "out" / "chunks").iterdir())
    mtimes = [p.stat().st_mtime_ns for p in chunk_files]
    again = sweep(exp, tmp_path / "out", backend="serial")
    assert again.manifest["customer_periods_last"] == 0
    assert [p.stat().st_mtime_ns for p in chunk_files] == mtimes
    with pytest.raises(ClmsimError, match="different sweep"):
        sweep(exp, tmp_path / "out", backend="serial", runs=8)


def test_partial_sweep_resumes_to_identical_result(tmp_path):
    exp = experiment(tmp_path, runs=6, chunk=2, samples=1)
    full = sweep(exp, tmp_path / "full", backend="serial")
    part = sweep(exp, tmp_path / "part", backend="serial", max_tasks=4)
    assert part.manifest["status"] == "partial"
    rest = sweep(exp, tmp_path / "part", backend="serial")
    pd.testing.assert_frame_equal(rest.runs, full.runs)


# Killing a sweep at random points and resuming it: tests/test_faults.py.


@pytest.mark.slow
def test_process_pool_and_dask_local_cluster_give_serial_bits(tmp_path, capfd):
    exp = experiment(tmp_path, runs=8, chunk=2, samples=1)
    serial = sweep(exp, tmp_path / "serial", backend="serial")
    pool = sweep(exp, tmp_path / "pool", backend="processes", workers=2)
    pd.testing.assert_frame_equal(pool.runs, serial.runs)
    capfd.readouterr()
    dask = sweep(exp, tmp_path / "dask", backend="dask", workers=2)
    pd.testing.assert_frame_equal(dask.runs, serial.runs)
    pd.testing.assert_frame_equal(dask.summary, serial.summary)
    time.sleep(1.0)  # a worker's late heartbeat message would arrive now
    assert capfd.readouterr().err == ""  # a successful Dask sweep ends silently (workers' stderr included)


# An external scheduler with two worker processes started as separate programs: tests/test_dask_cluster.py.


def test_periods_table_per_experiment_when_asked(tmp_path):
    p = tmp_path / "p.yaml"
    p.write_text(f"""
name: periods
scenario: {TELECOM}
overrides: {{time.horizon: 6}}
strategies: [baseline]
levers:
  winback.policies.reactivation_offer.coverage: [0, 1]
engine: analytic
periods: true
seed: 1
""")
    res = sweep(p, tmp_path / "out", backend="serial")
    per = res.periods
    assert set(per["experiment"]) == {0, 1}
    assert (tmp_path / "out" / "periods.parquet").exists()
    contacts = per[(per["item"] == "contacts")].groupby("experiment")["mean"].sum()
    assert contacts[0] == 0.0 and contacts[1] > 0.0     # coverage 0 contacts nobody
    # the runs table agrees with the per-period flows (exact engine)
    runs = res.runs.set_index("experiment")
    assert runs.loc[1, "contacts"] == pytest.approx(contacts[1], rel=1e-9)


@pytest.mark.parametrize("kind", ["serial", "processes", "dask"])
def test_a_failing_task_raises_its_error_on_every_backend(kind):
    # the Dask backend fetches results in the background as tasks finish; a task's exception
    # must still reach the caller (here: an unknown engine name in a module-level function)
    from clmsim.analysis import runner
    from clmsim.analysis.backends import make_backend
    from clmsim.errors import ClmsimError

    with make_backend(kind, workers=2 if kind == "processes" else 1) as backend:
        assert backend.map(runner.engine_name, ["fast", "des"]) == ["fast", "des"]
        with pytest.raises(ClmsimError, match="unknown engine 'nope'"):
            backend.map(runner.engine_module, ["nope"])
