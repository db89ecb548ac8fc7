"""Budget allocation: the lever settings that maximise expected NPV (or its P10) within a budget.

Problem: levers ``x`` (numeric scenario fields such as channel spend per period,
program spend per customer, win-back coverage) in boxes ``[low_i, high_i]``;
maximise

* ``mean``: ``E[NPV(x)]``, or
* ``p10``: the 10th percentile of NPV across runs (risk-aware; Monte Carlo only),

subject to ``spend(x) <= budget`` where ``spend`` is the total spend per period in
present value: the present value of all spend (acquisition + retention + win-back,
docs/metrics.md) divided by the annuity factor ``a_H = sum_{t=1..H} v^t``, so a plan that
spends ``B`` every period has ``spend = B`` -- measured by simulation, so program and
win-back spend that depend on the customer base are accounted exactly.

Every evaluation uses the same seed (common random numbers), so differences
between allocations are not blurred by sampling noise. Search: a full grid of
``grid`` values per lever, then ``rounds - 1`` zooms around the best feasible
point (half-width one grid cell, clipped to the box). The optimum is reported
with the interval of its NPV, the paired gain over the scenario's current
allocation, and the marginal return of every lever,
``m_i = (dNPV/dx_i) / (dPV(spend)/dx_i)`` (central differences on CRN) -- the unit of ROI
(docs/metrics.md): at an interior optimum with the budget binding, all ``m_i`` are equal
(the Lagrange condition; their common value is the budget's shadow price, NPV per extra 1 of
spend in present value); with the budget slack they are all 0.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..model import compile_model
from ..scenario.experiment import apply_values, value_at
from . import runner
from .backends import Backend, iter_chunks, make_backend
from .compare import engine_options, load, resolve_seed
from ..metrics import paths_from_periods
from ..stats import mean_ci, quantile

MAX_POINTS_PER_ROUND = 4096


def _evaluate(items: list) -> list[tuple[np.ndarray, float, float]]:
    """Task function: per item the per-run NPV, the mean present value of spend and the annuity
    factor ``a_H = sum_t v^t`` (spend per period in present value = PV / a_H)."""
    out = []
    for models, engine, seed, runs, options in items:
        t, periods, _ = runner.simulate_range(models, engine, seed, 0, runs, options, periods=True)
        v = models[0].discount_factors()
        pv = float(paths_from_periods(periods, v)["spend"].sum())
        out.append((t["npv"].to_numpy(dtype=float), pv, float(v[1:].sum())))
    return out


@dataclass
class Evaluator:
    """Memoised NPV/spend of lever settings on common random numbers."""

    scenario: Any
    paths: list[str]
    strategy: str
    engine: Any
    runs: int
    seed: int
    options: dict
    backend: Backend
    batch: int = 8
    cache: dict = field(default_factory=dict)

    def models(self, x: Sequence[float]) -> tuple:
        sc = apply_values(self.scenario, dict(zip(self.paths, map(float, x))))
        return (compile_model(sc, self.strategy),)

    def __call__(self, X: Sequence[Sequence[float]]) -> list[tuple[np.ndarray, float, float]]:
        keys = [tuple(round(float(v), 12) for v in x) for x in X]
        todo = list(dict.fromkeys(k for k in keys if k not in self.cache))
        items = [(self.models(k), self.engine, self.seed, self.runs, self.options) for k in todo]
        res = self.backend.map(_evaluate, list(iter_chunks(items, self.batch)))
        for k, r in zip(todo, (r for b in res for r in b)):
            self.cache[k] = r
        return [self.cache[k] for k in keys]


def _score(npv: np.ndarray, objective: str) -> float:
    return float(npv.mean()) if objective == "mean" else quantile(npv, 0.10)


@dataclass
class Optimum:
    """Result of :func:`optimize`.

    Attributes
    ----------
    levers : dict
        Optimal value per lever path.
    objective, value : str, float
        Objective name and its value at the optimum.
    npv, npv_lo, npv_hi : float
        Mean NPV at the optimum and its 95% interval (degenerate for exact engines).
    spend : float
        Spend per period at the optimum, in present value (PV of spend / ``a_H``).
    gain, gain_lo, gain_hi : float
        Paired NPV gain over the scenario's current lever values (CRN) and its interval.
    marginal : DataFrame
        Per lever: ``dnpv_dx``, ``dspend_dx`` (present value of spend), ``marginal_return`` at
        the optimum (unit of ROI).
    evaluations : DataFrame
        Every evaluated point: lever values, objective, npv, spend, feasible.
    info : dict
    """

    levers: dict
    objective: str
    value: float
    npv: float
    npv_lo: float
    npv_hi: float
    spend: float
    gain: float
    gain_lo: float
    gain_hi: float
    marginal: pd.DataFrame
    evaluations: pd.DataFrame
    info: dict

    def table(self) -> pd.DataFrame:
        """One tidy row set: ``quantity, value, ci_lo, ci_hi``."""
        rows = [(f"lever:{p}", v, np.nan, np.nan) for p, v in self.levers.items()]
        rows += [("objective:" + self.objective, self.value, np.nan, np.nan),
                 ("npv", self.npv, self.npv_lo, self.npv_hi), ("spend_per_period", self.spend, np.nan, np.nan),
                 ("gain_vs_current", self.gain, self.gain_lo, self.gain_hi)]
        rows += [(f"marginal_return:{r.lever}", r.marginal_return, np.nan, np.nan)
                 for r in self.marginal.itertuples()]
        return pd.DataFrame(rows, columns=["quantity", "value", "ci_lo", "ci_hi"])


def _search(ev: Evaluator, lows: np.ndarray, highs: np.ndarray, budget: float | None, objective: str,
            grid: int, rounds: int) -> tuple[np.ndarray, list]:
    d = len(lows)
    if grid ** d > MAX_POINTS_PER_ROUND:
        raise ClmsimError(f"{grid}^{d} grid points per round is too many; lower 'grid' or use fewer levers")
    lo, hi = lows.copy(), highs.copy()
    log: list = []
    best, best_score = None, -np.inf
    tol = 1e-9 * max(1.0, budget or 1.0)
    for rnd in range(rounds):
        axes = [np.linspace(lo[i], hi[i], grid) if hi[i] > lo[i] else np.array([lo[i]]) for i in range(d)]
        X = [np.array(p) for p in itertools.product(*axes)]
        for x, (npv, pv, annuity) in zip(X, ev(X)):
            s = _score(npv, objective)
            ok = budget is None or pv / annuity <= budget + tol
            log.append((rnd, *x, s, npv.mean(), pv / annuity, ok))
            if ok and s > best_score:
                best, best_score = x, s
        if best is None:
            raise ClmsimError("no lever setting in the box meets the budget; raise the budget or lower the "
                              "levers' lower bounds")
        cell = np.array([(a[1] - a[0]) if a.size > 1 else 0.0 for a in axes])
        lo, hi = np.maximum(lows, best - cell), np.minimum(highs, best + cell)
    return best, log


def _polish(ev: "Evaluator", x: np.ndarray, lows: np.ndarray, highs: np.ndarray, budget: float, objective: str,
            log: list, iterations: int = 12) -> np.ndarray:
    """Projected steps along a binding budget: move present value of spend from the lever with the
    lowest marginal return to the one with the highest, keep the move while the objective improves
    and the budget holds, halve it otherwise. Returns the improved point (``x`` when the budget is
    slack or nothing improves)."""
    (npv, pv, annuity), = ev([x])
    if pv / annuity < 0.98 * budget:
        return x
    score = _score(npv, objective)
    step = 0.05 * pv
    tol = 1e-9 * max(1.0, budget)
    for _ in range(iterations):
        m = marginal_returns(ev, x, lows, highs)
        up = m[(m["dspend_dx"] > 0) & (x < highs)]
        down = m[(m["dspend_dx"] > 0) & (x > lows)]
        if up.empty or down.empty:
            break
        i, j = up["marginal_return"].idxmax(), down["marginal_return"].idxmin()
        if i == j or up.at[i, "marginal_return"] - down.at[j, "marginal_return"] < 1e-4:
            break
        while step > 1e-4 * pv:
            y = x.copy()
            y[i] = min(highs[i], y[i] + step / m.at[i, "dspend_dx"])
            y[j] = max(lows[j], y[j] - step / m.at[j, "dspend_dx"])
            (n2, pv2, a2), = ev([y])
            ok = pv2 / a2 <= budget + tol
            log.append((-1, *y, _score(n2, objective), n2.mean(), pv2 / a2, ok))
            if ok and _score(n2, objective) > score:
                x, score = y, _score(n2, objective)
                break
            step /= 2
        else:
            break
    return x


def optimize(scenario: Any, levers: dict[str, tuple[float, float]], budget: float | None = None, *,
             objective: str = "mean", strategy: str = "baseline", engine: Any = "analytic", runs: int = 200,
             seed: int | None = 0, mode: str | None = "auto", grid: int = 9, rounds: int = 6,
             backend: str | Backend | None = "serial", workers: int | None = None, scheduler: str | None = None,
             overrides: Sequence[str] = (), cache: dict | None = None, **options) -> Optimum:
    """Maximise expected NPV (or P10) over levers within a budget per period.

    Parameters
    ----------
    scenario : path or Scenario
    levers : dict
        ``path -> (low, high)``: numeric scenario fields (written in the scenario) and their bounds.
    budget : float, optional
        Maximum total spend per period in present value (acquisition + retention + win-back; see the
        module docstring); None = unconstrained.
    objective : {"mean", "p10"}
    strategy : str
        Strategy whose scenario the levers modify.
    engine, runs, seed, mode, **options
        Evaluation engine (analytic: exact expectations; fast/des: ``runs`` runs on one seed).
    grid, rounds : int
        Grid values per lever and zoom rounds.
    cache : dict, optional
        Shared memo of evaluations (``frontier`` passes one dict to all budgets; only valid
        for the same scenario, levers, strategy, engine, runs, seed and options).

    Returns
    -------
    Optimum
    """
    sc = load(scenario, overrides)
    if objective not in ("mean", "p10"):
        raise ClmsimError(f"objective must be 'mean' or 'p10', got '{objective}'")
    mc = runner.is_monte_carlo(engine)
    if objective == "p10" and not mc:
        raise ClmsimError("the p10 objective needs a Monte Carlo engine (fast or des)")
    if not levers:
        raise ClmsimError("give at least one lever to optimise")
    paths = list(levers)
    current = []
    for p in paths:
        try:
            v = value_at(sc.data, p)
        except (KeyError, IndexError, ValueError, TypeError):
            raise ClmsimError(f"lever '{p}' is not a field written in the scenario") from None
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            raise ClmsimError(f"lever '{p}' holds {type(v).__name__}, not a number")
        current.append(float(v))
    lows = np.array([float(levers[p][0]) for p in paths])
    highs = np.array([float(levers[p][1]) for p in paths])
    if np.any(highs < lows):
        raise ClmsimError("every lever needs low <= high")
    seed = resolve_seed(seed)
    opts = engine_options(engine, mode, options)
    from ..limits import check_simulation

    evals = min(grid ** len(paths), MAX_POINTS_PER_ROUND + 1) * rounds + 2
    check_simulation([compile_model(sc, strategy)], runner.engine_name(engine), runs if mc else 1, opts.get("mode"),
                     opts, what=f"optimize ({evals:,} evaluations x {runs if mc else 1:,} runs)", repeat=evals,
                     table_runs=runs if mc else 1)
    if mc:
        opts = runner.pin_options(engine, [compile_model(sc, strategy)], opts)
    with make_backend(backend, workers, scheduler) as be:
        ev = Evaluator(sc, paths, strategy, engine, runs if mc else 1, seed, opts, be,
                       cache=cache if cache is not None else {})
        best, log = _search(ev, lows, highs, budget, objective, grid, rounds)
        if budget is not None and len(paths) > 1:
            best = _polish(ev, best, lows, highs, budget, objective, log)
        (npv, pv, annuity), (npv0, _, _) = ev([best, np.array(current)])
        marginal = marginal_returns(ev, best, lows, highs)
    m, _, lo, hi, _ = mean_ci(npv)
    g, _, glo, ghi, _ = mean_ci(npv - npv0)
    cols = ["round", *paths, "objective", "npv", "spend", "feasible"]
    return Optimum(dict(zip(paths, map(float, best))), objective, _score(npv, objective), m, lo, hi,
                   pv / annuity, g, glo, ghi, marginal, pd.DataFrame(log, columns=cols),
                   {"engine": runner.engine_name(engine), "runs": runs if mc else 0, "seed": seed,
                    "budget": budget, "strategy": strategy, "current": dict(zip(paths, current)),
                    "evaluations": len(ev.cache)})  # distinct points evaluated (incl. shared cache)


def marginal_returns(ev: Evaluator, x: np.ndarray, lows: np.ndarray, highs: np.ndarray,
                     rel_step: float = 0.01) -> pd.DataFrame:
    """``dNPV/dx_i``, ``dPV(spend)/dx_i`` and their ratio (the marginal return, in the unit of ROI)
    at ``x`` by central differences (one-sided at a bound), step ``rel_step`` of the lever's range,
    on common random numbers."""
    rows = []
    for i, p in enumerate(ev.paths):
        h = rel_step * (highs[i] - lows[i]) or rel_step * max(abs(x[i]), 1.0)
        a, b = max(lows[i], x[i] - h), min(highs[i], x[i] + h)
        if b <= a:
            a, b = x[i] - h, x[i] + h
        xa, xb = x.copy(), x.copy()
        xa[i], xb[i] = a, b
        (na, sa, _), (nb, sb, _) = ev([xa, xb])
        dn = (nb.mean() - na.mean()) / (b - a)
        ds = (sb - sa) / (b - a)
        rows.append({"lever": p, "value": float(x[i]), "at_bound": bool(x[i] <= lows[i] or x[i] >= highs[i]),
                     "dnpv_dx": float(dn), "dspend_dx": float(ds),
                     "marginal_return": float(dn / ds) if ds != 0 else float("nan")})
    return pd.DataFrame(rows)


def frontier(scenario: Any, levers: dict[str, tuple[float, float]], budgets: Sequence[float],
             **kwargs) -> pd.DataFrame:
    """The optimum for each budget: ``budget, value, npv, npv_lo, npv_hi, spend`` and one column per lever."""
    rows = []
    kwargs.setdefault("cache", {})
    if kwargs.get("seed", 0) is None:
        raise ClmsimError("a frontier needs a fixed seed (common random numbers across budgets)")
    for b in budgets:
        o = optimize(scenario, levers, float(b), **kwargs)
        rows.append({"budget": float(b), "objective": o.objective, "value": o.value, "npv": o.npv,
                     "npv_lo": o.npv_lo, "npv_hi": o.npv_hi, "spend": o.spend, **o.levers})
    return pd.DataFrame(rows)
