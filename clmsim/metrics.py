"""Business metrics and the one summary table of strategies (docs/metrics.md).

Every formula is stated once in docs/metrics.md; this module is its implementation.
Timing follows :data:`clmsim.model.CONVENTION`: cash of period ``t`` is discounted by
``v^t = (1+d)^-t``; a customer acquired in period ``t`` joins at its end.

Two inputs feed the summary:

* the ``runs`` table (one row per strategy and run; the analytic engine writes one
  exact ``run = -1`` row): per-run totals such as ``npv``;
* **paths**: per strategy and *replicate*, the per-period means of the discounted net
  cash and the discounted spend (:func:`paths_from_periods`). A replicate is a batch of
  Monte Carlo runs (the engines return per-period flows as means over the runs of a
  call, so :func:`clmsim.analysis.compare.compare` simulates in batches) or the exact
  expectation. Present values of spend, ROI and the payback of the extra spend come
  from the paths; their Monte Carlo intervals rest on the batches.

:func:`summary_table` is the single summary behind ``clmsim run``, ``clmsim compare``,
sweeps, the HTML report and the API (:func:`summarize` for a Results object,
:meth:`clmsim.analysis.compare.Comparison.table` for a comparison). Intervals come
from :mod:`clmsim.stats`. Undefined values are ``nan`` and never-reached paybacks
``inf``; JSON shows both as ``null``.

Value concentration (top-k% shares of CLV, Gini, share negative, the CLV pyramid) is
:func:`clmsim.concentration.value_concentration`, re-exported here.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from .concentration import value_concentration  # noqa: F401  (value concentration lives in its own module)
from .results import Results
from .stats import band, mean_ci, ratio_ci, wilson

BASELINE = "baseline"

SPEND_COLUMNS = ("acquisition_spend", "retention_spend", "winback_spend")
"""The three spend lines of the ``runs`` and ``periods`` tables (undiscounted)."""

LEVEL_METRICS = (
    "npv", "pv_spend", "clv_acquired", "clv_net_of_cac", "cac", "ltv_cac", "cac_payback_periods",
    "revenue", "contribution", "acquisition_spend", "retention_spend", "winback_spend", "total_spend",
    "acquired", "referred", "churned", "won_back", "contacts", "winback_rate", "active_end",
    "churn_rate", "average_lifetime",
)
"""Per-strategy metrics of :func:`summary_table` (``kind = "level"``; plus ``cac:<channel>``)."""

VS_BASELINE_METRICS = ("npv_diff", "spend_diff", "roi", "npv_per_unit_saved", "payback_periods", "win_share")
"""Per-strategy comparison with the baseline (``kind = "vs_baseline"``), docs/metrics.md."""

EQUAL_SPEND = 0.005
"""Two strategies spend the same when their present values of spend differ by at most this share
of the larger one (0.5%): then no ROI or saving is reported, only the NPV difference."""

SUMMARY_COLUMNS = ("strategy", "kind", "metric", "mean", "sd", "n", "ci_lo", "ci_hi")


def _div(num, den):
    """``num / den`` with ``nan`` where ``den == 0``."""
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den != 0, num / np.where(den != 0, den, 1.0), np.nan)


# ------------------------------------------------------------------ per-run metrics
def npv(runs: pd.DataFrame) -> np.ndarray:
    """``NPV = sum_{t=1..H} v^t (contribution_t - acquisition_t - retention_t - winback_t)``."""
    return runs["npv"].to_numpy(float)


def revenue(runs: pd.DataFrame) -> np.ndarray:
    """Undiscounted revenue paid over the horizon, ``sum_t revenue_t``."""
    return runs["revenue"].to_numpy(float)


def contribution(runs: pd.DataFrame) -> np.ndarray:
    """Undiscounted ``sum_t (revenue x (margin - concession discount) - cost_to_serve)``."""
    return runs["contribution"].to_numpy(float)


def total_spend(runs: pd.DataFrame) -> np.ndarray:
    """Undiscounted ``acquisition_spend + retention_spend + winback_spend`` over the horizon."""
    return sum(runs[c] for c in SPEND_COLUMNS).to_numpy(float)


def spend_by_lever(runs: pd.DataFrame) -> pd.DataFrame:
    """Undiscounted spend per lever: acquisition (and per channel), retention, win-back."""
    cols = list(SPEND_COLUMNS) + [c for c in runs.columns if c.startswith("acquisition_spend:")]
    return runs[["strategy", "run", *cols]].copy()


def cac(runs: pd.DataFrame, channel: str | None = None) -> np.ndarray:
    """Customer acquisition cost ``acquisition_spend / acquired``: the spend of all channels over
    the customers they bought (referrals are free and not counted), or per channel
    ``acquisition_spend:<c> / acquired:<c>``; ``nan`` when nobody was acquired."""
    if channel is None:
        return _div(runs["acquisition_spend"], runs["acquired"])
    return _div(runs[f"acquisition_spend:{channel}"], runs[f"acquired:{channel}"])


def clv_acquired(runs: pd.DataFrame) -> np.ndarray:
    """CLV per acquired customer before acquisition cost: the mean over customers acquired in
    periods 1..H (channels and referrals) of their discounted net cash (contribution - program
    spend - contact cost on them), discounted to their acquisition period, up to the horizon."""
    return runs["clv_acquired"].to_numpy(float)


def clv_net_of_cac(runs: pd.DataFrame) -> np.ndarray:
    """CLV per acquired customer after acquisition cost:
    ``clv_acquired - acquisition_spend / (acquired + referred)`` (the spend spread over every new
    customer, referrals included)."""
    return clv_acquired(runs) - _div(runs["acquisition_spend"], runs["acquired"] + runs["referred"])


def ltv_cac(runs: pd.DataFrame) -> np.ndarray:
    """``LTV / CAC = clv_acquired / cac``; ``nan`` without acquisitions or with zero CAC."""
    return _div(clv_acquired(runs), cac(runs))


def winback_rate(runs: pd.DataFrame) -> np.ndarray:
    """Win-back success per contact: ``won_back / contacts``; ``nan`` without contacts."""
    return _div(runs["won_back"], runs["contacts"])


# ------------------------------------------------------------- return vocabulary
def spend_case(spend_diff: float, base_pv_spend: float, pv_spend: float | None = None) -> str:
    """``"more"``, ``"less"`` or ``"same"``: how a strategy's present value of spend compares with
    the baseline's. Equal within :data:`EQUAL_SPEND` of the larger of the two; ``"unknown"`` when
    the difference is not known."""
    if spend_diff is None or not np.isfinite(spend_diff):
        return "unknown"
    other = base_pv_spend + spend_diff if pv_spend is None else pv_spend
    scale = max(abs(base_pv_spend), abs(other)) if np.isfinite(base_pv_spend) else abs(spend_diff)
    if abs(spend_diff) <= EQUAL_SPEND * scale:
        return "same"
    return "more" if spend_diff > 0 else "less"


def roi(npv_diff: float, spend_diff: float, base_pv_spend: float) -> float:
    """``ROI = dNPV / dPV(spend)`` when the strategy spends more than the baseline, else ``nan``.

    ``dNPV`` is already net of the extra spend: ROI 0 is break-even, 0.25 means each 1 of extra
    spend (present value) returns itself plus 0.25 of NPV."""
    return float(npv_diff / spend_diff) if spend_case(spend_diff, base_pv_spend) == "more" else float("nan")


def npv_per_unit_saved(npv_diff: float, spend_diff: float, base_pv_spend: float) -> float:
    """``dNPV / (-dPV(spend))`` when the strategy spends less than the baseline, else ``nan``:
    NPV gained (positive) or lost (negative) per 1 of spend saved."""
    return float(npv_diff / -spend_diff) if spend_case(spend_diff, base_pv_spend) == "less" else float("nan")


def payback(cumulative) -> float:
    """Payback period of a cumulative discounted NPV difference ``C_1..C_H``: the first period
    ``T`` from which ``C_t > 0`` for every ``t >= T``; ``inf`` when ``C_H <= 0`` (never)."""
    c = np.asarray(cumulative, dtype=float)
    if not c.size or np.isnan(c).any():
        return float("nan")
    bad = np.flatnonzero(c <= 0)
    if not bad.size:
        return 1.0
    return float(bad[-1] + 2) if bad[-1] + 1 < c.size else float("inf")


def baseline_of(results: Results) -> str | None:
    """``baseline`` if evaluated, else ``None`` (comparisons are then undefined)."""
    return BASELINE if BASELINE in results.strategies else None


# ------------------------------------------------------------- period metrics
def discount_rate(results: Results) -> float:
    """Per-period discount rate from provenance, else from ``discounted_net_cash / net_cash``."""
    if results.provenance.get("discount_rate") is not None:
        return float(results.provenance["discount_rate"])
    return rate_from_periods(results.periods)


def rate_from_periods(p: pd.DataFrame) -> float:
    """Per-period discount rate read off a periods table: ``(discounted_net_cash / net_cash)^(-1/t) - 1``."""
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
    return _churn_rate(p[p["strategy"] == strategy], _active_stages(results.clv, results.provenance, strategy))


def _churn_rate(p: pd.DataFrame, active: list[str]) -> float:
    churned = p.loc[p["item"] == "churned", "mean"].sum()
    occ = p[p["item"].isin([f"stage:{s}" for s in active])]
    start = occ.loc[occ["period"] < p["period"].max(), "mean"].sum()
    return float(_div(churned, start))


def _active_stages(clv: pd.DataFrame, provenance: dict, strategy: str) -> list[str]:
    if len(clv) and "kind" in clv.columns:
        sel = clv[(clv["strategy"] == strategy) & (clv["kind"] == "active")]
        return list(dict.fromkeys(sel["stage"]))
    names = provenance.get("active_stages")
    if names:
        return list(names)
    raise ValueError("results carry no stage kinds (clv table or provenance 'active_stages')")


def average_lifetime(results: Results, strategy: str) -> float:
    """``1 / churn_rate`` periods (geometric lifetimes); ``inf`` without churn."""
    return _lifetime(churn_rate(results, strategy))


def _lifetime(c: float) -> float:
    return float("inf") if c == 0 else float(_div(1.0, c))


def cac_payback_periods(results: Results, strategy: str, cac_value: float) -> float:
    """CAC payback: the first ``T >= 1`` with ``sum_{u=1..T} v^u c_u >= CAC``.

    ``c_u`` is the expected net cash in period ``u`` of a customer acquired through the
    channels at time 0 (periods item ``new_customer_net_cash``). ``inf`` if not reached
    within the horizon, ``nan`` without channels or without that item.
    """
    p = results.periods
    return _cac_payback(p[p["strategy"] == strategy], discount_rate(results), cac_value)


def _cac_payback(p: pd.DataFrame, d: float, cac_value: float) -> float:
    sel = p[p["item"] == "new_customer_net_cash"]
    if not len(sel) or not np.isfinite(cac_value):
        return float("nan")
    cash = sel.sort_values("period")["mean"].to_numpy(float)
    if np.isnan(cash).all():
        return float("nan")
    cum = np.cumsum(cash * (1.0 + d) ** -np.arange(1, len(cash) + 1))
    hit = np.flatnonzero(cum >= cac_value - 1e-12 * max(1.0, abs(cac_value)))
    return float(hit[0] + 1) if len(hit) else float("inf")


# ------------------------------------------------------------------ paths
PATHS_FILE = "paths.parquet"
"""File of a paths table beside results written by ``run --out`` and ``compare --out``."""

PATH_COLUMNS = ("strategy", "batch", "runs", "period", "net", "spend")
"""Columns of a paths table: per strategy and replicate (``batch``, of ``runs`` runs; one
``batch = 0`` of ``runs = 1`` for an exact engine), per period ``t = 1..H`` the mean discounted
net cash ``net = v^t net_cash_t`` and the mean discounted spend ``spend = v^t (acquisition_t +
retention_t + winback_t)``."""


def paths_from_periods(periods: pd.DataFrame, v: np.ndarray, runs: int = 1, batch: int = 0) -> pd.DataFrame:
    """The paths of one replicate from an engine's ``periods`` table.

    Parameters
    ----------
    periods : DataFrame
        Tidy per-period means (items ``discounted_net_cash`` and the three spend lines).
    v : array
        Discount factors ``v[t] = (1+d)^-t`` for t = 0..H.
    runs : int
        Runs the means are taken over (1 for an exact engine).
    batch : int
        Replicate label.

    Returns
    -------
    DataFrame
        :data:`PATH_COLUMNS`; empty when ``periods`` lacks the cash items.
    """
    needed = ("discounted_net_cash",) + SPEND_COLUMNS
    if not len(periods) or "item" not in periods.columns or not set(needed) <= set(periods["item"]):
        return pd.DataFrame(columns=list(PATH_COLUMNS))  # an engine without per-period cash: no paths
    p = periods[periods["item"].isin(needed) & (periods["period"] >= 1)]
    wide = p.pivot_table(index=["strategy", "period"], columns="item", values="mean", aggfunc="first",
                         sort=False)
    t = wide.index.get_level_values("period").to_numpy(int)
    spend = sum(wide[c] for c in SPEND_COLUMNS).to_numpy(float) * np.asarray(v, float)[t]
    return pd.DataFrame({"strategy": wide.index.get_level_values("strategy"), "batch": batch, "runs": runs,
                         "period": t, "net": wide["discounted_net_cash"].to_numpy(float), "spend": spend})


def _path_arrays(paths: pd.DataFrame, strategy: str) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """``(batches, sizes, net, spend)``: net and spend summed over each batch's runs, (B, H)."""
    p = paths[paths["strategy"] == strategy]
    net = p.pivot_table(index="batch", columns="period", values="net", aggfunc="first").sort_index()
    spend = p.pivot_table(index="batch", columns="period", values="spend", aggfunc="first").sort_index()
    sizes = p.groupby("batch")["runs"].first().reindex(net.index).to_numpy(float)
    return net.index.to_numpy(), sizes, net.to_numpy(float) * sizes[:, None], spend.to_numpy(float) * sizes[:, None]


