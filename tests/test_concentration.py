"""Value concentration and cohort tables against closed forms (docs/metrics.md, "Value concentration")."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clmsim import metrics
from clmsim.analysis.compare import simulate_in_batches
from clmsim.api import compile_strategies, simulate
from clmsim.concentration import Histogram, gini, negative_share, top_share
from clmsim.engines.analytic.cohorts import cohort_table
from clmsim.errors import ClmsimError
from clmsim.model import compile_model
from clmsim.scenario import load_scenario, scenario_from_text
from clmsim.stats import ratio_ci, t_quantile

REF = Path(__file__).resolve().parents[1] / "scenarios" / "reference"

# Two types of customer, each with one constant CLV: nobody leaves, revenue is not random, so
# every initial customer of a segment is worth (revenue x margin - cost_to_serve) x a_H.
# The unused stage 'spare' only widens the histogram so the top type lies inside its range.
TWO_TYPES = """
schema_version: 1
name: two-types
time: {period: month, horizon: 12, discount_rate: 0.01}
stages:
  member: {kind: active, revenue: 30, margin: 1.0, cost_to_serve: 20}
  spare:  {kind: active, revenue: 400, margin: 1.0}
  gone:   {kind: lost}
transitions:
  member: {gone: 0.0}
segments:
  big: {share: 0.1, stages: {member: {revenue: 300}}}
  small: {share: 0.9}
initial_population: {member: 1000}
strategies:
  baseline: {}
  costly: {stages.member.cost_to_serve: 40}
