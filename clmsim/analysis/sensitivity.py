"""Global sensitivity of a metric to the declared uncertainties (SALib), and tornado data.

Methods (``d`` uncertain inputs, each mapped from a uniform ``u`` in (0, 1)
through its distribution's quantile function):

* **Sobol** (Saltelli/Jansen estimators via ``SALib.analyze.sobol``): first-order
  ``S1_i = Var(E[Y|X_i]) / Var(Y)`` and total-order ``ST_i = E[Var(Y|X_-i)] / Var(Y)``
  with bootstrap 95% intervals; ``N (d + 2)`` evaluations (scrambled Sobol base sample of size N).
* **Morris** elementary effects (``SALib.analyze.morris``): ``mu_star`` (mean
  absolute effect of moving one input across a grid step, in units of the metric
  per unit of the input's quantile range), ``sigma`` (interactions/non-linearity),
  with a bootstrap interval on ``mu_star``; ``r (d + 1)`` evaluations. Unbounded
  distributions (normal, lognormal) are explored over their 2.5%..97.5% quantiles.
* **Tornado** (one at a time): each input set to its low and high value (range ends
  for uniform/triangular/truncated, the 5% and 95% quantiles otherwise) with the
  others at the scenario's nominal values; ``swing = |Y_high - Y_low|``.

The metric ``Y`` of a scenario is the mean over runs of a per-run metric (e.g.
``npv``) of one strategy, or -- for decisions -- the paired difference ``npv_diff``
between the strategy and the baseline (``NPV_s - NPV_b``, both evaluated at the same
inputs and on the same random numbers): what matters for choosing a strategy is how
the uncertainties move that difference, not the level of NPV. Monte Carlo engines use
the same seed for every evaluation (common random numbers), so the noise is common to
all points and largely cancels in the indices; the analytic engine gives exact
expectations.

Sobol estimates can leave ``[0, 1]`` at small samples; an index whose 95% interval lies
entirely outside ``[0, 1]`` adds a warning (``Sensitivity.info["warnings"]``) to raise the
sample size. :func:`ranking` gives the decision view: the probability that each strategy
is best across a sample of the uncertainties, and which input, moved alone across its
range, flips the ranking of the two best strategies.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..scenario.experiment import LogNormal, Normal, Triangular, Uniform, value_at
from . import runner
from .backends import Backend, iter_chunks, make_backend
from .experiment import load_experiment, point_models, ppf

SALIB_KEY = 2000
"""spawn-key purpose of SALib's sampling and bootstrap seeds."""


def _salib_seed(seed: int, k: int) -> int:
    return int(np.random.SeedSequence(int(seed), spawn_key=(0, SALIB_KEY + k)).generate_state(1)[0])


def _bounded(spec: Any) -> bool:
    return isinstance(spec, (Uniform, Triangular)) or (
        isinstance(spec, Normal) and spec.low is not None and spec.high is not None)


def to_values(specs: Sequence[Any], U: np.ndarray, tail: float = 0.0) -> np.ndarray:
    """Map unit-cube points to input values; unbounded inputs use quantiles
    ``tail + (1 - 2 tail) u`` (so ``u`` = 0 or 1 stays finite when ``tail > 0``)."""
    U = np.atleast_2d(np.asarray(U, dtype=float))
    cols = []
    for j, s in enumerate(specs):
        u = U[:, j] if _bounded(s) else tail + (1 - 2 * tail) * U[:, j]
        cols.append(ppf(s, u))
    return np.column_stack(cols) if cols else np.zeros((U.shape[0], 0))


