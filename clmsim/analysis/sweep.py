"""``sweep``: run an experiment into a run directory that survives being killed.

Run directory layout (``OUT/``)::

    manifest.json        versions, seed, command line, engine, chunk plan, fingerprint, status
    experiment.yaml      the experiment file as given
    scenario.yaml        the resolved scenario (extends and overrides applied)
    points.parquet       one row per experiment point: lever and uncertainty values
    chunks/              runs-E<point>-R<first run>.parquet (and periods-...), one per task
    runs.parquet         one row per experiment x strategy x run (written when complete)
    periods.parquet      per experiment x strategy x period x item (when ``periods: true``)
    summary.parquet/.csv per experiment x strategy x metric: levels and paired differences

Every file is written to a temporary name in the same directory and renamed
(``os.replace``, atomic on POSIX), so a killed process leaves either a whole
chunk or none. Rerunning the same command resumes: the manifest's fingerprint
(experiment content, scenario hash, engine, chunking, seed blocks) must match,
finished chunks are kept and only missing ones are computed. Because every
chunk is a pure function of (models, seed, run range) -- see
:mod:`clmsim.analysis.runner` -- the resumed result is identical to an
uninterrupted one, whatever the backend.
"""

from __future__ import annotations

import hashlib
import json
import os
import platform
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from .._version import __version__
from ..errors import ClmsimError
from ..scenario import dump_yaml
from . import runner
from .backends import Backend, chunk_ranges, make_backend
from .compare import Comparison, add_total_spend
from .experiment import design, load_experiment, point_models, point_values

MANIFEST = "manifest.json"


