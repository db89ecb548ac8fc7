"""``sweep``: run an experiment into a run directory that survives being killed.

Run directory layout (``OUT/``)::

    manifest.json        versions, seed, command line, engine, chunk plan, fingerprint, status, checksum
    experiment.yaml      the experiment file as given
    scenario.yaml        the resolved scenario (extends and overrides applied)
    points.parquet       one row per experiment point: lever and uncertainty values
    chunks/              runs-E<point>-R<first run>-<checksum>.parquet (and periods-...), one per task
    runs.parquet         one row per experiment x strategy x run with the point's lever and
                         uncertainty values (written when complete; identifier column names,
                         clmsim.analysis.columns, mapping in the manifest's ``columns``)
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

Damage is detected, not trusted. Each chunk's name carries a checksum of the
sweep's fingerprint and the chunk's bytes, and the manifest carries a checksum of
its own content. On resume every chunk is verified: a truncated, empty or foreign
chunk is moved to ``OUT/damaged/`` (nothing is deleted), reported, and computed
again; a damaged manifest is reported and rebuilt. A request refused before any
chunk was finished (a bad option, an unreachable scheduler, an invalid point)
leaves no obstacle: the corrected command takes the directory over. A directory
holding finished chunks of a *different* sweep is refused with the fields that
changed.
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
from ..safeio import atomic_path, atomic_write, ensure_dir
from ..scenario import dump_yaml
from . import runner
from .backends import Backend, chunk_ranges, make_backend
from .columns import POINT_KEYS, sweep_names, tidy_points, tidy_runs
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
    paths : dict
        Column name (a Python identifier, :mod:`clmsim.analysis.columns`) -> the dotted path or
        engine column it stands for, for every renamed column.

    ``points`` and ``runs`` carry the lever and uncertainty values as columns named by
    identifiers (``retention__programs__save_desk__spend_per_customer``); ``runs`` also has
    ``grid`` and ``sample``, and counts that are whole numbers are integers.
    """

    directory: Path
    manifest: dict
    points: pd.DataFrame
    runs: pd.DataFrame
    summary: pd.DataFrame
    periods: pd.DataFrame = field(default_factory=pd.DataFrame)
    paths: dict = field(default_factory=dict)

    @property
    def inputs(self) -> list[str]:
        """Columns of ``points`` holding lever and uncertainty values."""
        return [c for c in self.points.columns if c not in POINT_KEYS]

    def path(self, column: str) -> str:
        """The dotted path (or engine column) a column name stands for."""
        return self.paths.get(column, column)

    def column(self, path: str) -> str:
        """The column name of a dotted path (or of a column name, returned as it is)."""
        if path in self.points.columns or path in self.runs.columns:
            return path
        for ident, orig in self.paths.items():
            if orig == path:
                return ident
        raise ClmsimError(f"'{path}' is not a column of this sweep; columns: {', '.join(self.inputs)}")

    def table(self, metric: str = "npv", kind: str = "level") -> pd.DataFrame:
        """Summary rows of one metric and kind joined with the point values (wide in parameters)."""
        s = self.summary[(self.summary.metric == metric) & (self.summary.kind == kind)]
        return s.merge(self.points, on="experiment", how="left")

    def diff(self, reference_point: int | dict, metric: str = "npv", strategy: str | None = None,
             alpha: float = 0.05) -> pd.DataFrame:
        """Paired differences between experiment points, with intervals.

        For every point ``e`` and strategy ``s``: ``D_r = X_{e,s,r} - X_{ref,s,r}`` over the runs
        ``r`` (the same random inputs at every point: common random numbers), its mean and
        Student-t interval (:func:`clmsim.stats.mean_ci`; exact engine: a degenerate interval).
        With uncertainty samples the reference is the reference grid point *at the same
        sample*, so differences are paired on the uncertain inputs too.

        Parameters
        ----------
        reference_point : int or dict
            An experiment index, or lever values (dotted paths or column names -> value) that
            pick one grid point.
        metric : str
            A runs column (default ``npv``).
        strategy : str, optional
            Compare every point's ``strategy`` with the baseline at the reference point instead
            (default: each strategy with itself at the reference point).

        Returns
        -------
        DataFrame
            ``experiment, grid, sample, <inputs>, strategy, reference, metric, mean, sd, n, ci_lo,
            ci_hi`` (metric ``<metric>_diff``).
        """
        import numpy as np

        from ..stats import mean_ci

        pts = self.points
        if isinstance(reference_point, dict):
            mask = pd.Series(True, index=pts.index)
            for k, v in reference_point.items():
                col = self.column(k)
                mask &= (pts[col].astype(float) - float(v)).abs() <= 1e-9 * max(1.0, abs(float(v)))
            grids = sorted(set(pts.loc[mask, "grid"]))
            if len(grids) != 1:
                raise ClmsimError(f"the reference {reference_point} matches {len(grids)} grid points; give the "
                                  "value of every lever (or an experiment index)")
            ref_grid = int(grids[0])
        else:
            e = int(reference_point)
            if e not in set(pts["experiment"]):
                raise ClmsimError(f"no experiment point {e}; the sweep has 0..{len(pts) - 1}")
            ref_grid = int(pts.loc[pts["experiment"] == e, "grid"].iloc[0])
        if metric not in self.runs.columns:
            raise ClmsimError(f"'{metric}' is not a runs column")
        strategies = list(dict.fromkeys(self.runs["strategy"]))
        if strategy is not None and strategy not in strategies:
            raise ClmsimError(f"unknown strategy '{strategy}'; the sweep has {', '.join(strategies)}")
        wide = self.runs.pivot_table(index=["experiment", "strategy"], columns="run", values=metric,
                                     aggfunc="first")
        ref_of = {int(r.sample): int(r.experiment) for r in pts[pts["grid"] == ref_grid].itertuples()}
        base = self.manifest.get("baseline", "baseline")
        rows = []
        for r in pts.to_dict("records"):
            e, k = int(r["experiment"]), int(r["sample"])
            for s in strategies:
                if strategy is not None and s != strategy:
                    continue
                ref_s = base if strategy is not None else s
                d = (wide.loc[(e, s)] - wide.loc[(ref_of[k], ref_s)]).to_numpy(dtype=float)
                mean, sd, lo, hi, n = mean_ci(d[~np.isnan(d)], alpha)
                rows.append({**r, "strategy": s, "reference": f"{ref_s} at grid {ref_grid}",
                             "metric": f"{metric}_diff", "mean": mean, "sd": sd, "n": n, "ci_lo": lo, "ci_hi": hi})
        return pd.DataFrame(rows)