def sobol_indices(f: Callable[[np.ndarray], np.ndarray], names: Sequence[str], specs: Sequence[Any],
                  samples: int = 1024, seed: int = 0) -> pd.DataFrame:
    """First- and total-order Sobol indices of ``f`` with 95% bootstrap intervals.

    Parameters
    ----------
    f : callable
        ``f(X) -> Y`` for an ``n x d`` array of input values.
    names, specs
        Input names and distributions (:mod:`clmsim.scenario.experiment` classes).
    samples : int
        Base sample size N (a power of 2 keeps the Sobol sequence balanced).

    Returns
    -------
    DataFrame
        ``parameter, S1, S1_lo, S1_hi, ST, ST_lo, ST_hi``.
    """
    from SALib.analyze import sobol as analyze
    from SALib.sample import sobol as sample

    d = len(names)
    if d < 1:
        raise ClmsimError("Sobol indices need at least one uncertain input")
    problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d}
    U = sample.sample(problem, samples, calc_second_order=False, seed=_salib_seed(seed, 0))
    Y = np.asarray(f(to_values(specs, U)), dtype=float)
    if not np.all(np.isfinite(Y)):
        raise ClmsimError("the metric is not finite at some sampled inputs")
    if np.var(Y) == 0:
        raise ClmsimError("the metric does not vary over the uncertainties: indices are undefined")
    res = analyze.analyze(problem, Y, calc_second_order=False, conf_level=0.95, seed=_salib_seed(seed, 1))
    return pd.DataFrame({
        "parameter": list(names), "S1": res["S1"], "S1_lo": res["S1"] - res["S1_conf"],
        "S1_hi": res["S1"] + res["S1_conf"], "ST": res["ST"], "ST_lo": res["ST"] - res["ST_conf"],
        "ST_hi": res["ST"] + res["ST_conf"]})


def morris_indices(f: Callable[[np.ndarray], np.ndarray], names: Sequence[str], specs: Sequence[Any],
                   trajectories: int = 20, levels: int = 4, seed: int = 0) -> pd.DataFrame:
    """Morris screening: ``parameter, mu, mu_star, mu_star_lo, mu_star_hi, sigma``."""
    from SALib.analyze import morris as analyze
    from SALib.sample import morris as sample

    d = len(names)
    if d < 1:
        raise ClmsimError("Morris screening needs at least one uncertain input")
    problem = {"num_vars": d, "names": list(names), "bounds": [[0.0, 1.0]] * d}
    U = sample.sample(problem, trajectories, num_levels=levels, seed=_salib_seed(seed, 2))
    Y = np.asarray(f(to_values(specs, U, tail=0.025)), dtype=float)
    res = analyze.analyze(problem, U, Y, conf_level=0.95, num_levels=levels, seed=_salib_seed(seed, 3))
    mu_star = np.asarray(res["mu_star"], dtype=float)
    conf = np.asarray(res["mu_star_conf"], dtype=float)
    return pd.DataFrame({"parameter": list(names), "mu": np.asarray(res["mu"], dtype=float),
                         "mu_star": mu_star, "mu_star_lo": mu_star - conf, "mu_star_hi": mu_star + conf,
                         "sigma": np.asarray(res["sigma"], dtype=float)})


def tornado_values(spec: Any) -> tuple[float, float]:
    """Low and high value of one input for the tornado (range ends, else 5%/95% quantiles)."""
    if isinstance(spec, Uniform) or isinstance(spec, Triangular):
        return float(spec.low), float(spec.high)
    if isinstance(spec, Normal) and spec.low is not None and spec.high is not None:
        return float(spec.low), float(spec.high)
    lo, hi = ppf(spec, np.array([0.05, 0.95]))
    return float(lo), float(hi)


def tornado(f: Callable[[np.ndarray], np.ndarray], names: Sequence[str], specs: Sequence[Any],
            nominal: Sequence[float]) -> pd.DataFrame:
    """One-at-a-time swings: ``parameter, nominal, low, high, y_nominal, y_low, y_high, swing``
    sorted by decreasing swing."""
    d = len(names)
    X = np.tile(np.asarray(nominal, dtype=float), (2 * d + 1, 1))
    lows, highs = zip(*(tornado_values(s) for s in specs)) if d else ((), ())
    for j in range(d):
        X[1 + 2 * j, j], X[2 + 2 * j, j] = lows[j], highs[j]
    Y = np.asarray(f(X), dtype=float)
    df = pd.DataFrame({"parameter": list(names), "nominal": list(nominal), "low": lows, "high": highs,
                       "y_nominal": Y[0], "y_low": Y[1::2], "y_high": Y[2::2]})
    df["swing"] = (df["y_high"] - df["y_low"]).abs()
    return df.sort_values("swing", ascending=False, kind="stable").reset_index(drop=True)


# ----------------------------------------------------------------- on scenarios
DIFF_METRIC = "npv_diff"
"""Metric name of the paired NPV difference ``NPV_strategy - NPV_baseline``."""


