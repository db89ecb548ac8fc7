"""Oracle: a pure-NumPy reference of individual mode (tests/fast_reference.py), written from
the model's specification with NumPy's generator. The numba kernel -- fast paths, counter-based
draws and all -- must agree with it in law: per-run totals and per-period stage counts within
4.5 standard errors of the difference of two independent Monte Carlo means."""

from __future__ import annotations

import numpy as np

from clmsim.engines import fast
from fast_helpers import Z999, model_from_yaml
from fast_reference import RUN_ITEMS, simulate_reference

SCENARIO = """
schema_version: 1
name: reference-oracle
time: {period: month, horizon: 18, discount_rate: 0.1}
stages:
  prospect:  {kind: prospect}
  new:       {kind: active, revenue: {mean: 45, cv: 0.3}, margin: 0.55, cost_to_serve: 4}
  loyal:     {kind: active, revenue: {mean: 75, cv: 0.25}, margin: 0.62, cost_to_serve: 2}
  declining: {kind: active, revenue: {mean: 40, cv: 1.5}, margin: 0.5, cost_to_serve: 5}
  churned:   {kind: churned}
  lost:      {kind: lost}
transitions:
  prospect:  {new: 0.3, lost: 0.1}
  new:       {loyal: 0.1, declining: 0.04, churned: 0.05}
  loyal:     {declining: 0.03, churned: 0.01}
  declining: {loyal: 0.05, churned: 0.12}
  churned:   {lost: 0.25}
segments:
  small:
    share: 0.6
    transitions: {new: {churned: 0.08}}
    heterogeneity: {churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.8}}
  big:
    share: 0.4
    stages: {loyal: {revenue: {mean: 120, cv: 0.3}}}
    heterogeneity: {churn_probability: {dist: beta, alpha: 2, beta: 30}}
initial_population: {new: 250, loyal: 450, declining: 120, churned: 80}
acquisition:
  channels:
    search:
      spend_per_period: 8000
      response: {type: saturating, max_customers: 60, half_saturation_spend: 6000}
      entry_stage: new
    events:
      spend_per_period: 2000
      response: {type: linear, cost_per_customer: 100}
      entry_stage: prospect
      segment_mix: {big: 1.0}
  referrals: {from: {loyal: 0.01}, entry_stage: new}
retention:
  programs:
    onboarding:
      target: [new]
      spend_per_customer: 6
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 5, upgrade_lift: 0.3}
    save_desk:
      target: [declining]
      spend_per_customer: 12
      effect: {churn_reduction_max: 0.4, half_saturation_spend: 10}
      budget_cap_per_period: 900
winback:
  policies:
    offer:
      eligible_after: 1
      window: 4
      coverage: 0.7
      contact_cost: 8
      success: {base: 0.3, decay: 0.75}
      return_stage: new
      concession: {discount: 0.25, periods: 3}
      capacity_per_period: 12
"""


def test_individual_kernel_agrees_in_law_with_the_numpy_reference():
    model = model_from_yaml(SCENARIO)
    R = 150
    kernel = fast.simulate([model], runs=R, seed=31, mode="individual")
    ref = simulate_reference(model, R, seed=32)
    runs = kernel.runs
    for item in RUN_ITEMS:
        a, b = runs[item].to_numpy(), ref[item]
        se = np.sqrt(a.var(ddof=1) / R + b.var(ddof=1) / R)
        assert abs(a.mean() - b.mean()) < Z999 * se + 1e-9, (item, a.mean(), b.mean(), se)
        assert b.std() == 0 or a.std() > 0, item
    assert runs["won_back"].mean() > 5 and runs["contacts"].mean() > 50          # the features are exercised
    p = kernel.periods
    for s, name in enumerate(model.stage_names):
        k = p[(p["item"] == f"stage:{name}")].sort_values("period")
        se = np.sqrt((k["sd"].to_numpy() ** 2 + ref["occ"][:, :, s].var(axis=0, ddof=1)) / R)
        diff = np.abs(k["mean"].to_numpy() - ref["occ"][:, :, s].mean(axis=0))
        assert np.all(diff[1:] < Z999 * se[1:] + 1e-9), name
