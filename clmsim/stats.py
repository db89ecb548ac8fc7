"""Interval estimates used across the analysis layer.

All intervals are two-sided at level ``1 - alpha`` (95% by default) and are
computed from independent runs (Monte Carlo replications are i.i.d. across
runs; paired differences are taken *within* a run, where common random numbers
make the two strategies positively correlated).
"""

from __future__ import annotations

import numpy as np
from scipy import stats as _st

Z95 = 1.959963984540054


def t_quantile(n: int, alpha: float = 0.05) -> float:
    """Student-t quantile ``t_{1-alpha/2, n-1}`` (normal quantile for large n)."""
    if n < 2:
        return float("nan")
    return float(_st.t.ppf(1.0 - alpha / 2.0, n - 1))


def mean_ci(x: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float, float, int]:
    """Mean with a Student-t interval.

    Returns ``(mean, sd, ci_lo, ci_hi, n)`` where the half-width is
    ``t_{1-alpha/2, n-1} * sd / sqrt(n)``; a single value (e.g. an exact engine's
    expectation) has ``sd = nan`` and a degenerate interval at the value.
    """
    x = np.asarray(x, dtype=float)
    n = x.size
    if n == 0:
        return (float("nan"),) * 4 + (0,)
    m = float(x.mean())
    if n == 1:
        return m, float("nan"), m, m, 1
    sd = float(x.std(ddof=1))
    hw = t_quantile(n, alpha) * sd / np.sqrt(n)
    return m, sd, m - hw, m + hw, n


def ratio_ci(num: np.ndarray, den: np.ndarray, alpha: float = 0.05) -> tuple[float, float, float]:
    """Ratio of means ``R = mean(num) / mean(den)`` with a delta-method interval.

    The linearised residuals ``z_r = (num_r - R den_r) / mean(den)`` give
    ``se(R) = sd(z) / sqrt(n)``; the interval is ``R +- t se``. Returns
    ``(R, lo, hi)``; ``R`` is NaN when ``mean(den)`` is 0 (undefined ratio), and
    the interval is degenerate when there is a single (exact) row.
    """
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    n = num.size
    dbar = float(den.mean()) if n else 0.0
    if n == 0 or abs(dbar) <= 1e-12 * max(1.0, float(np.abs(den).max(initial=0.0))):
        return float("nan"), float("nan"), float("nan")
    r = float(num.mean()) / dbar
    if n == 1:
        return r, r, r
    z = (num - r * den) / dbar
    hw = t_quantile(n, alpha) * float(z.std(ddof=1)) / np.sqrt(n)
    return r, r - hw, r + hw


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """Share ``k/n`` with the Wilson score interval ``(p, lo, hi)``."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    z = float(_st.norm.ppf(1.0 - alpha / 2.0))
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    hw = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, centre - hw), min(1.0, centre + hw)


def quantile(x: np.ndarray, q: float) -> float:
    """Empirical quantile (linear interpolation), NaN for empty input."""
    x = np.asarray(x, dtype=float)
    return float(np.quantile(x, q)) if x.size else float("nan")
