"""Money versus budget: NPV along a budget sweep with its band and break-even line, the
incremental return between neighbouring levels, marginal returns per lever, and the budget
frontier of an optimisation.

Break-even: for a difference versus baseline the break-even level is 0; where the mean
curve crosses it, the crossing budget is found by linear interpolation between the
neighbouring sweep points and marked. For the incremental return of a sweep the question is
different: does the *next* step of spend pay? :func:`incremental_returns` gives, between
neighbouring levels ``k`` and ``k+1``, ``ROI_k = (NPV_{k+1} - NPV_k) / (PV spend_{k+1} - PV
spend_k)`` (docs/metrics.md); spending up to the level where it crosses 0 pays, beyond it
does not. An average return measured from zero spend hides that and is not drawn.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ._data import require_columns
from matplotlib.ticker import FuncFormatter

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


def _money_axis(values, currency: str = "") -> FuncFormatter:
    """Money ticks with enough significant digits to tell neighbouring ticks apart when the values
    span a small range relative to their size (142.5M, 143M, ... rather than 143M, 143M)."""
    v = np.asarray(values, dtype=float)
    v = v[np.isfinite(v)]
    top, span = (float(np.abs(v).max()), float(v.max() - v.min())) if v.size else (0.0, 0.0)
    digits = 3 if span <= 0 or top <= 0 else max(3, int(np.ceil(np.log10(top / span))) + 2)
    return FuncFormatter(lambda x, _pos: money(x, currency, digits))


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
    fmt = _money_axis(ys, currency) if kind == "npv" else percent_formatter()
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


def incremental_returns(x, npv, pv_spend) -> pd.DataFrame:
    """Return on each step between neighbouring sweep levels (sorted by ``x``).

    Returns
    -------
    DataFrame
        One row per step: ``x_lo``, ``x_hi``, ``x_mid``, ``d_npv = NPV(x_hi) - NPV(x_lo)``,
        ``d_spend`` (present value of spend, same difference) and ``roi = d_npv / d_spend``
        (NaN when the step does not change spend).
    """
    d = pd.DataFrame({"x": np.asarray(x, float), "npv": np.asarray(npv, float),
                      "spend": np.asarray(pv_spend, float)}).sort_values("x").reset_index(drop=True)
    lo, hi = d.iloc[:-1].reset_index(drop=True), d.iloc[1:].reset_index(drop=True)
    dn, ds = hi["npv"] - lo["npv"], hi["spend"] - lo["spend"]
    with np.errstate(divide="ignore", invalid="ignore"):
        roi = np.where(ds != 0, dn / ds.where(ds != 0, 1.0), np.nan)
    return pd.DataFrame({"x_lo": lo["x"], "x_hi": hi["x"], "x_mid": (lo["x"] + hi["x"]) / 2, "d_npv": dn,
                         "d_spend": ds, "roi": roi})


def stops_paying(steps: pd.DataFrame) -> float | None:
    """The level after which the steps of a sweep stop paying: the upper end of the last step with
    a positive return that is followed by a step with a negative one (None when no step changes
    from paying to not paying)."""
    d = steps.sort_values("x_lo")
    r = d["roi"].to_numpy(float)
    hi = d["x_hi"].to_numpy(float)
    for k in range(len(r) - 1):
        if r[k] > 0 and r[k + 1] <= 0:
            return float(hi[k])
    return None


def marginal_roi(steps: pd.DataFrame, *, ax=None, xlabel: str = "budget", current: float | None = None,
                 title: str | None = None):
    """Incremental ROI of each step of a sweep (:func:`incremental_returns`), drawn as a step
    function over the spend levels, with the break-even line (0) and the level where the return
    of the next step turns negative.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.lines[0]`` is the step curve (one horizontal segment per step); the break-even
        line is labelled ``"break-even"``; the crossing, when there is one, is labelled
        ``"steps stop paying beyond ..."`` (see :func:`stops_paying`).
    """
    require_columns(steps, ("x_lo", "x_hi", "x_mid", "roi"), "incremental returns")
    d = steps.sort_values("x_lo")
    xs = np.concatenate([d["x_lo"].to_numpy(float), d["x_hi"].to_numpy(float)[-1:]])
    ys = d["roi"].to_numpy(float)
    with style_context():
        ax = new_axes(ax)
        ax.stairs(ys, xs, color=color(0), linewidth=2, baseline=None, label="return of the step")
        ax.plot(d["x_mid"], ys, linestyle="none", marker="o", markersize=4, color=color(0))
        ax.axhline(0.0, color=NEUTRAL, linestyle="--", linewidth=1, label="break-even")
        xb = stops_paying(d)
        if xb is not None:
            ax.axvline(xb, color=color(5), linestyle=":", linewidth=1.2, label=f"steps stop paying beyond {money(xb)}")
        if current is not None:
            ax.axvline(current, color="black", linestyle=":", linewidth=1, label=f"as written ({money(current)})")
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.set_xlabel(xlabel)
        ax.set_ylabel("ROI of the step (extra NPV / extra spend)")
        ax.set_title(title if title is not None else "Return on the next step of spend")
        ax.legend(loc="best")
    return ax


def marginal_returns(table: pd.DataFrame, *, ax=None, label: str = "lever", value: str = "marginal_return",
                     error: str | None = "error", title: str | None = None):
    """Marginal return of each spend lever (:func:`clmsim.analysis.margins.margins`) as horizontal
    bars, best on top, with the break-even line at 0 (right of it, one more unit pays).

    Returns
    -------
    matplotlib.axes.Axes
        One bar per lever in ``ax.patches`` (top to bottom in decreasing return).
    """
    require_columns(table, (label, value), "marginal returns")
    d = table.sort_values(value).reset_index(drop=True)
    names = d[label].astype(str).tolist()
    with style_context(names):
        ax = new_axes(ax, figsize=(8.0, 1.0 + 0.5 * len(d)))
        vals = d[value].to_numpy(float)
        xerr = d[error].to_numpy(float) if error and error in d.columns else None
        ax.barh(np.arange(len(d)), vals, xerr=xerr, color=[color(0) if v >= 0 else color(5) for v in vals],
                alpha=0.85)
        for i, v in enumerate(vals):  # labels right of the bar's right end, clear of the tick labels
            ax.annotate(f"{v:+.0%}", (max(v, 0.0), i), xytext=(4, 0), textcoords="offset points", ha="left",
                        va="center", fontsize=8)
        ax.axvline(0.0, color=NEUTRAL, linestyle="--", linewidth=1)
        ax.set_yticks(np.arange(len(d)), names)
        ax.xaxis.set_major_formatter(percent_formatter())
        ax.set_xlabel("marginal return: extra NPV per extra 1 of spend (present value)")
        ax.grid(axis="y", visible=False)
        ax.set_title(title if title is not None else "Where the next unit of spend earns most")
    return ax