def _evaluate_batch(items: list) -> list:
    """Task function: per (models, engine, seed, runs, options, metric) item, the mean of the metric
    for each model (``npv_diff``: the first model's NPV minus the second's, per run, averaged)."""
    out = []
    for models, engine, seed, runs, options, metric in items:
        table, _, _ = runner.simulate_range(models, engine, seed, 0, runs, options)
        if metric in ("total_spend", DIFF_METRIC):
            table = table.assign(total_spend=table["acquisition_spend"] + table["retention_spend"]
                                 + table["winback_spend"])
        col = "npv" if metric == DIFF_METRIC else metric
        if col not in table.columns:
            raise ClmsimError(f"unknown metric '{metric}'; use a column of the runs table such as npv, or npv_diff")
        wide = table.pivot_table(index="run", columns="strategy", values=col, aggfunc="first", sort=False)
        means = [float(wide[m.strategy].mean()) for m in models]
        out.append(means[0] - means[1] if metric == DIFF_METRIC else
                   (means[0] if len(means) == 1 else means))
    return out


@dataclass
class ScenarioFunction:
    """``f(X)``: mean of ``metric`` over ``runs`` runs of ``strategy`` with inputs ``X`` set
    (``npv_diff``: the mean paired difference of NPV between ``strategy`` and ``versus``; a list
    of strategies: one column per strategy).

    Every evaluation uses the same seed (common random numbers). Evaluations are
    spread over ``backend`` in batches.
    """

    experiment: Any
    paths: list[str]
    strategy: str | list
    metric: str = "npv"
    engine: str = "analytic"
    runs: int = 1
    seed: int = 0
    options: dict = field(default_factory=dict)
    backend: Backend | None = None
    batch: int = 16
    evaluations: int = 0
    versus: str | None = None

    def _strategies(self) -> list[str]:
        if isinstance(self.strategy, list):
            return list(self.strategy)
        return [self.strategy, self.versus] if self.metric == DIFF_METRIC else [self.strategy]

    def __call__(self, X: np.ndarray) -> np.ndarray:
        X = np.atleast_2d(X)
        names = self._strategies()
        metric = self.metric if not isinstance(self.strategy, list) else "npv"
        items = [(point_models(self.experiment, dict(zip(self.paths, map(float, x))), names),
                  self.engine, self.seed, self.runs, self.options, metric) for x in X]
        batches = list(iter_chunks(items, self.batch))
        be = self.backend or make_backend("serial")
        results = be.map(_evaluate_batch, batches, progress=f"{len(items)} evaluations")
        self.evaluations += len(items)
        return np.asarray([y for b in results for y in b], dtype=float)


@dataclass
class Sensitivity:
    """Tables of a sensitivity study (each empty when the method was not run)."""

    sobol: pd.DataFrame
    morris: pd.DataFrame
    tornado: pd.DataFrame
    info: dict

    def table(self) -> pd.DataFrame:
        """Tidy: ``method, parameter, index, value, ci_lo, ci_hi``."""
        rows = []
        for _, r in self.sobol.iterrows():
            rows += [("sobol", r.parameter, "S1", r.S1, r.S1_lo, r.S1_hi),
                     ("sobol", r.parameter, "ST", r.ST, r.ST_lo, r.ST_hi)]
        for _, r in self.morris.iterrows():
            rows += [("morris", r.parameter, "mu_star", r.mu_star, r.mu_star_lo, r.mu_star_hi),
                     ("morris", r.parameter, "sigma", r.sigma, np.nan, np.nan)]
        for _, r in self.tornado.iterrows():
            rows += [("tornado", r.parameter, "y_low", r.y_low, np.nan, np.nan),
                     ("tornado", r.parameter, "y_high", r.y_high, np.nan, np.nan),
                     ("tornado", r.parameter, "swing", r.swing, np.nan, np.nan)]
        return pd.DataFrame(rows, columns=["method", "parameter", "index", "value", "ci_lo", "ci_hi"])


