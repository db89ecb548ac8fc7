"""Care programmes aimed at the riskiest customers (``target_risk`` on a retention programme of
the ordinary kind, docs/scenario.md "Targeting"): the same rule as a save offer's risk
targeting -- the customers whose heterogeneity draw exceeds the segment's ``1 - top_share``
quantile -- in every engine.

Oracles: numerical integration (scipy quad) over the gamma churn multiplier for the analytic
engine; the analytic engine for the Monte Carlo engines (within 4.5 standard errors); exact
zeros for the customers the programme does not reach.
"""

from __future__ import annotations

import numpy as np
import pytest

from clmsim.api import simulate
from clmsim.model import compile_model
from clmsim.scenario import ScenarioError, scenario_from_text
from fast_helpers import assert_mean_close
from test_intercept import RISK

ONE = RISK.replace("      kind: intercept\n", "").replace("    desk:\n", "    care:\n")   # the save offer's, as care

TWO = """\
schema_version: 1
name: risk-targeted-care-two-segments
time: {period: month, horizon: 18, discount_rate: 0.1}
stages:
  member: {kind: active, revenue: 10, margin: 0.5}
  lapsed: {kind: churned}
  gone: {kind: lost}
transitions:
  member: {lapsed: 0.1}
  lapsed: {gone: 0.4}
segments:
  steady:
    share: 0.5
    transitions: {member: {lapsed: 0.05}}
  fickle:
    share: 0.5
    heterogeneity: {churn_probability: {dist: beta, alpha: 2, beta: 8}}
heterogeneity: {churn_multiplier: {dist: gamma, mean: 1, cv: 0.7}}
initial_population: {member: 3000}
acquisition:
  channels:
    search:
      spend_per_period: 2000
      response: {type: linear, cost_per_customer: 40}
      entry_stage: member
retention:
  programs:
    care:
      target: [member]
      target_segments: [fickle]
      target_risk: {top_share: 0.3}
      spend_per_customer: {values: [4, 8], then: repeat}
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 5}
    loyalty:
      target: [member]
      spend_per_customer: 1
      effect: {churn_reduction_max: 0.2, half_saturation_spend: 2}
    save:
      kind: intercept
      target: [member]
      target_risk: {top_share: 0.5}
      spend_per_customer: 10
      effect: {churn_reduction_max: 0.4, half_saturation_spend: 10}
"""


def exact(text: str):
    return simulate(scenario_from_text(text, name="t"), engine="analytic", strategies=["baseline"])


def test_risk_targeted_care_matches_integration_over_the_gamma_draw():
    """Oracle: scipy quad over m ~ Gamma(1/cv^2, cv^2): the riskiest 20% (m above the 80%
    quantile q) churn with min(c m (1 - r f), 1), the others with min(c m, 1); survival
    (1 - churn)^t; spend 6 per reached customer alive at the start of a period."""
    from scipy import integrate, stats

    law = stats.gamma(1 / 0.64, scale=0.64)
    q, c, red, H = law.isf(0.2), 0.15, 0.6 * 6 / 10, 12
    cuts = [0, q, 1 / c, 1 / (c * (1 - red)), np.inf]

    def expect(f):
        return sum(integrate.quad(lambda m: f(m) * law.pdf(m), lo, hi, limit=200, epsabs=0, epsrel=1e-13)[0]
                   for lo, hi in zip(cuts[:-1], cuts[1:]))

    def churn(m):
        return min(c * m * (1 - red if m > q else 1), 1.0)

    alive = expect(lambda m: (1 - churn(m)) ** H)
    spend = expect(lambda m: 6 * (m > q) * sum((1 - churn(m)) ** t for t in range(H)))
    prog = compile_model(scenario_from_text(ONE, name="t")).programs[0]
    assert prog.thresholds(1)[0] == pytest.approx(q) and prog.risk_share == 0.2
    r = exact(ONE).runs.iloc[0]
    assert r["active_end"] == pytest.approx(5000 * alive, rel=1e-9)
    assert r["retention_spend"] == pytest.approx(5000 * spend, rel=1e-9)


