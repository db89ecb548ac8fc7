"""Business metrics as pure functions over a :class:`~clmsim.results.Results`.

Every formula is in docs/metrics.md. Metrics of the ``runs`` table are evaluated
row by row: on the analytic engine's ``run = -1`` row they are exact (ratios are
ratios of expectations); on Monte Carlo rows (``run >= 0``) they are per-run values
that :func:`summarize` averages with a t interval. Timing follows
:data:`clmsim.model.CONVENTION`: cash of period ``t`` is discounted by ``(1+d)^-t``,
a customer acquired in period ``t`` joins at its end.

Degenerate cases return ``nan`` (undefined, e.g. CAC without acquisitions) or
``inf`` (e.g. a payback never reached within the horizon); JSON shows both as
``null``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from .results import Results

BASELINE = "baseline"

SUMMARY_METRICS = (
    "npv", "clv_new_customer", "clv_net_of_cac", "cac", "ltv_cac", "roi_vs_baseline", "payback_periods",
    "revenue", "contribution", "acquisition_spend", "retention_spend", "winback_spend", "total_spend",
    "acquired", "referred", "churned", "won_back", "contacts", "winback_rate", "active_end",
    "churn_rate", "average_lifetime",
)
"""Metrics :func:`summarize` reports (plus ``cac:<channel>`` per channel)."""


def _div(num, den):
    """``num / den`` with ``nan`` where ``den == 0``."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


# ------------------------------------------------------------------ per-run metrics
def npv(runs: pd.DataFrame) -> np.ndarray:
    """``NPV = sum_{t=1..H} (1+d)^-t (contribution_t - acquisition_t - retention_t - winback_t)``."""
    return runs["npv"].to_numpy(float)


def revenue(runs: pd.DataFrame) -> np.ndarray:
    """Undiscounted revenue paid over the horizon, ``sum_t revenue_t``."""
    return runs["revenue"].to_numpy(float)


def contribution(runs: pd.DataFrame) -> np.ndarray:
    """Undiscounted ``sum_t (revenue x (margin - concession discount) - cost_to_serve)``."""
    return runs["contribution"].to_numpy(float)


def total_spend(runs: pd.DataFrame) -> np.ndarray:
    """Undiscounted ``acquisition_spend + retention_spend + winback_spend``."""
    return (runs["acquisition_spend"] + runs["retention_spend"] + runs["winback_spend"]).to_numpy(float)


def spend_by_lever(runs: pd.DataFrame) -> pd.DataFrame:
    """Undiscounted spend per lever: acquisition (and per channel), retention, win-back."""
    cols = ["acquisition_spend", "retention_spend", "winback_spend"]
    cols += [c for c in runs.columns if c.startswith("acquisition_spend:")]
    return runs[["strategy", "run", *cols]].copy()


def cac(runs: pd.DataFrame, channel: str | None = None) -> np.ndarray:
    """Customer acquisition cost ``acquisition_spend / acquired`` (channel customers only;
    referrals are free), or per channel ``acquisition_spend:<c> / acquired:<c>``; ``nan``
    when nobody was acquired."""
    if channel is None:
        return _div(runs["acquisition_spend"], runs["acquired"])
    return _div(runs[f"acquisition_spend:{channel}"], runs[f"acquired:{channel}"])


def clv_new_customer(runs: pd.DataFrame) -> np.ndarray:
    """CLV per acquired customer without acquisition cost: ``clv_acquired``, the mean over
    customers acquired in periods 1..H (channels and referrals) of their discounted net cash
    (contribution - program spend - contact cost on them), discounted to their acquisition
    period and truncated at the horizon."""
    return runs["clv_acquired"].to_numpy(float)


def clv_net_of_cac(runs: pd.DataFrame) -> np.ndarray:
    """CLV per acquired customer with acquisition cost:
    ``clv_acquired - acquisition_spend / (acquired + referred)`` (spend spread over every
    new customer, the blended CAC)."""
    return clv_new_customer(runs) - _div(runs["acquisition_spend"], runs["acquired"] + runs["referred"])


def ltv_cac(runs: pd.DataFrame) -> np.ndarray:
    """``LTV / CAC = clv_acquired / cac``; ``nan`` without acquisitions or with zero CAC."""
    return _div(clv_new_customer(runs), cac(runs))


def winback_rate(runs: pd.DataFrame) -> np.ndarray:
    """Win-back success per contact: ``won_back / contacts``; ``nan`` without contacts."""
    return _div(runs["won_back"], runs["contacts"])


