"""Strategy comparison: paired differences versus the baseline, with intervals.

Under common random numbers run ``r`` of every strategy sees the same random
inputs, so the per-run difference ``D_r = X_r(strategy) - X_r(baseline)`` has a
small variance. :func:`paired_differences` gives, per strategy, ``mean(D)``, its
95% interval ``mean(D) +- t_{0.975, n-1} sd(D) / sqrt(n)`` and the share of runs
where the strategy wins (``D_r > 0``). For the analytic engine (one exact row per
strategy, ``run = -1``) the difference is exact and has no interval.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..stats import mean_ci
from ._data import require_columns, runs_table
from ..textable import human_pm
from .style import NEUTRAL, color, money, money_formatter, new_axes, style_context

DIFF_COLUMNS = ("strategy", "mean", "lo", "hi", "n", "win_share")
"""Columns :func:`comparison_plot` reads (``lo``/``hi`` may be NaN; ``win_share`` optional)."""


def paired_differences(data, metric: str = "npv", baseline: str = "baseline", level: float = 0.95) -> pd.DataFrame:
    """Per strategy, the paired difference of ``metric`` versus ``baseline`` (see module docstring).

    Returns
    -------
    DataFrame
        Columns :data:`DIFF_COLUMNS` plus ``sd`` (of the per-run differences), one row per
        strategy other than the baseline, in results order.
    """
    runs = runs_table(data)
    require_columns(runs, (metric,), "runs")
    wide = runs.pivot_table(index="run", columns="strategy", values=metric, aggfunc="first", sort=False)
    if baseline not in wide.columns:
        raise ClmsimError(f"baseline strategy '{baseline}' not in the results "
                          f"(have: {', '.join(map(str, wide.columns))})")
    rows = []
    for s in dict.fromkeys(runs["strategy"]):
        if s == baseline:
            continue
        d = (wide[s] - wide[baseline]).dropna().to_numpy(float)
        mean, sd, lo, hi, n = mean_ci(d, 1.0 - level)
        win = float((d > 0).mean()) if n >= 2 else np.nan
        if n < 2:
            lo = hi = np.nan
        rows.append({"strategy": s, "mean": mean, "lo": lo, "hi": hi, "n": n, "win_share": win, "sd": sd})
    return pd.DataFrame(rows, columns=[*DIFF_COLUMNS, "sd"])


def comparison_plot(diffs: pd.DataFrame, *, ax=None, metric_label: str = "NPV", baseline: str = "baseline",
                    currency: str = "", title: str | None = None):
    """Horizontal interval plot of differences versus the baseline, best strategy on top.

    Parameters
    ----------
    diffs : DataFrame
        Columns ``strategy``, ``mean``, ``lo``, ``hi`` (95% interval; NaN for exact values) and
        optionally ``win_share`` -- e.g. :func:`paired_differences`.
    metric_label : str
        Name of the metric for the axis label (``"NPV"``).

    Returns
    -------
    matplotlib.axes.Axes
        One point per strategy (``ax.lines[0]`` holds the means, y = rank); error bars in
        ``ax.collections``; the zero line is labelled ``"no difference"``.
    """
    require_columns(diffs, ("strategy", "mean", "lo", "hi"), "comparison")
    if diffs.empty:
        raise ClmsimError("nothing to compare: only the baseline strategy is present")
    d = diffs.sort_values("mean").reset_index(drop=True)
    names = d["strategy"].astype(str).tolist()
    with style_context(names):
        ax = new_axes(ax, figsize=(8.0, 0.9 + 0.55 * len(d)))
        y = np.arange(len(d))
        m = d["mean"].to_numpy(float)
        lo = d["lo"].to_numpy(float)
        hi = d["hi"].to_numpy(float)
        cols = [color(0) if v >= 0 else color(5) for v in m]
        ax.plot(m, y, linestyle="none", marker="o", color=NEUTRAL, markersize=0, label="_means")
        has_ci = np.isfinite(lo) & np.isfinite(hi)
        for i in range(len(d)):
            if has_ci[i]:
                ax.errorbar(m[i], y[i], xerr=[[m[i] - lo[i]], [hi[i] - m[i]]], fmt="o", color=cols[i],
                            capsize=4, linewidth=2, markersize=6)
            else:
                ax.plot(m[i], y[i], "D", color=cols[i], markersize=6)
            note = money(m[i], currency)
            if has_ci[i]:
                a, b = human_pm(m[i], (hi[i] - lo[i]) / 2)
                note = f"{currency}{a} \u00b1 {b}" if b else money(m[i], currency)
            if "win_share" in d.columns and np.isfinite(d["win_share"].iloc[i]):
                note += f"  (wins {d['win_share'].iloc[i]:.0%} of runs)"
            ax.annotate(note, (m[i], y[i]), xytext=(0, 7), textcoords="offset points", ha="center",
                        fontsize=8)
        ax.axvline(0.0, color=NEUTRAL, linewidth=1, linestyle="--", label="no difference")
        ax.set_yticks(y, names)
        ax.set_ylim(-0.6, len(d) - 0.3)
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.set_xlabel(f"{metric_label} difference vs {baseline}" + (f" ({currency})" if currency else ""))
        ax.grid(axis="y", visible=False)
        ax.set_title(title if title is not None else f"{metric_label} versus {baseline} "
                     + ("(paired, 95% intervals)" if has_ci.any() else "(exact)"))
    return ax


def cumulative_difference(data, *, item: str = "discounted_net_cash", baseline: str = "baseline",
                          strategies=None, ax=None, currency: str = "", title: str | None = None,
                          unit: str | None = None):
    """Running total of a per-period cash item, strategy minus baseline, over time.

    With ``item = "discounted_net_cash"`` the curve of strategy ``s`` at period ``T`` is
    ``sum_{t<=T} (1+d)^-t (net_cash_s(t) - net_cash_b(t))`` (expected values): it ends at the NPV
    difference and shows when the gain (or loss) accrues -- where it crosses zero the strategy
    has paid back its extra spend.

    Returns
    -------
    matplotlib.axes.Axes
        One line per strategy, labelled by strategy name, y = running total (mean over runs).
    """
    from ._data import period_unit, periods_table

    p = periods_table(data)
    p = p[p["item"] == item]
    if p.empty:
        raise ClmsimError(f"the results have no per-period item '{item}'")
    wide = p.pivot_table(index="period", columns="strategy", values="mean", aggfunc="first").sort_index()
    if baseline not in wide.columns:
        raise ClmsimError(f"baseline strategy '{baseline}' not in the results")
    names = [s for s in (strategies or dict.fromkeys(p["strategy"])) if s != baseline]
    if not names:
        raise ClmsimError("nothing to compare: only the baseline strategy is present")
    unit = unit or period_unit(data)
    with style_context(names):
        ax = new_axes(ax)
        cum = wide.cumsum()
        t = np.concatenate([[0], cum.index.to_numpy()])
        for i, s in enumerate(names):
            y = np.concatenate([[0.0], (cum[s] - cum[baseline]).to_numpy(float)])
            ax.plot(t, y, color=color(i), linewidth=2, label=s)
            ax.annotate(money(y[-1], currency), (t[-1], y[-1]), xytext=(4, 0), textcoords="offset points",
                        va="center", fontsize=8, color=color(i))
        ax.axhline(0.0, color=NEUTRAL, linewidth=1, linestyle="--")
        ax.set_xlim(0, t[-1] * 1.08)
        ax.yaxis.set_major_formatter(money_formatter(currency))
        ax.set_xlabel(unit)
        what = "discounted net cash" if item == "discounted_net_cash" else item.replace("_", " ")
        ax.set_ylabel(f"cumulative {what} vs {baseline}")
        ax.set_title(title if title is not None else f"When the difference accrues: cumulative {what} "
                     f"vs {baseline}")
        ax.legend(loc="best")
    return ax


def p_best_plot(table: pd.DataFrame, *, ax=None, samples: int | None = None, title: str | None = None):
    """Probability that each strategy is the best one over sampled states of the world
    (:func:`clmsim.analysis.sensitivity.ranking`): horizontal bars with Wilson 95% intervals.

    Parameters
    ----------
    table : DataFrame
        Columns ``strategy``, ``p_best`` and optionally ``p_best_lo``, ``p_best_hi``.

    Returns
    -------
    matplotlib.axes.Axes
        One bar per strategy in ``ax.patches`` (top: highest probability).
    """
    from .style import percent_formatter

    require_columns(table, ("strategy", "p_best"), "ranking")
    d = table.sort_values("p_best").reset_index(drop=True)
    names = d["strategy"].astype(str).tolist()
    with style_context(names):
        ax = new_axes(ax, figsize=(8.0, 1.0 + 0.5 * len(d)))
        y = np.arange(len(d))
        p = d["p_best"].to_numpy(float)
        err = None
        if {"p_best_lo", "p_best_hi"} <= set(d.columns):
            err = np.vstack([p - d["p_best_lo"].to_numpy(float), d["p_best_hi"].to_numpy(float) - p])
        ax.barh(y, p, xerr=err, color=[color(i) for i in range(len(d))][::-1], alpha=0.85, capsize=3)
        ends = p if err is None else p + err[1]
        for i, (v, e) in enumerate(zip(p, ends)):  # right of the whisker
            ax.annotate(f"{v:.0%}", (e, i), xytext=(6, 0), textcoords="offset points", va="center", fontsize=8)
        ax.set_yticks(y, names)
        ax.set_xlim(0, 1.12)
        ax.xaxis.set_major_formatter(percent_formatter())
        ax.set_xlabel("share of sampled states of the world where the strategy has the highest NPV"
                      + (f" ({samples} samples)" if samples else ""))
        ax.grid(axis="y", visible=False)
        ax.set_title(title if title is not None else "How sure is the choice? Probability of being best")
    return ax
