"""Reproducible chunks of Monte Carlo runs on top of the engines' ``simulate``.

Everything in :mod:`clmsim.analysis` reaches the engines through this module.
Two properties make paired comparisons, sweeps, resume and every execution
backend agree bit for bit:

* **common random numbers**: one call of an engine simulates every strategy
  of a task with the same ``seed``, so run ``r`` of every strategy (and of
  every grid point, which reuses the same seed) sees the same random inputs;
* **chunk invariance**: runs ``[r0, r1)`` of a task are a pure function of
  ``(models, seed, r0, r1)``. An engine that declares ``first_run`` (the engine contract,
  :mod:`clmsim.engines`: ``simulate(models, runs=r1 - r0, seed=seed, first_run=r0)`` returns
  exactly rows ``r0..r1-1`` of ``simulate(models, runs=R, seed=seed)``) is asked for the
  range itself, so any split of the runs gives the same rows. For an engine without it
  runs are grouped in fixed blocks of :data:`DEFAULT_BLOCK` runs; block ``b`` is simulated
  with the 63-bit seed drawn from ``SeedSequence(seed, spawn_key=(b,))`` and chunks are
  unions of whole blocks, so results do not depend on the chunking or on the backend
  either (only on the block size, which is recorded in every manifest).

What an engine can do comes from its declared capabilities
(:class:`clmsim.engines.Capabilities`), never from its signature.

Task functions here are module-level and take plain picklable data
(:class:`RunTask`), so process pools and Dask workers import the engines (and
their cached numba kernels) instead of unpickling compiled functions.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from .. import engines as _engines
from ..errors import ClmsimError
from ..model import CompiledModel

DEFAULT_BLOCK = 100
"""Runs per seed block for engines that do not declare ``first_run``."""


def engine_module(engine: Any) -> Any:
    """The engine for a registry name (:data:`clmsim.engines.ENGINES`), or ``engine`` itself
    when it satisfies the contract (:class:`clmsim.engines.Engine`; tests drive the analysis
    layer with engines whose answer is known)."""
    return _engines.resolve(engine)


def engine_name(engine: Any) -> str:
    """Printable name of an engine given by name or object."""
    return _engines.engine_name(engine)


def accepts_option(engine: Any, name: str) -> bool:
    """Whether the engine declares the option ``name``: ``mode`` (it has modes), ``first_run``
    or ``quantiles``."""
    caps = _engines.capabilities(engine)
    return {"mode": bool(caps.modes), "first_run": caps.first_run, "quantiles": caps.quantiles}.get(name, False)


def supports_run_offset(engine: Any) -> bool:
    """True when runs ``[r0, r1)`` can be asked of the engine directly (``first_run``)."""
    return _engines.capabilities(engine).first_run


def is_monte_carlo(engine: Any) -> bool:
    """Whether the engine samples (``runs`` rows 0..) rather than returning exact
    expectations (one ``run = -1`` row)."""
    return _engines.capabilities(engine).monte_carlo


def pin_options(engine: Any, models: Sequence[CompiledModel], options: dict) -> dict:
    """Engine options fixed once for a whole study (the engine's ``pin_options``, e.g. the
    fast engine's automatic class count resolved on the study's nominal models), so every
    point and chunk of a sweep, optimisation or sensitivity analysis uses the same ones."""
    return engine_module(engine).pin_options(list(models), dict(options))


def block_seed(seed: int, block: int) -> int:
    """63-bit seed of run block ``block``: ``SeedSequence(seed, spawn_key=(block,))``."""
    state = np.random.SeedSequence(int(seed), spawn_key=(int(block),)).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


@dataclass(frozen=True)
class RunTask:
    """One unit of work: runs ``[r0, r1)`` of ``models`` (one per strategy).

    Attributes
    ----------
    models : tuple of CompiledModel
        The strategies, all simulated on the same random inputs.
    engine : str
        Engine name (see :data:`clmsim.engines.ENGINES`) or an engine object.
    seed : int
        The experiment seed (the same for every task: common random numbers).
    r0, r1 : int
        Run range, ``0 <= r0 < r1``.
    options : dict
        Engine options (e.g. ``mode``).
    labels : dict
        Columns added to every output row (e.g. ``experiment``).
    block : int
        Seed block size used when the engine does not declare ``first_run``.
    periods : bool
        Also return the engine's per-period table.
    segments : bool
        Also return the engine's ``segment_runs`` table.
    """

    models: tuple
    engine: Any
    seed: int
    r0: int
    r1: int
    options: dict = field(default_factory=dict)
    labels: dict = field(default_factory=dict)
    block: int = DEFAULT_BLOCK
    periods: bool = False
    segments: bool = False


def _call(mod: Any, models: Sequence[CompiledModel], runs: int, seed: int, options: dict,
          first_run: int | None):
    kwargs = dict(options)
    if first_run is not None:
        kwargs["first_run"] = first_run
    return mod.simulate(list(models), runs=runs, seed=seed, **kwargs)


def simulate_range(models: Sequence[CompiledModel], engine: Any, seed: int, r0: int, r1: int,
                   options: dict | None = None, block: int = DEFAULT_BLOCK,
                   periods: bool = False) -> tuple[pd.DataFrame, pd.DataFrame, float]:
    """Per-run rows of runs ``[r0, r1)`` of every strategy in ``models``: ``(runs, periods,
    customer_periods)`` of :func:`simulate_tables`."""
    out = simulate_tables(models, engine, seed, r0, r1, options, block, periods)
    return out["runs"], out["periods"], out["customer_periods"]


def simulate_tables(models: Sequence[CompiledModel], engine: Any, seed: int, r0: int, r1: int,
                    options: dict | None = None, block: int = DEFAULT_BLOCK, periods: bool = False) -> dict:
    """Per-run rows of runs ``[r0, r1)`` of every strategy in ``models``, as a dict.

    Returns
    -------
    runs : DataFrame
        The engine's ``runs`` table with global run indices ``r0..r1-1``
        (one ``run = -1`` row per strategy for an exact engine).
    periods : DataFrame
        The engine's ``periods`` table when ``periods`` (else empty).
    segment_runs : DataFrame
        The engine's ``segment_runs`` rows of the same runs (empty if it writes none).
    customer_periods : float
        Work done, from the engine's provenance (0 when not reported).
    """
    if r1 <= r0 or r0 < 0:
        raise ClmsimError(f"empty or negative run range [{r0}, {r1})")
    options = dict(options or {})
    mod = engine_module(engine)
    def whole(res) -> dict:
        return {"runs": res.runs, "periods": res.periods if periods else pd.DataFrame(),
                "segment_runs": _segment_runs(res), "customer_periods": _work(res)}

    if not is_monte_carlo(engine):
        return whole(_call(mod, models, 1, seed, options, None))
    if supports_run_offset(mod):
        return whole(_call(mod, models, r1 - r0, seed, options, r0))
    if r0 % block and periods:
        raise ClmsimError("per-period tables need whole seed blocks")
    parts, pparts, sparts, work = [], [], [], 0.0
    b = r0 // block
    while b * block < r1:
        lo, hi = max(b * block, r0), min((b + 1) * block, r1)
        # run j of a block depends only on (block seed, j): a prefix of the block is exact
        res = _call(mod, models, hi - b * block, block_seed(seed, b), options, None)
        runs = res.runs.copy()
        runs["run"] = runs["run"] + b * block
        parts.append(runs[(runs["run"] >= lo) & (runs["run"] < hi)])
        seg = _segment_runs(res)
        if len(seg):
            seg = seg.assign(run=seg["run"] + b * block)
            sparts.append(seg[(seg["run"] >= lo) & (seg["run"] < hi)])
        if periods:
            pparts.append(res.periods)
        work += _work(res)
        b += 1
    cat = lambda frames: pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()  # noqa: E731
    return {"runs": cat(parts), "periods": cat(pparts), "segment_runs": cat(sparts), "customer_periods": work}


def _segment_runs(res) -> pd.DataFrame:
    seg = getattr(res, "segment_runs", None)
    return seg if seg is not None else pd.DataFrame()


def _work(res) -> float:
    return float(res.provenance.get("customer_periods", 0) or 0)


def run_task(task: RunTask) -> dict:
    """Module-level task function for every backend.

    Returns a dict with ``runs`` (DataFrame, labels added as columns),
    ``periods`` (DataFrame or empty), ``customer_periods`` and ``seconds``; with
    ``task.segments`` also ``segment_runs`` (labelled likewise).
    """
    import time

    t0 = time.perf_counter()
    out = simulate_tables(task.models, task.engine, task.seed, task.r0, task.r1, task.options, task.block,
                          task.periods)
    periods = out["periods"]
    res = {"runs": _label(out["runs"], task.labels), "periods": _label(periods, task.labels) if len(periods)
           else periods, "customer_periods": out["customer_periods"], "seconds": time.perf_counter() - t0}
    if task.segments:
        seg = out["segment_runs"]
        res["segment_runs"] = _label(seg, task.labels) if len(seg) else seg
    return res


def _label(df: pd.DataFrame, labels: dict) -> pd.DataFrame:
    if not labels:
        return df.reset_index(drop=True)
    df = df.reset_index(drop=True).copy()
    for i, (k, v) in enumerate(labels.items()):
        df.insert(i, k, v)
    return df
