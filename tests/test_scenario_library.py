"""The bundled scenario library: every file validates, compiles and says what its comments say."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim.model import compile_model
from clmsim.scenario import load_scenario

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
LIBRARY = ["telecom", "property", "ecommerce", "subscription", "textbook", "textbook_zh"]


def load(name: str):
    return load_scenario(SCENARIOS / f"{name}.yaml")


def first_move_matrix(model, segment: int = 0) -> np.ndarray:
    """Effective matrix of period 1 with every program at its period-1 spend."""
    spend = np.array([p.spend[0] for p in model.programs])
    churn, upgrade = model.program_factors(spend)
    return model.transition_matrix(segment, churn, upgrade)


@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenario_validates_and_every_strategy_compiles(name):
    sc = load(name)
    assert sc.strategy_names[0] == "baseline"
    assert len(sc.strategy_names) >= 4, "each library scenario offers a few strategies"
    for strategy in sc.strategy_names:
        m = compile_model(sc, strategy)
        assert m.strategy == strategy
        assert np.all(m.P >= 0) and np.allclose(m.P.sum(axis=2), 1.0)
        for g in range(m.n_segments):
            P = first_move_matrix(m, g)
            assert np.all(P >= -1e-12) and np.allclose(P.sum(axis=1), 1.0)


@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenario_strategies_change_the_model(name):
    # a strategy that compiles to the baseline model would be a no-op in every comparison
    sc = load(name)
    base = sc.resolved["baseline"]
    for strategy in sc.strategy_names[1:]:
        assert {k: v for k, v in sc.resolved[strategy].items() if k != "strategies"} != \
            {k: v for k, v in base.items() if k != "strategies"}, strategy


def test_property_stages_follow_the_report_vocabulary():
    m = compile_model(load("property"))
    assert m.stage_names[:4] == ("potential", "new", "loyal", "lost")
    kinds = dict(zip(m.stage_names, m.stage_kind.tolist()))
    assert [kinds[s] for s in ("potential", "new", "loyal", "lost", "gone")] == [0, 1, 1, 2, 3]


def test_ecommerce_activation_lifts_first_month_retention_to_85_percent_closed_form():
    # closed form from the comment: 1 - c (1 - r), c = 0.40, r = 0.75 * s / (s + h)
    c, rmax, h = 0.40, 0.75, 2.0
    sc = load("ecommerce")
    for strategy, s in [("baseline", 10.0), ("activation_lite", 4.0), ("no_activation", 0.0)]:
        m = compile_model(sc, strategy)
        first = m.stage_index["first_month"]
        churn = m.churn_mask[first]
        expected = 1.0 - c * (1.0 - rmax * s / (s + h))
        for g in range(m.n_segments):   # the first-month row is shared by every segment
            P = first_move_matrix(m, g)
            assert abs((1.0 - P[first, churn].sum()) - expected) < 1e-12
            assert abs(P[first, first]) < 1e-12, "nobody stays in first_month"
    assert abs(1.0 - c * (1.0 - rmax * 10 / 12) - 0.85) < 1e-12


def test_ecommerce_segments_are_high_value_potential_at_risk():
    m = compile_model(load("ecommerce"))
    assert m.segment_names == ("high_value", "potential", "at_risk")
    assert abs(m.segment_share.sum() - 1.0) < 1e-12
    regular = m.stage_index["regular"]
    dormant = m.stage_index["dormant"]
    churn = m.P[:, regular, dormant]
    assert churn[0] < churn[1] < churn[2]   # high value churns least, at risk most
    assert m.initial.sum(axis=1).tolist() == [5000, 20000, 16000]


def _mean_renewal(model, stage: str) -> float:
    """First-period renewal of a new customer in ``stage``, averaged over the Beta draw.

    theta enters the row linearly (no clipping here), so the mean over theta is the row at
    the Beta mean alpha / (alpha + beta).
    """
    spend = np.array([p.spend[0] for p in model.programs])
    churn, upgrade = model.program_factors(spend)
    het = model.heterogeneity[0]
    theta = het.alpha / (het.alpha + het.beta) if het.kind == "beta" else None
    P = model.transition_matrix(0, churn, upgrade, theta=theta)
    s = model.stage_index[stage]
    return 1.0 - P[s, model.churn_mask[s]].sum()


@pytest.mark.parametrize("strategy, renewal", [("baseline", 0.92), ("homogeneous", 0.92),
                                                ("industry_average", 0.78), ("no_customer_success", 1 - 0.094118)])
def test_subscription_renewal_matches_the_stated_rates_beta_mean(strategy, renewal):
    m = compile_model(load("subscription"), strategy)
    assert m.period == "year"
    for stage in ("subscriber", "enterprise"):
        assert abs(_mean_renewal(m, stage) - renewal) < 1e-6, stage


def test_subscription_heterogeneity_is_beta_and_homogeneous_strategy_drops_it():
    sc = load("subscription")
    assert compile_model(sc).heterogeneity[0].kind == "beta"
    assert compile_model(sc, "homogeneous").heterogeneity[0].kind == "none"


def test_textbook_patterns_are_segments_with_their_own_rows():
    m = compile_model(load("textbook"))
    assert m.stage_names[:4] == ("exploration", "formation", "stability", "decline")
    assert m.segment_names == ("early_abort", "midway_abort", "early_exit", "long_term")
    e, f, s, t = (m.stage_index[n] for n in ("exploration", "formation", "stability", "terminated"))
    # each pattern ends in the stage it names: its exit from that stage is the largest
    assert np.argmax(m.P[:, e, t]) == 0
    assert np.argmax(m.P[:, f, t]) == 1
    assert np.argmax(m.P[:, s, t]) == 2
    assert np.argmin(m.P[:, s, t]) == 3


def test_textbook_zh_is_the_textbook_model_with_chinese_names():
    en, zh = compile_model(load("textbook")), compile_model(load("textbook_zh"))
    assert zh.stage_names == ("考察期", "形成期", "稳定期", "退化期", "终止期")
    assert zh.segment_names == ("早期流产型", "中途夭折型", "提前退出型", "长久保持型")
    for attr in ("P", "stage_kind", "segment_share", "revenue_mean", "revenue_cv", "margin", "cost_to_serve",
                 "initial", "churn_mask"):
        np.testing.assert_array_equal(getattr(zh, attr), getattr(en, attr), err_msg=attr)
    for a, b in zip(zh.programs, en.programs):
        np.testing.assert_array_equal(a.target, b.target)
        np.testing.assert_array_equal(a.upgrade, b.upgrade)
        np.testing.assert_array_equal(a.spend, b.spend)
    sc_en, sc_zh = load("textbook"), load("textbook_zh")
    for s_en, s_zh in zip(sc_en.strategy_names, sc_zh.strategy_names):
        np.testing.assert_array_equal(compile_model(sc_zh, s_zh).program_spend(),
                                      compile_model(sc_en, s_en).program_spend())


def test_chinese_strategy_override_paths_resolve():
    sc = load("textbook_zh")
    assert sc.spec_for("发展投入加倍").retention.programs["关系发展计划"].spend_per_customer == 40
    assert sc.spec_for("获客转保留").acquisition.channels["广告"].spend_per_period == 30000


def test_chinese_names_give_the_same_analytic_results_as_english():
    # oracle: renaming stages, segments, programs and strategies cannot change any number
    from clmsim.api import simulate

    en = simulate(SCENARIOS / "textbook.yaml", engine="analytic").runs
    zh = simulate(SCENARIOS / "textbook_zh.yaml", engine="analytic").runs
    assert len(en) == len(zh) == 5
    np.testing.assert_allclose(zh["npv"].to_numpy(), en["npv"].to_numpy(), rtol=1e-12)
    assert list(zh["strategy"])[1:] == list(load("textbook_zh").strategy_names)[1:]


@pytest.mark.parametrize("name", LIBRARY)
def test_library_scenario_runs_on_the_analytic_engine(name):
    # every library scenario avoids Monte-Carlo-only features, so the exact engine accepts it
    from clmsim.api import simulate

    runs = simulate(SCENARIOS / f"{name}.yaml", engine="analytic", nodes=4).runs   # few nodes: fast
    assert list(runs["strategy"]) == list(load(name).strategy_names)
    assert np.all(np.isfinite(runs["npv"].to_numpy()))
