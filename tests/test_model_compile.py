"""The compiled model: scenario fields land in the right arrays (oracles: the file's own numbers,
the documented merge rules and the closed forms stated in clmsim/model/compiled.py)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim.model import ACTIVE, CHURNED, LOST, PROSPECT, compile_model, effective_matrix, schedule_array
from clmsim.scenario import load_scenario, scenario_from_text
from clmsim.scenario.schema import ScheduleSpec

ROOT = Path(__file__).resolve().parent.parent
SMALL = ROOT / "tests" / "data" / "small.yaml"


def scenario(name: str):
    return load_scenario(ROOT / "scenarios" / f"{name}.yaml")


ONE_STAGE = """
schema_version: 1
name: geometric
time: {{period: month, horizon: {horizon}, discount_rate: {rate}}}
stages:
  customer: {{kind: active, revenue: {revenue}, margin: {margin}}}
  lost: {{kind: lost}}
transitions:
  customer: {{lost: {churn}}}
initial_population: {{customer: 1}}
"""


# ---------------------------------------------------------------------------- matrices
def test_rows_list_moves_and_staying_is_the_remainder():
    m = compile_model(load_scenario(SMALL))
    assert m.stage_names == ("prospect", "new", "loyal", "churned", "lost")
    assert m.stage_kind.tolist() == [PROSPECT, ACTIVE, ACTIVE, CHURNED, LOST]
    np.testing.assert_allclose(m.P[0, 1], [0, 0.85, 0.10, 0.05, 0])
    np.testing.assert_allclose(m.P[0, 4], [0, 0, 0, 0, 1])        # lost is absorbing
    np.testing.assert_allclose(m.P[0, 0], [0.8, 0.2, 0, 0, 0])


def test_churn_mask_is_active_to_churned_or_lost():
    m = compile_model(load_scenario(SMALL))
    expected = np.zeros((5, 5), dtype=bool)
    expected[1:3, 3:5] = True
    np.testing.assert_array_equal(m.churn_mask, expected)


def test_segment_rows_replace_only_the_entries_they_name():
    m = compile_model(scenario("ecommerce"))
    i = m.stage_index
    hv, pot, risk = (m.segment_names.index(g) for g in ("high_value", "potential", "at_risk"))
    np.testing.assert_allclose(m.P[risk, i["regular"], [i["vip"], i["dormant"], i["regular"]]], [0.01, 0.15, 0.84])
    np.testing.assert_allclose(m.P[hv, i["vip"], [i["regular"], i["dormant"], i["vip"]]], [0.04, 0.01, 0.95])
    np.testing.assert_allclose(m.P[pot, i["regular"], [i["vip"], i["dormant"]]], [0.03, 0.08])   # scenario-wide
    np.testing.assert_array_equal(m.P[hv, i["first_month"]], m.P[risk, i["first_month"]])


def test_segment_economics_override_only_named_fields():
    m = compile_model(scenario("ecommerce"))
    r = m.stage_index["regular"]
    risk = m.segment_names.index("at_risk")
    pot = m.segment_names.index("potential")
    assert (m.revenue_mean[risk, r], m.revenue_cv[risk, r], m.margin[risk, r]) == (60, 0.9, 0.22)
    assert m.cost_to_serve[risk, r] == m.cost_to_serve[pot, r] == 2      # inherited
    assert (m.revenue_mean[pot, r], m.margin[pot, r]) == (90, 0.30)


def test_economics_defaults_margin_one_cost_zero_and_scalar_revenue():
    m = compile_model(load_scenario(SMALL))
    loyal = m.stage_index["loyal"]
    assert (m.revenue_mean[0, loyal], m.revenue_cv[0, loyal], m.cost_to_serve[0, loyal]) == (60, 0, 0)
    no_margin = scenario_from_text(ONE_STAGE.format(horizon=3, rate=0, revenue=10, margin=1, churn=0.1)
                                   .replace(", margin: 1", ""))
    assert compile_model(no_margin).margin[0, 0] == 1.0
    assert np.all(m.revenue_mean[:, ~m.active] == 0)


def test_heterogeneity_segment_overrides_scenario_default():
    text = (SMALL.read_text()
            .replace("initial_population:", "heterogeneity: {churn_multiplier: {dist: gamma, cv: 0.5}}\n"
                     "segments:\n  a: {share: 0.4}\n"
                     "  b: {share: 0.6, heterogeneity: {churn_probability: {dist: beta, alpha: 2, beta: 8}}}\n"
                     "initial_population:"))
    m = compile_model(scenario_from_text(text))
    a, b = m.heterogeneity
    assert (a.kind, a.mean, a.cv) == ("gamma", 1.0, 0.5)
    assert (b.kind, b.alpha, b.beta) == ("beta", 2, 8)


# ---------------------------------------------------------------------------- populations
def test_initial_population_split_by_share_largest_remainder():
    text = SMALL.read_text().replace("initial_population: {new: 100, loyal: 200}",
                                     "segments:\n  a: {share: 0.5}\n  b: {share: 0.5}\n"
                                     "initial_population: {new: 101, loyal: 7}")
    m = compile_model(scenario_from_text(text))
    assert m.initial[:, m.stage_index["new"]].tolist() == [51, 50]    # ties to the first segment
    assert m.initial[:, m.stage_index["loyal"]].tolist() == [4, 3]
    tb = compile_model(scenario("textbook"))
    assert tb.initial.sum(axis=0).tolist() == [1000, 800, 1500, 300, 0]   # nobody lost in the split


def test_per_segment_initial_population_taken_as_written():
    m = compile_model(scenario("ecommerce"))
    risk = m.segment_names.index("at_risk")
    i = m.stage_index
    assert (m.initial[risk, i["first_month"]], m.initial[risk, i["regular"]], m.initial[risk, i["dormant"]]) == \
        (3000, 9000, 4000)


# ------------------------------------------------------------------------------ schedules
@pytest.mark.parametrize("spec, expected", [
    (5.0, [5, 5, 5, 5, 5]),
    (ScheduleSpec(values=[1, 2]), [1, 2, 2, 2, 2]),
    (ScheduleSpec(values=[1, 2], then="repeat"), [1, 2, 1, 2, 1]),
    (ScheduleSpec(values=[1, 2], then="zero"), [1, 2, 0, 0, 0]),
    (ScheduleSpec(values=[1, 2, 3, 4, 5, 6, 7]), [1, 2, 3, 4, 5]),
    (ScheduleSpec(ramp={"start": 0, "end": 30, "periods": 4}), [0, 10, 20, 30, 30]),
    (ScheduleSpec(ramp={"start": 7, "end": 9, "periods": 1}), [9, 9, 9, 9, 9]),
])
def test_schedule_array_expands_per_documented_rule(spec, expected):
    np.testing.assert_allclose(schedule_array(spec, 5), expected)


def test_schedules_reach_channels_programs_and_winback():
    text = (SMALL.read_text()
            .replace("spend_per_period: 1000", "spend_per_period: {values: [0, 0, 3000], then: repeat}")
            .replace("spend_per_customer: 5", "spend_per_customer: {ramp: {start: 0, end: 6, periods: 3}}")
            .replace("coverage: 0.5", "coverage: {values: [0.2, 0.4]}"))
    m = compile_model(scenario_from_text(text))
    np.testing.assert_allclose(m.channels[0].spend[:6], [0, 0, 3000, 0, 0, 3000])
    np.testing.assert_allclose(m.programs[0].spend[:4], [0, 3, 6, 6])
    np.testing.assert_allclose(m.winbacks[0].coverage[:3], [0.2, 0.4, 0.4])


# ------------------------------------------------------------------------------- levers
def test_channel_response_curves():
    m = compile_model(scenario("telecom"))
    search, stores = m.channels
    assert stores.expected_customers(150000.0) == pytest.approx(150000 / 375, rel=1e-15)
    assert search.expected_customers(300000.0) == pytest.approx(2200 * 300000 / 600000, rel=1e-15)
    assert search.expected_customers(0.0) == 0.0
    np.testing.assert_allclose(m.expected_acquisitions()[1], np.full(60, 150000 / 375))


def test_channel_segment_mix_defaults_to_shares():
    m = compile_model(scenario("ecommerce"))
    np.testing.assert_allclose(m.channels[0].mix, [0.20, 0.50, 0.30])
    np.testing.assert_allclose(m.referral.mix, m.segment_share)
    assert m.referral.rate[m.stage_index["vip"]] == 0.01


def test_program_upgrade_targets_default_to_richer_active_stages():
    m = compile_model(scenario("telecom"))
    i = m.stage_index
    onboarding, save = m.programs
    assert onboarding.target.tolist() == [s == "onboarding" for s in m.stage_names]
    # written upgrade_to: onboarding lifts moves to growing only; the save desk sends customers back to declining
    assert {m.stage_names[d] for d in np.flatnonzero(onboarding.upgrade[i["onboarding"]])} == {"growing"}
    assert {m.stage_names[d] for d in np.flatnonzero(save.upgrade[i["at_risk"]])} == {"declining"}
    tb = compile_model(scenario("textbook"))
    save = tb.programs[2]
    assert np.flatnonzero(save.upgrade[tb.stage_index["decline"]]).tolist() == [tb.stage_index["stability"]]


def test_program_factors_follow_the_saturating_effect():
    m = compile_model(scenario("telecom"))
    churn, upgrade = m.program_factors(np.array([6.0, 12.0]))
    i = m.stage_index
    assert churn[i["onboarding"]] == pytest.approx(1 - 0.5 * 6 / 16, rel=1e-15)
    assert churn[i["at_risk"]] == pytest.approx(1 - 0.5 * 12 / 22, rel=1e-15)
    assert churn[i["loyal"]] == 1.0 and churn[i["declining"]] == 1.0
    assert upgrade[i["onboarding"], i["growing"]] == pytest.approx(1 + 1.0 * 6 / 16, rel=1e-15)
    assert upgrade[i["at_risk"], i["declining"]] == pytest.approx(1 + 0.5 * 12 / 22, rel=1e-15)


def test_winback_defaults_and_success_curve():
    m = compile_model(scenario("telecom"))
    (wb,) = m.winbacks
    assert wb.from_stages.tolist() == [s == "churned" for s in m.stage_names]
    assert (wb.eligible_after, wb.window, wb.max_age) == (1, 6, 7)
    np.testing.assert_allclose(wb.success(np.arange(3)), 0.12 * 0.75 ** np.arange(3))
    assert (wb.discount, wb.concession_periods, wb.return_stage) == (0.25, 3, m.stage_index["new"])
    assert wb.capacity is None


# ------------------------------------------------------------------------ effective matrix
def test_effective_matrix_with_unit_factors_is_the_base_matrix():
    m = compile_model(scenario("telecom"))
    np.testing.assert_allclose(m.transition_matrix(0), m.P[0], atol=1e-15)


def test_effective_matrix_theta_replaces_churn_total_and_splits_it():
    P = np.array([[0.7, 0.1, 0.15, 0.05], [0, 1, 0, 0], [0, 0, 1, 0], [0, 0, 0, 1.0]])
    mask = np.zeros((4, 4), dtype=bool)
    mask[0, 2:] = True
    out = effective_matrix(P, mask, np.ones(4), np.ones((4, 4)), theta=0.4)
    np.testing.assert_allclose(out[0], [0.5, 0.1, 0.3, 0.1])
    out = effective_matrix(P, mask, np.full(4, 0.5), np.ones((4, 4)), multiplier=2.0)
    np.testing.assert_allclose(out[0], P[0])       # x2 heterogeneity, x0.5 program
    up = np.ones((4, 4))
    up[0, 1] = 20.0                                 # moves would exceed 1: scaled to 1, churn clipped to 0
    np.testing.assert_allclose(effective_matrix(P, mask, np.ones(4), up)[0], [0, 1, 0, 0])


# ------------------------------------------------------------------- timing convention
def test_discount_rate_per_period_from_annual():
    m = compile_model(scenario("telecom"))
    assert m.discount_rate == pytest.approx(1.1 ** (1 / 12) - 1, rel=1e-15)
    np.testing.assert_allclose(m.discount_factors()[:3], (1 + m.discount_rate) ** -np.arange(3.0))
    assert compile_model(scenario("textbook")).discount_rate == pytest.approx(1.08 ** 0.25 - 1, rel=1e-15)


def test_clv_matches_geometric_closed_form_under_documented_timing():
    # convention: a customer present at time 0 first moves in period 1, then earns; cash of
    # period t is discounted by (1+d)^-t. Summing the compiled model's arrays by that rule
    # gives m r / (1+d-r); adding the entry margin once gives m (1+d) / (1+d-r).
    H, rev, margin, churn = 3000, 50.0, 0.4, 0.05
    m = compile_model(scenario_from_text(ONE_STAGE.format(horizon=H, rate=0.12, revenue=rev, margin=margin,
                                                          churn=churn)))
    P, v = m.P[0], m.discount_factors()
    contribution = m.revenue_mean[0] * m.margin[0] - m.cost_to_serve[0]
    x = m.initial[0].astype(float)
    clv = 0.0
    for t in range(1, H + 1):
        x = x @ P
        clv += v[t] * x @ contribution
    mm, r, d = rev * margin, 1 - churn, m.discount_rate
    assert clv == pytest.approx(mm * r / (1 + d - r), rel=1e-9)
    assert clv + mm == pytest.approx(mm * (1 + d) / (1 + d - r), rel=1e-9)


def test_strategy_and_hash_recorded():
    sc = load_scenario(SMALL)
    m = compile_model(sc, "more_care")
    assert (m.strategy, m.scenario_hash, m.horizon, m.period) == ("more_care", sc.hash, 12, "month")
    assert m.programs[0].spend[0] == 10
    with pytest.raises(KeyError, match="unknown strategy"):
        compile_model(sc, "nope")


def test_unicode_stage_index():
    m = compile_model(scenario("textbook_zh"))
    assert m.stage_index["考察期"] == 0 and m.stage_names[m.stage_index["终止期"]] == "终止期"
    assert m.channels[0].entry_stage == m.stage_index["考察期"]


def test_initial_population_split_sums_exactly_when_shares_sum_within_tolerance():
    # shares sum to 1 - 1e-7 (accepted by validation); a large base must not lose customers
    text = SMALL.read_text().replace("initial_population: {new: 100, loyal: 200}",
                                     "segments:\n  a: {share: 0.4999999}\n  b: {share: 0.5}\n"
                                     "initial_population: {new: 1000000000, loyal: 3}")
    m = compile_model(scenario_from_text(text))
    assert m.initial[:, m.stage_index["new"]].sum() == 1_000_000_000
    assert m.initial[:, m.stage_index["loyal"]].sum() == 3
