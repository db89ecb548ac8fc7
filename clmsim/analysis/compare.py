"""Paired comparison of strategies on common random numbers.

Every strategy is simulated on the same random inputs: run ``r`` of strategy
``s`` and run ``r`` of the baseline share their seeds (see
:mod:`clmsim.analysis.runner`). For a per-run metric ``X`` the paired difference of
run ``r`` is ``D_r = X_{s,r} - X_{b,r}`` and its 95% interval is
``mean(D) +- t_{0.975,n-1} sd(D)/sqrt(n)``. Because the two strategies are
positively correlated under common random numbers,
``Var(D) = Var(X_s) + Var(X_b) - 2 Cov`` is much smaller than for independent
runs; :meth:`Comparison.crn_gain` reports the factor
``(Var X_s + Var X_b) / Var D``.

The decision quantities -- NPV difference, present value of the spend difference,
ROI (when the strategy spends more), NPV per unit of spend saved (when it spends less),
payback period of the extra spend, share of runs won -- are defined once in
:mod:`clmsim.metrics` (docs/metrics.md); :meth:`Comparison.table` is
:func:`clmsim.metrics.summary_table`. The engines return per-period flows as means
over the runs of a call, so the runs are simulated in ``batches`` (default
:data:`BATCHES`) and the present values of spend and the payback period get their
Monte Carlo intervals from the batch means (t intervals over batches, delta method
for ratios).

With ``precision=p`` runs are added (the run count doubles each time, up to
``max_runs``) until, for every strategy, the half-width of the NPV difference's
interval is at most ``p * |mean difference|``; whether that was reached is recorded
in ``Comparison.precision``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from .._version import __version__
from ..model import CONVENTION, compile_model
from ..metrics import PATH_COLUMNS, SPEND_COLUMNS, paths_from_periods, segment_table, summary_table
from ..results import RUN_COLUMNS
from . import runner
from .backends import Backend, make_backend
from ..stats import mean_ci

BASELINE = "baseline"

BATCHES = 10
"""Batches a Monte Carlo comparison is simulated in (fewer when there are fewer runs): the
replicates of the present values of spend and of the payback period."""


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
        Scenario, hash, engine, seed, runs, mode, options, batches and the precision outcome.
    paths : DataFrame, optional
        Per strategy, batch and period the mean discounted net cash and spend
        (:data:`clmsim.metrics.PATH_COLUMNS`); without them the spend-based quantities are NaN.
    periods : DataFrame, optional
        Per-period means over all runs (``strategy, period, item, mean``).
    segment_runs : DataFrame, optional
        One row per strategy, run and segment (:data:`clmsim.results.SEGMENT_RUN_COLUMNS`):
        what :meth:`segment_table` summarises.
    """

    runs: pd.DataFrame
    baseline: str = BASELINE
    provenance: dict = field(default_factory=dict)
    paths: pd.DataFrame | None = None
    periods: pd.DataFrame | None = None
    draws: pd.DataFrame | None = None
    segment_runs: pd.DataFrame | None = None

    @property
    def strategies(self) -> list[str]:
        return list(dict.fromkeys(self.runs["strategy"]))

    @property
    def n_runs(self) -> int:
        return int(self.runs.groupby("strategy").size().min()) if len(self.runs) else 0

    @property
    def monte_carlo(self) -> bool:
        return bool((self.runs["run"] >= 0).any()) if len(self.runs) else False

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

    @property
    def parameter_draws(self) -> pd.DataFrame | None:
        """The parameter draws (``draw`` and one column per dotted path) with ``parameter_samples``."""
        return self.draws

    def uncertainty(self, metric: str = "npv", alpha: float = 0.05) -> pd.DataFrame:
        """With ``parameter_samples``: per strategy the interval of ``metric`` and of its paired
        difference versus the baseline split into parameter and process parts, and the
        probability of beating the baseline across parameter draws
        (:func:`clmsim.analysis.parameters.uncertainty_table`)."""
        from .parameters import uncertainty_table

        if "draw" not in self.runs.columns:
            raise ClmsimError("no parameter draws: compare with parameter_samples=K (a scenario with "
                              "parameter_uncertainty)")
        return uncertainty_table(self.runs, self.baseline, metric, alpha)

    def table(self, alpha: float = 0.05) -> pd.DataFrame:
        """The summary of :func:`clmsim.metrics.summary_table`: one row per strategy, ``kind``
        (``level`` | ``vs_baseline``) and ``metric``, with ``mean, sd, n, ci_lo, ci_hi``.

        With parameter draws: NPV and the NPV difference with the intervals of
        :meth:`uncertainty` (parameter and process parts in further columns)."""
        if "draw" in self.runs.columns:
            u = self.uncertainty("npv", alpha)
            u = u.assign(sd=np.nan, n=u["draws"] * u["runs_per_draw"])
            return u
        return summary_table(self.runs, self.paths, self.periods, baseline=self.baseline,
                             discount=self.provenance.get("discount_rate"), provenance=self.provenance,
                             alpha=alpha)

    def segment_table(self, alpha: float = 0.05) -> pd.DataFrame:
        """Per strategy and segment: the :data:`clmsim.results.SEGMENT_RUN_COLUMNS` and the NPV
        difference versus the baseline's same segment, paired over runs
        (:func:`clmsim.metrics.segment_table`); empty without per-segment runs."""
        return segment_table(self.segment_runs, self.baseline, alpha)

    def summary(self, alpha: float = 0.05) -> pd.DataFrame:
        """Wide table, one row per strategy: ``npv``, ``pv_spend`` and every ``vs_baseline``
        metric, each with ``_lo``/``_hi`` (NaN where undefined)."""
        return wide_summary(self.table(alpha))

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