def _check_request(exp, methods, n_sobol: int, n_traj: int, eng, n_runs: int, strategies: list[str],
                   opts: dict) -> None:
    """Refuse bad sample counts and requests beyond the resource limits before any evaluation."""
    if "sobol" in methods and n_sobol < 4:
        raise ClmsimError(f"the Sobol base sample (--samples) must be at least 4, got {n_sobol}")
    if "morris" in methods and n_traj < 2:
        raise ClmsimError(f"Morris needs at least 2 trajectories (--trajectories), got {n_traj}")
    d = len(exp.spec.uncertainties)
    evals = ((n_sobol * (d + 2) if "sobol" in methods else 0) + (n_traj * (d + 1) if "morris" in methods else 0)
             + (2 * d + 1 if "tornado" in methods else 0))
    _check_evaluations(exp, f"sensitivity of {d} inputs", evals, eng, n_runs, strategies, opts)


def _check_evaluations(exp, what: str, evals: int, eng, n_runs: int, strategies: list[str], opts: dict) -> None:
    """Refuse ``evals`` evaluations of ``n_runs`` runs each beyond the resource limits."""
    from ..limits import check, check_simulation, current

    check(what, evals, current().evaluations, "evaluations")
    check_simulation(point_models(exp, {}, strategies), runner.engine_name(eng), n_runs, opts.get("mode"),
                     opts, what=f"{what} ({evals:,} evaluations x {n_runs:,} runs)", repeat=evals,
                     table_runs=n_runs)


def sobol_warnings(sobol: pd.DataFrame, samples: int) -> list[str]:
    """One warning per Sobol index whose 95% interval lies entirely outside ``[0, 1]``: the
    estimator is off by more than its own uncertainty, so the base sample is too small."""
    out = []
    for r in sobol.itertuples(index=False):
        for k in ("S1", "ST"):
            v, lo, hi = getattr(r, k), getattr(r, f"{k}_lo"), getattr(r, f"{k}_hi")
            if np.isfinite(v) and (lo > 1.0 or hi < 0.0):
                out.append(f"Sobol {k} of {r.parameter} = {v:.2f} (95% interval {lo:.2f} to {hi:.2f}) lies outside "
                           f"[0, 1] beyond its interval: the base sample N = {samples} is too small; raise it "
                           f"(e.g. --samples {max(4 * samples, 256)})")
    return out


def _setup(exp, engine, runs, strategies) -> tuple[str, int]:
    """The engine and runs per evaluation (section, then experiment defaults); checks the strategies."""
    spec, sset = exp.spec, exp.spec.sensitivity
    eng = engine or (sset.engine if sset and sset.engine else spec.engine)
    mc = runner.is_monte_carlo(eng)
    n_runs = (runs or (sset.runs if sset and sset.runs else spec.runs)) if mc else 1
    for s in strategies:
        if s not in exp.scenario.strategy_names:
            raise ClmsimError(f"unknown strategy '{s}'; the scenario has {', '.join(exp.scenario.strategy_names)}")
    return eng, n_runs


def _options(exp, eng: str, strategies: list[str], options: dict, pin: bool = True) -> dict:
    """Engine options of a study, pinned once on its nominal models (see :func:`runner.pin_options`)
    unless ``pin`` is false (the resource check runs on the unpinned options, before any work)."""
    spec = exp.spec
    mc = runner.is_monte_carlo(eng)
    opts = {**spec.engine_options, **options} if mc else dict(options)
    if mc and runner.accepts_option(eng, "mode"):
        opts.setdefault("mode", spec.mode)
    if mc and pin:
        opts = runner.pin_options(eng, point_models(exp, {}, strategies), opts)
    return opts


def _independent_only(spec) -> None:
    """Sobol, Morris, tornado and the ranking vary independent inputs one by one or by their own
    quantiles: joint ``parameter_uncertainty`` blocks are refused, never silently left out."""
    if getattr(spec, "parameter_uncertainty", None):
        raise ClmsimError("the experiment has parameter_uncertainty (joint, correlated blocks): sensitivity "
                          "indices and the ranking need independent inputs ('uncertainties'); sample the blocks "
                          "with clmsim sweep, or carry them into a comparison with compare --parameter-samples")