# ------------------------------------------------------------------ summary
def _per_run(runs: pd.DataFrame) -> dict[str, np.ndarray]:
    out = {"npv": npv(runs), "clv_acquired": clv_acquired(runs), "clv_net_of_cac": clv_net_of_cac(runs),
           "cac": cac(runs), "ltv_cac": ltv_cac(runs), "revenue": revenue(runs), "contribution": contribution(runs),
           "total_spend": total_spend(runs), "winback_rate": winback_rate(runs)}
    for col in SPEND_COLUMNS + ("acquired", "referred", "churned", "won_back", "contacts", "active_end"):
        out[col] = runs[col].to_numpy(float)
    for col in runs.columns:
        if col.startswith("acquired:"):
            ch = col.split(":", 1)[1]
            if f"acquisition_spend:{ch}" in runs.columns:
                out[f"cac:{ch}"] = cac(runs, ch)
    return out


_NAN = float("nan")


def _row(strategy, kind, metric, stats, exact: bool, n_runs: int):
    """A summary row from ``(mean, sd, lo, hi, n)``; exact values carry no spread or interval."""
    mean, sd, lo, hi, _ = stats
    if exact:
        return (strategy, kind, metric, mean, _NAN, _NAN, _NAN, _NAN)
    return (strategy, kind, metric, mean, sd, float(n_runs), lo, hi)


