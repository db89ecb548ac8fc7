"""Metrics against hand computations and closed forms."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from clmsim import metrics
from clmsim.api import simulate
from clmsim.results import RUN_COLUMNS

REF = Path(__file__).resolve().parents[1] / "scenarios" / "reference"
ADS = ("acquisition={'channels': {'ads': {'spend_per_period': 500, "
       "'response': {'type': 'linear', 'cost_per_customer': 10}, 'entry_stage': 'customer'}}}")


def value(summary: pd.DataFrame, strategy: str, metric: str, col: str = "mean") -> float:
    sel = summary[(summary["strategy"] == strategy) & (summary["metric"] == metric)]
    assert len(sel) == 1, (strategy, metric)
    return float(sel[col].iloc[0])


def test_return_vocabulary_degenerate_cases():
    base = 1000.0
    assert metrics.spend_case(100.0, base) == "more" and metrics.spend_case(-100.0, base) == "less"
    assert metrics.spend_case(5.0, base) == "same" and metrics.spend_case(-5.0, base) == "same"  # within 0.5%
    assert metrics.spend_case(float("nan"), base) == "unknown"
    assert metrics.roi(50.0, 100.0, base) == 0.5
    assert np.isnan(metrics.roi(50.0, -100.0, base)) and np.isnan(metrics.roi(50.0, 4.0, base))
    assert metrics.npv_per_unit_saved(30.0, -100.0, base) == 0.3     # saving 100 raised NPV by 30
    assert metrics.npv_per_unit_saved(-30.0, -100.0, base) == -0.3   # ... or lost 30
    assert np.isnan(metrics.npv_per_unit_saved(30.0, 100.0, base))


def test_payback_is_first_period_from_which_cumulative_difference_stays_positive():
    assert metrics.payback([-1.0, -0.5, 0.2, 0.4]) == 3.0
    assert metrics.payback([1.0, -1.0, 2.0]) == 3.0      # turns positive again in period 3 and stays
    assert metrics.payback([1.0, 2.0]) == 1.0
    assert metrics.payback([-1.0, -2.0]) == np.inf
    assert metrics.payback([1.0, 2.0, -0.1]) == np.inf   # positive early, negative at the horizon: never
    assert metrics.payback([1.0, 0.0]) == np.inf          # must be strictly positive


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
    clv = value(s, "baseline", "clv_acquired")
    assert abs(value(s, "baseline", "ltv_cac") - clv / cac) < 1e-12
    assert abs(value(s, "baseline", "clv_net_of_cac") - (clv - cac)) < 1e-12
    # payback: first T with sum_{u<=T} m r^u (1+d)^-u >= CAC  (m r / 1.1 = 18.2 >= 10: T = 1)
    assert value(s, "baseline", "cac_payback_periods") == 1.0
    cum = np.cumsum([m * (r / (1 + d)) ** u for u in range(1, 31)])
    big = float(cum[4]) - 1e-6  # CAC just below the 5-period cumulative value
    assert metrics.cac_payback_periods(res, "baseline", big) == 5.0
    assert metrics.cac_payback_periods(res, "baseline", 1e9) == np.inf


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


def test_analytic_summary_is_exact_with_present_value_roi():
    res = simulate(REF / "segments.yaml")
    s = metrics.summarize(res)
    assert s["sd"].isna().all() and s["ci_lo"].isna().all() and s["n"].isna().all()
    level = set(s.loc[s["kind"] == "level", "metric"])
    assert set(metrics.LEVEL_METRICS) <= level
    assert set(s.loc[s["kind"] == "vs_baseline", "metric"]) == set(metrics.VS_BASELINE_METRICS)
    # oracle: present values computed here from the per-period spend, v^t = (1 + d)^-t
    p, d = res.periods, res.provenance["discount_rate"]
    pv = {}
    for strategy in ("baseline", "more_ads"):
        q = p[(p["strategy"] == strategy) & (p["period"] >= 1)].pivot(index="period", columns="item", values="mean")
        spend = q["acquisition_spend"] + q["retention_spend"] + q["winback_spend"]
        pv[strategy] = float((spend * (1 + d) ** -spend.index.to_numpy(float)).sum())
    npv = res.runs.set_index("strategy")["npv"]
    assert value(s, "baseline", "pv_spend") == pytest.approx(pv["baseline"], rel=1e-12)
    expect = (npv["more_ads"] - npv["baseline"]) / (pv["more_ads"] - pv["baseline"])
    assert value(s, "more_ads", "spend_diff") == pytest.approx(pv["more_ads"] - pv["baseline"], rel=1e-12)
    assert value(s, "more_ads", "roi") == pytest.approx(expect, rel=1e-12)
    assert np.isnan(value(s, "more_ads", "npv_per_unit_saved"))
    assert np.isnan(value(s, "more_ads", "win_share"))  # exact expectations: no runs to win


def _paths(sizes, net, spend, strategy):
    """A paths table: per batch b a constant per-period net cash ``net[b]`` and spend ``spend[b]`` (H = 3)."""
    rows = []
    for b, n in enumerate(sizes):
        for t in (1, 2, 3):
            rows.append({"strategy": strategy, "batch": b, "runs": n, "period": t, "net": net[b][t - 1],
                         "spend": spend[b]})
    return pd.DataFrame(rows)


def _runs(n_total: int, npv: dict) -> pd.DataFrame:
    rows = []
    for strategy, values in npv.items():
        for r in range(n_total):
            row = {c: 1.0 for c in RUN_COLUMNS}
            row.update(strategy=strategy, run=r, npv=values[r])
            rows.append(row)
    return pd.DataFrame(rows)


def test_roi_over_batches_is_ratio_of_sums_with_delta_method_interval():
    rng = np.random.default_rng(3)
    sizes = np.array([5, 5, 6, 6])
    dn = rng.normal(50.0, 5.0, 4)       # per batch: mean NPV difference per run (net spread over 3 periods)
    ds = rng.normal(100.0, 3.0, 4)      # per batch: mean spend difference per period
    base = _paths(sizes, [[10.0, 10.0, 10.0]] * 4, [200.0] * 4, "baseline")
    promo = _paths(sizes, [[10.0 + x / 3] * 3 for x in dn], list(200.0 + ds), "promo")
    runs = _runs(int(sizes.sum()), {"baseline": np.zeros(22), "promo": np.repeat(dn, sizes)})
    s = metrics.summary_table(runs, pd.concat([base, promo]), baseline="baseline")
    num, den = sizes * dn, sizes * 3 * ds            # batch sums of the differences
    r = num.sum() / den.sum()
    z = (num - r * den) / den.mean()
    half = stats.t.ppf(0.975, 3) * z.std(ddof=1) / 2
    assert value(s, "promo", "roi") == pytest.approx(r, rel=1e-12)
    assert value(s, "promo", "roi", "ci_lo") == pytest.approx(r - half, rel=1e-12)
    assert value(s, "promo", "spend_diff") == pytest.approx(den.sum() / sizes.sum(), rel=1e-12)
    assert value(s, "promo", "pv_spend") == pytest.approx(600 + den.sum() / sizes.sum(), rel=1e-12)
    # the NPV difference and the win share come from the runs (paired, n - 1 degrees of freedom)
    assert value(s, "promo", "npv_diff") == pytest.approx(np.repeat(dn, sizes).mean(), rel=1e-12)
    assert value(s, "promo", "win_share") == 1.0 and value(s, "promo", "win_share", "n") == 22


def test_payback_interval_inverts_the_pointwise_band_of_the_cumulative_difference():
    sizes = [10] * 6
    # cumulative difference per batch: -1, then +0.1 +- noise, then clearly positive
    rng = np.random.default_rng(1)
    net = [[-1.0, 1.1 + e, 1.0] for e in rng.normal(0.0, 0.5, 6)]
    base = _paths(sizes, [[0.0] * 3] * 6, [0.0] * 6, "baseline")
    promo = _paths(sizes, net, [0.0] * 6, "promo")
    runs = _runs(60, {"baseline": np.zeros(60), "promo": np.full(60, 1.0)})
    s = metrics.summary_table(runs, pd.concat([base, promo]), baseline="baseline")
    cum = np.cumsum(np.asarray(net), axis=1) * 10     # batch sums of the cumulative difference
    mean = cum.sum(axis=0) / 60
    z = (cum - mean * 10) / 10
    half = stats.t.ppf(0.975, 5) * z.std(axis=0, ddof=1) / np.sqrt(6)
    lo, hi = mean - half, mean + half
    assert value(s, "promo", "payback_periods") == metrics.payback(mean)
    assert value(s, "promo", "payback_periods", "ci_lo") == metrics.payback(hi)
    assert value(s, "promo", "payback_periods", "ci_hi") == metrics.payback(lo)
    assert value(s, "promo", "payback_periods", "ci_lo") <= value(s, "promo", "payback_periods") \
        <= value(s, "promo", "payback_periods", "ci_hi")


def test_comparisons_without_baseline_are_absent():
    res = simulate(REF / "segments.yaml", strategies=["more_ads"])
    s = metrics.summarize(res)
    assert not (s["kind"] == "vs_baseline").any()


def test_monte_carlo_summary_uses_t_interval():
    rng = np.random.default_rng(3)
    runs = _runs(50, {"baseline": rng.normal(1e4, 100, 50), "promo": rng.normal(1e4, 100, 50)})
    s = metrics.summary_table(runs)
    x = runs.loc[runs["strategy"] == "promo", "npv"].to_numpy()
    half = stats.t.ppf(0.975, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x))
    assert abs(value(s, "promo", "npv") - x.mean()) < 1e-9
    assert abs(value(s, "promo", "npv", "sd") - x.std(ddof=1)) < 1e-9
    assert value(s, "promo", "npv", "n") == len(x)
    assert abs(value(s, "promo", "npv", "ci_hi") - (x.mean() + half)) < 1e-9


@pytest.mark.parametrize("metric", ["npv", "revenue", "contribution", "total_spend"])
def test_row_metrics_match_run_columns(metric):
    res = simulate(REF / "winback.yaml")
    got = getattr(metrics, metric)(res.runs)[0]
    row = res.runs.iloc[0]
    expect = (row["acquisition_spend"] + row["retention_spend"] + row["winback_spend"]
              if metric == "total_spend" else row[metric])
    assert got == expect
