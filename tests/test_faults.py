"""Nothing lost under faults: kills, a full disk, Ctrl-C, a parent that dies.

Oracles: the uninterrupted run's bytes (a sweep killed with SIGKILL at random points and
resumed gives byte-identical runs.parquet and summary.csv); the file system (a full disk
leaves earlier results readable, no partial file under a final name and no temporary
file); the process table (no pool worker or resource tracker outlives a killed sweep by
more than a few seconds); standard error (Ctrl-C prints one line). These need real
processes, so they run ``python -m clmsim`` as subprocesses.
"""

from __future__ import annotations

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
TELECOM = ROOT / "scenarios" / "telecom.yaml"
ENV = {**os.environ, "NUMBA_NUM_THREADS": "1"}


def experiment(tmp_path: Path, runs: int, chunk: int, points: int = 3, engine: str = "fast") -> Path:
    p = tmp_path / "exp.yaml"
    p.write_text(f"""name: faults
scenario: {TELECOM}
overrides: {{time.horizon: 12}}
strategies: [baseline, winback_off]
levers:
  retention.programs.save_desk.spend_per_customer: {{from: 0, to: {10 * (points - 1)}, step: 10}}
runs: {runs}
chunk_runs: {chunk}
seed: 11
engine: {engine}
mode: counts
engine_options: {{het_nodes: 4}}
""")
    return p


def sweep_cmd(exp: Path, out: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "clmsim", "sweep", str(exp), "--out", str(out), *extra]


def descendants(pid: int) -> set[int]:
    out = subprocess.run(["ps", "-o", "pid=", "--ppid", str(pid)], capture_output=True, text=True).stdout.split()
    kids = {int(x) for x in out}
    for k in list(kids):
        kids |= descendants(k)
    return kids


def alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as fh:
            return fh.read().split()[2] != "Z"
    except OSError:
        return False


def test_sweep_killed_at_random_points_resumes_to_identical_bytes(tmp_path):
    from clmsim.analysis.sweep import sweep

    exp = experiment(tmp_path, runs=16, chunk=1, points=2)
    full = tmp_path / "full"
    sweep(exp, full, backend="serial")  # the uninterrupted reference, in this process
    out = tmp_path / "killed"
    rnd = random.Random(20261202)
    kills = 0
    for _ in range(3):
        proc = subprocess.Popen(sweep_cmd(exp, out, "--backend", "serial"), env=ENV, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        done = len(list((out / "chunks").glob("runs-*.parquet"))) if (out / "chunks").exists() else 0
        target = done + rnd.randint(1, 8)
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and proc.poll() is None:
            if (out / "chunks").exists() and len(list((out / "chunks").glob("runs-*.parquet"))) >= target:
                time.sleep(rnd.uniform(0, 0.05))  # anywhere in the next chunk's write
                break
            time.sleep(0.005)
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL)
            kills += 1
        proc.wait()
    assert kills >= 2
    rerun = subprocess.run(sweep_cmd(exp, out, "--backend", "serial"), env=ENV, cwd=ROOT, capture_output=True,
                           text=True, timeout=600)
    assert rerun.returncode == 0 and "Traceback" not in rerun.stderr, rerun.stderr
    assert "chunks reused" in rerun.stdout
    for name in ("runs.parquet", "summary.csv", "summary.parquet", "points.parquet"):
        assert (out / name).read_bytes() == (full / name).read_bytes(), name
    assert not list(out.rglob(".*.tmp"))


@pytest.fixture()
def small_disk(tmp_path):
    """A directory on a 600 KiB tmpfs (as root), else None (the test then limits the file size)."""
    d = tmp_path / "disk"
    d.mkdir()
    if os.geteuid() == 0 and subprocess.run(["mount", "-t", "tmpfs", "-o", "size=600k", "tmpfs", str(d)],
                                            capture_output=True).returncode == 0:
        yield d, None
        subprocess.run(["umount", str(d)], capture_output=True)
    else:  # RLIMIT_FSIZE in the child: writes beyond it fail with EFBIG
        yield d, 600 * 1024


