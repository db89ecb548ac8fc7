"""Metrics against hand computations and closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clmsim import metrics
from clmsim.api import simulate
from clmsim.results import RUN_COLUMNS, Results

REF = Path(__file__).resolve().parents[1] / "scenarios" / "reference"
ADS = ("acquisition={'channels': {'ads': {'spend_per_period': 500, "
       "'response': {'type': 'linear', 'cost_per_customer': 10}, 'entry_stage': 'customer'}}}")


def value(summary: pd.DataFrame, strategy: str, metric: str, col: str = "mean") -> float:
    sel = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric)]
    assert len(sel) == 1, (strategy, metric)
    return float(sel[col].iloc[0])


def test_roi_degenerate_cases_are_defined():
    assert metrics.roi(10.0, 5.0) == 2.0
    assert metrics.roi(0.0, 0.0) == 0.0
    assert metrics.roi(3.0, 0.0) == np.inf
    assert metrics.roi(-3.0, 0.0) == -np.inf
    assert metrics.roi(4.0, -2.0) == -2.0  # spend cut, NPV gained


def test_churn_rate_and_lifetime_match_geometric_chain():
    res = simulate(REF / "geometric.yaml")
    assert abs(metrics.churn_rate(res, "baseline") - 0.2) < 1e-12
    assert abs(metrics.average_lifetime(res, "baseline") - 5.0) < 1e-10


def test_cac_ltv_and_payback_match_geometric_closed_form():
    res = simulate(REF / "geometric.yaml", overrides=[ADS])
    s = metrics.summarize(res)
    m, r, d, cac = 25.0, 0.8, 0.1, 10.0
    assert abs(value(s, "baseline", "cac") - cac) < 1e-12
    assert abs(value(s, "baseline", "cac:ads") - cac) < 1e-12
    clv = value(s, "baseline", "clv_new_customer")
    assert abs(value(s, "baseline", "ltv_cac") - clv / cac) < 1e-12
    assert abs(value(s, "baseline", "clv_net_of_cac") - (clv - cac)) < 1e-12
    # payback: first T with sum_{u<=T} m r^u (1+d)^-u >= CAC  (m r / 1.1 = 18.2 >= 10: T = 1)
    assert value(s, "baseline", "payback_periods") == 1.0
    cum = np.cumsum([m * (r / (1 + d)) ** u for u in range(1, 31)])
    big = float(cum[4]) - 1e-6  # CAC just below the 5-period cumulative value
    assert metrics.payback_periods(res, "baseline", big) == 5.0
    assert metrics.payback_periods(res, "baseline", 1e9) == np.inf


def test_winback_rate_is_successes_per_contact():
    res = simulate(REF / "winback.yaml")
    row = res.runs.iloc[0]
    assert abs(metrics.winback_rate(res.runs)[0] - row["won_back"] / row["contacts"]) < 1e-15


def test_cohort_survival_reads_the_survival_item():
    res = simulate(REF / "geometric.yaml")
    s = metrics.cohort_survival(res, "baseline", "customer")
    assert np.allclose(s.to_numpy(), 0.8 ** np.arange(31), rtol=1e-12, atol=0)


def test_spend_by_lever_lists_channels():
    res = simulate(REF / "segments.yaml")
    spend = metrics.spend_by_lever(res.runs)
    assert {"acquisition_spend:ads", "acquisition_spend:partners", "retention_spend"} <= set(spend.columns)


def test_analytic_summary_has_no_interval():
    s = metrics.summarize(simulate(REF / "segments.yaml"))
    assert s["sd"].isna().all() and s["ci_lo"].isna().all() and s["n"].isna().all()
    assert set(metrics.SUMMARY_METRICS) <= set(s["metric"])
    npv = simulate(REF / "segments.yaml").runs.set_index("strategy")["npv"]
    spend = simulate(REF / "segments.yaml").runs.set_index("strategy")
    tot = spend["acquisition_spend"] + spend["retention_spend"] + spend["winback_spend"]
    expect = (npv["more_ads"] - npv["baseline"]) / (tot["more_ads"] - tot["baseline"])
    assert abs(value(s, "more_ads", "roi_vs_baseline") - expect) < 1e-12 * abs(expect)
    assert np.isnan(value(s, "baseline", "roi_vs_baseline"))


def _mc_results(n: int = 50, seed: int = 3) -> Results:
    """Synthetic Monte Carlo runs: baseline and a strategy with paired (correlated) runs."""
    rng = np.random.default_rng(seed)
    common = rng.normal(0, 100, n)
    rows = []
    for strategy, shift, spend in (("baseline", 0.0, 1000.0), ("promo", 50.0, 1100.0)):
        for r in range(n):
            row = {c: 1.0 for c in RUN_COLUMNS}
            row.update(strategy=strategy, run=r, npv=1e4 + shift + common[r] + rng.normal(0, 5),
                       acquisition_spend=spend + rng.normal(0, 10), retention_spend=0.0, winback_spend=0.0,
                       acquired=100.0 + r % 3)
            rows.append(row)
    runs = pd.DataFrame(rows)
    periods = pd.DataFrame({"strategy": ["baseline", "promo"], "period": [1, 1], "item": ["churned"] * 2,
                            "mean": [1.0, 1.0]})
    clv = pd.DataFrame({"strategy": ["baseline", "promo"], "stage": ["a", "a"], "kind": ["active"] * 2})
    return Results({"engine": "test", "seed": 1, "runs": n}, runs, periods, clv)


def test_monte_carlo_summary_uses_t_interval():
    res = _mc_results()
    s = metrics.summarize(res)
    x = res.runs.loc[res.runs["strategy"] == "promo", "npv"].to_numpy()
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    assert abs(value(s, "promo", "npv") - x.mean()) < 1e-9
    assert abs(value(s, "promo", "npv", "sd") - x.std(ddof=1)) < 1e-9
    assert value(s, "promo", "npv", "n") == len(x)
    assert abs(value(s, "promo", "npv", "ci_hi") - (x.mean() + half)) < 1e-9


def test_roi_uses_paired_ratio_estimator_with_delta_method():
    res = _mc_results()
    s = metrics.summarize(res)
    r = res.runs
    b = r[r["strategy"] == "baseline"].set_index("run")
    p = r[r["strategy"] == "promo"].set_index("run")
    dn = (p["npv"] - b["npv"]).to_numpy()
    ds = (p["acquisition_spend"] - b["acquisition_spend"]).to_numpy()
    ratio = dn.mean() / ds.mean()
    se = (dn - ratio * ds).std(ddof=1) / abs(ds.mean()) / np.sqrt(len(dn))
    assert abs(value(s, "promo", "roi_vs_baseline") - ratio) < 1e-12
    lo = value(s, "promo", "roi_vs_baseline", "ci_lo")
    assert abs(lo - (ratio - stats.t.ppf(0.975, len(dn) - 1) * se)) < 1e-12
    # pairing matters: common noise cancels, so the paired interval is narrow
    assert value(s, "promo", "roi_vs_baseline", "ci_hi") - lo < 0.2


def test_roi_without_baseline_is_undefined():
    res = simulate(REF / "segments.yaml", strategies=["more_ads"])
    s = metrics.summarize(res)
    assert np.isnan(value(s, "more_ads", "roi_vs_baseline"))


@pytest.mark.parametrize("metric", ["npv", "revenue", "contribution", "total_spend"])
def test_row_metrics_match_run_columns(metric):
    res = simulate(REF / "winback.yaml")
    got = getattr(metrics, metric)(res.runs)[0]
    row = res.runs.iloc[0]
    expect = (row["acquisition_spend"] + row["retention_spend"] + row["winback_spend"]
              if metric == "total_spend" else row[metric])
    assert got == expect
