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


# ------------------------------------------------------------- decisions under uncertainty
TOY = """
schema_version: 1
name: premium-toy
time: {period: month, horizon: 12, discount_rate: 0.1}
stages:
  customer: {kind: active, revenue: 25, margin: 0.5, cost_to_serve: 0}
  gone: {kind: lost}
transitions:
  customer: {gone: 0.05}
initial_population: {customer: 1000}
strategies:
  baseline: {}
  premium: {stages.customer.margin: 0.6, stages.customer.cost_to_serve: 2}
"""
"""premium earns 0.1 x revenue - 2 more per customer-period: better exactly when revenue > 20."""


def _experiment(tmp_path, extra: str = "") -> str:
    (tmp_path / "toy.yaml").write_text(TOY, encoding="utf-8")
    path = tmp_path / "exp.yaml"
    path.write_text("name: toy\nscenario: toy.yaml\nseed: 4\nengine: analytic\nruns: 1\n"
                    "uncertainties:\n  stages.customer.revenue: {dist: uniform, low: 10, high: 30}\n"
                    "sampling: {method: lhs, samples: 32}\n" + extra, encoding="utf-8")
    return str(path)


def test_ranking_probability_of_best_and_flip_value_match_closed_form(tmp_path):
    from clmsim.analysis.sensitivity import ranking

    r = ranking(_experiment(tmp_path))
    t = r.table.set_index("strategy")
    # Latin hypercube of 32 on U(10, 30): exactly 16 strata above 20
    assert t.at["premium", "p_best"] == 0.5 and t.at["baseline", "p_best"] == 0.5
    assert r.info["leader"] == "premium" and r.info["runner_up"] == "baseline"   # revenue 25 as written
    flip = r.flips.iloc[0]
    assert flip["flips"] and flip["flip_value"] == pytest.approx(20.0, rel=1e-9)   # linear in revenue
    assert flip["diff_low"] < 0 < flip["diff_high"]


def test_sensitivity_of_the_npv_difference_is_the_paired_difference(tmp_path):
    from clmsim.analysis.sensitivity import sensitivity
    from clmsim.api import simulate
    from clmsim.scenario import scenario_from_text

    s = sensitivity(_experiment(tmp_path), ["tornado"], strategy="premium", metric="npv_diff")
    npv = simulate(scenario_from_text(TOY)).runs.set_index("strategy")["npv"]
    row = s.tornado.iloc[0]
    assert row["y_nominal"] == pytest.approx(npv["premium"] - npv["baseline"], rel=1e-12)
    assert row["y_low"] < 0 < row["y_high"] and s.info["versus"] == "baseline"
    with pytest.raises(Exception, match="another strategy"):
        sensitivity(_experiment(tmp_path), ["tornado"], strategy="baseline", metric="npv_diff")


def test_sobol_index_outside_unit_interval_beyond_its_interval_warns():
    import pandas as pd

    from clmsim.analysis.sensitivity import sobol_warnings

    df = pd.DataFrame({"parameter": ["a", "b", "c"], "S1": [1.16, 1.10, 0.3], "S1_lo": [1.05, 0.8, 0.2],
                       "S1_hi": [1.27, 1.4, 0.4], "ST": [1.12, 0.5, -0.2], "ST_lo": [1.01, 0.4, -0.3],
                       "ST_hi": [1.23, 0.6, -0.1]})
    w = sobol_warnings(df, 32)
    assert len(w) == 3   # a: S1 and ST beyond; b: S1 out but its interval reaches 1 (noise); c: ST below 0
    assert all("raise it" in x for x in w) and "S1 of a" in w[0] and "ST of c" in w[2]
