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

from ..errors import ClmsimError
from ..model import compile_model
from ..scenario.experiment import Experiment, LogNormal, Normal, Triangular, Uniform, load_experiment

DESIGN_KEY = (0, 1000)
"""spawn_key of the design stream (run streams use (run, purpose) with purpose < 1000)."""

__all__ = ["DESIGN_KEY", "LEVER_KEY", "design", "lever_points", "uncertainty_samples", "load_experiment", "ppf", "sample_unit", "point_models"]


def ppf(spec: Any, u: np.ndarray) -> np.ndarray:
    """Map uniforms ``u`` in (0, 1) to values of an uncertainty distribution.

    uniform: ``low + u (high - low)``; triangular(low, mode, high); normal(mean,
    sd), truncated to ``[low, high]`` when given; lognormal: ``median exp(sigma
    Phi^-1(u))``.
    """
    from scipy import stats as st      # here: scipy.stats costs half a second to import

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


LEVER_KEY = (0, 1003)
"""spawn_key of the lever-sampling stream (``lever_sampling``), disjoint from the others."""


def sample_unit(method: str, n: int, d: int, seed: int, key: tuple = DESIGN_KEY) -> np.ndarray:
    """``n x d`` points in the unit hypercube (``lhs``, ``sobol`` or ``random``) from the stream
    ``SeedSequence(seed, spawn_key=key)``."""
    rng = np.random.default_rng(np.random.SeedSequence(int(seed), spawn_key=key))
    if d == 0:
        return np.zeros((n, 0))
    from scipy.stats import qmc

    if method == "lhs":
        return qmc.LatinHypercube(d, rng=rng).random(n)
    if method == "sobol":
        return qmc.Sobol(d, scramble=True, rng=rng).random(n)
    if method == "random":
        return rng.random((n, d))
    raise ClmsimError(f"unknown sampling method '{method}'; use lhs, sobol or random")


def lever_points(exp: Experiment) -> tuple[list[str], list[tuple]]:
    """``(lever paths, values per grid point)``: the full-factorial grid, or with
    ``lever_sampling`` its samples (a ``{low, high}`` lever ``low + u (high - low)``, a list
    ``values[floor(u n)]``) from the stream ``SeedSequence(seed, spawn_key=LEVER_KEY)``."""
    spec = exp.spec
    names = list(spec.levers)
    if spec.lever_sampling is None or not names:
        levers = exp.lever_values()
        return names, (list(itertools.product(*levers.values())) if levers else [()])
    ls = spec.lever_sampling
    u = sample_unit(ls.method, ls.samples, len(names), spec.seed, LEVER_KEY)
    cols = []
    for j, p in enumerate(names):
        s = spec.levers[p]
        if isinstance(s, list):
            cols.append(np.asarray(s, dtype=float)[np.minimum((u[:, j] * len(s)).astype(int), len(s) - 1)])
        else:
            cols.append(s.low + u[:, j] * (s.high - s.low))
    return names, [tuple(float(c[i]) for c in cols) for i in range(ls.samples)]


def uncertainty_samples(exp: Experiment) -> pd.DataFrame:
    """One row per uncertainty sample, one column per uncertain path: the independent
    ``uncertainties`` (quantile functions) and the joint ``parameter_uncertainty`` blocks,
    all from one unit-hypercube sample of the design stream (their dimensions after the
    independent ones). Empty (one row, no column) without uncertainty."""
    from .parameters import sample_blocks, total_dim

    spec = exp.spec
    unc = list(spec.uncertainties.items())
    blocks = []
    if spec.parameter_uncertainty:
        from ..scenario.uncertainty import check_blocks

        from ..scenario.errors import Location

        tables, _ = check_blocks(spec.parameter_uncertainty, exp.scenario.data, {}, Location(str(exp.source), 1, 1),
                                 exp.source.parent)
        blocks = list(zip(spec.parameter_uncertainty, tables))
    if not unc and not blocks:
        return pd.DataFrame(index=[0])
    d = len(unc) + total_dim(blocks)
    u = sample_unit(spec.sampling.method, spec.sampling.samples, d, spec.seed)
    out = pd.DataFrame({p: ppf(s, u[:, j]) for j, (p, s) in enumerate(unc)})
    if blocks:
        joint = sample_blocks(blocks, u[:, len(unc):])
        out = pd.concat([out, joint], axis=1) if len(out.columns) else joint
    return out


def design(exp: Experiment) -> pd.DataFrame:
    """Experiment points: column ``experiment`` (0..E-1), ``grid``, ``sample`` and one
    column per lever and uncertainty path holding the value set at that point."""
    levers, grid = lever_points(exp)
    samples = uncertainty_samples(exp)
    unc = list(samples.columns)
    values = samples.to_numpy(dtype=float)
    n = len(samples)
    rows = []
    for g, gv in enumerate(grid):
        for k in range(n):
            row = {"experiment": g * n + k, "grid": g, "sample": k}
            row.update(dict(zip(levers, map(float, gv))))
            row.update({p: float(values[k, j]) for j, p in enumerate(unc)})
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
