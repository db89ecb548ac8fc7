"""Stage occupancy over time: a stacked area per strategy with uncertainty bands.

The stacked area shows the mean customers per stage at the end of each period
(period 0 = the initial population). For Monte Carlo results each stage's 5-95%
band across runs is drawn around that stage's upper edge: the edge of stage k
sits at ``C_k(t) = sum_{j<=k} mean_j(t)`` and its band spans
``[C_k - (mean_k - q05_k), C_k + (q95_k - mean_k)]`` -- the spread of stage k
alone, placed where the reader sees that stage end. (Bands of cumulative sums are
not recoverable from per-stage quantiles, so this is stated in the caption.)
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.ticker import MaxNLocator

from ..errors import ClmsimError
from ._data import has_band, period_unit, periods_table
from .style import colors_for, count_formatter, new_axes, style_context


def occupancy_frame(data, strategy: str, stages: Sequence[str] | None = None) -> dict[str, pd.DataFrame]:
    """Per stage, a frame indexed by period with ``mean`` (and ``q05``/``q95`` when present).

    Parameters
    ----------
    data : Results or DataFrame
        Results or its ``periods`` table.
    strategy : str
        Strategy to show.
    stages : sequence of str, optional
        Stages in stacking order (bottom first); default: every ``stage:`` item in table order.
    """
    p = periods_table(data)
    p = p[(p["strategy"] == strategy) & p["item"].astype(str).str.startswith("stage:")]
    if p.empty:
        known = ", ".join(dict.fromkeys(periods_table(data)["strategy"]))
        raise ClmsimError(f"no stage occupancy for strategy '{strategy}' (have: {known})")
    names = list(dict.fromkeys(s[len("stage:"):] for s in p["item"]))
    if stages is None:
        stages = names
    unknown = [s for s in stages if s not in names]
    if unknown:
        raise ClmsimError(f"unknown stage(s) {', '.join(unknown)}; known: {', '.join(names)}")
    cols = [c for c in ("mean", "q05", "q95") if c in p.columns]
    return {s: p[p["item"] == f"stage:{s}"].set_index("period")[cols].sort_index() for s in stages}


def occupancy_area(data, strategy: str = "baseline", *, stages: Sequence[str] | None = None,
                   ax=None, band: bool = True, title: str | None = None, unit: str | None = None,
                   colors: dict[str, str] | None = None):
    """Stacked area of expected customers per stage over time for one strategy.

    Parameters
    ----------
    data : Results or DataFrame
        Results (or its tidy ``periods`` table).
    strategy : str
        Strategy to plot.
    stages : sequence of str, optional
        Stages to stack, bottom first (e.g. only the active ones); default all.
    ax : matplotlib Axes, optional
        Where to draw; a new figure otherwise.
    band : bool
        Draw each stage's 5-95% band (Monte Carlo results only; see module docstring).
    title : str, optional
        Default ``"Customers by stage -- <strategy>"``.
    unit : str, optional
        Period unit for the x label; default from the results' provenance.
    colors : dict, optional
        Stage -> colour (e.g. :func:`clmsim.plots.style.stage_colors`); default the palette in order.

    Returns
    -------
    matplotlib.axes.Axes
        Polygons of the stack are ``ax.collections[:len(stages)]`` (bottom first), labelled by stage.
    """
    frames = occupancy_frame(data, strategy, stages)
    names = list(frames)
    unit = unit or period_unit(data)
    with style_context([*names, strategy]):
        ax = new_axes(ax)
        colors = {**colors_for(names), **(colors or {})}
        t = frames[names[0]].index.to_numpy()
        ys = np.vstack([frames[s]["mean"].reindex(t).to_numpy(dtype=float) for s in names])
        ax.stackplot(t, ys, labels=names, colors=[colors[s] for s in names], alpha=0.85, linewidth=0)
        if band and all(has_band(f) for f in frames.values()):
            top = np.cumsum(ys, axis=0)
            for k, s in enumerate(names):
                f = frames[s].reindex(t)
                lo = top[k] - (ys[k] - f["q05"].to_numpy(dtype=float))
                hi = top[k] + (f["q95"].to_numpy(dtype=float) - ys[k])
                ax.fill_between(t, lo, hi, color="black", alpha=0.25, linewidth=0,
                                label="5-95% band across runs" if k == 0 else None)
        ax.set_xlim(t.min(), t.max())
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_ylim(bottom=0)
        ax.set_title(title if title is not None else f"Customers by stage \u2014 {strategy}")
        ax.set_xlabel(f"{unit}")
        ax.set_ylabel("customers (end of period)")
        ax.yaxis.set_major_formatter(count_formatter())
        handles, labels = ax.get_legend_handles_labels()
        ax.legend(handles[::-1], labels[::-1], loc="upper left", bbox_to_anchor=(1.0, 1.0))
    return ax


def occupancy_panels(data, strategies: Sequence[str] | None = None, *, stages: Sequence[str] | None = None,
                     band: bool = True, ncols: int = 2, fig=None, colors: dict[str, str] | None = None):
    """One :func:`occupancy_area` per strategy on a shared y axis (small multiples).

    Returns
    -------
    list of matplotlib.axes.Axes
        One per strategy, in order.
    """
    from matplotlib.figure import Figure

    p = periods_table(data)
    strategies = list(strategies) if strategies is not None else list(dict.fromkeys(p["strategy"]))
    if not strategies:
        raise ClmsimError("no strategies to plot")
    ncols = max(1, min(ncols, len(strategies)))
    nrows = -(-len(strategies) // ncols)
    labels = [*(stages or []), *strategies]
    with style_context(labels):
        fig = fig or Figure(figsize=(5.2 * ncols, 3.4 * nrows + 0.4), layout="constrained")
        axes = fig.subplots(nrows, ncols, sharex=True, sharey=True, squeeze=False).ravel()
        for i, (ax, s) in enumerate(zip(axes, strategies)):
            occupancy_area(data, s, stages=stages, ax=ax, band=band, title=s, colors=colors)
            if i == 0:
                handles, labels_ = ax.get_legend_handles_labels()
            ax.get_legend().remove()
            if i % ncols:
                ax.set_ylabel("")
        for ax in axes[len(strategies):]:
            ax.set_visible(False)
        fig.legend(handles[::-1], labels_[::-1], loc="outside right upper")
        fig.suptitle("Customers by stage (stacked; end of period)", fontweight="bold")
    return list(axes[: len(strategies)])