"""


def _two_point(x_a: float, x_b: float, p_a: float = 0.1) -> dict:
    """Closed forms of a population with a share p_a worth x_a > x_b and the rest worth x_b."""
    p_b = 1 - p_a
    mean = p_a * x_a + p_b * x_b
    return {"top_20pct_share": (p_a * x_a + (0.2 - p_a) * x_b) / mean,
            "gini": p_a * p_b * (x_a - x_b) / mean,            # mean |X - X'| / (2 mean)
            "share_negative": (p_a * (x_a < 0) + p_b * (x_b < 0)),
            "mean_clv": mean}


@pytest.fixture(scope="module")
def two_types():
    sc = scenario_from_text(TWO_TYPES)
    res, _ = simulate_in_batches(compile_strategies(sc, ["baseline", "costly"]), "fast", 4, 1, batches=2,
                                 mode="individual")
    return sc, res


def test_two_type_top20_share_gini_negative_match_closed_form_within_one_bin(two_types):
    sc, res = two_types
    v = compile_model(sc, "baseline").discount_factors()
    a_h = float(v[1:].sum())
    vc = metrics.value_concentration(res, cohort="initial")
    width = float(np.diff(res.clv_hist[["lo", "hi"]].iloc[1]).item())
    for strategy, cost in (("baseline", 20), ("costly", 40)):
        exact = _two_point((300 - cost) * a_h, (30 - cost) * a_h)
        for name, want in exact.items():
            row = vc.metric(name, strategy)
            assert row["bin_lo"] - 1e-12 <= want <= row["bin_hi"] + 1e-12, (strategy, name, row, want)
            assert abs(row["estimate"] - want) <= row["bin_error"] + 1e-12
        # "within one bin": the bound is what moving every customer by at most one bin width gives,
        # (p + |S(p)|) w / |mean CLV| to first order
        row = vc.metric("top_20pct_share", strategy)
        assert 0 < row["bin_error"] <= (0.2 + abs(row["estimate"])) * width / abs(exact["mean_clv"]) * 1.05
        assert row["batches"] == 2 and row["customers"] == 4000
    # negative CLVs: the top 20% hold more than the whole (net) total
    assert vc.metric("top_20pct_share", "costly")["estimate"] > 1
    tiers = vc.tiers[vc.tiers["strategy"] == "baseline"].set_index("tier")
    assert tiers["customer_share"].sum() == pytest.approx(1.0)
    assert tiers["clv_share"].sum() == pytest.approx(1.0)
    assert tiers.loc["top 1%", "customers_per_run"] == pytest.approx(10.0)
    lor = vc.lorenz[vc.lorenz["strategy"] == "baseline"]
    assert lor["clv_share"].iloc[0] == pytest.approx(0.0) and lor["clv_share"].iloc[-1] == pytest.approx(1.0)
    assert np.all(np.diff(lor["clv_share"]) >= -1e-12)   # all CLVs positive: the curve never falls


def _truncated_geometric_top_share(m: float, r: float, d: float, H: int, p: float) -> float:
    """Top-p share of CLV = m a_K, K = periods a customer stays (P(K=k) = r^k (1-r), k < H; r^H at H)."""
    k = np.arange(H + 1)
    prob = np.where(k < H, r ** k * (1 - r), r ** H)
    value = m * np.concatenate([[0.0], np.cumsum((1 + d) ** -np.arange(1, H + 1))])
    order = np.argsort(-value)
    cum = np.cumsum(prob[order])
    take = np.clip(p - np.concatenate([[0.0], cum[:-1]]), 0.0, prob[order])
    return float((take * value[order]).sum() / (prob * value).sum())


def test_geometric_top_shares_match_truncated_geometric_closed_form_within_interval():
    sc = load_scenario(REF / "geometric.yaml", ["time.horizon=10"])
    res, _ = simulate_in_batches(compile_strategies(sc, ["baseline"]), "fast", 100, 3, batches=10,
                                 mode="individual")
    vc = metrics.value_concentration(res, cohort="initial")
    for k in (5, 20, 50):
        row = vc.metric(f"top_{k}pct_share")
        want = _truncated_geometric_top_share(25.0, 0.8, 0.10, 10, k / 100)
        se = (row["ci_hi"] - row["ci_lo"]) / 2 / t_quantile(10)   # batch-means t interval over 10 batches
        assert se > 0
        # sampling error (4.5 standard errors) plus the binning bound
        assert abs(row["estimate"] - want) <= 4.5 * se + row["bin_error"], (k, row, want)


def test_histogram_statistics_of_uniform_bins_match_continuous_uniform_closed_form():
    # 10 equal bins of 10 customers on [0, 10): exactly a continuous uniform on [0, 10)
    h = Histogram(np.arange(11.0), np.full(10, 10.0), 0.0)
    assert top_share(h, 0.2)[0] == pytest.approx(1 - 0.8 ** 2)   # uniform: S(p) = 1 - (1-p)^2
    assert gini(h)[0] == pytest.approx(1 / 3)                    # uniform on [0, b]: G = 1/3
    shifted = Histogram(np.arange(11.0) - 2.5, np.full(10, 10.0), 0.0)
    assert negative_share(shifted)[0] == pytest.approx(0.25)
    assert negative_share(shifted)[1:] == pytest.approx((0.2, 0.3))  # none or all of the bin holding 0


def test_value_concentration_refuses_results_without_per_customer_values():
    res = simulate(REF / "geometric.yaml")
    with pytest.raises(ClmsimError, match="analytic engine gives expected values only"):
        metrics.value_concentration(res)


def test_analytic_cohort_survival_matches_geometric_closed_form():
    sc = load_scenario(REF / "geometric.yaml", ["initial_population={}", "acquisition={'channels': {'ads': "
                                                "{'spend_per_period': 500, 'response': {'type': 'linear', "
                                                "'cost_per_customer': 10}, 'entry_stage': 'customer'}}}"])
    table = cohort_table(compile_model(sc, "baseline"))
    assert sorted(set(table["cohort"])) == list(range(1, 31))
    assert np.allclose(table["customers"], 50.0)
    assert np.allclose(table["survival"], 0.8 ** table["age"])
    later = table["age"] >= 1
    assert np.allclose(table.loc[later, "revenue"], 100 * 0.8 ** table.loc[later, "age"])


COHORT = """
schema_version: 1
name: one-cohort
time: {period: month, horizon: 12, discount_rate: 0.01}
stages:
  trial: {kind: active, revenue: 10, margin: 0.5}
  paid:  {kind: active, revenue: 30, margin: 0.5}
  gone:  {kind: lost}
transitions:
  trial: {paid: 0.3, gone: 0.3}
  paid: {gone: 0.1}
heterogeneity:
  churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.8}
acquisition:
  channels:
    ads:
      spend_per_period: {values: [10000], then: zero}
      response: {type: linear, cost_per_customer: 10}
      entry_stage: trial