def roi(d_npv, d_spend) -> np.ndarray:
    """``ROI = dNPV / dSpend`` with the degenerate cases defined.

    ``dSpend = 0``: ``0`` when also ``dNPV = 0`` (nothing changed), else ``+-inf``
    (value gained or lost for no extra spend). A negative ``dSpend`` (the strategy
    spends less) keeps the ratio: NPV gained (lost) per unit of spend cut.
    """
    d_npv = np.asarray(d_npv, dtype=float)
    d_spend = np.asarray(d_spend, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        out = d_npv / np.where(d_spend != 0, d_spend, 1.0)
    zero = d_spend == 0
    with np.errstate(invalid="ignore"):
        out = np.where(zero, np.sign(d_npv) * np.inf, out)
    return np.where(zero & (d_npv == 0), 0.0, out)


def baseline_of(results: Results) -> str | None:
    """``baseline`` if evaluated, else ``None`` (ROI is then undefined)."""
    return BASELINE if BASELINE in results.strategies else None


# ------------------------------------------------------------- period metrics
def discount_rate(results: Results) -> float:
    """Per-period discount rate from provenance, else from ``discounted_net_cash / net_cash``."""
    if results.provenance.get("discount_rate") is not None:
        return float(results.provenance["discount_rate"])
    p = results.periods
    a = p[p["item"] == "net_cash"].set_index(["strategy", "period"])["mean"]
    b = p[p["item"] == "discounted_net_cash"].set_index(["strategy", "period"])["mean"]
    ratio = (b / a).dropna()
    ratio = ratio[np.isfinite(ratio) & (a.reindex(ratio.index).abs() > 0)]
    if not len(ratio):
        return float("nan")
    (s, t), v = next(iter(ratio.items()))
    return float(v ** (-1.0 / t) - 1.0)


def cohort_survival(results: Results, strategy: str, stage: str) -> pd.Series:
    """``S(t) = P(active at the end of period t | entered stage at time 0)``, t = 0..H
    (periods item ``survival:<stage>``, written by the analytic engine)."""
    return results.series(strategy, f"survival:{stage}")


def churn_rate(results: Results, strategy: str) -> float:
    """Population churn rate per period: ``sum_t churned_t / sum_t A_{t-1}`` with ``A_{t-1}``
    the customers in active stages at the start of period t (expected values)."""
    p = results.periods
    return _churn_rate(p[p["strategy"] == strategy], _active_stages(results, strategy))


def _churn_rate(p: pd.DataFrame, active: list[str]) -> float:
    churned = p.loc[p["item"] == "churned", "mean"].sum()
    items = [f"stage:{s}" for s in active]
    occ = p[p["item"].isin(items)]
    horizon = p["period"].max()
    start = occ.loc[occ["period"] < horizon, "mean"].sum()
    return float(_div(churned, start))


def _active_stages(results: Results, strategy: str) -> list[str]:
    clv = results.clv
    if len(clv) and "kind" in clv.columns:
        sel = clv[(clv["strategy"] == strategy) & (clv["kind"] == "active")]
        return list(dict.fromkeys(sel["stage"]))
    names = results.provenance.get("active_stages")
    if names:
        return list(names)
    raise ValueError("results carry no stage kinds (clv table or provenance 'active_stages')")


def average_lifetime(results: Results, strategy: str) -> float:
    """``1 / churn_rate`` periods (geometric lifetimes); ``inf`` without churn."""
    return _lifetime(churn_rate(results, strategy))


def _lifetime(c: float) -> float:
    return float("inf") if c == 0 else float(_div(1.0, c))


def payback_periods(results: Results, strategy: str, cac_value: float) -> float:
    """CAC payback: the first ``T >= 1`` with ``sum_{u=1..T} (1+d)^-u c_u >= CAC``.

    ``c_u`` is the expected net cash in period ``u`` of a customer acquired through the
    channels at time 0 (periods item ``new_customer_net_cash``). ``inf`` if not reached
    within the horizon, ``nan`` without channels or without that item.
    """
    p = results.periods
    return _payback(p[p["strategy"] == strategy], discount_rate(results), cac_value)


def _payback(p: pd.DataFrame, d: float, cac_value: float) -> float:
    sel = p[p["item"] == "new_customer_net_cash"]
    if not len(sel) or not np.isfinite(cac_value):
        return float("nan")
    cash = sel.sort_values("period")["mean"].to_numpy(float)
    if np.isnan(cash).all():
        return float("nan")
    cum = np.cumsum(cash * (1.0 + d) ** -np.arange(1, len(cash) + 1))
    hit = np.flatnonzero(cum >= cac_value - 1e-12 * max(1.0, abs(cac_value)))
    return float(hit[0] + 1) if len(hit) else float("inf")


# ------------------------------------------------------------------ summary
def _per_run(runs: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {
        "npv": npv(runs), "clv_new_customer": clv_new_customer(runs), "clv_net_of_cac": clv_net_of_cac(runs),
        "cac": cac(runs), "ltv_cac": ltv_cac(runs), "revenue": revenue(runs),
        "contribution": contribution(runs), "total_spend": total_spend(runs),
        "winback_rate": winback_rate(runs),
    }
    for col in ("acquisition_spend", "retention_spend", "winback_spend", "acquired", "referred", "churned",
                "won_back", "contacts", "active_end"):
        out[col] = runs[col].to_numpy(float)
    for col in runs.columns:
        if col.startswith("acquired:"):
            ch = col.split(":", 1)[1]
            if f"acquisition_spend:{ch}" in runs.columns:
                out[f"cac:{ch}"] = cac(runs, ch)
    return out


def _stats(values: np.ndarray, exact: bool) -> tuple[float, float, float, float, float]:
    """(mean, sd, n, ci_lo, ci_hi): exact -> sd/ci nan, n nan; else t interval over runs."""
    values = np.asarray(values, dtype=float)
    if exact:
        return float(values[0]), np.nan, np.nan, np.nan, np.nan
    n = len(values)
    with np.errstate(invalid="ignore"):
        mean = float(values.mean()) if n else np.nan
    if n < 2 or not np.isfinite(values).all():
        return mean, np.nan, float(n), np.nan, np.nan
    sd = float(values.std(ddof=1))
    half = float(stdtrit(n - 1, 0.975)) * sd / np.sqrt(n)
    return mean, sd, float(n), mean - half, mean + half


def _roi_stats(d_npv: np.ndarray, d_spend: np.ndarray, exact: bool):
    """Ratio estimator ``R = mean(dNPV) / mean(dSpend)`` over paired runs with a delta-method
    interval: ``se = sd(dNPV - R dSpend) / (|mean dSpend| sqrt(n))``."""
    mn, ms = float(np.mean(d_npv)), float(np.mean(d_spend))
    r = float(roi(mn, ms))
    n = len(d_npv)
    if exact or n < 2 or ms == 0 or not np.isfinite(r):
        return r, np.nan, (np.nan if exact else float(n)), np.nan, np.nan
    resid = d_npv - r * d_spend
    sd = float(resid.std(ddof=1)) / abs(ms)
    half = float(stdtrit(n - 1, 0.975)) * sd / np.sqrt(n)
    return r, sd, float(n), r - half, r + half


def summarize(results: Results) -> pd.DataFrame:
    """One row per strategy and metric: ``strategy, metric, mean, sd, n, ci_lo, ci_hi``.

    Analytic results (``run = -1``): ``mean`` is exact, ``sd``, ``n`` and the interval
    are ``nan``. Monte Carlo results (``run >= 0``): per-run metric values averaged,
    ``sd`` across runs, ``ci = mean +- t_{0.975, n-1} sd / sqrt(n)``. ``roi_vs_baseline``
    pairs runs by index with the baseline (common random numbers) and uses the ratio
    estimator with a delta-method interval (:func:`_roi_stats`). ``churn_rate``,
    ``average_lifetime`` and ``payback_periods`` come from the per-period means, so they
    carry no interval.
    """
    runs = results.runs
    rows = []
    periods = dict(tuple(results.periods.groupby("strategy", sort=False)))
    d = discount_rate(results)
    base = baseline_of(results)
    base_runs = runs[runs["strategy"] == base].set_index("run") if base else None
    for strategy in results.strategies:
        sr = runs[runs["strategy"] == strategy]
        exact = bool((sr["run"] < 0).all())
        mc = sr[sr["run"] >= 0] if not exact else sr
        per = _per_run(mc)
        for name in SUMMARY_METRICS:
            if name == "roi_vs_baseline":
                if base is None or strategy == base:
                    rows.append((strategy, name, np.nan, np.nan, np.nan, np.nan, np.nan))
                    continue
                paired = mc.set_index("run").merge(base_runs, left_index=True, right_index=True,
                                                   suffixes=("", "_b"), how="inner")
                d_npv = (paired["npv"] - paired["npv_b"]).to_numpy(float)
                spend = lambda df, s="": (df["acquisition_spend" + s] + df["retention_spend" + s]  # noqa: E731
                                          + df["winback_spend" + s]).to_numpy(float)
                d_spend = spend(paired) - spend(paired, "_b")
                if not len(d_npv):
                    rows.append((strategy, name, np.nan, np.nan, np.nan, np.nan, np.nan))
                    continue
                rows.append((strategy, name, *_roi_stats(d_npv, d_spend, exact)))
            elif name in per:
                rows.append((strategy, name, *_stats(per[name], exact)))
            else:
                p = periods.get(strategy, results.periods.iloc[:0])
                if name in ("churn_rate", "average_lifetime"):
                    value = _churn_rate(p, _active_stages(results, strategy))
                    value = value if name == "churn_rate" else _lifetime(value)
                else:  # payback_periods
                    cac_mean = float(np.nanmean(per["cac"])) if np.isfinite(per["cac"]).any() else np.nan
                    value = _payback(p, d, cac_mean)
                rows.append((strategy, name, value, np.nan, np.nan if exact else float(len(mc)),
                             np.nan, np.nan))
        for key in sorted(k for k in per if k.startswith("cac:")):
            rows.append((strategy, key, *_stats(per[key], exact)))
    return pd.DataFrame(rows, columns=["strategy", "metric", "mean", "sd", "n", "ci_lo", "ci_hi"])
