"""Paired comparison of strategies on common random numbers.

Every strategy is simulated on the same random inputs: run ``r`` of strategy
``s`` and run ``r`` of the baseline share their seeds (see
:mod:`clmsim.analysis.runner`). For a metric ``X`` the paired difference of run
``r`` is ``D_r = X_{s,r} - X_{b,r}`` and its 95% interval is
``mean(D) +- t_{0.975,n-1} sd(D)/sqrt(n)``. Because the two strategies are
positively correlated under common random numbers,
``Var(D) = Var(X_s) + Var(X_b) - 2 Cov`` is much smaller than for independent
runs; :meth:`Comparison.crn_gain` reports the factor
``(Var X_s + Var X_b) / Var D``.

ROI of a strategy versus the baseline is ``(NPV_s - NPV_b) / (spend_s -
spend_b)`` with ``spend`` the undiscounted total of acquisition, retention and
win-back spend over the horizon, estimated as a ratio of mean paired
differences with a delta-method interval; equal spends follow
:func:`clmsim.metrics.roi` (``+-inf``, or 0 when the NPVs are equal too, no interval). The
share of runs a strategy wins is ``P(NPV_s > NPV_b)`` with a Wilson interval.

With ``precision=p`` runs are added in batches (the run count doubles each
time, up to ``max_runs``) until, for every strategy, the half-width of the NPV
difference's interval is at most ``p * |mean difference|``; whether that was
reached is recorded in ``Comparison.precision``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..model import compile_model
from ..metrics import roi
from ..results import RUN_COLUMNS
from . import runner
from .backends import Backend, chunk_ranges, make_backend
from .stats import mean_ci, ratio_ci, wilson

BASELINE = "baseline"

SPEND_COLUMNS = ("acquisition_spend", "retention_spend", "winback_spend")

LEVEL_METRICS = ("npv", "clv_acquired", "total_spend", "revenue", "contribution", "acquisition_spend",
                 "retention_spend", "winback_spend", "acquired", "referred", "churned", "won_back",
                 "contacts", "active_end")
"""Per-strategy metrics in :meth:`Comparison.table` (``total_spend`` = sum of :data:`SPEND_COLUMNS`)."""

DIFF_METRICS = ("npv", "clv_acquired", "total_spend", "revenue", "contribution", "acquisition_spend",
                "retention_spend", "winback_spend", "active_end")
"""Metrics whose paired difference versus the baseline is reported."""


def add_total_spend(runs: pd.DataFrame) -> pd.DataFrame:
    """Set ``total_spend`` = acquisition + retention + win-back spend (undiscounted) on every row."""
    runs = runs.copy()
    runs["total_spend"] = sum(runs[c] for c in SPEND_COLUMNS)
    return runs


def load(scenario: Any, overrides: Sequence[str] = ()):
    """A :class:`clmsim.scenario.Scenario` from a path or a Scenario."""
    from ..scenario import Scenario, load_scenario

    if isinstance(scenario, Scenario):
        if overrides:
            raise ClmsimError("overrides apply to scenario files; pass the path instead")
        return scenario
    if not Path(scenario).exists():
        raise ClmsimError(f"scenario file not found: {scenario}")
    return load_scenario(scenario, overrides)


def resolve_seed(seed: int | None) -> int:
    """The seed to use: the given one, or a fresh short one from OS entropy
    (:func:`clmsim.rng.fresh_seed`), which is then recorded."""
    if seed is None:
        from ..rng import fresh_seed

        return fresh_seed()
    if int(seed) < 0:
        raise ClmsimError(f"seed must be a non-negative integer, got {seed}")
    return int(seed)


def engine_options(engine: Any, mode: str | None, options: dict | None = None) -> dict:
    """Engine keyword options: ``mode`` is passed only to engines whose ``simulate`` takes it
    (the fast engine), never to the analytic or des engines."""
    out = dict(options or {})
    if mode is not None and runner.is_monte_carlo(engine) and runner.accepts_option(engine, "mode"):
        out["mode"] = mode
    return out


@dataclass
class Comparison:
    """Per-run results of strategies on common random numbers, with paired statistics.

    Attributes
    ----------
    runs : DataFrame
        One row per strategy and run (columns of :data:`clmsim.results.RUN_COLUMNS`
        plus ``total_spend``); an exact engine gives one ``run = -1`` row per strategy.
    baseline : str
        The strategy differences are taken against.
    provenance : dict
        Scenario, hash, engine, seed, runs, mode, options and the precision outcome.
    """

    runs: pd.DataFrame
    baseline: str = BASELINE
    provenance: dict = field(default_factory=dict)

    @property
    def strategies(self) -> list[str]:
        return list(dict.fromkeys(self.runs["strategy"]))

    @property
    def n_runs(self) -> int:
        return int(self.runs.groupby("strategy").size().min()) if len(self.runs) else 0

    @property
    def precision(self) -> dict:
        """``{"target", "met", "runs", "max_runs", "worst_relative_half_width"}`` (empty without a target)."""
        return self.provenance.get("precision", {})

    def _wide(self, metric: str) -> pd.DataFrame:
        return self.runs.pivot(index="run", columns="strategy", values=metric)

    def paired(self, strategy: str, metric: str = "npv") -> np.ndarray:
        """Per-run paired differences ``X_{strategy,r} - X_{baseline,r}``."""
        w = self._wide(metric)
        return (w[strategy] - w[self.baseline]).to_numpy()

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Tidy statistics: one row per strategy, metric and kind.

        Columns: ``strategy``, ``kind`` (``level``: the strategy's own metric;
        ``vs_baseline``: paired difference to the baseline, plus the rows
        ``roi`` and ``win_share``), ``metric``, ``mean``, ``sd``, ``n``,
        ``ci_lo``, ``ci_hi`` (``1 - alpha`` intervals).
        """
        rows = []
        runs = self.runs
        for s in self.strategies:
            sub = runs[runs["strategy"] == s]
            for m in LEVEL_METRICS:
                if m in sub.columns:
                    mean, sd, lo, hi, n = mean_ci(sub[m].to_numpy(), alpha)
                    rows.append((s, "level", m, mean, sd, n, lo, hi))
        for s in self.strategies:
            if s == self.baseline:
                continue
            for m in DIFF_METRICS:
                if m in runs.columns:
                    d = self.paired(s, m)
                    mean, sd, lo, hi, n = mean_ci(d, alpha)
                    rows.append((s, "vs_baseline", m, mean, sd, n, lo, hi))
            dn, ds = self.paired(s, "npv"), self.paired(s, "total_spend")
            r, lo, hi = ratio_ci(dn, ds, alpha)
            if not np.isfinite(r):  # equal spends: the degenerate cases of clmsim.metrics.roi
                r, lo, hi = float(roi(dn.mean(), 0.0)), float("nan"), float("nan")
            rows.append((s, "vs_baseline", "roi", r, float("nan"), dn.size, lo, hi))
            if self.provenance.get("monte_carlo", True) and dn.size > 1:
                p, lo, hi = wilson(int((dn > 0).sum()), dn.size, alpha)
            else:  # exact expectations: the strategy 'wins' iff its expected NPV is higher
                p = lo = hi = float(dn.mean() > 0)
            rows.append((s, "vs_baseline", "win_share", p, float("nan"), dn.size, lo, hi))
        return pd.DataFrame(rows, columns=["strategy", "kind", "metric", "mean", "sd", "n", "ci_lo", "ci_hi"])

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wide table per strategy: NPV with interval, NPV difference, ROI and win share."""
        t = self.table(alpha)
        out = []
        for s in self.strategies:
            lv = t[(t.strategy == s) & (t.kind == "level")].set_index("metric")
            vb = t[(t.strategy == s) & (t.kind == "vs_baseline")].set_index("metric")
            row = {"strategy": s, "npv": lv.at["npv", "mean"], "npv_lo": lv.at["npv", "ci_lo"],
                   "npv_hi": lv.at["npv", "ci_hi"], "total_spend": lv.at["total_spend", "mean"]}
            if len(vb):
                row.update({"d_npv": vb.at["npv", "mean"], "d_npv_lo": vb.at["npv", "ci_lo"],
                            "d_npv_hi": vb.at["npv", "ci_hi"], "roi": vb.at["roi", "mean"],
                            "roi_lo": vb.at["roi", "ci_lo"], "roi_hi": vb.at["roi", "ci_hi"],
                            "win_share": vb.at["win_share", "mean"]})
            out.append(row)
        return pd.DataFrame(out)

    def crn_gain(self, metric: str = "npv") -> pd.DataFrame:
        """Variance reduction of paired differences from common random numbers.

        Per strategy: ``var_independent = Var X_s + Var X_b`` (what independent
        runs would give), ``var_paired = Var(X_s - X_b)`` and their ratio ``gain``.
        """
        rows = []
        w = self._wide(metric)
        for s in self.strategies:
            if s == self.baseline:
                continue
            vi = float(w[s].var(ddof=1) + w[self.baseline].var(ddof=1))
            vp = float((w[s] - w[self.baseline]).var(ddof=1))
            rows.append({"strategy": s, "metric": metric, "var_independent": vi, "var_paired": vp,
                         "gain": vi / vp if vp > 0 else float("inf")})
        return pd.DataFrame(rows)

    def relative_half_width(self, alpha: float = 0.05) -> pd.Series:
        """Per non-baseline strategy: half-width of the NPV difference's interval / |mean|."""
        out = {}
        for s in self.strategies:
            if s == self.baseline:
                continue
            mean, _, lo, hi, _ = mean_ci(self.paired(s, "npv"), alpha)
            out[s] = (hi - lo) / 2.0 / abs(mean) if mean != 0 else float("inf")
        return pd.Series(out, dtype=float)


