"""Value concentration and cohorts: the Lorenz curve of CLV, the CLV pyramid and a cohort x age heatmap.

Data come from :func:`clmsim.metrics.value_concentration` (``lorenz``, ``tiers``, ``table``) and
:func:`clmsim.engines.analytic.cohorts.cohort_table`; the functions only draw.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..errors import ClmsimError
from ._data import require_columns
from .style import NEUTRAL, color, money_formatter, new_axes, percent_formatter, style_context


def lorenz_curve(lorenz: pd.DataFrame, strategies: str | Sequence[str] | None = None, *, ax=None,
                 mark: float | None = 0.2, gini: dict | None = None, title: str | None = None):
    """Lorenz curve of CLV: share of total CLV held by the bottom ``q`` of customers.

    Parameters
    ----------
    lorenz : DataFrame
        ``strategy``, ``customer_share``, ``clv_share`` (``ValueConcentration.lorenz``).
    strategies : str or sequence, optional
        Default: all in ``lorenz``.
    mark : float, optional
        Mark the top ``mark`` share of customers (default the top 20%) with a dotted guide.
    gini : dict, optional
        Strategy -> Gini coefficient, shown in the legend.

    Returns
    -------
    matplotlib.axes.Axes
        One line per strategy labelled with its name; the equality diagonal is labelled
        ``"everyone worth the same"``.
    """
    require_columns(lorenz, ("strategy", "customer_share", "clv_share"), "lorenz")
    names = list(dict.fromkeys(lorenz["strategy"])) if strategies is None else \
        ([strategies] if isinstance(strategies, str) else list(strategies))
    with style_context(names):
        ax = new_axes(ax)
        ax.plot([0, 1], [0, 1], color=NEUTRAL, linestyle="--", linewidth=1, label="everyone worth the same")
        for i, s in enumerate(names):
            d = lorenz[lorenz["strategy"] == s].sort_values("customer_share")
            if d.empty:
                raise ClmsimError(f"no Lorenz curve for strategy '{s}'")
            g = (gini or {}).get(s)
            label = s if g is None else f"{s} (Gini {g:.2f})"
            ax.plot(d["customer_share"], d["clv_share"], color=color(i), linewidth=2, label=label)
            if i == 0:
                ax.fill_between(d["customer_share"], d["clv_share"], d["customer_share"], color=color(i), alpha=0.1,
                                linewidth=0)
            if mark is not None and i == 0:
                q = 1.0 - mark
                y = float(np.interp(q, d["customer_share"], d["clv_share"]))
                ax.plot([q, q], [min(0.0, y), y], color=color(i), linestyle=":", linewidth=1)
                ax.plot([0, q], [y, y], color=color(i), linestyle=":", linewidth=1)
                ax.annotate(f"top {mark:.0%} of customers hold {1 - y:.0%} of CLV", xy=(q, y),
                            xytext=(0.04, max(y, 0.0) + 0.08), fontsize=9, color=color(i),
                            arrowprops=dict(arrowstyle="->", color=color(i), lw=0.8))
        low = min(0.0, float(lorenz["clv_share"].min()))
        ax.axhline(0, color="black", linewidth=0.6)
        ax.set_xlim(0, 1)
        ax.set_ylim(low - 0.02, 1.02)
        ax.xaxis.set_major_formatter(percent_formatter())
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.set_xlabel("share of customers, least valuable first")
        ax.set_ylabel("share of total CLV")
        ax.set_title(title if title is not None else "Lorenz curve of customer lifetime value")
        ax.legend(loc="upper left")
    return ax


def clv_pyramid(tiers: pd.DataFrame, strategy: str | None = None, *, ax=None, currency: str = "",
                title: str | None = None):
    """CLV pyramid: per tier of customers (most valuable on top), its share of customers (left)
    and its share of total CLV (right), with the interval over runs when known.

    Parameters
    ----------
    tiers : DataFrame
        ``ValueConcentration.tiers`` (``tier``, ``customer_share``, ``clv_share``, optional
        ``clv_share_lo``/``clv_share_hi`` and ``mean_clv``).
    strategy : str, optional
        Default: the first in ``tiers``.

    Returns
    -------
    matplotlib.axes.Axes
        Bars: ``ax.patches`` holds the customer bars (negative widths, drawn to the left) then
        the CLV bars; y tick labels are the tier names.
    """
    require_columns(tiers, ("strategy", "tier", "customer_share", "clv_share"), "tiers")
    strategy = strategy if strategy is not None else tiers["strategy"].iloc[0]
    d = tiers[tiers["strategy"] == strategy].reset_index(drop=True)
    if d.empty:
        raise ClmsimError(f"no CLV tiers for strategy '{strategy}'")
    y = np.arange(len(d))[::-1]
    with style_context(list(d["tier"])):
        ax = new_axes(ax)
        cust = d["customer_share"].to_numpy(float)
        clv = d["clv_share"].to_numpy(float)
        ax.barh(y, -cust, color=NEUTRAL, alpha=0.55, label="share of customers")
        err = None
        if {"clv_share_lo", "clv_share_hi"} <= set(d.columns) and d["clv_share_lo"].notna().all():
            err = np.vstack([clv - d["clv_share_lo"].to_numpy(float), d["clv_share_hi"].to_numpy(float) - clv])
        ax.barh(y, clv, height=0.5, color=color(0), xerr=err, ecolor="black", capsize=3,
                label="share of total CLV")  # narrower: a negative share stays visible over the grey bar
        span = max(float(np.max(np.abs(clv))), float(cust.max()))
        for yi, c, v, row in zip(y, cust, clv, d.itertuples()):
            ax.text(-c - 0.01 * span, yi, f"{c:.0%}", va="center", ha="right", fontsize=9)
            txt = f"{v:.0%}"
            if "mean_clv" in d.columns and np.isfinite(row.mean_clv):
                txt += f"  (mean {money_formatter(currency)(row.mean_clv, None)})"
            ax.text(max(v, 0) + 0.03 * span, yi, txt, va="center", ha="left", fontsize=9)
        ax.axvline(0, color="black", linewidth=0.8)
        ax.set_yticks(y, d["tier"])
        ax.set_xlim(-span * 1.25, span * 1.9)
        ax.xaxis.set_major_formatter(_abs_percent)   # customer shares are drawn to the left
        ax.set_xlabel("share of customers (left)  |  share of total CLV (right)")
        ax.set_title(title if title is not None else f"CLV pyramid ({strategy})")
        ax.legend(loc="lower right")
        ax.grid(axis="y", visible=False)
    return ax


def _abs_percent(x, _pos=None) -> str:
    return f"{abs(x):.0%}"


def cohort_heatmap(table: pd.DataFrame, value: str = "survival", *, ax=None, unit: str = "period",
                   currency: str = "", title: str | None = None):
    """Heatmap of acquisition cohort (rows: period joined) by age (columns: periods since joining).

    Parameters
    ----------
    table : DataFrame
        ``cohort``, ``age`` and ``value`` columns (:func:`clmsim.engines.analytic.cohorts.cohort_table`).
    value : {"survival", "revenue"}
        Share still active, or revenue per customer of the cohort in the period.
    unit : str
        Period unit for the labels.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0].get_array()`` is the cohort x age matrix (masked where not observed).
    """
    require_columns(table, ("cohort", "age", value), "cohort table")
    wide = table.pivot_table(index="cohort", columns="age", values=value, aggfunc="first").sort_index()
    if wide.empty:
        raise ClmsimError("cohort table is empty")
    M = np.ma.masked_invalid(wide.to_numpy(float))
    with style_context():
        ax = new_axes(ax)
        cmap = "viridis" if value == "survival" else "magma"
        kw = dict(vmin=0.0, vmax=1.0) if value == "survival" else {}
        im = ax.imshow(M, aspect="auto", cmap=cmap, origin="upper", interpolation="nearest",
                       extent=(wide.columns.min() - 0.5, wide.columns.max() + 0.5,
                               wide.index.max() + 0.5, wide.index.min() - 0.5), **kw)
        ax.grid(False)
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        bar = ax.figure.colorbar(im, ax=ax, pad=0.02)
        if value == "survival":
            bar.set_label("share still active")
            bar.formatter = percent_formatter()
        else:
            bar.set_label(f"revenue per customer of the cohort per {unit}" + (f" ({currency})" if currency else ""))
            bar.formatter = money_formatter(currency)
        bar.update_ticks()
        ax.set_xlabel(f"age ({unit}s since joining)")
        ax.set_ylabel(f"cohort ({unit} joined)")
        ax.set_title(title if title is not None else
                     ("Cohort survival by age" if value == "survival" else "Revenue per cohort customer by age"))
    return ax
