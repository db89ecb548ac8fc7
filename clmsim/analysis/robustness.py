"""Robustness of alternatives across uncertainty samples (states of the world).

An *alternative* is a strategy at a lever-grid point of a sweep; a *sample* is
one draw of the uncertainties. For alternative ``a`` and sample ``k`` let
``y_{a,k}`` be the mean over runs of the metric (NPV by default). Per
alternative:

* ``mean``: ``mean_k y_{a,k}``; ``p10``: 10th percentile over samples; ``worst``: minimum;
* ``max_regret``: ``max_k (max_b y_{b,k} - y_{a,k})`` -- how much worse than the best
  alternative for that state of the world it can be (0 for a dominant alternative);
* ``p_best``: share of samples where the alternative is the best (highest ``y``; ties count
  for each tied alternative) -- the probability, over the uncertainty, that it is the right choice;
* ``p_beats_reference``: share of samples where it beats the reference alternative (default:
  the baseline strategy at grid point 0), i.e. where the paired difference ``y_a - y_ref > 0``;
* ``roi_share``: share of samples where the alternative meets the ROI target versus the
  reference: ``dNPV >= roi_target * dPV(spend)`` with ``dX = X_a - X_ref`` and ``PV(spend)`` the
  present value of spend (docs/metrics.md). With extra spend this is ``ROI >= roi_target``;
  when the alternative spends less it means the NPV lost is at most ``roi_target`` per unit of
  spend saved (a cheaper alternative with higher NPV always qualifies); NaN when no target is
  given, and for the reference itself. The present value of spend comes from a ``pv_spend``
  column of ``runs`` or from the sweep's per-period table (``periods: true``).

Within a sample all alternatives share random numbers (same seed), so regrets
are paired comparisons.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..metrics import rate_from_periods, paths_from_periods


def pv_spend_by_point(periods: pd.DataFrame) -> pd.DataFrame:
    """Present value of spend per ``experiment`` and ``strategy`` from a sweep's per-period means
    (each point discounted at its own rate, read off its ``discounted_net_cash / net_cash``)."""
    rows = []
    for e, p in periods.groupby("experiment", sort=False):
        d = rate_from_periods(p)
        v = (1.0 + d) ** -np.arange(int(p["period"].max()) + 1, dtype=float)
        spend = paths_from_periods(p, v).groupby("strategy", sort=False)["spend"].sum()
        rows += [{"experiment": e, "strategy": s, "pv_spend": float(x)} for s, x in spend.items()]
    return pd.DataFrame(rows, columns=["experiment", "strategy", "pv_spend"])


def robustness(runs: pd.DataFrame, points: pd.DataFrame, metric: str = "npv", roi_target: float | None = None,
               baseline: str = "baseline", reference: tuple[int, str] | None = None,
               periods: pd.DataFrame | None = None) -> pd.DataFrame:
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
        Reference alternative for ``p_beats_reference`` and ROI; default ``(0, baseline)``.
    periods : DataFrame, optional
        The sweep's per-period table (for the present value of spend, when ``runs`` has no
        ``pv_spend`` column); needed with ``roi_target``.

    Returns
    -------
    DataFrame
        One row per alternative: ``grid``, ``strategy``, lever values, ``samples``, ``mean``,
        ``p10``, ``worst``, ``max_regret``, ``p_best``, ``p_beats_reference``, ``roi_share``;
        sorted by decreasing ``mean``.
    """
    if metric not in runs.columns:
        raise ClmsimError(f"unknown metric '{metric}'")
    cols = list(dict.fromkeys([metric, "npv"] + (["pv_spend"] if "pv_spend" in runs.columns else [])))
    m = (runs.groupby(["experiment", "strategy"], sort=False)[cols].mean().reset_index()
         .merge(points[["experiment", "grid", "sample"]], on="experiment"))
    if "pv_spend" not in m.columns and periods is not None and len(periods):
        m = m.merge(pv_spend_by_point(periods), on=["experiment", "strategy"], how="left")
    y = m.pivot_table(index=["grid", "strategy"], columns="sample", values=metric)
    best = y.max(axis=0)
    regret = best - y
    ref = reference or (0, baseline)
    out = pd.DataFrame({"samples": y.notna().sum(axis=1), "mean": y.mean(axis=1),
                        "p10": y.quantile(0.10, axis=1), "worst": y.min(axis=1),
                        "max_regret": regret.max(axis=1),
                        "p_best": (y >= best).where(y.notna()).mean(axis=1)})
    out["p_beats_reference"] = (y > y.loc[ref]).where(y.notna()).mean(axis=1) if ref in y.index else np.nan
    if ref in out.index:
        out.loc[ref, "p_beats_reference"] = np.nan
    npv = m.pivot_table(index=["grid", "strategy"], columns="sample", values="npv")
    if roi_target is not None:
        if ref not in npv.index:
            raise ClmsimError(f"reference alternative {ref} is not in the sweep")
        if "pv_spend" not in m.columns or m["pv_spend"].isna().any():
            raise ClmsimError("the ROI share needs the present value of spend: run the sweep with "
                              "'periods: true' in the experiment")
        sp = m.pivot_table(index=["grid", "strategy"], columns="sample", values="pv_spend")
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