@dataclass
class Sweep:
    """A finished sweep.

    Attributes
    ----------
    directory : Path
    manifest : dict
    points : DataFrame
        One row per experiment point.
    runs : DataFrame
        One row per experiment x strategy x run.
    summary : DataFrame
        Tidy: experiment, strategy, kind, metric, mean, sd, n, ci_lo, ci_hi.
    periods : DataFrame
        Per-period table when requested (else empty).
    """

    directory: Path
    manifest: dict
    points: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    periods: pd.DataFrame = field(default_factory=pd.DataFrame)

    def table(self, metric: str = "npv", kind: str = "level") -> pd.DataFrame:
        """Summary rows of one metric and kind joined with the point values (wide in parameters)."""
        s = self.summary[(self.summary.metric == metric) & (self.summary.kind == kind)]
        return s.merge(self.points, on="experiment", how="left")


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` through a temporary file and an atomic rename."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    df.to_parquet(tmp, index=False)
    with open(tmp, "rb") as fh:
        os.fsync(fh.fileno())
    os.replace(tmp, path)


def atomic_write_text(text: str, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def _fingerprint(parts: dict) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _chunk_name(kind: str, e: int, r0: int) -> str:
    return f"{kind}-E{e:06d}-R{r0:09d}.parquet"


def summarize(runs: pd.DataFrame, baseline: str, alpha: float = 0.05) -> pd.DataFrame:
    """Per experiment point the :meth:`Comparison.table` statistics, stacked (tidy)."""
    out = []
    mc = bool((runs["run"] >= 0).any()) if len(runs) else True
    for e, sub in runs.groupby("experiment", sort=True):
        c = Comparison(sub.drop(columns="experiment"), baseline, {"monte_carlo": mc})
        t = c.table(alpha)
        t.insert(0, "experiment", e)
        out.append(t)
    return pd.concat(out, ignore_index=True) if out else pd.DataFrame()


def sweep(experiment: str | Path, out: str | Path, *, runs: int | None = None, seed: int | None = None,
          engine: str | None = None, backend: str | Backend | None = None, workers: int | None = None,
          scheduler: str | None = None, command: Sequence[str] | None = None,
          max_tasks: int | None = None, **options) -> Sweep:
    """Run (or resume) an experiment into the run directory ``out``.

    Parameters
    ----------
    experiment : path
        Experiment YAML (see :mod:`clmsim.scenario.experiment`).
    out : path
        Run directory; created if missing, resumed if it holds the same experiment.
    runs, seed, engine : optional
        Override the experiment file's values (part of the fingerprint).
    backend, workers, scheduler
        Execution backend (:func:`clmsim.analysis.backends.make_backend`). Default: serial, or a
        Dask LocalCluster when ``workers`` is given. (``clmsim sweep`` defaults to a local process
        pool; from a script, ``backend="processes"`` needs the usual ``if __name__ == "__main__":``
        guard because workers are started with ``spawn``.)
    command : sequence of str, optional
        Command line recorded in the manifest.
    max_tasks : int, optional
        Stop after this many new chunks (the sweep is then partial; rerun to finish).
    **options
        Extra engine options (e.g. ``het_nodes=8``), part of the fingerprint.

    Returns
    -------
    Sweep
        ``manifest["status"]`` is ``"complete"`` or ``"partial"``.
    """
    exp = load_experiment(experiment)
    spec = exp.spec
    runs = int(runs if runs is not None else spec.runs)
    seed = int(seed if seed is not None else spec.seed)
    eng = engine or spec.engine
    if runs < 1:
        raise ClmsimError(f"runs must be at least 1, got {runs}")
    mc = runner.is_monte_carlo(eng)
    opts = {**spec.engine_options, **options} if mc else dict(options)
    if mc and runner.accepts_option(eng, "mode"):
        opts.setdefault("mode", spec.mode)
    if mc:
        opts = runner.pin_options(eng, point_models(exp, {}), opts)
    offset = runner.supports_run_offset(eng) if mc else False
    chunk = runs if (spec.periods or not mc) else spec.chunk_runs
    block = chunk if not offset else runner.DEFAULT_BLOCK
    points = design(exp)
    plan = [(int(e), r0, r1) for e in points["experiment"]
            for r0, r1 in (chunk_ranges(runs, chunk) if mc else [(0, 1)])]
    out = Path(out)
    finger = _fingerprint({"experiment": exp.plain(), "scenario_hash": exp.scenario.hash, "engine": eng,
                           "runs": runs, "seed": seed, "options": opts, "chunk": chunk, "block": block,
                           "run_offset": offset})
    chunks = out / "chunks"
    manifest_path = out / MANIFEST
    if manifest_path.exists():
        old = json.loads(manifest_path.read_text())
        if old.get("fingerprint") != finger:
            raise ClmsimError(f"{out} holds a different sweep (experiment, seed, runs, engine or options "
                              f"changed); choose a new --out directory")
    chunks.mkdir(parents=True, exist_ok=True)
    manifest = {
        "experiment": spec.name, "experiment_file": str(exp.source), "scenario": exp.scenario.name,
        "scenario_hash": exp.scenario.hash, "engine": eng, "options": opts, "seed": seed, "runs": runs,
        "strategies": exp.strategies, "baseline": spec.baseline, "points": len(points),
        "chunk_runs": chunk, "seed_block": None if offset else block, "run_offset": offset,
        "tasks": len(plan), "fingerprint": finger,
        "command": list(command) if command is not None else sys.argv,
        "versions": _versions(), "status": "running",
    }
    atomic_write_text(json.dumps(manifest, indent=2, default=str), manifest_path)
    atomic_write_text(exp.text, out / "experiment.yaml")
    atomic_write_text(dump_yaml(exp.scenario.data), out / "scenario.yaml")
    atomic_write_parquet(points, out / "points.parquet")

    todo = [(e, r0, r1) for e, r0, r1 in plan if not (chunks / _chunk_name("runs", e, r0)).exists()]
    if max_tasks is not None:
        todo = todo[:max_tasks]
    models_cache: dict[int, tuple] = {}
    tasks = []
    for e, r0, r1 in todo:
        if e not in models_cache:
            models_cache = {e: point_models(exp, point_values(points, e))}
        tasks.append(runner.RunTask(models_cache[e], eng, seed, r0, r1, opts, {"experiment": e},
                                    block, spec.periods))
    t0 = time.perf_counter()
    work = task_seconds = 0.0
    if backend is None:
        backend = "dask" if (workers or scheduler) else "serial"
    with make_backend(backend, workers, scheduler) as be:
        for i, res in be.imap(runner.run_task, tasks, progress=f"sweep {spec.name}"):
            e, r0, _ = todo[i]
            if spec.periods and len(res["periods"]):
                atomic_write_parquet(res["periods"], chunks / _chunk_name("periods", e, r0))
            atomic_write_parquet(res["runs"], chunks / _chunk_name("runs", e, r0))
            work += res["customer_periods"]
            task_seconds += res["seconds"]
    seconds = time.perf_counter() - t0
    done = [p for p in plan if (chunks / _chunk_name("runs", p[0], p[1])).exists()]
    manifest.update(tasks_done=len(done), seconds_last=seconds, customer_periods_last=work,
                    task_seconds_last=task_seconds,
                    status="complete" if len(done) == len(plan) else "partial")
    if manifest["status"] != "complete":
        atomic_write_text(json.dumps(manifest, indent=2, default=str), manifest_path)
        return Sweep(out, manifest, points, pd.DataFrame(), pd.DataFrame())
    table = pd.concat([pd.read_parquet(chunks / _chunk_name("runs", e, r0)) for e, r0, _ in plan],
                      ignore_index=True)
    table = add_total_spend(table).sort_values(["experiment", "strategy", "run"], kind="stable",
                                               key=_strategy_order(exp.strategies)).reset_index(drop=True)
    periods = pd.DataFrame()
    if spec.periods:
        periods = pd.concat([pd.read_parquet(chunks / _chunk_name("periods", e, r0)) for e, r0, _ in plan
                             if (chunks / _chunk_name("periods", e, r0)).exists()], ignore_index=True)
        atomic_write_parquet(periods, out / "periods.parquet")
    summary = summarize(table, spec.baseline)
    atomic_write_parquet(table, out / "runs.parquet")
    atomic_write_parquet(summary, out / "summary.parquet")
    atomic_write_text(summary.merge(points, on="experiment").to_csv(index=False), out / "summary.csv")
    atomic_write_text(json.dumps(manifest, indent=2, default=str), manifest_path)
    return Sweep(out, manifest, points, table, summary, periods)


def _strategy_order(strategies: list[str]):
    rank = {s: i for i, s in enumerate(strategies)}

    def key(col: pd.Series) -> pd.Series:
        return col.map(rank) if col.name == "strategy" else col
    return key


def read_sweep(directory: str | Path) -> Sweep:
    """Load a complete run directory written by :func:`sweep`."""
    d = Path(directory)
    if not (d / MANIFEST).exists():
        raise ClmsimError(f"{d} is not a sweep run directory (no {MANIFEST})")
    manifest = json.loads((d / MANIFEST).read_text())
    if manifest.get("status") != "complete":
        raise ClmsimError(f"the sweep in {d} is {manifest.get('status')}; rerun the same command to finish it")
    periods = pd.read_parquet(d / "periods.parquet") if (d / "periods.parquet").exists() else pd.DataFrame()
    return Sweep(d, manifest, pd.read_parquet(d / "points.parquet"), pd.read_parquet(d / "runs.parquet"),
                 pd.read_parquet(d / "summary.parquet"), periods)


def _versions() -> dict:
    import numpy
    import scipy

    v: dict[str, Any] = {"clmsim": __version__, "python": platform.python_version(), "numpy": numpy.__version__,
                         "pandas": pd.__version__, "scipy": scipy.__version__, "platform": platform.platform()}
    from importlib.metadata import PackageNotFoundError, version

    for dist in ("numba", "pyarrow", "dask", "distributed", "SALib"):
        try:
            v[dist] = version(dist)
        except PackageNotFoundError:  # optional extras
            pass
    return v
