"""Robustness of alternatives across uncertainty samples (states of the world).

An *alternative* is a strategy at a lever-grid point of a sweep; a *sample* is
one draw of the uncertainties. For alternative ``a`` and sample ``k`` let
``y_{a,k}`` be the mean over runs of the metric (NPV by default). Per
alternative:

* ``mean``: ``mean_k y_{a,k}``; ``p10``: 10th percentile over samples; ``worst``: minimum;
* ``max_regret``: ``max_k (max_b y_{b,k} - y_{a,k})`` -- how much worse than the best
  alternative for that state of the world it can be (0 for a dominant alternative);
* ``roi_share``: share of samples where the alternative meets the ROI target versus the
  reference alternative (default: the baseline strategy at grid point 0):
  ``dNPV >= roi_target * dSpend`` with ``dX = X_a - X_ref``. With extra spend (``dSpend > 0``)
  this is ``ROI = dNPV / dSpend >= roi_target``; when the alternative spends less it means the
  NPV lost is at most ``roi_target`` per unit of spend saved (a cheaper alternative with higher
  NPV always qualifies); NaN when no target is given, and for the reference itself.

Within a sample all alternatives share random numbers (same seed), so regrets
are paired comparisons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ClmsimError


def robustness(runs: pd.DataFrame, points: pd.DataFrame, metric: str = "npv", roi_target: float | None = None,
               baseline: str = "baseline", reference: tuple[int, str] | None = None) -> pd.DataFrame:
    """Robustness table of a sweep.

    Parameters
    ----------
    runs : DataFrame
        A sweep's ``runs`` table (``experiment``, ``strategy``, ``run``, metrics, ``total_spend``).
    points : DataFrame
        The sweep's ``points`` table (``experiment``, ``grid``, ``sample`` and parameter values).
    metric : str
        Per-run metric to average (default ``npv``).
    roi_target : float, optional
        ROI threshold for ``roi_share``.
    reference : (grid, strategy), optional
        Reference alternative for ROI; default ``(0, baseline)``.

    Returns
    -------
    DataFrame
        One row per alternative: ``grid``, ``strategy``, lever values, ``samples``, ``mean``,
        ``p10``, ``worst``, ``max_regret``, ``roi_share``; sorted by decreasing ``mean``.
    """
    if metric not in runs.columns:
        raise ClmsimError(f"unknown metric '{metric}'")
    spend = runs["total_spend"] if "total_spend" in runs.columns else (
        runs["acquisition_spend"] + runs["retention_spend"] + runs["winback_spend"])
    m = (runs.assign(_spend=spend).groupby(["experiment", "strategy"], sort=False)[list(dict.fromkeys([metric, "_spend", "npv"]))]
         .mean().reset_index().merge(points[["experiment", "grid", "sample"]], on="experiment"))
    y = m.pivot_table(index=["grid", "strategy"], columns="sample", values=metric)
    best = y.max(axis=0)
    regret = best - y
    out = pd.DataFrame({"samples": y.notna().sum(axis=1), "mean": y.mean(axis=1),
                        "p10": y.quantile(0.10, axis=1), "worst": y.min(axis=1),
                        "max_regret": regret.max(axis=1)})
    ref = reference or (0, baseline)
    npv = m.pivot_table(index=["grid", "strategy"], columns="sample", values="npv")
    sp = m.pivot_table(index=["grid", "strategy"], columns="sample", values="_spend")
    if roi_target is not None:
        if ref not in npv.index:
            raise ClmsimError(f"reference alternative {ref} is not in the sweep")
        dn, ds = npv - npv.loc[ref], sp - sp.loc[ref]
        meets = (dn >= roi_target * ds).where(dn.notna() & ds.notna())
        share = meets.sum(axis=1) / meets.notna().sum(axis=1).replace(0, np.nan)
        share.loc[ref] = np.nan
        out["roi_share"] = share
    else:
        out["roi_share"] = np.nan
    out = out.reset_index()
    levers = [c for c in points.columns if c not in ("experiment", "grid", "sample")]
    grid_vals = points.drop_duplicates("grid")[["grid"] + levers]
    lever_cols = [c for c in levers if points.groupby("grid")[c].nunique().max() == 1]
    out = out.merge(grid_vals[["grid"] + lever_cols], on="grid", how="left")
    return out.sort_values("mean", ascending=False, kind="stable").reset_index(drop=True)