def _simulate_runs(models, engine, seed, r0, r1, options, backend: Backend, chunk: int) -> pd.DataFrame:
    if not runner.is_monte_carlo(engine):
        ranges = [(0, 1)]
    else:
        ranges = chunk_ranges(r1 - r0, chunk, start=r0)
    tasks = [runner.RunTask(tuple(models), engine, seed, a, b, options) for a, b in ranges]
    results = backend.map(runner.run_task, tasks, progress="runs" if len(tasks) > 1 else None)
    return pd.concat([r["runs"] for r in results], ignore_index=True)


def compare(scenario: Any, strategies: Sequence[str] | None = None, runs: int = 1000, seed: int | None = None,
            engine: Any = "fast", mode: str | None = "auto", *, baseline: str = BASELINE,
            precision: float | None = None, max_runs: int | None = None, chunk: int = 200,
            backend: str | Backend | None = "serial", workers: int | None = None,
            scheduler: str | None = None, overrides: Sequence[str] = (), **options) -> Comparison:
    """Simulate strategies on common random numbers and compare them with the baseline.

    Parameters
    ----------
    scenario : str, Path or Scenario
        Scenario file (``overrides`` as ``path=value`` strings apply) or a loaded scenario.
    strategies : sequence of str, optional
        Strategies to compare (default: all in the scenario); the baseline is always included.
    runs : int
        Runs per strategy (the first batch when ``precision`` is given).
    seed : int, optional
        Seed of all randomness; ``None`` draws one from OS entropy (recorded in ``provenance``).
    engine : str
        ``"fast"`` (default), ``"des"`` or ``"analytic"`` (exact: one row per strategy).
    mode : str, optional
        Monte Carlo mode (``"auto"``, ``"counts"``, ``"individual"``); ignored by the analytic engine.
    baseline : str
        Strategy the differences are taken against.
    precision : float, optional
        Target relative half-width of the NPV difference of every strategy (e.g. 0.01).
    max_runs : int, optional
        Cap on runs when ``precision`` is given (default ``64 * runs``).
    chunk : int
        Runs per task (the unit of parallel work).
    backend, workers, scheduler
        Where chunks run, see :func:`clmsim.analysis.backends.make_backend` (default serial).
    **options
        Further engine options.

    Returns
    -------
    Comparison
    """
    sc = load(scenario, overrides)
    names = list(sc.strategy_names) if strategies is None else list(dict.fromkeys(strategies))
    if baseline not in sc.strategy_names:
        raise ClmsimError(f"baseline strategy '{baseline}' is not in the scenario")
    unknown = [s for s in names if s not in sc.strategy_names]
    if unknown:
        raise ClmsimError(f"unknown strateg{'y' if len(unknown) == 1 else 'ies'} {', '.join(unknown)}; "
                          f"known: {', '.join(sc.strategy_names)}")
    names = [baseline] + [s for s in names if s != baseline]
    if runs < 1:
        raise ClmsimError(f"runs must be at least 1, got {runs}")
    if precision is not None and not (0 < precision < 1):
        raise ClmsimError(f"precision is a relative half-width in (0, 1), got {precision}")
    if max_runs is not None and max_runs < runs:
        raise ClmsimError(f"max_runs ({max_runs}) must be at least runs ({runs}): the first batch has runs runs")
    seed = resolve_seed(seed)
    mc = runner.is_monte_carlo(engine)
    opts = engine_options(engine, mode, options)
    models = [compile_model(sc, s) for s in names]
    max_runs = 64 * runs if max_runs is None else max_runs
    from ..limits import check_simulation

    total = max_runs if precision is not None and mc else runs
    check_simulation(models, runner.engine_name(engine), total, opts.get("mode"), opts,
                     what=f"compare with {total:,} runs" + (" (max_runs)" if precision is not None else "")
                     if mc else "compare (analytic engine)", memory_runs=min(chunk, total))
    be = make_backend(backend, workers, scheduler)
    prec: dict = {}
    with be:
        table = _simulate_runs(models, engine, seed, 0, runs, opts, be, chunk)
        n = runs
        comp = Comparison(add_total_spend(table), baseline)
        comp.provenance["monte_carlo"] = mc
        if precision is not None:
            worst = float(comp.relative_half_width().max()) if mc and len(names) > 1 else 0.0
            while mc and worst > precision and n < max_runs:
                extra = min(n, max_runs - n)
                more = _simulate_runs(models, engine, seed, n, n + extra, opts, be, chunk)
                n += extra
                comp = Comparison(add_total_spend(pd.concat([comp.runs, more], ignore_index=True)), baseline)
                comp.provenance["monte_carlo"] = mc
                worst = float(comp.relative_half_width().max())
            prec = {"target": precision, "met": bool(worst <= precision), "runs": n, "max_runs": max_runs,
                    "worst_relative_half_width": worst}
    comp.provenance.update({
        "scenario": sc.name, "scenario_hash": sc.hash, "source": str(sc.source),
        "engine": runner.engine_name(engine), "seed": seed, "runs": n if mc else 0,
        "mode": opts.get("mode"), "strategies": names, "baseline": baseline, "monte_carlo": mc,
        "run_offset": runner.supports_run_offset(engine) if mc else None,
    })
    if prec:
        comp.provenance["precision"] = prec
    if mc and runner.engine_name(engine) == "fast":
        from ..engines.fast import approximation
        comp.provenance.update(approximation(models, opts.get("mode") or "auto", opts.get("het_nodes", 0)))
    return comp


__all__ = ["Comparison", "compare", "add_total_spend", "LEVEL_METRICS", "DIFF_METRICS", "RUN_COLUMNS"]
