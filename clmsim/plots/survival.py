"""Cohort survival: the share of a cohort still active, simulated with a band and the
analytic curve overlaid.

Customers of a cohort evolve independently, so the number still active at ``t`` out
of ``n`` is Binomial(n, S(t)) whatever the heterogeneity or win-back;
:func:`binomial_band` gives that exact prediction band for a cohort of ``n``.
"""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..errors import ClmsimError
from .style import NEUTRAL, color, new_axes, percent_formatter, style_context


def binomial_band(S, n: int, level: float = 0.90) -> tuple[np.ndarray, np.ndarray]:
    """Central ``level`` prediction band of the surviving share of a cohort of ``n``.

    ``lo = F^{-1}((1-level)/2) / n``, ``hi = F^{-1}((1+level)/2) / n`` with ``F`` the
    Binomial(n, S(t)) distribution function.
    """
    S = np.clip(np.asarray(S, dtype=float), 0.0, 1.0)
    if n < 1:
        raise ClmsimError(f"cohort size must be >= 1, got {n}")
    a = (1.0 - level) / 2
    return stats.binom.ppf(a, n, S) / n, stats.binom.ppf(1 - a, n, S) / n


def survival_curve(t, mean, *, lo=None, hi=None, analytic=None, ax=None, label: str = "simulated",
                   band_label: str = "band", analytic_label: str = "analytic", unit: str = "period",
                   title: str | None = None):
    """Share of a cohort still active over time.

    Parameters
    ----------
    t : array
        Periods since the cohort started (0 = start, share 1).
    mean : array or None
        Simulated (or observed) surviving share at each ``t``.
    lo, hi : array, optional
        Band around ``mean`` (e.g. 5-95% across runs, or :func:`binomial_band`).
    analytic : array, optional
        Exact expected share at each ``t`` (dashed black line).
    unit : str
        Period unit for the x label.

    Returns
    -------
    matplotlib.axes.Axes
        Lines labelled ``label`` and ``analytic_label``; the band is ``ax.collections[0]``.
    """
    t = np.asarray(t, dtype=float)
    if mean is None and analytic is None:
        raise ClmsimError("survival_curve needs a simulated or an analytic curve")
    for name, arr in (("mean", mean), ("lo", lo), ("hi", hi), ("analytic", analytic)):
        if arr is not None and np.shape(arr) != t.shape:
            raise ClmsimError(f"survival_curve: {name} has shape {np.shape(arr)}, t has {t.shape}")
    with style_context([label, band_label, analytic_label]):
        ax = new_axes(ax)
        if lo is not None and hi is not None:
            ax.fill_between(t, lo, hi, color=color(0), alpha=0.2, linewidth=0, label=band_label)
        if mean is not None:
            ax.plot(t, mean, color=color(0), linewidth=2, label=label)
        if analytic is not None:
            ax.plot(t, analytic, color="black", linestyle="--", linewidth=1.3, label=analytic_label)
        ax.axhline(0.5, color=NEUTRAL, linewidth=0.8, linestyle=":")
        ax.set_ylim(0, 1.02)
        ax.set_xlim(t.min(), t.max())
        ax.yaxis.set_major_formatter(percent_formatter())
        ax.set_xlabel(f"{unit}s since the cohort joined")
        ax.set_ylabel("share still active")
        ax.set_title(title if title is not None else "Cohort survival")
        ax.legend(loc="upper right")
    return ax