WIDE_METRICS = ("npv", "pv_spend", "npv_diff", "spend_diff", "roi", "npv_per_unit_saved", "payback_periods",
                "win_share")


def wide_summary(table: pd.DataFrame) -> pd.DataFrame:
    """One row per strategy from a summary table: for each of :data:`WIDE_METRICS` the mean and
    ``<metric>_lo``, ``<metric>_hi``."""
    out = []
    keep = table[table["metric"].isin(WIDE_METRICS)]
    for s in dict.fromkeys(table["strategy"]):
        row = {"strategy": s}
        for r in keep[keep["strategy"] == s].itertuples(index=False):
            row[r.metric], row[f"{r.metric}_lo"], row[f"{r.metric}_hi"] = r.mean, r.ci_lo, r.ci_hi
        out.append(row)
    cols = ["strategy"] + [f"{m}{x}" for m in WIDE_METRICS for x in ("", "_lo", "_hi")]
    return pd.DataFrame(out).reindex(columns=cols)


def batch_ranges(r0: int, r1: int, batches: int, block: int | None = None) -> list[tuple[int, int]]:
    """Split runs ``[r0, r1)`` into at most ``batches`` contiguous ranges of near-equal size
    (sizes differ by at most one run; with ``block``, boundaries fall on multiples of it)."""
    n = r1 - r0
    if n <= 0:
        return []
    if block:
        edges = sorted({r0, r1} | {k for k in range((r0 // block + 1) * block, r1, block)})
        if len(edges) - 1 <= batches:
            return list(zip(edges[:-1], edges[1:]))
        step = -(-(len(edges) - 1) // batches)
        edges = edges[::step] + ([r1] if edges[::step][-1] != r1 else [])
        return list(zip(edges[:-1], edges[1:]))
    k = max(1, min(int(batches), n))
    edges = [r0 + (n * i) // k for i in range(k + 1)]
    return list(zip(edges[:-1], edges[1:]))


def pool_periods(frames: Sequence[pd.DataFrame], sizes: Sequence[int],
                 keys: Sequence[str] = ("strategy", "period", "item")) -> pd.DataFrame:
    """One periods table from the tables of batches of ``sizes`` runs: the exact mean over all runs
    (weighted by batch size) and the exact pooled sd; quantiles across runs cannot be recovered
    from batches and are NaN when there is more than one batch. ``keys`` name a row (add
    ``segment`` for ``segment_periods``)."""
    frames = [f for f in frames if len(f)]
    if len(frames) <= 1:
        return frames[0].reset_index(drop=True) if frames else pd.DataFrame()
    keys = list(keys)
    stacked = pd.concat([f.assign(_n=float(n)) for f, n in zip(frames, sizes) if len(f)], ignore_index=True)
    stacked["_w"] = stacked["mean"] * stacked["_n"]
    g = stacked.groupby(keys, sort=False)
    out = g[["_w", "_n"]].sum()
    out["mean"] = out["_w"] / out["_n"]
    if "sd" in stacked.columns:
        m = stacked.merge(out["mean"].rename("_m").reset_index(), on=keys)
        m["_ss"] = (m["_n"] - 1) * m["sd"].fillna(0.0) ** 2 + m["_n"] * (m["mean"] - m["_m"]) ** 2
        ss = m.groupby(keys, sort=False)["_ss"].sum()
        out["sd"] = np.sqrt(ss / (out["_n"] - 1).where(out["_n"] > 1))
    for q in ("q05", "q50", "q95"):
        if q in stacked.columns:
            out[q] = np.nan
    return out.drop(columns=["_w", "_n"]).reset_index()


def _simulate_batches(models, engine, seed, r0, r1, options, backend: Backend, batches: int,
                      first_batch: int = 0) -> tuple[pd.DataFrame, list, list, pd.DataFrame]:
    """Runs ``[r0, r1)`` in batches: ``(runs, [(batch, size, periods)], paths frames, segment runs)``."""
    if not runner.is_monte_carlo(engine):
        ranges = [(0, 1)]
    else:
        block = None if runner.supports_run_offset(engine) else runner.DEFAULT_BLOCK
        ranges = batch_ranges(r0, r1, batches, block)
    if len(ranges) > 1 and runner.accepts_option(engine, "quantiles"):
        options = {**options, "quantiles": False}  # not recoverable from batches: do not compute them
    tasks = [runner.RunTask(tuple(models), engine, seed, a, b, options, periods=True, segments=True)
             for a, b in ranges]
    results = backend.map(runner.run_task, tasks, progress="batches" if len(tasks) > 1 else None)
    v = models[0].discount_factors()
    exact = not runner.is_monte_carlo(engine)
    parts, paths = [], []
    for k, ((a, b), res) in enumerate(zip(ranges, results)):
        n = 1 if exact else b - a
        parts.append((first_batch + k, n, res["periods"]))
        paths.append(paths_from_periods(res["periods"], v, n, first_batch + k))
    seg = [r["segment_runs"] for r in results if len(r.get("segment_runs", ()))]
    return (pd.concat([r["runs"] for r in results], ignore_index=True), parts, paths,
            pd.concat(seg, ignore_index=True) if seg else pd.DataFrame())


def simulate_in_batches(models: Sequence, engine: str, runs: int, seed: int | None, batches: int = BATCHES,
                        **options):
    """One engine's :class:`~clmsim.results.Results` of ``runs`` runs, simulated in batches, and
    the batches' paths (:data:`clmsim.metrics.PATH_COLUMNS`) -- what ``clmsim run`` summarises.

    The runs are those of a single call (each batch starts at its run offset). Tables are
    combined exactly (runs, events; the CLV histogram keeps one set of counts per batch, column
    ``batch``, for :func:`clmsim.metrics.value_concentration`; periods: mean and sd over all runs),
    except the per-period quantiles across runs, which are NaN when there is more than one batch.
    An exact engine, or one that cannot start at a given run, is called once.
    """
    from ..limits import check_simulation
    from ..results import Results

    mod = runner.engine_module(engine)
    name = runner.engine_name(engine)
    seed = resolve_seed(seed) if runner.is_monte_carlo(engine) else seed
    split = runner.is_monte_carlo(engine) and runner.supports_run_offset(engine)
    ranges = batch_ranges(0, runs, batches) if split else [(0, runs)]
    check_simulation(models, name, runs, options.get("mode"), options,
                     what="analytic engine" if name == "analytic" else f"{name} engine, {runs:,} runs",
                     memory_runs=max(b - a for a, b in ranges))
    opts = dict(options)
    if len(ranges) > 1 and runner.accepts_option(engine, "quantiles"):
        opts["quantiles"] = False
    parts = []
    for a, b in ranges:
        res = mod.simulate(list(models), runs=b - a, seed=seed, **opts, **({"first_run": a} if split else {}))
        parts.append((a, b, res))
    v = models[0].discount_factors()
    exact = not runner.is_monte_carlo(engine)
    paths = pd.concat([paths_from_periods(r.periods, v, 1 if exact else b - a, k)
                       for k, (a, b, r) in enumerate(parts)], ignore_index=True)
    if len(parts) == 1:
        return parts[0][2], paths
    first = parts[0][2]
    prov = dict(first.provenance)
    prov["runs"] = runs
    for k in ("customer_periods", "seconds"):
        if k in prov:
            prov[k] = sum(r.provenance.get(k, 0) or 0 for _, _, r in parts)
    prov["batches"] = len(parts)

    def cat(name: str) -> pd.DataFrame:
        frames = [getattr(r, name) for _, _, r in parts if len(getattr(r, name))]
        return pd.concat(frames, ignore_index=True) if frames else pd.DataFrame()

    # one CLV histogram per batch (column ``batch``): value concentration takes its intervals from them
    hist = [r.clv_hist.assign(batch=k) for k, (_, _, r) in enumerate(parts) if len(r.clv_hist)]
    hist = pd.concat(hist, ignore_index=True) if hist else pd.DataFrame()
    sizes = [b - a for a, b, _ in parts]
    periods = pool_periods([r.periods for _, _, r in parts], sizes)
    seg_periods = pool_periods([r.segment_periods for _, _, r in parts], sizes,
                               ("strategy", "segment", "period", "item"))
    return Results(prov, cat("runs"), periods, first.clv, hist, cat("events"), cat("segment_runs"),
                   seg_periods), paths


def compare(scenario: Any, strategies: Sequence[str] | None = None, runs: int = 1000, seed: int | None = None,
            engine: Any = "fast", mode: str | None = "auto", *, baseline: str = BASELINE,
            precision: float | None = None, max_runs: int | None = None, batches: int = BATCHES,
            backend: str | Backend | None = "serial", workers: int | None = None,
            scheduler: str | None = None, overrides: Sequence[str] = (), parameter_samples: int | None = None,
            **options) -> Comparison:
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
    batches : int
        Batches the runs are simulated in (each a task: the unit of parallel work; added runs of
        ``precision`` come in as many batches again). Engines without a run offset (see
        :mod:`clmsim.analysis.runner`) batch whole seed blocks of 100 runs.
    backend, workers, scheduler
        Where chunks run, see :func:`clmsim.analysis.backends.make_backend` (default serial).
    parameter_samples : int, optional
        K >= 2: draw K parameter vectors from the scenario's ``parameter_uncertainty`` and run
        ``runs`` runs of every strategy under each (:mod:`clmsim.analysis.parameters`); the
        result's :meth:`Comparison.uncertainty` splits every interval into parameter and
        process parts. Without it nothing changes (the same bits as before the option existed).
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
                     if mc else "compare (analytic engine)", memory_runs=min(-(-total // max(1, batches)), total))
    be = make_backend(backend, workers, scheduler)
    if parameter_samples is not None:
        if precision is not None:
            raise ClmsimError("--precision and --parameter-samples do not combine: give the runs per draw")
        return _compare_parameters(sc, names, models, engine, runs, seed, opts, be, baseline, int(parameter_samples))
    prec: dict = {}
    parts: list = []
    paths: list = []
    segs: list = []

    def build(table: pd.DataFrame) -> Comparison:
        c = Comparison(add_total_spend(table), baseline, {"monte_carlo": mc},
                       pd.concat(paths, ignore_index=True).reindex(columns=list(PATH_COLUMNS)),
                       pool_periods([p for _, _, p in parts], [n for _, n, _ in parts]),
                       segment_runs=pd.concat(segs, ignore_index=True) if segs else None)
        return c

    with be:
        table, parts, paths, seg = _simulate_batches(models, engine, seed, 0, runs, opts, be, batches)
        segs.append(seg)
        n = runs
        comp = build(table)
        if precision is not None:
            worst = float(comp.relative_half_width().max()) if mc and len(names) > 1 else 0.0
            while mc and worst > precision and n < max_runs:
                extra = min(n, max_runs - n)
                more, p2, q2, seg = _simulate_batches(models, engine, seed, n, n + extra, opts, be, batches,
                                                      len(parts))
                parts, paths = parts + p2, paths + q2
                segs.append(seg)
                n += extra
                comp = build(pd.concat([comp.runs.drop(columns="total_spend"), more], ignore_index=True))
                worst = float(comp.relative_half_width().max())
            prec = {"target": precision, "met": bool(worst <= precision), "runs": n, "max_runs": max_runs,
                    "worst_relative_half_width": worst}
    comp.provenance.update({
        "scenario": sc.name, "scenario_hash": sc.hash, "source": str(sc.source),
        "engine": runner.engine_name(engine), "seed": seed, "runs": n if mc else 0,
        "mode": opts.get("mode"), "strategies": names, "baseline": baseline, "monte_carlo": mc,
        "run_offset": runner.supports_run_offset(engine) if mc else None,
        "batches": len(parts), "discount_rate": models[0].discount_rate, "horizon": models[0].horizon,
        "period": models[0].period, "convention": CONVENTION, "clmsim_version": __version__,
        "active_stages": [n for n, a in zip(models[0].stage_names, models[0].active) if a],
    })
    if prec:
        comp.provenance["precision"] = prec
    if mc and runner.engine_name(engine) == "fast":
        from ..engines.fast import approximation
        comp.provenance.update(approximation(models, opts.get("mode") or "auto", opts.get("het_nodes", 0)))
    return comp


def _compare_parameters(sc, names, models, engine, runs, seed, opts, be: Backend, baseline, samples) -> Comparison:
    """``compare`` with K parameter draws x ``runs`` runs (see :mod:`clmsim.analysis.parameters`)."""
    from ..limits import check
    from ..limits import current as limits_now
    from ..scenario import ScenarioError
    from ..scenario.experiment import apply_values
    from .parameters import draw_seed, draw_values, parameter_draws

    mc = runner.is_monte_carlo(engine)
    check("--parameter-samples", samples, limits_now().points, "parameter draws")
    draws = parameter_draws(sc, samples, seed)
    tasks = []
    block = runner.DEFAULT_BLOCK
    for k in range(samples):
        values = draw_values(draws, k)
        try:
            sk = apply_values(sc, values)
        except ScenarioError as exc:
            setting = ", ".join(f"{p} = {v:.6g}" for p, v in values.items())
            raise ClmsimError(f"parameter draw {k} makes the scenario invalid ({setting}): "
                              f"{exc.diagnostics[0].path}: {exc.diagnostics[0].message}") from None
        mk = tuple(compile_model(sk, s) for s in names)
        tasks.append(runner.RunTask(mk, engine, draw_seed(seed, k), 0, runs if mc else 1, opts, {"draw": k}, block))
    with be:
        results = be.map(runner.run_task, tasks, progress="parameter draws")
    table = add_total_spend(pd.concat([r["runs"] for r in results], ignore_index=True))
    comp = Comparison(table, baseline, {"monte_carlo": mc}, draws=draws)
    comp.provenance.update({
        "scenario": sc.name, "scenario_hash": sc.hash, "source": str(sc.source),
        "engine": runner.engine_name(engine), "seed": seed, "runs": runs if mc else 0,
        "mode": opts.get("mode"), "strategies": names, "baseline": baseline, "monte_carlo": mc,
        "parameter_samples": samples, "parameter_paths": [c for c in draws.columns if c != "draw"],
        "discount_rate": models[0].discount_rate, "horizon": models[0].horizon, "period": models[0].period,
        "convention": CONVENTION, "clmsim_version": __version__,
    })
    return comp


__all__ = ["BATCHES", "Comparison", "batch_ranges", "compare", "simulate_in_batches", "add_total_spend", "pool_periods", "wide_summary",
           "RUN_COLUMNS"]
