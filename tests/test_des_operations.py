"""Operations in the des engine: agent pools (Erlang C oracle), budgets, care teams, refusals."""

from __future__ import annotations

from math import factorial
from pathlib import Path

import numpy as np
import pytest

from clmsim.engines import des
from clmsim.errors import UnsupportedFeature
from clmsim.model import compile_model
from clmsim.scenario import ScenarioError, load_scenario, scenario_from_text

REF = Path(__file__).resolve().parents[1] / "scenarios" / "reference"
Z = 4.5


def erlang_c(c: int, a: float) -> float:
    """Probability an arrival waits in M/M/c with offered load ``a = lambda / mu`` erlangs."""
    top = a ** c / factorial(c) * c / (c - a)
    return top / (sum(a ** k / factorial(k) for k in range(c)) + top)


def batch_bound(x: np.ndarray, batches: int = 24) -> tuple[float, float]:
    """Mean and standard error by batch means (waits are serially correlated)."""
    means = np.array([b.mean() for b in np.array_split(x, batches)])
    return float(x.mean()), float(means.std(ddof=1) / np.sqrt(batches))


@pytest.fixture(scope="module")
def desk():
    sc = load_scenario(REF / "ops_winback_desk.yaml")
    return {s: des.simulate_run(compile_model(sc, s), 0, 31) for s in ("baseline", "one_agent")}


def test_queue_waits_match_erlang_c_mmc_expectation(desk):
    rec = desk["baseline"]
    lam = 1000 / (365.25 / 12)          # calls per day (about 1,000 lapses a month)
    mu, c = 1 / 0.1, 4
    a = lam / mu
    pw = erlang_c(c, a)
    wq = pw / (c * mu - lam)
    mean, se = batch_bound(rec.waits)
    # 2% allowance: callers who renege at the month's end are missing from the served waits
    assert abs(mean - wq) <= Z * se + 0.02 * wq, (mean, wq, se)
    p, se_p = batch_bound((rec.waits > 0).astype(float))
    assert abs(p - pw) <= Z * se_p + 0.02 * pw, (p, pw, se_p)
    assert rec.reneged < 0.01 * len(rec.waits)


def test_too_small_agent_pool_reduces_won_back_customers(desk):
    big, small = desk["baseline"], desk["one_agent"]
    assert small.flows["won_back"].sum() < 0.5 * big.flows["won_back"].sum()
    # one agent handles at most about D / 0.1 = 304 calls a month (plus Poisson noise in service times)
    cap = (365.25 / 12) / 0.1
    assert small.flows["contacts"][2:].max() <= cap + Z * np.sqrt(cap)
    assert small.reneged > 10 * max(big.reneged, 1)
    # four agents call nearly every lapsed subscriber: won back ~ 0.3 x calls, less the ~1,000 x 3 / 30.4
    # calls of the last 3 days whose response (3-day delay) lands after the horizon
    calls = big.flows["contacts"].sum()
    won = big.flows["won_back"].sum()
    late = 0.3 * 1000 * 3 / (365.25 / 12)
    sd = np.sqrt(calls * 0.3 * 0.7)
    assert 0.3 * calls - 2 * late - Z * sd <= won <= 0.3 * calls + Z * sd


def test_quarterly_budget_runs_out_and_refills_on_the_calendar():
    sc = load_scenario(REF / "ops_budget.yaml")
    rec = des.simulate_run(compile_model(sc, "baseline"), 0, 3)
    spend = rec.flows["retention_spend"][1:]
    quarters = spend.reshape(4, 3).sum(axis=1)
    np.testing.assert_allclose(quarters, 30000.0, rtol=1e-12)
    assert (spend[2::3] == 0).all()                 # third month of each quarter: the pot is empty
    monthly = des.simulate_run(compile_model(sc, "monthly"), 0, 3).flows["retention_spend"][1:]
    np.testing.assert_allclose(monthly, 10000.0, rtol=1e-12)
    churn = rec.flows["churned"][1:].reshape(4, 3)
    assert churn[:, 2].sum() > churn[:, 0].sum()    # churn climbs as the money runs out


CARE = """
schema_version: 1
name: care
time: {period: month, horizon: 6, discount_rate: 0}
stages:
  member: {kind: active, revenue: 10, margin: 1.0}
  lost: {kind: lost}
transitions:
  member: {lost: 0.2}
initial_population: {member: 3000}
retention:
  programs:
    care_call:
      target: [member]
      spend_per_customer: 4
      effect: {churn_reduction_max: 1.0, half_saturation_spend: 1e-9}
operations:
  teams:
    care_desk: {serves: care_call, agents: AGENTS, service_days: {mean: 0.05, cv: 1}}
"""


def test_care_team_effect_reaches_only_customers_it_calls():
    big = des.simulate_run(compile_model(scenario_from_text(CARE.replace("AGENTS", "50"))), 0, 8)
    small = des.simulate_run(compile_model(scenario_from_text(CARE.replace("AGENTS", "1"))), 0, 8)
    # period 1: no one has been called yet, churn 20% in both
    for rec in (big, small):
        assert abs(rec.flows["churned"][1] - 600) <= Z * np.sqrt(3000 * 0.2 * 0.8)
    # a large desk reaches everyone: churn afterwards is (almost) removed
    assert big.flows["churned"][2:].sum() <= 5
    # one agent calls at most about 30.44 / 0.05 = 609 members a month: the rest churn at 20%
    assert small.flows["churned"][2:].sum() > 100
    called = small.flows["retention_spend"][1:] / 4
    assert called.max() <= 609 + Z * np.sqrt(609)


