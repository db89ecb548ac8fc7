"""Money versus budget: NPV or ROI along a budget sweep with its band and break-even
line, and the budget frontier of an optimisation.

Break-even: for a difference versus baseline (or an ROI) the break-even level is 0;
where the mean curve crosses it, the crossing budget is found by linear
interpolation between the neighbouring sweep points and marked.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ._data import require_columns
from .style import NEUTRAL, color, money, money_formatter, new_axes, percent_formatter, style_context


def break_even_points(x, y, level: float = 0.0) -> list[float]:
    """Budgets where the piecewise-linear curve ``y(x)`` crosses ``level`` (sorted by ``x``).

    Only sign changes count: a point exactly at ``level`` (e.g. the reference level of a
    difference, 0 by construction) is a crossing only when the curve goes from one side to the
    other through it.
    """
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float) - level
    order = np.argsort(x)
    x, y = x[order], y[order]
    nz = np.flatnonzero(y != 0)
    out = []
    for a, b in zip(nz[:-1], nz[1:]):
        if y[a] * y[b] < 0:
            if b == a + 1:
                out.append(float(x[a] - y[a] * (x[b] - x[a]) / (y[b] - y[a])))
            else:  # exact zeros between a and b: the curve crosses at the first of them
                out.append(float(x[a + 1]))
    return out


def npv_vs_budget(df: pd.DataFrame, *, x: str = "budget", y: str = "mean", lo: str | None = "lo",
                  hi: str | None = "hi", ax=None, kind: str = "npv", break_even: float | None = 0.0,
                  xlabel: str = "budget", ylabel: str | None = None, currency: str = "",
                  current: float | None = None, title: str | None = None, label: str = "mean"):
    """A metric along a budget sweep with its interval band and the break-even line.

    Parameters
    ----------
    df : DataFrame
        One row per budget level: columns ``x``, ``y`` and optionally ``lo``/``hi`` (95% band).
    kind : {"npv", "roi"}
        Formats the y axis as money or as a percentage (ROI as a fraction, 0.25 = 25%).
    break_even : float or None
        Level drawn as the break-even line (0 for a difference vs baseline or an ROI).
    current : float, optional
        Budget of the scenario as written, marked with a dotted vertical line.
    label : str
        Legend label of the curve (``"mean"`` over runs; ``"exact"`` for analytic values).

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines[0]`` is the mean curve; the band is ``ax.collections[0]``; the break-even
        line is labelled ``"break-even"``; crossings are labelled ``"break-even at ..."``.
    """
    require_columns(df, [c for c in (x, y, lo, hi) if c], "budget sweep")
    if kind not in ("npv", "roi"):
        raise ClmsimError(f"kind must be 'npv' or 'roi', got {kind!r}")
    d = df.sort_values(x)
    xs = d[x].to_numpy(float)
    ys = d[y].to_numpy(float)
    fmt = money_formatter(currency) if kind == "npv" else percent_formatter()
    with style_context():
        ax = new_axes(ax)
        ax.plot(xs, ys, color=color(0), linewidth=2, marker="o", markersize=4, label=label)
        if lo and hi and d[[lo, hi]].notna().all().all():
            ax.fill_between(xs, d[lo].to_numpy(float), d[hi].to_numpy(float), color=color(0), alpha=0.2,
                            linewidth=0, label="95% interval")
        if break_even is not None:
            ax.axhline(break_even, color=NEUTRAL, linestyle="--", linewidth=1, label="break-even")
            for xb in break_even_points(xs, ys, break_even):
                ax.axvline(xb, color=color(5), linestyle=":", linewidth=1.2,
                           label=f"break-even at {money(xb, currency)}")
        if current is not None:
            ax.axvline(current, color="black", linestyle=":", linewidth=1, label=f"as written ({money(current)})")
        ax.yaxis.set_major_formatter(fmt)
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel if ylabel is not None else ("NPV" if kind == "npv" else "ROI"))
        ax.set_title(title if title is not None else
                     f"{'NPV' if kind == 'npv' else 'ROI'} versus {xlabel}")
        ax.legend(loc="best")
    return ax


def budget_frontier(df: pd.DataFrame, *, budget: str = "budget", y: str = "mean", lo: str | None = "lo",
                    hi: str | None = "hi", allocation: Sequence[str] = (), ax=None, currency: str = "",
                    title: str | None = None):
    """Best achievable NPV per total budget (the frontier), with band and the optimal split.

    Parameters
    ----------
    df : DataFrame
        One row per total budget: the optimum's ``y`` (and ``lo``/``hi``) plus, optionally, one
        column per lever in ``allocation`` holding the optimal spend on that lever.
    allocation : sequence of str
        Lever columns drawn as stacked bars on a second y axis (shares of the budget).

    Returns
    -------
    matplotlib.axes.Axes
        The frontier axes (``ax.lines[0]`` = frontier). When ``allocation`` is given, the twin
        axes holding the stacked share bars is ``ax.allocation_axes`` (else None).
    """
    require_columns(df, [budget, y, *(c for c in (lo, hi) if c), *allocation], "budget frontier")
    d = df.sort_values(budget)
    xs = d[budget].to_numpy(float)
    with style_context(list(allocation)):
        ax = new_axes(ax)
        ax.allocation_axes = None
        if allocation:
            ax2 = ax.twinx()
            width = 0.6 * (np.min(np.diff(xs)) if len(xs) > 1 else max(abs(xs[0]), 1.0))
            alloc = d[list(allocation)].to_numpy(float)
            share = alloc / np.where(alloc.sum(axis=1, keepdims=True) > 0, alloc.sum(axis=1, keepdims=True), 1)
            bottom = np.zeros(len(xs))
            for k, lever in enumerate(allocation):
                ax2.bar(xs, share[:, k], width=width, bottom=bottom, color=color(k + 1), alpha=0.35,
                        label=lever)
                bottom += share[:, k]
            ax2.set_ylim(0, 1)
            ax2.yaxis.set_major_formatter(percent_formatter())
            ax2.set_ylabel("share of budget (bars)")
            ax2.grid(False)
            ax2.legend(loc="lower right", title="optimal split")
            ax.set_zorder(ax2.get_zorder() + 1)
            ax.patch.set_visible(False)
            ax.allocation_axes = ax2
        ax.plot(xs, d[y].to_numpy(float), color=color(0), linewidth=2, marker="o", label="best NPV")
        if lo and hi and d[[lo, hi]].notna().all().all():
            ax.fill_between(xs, d[lo].to_numpy(float), d[hi].to_numpy(float), color=color(0), alpha=0.2,
                            linewidth=0, label="95% interval")
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_xlabel("total budget per period")
        ax.set_ylabel("NPV at the optimum")
        ax.set_title(title if title is not None else "Budget frontier: best NPV per total budget")
        ax.legend(loc="upper left")
    return ax
