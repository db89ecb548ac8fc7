"""Experiment designs: lever grids crossed with samples of the uncertainties.

The experiment file format lives in :mod:`clmsim.scenario.experiment` (the only
place that reads YAML); this module turns a loaded experiment into a table of
*experiment points* (one row per point, one column per lever or uncertain
field) and into compiled models.

Uncertainty samples are drawn in the unit hypercube by Latin hypercube
(``lhs``), scrambled Sobol (``sobol``) or plain random sampling, from the
stream ``SeedSequence(seed, spawn_key=DESIGN_KEY)`` (disjoint from every
run's streams), and mapped through each distribution's quantile function.
Point ``e`` = grid point ``e // samples`` x sample ``e % samples``.
"""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np
import pandas as pd
from scipy import stats as st
from scipy.stats import qmc

from ..errors import ClmsimError
from ..model import compile_model
from ..scenario.experiment import Experiment, LogNormal, Normal, Triangular, Uniform, load_experiment

DESIGN_KEY = (0, 1000)
"""spawn_key of the design stream (run streams use (run, purpose) with purpose < 1000)."""

__all__ = ["DESIGN_KEY", "design", "load_experiment", "ppf", "sample_unit", "point_models"]


def ppf(spec: Any, u: np.ndarray) -> np.ndarray:
    """Map uniforms ``u`` in (0, 1) to values of an uncertainty distribution.

    uniform: ``low + u (high - low)``; triangular(low, mode, high); normal(mean,
    sd), truncated to ``[low, high]`` when given; lognormal: ``median exp(sigma
    Phi^-1(u))``.
    """
    u = np.asarray(u, dtype=float)
    if isinstance(spec, Uniform):
        return spec.low + u * (spec.high - spec.low)
    if isinstance(spec, Triangular):
        width = spec.high - spec.low
        c = (spec.mode - spec.low) / width if width > 0 else 0.5
        return st.triang.ppf(u, c, loc=spec.low, scale=width)
    if isinstance(spec, Normal):
        if spec.low is None and spec.high is None:
            return st.norm.ppf(u, spec.mean, spec.sd)
        a = -np.inf if spec.low is None else (spec.low - spec.mean) / spec.sd
        b = np.inf if spec.high is None else (spec.high - spec.mean) / spec.sd
        return st.truncnorm.ppf(u, a, b, loc=spec.mean, scale=spec.sd)
    if isinstance(spec, LogNormal):
        return spec.median * np.exp(spec.sigma * st.norm.ppf(u))
    raise ClmsimError(f"unknown distribution {spec!r}")


def sample_unit(method: str, n: int, d: int, seed: int) -> np.ndarray:
    """``n x d`` points in the unit hypercube (``lhs``, ``sobol`` or ``random``)."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=DESIGN_KEY))
    if d == 0:
        return np.zeros((n, 0))
    if method == "lhs":
        return qmc.LatinHypercube(d, rng=rng).random(n)
    if method == "sobol":
        return qmc.Sobol(d, scramble=True, rng=rng).random(n)
    if method == "random":
        return rng.random((n, d))
    raise ClmsimError(f"unknown sampling method '{method}'; use lhs, sobol or random")


def design(exp: Experiment) -> pd.DataFrame:
    """Experiment points: column ``experiment`` (0..E-1), ``grid``, ``sample`` and one
    column per lever and uncertainty path holding the value set at that point."""
    spec = exp.spec
    levers = exp.lever_values()
    grid = list(itertools.product(*levers.values())) if levers else [()]
    unc = list(spec.uncertainties.items())
    if unc:
        u = sample_unit(spec.sampling.method, spec.sampling.samples, len(unc), spec.seed)
        samples = np.column_stack([ppf(s, u[:, j]) for j, (_, s) in enumerate(unc)])
    else:
        samples = np.zeros((1, 0))
    rows = []
    for g, gv in enumerate(grid):
        for k in range(samples.shape[0]):
            row = {"experiment": g * samples.shape[0] + k, "grid": g, "sample": k}
            row.update(dict(zip(levers, map(float, gv))))
            row.update({p: float(samples[k, j]) for j, (p, _) in enumerate(unc)})
            rows.append(row)
    return pd.DataFrame(rows)


def point_values(points: pd.DataFrame, e: int) -> dict[str, float]:
    """The ``path -> value`` settings of experiment point ``e``."""
    row = points.iloc[e]
    return {c: float(row[c]) for c in points.columns if c not in ("experiment", "grid", "sample")}


def point_models(exp: Experiment, values: dict[str, float], strategies: list[str] | None = None) -> tuple:
    """Compiled models (one per strategy) of the scenario with ``values`` set."""
    sc = exp.with_values(values) if values else exp.scenario
    return tuple(compile_model(sc, s) for s in (strategies or exp.strategies))
