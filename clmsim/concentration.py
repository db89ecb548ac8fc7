"""Value concentration: how unevenly customer lifetime value is spread (docs/metrics.md).

The "80/20 of customer value": the share of total CLV held by the top ``k%`` of customers,
the Lorenz curve and its Gini coefficient, the share of customers whose CLV is negative and
a CLV pyramid (tiers of customers by rank). :func:`value_concentration` is the one
implementation; :mod:`clmsim.metrics` re-exports it.

Source and estimator
--------------------
The only per-customer data the engines return is the fast engine's CLV histogram
(``Results.clv_hist``, individual mode): per strategy and cohort (``acquired``: customers the
channels and referrals brought in during periods 1..H; ``initial``: the customers present at
time 0) the count of customers whose realised CLV -- discounted contribution minus program and
contact spend on them, discounted to their entry, up to the horizon, acquisition cost not
subtracted -- falls in each bin ``[lo, hi)`` of a fixed grid (two open bins catch values
outside it). The analytic engine gives expectations only (no distribution across customers);
counts mode and the des engine write no histogram.

Every statistic assumes customers spread **uniformly inside their bin**. Write the customers
ranked from the most valuable down, ``x_(1) >= ... >= x_(N)``, and ``T = sum_i x_i``:

* **top-k% share** ``S(p) = (x_(1) + ... + x_(pN)) / T`` (p = k/100, fractional ranks
  interpolated). With negative CLVs ``T`` is the *net* total, so ``S(p)`` can exceed 1.
* **Lorenz curve** ``L(q) = 1 - S(1 - q)``: the share of ``T`` held by the bottom ``q`` of
  customers; piecewise quadratic under the uniform assumption.
* **Gini** ``G = 1 - 2 int_0^1 L(q) dq`` (integrated exactly per bin); 0 when everyone is worth
  the same, towards 1 when one customer holds everything; above 1 is possible when some CLVs
  are negative.
* **share negative** ``P(CLV < 0)``: bins below 0 plus the part of the bin holding 0 that lies
  below 0. Customers acquired in the last period are worth exactly 0 (their first cash would
  fall after the horizon); their expected share (``periods`` items ``acquired`` and ``referred``
  of period H) is taken out of that bin first.
* **tiers** (pyramid) ``[p_a, p_b)`` of the ranking: customers, share of customers, share of
  ``T`` ``S(p_b) - S(p_a)``, mean CLV ``T (S(p_b) - S(p_a)) / (N (p_b - p_a))`` and the CLV at
  the tier's edges (histogram quantiles).

**Binning error.** Given the histogram, the true value of each statistic lies in a range
``[bin_lo, bin_hi]`` found by moving every customer anywhere inside its bin (the i-th ranked
value is known to lie in one bin; for the Gini coefficient numerator and denominator are bounded
separately, a conservative range); ``bin_error`` is the larger distance from the estimate to that
range's ends. With bins of width ``w`` it is about ``(p + |S(p)|) w / |mean CLV|`` for ``S(p)``
(every customer moved by up to one bin: the top ``p`` change the numerator, everyone the total)
and the share of customers in the bin holding 0 for ``share_negative`` (customers near 0 sit in
that bin). More bins (fast engine option ``hist_bins``) shrink it. When
customers fall in the open bins, those bins are given their neighbour's width and the error
is unbounded (``Histogram.outside`` counts them).

**Intervals over runs.** ``clmsim run`` and :func:`clmsim.analysis.compare.simulate_in_batches`
keep one histogram per batch of runs (column ``batch``): the estimate comes from the pooled
histogram and its interval is the batch-means t interval ``est +- t_{B-1} sd_b / sqrt(B)``
(``sd_b``: spread of the statistic over the ``B`` batches). A single histogram has no interval.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from .errors import ClmsimError
from .stats import mean_ci

TOP_PERCENTS = (1, 5, 10, 20, 50)
"""Default ``k`` of the top-k% shares."""

TIERS = (("top 1%", 0, 1), ("next 4%", 1, 5), ("next 15%", 5, 20), ("next 30%", 20, 50),
         ("bottom 50%", 50, 100))
"""Default CLV pyramid: ``(label, from %, to %)`` of the ranking, most valuable first."""

CONCENTRATION_COLUMNS = ("strategy", "cohort", "metric", "estimate", "ci_lo", "ci_hi", "bin_error", "bin_lo",
                         "bin_hi", "batches", "customers")
TIER_COLUMNS = ("strategy", "cohort", "tier", "from_pct", "to_pct", "customers_per_run", "customer_share",
                "clv_share", "clv_share_lo", "clv_share_hi", "mean_clv", "clv_from", "clv_to")


@dataclass(frozen=True)
class Histogram:
    """Counts of customers per CLV bin ``[edges[j], edges[j+1])``; ``outside``: customers in
    the open end bins (closed here at their neighbour's width); ``zeros``: customers known to be
    worth exactly 0 (see :func:`negative_share`)."""

    edges: np.ndarray
    counts: np.ndarray
    outside: float
    zeros: float = 0.0

    @property
    def n(self) -> float:
        return float(self.counts.sum())

    @property
    def total(self) -> float:
        return float((self.counts * (self.edges[:-1] + self.edges[1:]) / 2).sum())


def finite_edges(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    """Bin edges of consecutive bins ``[lo, hi)`` with open-ended end bins (``lo = -inf`` or
    ``hi = +inf``) closed at one neighbouring bin width."""
    edges = np.concatenate([lo, hi[-1:]]).astype(float)
    if len(edges) >= 3:
        if not np.isfinite(edges[0]):
            edges[0] = edges[1] - (edges[2] - edges[1])
        if not np.isfinite(edges[-1]):
            edges[-1] = edges[-2] + (edges[-2] - edges[-3])
    return edges


def histogram(rows: pd.DataFrame, zero_share: float = 0.0) -> Histogram:
    """A :class:`Histogram` from ``clv_hist`` rows (``lo``, ``hi``, ``count``), summed over any
    other columns (batches, runs); ``zero_share`` of its customers are worth exactly 0."""
    h = rows.groupby(["lo", "hi"], as_index=False)["count"].sum().sort_values("lo")
    nz = np.flatnonzero(h["count"].to_numpy() > 0)
    if len(nz):
        h = h.iloc[nz[0]: nz[-1] + 1]  # empty bins beyond the extreme customers carry nothing
    lo, hi, c = (h[k].to_numpy(float) for k in ("lo", "hi", "count"))
    edges = finite_edges(lo, hi)
    outside = float(c[~np.isfinite(lo) | ~np.isfinite(hi)].sum())
    if not np.isfinite(edges).all():
        raise ClmsimError("clv_hist: needs at least one finite bin")
    return Histogram(edges, c, outside, zero_share * float(c.sum()))


# ------------------------------------------------------------------ ranked sums
def _top_sum(h: Histogram, p: float, where: str = "mid") -> float:
    """Sum of the top ``p N`` values: customers uniform inside bins (``where="mid"``) or all at
    their bin's lower (``"lo"``) or upper (``"hi"``) edge."""
    n = p * h.n
    c = h.counts[::-1]
    lo, hi = h.edges[:-1][::-1], h.edges[1:][::-1]
    w = hi - lo
    before = np.concatenate([[0.0], np.cumsum(c)])
    full = np.clip(n - before[:-1], 0.0, c)            # customers taken from each bin, from the top
    if where == "lo":
        return float((full * lo).sum())
    if where == "hi":
        return float((full * hi).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        part = np.where(c > 0, full * (hi - full * w / (2 * np.where(c > 0, c, 1))), 0.0)
    return float(part.sum())


def top_share(h: Histogram, p: float) -> tuple[float, float, float]:
    """``(S(p), lo, hi)``: share of the net total CLV held by the top ``p`` of customers and the
    range it can take with every customer anywhere inside its bin."""
    T = h.total
    if h.n == 0 or T == 0:
        return (float("nan"),) * 3
    est = _top_sum(h, p) / T
    corners = []
    for s in (_top_sum(h, p, "lo"), _top_sum(h, p, "hi")):
        rest_lo = _top_sum(h, 1.0, "lo") - _top_sum(h, p, "lo")
        rest_hi = _top_sum(h, 1.0, "hi") - _top_sum(h, p, "hi")
        for r in (rest_lo, rest_hi):
            corners.append(s / (s + r) if s + r != 0 and np.sign(s + r) == np.sign(T) else np.nan)
    return _range(est, corners)


def _range(est: float, corners) -> tuple[float, float, float]:
    """``(est, lo, hi)`` from the corner values of a range (a corner with the total's sign
    flipped leaves the range unbounded)."""
    c = np.asarray(corners, float)
    if np.isnan(c).any():
        return est, -np.inf, np.inf
    return est, float(min(c.min(), est)), float(max(c.max(), est))


def lorenz(h: Histogram, points: int = 101) -> tuple[np.ndarray, np.ndarray]:
    """Lorenz curve ``(q, L(q))`` at ``points`` evenly spaced shares of customers."""
    q = np.linspace(0.0, 1.0, points)
    T = h.total
    return q, np.array([1.0 - _top_sum(h, 1.0 - x) / T for x in q])


def gini(h: Histogram) -> tuple[float, float, float]:
    """``(G, lo, hi)`` with ``G = 1 - 2 int L``, exact per bin under the uniform assumption.

    Per bin (ascending, ``c`` customers, width ``w``, cumulative value ``V`` below it) the
    area is ``(c/N) (V + c (lo/2 + w/6)) / T``. The error range moves every customer to its
    bin's edges: ``G = sum_i (2i - N - 1) x_(i) / (N T)`` (ascending ranks) with each ``x`` in
    its bin; numerator and denominator are bounded separately (a conservative range)."""
    N, T = h.n, h.total
    if N == 0 or T == 0:
        return (float("nan"),) * 3
    lo, w, c = h.edges[:-1], np.diff(h.edges), h.counts
    V = np.concatenate([[0.0], np.cumsum(c * (lo + w / 2))])[:-1]
    area = float(((c / N) * (V + c * (lo / 2 + w / 6))).sum() / T)
    est = 1.0 - 2.0 * area
    # ranks i = k+1 .. k+c inside a bin: sum of |2i - N - 1| and of (2i - N - 1)
    k = np.concatenate([[0.0], np.cumsum(c)])[:-1]
    a, b = 2 * k + 2 - N - 1, 2 * (k + c) - N - 1          # coefficient of the first and last rank
    coef_sum = c * (a + b) / 2
    abs_sum = np.where(a * b >= 0, np.abs(coef_sum), (a ** 2 + b ** 2) / 4 + (np.abs(a) + np.abs(b)) / 2)
    num = float((coef_sum * (lo + w / 2)).sum())
    d_num = float((abs_sum * w / 2).sum())
    d_T = float((c * w / 2).sum())
    corners = [(num + s1 * d_num) / (N * (T + s2 * d_T)) if np.sign(T + s2 * d_T) == np.sign(T) else np.nan
               for s1 in (-1, 1) for s2 in (-1, 1)]
    return _range(est, corners)


def negative_share(h: Histogram) -> tuple[float, float, float]:
    """``(P(CLV < 0), lo, hi)``: bins below 0 plus the below-0 part of the bin holding 0; the range
    counts none or all of that bin. The customers known to be worth exactly 0 (``h.zeros``) are
    taken out of that bin first: they are not negative."""
    N = h.n
    if N == 0:
        return (float("nan"),) * 3
    lo, hi, c = h.edges[:-1], h.edges[1:], h.counts
    below = float(c[hi <= 0].sum())
    straddle = (lo < 0) & (hi > 0)
    rest = np.maximum(c[straddle] - h.zeros, 0.0)
    frac = float((rest * (-lo[straddle]) / (hi - lo)[straddle]).sum())
    return (below + frac) / N, below / N, float(below + rest.sum()) / N


def hist_quantile(edges: np.ndarray, counts: np.ndarray, q: float) -> float:
    """Quantile ``q`` of a histogram, linear inside the bin (uniform-within-bin assumption)."""
    cum = np.concatenate([[0.0], np.cumsum(counts, dtype=float)])
    return float(np.interp(q * cum[-1], cum, edges))


def value_at_rank(h: Histogram, p: float) -> float:
    """CLV of the customer at share ``p`` of the ranking from the top (linear inside bins)."""
    return hist_quantile(h.edges, h.counts, 1.0 - p)


# ------------------------------------------------------------------ the metric
@dataclass
class ValueConcentration:
    """What :func:`value_concentration` returns.

    Attributes
    ----------
    table : DataFrame
        Columns :data:`CONCENTRATION_COLUMNS`: per strategy and cohort, metrics ``top_<k>pct_share``,
        ``gini``, ``share_negative``, ``mean_clv`` (per customer, currency units), with the
        estimate from the pooled histogram, the batch-means interval (NaN for one batch), the
        range the histogram allows (``bin_lo``, ``bin_hi``: every customer anywhere inside its bin;
        infinite when customers fall outside the histogram's range), ``bin_error`` = the larger
        distance from the estimate to that range's ends, and the customers counted (all runs).
    tiers : DataFrame
        Columns :data:`TIER_COLUMNS`: the CLV pyramid; ``clv_share_lo/hi`` is the interval over
        batches.
    lorenz : DataFrame
        ``strategy``, ``cohort``, ``customer_share`` (bottom q), ``clv_share`` (L(q)).
    notes : list of str
        Caveats (customers outside the histogram range, one batch only).
    """

    table: pd.DataFrame
    tiers: pd.DataFrame
    lorenz: pd.DataFrame
    notes: list

    def metric(self, name: str, strategy: str | None = None) -> pd.Series:
        """The row of ``name`` (first strategy unless given)."""
        t = self.table
        strategy = strategy if strategy is not None else t["strategy"].iloc[0]
        return t[(t["metric"] == name) & (t["strategy"] == strategy)].iloc[0]

    def to_dict(self) -> dict:
        """JSON-ready: ``{"cohort", "strategies": {s: {metric: {"mean", "ci95", "bin_range"}, "tiers": [...]}},
        "notes"}``; NaN and infinite values are ``None`` (docs/cli.md)."""
        def num(x):
            return float(x) if np.isfinite(x) else None

        def pair(a, b):
            return None if num(a) is None or num(b) is None else [num(a), num(b)]

        out = {}
        for s, t in self.table.groupby("strategy", sort=False):
            d = {r.metric: {"mean": num(r.estimate), "ci95": pair(r.ci_lo, r.ci_hi),
                            "bin_range": pair(r.bin_lo, r.bin_hi)} for r in t.itertuples()}
            d["tiers"] = [{"tier": r.tier, "customer_share": num(r.customer_share), "clv_share": num(r.clv_share),
                           "ci95": pair(r.clv_share_lo, r.clv_share_hi), "mean_clv": num(r.mean_clv),
                           "customers_per_run": num(r.customers_per_run)}
                          for r in self.tiers[self.tiers["strategy"] == s].itertuples()]
            out[s] = d
        cohort = self.table["cohort"].iloc[0] if len(self.table) else None
        return {"cohort": cohort, "strategies": out, "notes": list(self.notes)}


def _stats(h: Histogram, top: Sequence[float], tiers) -> dict[str, tuple[float, float, float]]:
    """Every scalar statistic of one histogram: name -> (estimate, binning range lo, hi)."""
    out = {f"top_{k:g}pct_share": top_share(h, k / 100) for k in top}
    out["gini"] = gini(h)
    out["share_negative"] = negative_share(h)
    mean = h.total / h.n if h.n else float("nan")
    out["mean_clv"] = (mean, float((h.counts * h.edges[:-1]).sum() / h.n) if h.n else mean,
                       float((h.counts * h.edges[1:]).sum() / h.n) if h.n else mean)
    for label, a, b in tiers:
        out[f"tier:{label}"] = ((_top_sum(h, b / 100) - _top_sum(h, a / 100)) / h.total
                                if h.total else float("nan"), float("nan"), float("nan"))
    return out


def _last_period_share(periods, strategy: str) -> float:
    """Share of the acquired customers who joined in the last period (expected, from the
    ``periods`` items ``acquired`` and ``referred``): their CLV is exactly 0, as their first cash
    would fall after the horizon. 0 when the table lacks the items."""
    if not isinstance(periods, pd.DataFrame) or not len(periods) or "item" not in periods.columns:
        return 0.0
    p = periods[(periods["strategy"] == strategy) & periods["item"].isin(("acquired", "referred"))]
    if not len(p):
        return 0.0
    total = float(p["mean"].sum())
    last = float(p.loc[p["period"] == p["period"].max(), "mean"].sum())
    return last / total if total > 0 else 0.0


def _interval(est: float, per_batch: list[float], alpha: float) -> tuple[float, float]:
    vals = np.asarray(per_batch, float)
    if vals.size < 2 or not np.isfinite(vals).all():
        return float("nan"), float("nan")
    _, _, lo, hi, _ = mean_ci(vals, alpha)
    hw = (hi - lo) / 2
    return est - hw, est + hw


def value_concentration(results, strategies: str | Sequence[str] | None = None, *, cohort: str | None = None,
                        top: Sequence[float] = TOP_PERCENTS, tiers=TIERS, alpha: float = 0.05,
                        lorenz_points: int = 101) -> ValueConcentration:
    """Top-k% shares of CLV, Gini, share of customers with negative CLV and a CLV pyramid.

    Parameters
    ----------
    results : Results
        With a ``clv_hist`` table (fast engine, individual mode); a ``batch`` column (as
        ``clmsim run`` and :func:`clmsim.analysis.compare.simulate_in_batches` write) gives
        intervals over batches of runs.
    strategies : str or sequence, optional
        Default: every strategy in the histogram.
    cohort : {"acquired", "initial"}, optional
        Customers acquired during the horizon or present at time 0; default ``"acquired"`` when
        the histogram holds any, else ``"initial"``.
    top : sequence of float
        ``k`` of the top-k% shares (percent, default :data:`TOP_PERCENTS`).
    tiers : sequence of (label, from %, to %)
        Pyramid tiers by rank (default :data:`TIERS`).
    alpha : float
        1 - confidence of the intervals.

    Returns
    -------
    ValueConcentration
        See the module docstring for the formulas, the estimator and its binning error.

    Raises
    ------
    ClmsimError
        When the results hold no per-customer CLV (analytic engine, counts mode, des engine).
    """
    hist = getattr(results, "clv_hist", None)
    prov = getattr(results, "provenance", {}) or {}
    if not isinstance(hist, pd.DataFrame) or not len(hist):
        engine = prov.get("engine", "")
        why = ("the analytic engine gives expected values only, not their spread over customers"
               if engine == "analytic" else
               f"these results ({engine or 'unknown'} engine, {prov.get('mode') or 'unknown'} mode) hold no "
               "per-customer CLV histogram")
        raise ClmsimError(f"value concentration needs the CLV of every customer: {why}; run the fast engine in "
                          "individual mode (clmsim run --engine fast --mode individual)")
    for col in ("strategy", "lo", "hi", "count"):
        if col not in hist.columns:
            raise ClmsimError(f"clv_hist: missing column {col!r}")
    if "cohort" in hist.columns:
        if cohort is None:
            cohort = "acquired" if hist.loc[hist["cohort"] == "acquired", "count"].sum() > 0 else "initial"
        if cohort not in set(hist["cohort"]):
            raise ClmsimError(f"clv_hist has no cohort {cohort!r} (have: {', '.join(sorted(set(hist['cohort'])))})")
        hist = hist[hist["cohort"] == cohort]
    cohort = cohort or "all"
    names = list(dict.fromkeys(hist["strategy"])) if strategies is None else \
        ([strategies] if isinstance(strategies, str) else list(strategies))
    runs = int(prov.get("runs") or 0)
    rows, tier_rows, curves, notes = [], [], [], []
    for s in names:
        hs = hist[hist["strategy"] == s]
        if not len(hs) or hs["count"].sum() == 0:
            raise ClmsimError(f"no {cohort} customers in clv_hist for strategy {s!r}")
        zero = _last_period_share(getattr(results, "periods", None), s) if cohort == "acquired" else 0.0
        pooled = histogram(hs, zero)
        est = _stats(pooled, top, tiers)
        batches = [histogram(g, zero) for _, g in hs.groupby("batch")] if "batch" in hs.columns else []
        per = [_stats(b, top, tiers) for b in batches]
        for name, (value, b_lo, b_hi) in est.items():
            lo, hi = _interval(value, [p[name][0] for p in per], alpha)
            if name.startswith("tier:"):
                continue
            if pooled.outside and name != "share_negative":
                b_lo, b_hi = -np.inf, np.inf
            err = max(value - b_lo, b_hi - value)
            rows.append((s, cohort, name, value, lo, hi, err, b_lo, b_hi, max(len(batches), 1), pooled.n))
        for label, a, b in tiers:
            value = est[f"tier:{label}"][0]
            lo, hi = _interval(value, [p[f"tier:{label}"][0] for p in per], alpha)
            n_tier = pooled.n * (b - a) / 100
            tier_rows.append((s, cohort, label, a, b, n_tier / runs if runs else np.nan, (b - a) / 100, value, lo, hi,
                              value * pooled.total / n_tier if n_tier else np.nan,
                              value_at_rank(pooled, a / 100), value_at_rank(pooled, b / 100)))
        q, L = lorenz(pooled, lorenz_points)
        curves.append(pd.DataFrame({"strategy": s, "cohort": cohort, "customer_share": q, "clv_share": L}))
        if pooled.outside:
            notes.append(f"{s}: {pooled.outside:,.0f} customers lie outside the histogram's range; their bins are "
                         "taken at their neighbour's width, so the binning error is not a bound")
    if "batch" not in hist.columns:
        notes.append("one histogram (no batches): no interval over runs")
    return ValueConcentration(pd.DataFrame(rows, columns=list(CONCENTRATION_COLUMNS)),
                              pd.DataFrame(tier_rows, columns=list(TIER_COLUMNS)),
                              pd.concat(curves, ignore_index=True), notes)
