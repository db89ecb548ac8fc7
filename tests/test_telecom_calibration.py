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
