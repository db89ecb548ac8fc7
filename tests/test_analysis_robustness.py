"""Robustness table against hand-computed regrets and ROI shares."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from clmsim.analysis.robustness import robustness


def _sweep_tables():
    # 2 grid points x 2 samples, strategies baseline / alt; one run each (means are the values)
    npv = {(0, 0, "baseline"): 100.0, (0, 0, "alt"): 130.0, (0, 1, "baseline"): 100.0, (0, 1, "alt"): 90.0,
           (1, 0, "baseline"): 110.0, (1, 0, "alt"): 120.0, (1, 1, "baseline"): 105.0, (1, 1, "alt"): 95.0}
    spend = {"baseline": 10.0, "alt": 20.0}
    rows, points = [], []
    for (g, k, s), v in npv.items():
        e = 2 * g + k
        rows.append({"experiment": e, "strategy": s, "run": 0, "npv": v, "pv_spend": spend[s] + g})
    for g in (0, 1):
        for k in (0, 1):
            points.append({"experiment": 2 * g + k, "grid": g, "sample": k, "lever": float(g), "u": 0.1 * k})
    return pd.DataFrame(rows), pd.DataFrame(points)


def test_regret_p10_and_roi_share_match_hand_computation():
    runs, points = _sweep_tables()
    r = robustness(runs, points, roi_target=1.0).set_index(["grid", "strategy"])
    # sample 0 best = 130, sample 1 best = 105
    assert r.at[(0, "alt"), "max_regret"] == pytest.approx(max(0.0, 105 - 90))
    assert r.at[(0, "baseline"), "max_regret"] == pytest.approx(max(30.0, 5.0))
    assert r.at[(1, "baseline"), "max_regret"] == pytest.approx(max(20.0, 0.0))
    assert r.at[(0, "alt"), "mean"] == pytest.approx(110.0)
    assert r.at[(0, "alt"), "p10"] == pytest.approx(90 + 0.1 * 40)
    assert r.at[(0, "alt"), "worst"] == 90.0
    # ROI vs (grid 0, baseline): alt@0 -> (30/10, -10/10) = (3, -1): share >= 1 is 1/2
    assert r.at[(0, "alt"), "roi_share"] == pytest.approx(0.5)
    # baseline@1 -> (10/1, 5/1) both >= 1
    assert r.at[(1, "baseline"), "roi_share"] == pytest.approx(1.0)
    assert np.isnan(r.at[(0, "baseline"), "roi_share"])
    assert "lever" in r.columns and "u" not in r.columns
    # p_best: sample 0 best = alt@0 (130), sample 1 best = baseline@1 (105)
    assert r.at[(0, "alt"), "p_best"] == 0.5 and r.at[(1, "baseline"), "p_best"] == 0.5
    assert r.at[(0, "baseline"), "p_best"] == 0.0
    # p_beats_reference vs (0, baseline) = (100, 100): alt@0 (130, 90) -> 1/2; baseline@1 (110, 105) -> 1
    assert r.at[(0, "alt"), "p_beats_reference"] == 0.5 and r.at[(1, "baseline"), "p_beats_reference"] == 1.0
    assert np.isnan(r.at[(0, "baseline"), "p_beats_reference"])


def test_roi_share_needs_the_present_value_of_spend():
    from clmsim.errors import ClmsimError

    runs, points = _sweep_tables()
    with pytest.raises(ClmsimError, match="periods: true"):
        robustness(runs.drop(columns="pv_spend"), points, roi_target=1.0)
    assert robustness(runs.drop(columns="pv_spend"), points)["roi_share"].isna().all()
