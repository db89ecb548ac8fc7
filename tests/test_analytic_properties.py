"""Invariants of the analytic engine on random small scenarios (hypothesis)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clmsim import load_scenario, scenario_from_text
from clmsim.api import simulate

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = """
schema_version: 1
name: random
time: {{period: month, horizon: {H}, discount_rate: {D}}}
stages:
  a: {{kind: active, revenue: {ra}, margin: 0.5, cost_to_serve: 1}}
  b: {{kind: active, revenue: {rb}, margin: 0.6}}
  c: {{kind: churned}}
  z: {{kind: lost}}
transitions:
  a: {{b: {ab}, c: {ac}}}
  b: {{a: {ba}, c: {bc}, z: {bz}}}
  c: {{z: {cz}, a: {ca}}}
{het}
initial_population: {{a: {na}, b: {nb}, c: {nc}}}
acquisition:
  channels:
    ads: {{spend_per_period: {spend}, response: {{type: linear, cost_per_customer: 50}}, entry_stage: a}}
  referrals: {{from: {{b: {ref}}}, entry_stage: a}}
retention:
  programs:
    care: {{target: [b], spend_per_customer: {care}, effect: {{churn_reduction_max: 0.5, half_saturation_spend: 5}}}}
winback:
  policies:
    offer:
      eligible_after: {ea}
      window: {win}
      coverage: {cov}
      contact_cost: 3
      success: {{base: 0.3, decay: 0.8}}
      return_stage: a
      concession: {{discount: 0.2, periods: {cp}}}
"""

prob = st.floats(0.0, 0.3)


@st.composite
def scenarios(draw):
    het = draw(st.sampled_from(["", "heterogeneity: {churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.6}}",
                                "heterogeneity: {churn_probability: {dist: beta, alpha: 2.0, beta: 8.0}}"]))
    return TEMPLATE.format(
        H=draw(st.integers(1, 24)), D=draw(st.floats(0.0, 0.3)), ra=draw(st.floats(0, 50)),
        rb=draw(st.floats(0, 80)), ab=draw(prob), ac=draw(st.floats(0.01, 0.3)), ba=draw(prob),
        bc=draw(st.floats(0.01, 0.3)), bz=draw(prob), cz=draw(prob), ca=draw(prob), het=het,
        na=draw(st.integers(0, 500)), nb=draw(st.integers(0, 500)), nc=draw(st.integers(0, 100)),
        spend=draw(st.floats(0, 5000)), ref=draw(st.floats(0, 0.05)), care=draw(st.floats(0, 20)),
        ea=draw(st.integers(0, 2)), win=draw(st.integers(1, 3)), cov=draw(st.floats(0, 1)),
        cp=draw(st.integers(0, 3)))


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_population_is_conserved_and_flows_are_consistent(text):
    res = simulate(scenario_from_text(text))
    occ = res.occupancy("baseline")
    assert (occ.to_numpy() >= -1e-9).all()
    arrivals = (res.series("baseline", "acquired") + res.series("baseline", "referred")).cumsum()
    total = occ.sum(axis=1)
    assert np.allclose(total.iloc[1:].to_numpy(), total.iloc[0] + arrivals.to_numpy(), rtol=1e-10, atol=1e-7)
    row = res.runs.iloc[0]
    assert row["won_back"] <= row["contacts"] * 0.3 + 1e-9       # success <= base
    assert row["winback_spend"] == row["contacts"] * 3 or abs(row["winback_spend"] - 3 * row["contacts"]) < 1e-6
    clv = res.clv.set_index("stage")
    assert (clv["lifetime"] >= -1e-12).all()
    assert clv.loc["z", "clv_infinite"] == 0 and clv.loc["z", "lifetime"] == 0
    surv = res.series("baseline", "survival:a")
    assert surv.iloc[0] == 1.0 and (np.diff(surv.to_numpy()) <= 1e-12).all() or clv.loc["c", "lifetime"] > 0
    shares = clv["steady_share"].dropna()
    if len(shares):
        assert abs(shares.sum() - 1) < 1e-9 and (shares >= -1e-12).all()


def test_survival_is_a_probability_starting_at_exactly_one():
    """Survival curves (P(active at t)) of every library scenario and of a heterogeneous random one:
    exactly 1 at time 0 for an active entry stage (0 for a prospect) and within [0, 1] (not
    monotone where churned customers return). The quadrature weights sum to 1 only up to
    rounding; a property test once drew 1.0000000000000002 at time 0."""
    scenarios = [load_scenario(p) for p in sorted((ROOT / "scenarios").glob("*.yaml"))]
    het = "heterogeneity: {churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.6}}"
    scenarios.append(scenario_from_text(TEMPLATE.format(
        H=6, D=0.1, ra=10, rb=20, ab=0.1, ac=0.05, ba=0.1, bc=0.05, bz=0.01, cz=0.2, ca=0.1, het=het, na=100, nb=50,
        nc=10, spend=100, ref=0.01, care=5, ea=1, win=2, cov=0.5, cp=1)))
    for sc in scenarios:
        res = simulate(sc)
        p = res.periods
        surv = p[p["item"].str.startswith("survival:")]
        for key, g in surv.groupby(["strategy", "item"]):
            v = g.sort_values("period")["mean"].to_numpy()
            assert v[0] in (0.0, 1.0), key
            assert ((v >= 0.0) & (v <= 1.0)).all(), key
        assert len(surv), "every scenario has an entry stage"
