"""Levers aimed at segments: retention programs, win-back policies and concessions with
``target_segments`` and per-segment effects (docs/scenario.md, "Targeting").

Oracles: segment additivity (without acquisitions the segments never meet, so the exact
value of a two-segment scenario is the sum of its one-segment scenarios, each with the lever
as that segment sees it); the geometric closed form of the targeted segment's spend; and
exact zeros -- a lever aimed at an empty segment spends nothing and changes no random draw.
Monte Carlo engines agree with the analytic values within 4.5 standard errors.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim.api import simulate
from clmsim.model import compile_model
from clmsim.scenario import ScenarioError, load_scenario, scenario_from_text
from fast_helpers import assert_mean_close

BASE = """\
schema_version: 1
name: two-segments
time: {{period: month, horizon: 24, discount_rate: 0.1}}
stages:
  member: {{kind: active, revenue: 10, margin: 0.5}}
  lapsed: {{kind: churned}}
  gone: {{kind: lost}}
transitions:
  member: {{lapsed: 0.2}}
  lapsed: {{gone: 0.5}}
segments:
{segments}
{levers}
"""
LOYAL = "  loyal: {share: %s, transitions: {member: {lapsed: 0.05}}, initial_population: {member: %d}}\n"
FICKLE = "  fickle: {share: %s, transitions: {member: {lapsed: 0.3}}, initial_population: {member: %d}}\n"

CARE = """\
retention:
  programs:
    care:
      target: [member]
      target_segments: [{care_seg}]
      spend_per_customer: 2
      effect: {{churn_reduction_max: 0.5, half_saturation_spend: 2}}
{care_over}"""
OFFER = """\
winback:
  policies:
    offer:
      window: 3
      coverage: 0.5
      contact_cost: 1
      target_segments: [{wb_seg}]
      success: {{base: 0.3, decay: 0.8}}
{wb_over}      return_stage: member
      concession: {{discount: 0.2, periods: 2, target_segments: [{wb_seg}]}}
