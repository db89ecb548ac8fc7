"""Save offers (retention programs of kind ``intercept``): paid per customer who tries to
churn, saving with a probability on the spend-response curve (docs/scenario.md).

Oracles: the one-stage closed form (churn c, offer success p: survival ``(1 - c (1 - p))^t``,
offer spend ``s c n_t``); the hand-written expanded matrix of a save with a concession; the
analytic engine for the Monte Carlo engines (within 4.5 standard errors).
"""

from __future__ import annotations

import numpy as np
import pytest

from clmsim.api import simulate
from clmsim.engines.analytic.chains import build_chains
from clmsim.model import compile_model
from clmsim.scenario import ScenarioError, scenario_from_text
from fast_helpers import assert_mean_close

ONE_STAGE = """\
schema_version: 1
name: save-offer
time: {period: month, horizon: 24, discount_rate: 0.1}
stages:
  member: {kind: active, revenue: 10, margin: 0.5}
  lapsed: {kind: churned}
  gone: {kind: lost}
transitions:
  member: {lapsed: 0.2}
  lapsed: {gone: 0.5}
initial_population: {member: 1000}
retention:
  programs:
    save:
      kind: intercept
      target: [member]
      spend_per_customer: 10
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 10}
"""

# two segments, gamma heterogeneity in one, a save offer with a concession aimed at one
# segment and sending the saved to their own stage `rescued`, next to a win-back policy
RICH = """\
schema_version: 1
name: save-offer-rich
time: {period: month, horizon: 18, discount_rate: 0.1}
stages:
  member: {kind: active, revenue: 10, margin: 0.5}
  rescued: {kind: active, revenue: 8, margin: 0.5}
  lapsed: {kind: churned}
  gone: {kind: lost}
transitions:
  member: {lapsed: 0.15}
  rescued: {member: 0.3, lapsed: 0.2}
  lapsed: {gone: 0.4}
segments:
  steady: {share: 0.5, transitions: {member: {lapsed: 0.05}}, initial_population: {member: 3000}}
  restless:
    share: 0.5
    heterogeneity: {churn_multiplier: {dist: gamma, mean: 1, cv: 0.8}}
    initial_population: {member: 3000}
acquisition:
  channels:
    ads: {spend_per_period: 1000, response: {type: linear, cost_per_customer: 10}, entry_stage: member}
retention:
  programs:
    desk:
      kind: intercept
      target: [member, rescued]
      target_segments: [restless]
      spend_per_customer: 6
      effect: {churn_reduction_max: 0.6, half_saturation_spend: 4}
      save_to: rescued
      concession: {discount: 0.3, periods: 2}
winback:
  policies:
    offer:
      window: 2
      coverage: 0.5
      contact_cost: 1
      success: {base: 0.2, decay: 0.7}
      return_stage: member
      concession: {discount: 0.1, periods: 1}
"""


def exact(text: str):
    return simulate(scenario_from_text(text, name="t"), engine="analytic", strategies=["baseline"]).runs.iloc[0]


def test_save_offer_matches_the_one_stage_closed_form():
    """p = 0.5 x 10/(10 + 10) = 0.25: churn 0.2 x 0.75, offers 10 x 0.2 x members at the start."""
    r = exact(ONE_STAGE)
    n = 1000 * 0.85 ** np.arange(24)
    assert r["retention_spend"] == pytest.approx(10 * 0.2 * n.sum(), rel=1e-12)
    assert r["churned"] == pytest.approx(0.15 * n.sum(), rel=1e-12)
    assert r["active_end"] == pytest.approx(1000 * 0.85 ** 24, rel=1e-12)
    v = 1.1 ** (-np.arange(1, 25) / 12)
    cash = 5 * 1000 * 0.85 ** np.arange(1, 25) - 10 * 0.2 * n
    assert r["npv"] == pytest.approx((cash * v).sum(), rel=1e-12)


