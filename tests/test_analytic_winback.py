"""The win-back expanded chain of scenarios/reference/winback.yaml, written out by hand."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim import compile_model, load_scenario
from clmsim.engines import analytic
from clmsim.engines.analytic.chains import build_chains

REF = Path(__file__).resolve().parents[1] / "scenarios" / "reference" / "winback.yaml"
LABELS = ("member", "member[offer:1]", "member[offer:2]", "lapsed[k=0]", "lapsed[k=1]", "lapsed[k=2]",
          "lapsed[k=3+]", "lost")


def hand_chain():
    """One period of the win-back scenario, state by state (see the YAML comments).

    member (normal or in concession): stays 0.8, churns 0.2 -> lapsed[k=0];
    a concession of c periods left moves to c-1 (1 -> normal);
    lapsed[k]: eligible for k in {1, 2}: won back with coverage x 0.4 x 0.5^k = 0.1, 0.05
    into member[offer:2]; the rest follows the lapsed row: lost 0.5, stay 0.5 (age + 1).
    """
    M = np.zeros((8, 8))
    M[0, 0], M[0, 3] = 0.8, 0.2
    M[1, 0], M[1, 3] = 0.8, 0.2
    M[2, 1], M[2, 3] = 0.8, 0.2
    M[3, 7], M[3, 4] = 0.5, 0.5
    M[4, 2], M[4, 7], M[4, 5] = 0.1, 0.45, 0.45
    M[5, 2], M[5, 7], M[5, 6] = 0.05, 0.475, 0.475
    M[6, 7], M[6, 6] = 0.5, 0.5
    M[7, 7] = 1.0
    contribution = np.array([10 * 0.5 - 1, 10 * (0.5 - 0.2) - 1, 10 * (0.5 - 0.2) - 1, 0, 0, 0, 0, 0])
    contact_cost = np.array([0, 0, 0, 0, 0.5 * 2, 0.5 * 2, 0, 0])
    return M, contribution, contact_cost


def test_expanded_chain_matches_hand_written_matrix():
    ch = build_chains(compile_model(load_scenario(REF)))
    assert ch.space.labels == LABELS
    M, contribution, contact_cost = hand_chain()
    np.testing.assert_allclose(ch.M[0, 0, 0], M, rtol=0, atol=1e-15)
    np.testing.assert_allclose(ch.contribution[0, 0], contribution, rtol=0, atol=1e-15)  # (regime, segment)
    np.testing.assert_allclose(ch.contact[0, 0] * ch.contact_cost, contact_cost, rtol=0, atol=1e-15)  # (regime, segment)


def test_winback_population_flows_match_hand_chain():
    model = compile_model(load_scenario(REF))
    res = analytic.simulate([model])
    M, contribution, contact_cost = hand_chain()
    v = 1 / 1.06 ** (1 / 12)
    x = np.zeros(8)
    x[0] = 1000
    npv = won = contacts = revenue = 0.0
    for t in range(1, 37):
        won += x[4] * 0.1 + x[5] * 0.05
        contacts += (x[4] + x[5]) * 0.5
        cash = -x @ contact_cost
        x = x @ M
        revenue += x[:3].sum() * 10
        cash += x @ contribution
        npv += v ** t * cash
        occ = res.occupancy("baseline").loc[t]
        assert abs(occ["member"] - x[:3].sum()) < 1e-9
        assert abs(occ["lapsed"] - x[3:7].sum()) < 1e-9
        assert abs(occ["lost"] - x[7]) < 1e-9
    row = res.runs.iloc[0]
    for key, value in (("npv", npv), ("won_back", won), ("contacts", contacts), ("revenue", revenue),
                       ("winback_spend", 2 * contacts)):
        assert abs(row[key] - value) <= 1e-9 * max(1.0, abs(value)), key


def test_winback_clv_matches_hand_fundamental_matrix():
    res = analytic.simulate([compile_model(load_scenario(REF))])
    M, contribution, contact_cost = hand_chain()
    v = 1 / 1.06 ** (1 / 12)
    nu = M @ contribution - contact_cost
    clv_inf = v * np.linalg.solve(np.eye(8) - v * M, nu)
    Q = M[:7, :7]  # lost is absorbing
    active = np.r_[1.0, 1.0, 1.0, 0, 0, 0, 0]
    lifetime = np.linalg.solve(np.eye(7) - Q, active)  # N = (I - Q)^-1, row sums over active states
    clv = res.clv.set_index("stage")
    assert abs(clv.loc["member", "clv_infinite"] - clv_inf[0]) < 1e-9 * abs(clv_inf[0])
    assert abs(clv.loc["lapsed", "clv_infinite"] - clv_inf[3]) < 1e-9 * max(1, abs(clv_inf[3]))
    assert abs(clv.loc["member", "lifetime"] - lifetime[0]) < 1e-9 * lifetime[0]
    assert abs(clv.loc["lapsed", "lifetime"] - lifetime[3]) < 1e-9 * lifetime[3]


def test_winback_off_equals_plain_chain():
    model = compile_model(load_scenario(REF, ["winback.policies.offer.coverage=0"]))
    res = analytic.simulate([model])
    r, m, d = 0.8, 4.0, 1.06 ** (1 / 12) - 1
    assert abs(res.clv.set_index("stage").loc["member", "clv_infinite"] - m * r / (1 + d - r)) < 1e-9
    assert res.runs.loc[0, "won_back"] == 0 and res.runs.loc[0, "contacts"] == 0


def test_two_policies_ages_kept_across_churned_stages():
    path = REF.parent / "winback_two_policies.yaml"
    ch = build_chains(compile_model(load_scenario(path)))
    idx = {label: i for i, label in enumerate(ch.space.labels)}
    assert "lapsed[k=4+]" in idx and "dormant[k=4+]" in idx and "lapsed[k=5+]" not in idx
    assert {"a[early_offer:2]", "b[late_offer:3]"} <= set(idx) and "a[late_offer:1]" in idx
    M = ch.M[0, 0, 0]
    won = 0.6 * 0.3 * 0.7
    assert M[idx["lapsed[k=1]"], idx["a[early_offer:2]"]] == pytest.approx(won, abs=1e-15)
    assert M[idx["lapsed[k=1]"], idx["dormant[k=2]"]] == pytest.approx((1 - won) * 0.3, abs=1e-15)
    assert M[idx["lapsed[k=1]"], idx["a"]] == pytest.approx((1 - won) * 0.05, abs=1e-15)
    assert M[idx["lapsed[k=2]"], idx["a[early_offer:2]"]] == 0.0  # window over
    assert M[idx["dormant[k=2]"], idx["b[late_offer:3]"]] == pytest.approx(0.5 * 0.4 * 0.8 ** 2, abs=1e-15)
    assert M[idx["dormant[k=0]"], idx["b[late_offer:3]"]] == 0.0  # not yet eligible
    # concession of one policy continues across active stages and ends on churn
    assert M[idx["a[early_offer:2]"], idx["b[early_offer:1]"]] == pytest.approx(0.1, abs=1e-15)
    assert M[idx["b[late_offer:3]"], idx["a[late_offer:2]"]] == pytest.approx(0.05, abs=1e-15)
    assert M[idx["b[late_offer:1]"], idx["a"]] == pytest.approx(0.05, abs=1e-15)
    assert M[idx["b[late_offer:3]"], idx["dormant[k=0]"]] == pytest.approx(0.1, abs=1e-15)
    assert np.allclose(M.sum(axis=1), 1.0, atol=1e-15)