"""


def two_segment(care_seg="fickle", wb_seg="loyal", loyal=4000, fickle=6000) -> str:
    levers = CARE.format(care_seg=care_seg, care_over=f"      effect_by_segment: {{{care_seg}: {{churn_reduction_max: 0.6}}}}\n")
    levers += OFFER.format(wb_seg=wb_seg, wb_over=f"      success_by_segment: {{{wb_seg}: {{base: 0.5, decay: 0.8}}}}\n")
    return BASE.format(segments=LOYAL % (0.4, loyal) + FICKLE % (0.6, fickle), levers=levers)


def one_segment(which: str) -> str:
    """The segment alone, with the levers as it sees them (the oracle of additivity)."""
    if which == "loyal":
        levers = OFFER.format(wb_seg="loyal", wb_over="").replace("base: 0.3", "base: 0.5")
        return BASE.format(segments=LOYAL % (1, 4000), levers=levers)
    levers = CARE.format(care_seg="fickle", care_over="").replace("churn_reduction_max: 0.5", "churn_reduction_max: 0.6")
    return BASE.format(segments=FICKLE % (1, 6000), levers=levers)


def analytic(text: str):
    return simulate(scenario_from_text(text, name="t"), engine="analytic", strategies=["baseline"]).runs.iloc[0]


ITEMS = ("npv", "revenue", "contribution", "retention_spend", "winback_spend", "contacts", "won_back", "churned",
         "active_end")


def test_targeted_levers_equal_the_sum_of_their_segments_alone_segment_additivity_oracle():
    both = analytic(two_segment())
    parts = [analytic(one_segment(w)) for w in ("loyal", "fickle")]
    for item in ITEMS:
        assert both[item] == pytest.approx(parts[0][item] + parts[1][item], rel=1e-10, abs=1e-9), item
    # the care program reaches fickle only: spend = 2 x 6000 x sum_t r^(t-1), r = 1 - 0.3 (1 - 0.6 x 1/2)
    r = 1 - 0.3 * (1 - 0.6 * 0.5)
    assert both["retention_spend"] == pytest.approx(2 * 6000 * (1 - r ** 24) / (1 - r), rel=1e-12)
    assert parts[0]["retention_spend"] == 0.0 and parts[1]["winback_spend"] == 0.0


def test_compiled_targets_are_per_segment_and_stage():
    m = compile_model(scenario_from_text(two_segment(), name="t"))
    (care,), (offer,) = m.programs, m.winbacks
    assert care.reach(2).tolist() == [[False, False, False], [True, False, False]]   # (loyal, fickle) x stages
    assert care.effects(2)[:, 0].tolist() == [0.5, 0.6]
    churn, _ = m.segment_program_factors(np.array([2.0]))
    assert churn[:, 0].tolist() == [1.0, 1 - 0.6 * 0.5]
    assert offer.reaches(2).tolist() == [True, False] and offer.grants(2).tolist() == [True, False]
    assert offer.success(0, np.arange(2)).tolist() == [0.5, 0.3]


@pytest.mark.parametrize("engine, mode", [("fast", "individual"), ("fast", "counts"), ("des", None)])
def test_monte_carlo_engines_match_the_analytic_values_within_4_5_standard_errors(engine, mode):
    text = two_segment()
    exact = analytic(text)
    opts = {"mode": mode} if mode else {}
    runs = simulate(scenario_from_text(text, name="t"), engine=engine, runs=40, seed=3,
                    strategies=["baseline"], **opts).runs
    for item in ("npv", "retention_spend", "winback_spend", "won_back", "active_end"):
        assert_mean_close(runs[item], exact[item], item, abs_floor=1e-9 * abs(exact[item]))


@pytest.mark.parametrize("engine, mode", [("analytic", None), ("fast", "individual"), ("fast", "counts"),
                                          ("des", None)])
def test_a_lever_aimed_at_an_empty_segment_spends_exactly_nothing_and_changes_no_draw(engine, mode):
    """Care, save offer and win-back aimed at a segment with no customers: spend and contacts are
    exactly 0 and every run equals the run without the levers, bit for bit (common random numbers)."""
    save = ("    save:\n      kind: intercept\n      target: [member]\n      target_segments: [loyal]\n"
            "      spend_per_customer: 5\n      effect: {churn_reduction_max: 0.9, half_saturation_spend: 1}\n")
    aimed = two_segment(care_seg="loyal", wb_seg="loyal", loyal=0).replace("winback:", save + "winback:")
    assert len(compile_model(scenario_from_text(aimed, name="t")).intercepts) == 1
    without = BASE.format(segments=LOYAL % (0.4, 0) + FICKLE % (0.6, 6000), levers="")
    opts = {"mode": mode} if mode else {}
    a, b = (simulate(scenario_from_text(t, name="t"), engine=engine, runs=5, seed=11, strategies=["baseline"],
                     **opts).runs for t in (aimed, without))
    assert (a["retention_spend"] == 0).all() and (a["winback_spend"] == 0).all() and (a["contacts"] == 0).all()
    for item in ("npv", "revenue", "churned", "active_end"):
        np.testing.assert_array_equal(a[item].to_numpy(), b[item].to_numpy(), err_msg=item)


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        scenario_from_text(text, name="t.yaml")
    return str(err.value).splitlines()


def test_validate_names_unknown_segments_with_a_hint_at_file_line_col():
    text = two_segment(care_seg="fickel", wb_seg="loyal")
    lines = _problems(text)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "target_segments: [fickel]" in t)
    col = text.splitlines()[line - 1].index("fickel") + 1
    assert (f"t.yaml:{line}:{col}: retention.programs.care.target_segments.0: unknown segment 'fickel' "
            "(did you mean 'fickle'?)") in lines
    assert any("retention.programs.care.effect_by_segment.fickel: unknown segment 'fickel'" in p for p in lines)


def test_validate_refuses_an_override_for_a_segment_the_lever_skips():
    text = two_segment().replace("success_by_segment: {loyal:", "success_by_segment: {fickle:")
    (problem,) = _problems(text)
    assert ("winback.policies.offer.success_by_segment.fickle: segment 'fickle' is not in target_segments (loyal)"
            in problem)


ECOMMERCE = Path(__file__).resolve().parents[1] / "scenarios" / "ecommerce.yaml"
AIMED = "aimed_care_and_save"


def test_ecommerce_aimed_levers_reach_only_their_segments_des_event_log():
    """Exact, per customer: in a traced des run, VIP care is paid for high-value VIPs only and
    save offers go to at-risk regulars only (every other segment's spend on them is 0)."""
    model = compile_model(load_scenario(ECOMMERCE), AIMED)
    care = next(p for p in model.programs if p.name == "vip_care")
    assert care.reach(3)[:, model.stage_index["vip"]].tolist() == [True, False, False]
    (offer,) = model.intercepts
    assert offer.reach(3)[:, model.stage_index["regular"]].tolist() == [False, False, True]
    res = simulate(ECOMMERCE, engine="des", runs=1, seed=1, strategies=[AIMED], trace_runs=[0], trace_customers=3000)
    ev = res.events
    vip_care = ev[(ev["event"] == "retention") & (ev["from_stage"] == "vip")]
    assert len(vip_care) > 0 and set(vip_care["segment"]) == {"high_value"}
    offers = ev[ev["event"] == "offer"]
    assert len(offers) > 0 and set(offers["segment"]) == {"at_risk"} and set(offers["from_stage"]) == {"regular"}


def test_ecommerce_aimed_strategy_analytic_equals_fast_within_4_5_standard_errors():
    ref = simulate(ECOMMERCE, engine="analytic", strategies=[AIMED]).runs.iloc[0]
    runs = simulate(ECOMMERCE, engine="fast", runs=100, seed=7, strategies=[AIMED], mode="counts").runs
    for item in ("npv", "retention_spend", "winback_spend", "churned", "active_end"):
        assert_mean_close(runs[item], ref[item], item, abs_floor=1e-9 * abs(ref[item]))