def _value_stats(values: np.ndarray, alpha: float):
    values = np.asarray(values, dtype=float)
    if values.size > 1 and not np.isfinite(values).all():  # an undefined run: no interval
        with np.errstate(invalid="ignore"):
            return float(values.mean()), _NAN, _NAN, _NAN, values.size
    return mean_ci(values, alpha)


def _batch_stats(num: np.ndarray, den: np.ndarray, alpha: float):
    """Ratio over replicates; one replicate gives the point value without an interval."""
    r, _, lo, hi, n = ratio_ci(num, den, alpha)
    if n < 2:
        lo = hi = _NAN
    return r, _NAN, lo, hi, n


def summary_table(runs: pd.DataFrame, paths: pd.DataFrame | None = None, periods: pd.DataFrame | None = None,
                  *, baseline: str | None = BASELINE, discount: float | None = None, clv: pd.DataFrame | None = None,
                  provenance: dict | None = None, alpha: float = 0.05) -> pd.DataFrame:
    """The summary of strategies: one row per strategy, kind and metric.

    Parameters
    ----------
    runs : DataFrame
        Per-run rows (``strategy``, ``run``, :data:`clmsim.results.RUN_COLUMNS`); ``run = -1``
        rows are exact expectations.
    paths : DataFrame, optional
        Replicate paths (:data:`PATH_COLUMNS`); without them ``pv_spend`` and every
        spend-based comparison are ``nan``.
    periods : DataFrame, optional
        Per-period means, for ``churn_rate``, ``average_lifetime`` and ``cac_payback_periods``.
    baseline : str, optional
        Strategy the comparisons are taken against (rows of kind ``vs_baseline``); None or
        absent from ``runs``: no comparison rows.
    discount : float, optional
        Per-period discount rate (for ``cac_payback_periods``).
    clv, provenance : optional
        Stage kinds (the engine's ``clv`` table, or ``provenance["active_stages"]``) for
        ``churn_rate``.

    Returns
    -------
    DataFrame
        Columns :data:`SUMMARY_COLUMNS`. ``kind = "level"``: :data:`LEVEL_METRICS` (and
        ``cac:<channel>``); ``kind = "vs_baseline"``: :data:`VS_BASELINE_METRICS`. Exact
        rows have ``sd``, ``n`` and the interval ``nan``. Monte Carlo rows: ``n`` runs; per-run
        metrics use the t interval over runs (:func:`clmsim.stats.mean_ci`), ``win_share`` the
        Wilson interval; ``pv_spend``, ``spend_diff``, ``roi``, ``npv_per_unit_saved`` and
        ``payback_periods`` come from the paths with intervals over batches (``sd`` nan).
    """
    rows = []
    strategies = list(dict.fromkeys(runs["strategy"]))
    has_paths = paths is not None and len(paths) > 0
    periods = periods if periods is not None and len(periods) else None
    by_strategy = dict(tuple(periods.groupby("strategy", sort=False))) if periods is not None else {}
    in_paths = set(paths["strategy"]) if has_paths else set()
    arrays = {s: _path_arrays(paths, s) for s in strategies if s in in_paths}
    pv = {}
    for s in strategies:
        sr = runs[runs["strategy"] == s]
        exact = bool((sr["run"] < 0).all())
        mc = sr if exact else sr[sr["run"] >= 0]
        n = len(mc)
        per = _per_run(mc)
        for name in LEVEL_METRICS:
            if name in per:
                rows.append(_row(s, "level", name, _value_stats(per[name], alpha), exact, n))
            elif name == "pv_spend":
                if s in arrays:
                    _, sizes, _, spend = arrays[s]
                    st = _batch_stats(spend.sum(axis=1), sizes, alpha)
                else:
                    st = (_NAN,) * 5
                pv[s] = st[0]
                rows.append(_row(s, "level", name, st, exact, n))
            else:
                value = _NAN
                p = by_strategy.get(s)
                if p is not None and name in ("churn_rate", "average_lifetime"):
                    try:
                        value = _churn_rate(p, _active_stages(clv if clv is not None else pd.DataFrame(),
                                                              provenance or {}, s))
                    except ValueError:
                        value = _NAN
                    value = value if name == "churn_rate" else _lifetime(value)
                elif p is not None and name == "cac_payback_periods":
                    cac_mean = float(np.nanmean(per["cac"])) if np.isfinite(per["cac"]).any() else _NAN
                    d = discount if discount is not None else rate_from_periods(p)
                    value = _cac_payback(p, d, cac_mean)
                rows.append(_row(s, "level", name, (value, _NAN, _NAN, _NAN, 0), exact, n))
        for key in sorted(k for k in per if k.startswith("cac:")):
            rows.append(_row(s, "level", key, _value_stats(per[key], alpha), exact, n))
    if baseline is not None and baseline in strategies:
        rows += _vs_baseline(runs, arrays, pv, strategies, baseline, alpha)
    return pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))