def test_save_with_a_concession_matches_the_hand_written_expanded_matrix():
    """Segment restless at the draw's mean is not used here: segment steady has no offer, so its
    member row is the base row; restless's member row sends p of its churn to rescued[desk:2]."""
    model = compile_model(scenario_from_text(RICH, name="t"))
    ch = build_chains(model, draws=np.ones((2, 1)))
    labels = ch.space.labels
    i = labels.index
    p = 0.6 * 6 / (6 + 4)
    steady, restless = ch.M[0, 0, 0], ch.M[0, 1, 0]
    assert steady[i("member"), i("lapsed[k=0]")] == pytest.approx(0.05)
    assert steady[i("member"), i("rescued[desk:2]")] == 0.0
    assert restless[i("member"), i("lapsed[k=0]")] == pytest.approx(0.15 * (1 - p))
    assert restless[i("member"), i("rescued[desk:2]")] == pytest.approx(0.15 * p)
    assert restless[i("rescued[desk:2]"), i("member[desk:1]")] == pytest.approx(0.3)    # a move keeps the concession
    assert restless[i("rescued[desk:2]"), i("rescued[desk:1]")] == pytest.approx(1 - 0.3 - 0.2)
    assert restless[i("rescued[desk:2]"), i("rescued[desk:2]")] == pytest.approx(0.2 * p)  # saved again
    assert ch.offer_cost[0, 1, 0, i("member")] == pytest.approx(6 * 0.15)
    assert ch.offer_cost[0, 0, 0, i("member")] == 0.0
    assert ch.contribution[0, 1, i("rescued[desk:2]")] == pytest.approx(8 * (0.5 - 0.3))


@pytest.mark.parametrize("engine, mode", [("fast", "individual"), ("fast", "counts"), ("des", None)])
def test_monte_carlo_engines_match_the_analytic_save_offer_within_4_5_standard_errors(engine, mode):
    ref = exact(RICH)
    opts = {"mode": mode} if mode else {}
    runs = simulate(scenario_from_text(RICH, name="t"), engine=engine, runs=40, seed=5, strategies=["baseline"],
                    **opts).runs
    for item in ("npv", "retention_spend", "churned", "won_back", "contribution", "active_end"):
        assert_mean_close(runs[item], ref[item], item, abs_floor=1e-9 * abs(ref[item]))


def test_des_event_log_shows_offers_only_to_leavers_of_the_targeted_segment():
    res = simulate(scenario_from_text(RICH, name="t"), engine="des", runs=1, seed=2, strategies=["baseline"],
                   trace_runs=[0])
    ev = res.events
    offers = ev[ev["event"] == "offer"]
    assert len(offers) > 0 and set(offers["segment"]) == {"restless"}
    assert (offers["amount"] == 6.0).all()
    saved = ev[ev["event"] == "saved"]
    assert set(saved["to_stage"]) == {"rescued"} and len(saved) < len(offers)
    total = res.runs["retention_spend"].iloc[0]
    assert total == pytest.approx(6.0 * len(offers))


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        scenario_from_text(text, name="t.yaml")
    return [line.split(": ", 1)[1] for line in str(err.value).splitlines()]


def test_validate_refuses_what_a_save_offer_cannot_mean():
    bad = RICH.replace("save_to: rescued", "save_to: lapsed").replace(
        "effect: {churn_reduction_max: 0.6, half_saturation_spend: 4}",
        "effect: {churn_reduction_max: 0.6, half_saturation_spend: 4, upgrade_lift: 0.2}")
    problems = _problems(bad)
    assert "retention.programs.desk.save_to: stage 'lapsed' is of kind churned; expected active" in problems
    assert any(p.startswith("retention.programs.desk.effect: a save offer (kind intercept) saves") for p in problems)
    care = ONE_STAGE.replace("      kind: intercept\n", "").replace("spend_per_customer: 10", "spend_per_customer: 10\n      save_to: member")
    assert _problems(care) == ["retention.programs.save.save_to: 'save_to' belongs to save offers: give the program "
                               "'kind: intercept'"]
    twice = ONE_STAGE + """\
    save2:
      kind: intercept
      target: [member]
      spend_per_customer: 5
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 10}
"""
    assert _problems(twice) == ["retention.programs.save2.target: stage 'member' already has the save offer 'save': "
                                "one save offer per customer"]


RISK = """\
schema_version: 1
name: risk-targeted-save-offer
time: {period: month, horizon: 12, discount_rate: 0}
stages:
  member: {kind: active, revenue: 10, margin: 0.5}
  lapsed: {kind: churned}
  gone: {kind: lost}
transitions:
  member: {lapsed: 0.15}
  lapsed: {gone: 0.4}
heterogeneity: {churn_multiplier: {dist: gamma, mean: 1, cv: 0.8}}
initial_population: {member: 5000}
retention:
  programs:
    desk:
      kind: intercept
      target: [member]
      target_risk: {top_share: 0.2}
      spend_per_customer: 6
      effect: {churn_reduction_max: 0.6, half_saturation_spend: 4}
"""


