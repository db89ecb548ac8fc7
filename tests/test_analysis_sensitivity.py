"""Sensitivity analysis against analytic test functions with known indices."""

from __future__ import annotations

import numpy as np
import pytest

from clmsim.analysis.sensitivity import morris_indices, sobol_indices, tornado
from clmsim.scenario.experiment import Normal, Uniform

PI = float(np.pi)


def ishigami(X: np.ndarray, a: float = 7.0, b: float = 0.1) -> np.ndarray:
    return np.sin(X[:, 0]) + a * np.sin(X[:, 1]) ** 2 + b * X[:, 2] ** 4 * np.sin(X[:, 0])


def _ishigami_exact(a: float = 7.0, b: float = 0.1):
    """Closed-form Sobol indices of the Ishigami function (Ishigami & Homma 1990)."""
    v1 = 0.5 * (1 + b * PI**4 / 5) ** 2
    v2 = a**2 / 8
    v13 = b**2 * PI**8 * (1 / 18 - 1 / 50)
    v = v1 + v2 + v13
    return np.array([v1, v2, 0.0]) / v, np.array([v1 + v13, v2, v13]) / v


def test_sobol_indices_match_ishigami_closed_form():
    s1, st = _ishigami_exact()
    assert s1 == pytest.approx([0.3139, 0.4424, 0.0], abs=1e-3)
    assert st == pytest.approx([0.5576, 0.4424, 0.2437], abs=1e-3)
    specs = [Uniform(dist="uniform", low=-PI, high=PI)] * 3
    df = sobol_indices(ishigami, ["x1", "x2", "x3"], specs, samples=8192, seed=11)
    for col, exact in (("S1", s1), ("ST", st)):
        half = (df[f"{col}_hi"] - df[f"{col}_lo"]).to_numpy() / 2  # bootstrap 95% half-width = 1.96 se
        err = np.abs(df[col].to_numpy() - exact)
        assert np.all(err < 4.5 * half / 1.96 + 0.01), (col, err, half)
        assert np.all(err < 0.03)


def test_morris_ranks_linear_inputs_by_coefficient_closed_form():
    # y = 3 x1 + 1 x2 + 0 x3 on U(0, 1): every elementary effect equals the coefficient
    specs = [Uniform(dist="uniform", low=0.0, high=1.0)] * 3
    df = morris_indices(lambda X: X @ np.array([3.0, 1.0, 0.0]), ["a", "b", "c"], specs, trajectories=10, seed=1)
    assert df["mu_star"].to_numpy() == pytest.approx([3.0, 1.0, 0.0], abs=1e-9)
    assert df["sigma"].to_numpy() == pytest.approx([0.0, 0.0, 0.0], abs=1e-9)


def test_tornado_swings_are_one_at_a_time_differences():
    specs = [Uniform(dist="uniform", low=1.0, high=3.0), Normal(dist="normal", mean=0.0, sd=1.0)]
    df = tornado(lambda X: 2 * X[:, 0] + 10 * X[:, 1], ["u", "n"], specs, nominal=[2.0, 0.0])
    t = df.set_index("parameter")
    assert t.at["u", "swing"] == pytest.approx(4.0)
    assert t.at["n", "swing"] == pytest.approx(10 * 2 * 1.6448536269514722)
    assert list(df.parameter) == ["n", "u"]  # sorted by swing
    assert t.at["u", "y_nominal"] == pytest.approx(4.0)
