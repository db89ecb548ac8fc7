"""Parameter uncertainty carried into decisions (compare with parameter_samples=K).

Oracles: the true model. Data are simulated from a known chain, fitted (Dirichlet
posterior of the row, written by the fit as a parameter_uncertainty block) and compared
with K parameter draws; the 95% interval of the NPV difference must cover the true
difference (the analytic engine at the true parameters) in 95% +- 3% of 200 replications.
Without the option, results are the bits of a scenario without the block.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clmsim.analysis import compare
from clmsim.analysis.parameters import draw_seed, parameter_draws
from clmsim.calibrate import fit_transitions, prepare_panel
from clmsim.scenario import ScenarioError, dump_yaml, scenario_from_text
from clmsim.stats import nested_ci

BASE = {
    "schema_version": 1, "name": "coverage",
    "time": {"period": "month", "horizon": 12, "discount_rate": 0.1},
    "stages": {"active": {"kind": "active", "revenue": 10.0, "margin": 1.0}, "lost": {"kind": "lost"}},
    "transitions": {"active": {"lost": 0.2}},
    "initial_population": {"active": 1000},
    "retention": {"programs": {"care": {"target": ["active"], "spend_per_customer": 0.0,
                                        "effect": {"churn_reduction_max": 0.5, "half_saturation_spend": 2.0}}}},
    "strategies": {"baseline": {}, "care": {"retention.programs.care.spend_per_customer": 1.0}},
}
TRUE_P = 0.2


def scenario(p: float, blocks=None):
    data = {**BASE, "transitions": {"active": {"lost": round(p, 9)}}}
    if blocks is not None:
        data["parameter_uncertainty"] = blocks
    return scenario_from_text(dump_yaml(data), "coverage")


def simulated_panel(rng: np.random.Generator, customers: int = 200, periods: int = 5) -> pd.DataFrame:
    rows = []
    for c in range(customers):
        for t in range(periods):
            rows.append((f"c{c}", str(t), "active"))
            if t == periods - 1:
                break  # observed until the last period: no move drawn after it
            if rng.random() < TRUE_P:
                rows.append((f"c{c}", str(t + 1), "lost"))
                break
    df = pd.DataFrame(rows, columns=["customer_id", "period", "stage"])
    df["line"] = np.arange(2, len(df) + 2)
    return prepare_panel(df)


def test_nested_ci_splits_variance_into_parameter_and_process_parts_by_the_anova_identity():
    rng = np.random.default_rng(np.random.SeedSequence(5))
    K, R = 400, 50
    theta = rng.normal(10.0, 2.0, size=K)                 # parameter spread sd 2
    y = theta[:, None] + rng.normal(0.0, 5.0, size=(K, R))  # process sd 5
    r = nested_ci(y)
    t = r["parameter_half_width"] / np.sqrt(1 + 1 / K)
    # sigma_p estimated within its standard error (about 2 * sd / sqrt(2K) relative for a variance)
    assert t / 1.966 == pytest.approx(2.0, rel=4.5 * (1 / np.sqrt(2 * K)))
    assert r["process_half_width"] == pytest.approx(1.966 * 5.0 / np.sqrt(K * R), rel=0.05)
    assert r["half_width"] ** 2 == pytest.approx(r["parameter_half_width"] ** 2 + r["process_half_width"] ** 2)
    exact = nested_ci(theta[:, None])  # an exact engine: no process part
    assert exact["process_half_width"] == 0.0 and exact["parameter_share"] == 1.0


def test_fit_writes_a_dirichlet_block_that_validates_and_draws_rows_summing_to_one():
    panel = simulated_panel(np.random.default_rng(1))
    fit = fit_transitions(panel, stages=("active", "lost"), kinds={"active": "active", "lost": "lost"})
    blocks = fit.uncertainty_blocks(0.5)
    n = fit.counts
    assert blocks == [{"dist": "dirichlet", "row": "active",
                       "alpha": {"active": n[0, 0] + 0.5, "lost": n[0, 1] + 0.5}}]
    sc = scenario(float(fit.P[0, 1]), blocks)
    d = parameter_draws(sc, 2000, seed=3)
    p = d["transitions.active.lost"].to_numpy()
    a, b = n[0, 1] + 0.5, n[0, 0] + 0.5  # Beta marginal of the Dirichlet
    assert p.mean() == pytest.approx(a / (a + b), abs=4.5 * np.sqrt(a * b / ((a + b) ** 2 * (a + b + 1)) / 2000))
    again = parameter_draws(sc, 2000, seed=3)
    pd.testing.assert_frame_equal(d, again)  # same seed, same bits


def test_bad_blocks_are_reported_at_their_lines():
    text = dump_yaml({**BASE, "parameter_uncertainty": [
        {"dist": "dirichlet", "row": "activ", "alpha": {"active": 3, "lost": 1}},
        {"dist": "normal", "path": "stages.active.revenue.mean", "mean": 10, "sd": 1},
        {"dist": "beta", "path": "transitions.active.lost", "a": 1, "b": 3},
        {"dist": "normal", "path": "transitions.active.lost", "mean": 0.2, "sd": 0.01}]})
    with pytest.raises(ScenarioError) as err:
        scenario_from_text(text, "bad.yaml")
    msg = str(err.value)
    line = next(i for i, t in enumerate(text.splitlines(), start=1) if "activ," in t or "activ}" in t
                or t.rstrip().endswith("row: activ"))
    assert f"bad.yaml:{line}:" in msg and "parameter_uncertainty.0.row: unknown stage 'activ'" in msg
    assert "did you mean 'active'" in msg
    assert "'stages.active.revenue.mean' is not a field of the scenario" in msg  # revenue written as a number
    assert "also set by block 2" in msg
    for bad, want in (({"dist": "mvnormal", "paths": ["transitions.active.lost"], "mean": [0.2], "cov": [[-1.0]]},
                       "positive semi-definite"),
                      ({"dist": "gama", "path": "x", "shape": 1, "rate": 1}, "'gama'"),
                      ({"dist": "beta", "path": "transitions.active.lost", "a": 0, "b": 1}, "greater than 0")):
        with pytest.raises(ScenarioError) as err:
            scenario_from_text(dump_yaml({**BASE, "parameter_uncertainty": [bad]}), "bad.yaml")
        assert want in str(err.value) and str(err.value).startswith("bad.yaml:")


def test_without_the_option_results_are_the_bits_of_the_scenario_without_the_block():
    plain = compare(scenario(0.2), runs=6, seed=4, engine="fast", mode="individual")
    blocks = [{"dist": "beta", "path": "transitions.active.lost", "a": 20, "b": 80}]
    withb = compare(scenario(0.2, blocks), runs=6, seed=4, engine="fast", mode="individual")
    pd.testing.assert_frame_equal(plain.runs, withb.runs)
    pd.testing.assert_frame_equal(plain.table(), withb.table())


def test_draw_k_uses_the_same_parameters_for_every_strategy_and_its_own_seed():
    blocks = [{"dist": "beta", "path": "transitions.active.lost", "a": 20, "b": 80}]
    sc = scenario(0.2, blocks)
    c = compare(sc, runs=5, seed=9, engine="fast", mode="individual", parameter_samples=3)
    draws = parameter_draws(sc, 3, 9)
    pd.testing.assert_frame_equal(c.parameter_draws, draws)
    for k in range(3):  # draw k: the fixed scenario at draw k's value, run with draw k's seed
        fixed = compare(scenario(float(draws.loc[k, "transitions.active.lost"])), runs=5, seed=draw_seed(9, k),
                        engine="fast", mode="individual", batches=1)
        got = c.runs[c.runs["draw"] == k].drop(columns="draw").reset_index(drop=True)
        pd.testing.assert_frame_equal(got[["strategy", "run", "npv"]], fixed.runs[["strategy", "run", "npv"]])
    u = c.uncertainty()
    row = u[(u.strategy == "care") & (u.kind == "vs_baseline")].iloc[0]
    assert row["process_half_width"] > 0 and row["parameter_half_width"] > 0
    assert 0.0 <= row["p_beats_baseline"] <= 1.0


def test_interval_covers_true_npv_difference_in_95_percent_of_200_fits_of_simulated_data():
    truth = compare(scenario(TRUE_P), engine="analytic").table()
    true_diff = float(truth[(truth.strategy == "care") & (truth.metric == "npv_diff")]["mean"].iloc[0])
    rng = np.random.default_rng(np.random.SeedSequence(20260117))
    covered = 0
    reps = 200
    for i in range(reps):
        fit = fit_transitions(simulated_panel(rng), stages=("active", "lost"),
                              kinds={"active": "active", "lost": "lost"})
        sc = scenario(float(fit.P[0, 1]), fit.uncertainty_blocks(0.5))
        u = compare(sc, engine="analytic", seed=i, parameter_samples=10).uncertainty()
        r = u[(u.strategy == "care") & (u.kind == "vs_baseline")].iloc[0]
        covered += r["ci_lo"] <= true_diff <= r["ci_hi"]
    print(f"coverage of the true NPV difference: {covered}/{reps}")
    assert 0.92 <= covered / reps <= 0.98, covered / reps