def test_risk_targeted_care_spends_only_on_the_riskiest_share_at_the_start():
    """Period 1: exactly the top 20% of the initial members are reached (analytic)."""
    periods = exact(ONE).periods
    first = periods[(periods["period"] == 1) & (periods["item"] == "retention_spend")]["mean"].iloc[0]
    assert first == pytest.approx(6 * 0.2 * 5000, rel=1e-12)


@pytest.mark.parametrize("engine, mode", [("fast", "individual"), ("fast", "counts"), ("des", None)])
def test_risk_targeted_care_monte_carlo_within_4_5_standard_errors_of_analytic(engine, mode):
    """Two segments (a gamma segment the care programme skips, a beta segment whose riskiest
    30% it reaches), an untargeted programme, a risk-targeted save offer and acquisitions."""
    ref = exact(TWO)
    opts = {"mode": mode} if mode else {}
    res = simulate(scenario_from_text(TWO, name="t"), engine=engine, runs=40, seed=5, strategies=["baseline"],
                   **opts)
    for item in ("npv", "retention_spend", "churned", "active_end", "clv_acquired"):
        assert_mean_close(res.runs[item], ref.runs.iloc[0][item], item, abs_floor=1e-9 * abs(ref.runs.iloc[0][item]))
    seg, seg_ref = (r.segment_runs.set_index(["run", "segment"]) for r in (res, ref))
    for g in ("steady", "fickle"):
        x = seg.xs(g, level="segment")["retention_spend"]
        assert_mean_close(x, seg_ref.xs(g, level="segment")["retention_spend"].iloc[0], f"{g} retention_spend")


@pytest.mark.parametrize("engine, mode", [("analytic", None), ("fast", "individual"), ("fast", "counts"),
                                          ("des", None)])
def test_spend_on_customers_the_risk_targeted_care_does_not_reach_is_exactly_zero(engine, mode):
    """Only the risk-targeted care programme spends: the segment it skips costs exactly 0, and
    every run spends a multiple of 4, the smaller spend per customer (whole reached customers)."""
    text = TWO.split("    loyalty:")[0]
    opts = {"mode": mode} if mode else {}
    res = simulate(scenario_from_text(text, name="t"), engine=engine, runs=3, seed=2, strategies=["baseline"],
                   **opts)
    seg = res.segment_runs
    assert (seg[seg["segment"] == "steady"]["retention_spend"] == 0).all()
    assert (seg[seg["segment"] == "fickle"]["retention_spend"] > 0).all()
    if engine != "analytic":
        spend = res.runs["retention_spend"].to_numpy() / 4.0
        np.testing.assert_array_equal(spend, np.round(spend))


def _problems(text: str) -> list[str]:
    with pytest.raises(ScenarioError) as err:
        scenario_from_text(text, name="t.yaml")
    return str(err.value).splitlines()


def _at(text: str, needle: str, key: str) -> str:
    line = next(i for i, t in enumerate(text.splitlines(), 1) if needle in t)
    col = text.splitlines()[line - 1].index(key) + 1
    return f"t.yaml:{line}:{col}: "


@pytest.mark.parametrize("value", ["0", "1.5", "-0.2", ".nan", "lots"])
def test_validate_refuses_a_bad_top_share_at_file_line_col(value):
    text = ONE.replace("top_share: 0.2", f"top_share: {value}")
    lines = _problems(text)
    where = _at(text, "top_share:", "top_share")
    assert any(line.startswith(where + "retention.programs.care.target_risk.top_share: ") for line in lines), lines