def atomic_write_parquet(df: pd.DataFrame, path: Path) -> None:
    """Write ``df`` to ``path`` through a temporary file and an atomic rename."""
    with atomic_path(path) as tmp:
        df.to_parquet(tmp, index=False)


def atomic_write_text(text: str, path: Path) -> None:
    atomic_write(path, text)


def _fingerprint(parts: dict) -> str:
    blob = json.dumps(parts, sort_keys=True, default=str).encode()
    return hashlib.sha256(blob).hexdigest()[:16]


def _chunk_prefix(kind: str, e: int, r0: int) -> str:
    return f"{kind}-E{e:06d}-R{r0:09d}"


def _checksum(finger: str, data: bytes) -> str:
    return hashlib.sha256(finger.encode() + data).hexdigest()[:16]


def _write_chunk(df: pd.DataFrame, chunks: Path, kind: str, e: int, r0: int, finger: str) -> Path:
    """Write a chunk under a name carrying the checksum of (fingerprint, bytes)."""
    import io

    buf = io.BytesIO()
    df.to_parquet(buf, index=False)
    data = buf.getvalue()
    path = chunks / f"{_chunk_prefix(kind, e, r0)}-{_checksum(finger, data)}.parquet"
    atomic_write(path, data)
    return path


def _scan_chunks(chunks: Path, finger: str, damaged_dir: Path) -> tuple[dict[tuple[str, int, int], Path], list[str]]:
    """Verified chunk files by (kind, point, first run); damaged or foreign ones are moved to
    ``damaged_dir`` and listed."""
    found: dict[tuple[str, int, int], Path] = {}
    bad: list[str] = []
    if not chunks.is_dir():
        return found, bad
    for p in sorted(chunks.iterdir()):
        name = p.name
        if name.startswith(".") and name.endswith(".tmp"):
            p.unlink(missing_ok=True)  # a temporary file of a killed write: never a result
            continue
        parts = name.removesuffix(".parquet").split("-")
        ok = False
        if len(parts) == 4 and name.endswith(".parquet") and parts[1][:1] == "E" and parts[2][:1] == "R":
            try:
                key = (parts[0], int(parts[1][1:]), int(parts[2][1:]))
                ok = p.is_file() and _checksum(finger, p.read_bytes()) == parts[3]
            except (ValueError, OSError):
                ok = False
        if ok:
            found[key] = p
        else:
            bad.append(name)
            _quarantine(p, damaged_dir)
    return found, bad