def test_other_engines_refuse_operations_naming_the_des_engine():
    model = compile_model(load_scenario(REF / "ops_budget.yaml"))
    assert model.operational_features() == ["operations.budgets.save_fund (budget calendar)"]
    with pytest.raises(UnsupportedFeature, match="the des engine"):
        model.refuse_operations("analytic")
    for name in ("analytic", "fast"):
        engine = pytest.importorskip(f"clmsim.engines.{name}")
        with pytest.raises(UnsupportedFeature, match="operations.budgets.save_fund.*the des engine"):
            engine.simulate([model], runs=1, seed=0)


def test_scenario_without_operations_has_no_operational_features():
    model = compile_model(load_scenario(REF / "winback.yaml"))
    assert model.operations is None and model.operational_features() == []
    idle = compile_model(scenario_from_text(CARE.split("operations:")[0] + "operations: {days_per_period: 30}\n"))
    assert idle.operations.days_per_period == 30 and idle.operational_features() == []


@pytest.mark.parametrize("old, new, message", [
    ("serves: care_call", "serves: care_cal",
     "operations.teams.care_desk.serves: 'care_cal' is neither a win-back policy nor a retention program "
     "(did you mean 'care_call'?)"),
    ("agents: AGENTS", "agents: 0", "greater than 0"),
    ("agents: AGENTS", "agents: 2, discipline: recent_first", "applies to win-back teams only"),
    ("  teams:", "  budgets:\n    a: {serves: [care_call], amount: 1}\n    b: {serves: [care_call], amount: 1}\n"
     "  teams:", "'care_call' is already paid from budget 'a'"),
], ids=["unknown-target", "no-agents", "discipline", "two-budgets"])
def test_operations_block_is_validated(old, new, message):
    text = CARE.replace("agents: AGENTS", "agents: 2") if old != "agents: AGENTS" else CARE
    text = text.replace(old, new, 1)
    with pytest.raises(ScenarioError) as info:
        scenario_from_text(text)
    assert message in str(info.value)


def test_winback_team_and_capacity_are_exclusive():
    text = (REF / "ops_winback_desk.yaml").read_text().replace(
        "      return_stage: subscriber", "      return_stage: subscriber\n      capacity_per_period: 100")
    with pytest.raises(ScenarioError, match="capacity_per_period and a team"):
        scenario_from_text(text)


def test_budget_limits_winback_contacts_without_a_team():
    # 20,000 lapsed customers, no calls in period 1, then coverage 1 at contact cost 5; the pot of
    # 5,000 a period pays floor(5000 / 5) = 1000 contacts a period; carried over, period 2 has 10,000
    text = """
schema_version: 1
name: wb-budget
time: {period: month, horizon: 3}
stages:
  paying: {kind: active, revenue: 1}
  gone: {kind: churned}
transitions: {}
initial_population: {gone: 20000}
winback:
  policies:
    offer: {window: 10, coverage: {values: [0, 1, 1]}, contact_cost: 5, success: {base: 0.5}, return_stage: paying}
operations:
  budgets:
    pot: {serves: [offer], amount: 5000, refill: period, carry_over: CARRY}
"""
    rec = des.simulate_run(compile_model(scenario_from_text(text.replace("CARRY", "false"))), 0, 2)
    assert rec.flows["contacts"][1:].tolist() == [0, 1000, 1000]
    assert rec.flows["winback_spend"][1:].tolist() == [0, 5000, 5000]
    won = rec.flows["won_back"][1:].sum()
    assert abs(won - 1000) <= Z * np.sqrt(2000 * 0.25)
    carry = des.simulate_run(compile_model(scenario_from_text(text.replace("CARRY", "true"))), 0, 2)
    assert carry.flows["contacts"][1:].tolist() == [0, 2000, 1000]


def test_ops_telecom_showcase_runs_and_budget_caps_each_quarter():
    sc = load_scenario(REF / "ops_telecom.yaml", ["time.horizon=6"])
    model = compile_model(sc)
    assert model.operational_features() == ["operations.teams.winback_desk (agent pool)",
                                            "operations.budgets.save_budget (budget calendar)"]
    res = des.simulate([model], runs=1, seed=1)
    assert res.runs.iloc[0]["contacts"] > 0 and res.provenance["operations"]
    # with onboarding switched off all retention spend is the save desk's: the quarterly pot of
    # 300,000 is spent in full every quarter (demand ~540,000) and never exceeded
    only_save = compile_model(load_scenario(REF / "ops_telecom.yaml", [
        "time.horizon=6", "retention.programs.onboarding_30d.spend_per_customer=0"]))
    spend = des.simulate_run(only_save, 0, 1).flows["retention_spend"][1:]
    np.testing.assert_allclose(spend.reshape(2, 3).sum(axis=1), 300000.0, rtol=1e-12)
