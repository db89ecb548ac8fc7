"""The public API: one call from a scenario to a :class:`~clmsim.results.Results`.

::

    from clmsim.api import simulate
    res = simulate("scenarios/telecom.yaml")                       # exact, every strategy
    res = simulate("scenarios/telecom.yaml", engine="fast", runs=1000, seed=7)

Engines live in the packages ``clmsim/engines/<name>/`` and are imported only when
asked for (the closed registry :data:`clmsim.engines.ENGINES`: no dotted paths from user
input).
"""

from __future__ import annotations

import numbers
from pathlib import Path
from typing import Iterable, Sequence

from . import engines as _engines
from .errors import ClmsimError
from .model import CompiledModel, compile_model
from .results import Results
from .scenario import Scenario, load_scenario

ENGINES = _engines.ENGINES
"""The engine registry (:data:`clmsim.engines.ENGINES`): name -> module and declared capabilities."""


def engine_module(name: str):
    """Import the engine ``name`` (:func:`clmsim.engines.load`).

    Raises
    ------
    ClmsimError
        Unknown engine, or an engine whose package is not available.
    """
    return _engines.load(name)


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
    engine : str
        A name of :data:`ENGINES`: ``analytic`` gives exact expectations; the others
        simulate ``runs`` runs.
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
            overrides: Iterable[str] = (), cohort_stage: str | None = None, **options) -> dict:
    """Teaching data for one strategy: the exact per-stage numbers, their meaning and formulas.

    Parameters
    ----------
    cohort_stage : str, optional
        Stage a cohort of new customers starts in (default: the first channel's entry stage).
    **options
        Analytic engine options (``nodes``).

    Returns
    -------
    dict
        ``model`` (CompiledModel), ``discount_rate`` (per period), ``clv`` (DataFrame:
        per segment and stage ``clv_horizon``, ``clv_infinite`` (first margin one period
        after acquisition), ``clv_entry_margin`` (first margin at acquisition), ``lifetime``
        (periods, counting entry), ``margins_paid`` (margins after entry), ``steady_share``,
        ``steady_active_share``), ``steady_method``, ``states`` (labels of the expanded chain),
        ``retention`` and ``retention_after`` ((segment, active stage) -> one-period ``1 - churn``
        as written / after the retention programmes' period-1 effect), ``contribution``
        ((segment, active stage) -> per period), ``closed_form`` ((segment, stage) -> the one-stage
        formulas where they reproduce the engine), ``npv``, ``clv_new_customer``, ``survival``
        (period x entry stage), ``cohort`` (stage occupancy of one customer entering
        ``cohort_stage``), ``formulas`` (name -> matrix formula), ``plain`` (name -> plain words).
        See :mod:`clmsim.explain`.
    """
    from .explain import explain_model

    scenario = as_scenario(scenario_or_path, overrides)
    (model,) = compile_strategies(scenario, [strategy])
    from .limits import check_analytic

    check_analytic([model], options.get("nodes"))
    return explain_model(model, cohort_stage, **options)
