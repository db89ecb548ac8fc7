"""Paired comparison statistics, checked against an engine whose answer is known.

``KnownEngine`` is a test double with the engine interface: NPV of run r under a
strategy is ``mu(strategy) + sigma z_r + tau e_{r,s}`` (z_r shared by every
strategy: common random numbers), so the exact paired difference is
``mu_s - mu_b`` and the exact CRN variance gain is
``(2 sigma^2 + 2 tau^2) / (2 tau^2)``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clmsim.analysis import compare
from clmsim.analysis.compare import Comparison
from clmsim.analysis.runner import simulate_range
from clmsim.engines import Capabilities
from clmsim.results import RUN_COLUMNS, Results

TELECOM = "scenarios/telecom.yaml"
SIGMA, TAU = 1000.0, 50.0


class KnownEngine:
    """NPV = 1000 * save-desk spend + SIGMA z_r + TAU e_{r,s}; spend = 10 * save-desk spend, all of it in
    period 1 (per-period table: period 1 holds the mean NPV and the spend of the call's runs).

    Satisfies the engine contract (:class:`clmsim.engines.Engine`); with ``first_run=False``
    it declares no ``first_run``, so the runner falls back to seed blocks."""

    NAME = "known"

    def __init__(self, first_run: bool = True):
        self.CAPABILITIES = Capabilities(monte_carlo=True, first_run=first_run)

    def pin_options(self, models, options):
        return dict(options)

    def simulate(self, models, *, runs, seed, **options):
        first_run = options.pop("first_run", 0)
        assert not options and (first_run == 0 or self.CAPABILITIES.first_run)
        rows = []
        for si, m in enumerate(models):
            x = float(m.programs[1].spend[0])
            for r in range(first_run, first_run + runs):
                g = np.random.default_rng(np.random.SeedSequence(seed, spawn_key=(r,)))
                z, e = g.normal(), g.normal(size=8)
                row = {c: 0.0 for c in RUN_COLUMNS}
                row.update(strategy=m.strategy, run=r,
                           npv=1000.0 * x + SIGMA * z + TAU * e[si], retention_spend=10.0 * x,
                           clv_acquired=x + z)
                rows.append(row)
        runs_df = pd.DataFrame(rows)
        means = runs_df.groupby("strategy", sort=False)[["npv", "retention_spend"]].mean()
        periods = pd.DataFrame([{"strategy": s, "period": 1, "item": item, "mean": value}
                                for s, r in means.iterrows()
                                for item, value in (("discounted_net_cash", r["npv"]), ("acquisition_spend", 0.0),
                                                    ("retention_spend", r["retention_spend"]),
                                                    ("winback_spend", 0.0))])
        return Results({"customer_periods": runs * len(models)}, runs_df, periods)


UNDISCOUNTED = ["time.discount_rate=0"]
"""The known engine's cash is undiscounted: compare on the scenario with d = 0 (v^1 = 1)."""


def test_paired_difference_matches_known_mean_difference():
    c = compare(TELECOM, ["save_desk_x2", "no_save_desk"], runs=400, seed=3, engine=KnownEngine())
    t = c.table()
    d = t[(t.kind == "vs_baseline") & (t.metric == "npv_diff")].set_index("strategy")
    for s, exact in (("save_desk_x2", 10000.0), ("no_save_desk", -10000.0)):
        se = d.at[s, "sd"] / np.sqrt(d.at[s, "n"])
        assert abs(d.at[s, "mean"] - exact) < 4.5 * se
        assert d.at[s, "ci_lo"] < d.at[s, "mean"] < d.at[s, "ci_hi"]
    # levels include the baseline and every metric of the contract
    lv = t[t.kind == "level"]
    assert set(lv.strategy) == {"baseline", "save_desk_x2", "no_save_desk"}
    assert {"npv", "pv_spend", "total_spend", "clv_acquired"} <= set(lv.metric)


def test_roi_is_ratio_of_paired_differences_closed_form():
    # NPV difference 1000 dx, spend difference 10 dx -> ROI = 100 (spend is deterministic here)
    c = compare(TELECOM, ["save_desk_x2"], runs=200, seed=1, engine=KnownEngine(), overrides=UNDISCOUNTED)
    t = c.table().set_index(["strategy", "metric", "kind"])
    roi = t.loc[("save_desk_x2", "roi", "vs_baseline")]
    d = t.loc[("save_desk_x2", "npv_diff", "vs_baseline")]
    assert t.loc[("save_desk_x2", "spend_diff", "vs_baseline"), "mean"] == pytest.approx(100.0, rel=1e-12)
    assert roi["mean"] == pytest.approx(d["mean"] / 100.0, rel=1e-12)
    se = (roi["ci_hi"] - roi["ci_lo"]) / (2 * 2.262)  # t quantile over the 10 batches
    assert abs(roi["mean"] - 100.0) < 4.5 * se
    assert roi["ci_lo"] < roi["mean"] < roi["ci_hi"]
    assert np.isnan(t.loc[("save_desk_x2", "npv_per_unit_saved", "vs_baseline"), "mean"])


def test_spending_less_reports_npv_per_unit_saved_not_roi():
    c = compare(TELECOM, ["no_save_desk"], runs=40, seed=1, engine=KnownEngine(), overrides=UNDISCOUNTED)
    t = c.table().set_index(["strategy", "metric", "kind"])
    assert np.isnan(t.loc[("no_save_desk", "roi", "vs_baseline"), "mean"])
    saved = t.loc[("no_save_desk", "npv_per_unit_saved", "vs_baseline")]
    d = t.loc[("no_save_desk", "npv_diff", "vs_baseline"), "mean"]
    assert saved["mean"] == pytest.approx(d / 100.0, rel=1e-12)   # 100 of spend saved; NPV lost: -100 per 1 saved
    assert abs(saved["mean"] + 100.0) < 4.5 * (saved["ci_hi"] - saved["ci_lo"]) / (2 * 2.262)


def test_batches_are_contiguous_near_equal_ranges():
    from clmsim.analysis.compare import batch_ranges

    assert batch_ranges(0, 25, 10) == [(0, 2), (2, 5), (5, 7), (7, 10), (10, 12), (12, 15), (15, 17), (17, 20),
                                       (20, 22), (22, 25)]
    assert batch_ranges(5, 8, 10) == [(5, 6), (6, 7), (7, 8)]
    assert batch_ranges(0, 250, 10, block=100) == [(0, 100), (100, 200), (200, 250)]
    assert batch_ranges(0, 2500, 10, block=100)[:2] == [(0, 300), (300, 600)]


def test_win_share_matches_normal_probability():
    # P(10000 + TAU (e1 - e0) > 0) = 1 ; for no_save_desk it is 0
    c = compare(TELECOM, ["save_desk_x2", "no_save_desk"], runs=100, seed=2, engine=KnownEngine())
    t = c.table().set_index(["strategy", "metric", "kind"])
    assert t.loc[("save_desk_x2", "win_share", "vs_baseline"), "mean"] == 1.0
    assert t.loc[("no_save_desk", "win_share", "vs_baseline"), "mean"] == 0.0


def test_crn_gain_matches_variance_formula():
    c = compare(TELECOM, ["save_desk_x2"], runs=2000, seed=5, engine=KnownEngine())
    g = c.crn_gain().set_index("strategy").at["save_desk_x2", "gain"]
    exact = (2 * SIGMA**2 + 2 * TAU**2) / (2 * TAU**2)
    # var ratio of n=2000 normals: relative se of each variance ~ sqrt(2/n) = 3.2%
    assert abs(g / exact - 1) < 4.5 * np.sqrt(2 / 2000) * np.sqrt(2)


def test_chunks_equal_one_call_with_and_without_first_run():
    from clmsim import compile_model, load_scenario

    sc = load_scenario(TELECOM)
    models = [compile_model(sc, s) for s in ("baseline", "save_desk_x2")]
    for eng in (KnownEngine(True), KnownEngine(False)):
        whole, _, _ = simulate_range(models, eng, 9, 0, 30)
        parts = pd.concat([simulate_range(models, eng, 9, a, b)[0] for a, b in ((0, 7), (7, 19), (19, 30))])
        key = ["strategy", "run"]
        pd.testing.assert_frame_equal(whole.sort_values(key).reset_index(drop=True),
                                      parts.sort_values(key).reset_index(drop=True))


def test_precision_adds_runs_until_met():
    # sd of the difference ~ TAU sqrt 2 = 70.7; mean 10000 -> 0.1% needs n with t*70.7/sqrt(n) < 10
    c = compare(TELECOM, ["save_desk_x2"], runs=4, seed=1, engine=KnownEngine(), precision=0.001,
                overrides=UNDISCOUNTED)
    p = c.precision
    assert p["met"] and p["runs"] > 4 and p["worst_relative_half_width"] <= 0.001
    assert c.n_runs == p["runs"]
    assert sorted(c.runs[c.runs.strategy == "baseline"]["run"]) == list(range(p["runs"]))
    assert c.runs["total_spend"].notna().all()
    roi = c.table().set_index(["metric", "kind"]).loc[("roi", "vs_baseline")]
    assert abs(roi["mean"] - 100.0) < 4.5 * (roi["ci_hi"] - roi["ci_lo"]) / 3.9  # ROI of KnownEngine: 100
    assert c.provenance["batches"] == len(c.paths["batch"].unique()) > 10  # added runs came in new batches


def test_precision_reports_when_maximum_reached():
    c = compare(TELECOM, ["save_desk_x2"], runs=4, seed=1, engine=KnownEngine(), precision=1e-6, max_runs=16)
    assert c.precision["met"] is False and c.precision["runs"] == 16


def test_bad_requests_are_clear_errors():
    from clmsim.errors import ClmsimError

    with pytest.raises(ClmsimError, match="unknown strategy"):
        compare(TELECOM, ["nope"], runs=2, seed=1, engine=KnownEngine())
    with pytest.raises(ClmsimError, match="unknown engine"):
        compare(TELECOM, runs=2, seed=1, engine="warp")
    with pytest.raises(ClmsimError, match="not found"):
        compare("missing.yaml", runs=2, seed=1, engine=KnownEngine())
