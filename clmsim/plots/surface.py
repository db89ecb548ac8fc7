"""Figures of sweeps over several inputs: a two-lever heatmap with contours, and scatter with
partial dependence for sampled (Latin-hypercube) designs.

* :func:`lever_heatmap` -- a value (mean NPV, or the paired NPV difference versus the
  baseline) on the grid of two levers: coloured cells, contour lines, the value written in
  each cell when the grid is small; with interval columns, cells whose 95% interval contains
  0 are hatched (the sign of a difference is not established there).
* :func:`partial_dependence` -- one panel per input: every point of the design (x = the
  input, y = the value), and the partial dependence: the mean of y over the points in each
  of ``bins`` quantile bins of the input, with its 95% interval (:func:`clmsim.stats.mean_ci`
  over the points of the bin), i.e. how y moves with this input averaged over the others.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd

from ..stats import mean_ci
from ._data import require_columns
from .style import NEUTRAL, color, money, new_axes


def lever_heatmap(df: pd.DataFrame, *, x: str, y: str, z: str = "mean", lo: str | None = None,
                  hi: str | None = None, ax=None, diverging: bool = False, xlabel: str | None = None,
                  ylabel: str | None = None, title: str | None = None, label: str = "NPV",
                  annotate: bool | None = None):
    """Heatmap with contour lines of ``z`` over the grid of levers ``x`` and ``y``.

    Parameters
    ----------
    df : DataFrame
        One row per grid point with columns ``x``, ``y``, ``z`` (and ``lo``, ``hi``).
    diverging : bool
        A colour scale centred on 0 (for differences: blue above, red below).
    annotate : bool, optional
        Write each cell's value (default: when the grid has at most 64 cells).

    Returns
    -------
    matplotlib Axes
    """
    require_columns(df, [x, y, z] + [c for c in (lo, hi) if c], "lever_heatmap")
    g = df.groupby([y, x], sort=True)[[z] + [c for c in (lo, hi) if c]].mean()
    xs = np.sort(df[x].unique().astype(float))
    ys = np.sort(df[y].unique().astype(float))
    Z = g[z].unstack(x).reindex(index=ys, columns=xs).to_numpy(dtype=float)
    ax = new_axes(ax, (6.4, 4.8))
    if diverging:
        m = float(np.nanmax(np.abs(Z))) if np.isfinite(Z).any() else 1.0
        cmap, vmin, vmax = "RdBu", -m or -1.0, m or 1.0
    else:
        cmap, vmin, vmax = "viridis", float(np.nanmin(Z)), float(np.nanmax(Z))
    xe = _edges(xs)
    ye = _edges(ys)
    top = float(np.nanmax(np.abs(Z))) if np.isfinite(Z).any() else 0.0
    span = float(np.nanmax(Z) - np.nanmin(Z)) if np.isfinite(Z).any() else 0.0
    digits = 3 if span <= 1e-12 * top or top <= 0 else max(3, int(np.ceil(np.log10(top / span))) + 2)
    if vmax <= vmin:
        vmin, vmax = vmin - 1.0, vmax + 1.0
    mesh = ax.pcolormesh(xe, ye, Z, cmap=cmap, vmin=vmin, vmax=vmax, shading="flat")
    cb = ax.figure.colorbar(mesh, ax=ax)
    cb.set_label(label)
    cb.formatter = _money_ticks(digits)
    cb.update_ticks()
    if annotate is None:
        annotate = Z.size <= 64
    if len(xs) >= 2 and len(ys) >= 2 and np.isfinite(Z).all() and span > 1e-9 * top:
        cs = ax.contour(xs, ys, Z, levels=6, colors="k", linewidths=0.7, alpha=0.6)
        if not annotate:  # the cells carry their values; otherwise the lines are labelled
            ax.clabel(cs, fmt=lambda v: money(v, digits=digits), fontsize=7)
        if diverging and Z.min() < 0 < Z.max():
            ax.contour(xs, ys, Z, levels=[0.0], colors="k", linewidths=2.0)
    if lo and hi:
        L = g[lo].unstack(x).reindex(index=ys, columns=xs).to_numpy(dtype=float)
        H = g[hi].unstack(x).reindex(index=ys, columns=xs).to_numpy(dtype=float)
        unsure = (L <= 0) & (H >= 0) & (L < H)
        if unsure.any():
            ax.pcolor(xe, ye, np.ma.masked_where(~unsure, np.ones_like(Z)), hatch="///", alpha=0.0,
                      edgecolor=NEUTRAL, linewidth=0.0)
    if annotate:
        for i, yv in enumerate(ys):
            for j, xv in enumerate(xs):
                if np.isfinite(Z[i, j]):
                    frac = (Z[i, j] - vmin) / (vmax - vmin) if vmax > vmin else 0.5
                    dark = frac < 0.55 if not diverging else abs(frac - 0.5) > 0.3
                    ax.text(xv, yv, money(Z[i, j], digits=digits), ha="center", va="center", fontsize=7,
                            color="white" if dark else "black")
    ax.set_xlabel(xlabel or x)
    ax.set_ylabel(ylabel or y)
    ax.set_xticks(xs)
    ax.set_yticks(ys)
    if title:
        ax.set_title(title)
    return ax


def _edges(v: np.ndarray) -> np.ndarray:
    """Cell edges around sorted centres ``v`` (midpoints; half a step beyond the ends)."""
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5]) if v[0] == 0 else np.array([v[0] * 0.9, v[0] * 1.1])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def _money_ticks(digits: int = 3):
    from matplotlib.ticker import FuncFormatter

    return FuncFormatter(lambda v, _pos: money(v, digits=digits))


def partial_dependence(df: pd.DataFrame, inputs: Sequence[str], y: str, *, bins: int = 6, axes=None,
                       labels: dict[str, str] | None = None, ylabel: str = "NPV", title: str | None = None,
                       reference: float | None = None):
    """Scatter of ``y`` against each input with its binned partial dependence (module docstring).

    Parameters
    ----------
    df : DataFrame
        One row per design point, columns ``inputs`` and ``y``.
    inputs : sequence of str
        Columns to draw, one panel each.
    bins : int
        Quantile bins per input (fewer when the input has fewer distinct values: each value
        is then its own bin).
    axes : sequence of Axes, optional
        One per input (default: a new figure with one row of panels).
    reference : float, optional
        A horizontal line (e.g. 0 for a difference).

    Returns
    -------
    list of matplotlib Axes
    """
    require_columns(df, list(inputs) + [y], "partial_dependence")
    if axes is None:
        from matplotlib.figure import Figure

        fig = Figure(figsize=(3.4 * len(inputs) + 0.6, 3.6), layout="constrained")
        axes = fig.subplots(1, len(inputs), squeeze=False, sharey=True)[0]
    labels = labels or {}
    for ax, c in zip(axes, inputs):
        xv = df[c].to_numpy(dtype=float)
        yv = df[y].to_numpy(dtype=float)
        ax.scatter(xv, yv, s=10, color=color(0), alpha=0.45, linewidths=0)
        distinct = np.unique(xv)
        if len(distinct) <= bins:
            groups = [xv == v for v in distinct]
        else:
            edges = np.quantile(xv, np.linspace(0, 1, bins + 1))
            idx = np.clip(np.searchsorted(edges, xv, side="right") - 1, 0, bins - 1)
            groups = [idx == b for b in range(bins)]
        pts = []
        for m in groups:
            if m.any():
                mean, _, lo, hi, _ = mean_ci(yv[m])
                pts.append((float(xv[m].mean()), mean, lo, hi))
        if pts:
            px, pm, plo, phi = map(np.asarray, zip(*pts))
            ax.fill_between(px, np.where(np.isfinite(plo), plo, pm), np.where(np.isfinite(phi), phi, pm),
                            color=color(1), alpha=0.25, linewidth=0)
            ax.plot(px, pm, color=color(1), marker="o", ms=3, lw=1.8, label="partial dependence (95%)")
        if reference is not None:
            ax.axhline(reference, color=NEUTRAL, ls="--", lw=1)
        ax.set_xlabel(labels.get(c, c))
        ax.yaxis.set_major_formatter(_money_ticks())
    axes[0].set_ylabel(ylabel)
    axes[0].legend(loc="best", fontsize=7, frameon=False)
    if title:
        axes[0].figure.suptitle(title)
    return list(axes)


__all__ = ["lever_heatmap", "partial_dependence"]