def test_risk_targeted_offer_matches_integration_over_the_gamma_draw():
    """Oracle: numerical integration (scipy quad) over the multiplier m ~ Gamma(1/cv^2, cv^2):
    a customer tries to leave with a = min(c m, 1) and churns with a, or a (1 - p) when m is above
    the 80% quantile q (the riskiest 20% get the offer); survival (1 - churn)^t, offer spend
    6 a x survival before the period."""
    from scipy import integrate, stats

    law = stats.gamma(1 / 0.64, scale=0.64)
    q, c, p, H = law.isf(0.2), 0.15, 0.6 * 6 / 10, 12

    cuts = [0, q, 1 / c, np.inf]                 # the offer's threshold, attempts reaching 1

    def expect(f):
        return sum(integrate.quad(lambda m: f(m) * law.pdf(m), lo, hi, limit=200, epsabs=0, epsrel=1e-13)[0]
                   for lo, hi in zip(cuts[:-1], cuts[1:]))

    def churn(m):
        return min(c * m, 1.0) * (1 - p if m > q else 1)

    alive = expect(lambda m: (1 - churn(m)) ** H)
    spend = expect(lambda m: 6 * min(c * m, 1.0) * (m > q) * sum((1 - churn(m)) ** t for t in range(H)))
    r = exact(RISK)
    assert compile_model(scenario_from_text(RISK, name="t")).intercepts[0].thresholds(1)[0] == pytest.approx(q)
    assert r["active_end"] == pytest.approx(5000 * alive, rel=1e-9)
    assert r["retention_spend"] == pytest.approx(5000 * spend, rel=1e-9)


@pytest.mark.parametrize("engine, mode", [("fast", "individual"), ("fast", "counts"), ("des", None)])
def test_risk_targeted_offer_monte_carlo_within_4_5_standard_errors(engine, mode):
    ref = exact(RISK)
    opts = {"mode": mode} if mode else {}
    runs = simulate(scenario_from_text(RISK, name="t"), engine=engine, runs=40, seed=8, strategies=["baseline"],
                    **opts).runs
    for item in ("npv", "retention_spend", "churned", "active_end"):
        assert_mean_close(runs[item], ref[item], item, abs_floor=1e-9 * abs(ref[item]))


def test_risk_targeting_needs_heterogeneity_and_means_the_same_share_for_care():
    flat = RISK.replace("heterogeneity: {churn_multiplier: {dist: gamma, mean: 1, cv: 0.8}}\n", "")
    assert _problems(flat) == ["retention.programs.desk.target_risk: the scenario has no heterogeneity: every "
                               "customer has the same churn propensity, so there is no riskiest share to aim at"]
    care = compile_model(scenario_from_text(RISK.replace("      kind: intercept\n", ""), name="t")).programs[0]
    offer = compile_model(scenario_from_text(RISK, name="t")).intercepts[0]
    assert care.thresholds(1).tolist() == offer.thresholds(1).tolist()      # tests/test_risk_care.py: engines


DESK = """\
operations:
  days_per_period: 30
  teams:
    desk_team:
      serves: desk
      agents: {agents}
      service_days: {{mean: {service}, cv: 0}}
      arrivals: start
"""


def test_save_desk_of_one_agent_calls_every_nine_days_des_event_log():
    """One agent, calls of 9 days (fixed), hundreds of leavers queued at the start of every
    30-day period: the agent starts a call every 9 days (days 0, 9, ..., 351), a call running
    over a period's end delays the next period's first call, and every call is one paid offer.
    A call ending after its period is too late (that leaver goes), as are all never called
    (reneges, unpaid)."""
    text = RISK.replace("      target_risk: {top_share: 0.2}\n", "") + DESK.format(agents=1, service=9)
    res = simulate(scenario_from_text(text, name="t"), engine="des", runs=1, seed=4, strategies=["baseline"],
                   trace_runs=[0])
    ev = res.events
    offers = ev[ev["event"] == "offer"]
    per_period = np.floor(offers["time"].to_numpy() + 1e-9).astype(int)
    starts = np.arange(0, 360, 9)
    assert np.bincount(per_period, minlength=12).tolist() == np.bincount(starts // 30, minlength=12).tolist()
    assert res.runs["retention_spend"].iloc[0] == len(starts) * 6.0
    in_time = int(((starts % 30) + 9 <= 30).sum())           # calls that end within their period
    assert 0 < len(ev[ev["event"] == "saved"]) <= in_time
    assert (ev["event"] == "renege").sum() > 0


def test_ample_save_desk_matches_the_analytic_offer_within_4_5_standard_errors():
    """A desk that reaches everyone within the period changes nothing in expectation."""
    small = RISK.replace("member: 5000", "member: 600")
    text = small + DESK.format(agents=50, service=0.01)
    ref = exact(small)
    runs = simulate(scenario_from_text(text, name="t"), engine="des", runs=20, seed=6, strategies=["baseline"]).runs
    for item in ("npv", "retention_spend", "churned", "active_end"):
        assert_mean_close(runs[item], ref[item], item)
    assert (runs["reneged"] == 0).all()