def sensitivity(experiment: Any, methods: Sequence[str] | None = None, *, samples: int | None = None,
                trajectories: int | None = None, engine: str | None = None, runs: int | None = None,
                strategy: str | None = None, metric: str | None = None, backend: str | Backend | None = None,
                workers: int | None = None, scheduler: str | None = None, **options) -> Sensitivity:
    """Sobol, Morris and tornado analysis of an experiment's uncertainties.

    Parameters default to the experiment's ``sensitivity`` section (methods
    sobol+morris+tornado, 256 base samples, 20 trajectories, strategy baseline,
    metric npv, the experiment's engine and runs). ``metric="npv_diff"`` analyses the paired
    NPV difference between ``strategy`` and the experiment's baseline.

    Returns
    -------
    Sensitivity
        ``sobol``, ``morris``, ``tornado`` DataFrames and ``info`` (evaluations, engine,
        ``warnings``, ...).
    """
    exp = experiment if hasattr(experiment, "spec") else load_experiment(experiment)
    spec = exp.spec
    sset = spec.sensitivity
    if not spec.uncertainties:
        raise ClmsimError("the experiment declares no 'uncertainties' to analyse")
    _independent_only(spec)
    methods = list(methods or (sset.methods if sset else ["sobol", "morris", "tornado"]))
    bad = [m for m in methods if m not in ("sobol", "morris", "tornado")]
    if bad:
        raise ClmsimError(f"unknown sensitivity method(s) {', '.join(bad)}; use sobol, morris, tornado")
    strategy = strategy or (sset.strategy if sset else spec.baseline)
    metric = metric or (sset.metric if sset else "npv")
    versus = spec.baseline if metric == DIFF_METRIC else None
    if versus is not None and strategy == versus:
        raise ClmsimError(f"metric {DIFF_METRIC} compares a strategy with the baseline '{versus}': choose "
                          "another strategy")
    strategies = [strategy] + ([versus] if versus else [])
    eng, n_runs = _setup(exp, engine, runs, strategies)
    opts = _options(exp, eng, strategies, options, pin=False)
    names = list(spec.uncertainties)
    specs = list(spec.uncertainties.values())
    nominal = [float(value_at(exp.scenario.data, p)) for p in names]
    n_sobol = samples or (sset.samples if sset else 256)
    n_traj = trajectories or (sset.trajectories if sset else 20)
    _check_request(exp, methods, n_sobol, n_traj, eng, n_runs, strategies, opts)
    if runner.is_monte_carlo(eng):
        opts = runner.pin_options(eng, point_models(exp, {}, strategies), opts)
    with make_backend(backend or "serial", workers, scheduler) as be:
        f = ScenarioFunction(exp, names, strategy, metric, eng, n_runs, spec.seed, opts, be, versus=versus)
        sob = sobol_indices(f, names, specs, n_sobol, spec.seed) if "sobol" in methods else pd.DataFrame()
        mor = (morris_indices(f, names, specs, n_traj,
                              sset.levels if sset else 4, spec.seed) if "morris" in methods else pd.DataFrame())
        tor = tornado(f, names, specs, nominal) if "tornado" in methods else pd.DataFrame()
    info = {"experiment": spec.name, "engine": eng, "runs": n_runs, "seed": spec.seed, "strategy": strategy,
            "metric": metric, "versus": versus, "evaluations": f.evaluations, "methods": methods,
            "samples": n_sobol if "sobol" in methods else None,
            "warnings": sobol_warnings(sob, n_sobol) if len(sob) else []}
    return Sensitivity(sob, mor, tor, info)


@dataclass
class Ranking:
    """Result of :func:`ranking`.

    Attributes
    ----------
    table : DataFrame
        One row per strategy, best first: ``nominal`` (mean NPV at the inputs as written),
        ``mean`` and ``p10`` over the uncertainty sample, ``p_best`` (share of sampled inputs at
        which the strategy has the highest NPV) with its Wilson 95% interval ``p_best_lo``,
        ``p_best_hi``.
    flips : DataFrame
        One row per input: the NPV difference ``leader - runner_up`` with the input at its low
        and high value (the others as written), ``flips`` (the difference changes sign within
        the range) and ``flip_value`` (where it crosses 0, by linear interpolation from the
        value as written); inputs that flip first.
    info : dict
        ``leader``, ``runner_up``, ``samples``, ``evaluations``, engine, runs, seed.
    """

    table: pd.DataFrame
    flips: pd.DataFrame
    info: dict


