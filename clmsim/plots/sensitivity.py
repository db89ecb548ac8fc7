"""Which assumptions drive the answer: tornado diagram and Sobol indices.

Tornado (one at a time): each uncertain input is set to its low and its high value
with the others at base; the bars show the output change from the base value, the
widest swing on top. Sobol: first-order ``S1`` (share of output variance explained by
the input alone) and total-order ``ST`` (including its interactions), with intervals.
Morris: ``mu*`` (mean absolute elementary effect) and ``sigma`` (their spread).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ._data import require_columns
from .style import NEUTRAL, color, money, money_formatter, new_axes, style_context


def tornado(df: pd.DataFrame, base: float, *, ax=None, output: str = "NPV", currency: str = "",
            title: str | None = None, max_bars: int = 15):
    """Tornado diagram.

    Parameters
    ----------
    df : DataFrame
        Columns ``parameter``, ``low``, ``high``: the output with that input at its low / high
        value (others at base). Optional ``low_value``/``high_value`` label the input values.
    base : float
        Output with every input at base.
    max_bars : int
        Keep the widest swings only.

    Returns
    -------
    matplotlib.axes.Axes
        Two ``BarContainer`` (``ax.containers[0]`` = low, ``[1]`` = high) whose bars span from
        ``base`` (``bar.get_x()``) by ``low - base`` / ``high - base`` (``bar.get_width()``);
        y tick labels are the parameters, widest swing on top.
    """
    require_columns(df, ("parameter", "low", "high"), "tornado")
    if df.empty:
        raise ClmsimError("tornado: no parameters")
    d = df.assign(swing=(df["high"] - df["low"]).abs()).sort_values("swing").tail(max_bars)
    names = d["parameter"].astype(str).tolist()
    labels = names
    if {"low_value", "high_value"} <= set(d.columns):
        labels = [f"{p}\n[{lv:g} \u2192 {hv:g}]" for p, lv, hv in zip(names, d["low_value"], d["high_value"])]
    with style_context(names):
        ax = new_axes(ax, figsize=(8.0, 1.0 + 0.5 * len(d)))
        y = np.arange(len(d))
        ax.barh(y, d["low"].to_numpy(float) - base, left=base, color=color(0), label="input at low value")
        ax.barh(y, d["high"].to_numpy(float) - base, left=base, color=color(1), label="input at high value")
        ax.axvline(base, color=NEUTRAL, linewidth=1)
        ax.set_yticks(y, labels)
        ax.grid(axis="y", visible=False)
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.set_xlabel(f"{output} (base {money(base, currency)})")
        ax.set_title(title if title is not None else f"What moves {output}: one input at a time")
        ax.legend(loc="lower right")
    return ax


def sobol_indices(df: pd.DataFrame, *, ax=None, output: str = "NPV", title: str | None = None):
    """Grouped horizontal bars of first-order (S1) and total-order (ST) Sobol indices.

    Parameters
    ----------
    df : DataFrame
        Columns ``parameter``, ``S1``, ``ST`` and optionally ``S1_conf``, ``ST_conf`` (half-widths
        of the 95% intervals, as SALib reports them).

    Returns
    -------
    matplotlib.axes.Axes
        The ``BarContainer`` items of ``ax.containers`` are the S1 bars then the ST bars (widths =
        indices; error bars are separate containers), largest ST on top.
    """
    require_columns(df, ("parameter", "S1", "ST"), "Sobol indices")
    if df.empty:
        raise ClmsimError("Sobol indices: no parameters")
    d = df.sort_values("ST")
    names = d["parameter"].astype(str).tolist()
    with style_context(names):
        ax = new_axes(ax, figsize=(8.0, 1.0 + 0.5 * len(d)))
        y = np.arange(len(d))
        h = 0.38
        s1_err = d["S1_conf"].to_numpy(float) if "S1_conf" in d else None
        st_err = d["ST_conf"].to_numpy(float) if "ST_conf" in d else None
        ax.barh(y + h / 2, d["S1"].to_numpy(float), height=h, color=color(0), xerr=s1_err, capsize=3,
                label="first order S1 (alone)")
        ax.barh(y - h / 2, d["ST"].to_numpy(float), height=h, color=color(1), xerr=st_err, capsize=3,
                label="total order ST (with interactions)")
        ax.set_yticks(y, names)
        ax.set_xlim(left=min(0.0, float(np.nanmin(d[["S1", "ST"]].to_numpy(float))) - 0.02))
        ax.axvline(0, color=NEUTRAL, linewidth=0.8)
        ax.grid(axis="y", visible=False)
        ax.set_xlabel(f"share of {output} variance")
        ax.set_title(title if title is not None else f"Sobol indices of {output} (95% intervals)")
        ax.legend(loc="lower right")
    return ax


def morris_screening(df: pd.DataFrame, *, ax=None, output: str = "NPV", currency: str = "",
                     title: str | None = None):
    """Morris elementary effects: ``mu*`` (mean absolute effect) as bars with their 95%
    interval, ``sigma`` (spread of the effects: interactions or non-linearity) as diamonds.

    Parameters
    ----------
    df : DataFrame
        Columns ``parameter``, ``mu_star``, ``sigma`` and optionally ``mu_star_lo``/``mu_star_hi``.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.containers`` holds the mu* ``BarContainer`` (widths = mu*, largest on top); the
        sigma markers are the line labelled ``"sigma (interactions)"``.
    """
    require_columns(df, ("parameter", "mu_star", "sigma"), "Morris indices")
    if df.empty:
        raise ClmsimError("Morris indices: no parameters")
    d = df.sort_values("mu_star")
    names = d["parameter"].astype(str).tolist()
    with style_context(names):
        ax = new_axes(ax, figsize=(8.0, 1.0 + 0.5 * len(d)))
        y = np.arange(len(d))
        m = d["mu_star"].to_numpy(float)
        err = None
        if {"mu_star_lo", "mu_star_hi"} <= set(d.columns):
            err = np.vstack([m - d["mu_star_lo"].to_numpy(float), d["mu_star_hi"].to_numpy(float) - m])
            err = np.clip(err, 0, None)
        ax.barh(y, m, color=color(0), xerr=err, capsize=3, label="\u03bc* (mean absolute effect)")
        ax.plot(d["sigma"].to_numpy(float), y, "D", color=color(1), linestyle="none",
                label="\u03c3 (interactions)")
        ax.set_yticks(y, names)
        ax.grid(axis="y", visible=False)
        ax.set_xlim(left=0)
        ax.xaxis.set_major_formatter(money_formatter(currency))
        ax.set_xlabel(f"effect on {output} of moving one input across its range")
        ax.set_title(title if title is not None else f"Morris screening of {output}")
        ax.legend(loc="lower right")
    return ax