def _vs_baseline(runs, arrays, pv, strategies, baseline, alpha) -> list[tuple]:
    rows = []
    base_runs = runs[runs["strategy"] == baseline].set_index("run")["npv"]
    for s in strategies:
        if s == baseline:
            continue
        sr = runs[runs["strategy"] == s].set_index("run")["npv"]
        exact = bool((sr.index < 0).all())
        joined = pd.concat([sr, base_runs], axis=1, keys=["s", "b"], join="inner")
        if not exact:
            joined = joined[joined.index >= 0]
        d = (joined["s"] - joined["b"]).to_numpy(float)
        n = d.size
        rows.append(_row(s, "vs_baseline", "npv_diff", mean_ci(d, alpha), exact, n))
        nan5 = (_NAN,) * 5
        spend_diff = roi_st = saved_st = pay_st = nan5
        if s in arrays and baseline in arrays:
            bs, sizes, net_s, spend_s = arrays[s]
            bb, _, net_b, spend_b = arrays[baseline]
            if len(bs) == len(bb) and (bs == bb).all():
                dn = (net_s - net_b).sum(axis=1)
                ds = (spend_s - spend_b).sum(axis=1)
                spend_diff = _batch_stats(ds, sizes, alpha)
                case = spend_case(spend_diff[0], pv.get(baseline, _NAN))
                if case == "more":
                    roi_st = _batch_stats(dn, ds, alpha)
                elif case == "less":
                    saved_st = _batch_stats(dn, -ds, alpha)
                mean, lo, hi = band(np.cumsum(net_s - net_b, axis=1), sizes, alpha)
                pay_st = (payback(mean), _NAN, payback(hi), payback(lo), len(sizes))
                if len(sizes) < 2:
                    pay_st = (pay_st[0], _NAN, _NAN, _NAN, 1)
        rows.append(_row(s, "vs_baseline", "spend_diff", spend_diff, exact, n))
        rows.append(_row(s, "vs_baseline", "roi", roi_st, exact, n))
        rows.append(_row(s, "vs_baseline", "npv_per_unit_saved", saved_st, exact, n))
        rows.append(_row(s, "vs_baseline", "payback_periods", pay_st, exact, n))
        if exact or n < 2:
            rows.append((s, "vs_baseline", "win_share", _NAN, _NAN, _NAN, _NAN, _NAN))
        else:
            p, lo, hi = wilson(int((d > 0).sum()), n, alpha)
            rows.append((s, "vs_baseline", "win_share", p, _NAN, float(n), lo, hi))
    return rows


