"""Distribution of customer lifetime value with its mean and interval.

Two sources, in order of preference:

* ``clv_hist`` (Monte Carlo engines, individual mode): a histogram of per-customer
  CLV with bins ``[lo, hi)`` and ``count`` (and, when present, a ``cohort`` column:
  ``acquired`` customers are shown by default). The mean is ``sum(mid * count) / N``
  (bin midpoints; exact up to binning) and the interval is the 5-95% range of the
  customers, read off the cumulative histogram by linear interpolation inside bins.
  Open-ended overflow bins (``lo = -inf`` or ``hi = +inf``) are given the width of
  their neighbour; empty bins at either end are not drawn.
* ``runs`` (any Monte Carlo engine): per-run ``clv_acquired`` (mean CLV of the
  customers acquired in that run). The mean is across runs, with the 95% t interval
  of that mean (:func:`clmsim.stats.mean_ci`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd

from ..concentration import finite_edges, hist_quantile
from ..errors import ClmsimError
from ..stats import mean_ci
from ._data import require_columns, runs_table
from .style import color, money, money_formatter, new_axes, style_context


@dataclass(frozen=True)
class ClvSummary:
    """What :func:`clv_distribution` draws for one strategy.

    ``edges``/``share``: histogram (share of customers or runs per bin); ``mean``;
    ``lo``/``hi``: the interval drawn (see ``interval``); ``source`` is ``"clv_hist"`` or ``"runs"``.
    """

    strategy: str
    source: str
    edges: np.ndarray
    share: np.ndarray
    mean: float
    lo: float
    hi: float
    interval: str
    n: int


def clv_summary(data, strategy: str, *, source: str = "auto", bins: int = 30,
                cohort: str | None = "acquired") -> ClvSummary:
    """Histogram, mean and interval of CLV for one strategy (see the module docstring).

    ``cohort`` selects the rows of a ``clv_hist`` that has a ``cohort`` column
    (``"acquired"`` or ``"initial"``; None = all cohorts summed).
    """
    hist = getattr(data, "clv_hist", None)
    if source in ("auto", "clv_hist") and isinstance(hist, pd.DataFrame) and len(hist):
        require_columns(hist, ("strategy", "lo", "hi", "count"), "clv_hist")
        h = hist[hist["strategy"] == strategy]
        if cohort is not None and "cohort" in h.columns:
            h = h[h["cohort"] == cohort]
        h = h.groupby(["lo", "hi"], as_index=False)["count"].sum().sort_values("lo")
        if len(h) and h["count"].sum() > 0:
            nz = np.flatnonzero(h["count"].to_numpy() > 0)
            h = h.iloc[max(nz[0] - 1, 0): nz[-1] + 2]  # drop empty tails, keep one empty bin each side
            edges = finite_edges(h["lo"].to_numpy(float), h["hi"].to_numpy(float))
            counts = h["count"].to_numpy(float)
            mid = (edges[:-1] + edges[1:]) / 2
            n = counts.sum()
            return ClvSummary(strategy, "clv_hist", edges, counts / n, float((mid * counts).sum() / n),
                              hist_quantile(edges, counts, 0.05), hist_quantile(edges, counts, 0.95),
                              "5-95% of customers", int(n))
    if source == "clv_hist":
        raise ClmsimError(f"no clv_hist rows for strategy '{strategy}'")
    runs = runs_table(data)
    require_columns(runs, ("clv_acquired",), "runs")
    mine = runs[(runs["strategy"] == strategy) & (runs["run"] >= 0)]["clv_acquired"]
    r = mine.dropna().to_numpy(float)
    if r.size < 2:
        if len(mine) >= 2 and r.size == 0:
            raise ClmsimError(f"no CLV distribution for strategy '{strategy}': it acquires no customers, so CLV "
                              "per acquired customer is undefined in every run")
        raise ClmsimError(f"no CLV distribution for strategy '{strategy}': it needs a Monte Carlo engine "
                          "(fast or des) with at least 2 runs")
    counts, edges = np.histogram(r, bins=min(bins, max(5, r.size // 5)))
    mean, _, lo, hi, n = mean_ci(r)
    return ClvSummary(strategy, "runs", edges, counts / r.size, mean, lo, hi, "95% CI of the mean", n)


def clv_distribution(data, strategies: str | Sequence[str] = "baseline", *, ax=None, source: str = "auto",
                     cohort: str | None = "acquired", currency: str = "", title: str | None = None):
    """Histogram of CLV per strategy with its mean (solid line) and interval (shaded).

    Parameters
    ----------
    data : Results
        With ``clv_hist`` or Monte Carlo ``runs`` (column ``clv_acquired``).
    strategies : str or sequence of str
        One or more strategies, overlaid as outlines (the first is also filled).
    ax : Axes, optional
    source : {"auto", "clv_hist", "runs"}
    cohort : str or None
        Cohort of a ``clv_hist`` with a ``cohort`` column (default ``"acquired"``).
    currency : str
        Symbol for the x axis (e.g. ``"¥"``); default none (currency units).
    title : str, optional

    Returns
    -------
    matplotlib.axes.Axes
        Histograms are ``StepPatch`` artists (``get_data()`` gives shares and edges), means are
        vertical lines labelled ``"mean <strategy>"``.
    """
    names = [strategies] if isinstance(strategies, str) else list(strategies)
    sums = [clv_summary(data, s, source=source, cohort=cohort) for s in names]
    with style_context(names):
        ax = new_axes(ax)
        for i, sm in enumerate(sums):
            c = color(i)
            ax.stairs(sm.share, sm.edges, fill=(i == 0), alpha=0.35 if i == 0 else 1.0, color=c,
                      label=f"{sm.strategy} (n={sm.n:,})")
            ax.axvspan(sm.lo, sm.hi, color=c, alpha=0.12, linewidth=0)
            ax.axvline(sm.mean, color=c, linewidth=2,
                       label=f"mean {sm.strategy}: {money(sm.mean, currency)} "
                             f"[{money(sm.lo, currency)}, {money(sm.hi, currency)}]")
        src = sums[0]
        what = "customers" if src.source == "clv_hist" else "runs"
        who = "acquired" if cohort in ("acquired", None) or src.source == "runs" else str(cohort)
        ax.set_xlabel(f"CLV per {who} customer" + (f" ({currency})" if currency else " (currency units)")
                      + ("" if src.source == "clv_hist" else ", mean per run"))
        ax.set_ylabel(f"share of {what}")
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.set_ylim(bottom=0)
        ax.set_title(title if title is not None else f"CLV distribution (shaded: {src.interval})")
        ax.legend(loc="upper right")
    return ax