def _count_valid(chunks: Path, finger: str) -> int:
    """Chunk files of the sweep with fingerprint ``finger`` that verify (read only)."""
    if not chunks.is_dir():
        return 0
    n = 0
    for p in chunks.glob("*.parquet"):
        parts = p.name.removesuffix(".parquet").split("-")
        try:
            n += len(parts) == 4 and _checksum(finger, p.read_bytes()) == parts[3]
        except OSError:
            pass
    return n


def _quarantine(p: Path, damaged_dir: Path) -> None:
    try:
        damaged_dir.mkdir(exist_ok=True)
        os.replace(p, damaged_dir / p.name)
    except OSError:
        pass


def _read_manifest(path: Path) -> tuple[dict | None, str]:
    """The manifest and ``""``, or ``None`` and why it is unusable (missing, damaged)."""
    if not path.exists():
        return None, "missing"
    try:
        m = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        return None, "damaged (not readable JSON)"
    if not isinstance(m, dict):
        return None, "damaged (not a JSON object)"
    if "checksum" not in m:
        return None, OLDER
    want = m.pop("checksum")
    if want != _manifest_checksum(m):
        return None, "damaged (checksum mismatch)"
    return m, ""


OLDER = "written by an older clmsim (no checksum)"


def _manifest_checksum(m: dict) -> str:
    return hashlib.sha256(json.dumps(m, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _write_manifest(m: dict, path: Path) -> None:
    body = json.loads(json.dumps(m, default=str))
    body["checksum"] = _manifest_checksum(body)
    atomic_write(path, json.dumps(body, indent=2))


def _changed(old: dict, new: dict, prefix: str = "") -> list[str]:
    """Dotted names of the fields that differ between two fingerprint-part dicts."""
    out = []
    for k in sorted(set(old) | set(new)):
        a, b = old.get(k), new.get(k)
        if isinstance(a, dict) and isinstance(b, dict):
            out += _changed(a, b, f"{prefix}{k}.")
        elif a != b:
            out.append(f"{prefix}{k}")
    return out


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
          max_tasks: int | None = None, progress: bool = True, **options) -> Sweep:
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
    progress : bool
        Show a progress bar with ETA on standard error (only when it is a terminal).
    **options
        Extra engine options (e.g. ``het_nodes=8``), part of the fingerprint.

    Returns
    -------
    Sweep
        ``manifest["status"]`` is ``"complete"`` or ``"partial"``; ``manifest["resume"]`` says how
        many chunks this call reused, computed and found damaged.

    Raises
    ------
    ClmsimError
        A bad request (checked before anything is written), a request beyond the resource
        limits (:mod:`clmsim.limits`), or a directory holding another sweep's chunks (the
        message names the fields that changed).
    """
    from ..limits import check, check_simulation, current

    exp = load_experiment(experiment)
    spec = exp.spec
    runs = int(runs if runs is not None else spec.runs)
    seed = int(seed if seed is not None else spec.seed)
    eng = engine or spec.engine
    if runs < 1:
        raise ClmsimError(f"runs must be at least 1, got {runs}")
    if seed < 0:
        raise ClmsimError(f"seed must be a non-negative integer, got {seed}")
    if max_tasks is not None and max_tasks < 0:
        raise ClmsimError(f"max_tasks must be non-negative, got {max_tasks}")
    be = make_backend(backend if backend is not None else ("dask" if (workers or scheduler) else "serial"),
                      workers, scheduler)
    mc = runner.is_monte_carlo(eng)
    opts = {**spec.engine_options, **options} if mc else dict(options)
    if mc and runner.accepts_option(eng, "mode"):
        opts.setdefault("mode", spec.mode)
    base_models = point_models(exp, {})
    offset = runner.supports_run_offset(eng) if mc else False
    chunk = runs if (spec.periods or not mc) else spec.chunk_runs
    block = chunk if not offset else runner.DEFAULT_BLOCK
    points = design(exp)
    lim = current()
    check(f"{exp.source}: the design", len(points), lim.points, "experiment points")
    check_simulation(base_models, runner.engine_name(eng), runs, opts.get("mode"), opts,
                     what=f"{exp.source}: sweep of {len(points):,} points x {runs:,} runs" if mc
                     else f"{exp.source}: sweep (analytic engine)",
                     repeat=len(points), memory_runs=min(chunk, runs), lim=lim)
    if mc:
        opts = runner.pin_options(eng, base_models, opts)
    plan = [(int(e), r0, r1) for e in points["experiment"]
            for r0, r1 in (chunk_ranges(runs, chunk) if mc else [(0, 1)])]
    out = Path(out)
    parts = {"experiment": exp.plain(), "scenario_hash": exp.scenario.hash, "engine": eng,
             "runs": runs, "seed": seed, "options": opts, "chunk": chunk, "block": block, "run_offset": offset}
    finger = _fingerprint(parts)
    chunks = out / "chunks"
    manifest_path = out / MANIFEST
    old, why = _read_manifest(manifest_path)
    notes: list[str] = []
    if old is None and why != "missing":
        notes.append(f"{manifest_path} was {why}; rebuilt from the experiment")
    if old is not None and old.get("fingerprint") != finger:
        theirs = _count_valid(chunks, str(old.get("fingerprint")))
        if theirs:
            changed = _changed(old.get("fingerprint_parts") or {}, json.loads(json.dumps(parts, default=str)))
            what = ", ".join(changed[:8]) + (" ..." if len(changed) > 8 else "") if changed else \
                "experiment, seed, runs, engine or options"
            raise ClmsimError(f"{out} holds a different sweep ({theirs} finished chunks); changed: {what}. "
                              "Choose a new --out directory, or remove the old one to start over")
        notes.append(f"{out} held a sweep that had finished no chunk; started afresh")
    found, bad = _scan_chunks(chunks, finger, out / "damaged")
    for tmp in out.glob(".*.tmp") if out.is_dir() else ():  # killed writes of final files
        tmp.unlink(missing_ok=True)
    reused = sum(1 for e, r0, _ in plan if ("runs", e, r0) in found)
    todo = [(e, r0, r1) for e, r0, r1 in plan if ("runs", e, r0) not in found]
    if max_tasks is not None:
        todo = todo[:max_tasks]
    models_cache: dict[int, tuple] = {}
    tasks = []  # every point is compiled (and so validated) before anything is written
    for e, r0, r1 in todo:
        if e not in models_cache:
            models_cache = {e: point_models(exp, point_values(points, e))}
        tasks.append(runner.RunTask(models_cache[e], eng, seed, r0, r1, opts, {"experiment": e},
                                    block, spec.periods))
    if bad:
        notes.append(f"{len(bad)} damaged or foreign chunk file(s) moved to {out / 'damaged'} and computed again"
                     f" ({', '.join(bad[:3])}{' ...' if len(bad) > 3 else ''})")
    ensure_dir(chunks)
    manifest = {
        "experiment": spec.name, "experiment_file": str(exp.source), "scenario": exp.scenario.name,
        "scenario_hash": exp.scenario.hash, "engine": eng, "options": opts, "seed": seed, "runs": runs,
        "strategies": exp.strategies, "baseline": spec.baseline, "points": len(points),
        "chunk_runs": chunk, "seed_block": None if offset else block, "run_offset": offset,
        "tasks": len(plan), "fingerprint": finger, "fingerprint_parts": parts,
        "command": list(command) if command is not None else sys.argv,
        "versions": _versions(), "status": "running",
    }
    _write_manifest(manifest, manifest_path)
    atomic_write_text(exp.text, out / "experiment.yaml")
    atomic_write_text(dump_yaml(exp.scenario.data), out / "scenario.yaml")
    atomic_write_parquet(points, out / "points.parquet")

    t0 = time.perf_counter()
    work = task_seconds = 0.0
    computed = 0
    try:
        with be:
            for i, res in be.imap(runner.run_task, tasks, progress=f"sweep {spec.name}" if progress else None):
                e, r0, _ = todo[i]
                if spec.periods and len(res["periods"]):
                    found[("periods", e, r0)] = _write_chunk(res["periods"], chunks, "periods", e, r0, finger)
                found[("runs", e, r0)] = _write_chunk(res["runs"], chunks, "runs", e, r0, finger)
                computed += 1
                work += res["customer_periods"]
                task_seconds += res["seconds"]
    except BaseException as exc:
        manifest.update(status="interrupted" if isinstance(exc, KeyboardInterrupt) else "failed",
                        tasks_done=reused + computed)
        try:
            _write_manifest(manifest, manifest_path)
        except ClmsimError:
            pass
        raise
    seconds = time.perf_counter() - t0
    done = [p for p in plan if ("runs", p[0], p[1]) in found]
    manifest.update(tasks_done=len(done), seconds_last=seconds, customer_periods_last=work,
                    task_seconds_last=task_seconds,
                    status="complete" if len(done) == len(plan) else "partial",
                    resume={"reused": reused, "computed": computed, "damaged": len(bad), "notes": notes})
    if manifest["status"] != "complete":
        _write_manifest(manifest, manifest_path)
        return Sweep(out, manifest, points, pd.DataFrame(), pd.DataFrame())
    table = pd.concat([pd.read_parquet(found[("runs", e, r0)]) for e, r0, _ in plan], ignore_index=True)
    table = add_total_spend(table).sort_values(["experiment", "strategy", "run"], kind="stable",
                                               key=_strategy_order(exp.strategies)).reset_index(drop=True)
    periods = pd.DataFrame()
    if spec.periods:
        periods = pd.concat([pd.read_parquet(found[("periods", e, r0)]) for e, r0, _ in plan
                             if ("periods", e, r0) in found], ignore_index=True)
        atomic_write_parquet(periods, out / "periods.parquet")
    summary = summarize(table, spec.baseline)
    names = sweep_names(points, table)
    ints = [p for p in points.columns if p not in POINT_KEYS and _integer_field(exp.scenario.data, p)]
    points_out = tidy_points(points, ints, names)
    table = tidy_runs(table, points_out, names)
    manifest["columns"] = {v: k for k, v in names.items() if v != k}
    atomic_write_parquet(points_out, out / "points.parquet")
    atomic_write_parquet(table, out / "runs.parquet")
    atomic_write_parquet(summary, out / "summary.parquet")
    atomic_write_text(summary.merge(points_out, on="experiment").to_csv(index=False), out / "summary.csv")
    _write_manifest(manifest, manifest_path)
    return Sweep(out, manifest, points_out, table, summary, periods, manifest["columns"])


def _integer_field(data: dict, path: str) -> bool:
    """Whether the scenario writes an integer at ``path`` (e.g. a window length)."""
    from ..scenario.experiment import value_at

    try:
        v = value_at(data, path)
    except (KeyError, IndexError, ValueError, TypeError):
        return False
    return isinstance(v, int) and not isinstance(v, bool)


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
    manifest, why = _read_manifest(d / MANIFEST)
    if why == OLDER:  # a finished directory of an earlier version: readable as it is
        manifest = json.loads((d / MANIFEST).read_text(encoding="utf-8"))
    elif manifest is None:
        raise ClmsimError(f"{d / MANIFEST} is {why}; rerun the sweep command to rebuild it")
    if manifest.get("status") != "complete":
        raise ClmsimError(f"the sweep in {d} is {manifest.get('status')}; rerun the same command to finish it")
    periods = pd.read_parquet(d / "periods.parquet") if (d / "periods.parquet").exists() else pd.DataFrame()
    points, runs = pd.read_parquet(d / "points.parquet"), pd.read_parquet(d / "runs.parquet")
    if "columns" not in manifest:  # written before identifier columns: converted on reading
        names = sweep_names(points, runs)
        points = tidy_points(points, [], names)
        runs = tidy_runs(runs, points, names)
        manifest["columns"] = {v: k for k, v in names.items() if v != k}
    return Sweep(d, manifest, points, runs, pd.read_parquet(d / "summary.parquet"), periods, manifest["columns"])


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