def test_validate_refuses_risk_targeted_care_without_heterogeneity_upgrades_or_cap():
    flat = ONE.replace("heterogeneity: {churn_multiplier: {dist: gamma, mean: 1, cv: 0.8}}\n", "")
    where = _at(flat, "target_risk:", "target_risk")
    assert _problems(flat) == [where + "retention.programs.care.target_risk: the scenario has no heterogeneity: "
                               "every customer has the same churn propensity, so there is no riskiest share to aim at"]
    lifted = ONE.replace("half_saturation_spend: 4}", "half_saturation_spend: 4, upgrade_lift: 0.3}")
    assert _problems(lifted) == [_at(lifted, "target_risk:", "target_risk") + "retention.programs.care.target_risk: "
                                 "a care program aimed at the riskiest customers lowers their churn only: leave out "
                                 "upgrade_lift and upgrade_to (or aim a second program at the stage)"]
    capped = ONE.replace("      spend_per_customer: 6\n", "      spend_per_customer: 6\n"
                         "      budget_cap_per_period: 100\n")
    assert _problems(capped) == [_at(capped, "target_risk:", "target_risk") + "retention.programs.care.target_risk: "
                                 "a care program aimed at the riskiest customers spends spend_per_customer on each "
                                 "of them: give no budget_cap_per_period"]
    steady = TWO.replace("target_segments: [fickle]\n      target_risk", "target_risk")
    steady = steady.replace("heterogeneity: {churn_multiplier: {dist: gamma, mean: 1, cv: 0.7}}\n", "")
    lines = _problems(steady)
    assert any("retention.programs.care.target_risk: segment 'steady' has no heterogeneity" in x for x in lines)


def test_risk_targeted_care_gives_the_same_bits_without_the_fast_paths(monkeypatch):
    """Oracle: the general path (CLMSIM_FAST_PATHS=0): cells a risk-targeted care programme
    reaches always take it, so turning the bare and het paths off changes no bit."""
    from clmsim.engines import fast
    from fast_helpers import digest

    models = [compile_model(scenario_from_text(t, name="t")) for t in (ONE, TWO)]
    runs = []
    for flag in ("1", "0"):
        monkeypatch.setenv("CLMSIM_FAST_PATHS", flag)
        runs.append([digest(fast.simulate([m], runs=2, seed=9, mode="individual", threads=1)) for m in models])
    assert runs[0] == runs[1]


def test_des_refuses_a_team_serving_risk_targeted_care():
    from clmsim.errors import UnsupportedFeature
    from test_intercept import DESK

    text = ONE + DESK.format(agents=2, service=1).replace("serves: desk", "serves: care")
    with pytest.raises(UnsupportedFeature, match="risk-targeted care program 'care'"):
        simulate(scenario_from_text(text, name="t"), engine="des", runs=1, seed=1, strategies=["baseline"])


def test_explain_counts_risk_targeted_care_for_its_share_hand_mix():
    """Oracle: the hand mix of the period-1 rows. ``explain``'s 'w/ programmes' retention of the
    average customer counts a programme aimed at the riskiest share for that share only; shares
    of several programmes nest (the top 10% lie inside the top 30%)."""
    from clmsim.explain import explain_model

    info = explain_model(compile_model(scenario_from_text(ONE)))
    # top 20%: churn 0.15 x (1 - 0.6 x 6 / (6 + 4)); the other 80% keep 0.15
    assert info["retention"][("all", "member")] == pytest.approx(0.85, abs=1e-12)
    assert info["retention_after"][("all", "member")] == pytest.approx(0.2 * (1 - 0.15 * 0.64) + 0.8 * 0.85,
                                                                       abs=1e-12)
    nested = ONE.replace("      target_risk: {top_share: 0.2}\n", "      target_risk: {top_share: 0.1}\n") + """\
    second:
      target: [member]
      target_risk: {top_share: 0.3}
      spend_per_customer: 4
      effect: {churn_reduction_max: 0.4, half_saturation_spend: 4}
"""
    info = explain_model(compile_model(scenario_from_text(nested)))
    # top 10%: both (x 0.64 x 0.8); 10-30%: the second only (x 0.8); the other 70%: neither
    want = 0.1 * (1 - 0.15 * 0.64 * 0.8) + 0.2 * (1 - 0.15 * 0.8) + 0.7 * 0.85
    assert info["retention_after"][("all", "member")] == pytest.approx(want, abs=1e-12)