def _limit_fsize(limit):
    def pre():
        import resource

        signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))
    return pre if limit else None


def test_full_disk_mid_sweep_keeps_earlier_results_and_says_so(tmp_path, small_disk):
    disk, limit = small_disk
    exp = experiment(tmp_path, runs=400, chunk=40, points=4)
    out = disk / "sw"
    proc = subprocess.run(sweep_cmd(exp, out, "--backend", "serial"), env=ENV, cwd=ROOT, capture_output=True,
                          text=True, timeout=600, preexec_fn=_limit_fsize(limit))
    err = proc.stderr.strip()
    assert proc.returncode == 2, err
    assert "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "cannot write" in err and ("disk is full" in err or "file size limit" in err), err
    assert not list(out.rglob(".*.tmp")), list(out.rglob("*"))
    import pandas as pd

    chunks = sorted((out / "chunks").glob("runs-*.parquet"))
    assert chunks, "no chunk was finished before the disk filled up: make the chunks smaller"
    for c in chunks:  # every file under a final name is whole
        assert len(pd.read_parquet(c)) > 0
    assert not (out / "runs.parquet").exists()


def test_full_disk_on_run_out_leaves_no_partial_file(tmp_path, small_disk):
    disk, limit = small_disk
    (disk / "keep.txt").write_text("earlier result\n")
    if limit is None:  # leave 24 KiB free: the first table fits, a later one does not
        free = os.statvfs(disk).f_bavail * os.statvfs(disk).f_frsize
        (disk / "filler").write_bytes(b"x" * max(0, free - 24 * 1024))
    out = disk / "run"
    proc = subprocess.run([sys.executable, "-m", "clmsim", "run", str(TELECOM), "--engine", "fast", "--runs", "20",
                           "--seed", "1", "--out", str(out)], env=ENV, cwd=ROOT, capture_output=True, text=True,
                          timeout=600, preexec_fn=_limit_fsize(24 * 1024 if limit else None))
    err = proc.stderr.strip()
    assert proc.returncode == 2 and "Traceback" not in err and len(err.splitlines()) == 1, err
    assert "cannot write" in err
    assert (disk / "keep.txt").read_text() == "earlier result\n"
    assert not list(disk.rglob(".*.tmp"))
    import pyarrow.parquet as pq

    for f in out.glob("*.parquet"):
        pq.read_table(f)  # whole, or not there


@pytest.mark.parametrize("backend", [["--backend", "processes", "--workers", "2"]])
def test_killed_sweep_leaves_no_worker_or_tracker(tmp_path, backend):
    exp = experiment(tmp_path, runs=400, chunk=20, points=6)
    for wait in (3.0, 7.0):  # during the pool's start-up, and while it computes
        proc = subprocess.Popen(sweep_cmd(exp, tmp_path / f"o{wait}", *backend), env=ENV, cwd=ROOT,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        seen: set[int] = set()
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline:
            seen |= descendants(proc.pid)
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        gone = time.monotonic() + 15
        while time.monotonic() < gone and any(alive(p) for p in seen):
            time.sleep(0.1)
        left = [p for p in seen if alive(p)]
        for p in left:
            os.kill(p, signal.SIGKILL)
        assert not left, f"killed at {wait} s: {len(left)} of {len(seen)} children outlived it by 15 s"


@pytest.mark.parametrize("backend", [["--backend", "processes", "--workers", "2"], ["--workers", "2"]],
                         ids=["processes", "dask"])
def test_ctrl_c_prints_one_line(tmp_path, backend):
    exp = experiment(tmp_path, runs=4000, chunk=50, points=4)
    proc = subprocess.Popen(sweep_cmd(exp, tmp_path / "o", *backend), env=ENV, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    chunks = tmp_path / "o" / "chunks"
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not (
            chunks.exists() and any(chunks.glob("runs-*.parquet"))):
        time.sleep(0.05)
    assert proc.poll() is None, "the sweep ended before Ctrl-C"
    os.killpg(proc.pid, signal.SIGINT)  # the terminal sends SIGINT to the whole process group
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 130
    assert err.strip() == "clmsim: interrupted", err
