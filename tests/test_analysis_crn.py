"""Common random numbers and interval coverage with the fast engine.

Oracle: the analytic engine's exact expected NPV difference between two
strategies of a small scenario without continuous heterogeneity (counts mode is
exact in distribution there).
"""

from __future__ import annotations

import numpy as np
import pytest

from clmsim import scenario_from_text
from clmsim.analysis import compare
from clmsim.stats import mean_ci

SMALL = """
schema_version: 1
name: small-save-desk
time: {period: month, horizon: 12, discount_rate: 0.1}
stages:
  new:       {kind: active, revenue: {mean: 40, cv: 0.5}, margin: 0.6, cost_to_serve: 3}
  loyal:     {kind: active, revenue: {mean: 70, cv: 0.3}, margin: 0.6, cost_to_serve: 2}
  declining: {kind: active, revenue: {mean: 35, cv: 0.5}, margin: 0.5, cost_to_serve: 4}
  gone:      {kind: lost}
transitions:
  new:       {loyal: 0.10, declining: 0.05, gone: 0.04}
  loyal:     {declining: 0.03, gone: 0.01}
  declining: {loyal: 0.05, gone: 0.15}
initial_population: {new: 300, loyal: 500, declining: 200}
acquisition:
  channels:
    search: {spend_per_period: 3000, response: {type: linear, cost_per_customer: 100}, entry_stage: new}
retention:
  programs:
    save_desk:
      target: [declining]
      spend_per_customer: 10
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 10}
strategies:
  baseline: {}
  save_desk_x2: {retention.programs.save_desk.spend_per_customer: 20}
"""


def _exact(metric: str = "npv_diff") -> float:
    c = compare(scenario_from_text(SMALL), engine="analytic", seed=0)
    t = c.table()
    return float(t[(t.kind == "vs_baseline") & (t.metric == metric)]["mean"].iloc[0])


def _exact_difference() -> float:
    return _exact("npv_diff")


def test_crn_reduces_variance_of_paired_npv_difference_measured():
    c = compare(scenario_from_text(SMALL), runs=400, seed=11, engine="fast", mode="counts")
    g = c.crn_gain().iloc[0]
    # F-distributed ratio of two variance estimates with 399 df: a factor 3 is far outside noise
    assert g["gain"] > 3.0, g
    exact = _exact_difference()
    d = c.paired("save_desk_x2")
    assert abs(d.mean() - exact) < 4.5 * d.std(ddof=1) / np.sqrt(d.size)


def test_batch_intervals_of_spend_difference_and_roi_cover_the_analytic_values():
    """Present value of the spend difference and ROI from 10 batches of runs (counts mode, exact in
    distribution here) against the analytic engine's exact values, within 4.5 standard errors."""
    c = compare(scenario_from_text(SMALL), runs=400, seed=5, engine="fast", mode="counts")
    t = c.table().set_index(["metric", "kind"])
    assert c.provenance["batches"] == 10
    for metric in ("spend_diff", "roi"):
        r = t.loc[(metric, "vs_baseline")]
        se = (r["ci_hi"] - r["ci_lo"]) / (2 * 2.262)          # t_{0.975, 9}
        assert abs(r["mean"] - _exact(metric)) < 4.5 * se, (metric, r["mean"], _exact(metric), se)


@pytest.mark.slow
def test_interval_of_known_difference_covers_95_percent_over_repeated_seeds():
    exact = _exact_difference()
    reps, n = 300, 16
    c = compare(scenario_from_text(SMALL), runs=reps * n, seed=2024, engine="fast", mode="counts")
    d = c.paired("save_desk_x2")           # ordered by run index
    cover = 0
    for k in range(reps):  # disjoint run ranges use independent streams: independent replications
        _, _, lo, hi, _ = mean_ci(d[k * n:(k + 1) * n])
        cover += lo <= exact <= hi
    rate = cover / reps
    # binomial se of the coverage estimate: sqrt(0.95 * 0.05 / 300) = 0.0126
    assert abs(rate - 0.95) < 4.5 * np.sqrt(0.95 * 0.05 / reps), rate