retention:
  programs:
    care:
      target: [paid]
      spend_per_customer: {values: [0, 0, 0, 0, 5], then: hold}
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 5}
"""


def test_analytic_cohort_survival_matches_fast_within_interval():
    # one cohort (acquired in period 1, Poisson size), heterogeneity and a programme that starts in
    # period 5: with horizon h the active customers at the end are cohort 1 at age h - 1, per run
    table = cohort_table(compile_model(scenario_from_text(COHORT), "baseline"))
    assert set(table["cohort"]) == {1}
    exact = table.set_index("age")["survival"]
    for h in (3, 6, 12):
        sc = scenario_from_text(COHORT, overrides=[f"time.horizon={h}"])
        res = simulate(sc, engine="fast", runs=300, seed=7, mode="counts")
        est, _, lo, hi, _ = ratio_ci(res.runs["active_end"], res.runs["acquired"])
        se = (hi - lo) / (2 * 1.96)
        assert abs(est - exact[h - 1]) <= 4.5 * se, (h, est, exact[h - 1], se)


def test_plots_draw_lorenz_pyramid_and_cohort_heatmap_from_the_tables(two_types):
    import matplotlib
    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    from clmsim import plots

    sc, res = two_types
    vc = metrics.value_concentration(res, cohort="initial")
    ax = plots.lorenz_curve(vc.lorenz, "baseline", ax=Figure().add_subplot(), gini={"baseline": 0.5})
    assert ax.get_xlabel() == "share of customers, least valuable first"
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["everyone worth the same", "baseline (Gini 0.50)"]
    ax = plots.clv_pyramid(vc.tiers, "baseline", ax=Figure().add_subplot())
    tiers = vc.tiers[vc.tiers["strategy"] == "baseline"]
    widths = [p.get_width() for p in ax.patches]
    assert widths[:5] == pytest.approx(list(-tiers["customer_share"]))
    assert widths[5:10] == pytest.approx(list(tiers["clv_share"]))
    assert [t.get_text() for t in ax.get_yticklabels()] == list(tiers["tier"])  # top tier drawn highest
    table = cohort_table(compile_model(scenario_from_text(COHORT), "baseline"))
    ax = plots.cohort_heatmap(table, "survival", ax=Figure().add_subplot(), unit="month")
    img = ax.images[0].get_array()
    assert img.shape == (1, 12)  # cohort 1 of a 12-period horizon: ages 0..11 and img[0, 0] == pytest.approx(1.0)


def test_report_has_lorenz_pyramid_and_cohort_figures_with_how_to_read(two_types):
    from clmsim.report.build import report_from_results

    sc, res = two_types
    rep = report_from_results(res, sc)
    keys = {f.key: f for f in rep.figures}
    assert {"lorenz", "pyramid"} <= set(keys)
    assert "top 20% hold" in keys["lorenz"].how_to_read and "tiers by value" in keys["pyramid"].how_to_read
    assert any("cohort heatmaps: the scenario acquires no customers" in m for m in rep.missing)
    exact = simulate(scenario_from_text(COHORT))
    rep = report_from_results(exact, scenario_from_text(COHORT))
    assert "cohorts" in {f.key for f in rep.figures}
    assert any(m.startswith("value concentration (Lorenz curve, CLV pyramid)") for m in rep.missing)


def test_cli_run_concentration_prints_shares_and_pyramid_and_json_block(capsys, tmp_path):
    import json

    from clmsim.cli import main

    path = tmp_path / "two.yaml"
    path.write_text(TWO_TYPES)
    args = ["run", str(path), "--engine", "fast", "--mode", "individual", "--runs", "20", "--seed", "3",
            "--concentration"]
    assert main(args) == 0
    out = capsys.readouterr().out
    assert "value concentration of the initial customers' CLV" in out   # nobody is acquired here
    assert "CLV pyramid (baseline)" in out and "top 20%" in out
    assert main(args + ["--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["concentration"]["cohort"] == "initial"
    assert main(["run", str(path), "--concentration"]) == 2
    assert "add --engine fast --mode individual" in capsys.readouterr().err


def test_docs_list_every_concentration_metric_and_the_default_tiers():
    from clmsim.concentration import TIERS, TOP_PERCENTS

    doc = (Path(__file__).resolve().parents[1] / "docs" / "metrics.md").read_text(encoding="utf-8")
    section = doc.split("## Value concentration", 1)[1]
    table = section.split("| metric |", 1)[1].split("\n\n", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    names = {n for cell in first_cells for n in re.findall(r"`([a-z_0-9]+)`", cell)}
    h = Histogram(np.arange(3.0), np.ones(2), 0.0)
    from clmsim.concentration import _stats

    assert names == {k for k in _stats(h, TOP_PERCENTS, ()) if not k.startswith("tier:")}
    assert "top 1%,\nnext 4%, next 15%, next 30%, bottom 50%" in section
    assert [t[0] for t in TIERS] == ["top 1%", "next 4%", "next 15%", "next 30%", "bottom 50%"]
