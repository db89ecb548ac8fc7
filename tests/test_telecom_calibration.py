"""scenarios/telecom.yaml against the figures its header cites and the modelling choices it states
(analytic engine: exact expectations, so the tolerances are the calibration targets themselves)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim import compile_model, load_scenario
from clmsim.api import simulate
from clmsim.cli.demo import cohort_model
from clmsim.engines import analytic
from clmsim.decision import money
from clmsim.metrics import EQUAL_SPEND, cohort_survival, spend_case, summarize

TELECOM = Path(__file__).resolve().parents[1] / "scenarios" / "telecom.yaml"


@pytest.fixture(scope="module")
def exact():
    res = simulate(TELECOM)
    return res, summarize(res).set_index(["strategy", "metric"])["mean"]


def test_blended_cac_within_5_percent_of_300_analytic(exact):
    _, s = exact
    # acquisition spend of both channels over the customers they bought
    assert abs(s[("baseline", "cac")] / 300.0 - 1.0) <= 0.05, s[("baseline", "cac")]


def test_58_percent_of_a_new_cohort_gone_by_month_36_counting_winback_analytic(exact):
    res, _ = exact
    gone = 1.0 - cohort_survival(res, "baseline", "onboarding").loc[36]  # won-back customers count as active
    assert abs(gone - 0.58) <= 0.02, gone


def test_shift_to_retention_is_budget_neutral_in_present_value_analytic(exact):
    _, s = exact
    base, shift = s[("baseline", "pv_spend")], s[("shift_to_retention", "pv_spend")]
    assert abs(shift - base) <= EQUAL_SPEND * base, (shift, base)
    assert spend_case(s[("shift_to_retention", "spend_diff")], base) == "same"
    # ... while it really moves money: search down, programs up
    assert s[("shift_to_retention", "acquisition_spend")] < s[("baseline", "acquisition_spend")]
    assert s[("shift_to_retention", "retention_spend")] > s[("baseline", "retention_spend")]


def test_save_desk_pays_only_for_customers_about_to_leave_analytic():
    """The save desk's spend in period t is its spend per customer times the at_risk customers at
    the start of t, and only declining customers enter at_risk."""
    sc = load_scenario(TELECOM, ["retention.programs.onboarding_30d.spend_per_customer=0"])
    model = compile_model(sc)
    res = analytic.simulate([model], runs=1, seed=None)
    at_risk = res.series("baseline", "stage:at_risk")
    spend = res.series("baseline", "retention_spend")
    np.testing.assert_allclose(spend.to_numpy(), 10.0 * at_risk.loc[0:59].to_numpy(), rtol=1e-12)
    i = model.stage_index
    into = np.flatnonzero(model.P[0][:, i["at_risk"]] > 0)
    assert {model.stage_names[k] for k in into} == {"declining", "at_risk"}  # at_risk: those who stay


def test_onboarding_is_paid_in_a_customers_first_months_analytic():
    """A cohort of new customers: at least 95% of the onboarding programme's spend on it falls in its
    first three months (the save desk is off, so retention spend is onboarding's)."""
    sc = load_scenario(TELECOM, ["retention.programs.save_desk.spend_per_customer=0"])
    model, _ = cohort_model(compile_model(sc), 10_000)
    res = analytic.simulate([model], runs=1, seed=None)
    spend = res.series("baseline", "retention_spend").to_numpy()
    assert spend[:3].sum() / spend.sum() >= 0.95, spend[:6]


def test_risk_targeted_save_offer_at_the_same_budget_spends_what_the_untargeted_one_spends_analytic(exact):
    """save_offer_risk_same_budget's spend per offer was solved (root finding on the analytic engine)
    for the present value of spend of save_offer_all; written to 8 significant digits, the two agree
    within 1e-7 of either, far inside EQUAL_SPEND: the demo's head to head reads "same spend"."""
    _, s = exact
    aimed, everyone = s[("save_offer_risk_same_budget", "pv_spend")], s[("save_offer_all", "pv_spend")]
    assert abs(aimed - everyone) <= 1e-7 * everyone, (aimed, everyone)
    assert spend_case(aimed - everyone, everyone) == "same"
    # the money really moves: only to the riskiest 30%, so more per offer than save_offer_all's 60
    sc = load_scenario(TELECOM)
    offer = sc.spec_for("save_offer_risk_same_budget").retention.programs["save_offer"]
    assert offer.target_risk.top_share == 0.3 and offer.spend_per_customer > 2 * 60


def test_demo_head_to_head_reports_targeted_vs_untargeted_at_equal_budget_analytic():
    from clmsim.cli.demo import decide, head_to_head
    from clmsim.scenario.demo_plan import load_demo_plan

    plan = load_demo_plan(scenario=str(TELECOM))
    entry = plan.head_to_head[0]
    assert (entry.against, entry.strategies) == ("save_offer_all", ["save_offer_risk_same_budget", "save_offer_risk"])
    sc = load_scenario(TELECOM)
    res, paths = decide(plan, sc, "analytic")
    text, lines, display, raw = head_to_head(res, paths, entry, sc)
    npv = raw[(raw["kind"] == "vs_baseline") & (raw["metric"] == "npv_diff")].set_index("strategy")["mean"]
    same = [line for line in lines if "save_offer_risk_same_budget against save_offer_all" in line]
    assert same == [f"{entry.title}: save_offer_risk_same_budget against save_offer_all: same spend, "
                    f"NPV {money(npv['save_offer_risk_same_budget'], sign=True)}."]
    assert "same spend, NPV" in text and "NPV vs save_offer_all" in text
    assert list(display.iloc[:, 0]) == ["save_offer_all", "save_offer_risk", "save_offer_risk_same_budget"]
