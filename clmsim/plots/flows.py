"""Where customers go: a transition heatmap and a stage-flow (alluvial) diagram.

The heatmap shows a one-period transition matrix ``P[i, j]`` (row = from, column =
to; rows sum to 1). The alluvial diagram shows a cohort at a few points in time:
column ``k`` stacks the customers per stage at snapshot ``k`` and the ribbons
between columns ``k`` and ``k+1`` are the flows ``F_k[i, j]`` (customers in stage
``i`` at snapshot ``k`` who are in stage ``j`` at snapshot ``k+1``). For a Markov
chain the expected flows are ``diag(x_k) P^m`` (``m`` periods between snapshots),
see :func:`cohort_flows`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.patches import PathPatch, Rectangle
from matplotlib.path import Path

from ..errors import ClmsimError
from .style import colors_for, human, new_axes, style_context


def transition_heatmap(matrix, stage_names: Sequence[str], *, ax=None, title: str | None = None,
                       unit: str = "period", annotate: bool = True):
    """Heatmap of a transition matrix with the probabilities written in the cells.

    Parameters
    ----------
    matrix : array (S, S)
        ``matrix[i, j]`` = probability of moving from stage i to stage j in one period.
    stage_names : sequence of str
        The S stage names (rows and columns).
    ax : Axes, optional
    title : str, optional
        Default ``"Monthly transition probabilities"`` (from ``unit``).
    unit : str
        Period unit, used in the title and colour bar.
    annotate : bool
        Write each non-zero probability (as a percentage) in its cell.

    Returns
    -------
    matplotlib.axes.Axes
        ``ax.images[0].get_array()`` is the matrix.
    """
    P = np.asarray(matrix, dtype=float)
    names = list(stage_names)
    if P.ndim != 2 or P.shape[0] != P.shape[1] or P.shape[0] != len(names):
        raise ClmsimError(f"transition matrix must be square with one row per stage name; "
                          f"got shape {P.shape} and {len(names)} names")
    with style_context(names):
        ax = new_axes(ax, figsize=(1.0 + 0.75 * len(names), 0.6 + 0.65 * len(names)))
        im = ax.imshow(P, cmap="Blues", vmin=0.0, vmax=1.0, aspect="equal")
        ax.grid(False)
        ax.set_xticks(range(len(names)), names, rotation=35, ha="right")
        ax.set_yticks(range(len(names)), names)
        ax.set_xlabel("to stage")
        ax.set_ylabel("from stage")
        ax.spines[:].set_visible(False)
        if annotate:
            for i in range(len(names)):
                for j in range(len(names)):
                    if P[i, j] > 0:
                        v = P[i, j]
                        txt = f"{v:.0%}" if v >= 0.995 or v >= 0.1 else f"{v:.1%}"
                        ax.text(j, i, txt, ha="center", va="center", fontsize=8,
                                color="white" if v > 0.55 else "black")
        cb = ax.figure.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
        cb.set_label(f"probability per {unit}")
        ax.set_title(title if title is not None else f"Transition probabilities per {unit}")
    return ax


def cohort_flows(start, P, steps: Sequence[int]) -> list[np.ndarray]:
    """Expected flows of a Markov cohort between snapshots.

    Parameters
    ----------
    start : array (S,)
        Customers per stage at the first snapshot.
    P : array (S, S)
        One-period transition matrix.
    steps : sequence of int
        Periods between consecutive snapshots (e.g. ``[12, 12, 12]``).

    Returns
    -------
    list of array (S, S)
        ``F_k = diag(x_k) P^m_k`` with ``x_{k+1} = x_k P^m_k`` (row sums of ``F_k`` are ``x_k``).
    """
    x = np.asarray(start, dtype=float)
    P = np.asarray(P, dtype=float)
    if x.ndim != 1 or P.shape != (x.size, x.size):
        raise ClmsimError(f"start must have one entry per row of P; got {x.shape} and {P.shape}")
    out = []
    for m in steps:
        if int(m) < 1:
            raise ClmsimError(f"steps between snapshots must be >= 1, got {m}")
        F = x[:, None] * np.linalg.matrix_power(P, int(m))
        out.append(F)
        x = F.sum(axis=0)
    return out


def _ribbon(x0: float, x1: float, y0: tuple[float, float], y1: tuple[float, float]) -> Path:
    """A band from [y0] at x0 to [y1] at x1 with cubic Bezier edges."""
    xm = (x0 + x1) / 2
    verts = [(x0, y0[0]), (xm, y0[0]), (xm, y1[0]), (x1, y1[0]),
             (x1, y1[1]), (xm, y1[1]), (xm, y0[1]), (x0, y0[1]), (x0, y0[0])]
    codes = [Path.MOVETO, Path.CURVE4, Path.CURVE4, Path.CURVE4,
             Path.LINETO, Path.CURVE4, Path.CURVE4, Path.CURVE4, Path.CLOSEPOLY]
    return Path(verts, codes)


def stage_flow(flows: Sequence[np.ndarray], stage_names: Sequence[str], *, column_labels=None, ax=None,
               title: str | None = None, gap: float = 0.02, min_share: float = 0.002, bar_width: float = 0.12,
               colors: dict[str, str] | None = None):
    """Alluvial diagram of customers flowing between stages across snapshots.

    Parameters
    ----------
    flows : sequence of array (S, S)
        ``flows[k][i, j]``: customers in stage i at snapshot k and in stage j at snapshot k+1
        (e.g. from :func:`cohort_flows`). Consecutive matrices must chain: the column sums of
        ``flows[k]`` equal the row sums of ``flows[k+1]``.
    stage_names : sequence of str
    column_labels : sequence of str, optional
        One per snapshot (``len(flows) + 1``); default ``t0, t1, ...``.
    ax : Axes, optional
    title : str, optional
    gap : float
        Vertical gap between stacked stages, as a share of the total.
    min_share : float
        Ribbons and stages smaller than this share of the total are not drawn.
    bar_width : float
        Width of a snapshot column (columns are 1 apart).
    colors : dict, optional
        Stage -> colour (e.g. :func:`clmsim.plots.style.stage_colors`).

    Returns
    -------
    matplotlib.axes.Axes
        Column blocks are ``Rectangle`` patches with ``gid = "<column>|<stage>"`` and height equal to
        that stage's customers; ribbons are ``PathPatch`` with ``gid = "<k>|<from>|<to>"``.
    """
    flows = [np.asarray(F, dtype=float) for F in flows]
    names = list(stage_names)
    S = len(names)
    if not flows or any(F.shape != (S, S) for F in flows):
        raise ClmsimError(f"flows must be a non-empty list of {S}x{S} matrices (one row/column per stage)")
    if (np.concatenate([F.ravel() for F in flows]) < 0).any():
        raise ClmsimError("flows must be non-negative")
    totals = [flows[0].sum(axis=1)] + [F.sum(axis=0) for F in flows]
    for k in range(1, len(flows)):
        if not np.allclose(flows[k].sum(axis=1), totals[k], rtol=1e-6, atol=1e-6 * max(totals[k].sum(), 1)):
            raise ClmsimError(f"flows {k - 1} and {k} do not chain: customers arriving at snapshot {k} "
                              "differ from those leaving it")
    ncol = len(totals)
    labels = list(column_labels) if column_labels is not None else [f"t{k}" for k in range(ncol)]
    if len(labels) != ncol:
        raise ClmsimError(f"need {ncol} column labels, got {len(labels)}")
    grand = max(float(totals[0].sum()), 1e-300)
    colors = {**colors_for(names), **(colors or {})}
    pad = gap * grand
    with style_context([*names, *labels]):
        ax = new_axes(ax, figsize=(9.0, 4.8))
        # stage blocks: positions per column (top = first stage)
        tops: list[np.ndarray] = []
        for k, tot in enumerate(totals):
            y = np.empty(S)
            cursor = float(tot.sum()) + pad * (S - 1)
            for s in range(S):
                y[s] = cursor
                if tot[s] > min_share * grand:
                    cursor -= tot[s] + pad
            tops.append(y)
            for s in range(S):
                if tot[s] <= min_share * grand:
                    continue
                ax.add_patch(Rectangle((k - bar_width / 2, y[s] - tot[s]), bar_width, tot[s],
                                       facecolor=colors[names[s]], edgecolor="white", linewidth=0.5,
                                       gid=f"{k}|{names[s]}", label=names[s] if k == 0 else None))
                share = tot[s] / max(float(tot.sum()), 1e-300)
                if share > 0.03:
                    side, ha = ((-bar_width / 2 - 0.03, "right") if k == 0 else (bar_width / 2 + 0.03, "left"))
                    ax.text(k + side, y[s] - tot[s] / 2, f"{names[s]} {human(tot[s])}", ha=ha, va="center",
                            fontsize=8)
        # ribbons, stacked inside each block in stage order
        for k, F in enumerate(flows):
            out_cursor = tops[k].copy()
            in_cursor = tops[k + 1].copy()
            for i in range(S):
                for j in range(S):
                    f = F[i, j]
                    if f <= min_share * grand or totals[k][i] <= min_share * grand \
                            or totals[k + 1][j] <= min_share * grand:
                        continue
                    path = _ribbon(k + bar_width / 2, k + 1 - bar_width / 2,
                                   (out_cursor[i], out_cursor[i] - f), (in_cursor[j], in_cursor[j] - f))
                    out_cursor[i] -= f
                    in_cursor[j] -= f
                    ax.add_patch(PathPatch(path, facecolor=colors[names[i]], alpha=0.35, edgecolor="none",
                                           gid=f"{k}|{names[i]}|{names[j]}"))
        top = max(float(t.sum()) + pad * (S - 1) for t in totals)
        ax.set_xlim(-0.75, ncol - 0.25)
        ax.set_ylim(0, top * 1.02)
        ax.set_xticks(range(ncol), labels)
        ax.set_yticks([])
        ax.grid(False)
        ax.spines[["left", "bottom"]].set_visible(False)
        ax.tick_params(axis="x", length=0)
        ax.set_ylabel("customers (stacked by stage)")
        ax.set_title(title if title is not None else "Where a cohort goes: stage flows")
    return ax
