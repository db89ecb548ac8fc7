"""Oracle: a pure-NumPy reference of individual mode (tests/fast_reference.py), written from
the model's specification with NumPy's generator. The numba kernel -- fast paths, counter-based
draws and all -- must agree with it in law: per-run totals and per-period stage counts within
4.5 standard errors of the difference of two independent Monte Carlo means."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim.engines import fast
from fast_helpers import Z999, model_from_yaml
from fast_reference import RUN_ITEMS, simulate_reference
from test_fast_counts import FEATURES

CHANGES = (  # the every-feature scenario of test_fast_counts, smaller, with both heterogeneity laws
    ("horizon: 24", "horizon: 18"),
    ("declining: {kind: active, revenue: {mean: 40, cv: 0.4}", "declining: {kind: active, revenue: {mean: 40, cv: 1.5}"),
    ("small: {share: 0.6, transitions: {new: {churned: 0.08}}}",
     "small: {share: 0.6, transitions: {new: {churned: 0.08}},\n"
     "         heterogeneity: {churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.8}}}"),
    ("big:   {share: 0.4, stages: {loyal: {revenue: {mean: 120, cv: 0.3}}}}",
     "big:   {share: 0.4, stages: {loyal: {revenue: {mean: 120, cv: 0.3}}},\n"
     "         heterogeneity: {churn_probability: {dist: beta, alpha: 2, beta: 30}}}"),
    ("{new: 800, loyal: 1500, declining: 400, churned: 200}", "{new: 250, loyal: 450, declining: 120, churned: 80}"),
    ("spend_per_period: 20000", "spend_per_period: 8000"),
    ("max_customers: 150, half_saturation_spend: 15000", "max_customers: 60, half_saturation_spend: 6000"),
    ("spend_per_period: 5000", "spend_per_period: 2000"),
    ("budget_cap_per_period: 2500", "budget_cap_per_period: 900"),
    ("success: {base: 0.2, decay: 0.75}", "success: {base: 0.3, decay: 0.75}"),
    ("capacity_per_period: 40", "capacity_per_period: 12"),
)


def _scenario() -> str:
    text = FEATURES
    for old, new in CHANGES:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text


def _assert_agree_in_law(model, R: int, seed: int):
    """Per-run totals and per-period stage counts of the kernel and the reference (different
    seeds, independent streams) within :data:`Z999` standard errors of their difference."""
    kernel = fast.simulate([model], runs=R, seed=seed, mode="individual")
    ref = simulate_reference(model, R, seed=seed + 1)
    runs = kernel.runs
    for item in RUN_ITEMS:
        a, b = runs[item].to_numpy(), ref[item]
        se = np.sqrt(a.var(ddof=1) / R + b.var(ddof=1) / R)
        assert abs(a.mean() - b.mean()) < Z999 * se + 1e-9, (item, a.mean(), b.mean(), se)
        assert b.std() == 0 or a.std() > 0, item
    p = kernel.periods
    for s, name in enumerate(model.stage_names):
        k = p[(p["item"] == f"stage:{name}")].sort_values("period")
        se = np.sqrt((k["sd"].to_numpy() ** 2 + ref["occ"][:, :, s].var(axis=0, ddof=1)) / R)
        diff = np.abs(k["mean"].to_numpy() - ref["occ"][:, :, s].mean(axis=0))
        assert np.all(diff[1:] < Z999 * se[1:] + 1e-9), name
    return runs, ref


def test_individual_kernel_agrees_in_law_with_the_numpy_reference():
    runs, _ = _assert_agree_in_law(model_from_yaml(_scenario()), 150, 31)
    assert runs["won_back"].mean() > 5 and runs["contacts"].mean() > 50          # the features are exercised


ECOMMERCE = Path(__file__).resolve().parents[1] / "scenarios" / "ecommerce.yaml"
SMALLER = ["time.horizon=12", "segments.high_value.initial_population.regular=150",
           "segments.high_value.initial_population.vip=100", "segments.potential.initial_population.first_month=200",
           "segments.potential.initial_population.regular=750", "segments.potential.initial_population.vip=50",
           "segments.at_risk.initial_population.first_month=150", "segments.at_risk.initial_population.regular=450",
           "segments.at_risk.initial_population.dormant=200",
           "acquisition.channels.search_ads.response.max_customers=300",
           "acquisition.channels.social_coupons.response.cost_per_customer=700"]
"""ecommerce.yaml at a twentieth of its customers and a third of its horizon (the reference is slow)."""


RISK = (("    description: Price-driven, coupon-hunting; lapse quickly.\n",
         "    description: Price-driven, coupon-hunting; lapse quickly.\n"
         "    heterogeneity: {churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.8}}\n"),
        ("      target_segments: [at_risk]\n      spend_per_customer: 8\n",
         "      target_segments: [at_risk]\n      target_risk: {top_share: 0.4}\n      spend_per_customer: 8\n"))
"""With ``risk``: gamma heterogeneity in at_risk and the save offer aimed at its riskiest 40%."""


@pytest.mark.parametrize("risk", [False, True], ids=["segments", "segments_and_risk"])
def test_targeted_kernel_agrees_in_law_with_the_numpy_reference_oracle(risk):
    """ecommerce's aimed strategy: VIP care for high_value only, a save offer (intercept, with a
    concession) for at_risk regulars only; with ``risk`` also :data:`RISK`."""
    from clmsim import compile_model, scenario_from_text

    text = ECOMMERCE.read_text(encoding="utf-8")
    for old, new in RISK if risk else ():
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    model = compile_model(scenario_from_text(text, "ecommerce.yaml", SMALLER), "aimed_care_and_save")
    assert model.intercepts and model.programs[1].segments is not None
    assert (model.intercepts[0].risk_share is not None) == risk
    runs, ref = _assert_agree_in_law(model, 100, 41)
    assert runs["retention_spend"].mean() > 0 and runs["won_back"].mean() > 1