SEGMENT_COLUMNS = ("strategy", "segment", "kind", "metric", "mean", "sd", "n", "ci_lo", "ci_hi")
"""Columns of :func:`segment_table`."""


def segment_table(segment_runs: pd.DataFrame, baseline: str | None = BASELINE, alpha: float = 0.05) -> pd.DataFrame:
    """The per-segment summary: one row per strategy, segment, kind and metric.

    Parameters
    ----------
    segment_runs : DataFrame
        A ``segment_runs`` table (:data:`clmsim.results.SEGMENT_RUN_COLUMNS` per strategy, run
        and segment; ``run = -1`` rows are exact expectations).
    baseline : str, optional
        Strategy the NPV differences are taken against (None or absent: no comparison rows).

    Returns
    -------
    DataFrame
        Columns :data:`SEGMENT_COLUMNS`. ``kind = "level"``: every column of
        :data:`~clmsim.results.SEGMENT_RUN_COLUMNS` with the t interval over runs
        (:func:`clmsim.stats.mean_ci`); ``kind = "vs_baseline"``: ``npv_diff``, the segment's
        NPV minus the baseline's in the same run, paired over runs (common random numbers), with
        the t interval of the differences. Exact rows have ``sd``, ``n`` and the interval ``nan``.
    """
    from .results import SEGMENT_RUN_COLUMNS

    rows = []
    if segment_runs is None or not len(segment_runs):
        return pd.DataFrame(rows, columns=list(SEGMENT_COLUMNS))
    strategies = list(dict.fromkeys(segment_runs["strategy"]))
    segments = list(dict.fromkeys(segment_runs["segment"]))
    npv = segment_runs.pivot_table(index="run", columns=["strategy", "segment"], values="npv", aggfunc="first")
    for s in strategies:
        sr = segment_runs[segment_runs["strategy"] == s]
        exact = bool((sr["run"] < 0).all())
        if not exact:
            sr = sr[sr["run"] >= 0]
        for g in segments:
            one = sr[sr["segment"] == g]
            for name in SEGMENT_RUN_COLUMNS:
                rows.append((g,) + _row(s, "level", name, _value_stats(one[name].to_numpy(float), alpha), exact,
                                        len(one)))
            if baseline is not None and baseline in strategies and s != baseline:
                both = npv[[(s, g), (baseline, g)]].dropna()
                if not exact:
                    both = both[both.index >= 0]
                d = (both[(s, g)] - both[(baseline, g)]).to_numpy(float)
                rows.append((g,) + _row(s, "vs_baseline", "npv_diff", mean_ci(d, alpha), exact, d.size))
    out = pd.DataFrame([(r[1], r[0], *r[2:]) for r in rows], columns=list(SEGMENT_COLUMNS))
    return out


def summarize(results: Results, baseline: str | None = BASELINE, alpha: float = 0.05) -> pd.DataFrame:
    """:func:`summary_table` of one engine call (see there for the columns).

    The paths are the call's per-period means: one replicate, so ``pv_spend`` and the
    spend-based comparisons are exact for the analytic engine and point estimates without an
    interval for a single Monte Carlo call (:func:`clmsim.analysis.compare.compare` and
    ``clmsim run`` simulate in batches to give them intervals).
    """
    v = results_discount_factors(results)
    paths = paths_from_periods(results.periods, v, int(results.provenance.get("runs") or 1)) \
        if v is not None and len(results.periods) else None
    return summary_table(results.runs, paths, results.periods, baseline=baseline, discount=discount_rate(results),
                         clv=results.clv, provenance=results.provenance, alpha=alpha)


def results_discount_factors(results: Results) -> np.ndarray | None:
    """``v[t] = (1+d)^-t`` for t = 0..H from a Results' discount rate and horizon (None if unknown)."""
    d = discount_rate(results)
    p = results.periods
    if not np.isfinite(d) or not len(p):
        return None
    horizon = int(results.provenance.get("horizon") or p["period"].max())
    return (1.0 + d) ** -np.arange(horizon + 1, dtype=float)
