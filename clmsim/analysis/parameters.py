"""Parameter uncertainty carried into decisions: K parameter draws x R runs.

A scenario's ``parameter_uncertainty`` (:mod:`clmsim.scenario.uncertainty`) says how little
the data pinned its parameters down. :func:`parameter_draws` draws K joint parameter
vectors from it; :func:`clmsim.analysis.compare` with ``parameter_samples=K`` simulates
every strategy under each draw, R runs per draw.

RNG policy. The draws come from ``SeedSequence(seed, spawn_key=PARAMETER_KEY)`` (plain
random uniforms mapped by each block's :func:`~clmsim.scenario.uncertainty.transform`),
disjoint from every run's streams and from an experiment's design stream. Draw ``k``
uses the same parameter values for every strategy, and one engine call simulates every
strategy of draw ``k`` with the seed of :func:`draw_seed` ``(seed, k)``, so strategies
share their random inputs within a draw (common random numbers) and draws are independent
of each other. Every draw is one task, so the result is the same bits on every backend.

Statistics (:func:`clmsim.stats.nested_ci`): with ``y_kr`` a per-run quantity (e.g. the
paired NPV difference) of run ``r`` of draw ``k``, ``m_k`` the mean of draw ``k``,
``s_w^2`` the mean within-draw variance and ``s_b^2`` the variance of the ``m_k``:

* parameter variance ``sigma_p^2 = max(0, s_b^2 - s_w^2 / R)`` -- the spread of the
  expected value over the parameter distribution;
* process (Monte Carlo) variance of the estimate ``s_w^2 / (K R)``;
* the interval for the expected value at the true parameters, treated as one more
  draw from the parameter distribution (a predictive interval):
  ``mean +- t_{1-alpha/2, K-1} sqrt(sigma_p^2 (1 + 1/K) + s_w^2 / (K R))``; its parameter
  and process half-widths ``t sqrt(sigma_p^2 (1 + 1/K))`` and ``t sqrt(s_w^2 / (K R))`` add
  in quadrature to the whole;
* ``p_beats_baseline``: the share of draws whose mean paired NPV difference is positive
  (Wilson interval) -- the probability, over what the data leave uncertain, that the
  strategy beats the baseline.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from ..errors import ClmsimError

PARAMETER_KEY = (0, 1001)
"""spawn_key of the parameter-draw stream (the design stream is (0, 1000); run streams use
(run, purpose) with purpose < 1000)."""

DRAW_SEED_KEY = 1002
"""spawn_key prefix of the per-draw run seeds: draw ``k`` runs with ``SeedSequence(seed,
spawn_key=(0, DRAW_SEED_KEY, k))``."""


def blocks_of(scenario) -> list[tuple[Any, dict | None]]:
    """The scenario's parameter blocks with their loaded ``draws`` tables."""
    from ..scenario.errors import ScenarioError
    from ..scenario.loader import Location
    from ..scenario.uncertainty import check_blocks

    spec = scenario.spec
    blocks = list(spec.parameter_uncertainty or [])
    if not blocks:
        return []
    tables, diags = check_blocks(blocks, scenario.data, {}, Location(str(scenario.source), 1, 1),
                                 Path(str(scenario.source)).parent)
    if diags:
        raise ScenarioError(diags)
    return list(zip(blocks, tables))


def sample_blocks(blocks: list[tuple[Any, dict | None]], u: np.ndarray) -> pd.DataFrame:
    """Values of every block's paths for uniforms ``u`` (n x total dimension), one column per path."""
    from ..scenario.uncertainty import block_dim, transform

    cols: dict[str, np.ndarray] = {}
    j = 0
    for b, table in blocks:
        d = block_dim(b)
        cols.update(transform(b, u[:, j:j + d], table))
        j += d
    return pd.DataFrame(cols)


def total_dim(blocks) -> int:
    from ..scenario.uncertainty import block_dim

    return sum(block_dim(b) for b, _ in blocks)


def parameter_draws(scenario, samples: int, seed: int) -> pd.DataFrame:
    """``samples`` joint draws of the scenario's uncertain parameters: column ``draw`` and one
    column per dotted path (see the module docstring for the stream).

    Raises
    ------
    ClmsimError
        The scenario has no ``parameter_uncertainty``, or fewer than 2 samples.
    """
    blocks = blocks_of(scenario)
    if not blocks:
        raise ClmsimError(f"{scenario.source}: --parameter-samples needs a 'parameter_uncertainty' section in the "
                          "scenario (e.g. written by clmsim fit ... --uncertainty; docs/analysis.md)")
    if samples < 2:
        raise ClmsimError(f"parameter samples must be at least 2 (a spread needs two draws), got {samples}")
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=PARAMETER_KEY))
    u = rng.random((int(samples), total_dim(blocks)))
    df = sample_blocks(blocks, u)
    df.insert(0, "draw", np.arange(int(samples)))
    return df


def draw_seed(seed: int, k: int) -> int:
    """63-bit seed of the runs of parameter draw ``k``."""
    state = np.random.SeedSequence(int(seed), spawn_key=(0, DRAW_SEED_KEY, int(k))).generate_state(1, np.uint64)[0]
    return int(state >> np.uint64(1))


def draw_values(draws: pd.DataFrame, k: int) -> dict[str, float]:
    row = draws.iloc[k]
    return {c: float(row[c]) for c in draws.columns if c != "draw"}


def uncertainty_table(runs: pd.DataFrame, baseline: str, metric: str = "npv", alpha: float = 0.05) -> pd.DataFrame:
    """Per strategy, the mean and interval of ``metric`` (level) and of its paired difference
    versus ``baseline``, split into parameter and process parts (module docstring).

    Parameters
    ----------
    runs : DataFrame
        ``strategy, draw, run, <metric>`` (run = -1 for an exact engine).

    Returns
    -------
    DataFrame
        ``strategy, kind (level | vs_baseline), metric, mean, ci_lo, ci_hi, half_width,
        parameter_half_width, process_half_width, parameter_share, draws, runs_per_draw``
        and, for ``vs_baseline``, ``p_beats_baseline`` with ``p_beats_lo``, ``p_beats_hi``.
    """
    from ..stats import nested_ci, wilson

    wide = runs.pivot_table(index=["draw", "run"], columns="strategy", values=metric, aggfunc="first")
    out = []
    for s in dict.fromkeys(runs["strategy"]):
        for kind in ("level", "vs_baseline"):
            if kind == "vs_baseline" and s == baseline:
                continue
            y = wide[s] - wide[baseline] if kind == "vs_baseline" else wide[s]
            grid = y.unstack("run").to_numpy(dtype=float)
            r = nested_ci(grid, alpha)
            row = {"strategy": s, "kind": kind, "metric": metric if kind == "level" else f"{metric}_diff", **r}
            if kind == "vs_baseline":
                means = np.nanmean(grid, axis=1)
                p, lo, hi = wilson(int((means > 0).sum()), len(means), alpha)
                row.update(p_beats_baseline=p, p_beats_lo=lo, p_beats_hi=hi)
            out.append(row)
    return pd.DataFrame(out)


__all__ = ["DRAW_SEED_KEY", "PARAMETER_KEY", "blocks_of", "draw_seed", "draw_values", "parameter_draws",
           "sample_blocks", "total_dim", "uncertainty_table"]