def ranking(experiment: Any, strategies: Sequence[str] | None = None, *, samples: int | None = None,
            engine: str | None = None, runs: int | None = None, backend: str | Backend | None = None,
            workers: int | None = None, scheduler: str | None = None, **options) -> Ranking:
    """How sure is the choice? Probability that each strategy is best over the uncertainties, and
    which input flips the ranking of the two best (see :class:`Ranking`).

    The uncertainty sample is the experiment's ``sampling`` (``samples`` overrides its size);
    every strategy is evaluated at every sampled input on the same random numbers.
    """
    from ..stats import wilson
    from .experiment import sample_unit

    exp = experiment if hasattr(experiment, "spec") else load_experiment(experiment)
    spec = exp.spec
    if not spec.uncertainties:
        raise ClmsimError("the experiment declares no 'uncertainties' to rank the strategies over")
    _independent_only(spec)
    names_s = list(strategies or exp.scenario.strategy_names)
    if len(names_s) < 2:
        raise ClmsimError("ranking needs at least two strategies")
    eng, n_runs = _setup(exp, engine, runs, names_s)
    opts = _options(exp, eng, names_s, options, pin=False)
    names = list(spec.uncertainties)
    specs = list(spec.uncertainties.values())
    nominal = [float(value_at(exp.scenario.data, p)) for p in names]
    n = int(samples or spec.sampling.samples)
    if n < 2:
        raise ClmsimError(f"ranking needs at least 2 samples of the uncertainties (--samples), got {n}")
    _check_evaluations(exp, f"ranking of {len(names_s)} strategies", (n + 1) * len(names_s) + 2 * (2 * len(names) + 1),
                       eng, n_runs, names_s, opts)
    if runner.is_monte_carlo(eng):
        opts = runner.pin_options(eng, point_models(exp, {}, names_s), opts)
    U = sample_unit(spec.sampling.method, n, len(names), spec.seed)
    with make_backend(backend or "serial", workers, scheduler) as be:
        f = ScenarioFunction(exp, names, names_s, "npv", eng, n_runs, spec.seed, opts, be)
        Y0 = f(np.asarray([nominal]))[0]
        Y = f(to_values(specs, U))
        order = np.argsort(-Y0, kind="stable")
        lead, second = int(order[0]), int(order[1])
        g = ScenarioFunction(exp, names, names_s[lead], DIFF_METRIC, eng, n_runs, spec.seed, opts, be,
                             versus=names_s[second])
        tor = tornado(g, names, specs, nominal)
    best = np.argmax(Y, axis=1)
    rows = []
    for j, s in enumerate(names_s):
        k = int((best == j).sum())
        p, lo, hi = wilson(k, n)
        rows.append({"strategy": s, "nominal": float(Y0[j]), "mean": float(Y[:, j].mean()),
                     "p10": float(np.quantile(Y[:, j], 0.10)), "p_best": p, "p_best_lo": lo, "p_best_hi": hi})
    table = pd.DataFrame(rows).sort_values(["p_best", "nominal"], ascending=False, kind="stable")
    flips = tor.rename(columns={"y_nominal": "diff_nominal", "y_low": "diff_low", "y_high": "diff_high"})
    d0 = flips["diff_nominal"].to_numpy(float)

    def crossing(end: str, dend: str) -> np.ndarray:
        d = flips[dend].to_numpy(float)
        with np.errstate(divide="ignore", invalid="ignore"):
            x = flips["nominal"] + (flips[end] - flips["nominal"]) * d0 / (d0 - d)
        return np.where(np.sign(d) != np.sign(d0), x, np.nan)

    lo_x, hi_x = crossing("low", "diff_low"), crossing("high", "diff_high")
    flips["flips"] = np.isfinite(lo_x) | np.isfinite(hi_x)
    flips["flip_value"] = np.where(np.isfinite(lo_x), lo_x, hi_x)
    flips = flips.sort_values(["flips", "swing"], ascending=False, kind="stable").reset_index(drop=True)
    info = {"experiment": spec.name, "engine": eng, "runs": n_runs, "seed": spec.seed, "samples": n,
            "leader": names_s[lead], "runner_up": names_s[second], "evaluations": f.evaluations + g.evaluations,
            "strategies": names_s}
    return Ranking(table.reset_index(drop=True), flips, info)
