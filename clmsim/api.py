"""The public API: one call from a scenario to a :class:`~clmsim.results.Results`.

::

    from clmsim.api import simulate
    res = simulate("scenarios/telecom.yaml")                       # exact, every strategy
    res = simulate("scenarios/telecom.yaml", engine="fast", runs=1000, seed=7)

Engines live in ``clmsim/engines/<name>.py`` and are imported only when asked
for (a closed registry: no dotted paths from user input).
"""

from __future__ import annotations

import importlib
import importlib.util
import numbers
from pathlib import Path
from typing import Iterable, Sequence

from .errors import ClmsimError
from .model import CompiledModel, compile_model
from .results import Results
from .scenario import Scenario, load_scenario

ENGINES = {
    "analytic": "clmsim.engines.analytic",
    "fast": "clmsim.engines.fast",
    "des": "clmsim.engines.des",
}
"""Engine name -> module. Each module exposes ``simulate(models, *, runs, seed, **options)``."""


def engine_module(name: str):
    """Import the module of engine ``name``.

    Raises
    ------
    ClmsimError
        Unknown engine, or an engine whose module is not available.
    """
    if name not in ENGINES:
        raise ClmsimError(f"unknown engine {name!r}; available: {', '.join(ENGINES)}")
    try:
        return importlib.import_module(ENGINES[name])
    except ModuleNotFoundError as exc:
        if exc.name != ENGINES[name]:
            raise
        have = [n for n in ENGINES if n == name or importlib.util.find_spec(ENGINES[n]) is not None]
        have = [n for n in have if n != name]
        raise ClmsimError(f"the {name} engine is not available in this installation; "
                          f"available: {', '.join(have) or 'none'}") from None


def as_scenario(scenario_or_path: Scenario | str | Path, overrides: Iterable[str] = ()) -> Scenario:
    """A :class:`Scenario` from a scenario or a path (``overrides`` apply to paths only)."""
    if isinstance(scenario_or_path, Scenario):
        if tuple(overrides):
            raise ClmsimError("overrides apply to a scenario file; pass them to load_scenario instead")
        return scenario_or_path
    return load_scenario(scenario_or_path, overrides)


def compile_strategies(scenario: Scenario, strategies: Sequence[str] | str | None = None) -> list[CompiledModel]:
    """One compiled model per strategy; ``None`` means all, baseline first.

    Raises
    ------
    ClmsimError
        Unknown strategy name (with a "did you mean" hint).
    """
    if strategies is None:
        names = list(scenario.strategy_names)
    else:
        names = [strategies] if isinstance(strategies, str) else list(dict.fromkeys(strategies))
    if not names:
        raise ClmsimError("no strategy selected")
    models = []
    for name in names:
        try:
            models.append(compile_model(scenario, name))
        except KeyError as exc:
            raise ClmsimError(exc.args[0]) from None
    return models


def simulate(scenario_or_path: Scenario | str | Path, engine: str = "analytic",
             strategies: Sequence[str] | str | None = None, runs: int = 1, seed: int | None = None,
             overrides: Iterable[str] = (), **options) -> Results:
    """Evaluate strategies of a scenario with one engine.

    Parameters
    ----------
    scenario_or_path : Scenario or path
        A loaded scenario or a YAML file.
    engine : {"analytic", "fast", "des"}
        ``analytic`` gives exact expectations; the others simulate ``runs`` runs.
    strategies : str or sequence of str, optional
        Strategy names; default all strategies of the scenario, baseline first.
    runs : int
        Monte Carlo runs (ignored by the analytic engine).
    seed : int, optional
        Root seed of :class:`numpy.random.SeedSequence` (Monte Carlo engines).
    overrides : iterable of str
        ``path=value`` overrides applied when loading a file.
    **options
        Engine options (e.g. ``mode`` for ``fast``, ``nodes`` for ``analytic``);
        an engine rejects options it does not know with :class:`ClmsimError`.

    Returns
    -------
    Results
    """
    if not isinstance(runs, numbers.Integral) or isinstance(runs, bool) or runs < 1:
        raise ClmsimError(f"runs must be a positive integer, got {runs!r}")
    if seed is not None and (not isinstance(seed, numbers.Integral) or isinstance(seed, bool) or seed < 0):
        raise ClmsimError(f"seed must be a non-negative integer, got {seed!r}")
    runs, seed = int(runs), (None if seed is None else int(seed))
    module = engine_module(engine)
    scenario = as_scenario(scenario_or_path, overrides)
    models = compile_strategies(scenario, strategies)
    from .limits import check_simulation

    check_simulation(models, engine, runs, options.get("mode"), options,
                     what="analytic engine" if engine == "analytic" else f"{engine} engine, {runs:,} runs")
    results = module.simulate(models, runs=runs, seed=seed, **options)
    results.provenance.setdefault("scenario_source", scenario.source)
    return results


def explain(scenario_or_path: Scenario | str | Path, strategy: str = "baseline",
            overrides: Iterable[str] = (), **options) -> dict:
    """Teaching data for one strategy: the exact per-stage numbers and their formulas.

    Returns
    -------
    dict
        ``model`` (CompiledModel), ``discount_rate`` (per period), ``clv`` (DataFrame:
        per segment and stage ``clv_horizon``, ``clv_infinite``, ``lifetime``,
        ``steady_share``, ``steady_active_share``), ``steady_method``,
        ``states`` (labels of the expanded chain), ``retention`` ((segment, active stage) ->
        one-period probability of staying active, ``1 - churn``, as written), ``formulas``
        (name -> text).
    """
    from .engines import analytic

    scenario = as_scenario(scenario_or_path, overrides)
    (model,) = compile_strategies(scenario, [strategy])
    from .limits import check_analytic

    check_analytic([model], options.get("nodes"))
    out = analytic.evaluate(model, **options)
    ch = out["chains"]
    retention = {}
    for g, seg in enumerate(model.segment_names):
        P = model.P[g]
        for s in range(model.n_stages):
            if model.active[s]:
                retention[(seg, model.stage_names[s])] = float(1.0 - P[s, model.churn_mask[s]].sum())
    return {
        "model": model,
        "discount_rate": model.discount_rate,
        "clv": out["clv"],
        "steady_method": out["clv"].attrs.get("steady_method", ""),
        "states": ch.space.labels,
        "retention": retention,
        "formulas": FORMULAS,
    }


FORMULAS = {
    "lifetime": "L(s) = sum_{t>=0} P(active at t | in s at 0); for an absorbing chain the row sum "
                "over active stages of N = (I - Q)^-1 (Q: moves among non-absorbing states); "
                "one active stage with retention r: L = 1/(1 - r) = 1/churn",
    "clv_horizon": "CLV_H(s) = sum_{t=1..H} (1+d)^-t E[contribution_t - program spend_t - contact cost_t "
                   "| in s at 0]; backward: W_H = 0, W_{t-1} = v (nu_t + M_t W_t), CLV_H = W_0",
    "clv_infinite": "CLV_inf(s) = the same with W_H = v (I - v M)^-1 nu (last period's parameters for ever); "
                    "one active stage, margin m, retention r: m r / (1 + d - r)",
    "steady_state": "x* = a (I - K)^-1 with constant inflow a and K = M + referrals (spectral radius < 1); "
                    "otherwise the left Perron vector of K (stationary distribution pi = pi P of an "
                    "irreducible chain)",
}
"""The formula behind each number of ``clmsim explain`` (see docs/engines.md)."""
