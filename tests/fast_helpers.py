"""Shared helpers of the fast-engine tests: tiny scenarios, the 99.9% check, Python calls of kernel helpers."""

from __future__ import annotations

import textwrap

import numpy as np
from numba import njit

from clmsim import compile_model, scenario_from_text

Z999 = 4.5
"""Two-sided |z| bound of the statistical checks (~99.9% with margin for many checks)."""


def model_from_yaml(text: str, strategy: str = "baseline"):
    """Compile a scenario given as (indented) YAML text."""
    return compile_model(scenario_from_text(textwrap.dedent(text)), strategy)


GAMMA_CV08 = "churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.8}"
"""Gamma churn multiplier, mean 1, cv 0.8 (shape 1/0.64, scale 0.64): strong heterogeneity."""


def one_stage(churn: float, heterogeneity: str, horizon: int, population: int, name: str = "one-stage"):
    """A single active stage (revenue 1, margin 1) losing ``churn`` per period to a lost stage,
    with the ``heterogeneity`` entry given as YAML flow text (e.g. ``"churn_multiplier: {dist:
    gamma, mean: 1.0, cv: 0.8}"``): the survival oracles' scenario."""
    return model_from_yaml(f"""
        schema_version: 1
        name: {name}
        time: {{period: month, horizon: {horizon}}}
        stages:
          a: {{kind: active, revenue: 1, margin: 1}}
          gone: {{kind: lost}}
        transitions:
          a: {{gone: {churn}}}
        heterogeneity:
          {heterogeneity}
        initial_population: {{a: {population}}}
        """)


def assert_mean_close(samples, exact, label: str = "", z: float = Z999, abs_floor: float = 1e-9):
    """``|mean(samples) - exact| < z * se`` with ``se = sd / sqrt(n)`` (per element)."""
    x = np.asarray(samples, dtype=float)
    exact = np.asarray(exact, dtype=float)
    mean = x.mean(axis=0)
    se = x.std(axis=0, ddof=1) / np.sqrt(x.shape[0])
    bound = z * se + abs_floor
    bad = np.abs(mean - exact) >= bound
    assert not np.any(bad), (f"{label}: mean {mean[bad] if mean.ndim else mean} vs exact "
                             f"{exact[bad] if exact.ndim else exact} (bound {bound[bad] if bound.ndim else bound})")


def wide(results, item: str, strategy: str = "baseline") -> np.ndarray:
    """Per-period means of ``item`` as an array indexed by period."""
    return results.series(strategy, item).to_numpy()


def assert_periods_close(results, item: str, exact, strategy: str = "baseline", z: float = Z999,
                         abs_floor: float = 1e-9):
    """Per-period mean of ``item`` within ``z`` standard errors (``sd / sqrt(runs)``) of ``exact``
    (indexed like the item's periods)."""
    p = results.periods
    p = p[(p["strategy"] == strategy) & (p["item"] == item)].sort_values("period")
    n = results.provenance["runs"]
    mean, sd = p["mean"].to_numpy(), p["sd"].to_numpy()
    exact = np.broadcast_to(np.asarray(exact, dtype=float), mean.shape)
    bound = z * sd / np.sqrt(n) + abs_floor + 1e-7 * np.abs(exact)
    bad = np.abs(mean - exact) >= bound
    assert not np.any(bad), (f"{item}: periods {p['period'].to_numpy()[bad]}: mean {mean[bad]} vs exact "
                             f"{exact[bad]} (bound {bound[bad]})")


def library_scenarios() -> list:
    """Every scenario of the library and of the reference set that the fast engine runs
    (the ``operations`` scenarios are des-only)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "scenarios"
    files = sorted(root.glob("*.yaml")) + sorted((root / "reference").glob("*.yaml"))
    return [f for f in files if not f.name.startswith("ops_")]


def digest(results) -> str:
    """SHA-256 of a result's ``runs``, ``periods`` and ``clv_hist`` tables, every float to
    the last bit (for bit-identity checks)."""
    import hashlib

    h = hashlib.sha256()
    for df in (results.runs, results.periods, results.clv_hist):
        h.update(df.to_csv(float_format="%.17g").encode())
    return h.hexdigest()


def from_python(fn):
    """A Python-callable shim of the kernel helper ``fn``: helpers are compiled for calls from
    jitted code only (``clmsim.engines.fast.kernels.jit.helper``), so a test calls one through a
    jitted function that forwards its arguments."""
    @njit
    def call(*args):
        return fn(*args)
    return call
