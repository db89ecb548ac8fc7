"""docs/metrics.md and the code agree: the documented degenerate cases are read from the page and
checked against clmsim.metrics, clmsim.stats and the decision table's cells."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clmsim import decision, metrics, stats

DOC = Path(__file__).resolve().parents[1] / "docs" / "metrics.md"
BASE_PV_SPEND = 1000.0


def _tables(heading: str) -> list[list[dict]]:
    """The markdown tables under ``heading`` (up to the next heading), as lists of row dicts."""
    text = DOC.read_text(encoding="utf-8").split(heading, 1)[1]
    text = text.split("\n#", 1)[0]
    out, rows, head = [], [], None
    for line in text.splitlines() + [""]:
        if line.startswith("|"):
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            if head is None:
                head = cells
            elif not set("".join(cells)) <= set("-: "):
                rows.append(dict(zip(head, cells)))
        elif head is not None:
            out.append(rows)
            rows, head = [], None
    return out


def _number(cell: str) -> float:
    return float("nan") if cell == "null" else (np.inf if cell == "never" else float(cell))


def _summary(npv_diff: float, spend_diff: float) -> pd.DataFrame:
    """A one-strategy summary table as clmsim.metrics.summary_table writes it."""
    nan = float("nan")
    rows = [("baseline", "level", "npv", 0.0), ("baseline", "level", "pv_spend", BASE_PV_SPEND),
            ("s", "level", "npv", npv_diff), ("s", "level", "pv_spend", BASE_PV_SPEND + spend_diff),
            ("s", "vs_baseline", "npv_diff", npv_diff), ("s", "vs_baseline", "spend_diff", spend_diff),
            ("s", "vs_baseline", "roi", metrics.roi(npv_diff, spend_diff, BASE_PV_SPEND)),
            ("s", "vs_baseline", "npv_per_unit_saved", metrics.npv_per_unit_saved(npv_diff, spend_diff,
                                                                                  BASE_PV_SPEND)),
            ("s", "vs_baseline", "payback_periods", nan), ("s", "vs_baseline", "win_share", nan)]
    return pd.DataFrame([(*r, nan, nan, nan, nan) for r in rows], columns=list(metrics.SUMMARY_COLUMNS))


RETURN_CASES, PAYBACK_CASES = _tables("### Degenerate cases")


def test_the_page_documents_the_cases():
    assert len(RETURN_CASES) >= 6 and len(PAYBACK_CASES) >= 6
    assert {"spends more", "spends less, NPV up", "same spend (within 0.5%)"} <= {r["case"] for r in RETURN_CASES}


@pytest.mark.parametrize("row", RETURN_CASES, ids=lambda r: r["case"])
def test_documented_return_cases_match_the_code(row):
    dn, ds = float(row["npv_diff"]), float(row["spend_diff"])
    roi = metrics.roi(dn, ds, BASE_PV_SPEND)
    saved = metrics.npv_per_unit_saved(dn, ds, BASE_PV_SPEND)
    for got, want in ((roi, _number(row["roi"])), (saved, _number(row["npv_per_unit_saved"]))):
        assert (np.isnan(got) and np.isnan(want)) or got == pytest.approx(want, rel=1e-12)
    (cells,) = [r for r in decision.decision_rows(_summary(dn, ds), "baseline") if r["strategy"] == "s"]
    assert cells["ret"] == row["table cell"]


@pytest.mark.parametrize("row", PAYBACK_CASES, ids=lambda r: r["cumulative NPV difference C_1..C_H"])
def test_documented_payback_cases_match_the_code(row):
    c = [float(x) for x in row["cumulative NPV difference C_1..C_H"].split(",")]
    assert metrics.payback(c) == _number(row["payback_periods"])


def test_equal_spend_tolerance_is_the_documented_half_percent():
    assert metrics.EQUAL_SPEND == 0.005 and "0.5%" in DOC.read_text(encoding="utf-8")


def test_documented_interval_degenerate_cases():
    m, sd, lo, hi, n = stats.mean_ci([])
    assert np.isnan(m) and n == 0                               # no value: NaN
    m, sd, lo, hi, n = stats.mean_ci([3.0])
    assert (m, lo, hi, n) == (3.0, 3.0, 3.0, 1) and np.isnan(sd)  # one value: the value, no spread
    assert np.isnan(stats.ratio_ci([1.0, 2.0], [1.0, -1.0])[0])  # zero denominator: NaN
    r, _, lo, hi, n = stats.ratio_ci([2.0], [4.0])
    assert (r, lo, hi, n) == (0.5, 0.5, 0.5, 1)                 # one replicate: the value, no width
