"""Synthetic Results of the documented shape, for plot and report tests (no engine needed)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from clmsim.results import PERIOD_ITEMS, RUN_COLUMNS, Results

STAGES = ("new", "loyal", "churned", "lost")


def make_results(strategies=("baseline", "save_more", "cut"), runs=40, horizon=12, mc=True,
                 stages=STAGES, seed=1) -> Results:
    """Monte Carlo-shaped (``mc``) or analytic-shaped Results with known, simple numbers.

    Stage k of strategy i has mean occupancy ``100 * (k + 1) + t + 10 i`` with q05/q95 = mean -+ 5;
    run r of strategy i has ``npv = 1000 + 50 i + noise_r`` (the same noise for every strategy: CRN).
    """
    rng = np.random.default_rng(seed)
    noise = rng.normal(0, 30, size=runs)
    run_rows, per_rows, hist_rows = [], [], []
    for i, s in enumerate(strategies):
        for r in (range(runs) if mc else [-1]):
            row = {c: 0.0 for c in RUN_COLUMNS}
            row.update(strategy=s, run=r, npv=1000 + 50 * i + (noise[r] + i * 0.1 * noise[r] if mc else 0),
                       clv_acquired=200 + 10 * i + (noise[r] / 3 if mc else 0),
                       retention_spend=100 + 10 * i)
            run_rows.append(row)
        for t in range(horizon + 1):
            for k, st in enumerate(stages):
                m = 100 * (k + 1) + t + 10 * i
                per_rows.append(dict(strategy=s, period=t, item=f"stage:{st}", mean=m,
                                     sd=2.0 if mc else np.nan, q05=m - 5 if mc else np.nan,
                                     q50=m if mc else np.nan, q95=m + 5 if mc else np.nan))
            if t:
                for item in PERIOD_ITEMS:
                    per_rows.append(dict(strategy=s, period=t, item=item, mean=10.0 * t, sd=np.nan, q05=np.nan,
                                         q50=np.nan, q95=np.nan))
        if mc:
            for b in range(10):
                hist_rows.append(dict(strategy=s, lo=50.0 * b, hi=50.0 * (b + 1), count=10 + b * (9 - b)))
    prov = dict(scenario="synthetic", scenario_hash="abc123", engine="fast" if mc else "analytic", seed=7,
                runs=runs if mc else 1, mode="individual" if mc else "exact", period="month", horizon=horizon,
                convention="end-of-period", customer_periods=12345, seconds=0.5)
    return Results(prov, pd.DataFrame(run_rows), pd.DataFrame(per_rows),
                   pd.DataFrame(), pd.DataFrame(hist_rows))
