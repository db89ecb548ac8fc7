"""Teaching scenarios: the six- and five-stage schemes, the "same customer count, different
lifecycles" pair and the worked CLV examples, each number pinned to its closed form."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim import api
from clmsim.explain import closed_form
from clmsim.model import compile_model
from clmsim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
TEACHING = ["textbook_six_stage", "textbook_five_stage", "textbook_same_count_loyal", "textbook_same_count_churning",
            "textbook_worked_examples"]
WORKED = SCENARIOS / "textbook_worked_examples.yaml"
D = 0.10

# stage, margin m, retention r, printed CLV m r/(1+d-r), printed m (1+d)/(1+d-r), printed lifetime
EXAMPLES = [
    ("retention_70", 25.0, 0.70, 43.75, 68.75, 3.33),
    ("retention_80", 25.0, 0.80, 66.67, 91.67, 5.00),
    ("retention_85", 25.0, 0.85, 85.00, 110.00, 6.67),
    ("retention_90", 25.0, 0.90, 112.50, 137.50, 10.00),
    ("retention_95", 25.0, 0.95, 158.33, 183.33, 20.00),
    ("renewal_92", 1000.0, 0.92, 5111.11, 6111.11, 12.50),
    ("renewal_78", 1000.0, 0.78, 2437.50, 3437.50, 4.55),
    ("telecom_58", 600.0, 1 - 0.2511, 1279.81, 1879.81, 3.98),
]


@pytest.fixture(scope="module")
def worked():
    return api.explain(WORKED)


@pytest.mark.parametrize("name", TEACHING)
def test_teaching_scenario_validates_and_every_strategy_changes_the_model(name):
    sc = load_scenario(SCENARIOS / f"{name}.yaml")
    assert sc.strategy_names[0] == "baseline" and len(sc.strategy_names) >= 4
    base = {k: v for k, v in sc.resolved["baseline"].items() if k != "strategies"}
    for strategy in sc.strategy_names:
        m = compile_model(sc, strategy)
        assert np.allclose(m.P.sum(axis=2), 1.0)
        if strategy != "baseline":
            assert {k: v for k, v in sc.resolved[strategy].items() if k != "strategies"} != base, strategy


@pytest.mark.parametrize("stage,m,r,clv,clv0,life", EXAMPLES, ids=[e[0] for e in EXAMPLES])
def test_worked_example_matches_closed_forms_m_r_over_1_plus_d_minus_r_and_m_1_plus_d(worked, stage, m, r, clv,
                                                                                     clv0, life):
    row = worked["clv"].set_index("stage").loc[stage]
    cf = closed_form(m, r, D)
    assert row["clv_infinite"] == pytest.approx(cf["clv"], rel=1e-9)
    assert row["clv_entry_margin"] == pytest.approx(cf["clv_entry_margin"], rel=1e-9)
    assert row["lifetime"] == pytest.approx(1 / (1 - r), rel=1e-9)
    assert row["margins_paid"] == pytest.approx(r / (1 - r), rel=1e-9)
    # the figures printed in the file's comment table
    assert round(row["clv_infinite"], 2) == clv
    assert round(row["clv_entry_margin"], 2) == clv0
    assert round(row["lifetime"], 2) == life
    assert worked["closed_form"][("all", stage)]["clv"] == pytest.approx(cf["clv"], rel=1e-9)


def test_worked_examples_five_points_of_retention_add_27_5_percent_closed_form(worked):
    t = worked["clv"].set_index("stage")["clv_infinite"]
    assert t["retention_85"] / t["retention_80"] - 1 == pytest.approx(0.275, abs=1e-12)
    assert t["renewal_92"] / t["renewal_78"] == pytest.approx((0.92 / 0.18) / (0.78 / 0.32), rel=1e-12)


def test_worked_example_telecom_retention_means_58_percent_churn_in_three_years():
    assert (1 - 0.2511) ** 3 == pytest.approx(0.42, abs=1e-3)


def test_worked_examples_at_zero_discount_clv_is_margins_paid_times_m_not_lifetime_times_m():
    info = api.explain(WORKED, "no_discounting")
    row = info["clv"].set_index("stage").loc["retention_80"]
    assert row["clv_infinite"] == pytest.approx(4 * 25, rel=1e-9)        # m r / (1 - r)
    assert row["clv_entry_margin"] == pytest.approx(5 * 25, rel=1e-9)    # lifetime x m


@pytest.mark.parametrize("name,r,arrivals", [("textbook_same_count_loyal", 0.95, 500),
                                            ("textbook_same_count_churning", 0.80, 2000)])
def test_same_count_pair_keeps_10000_customers_every_period_steady_state_a_over_1_minus_r(name, r, arrivals):
    path = SCENARIOS / f"{name}.yaml"
    assert arrivals / (1 - r) == pytest.approx(10_000)
    res = api.simulate(path, strategies="baseline")
    occ = res.series("baseline", "stage:customer")
    assert np.allclose(occ.to_numpy(), 10_000, rtol=1e-12)
    row = res.runs.iloc[0]
    assert row["acquired"] == pytest.approx(arrivals * 60, rel=1e-12)


def test_same_count_pair_differs_in_clv_closed_form_and_acquisition_spend():
    d = 1.10 ** (1 / 12) - 1
    loyal = api.explain(SCENARIOS / "textbook_same_count_loyal.yaml")
    churning = api.explain(SCENARIOS / "textbook_same_count_churning.yaml")
    c_loyal = loyal["clv"].set_index("stage").loc["customer", "clv_infinite"]
    c_churn = churning["clv"].set_index("stage").loc["customer", "clv_infinite"]
    assert c_loyal == pytest.approx(25 * 0.95 / (1 + d - 0.95), rel=1e-9) and round(c_loyal, 2) == 409.67
    assert c_churn == pytest.approx(25 * 0.80 / (1 + d - 0.80), rel=1e-9) and round(c_churn, 2) == 96.17
    assert churning["npv"] < loyal["npv"]


def test_six_and_five_stage_schemes_name_their_stages_in_order():
    six = compile_model(load_scenario(SCENARIOS / "textbook_six_stage.yaml"))
    assert six.stage_names == ("potential", "development", "growth", "maturity", "decline", "termination")
    assert six.stage_kind.tolist() == [0, 1, 1, 1, 1, 3]
    five = compile_model(load_scenario(SCENARIOS / "textbook_five_stage.yaml"))
    assert five.stage_names == ("acquisition", "development", "maturity", "decline", "exit")
    assert five.stage_kind.tolist() == [1, 1, 1, 1, 2]      # exit (离网) is churned: win-back possible
    assert five.winbacks and five.channels[0].expected_customers(300000.0) == pytest.approx(1000)


def test_docs_list_every_teaching_scenario():
    root = SCENARIOS.parent
    for doc in ("docs/classroom.md", "docs/index.md"):
        text = (root / doc).read_text(encoding="utf-8")
        for name in TEACHING:
            assert f"{name}.yaml" in text, (doc, name)
