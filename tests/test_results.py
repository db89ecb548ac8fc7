"""The results object: Parquet round trip, tables and provenance of the analytic engine."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from clmsim.api import simulate
from clmsim.model import CONVENTION
from clmsim.results import PERIOD_ITEMS, RUN_COLUMNS, Results

REF = Path(__file__).resolve().parents[1] / "scenarios" / "reference"


def test_parquet_round_trip_keeps_tables_and_provenance(tmp_path):
    res = simulate(REF / "segments.yaml")
    res.to_parquet(tmp_path)
    back = Results.read_parquet(tmp_path)
    for name in ("runs", "periods", "clv"):
        pd.testing.assert_frame_equal(getattr(res, name), getattr(back, name), check_dtype=False)
    prov = {k: v for k, v in res.provenance.items()}
    assert back.provenance == prov


def test_analytic_tables_follow_the_contract():
    res = simulate(REF / "winback.yaml")
    runs = res.runs
    assert list(runs.columns[:2]) == ["strategy", "run"]
    assert set(RUN_COLUMNS) <= set(runs.columns) and (runs["run"] == -1).all()
    items = set(res.periods["item"])
    assert set(PERIOD_ITEMS) <= items
    assert {"stage:member", "stage:lapsed", "stage:lost"} <= items
    assert res.periods[["sd", "q05", "q50", "q95"]].isna().all().all()
    p = res.provenance
    assert p["engine"] == "analytic" and p["convention"] == CONVENTION and p["runs"] == 0
    assert p["scenario_hash"] and p["horizon"] == 36 and p["period"] == "month"


def test_period_items_add_up_to_totals():
    res = simulate(REF / "segments.yaml")
    for item, col in (("revenue", "revenue"), ("acquired", "acquired"), ("churned", "churned"),
                      ("retention_spend", "retention_spend"), ("discounted_net_cash", "npv")):
        total = res.series("baseline", item).sum()
        assert abs(total - res.runs.loc[0, col]) <= 1e-9 * max(1, abs(total)), item
    net = res.series("baseline", "net_cash")
    parts = (res.series("baseline", "contribution") - res.series("baseline", "acquisition_spend")
             - res.series("baseline", "retention_spend") - res.series("baseline", "winback_spend"))
    assert np.allclose(net, parts, rtol=1e-12, atol=1e-9)


def test_combine_concatenates_strategies():
    a = simulate(REF / "segments.yaml", strategies=["baseline"])
    b = simulate(REF / "segments.yaml", strategies=["more_ads"])
    both = a.combine(b)
    assert both.strategies == ["baseline", "more_ads"]
    assert len(both.clv) == len(a.clv) + len(b.clv)
