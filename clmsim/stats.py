"""Interval estimates: the one place where clmsim computes a confidence interval.

Every interval is two-sided at level ``1 - alpha`` (95% by default) and rests on
independent replicates: Monte Carlo runs are i.i.d. across runs, and so are
batches of runs. Paired differences are taken *within* a replicate, where common
random numbers make two strategies positively correlated. Functions:

* :func:`mean_ci` -- a mean with the Student-t interval
  ``mean +- t_{1-alpha/2, n-1} sd / sqrt(n)``;
* :func:`ratio_ci` -- a ratio of means ``R = mean(num) / mean(den)`` with the
  delta-method interval (linearised residuals ``z_i = (num_i - R den_i) / mean(den)``,
  ``se = sd(z) / sqrt(n)``, ``R +- t se``). With ``den`` = replicate sizes it is the
  mean per run over unequal batches; with paired differences it is an ROI;
* :func:`wilson` -- a share ``k / n`` with the Wilson score interval;
* :func:`band` -- the pointwise interval of a mean path (one :func:`ratio_ci` per column);
* :func:`nested_ci` -- K parameter draws x R runs: the predictive interval of the expected
  value at the true parameters, split into parameter and process (Monte Carlo) parts.

Degenerate input is not an error: no replicate gives NaN, a single replicate (an exact
value) gives a degenerate interval at the value, an undefined ratio (zero denominator)
gives NaN. The documented cases are checked against docs/metrics.md by the tests.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtri, stdtrit

Z95 = 1.959963984540054
"""Normal quantile of 0.975."""


def t_quantile(n: int, alpha: float = 0.05) -> float:
    """Student-t quantile ``t_{1-alpha/2, n-1}``; NaN below two replicates."""
    if n < 2:
        return float("nan")
    return float(stdtrit(n - 1, 1.0 - alpha / 2.0))


def mean_ci(x, alpha: float = 0.05) -> tuple[float, float, float, float, int]:
    """Mean with a Student-t interval.

    Returns
    -------
    tuple
        ``(mean, sd, ci_lo, ci_hi, n)``, half-width ``t_{1-alpha/2, n-1} sd / sqrt(n)``
        (``sd`` with ddof 1). No value: ``(nan, nan, nan, nan, 0)``; one value (an exact
        engine's expectation): ``sd = nan`` and a degenerate interval at the value.
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


def ratio_ci(num, den, alpha: float = 0.05) -> tuple[float, float, float, float, int]:
    """Ratio of means ``R = mean(num) / mean(den)`` with a delta-method interval.

    The linearised residuals ``z_i = (num_i - R den_i) / mean(den)`` give
    ``se(R) = sd(z) / sqrt(n)`` and the interval ``R +- t_{1-alpha/2, n-1} se``.

    Returns
    -------
    tuple
        ``(R, sd, ci_lo, ci_hi, n)`` with ``sd = sd(z)`` (so ``se = sd / sqrt(n)``). ``R`` is
        NaN when ``mean(den)`` is 0 (up to rounding: ``|mean(den)| <= 1e-12 max|den|``); one
        replicate gives a degenerate interval at ``R``.
    """
    num = np.asarray(num, dtype=float)
    den = np.asarray(den, dtype=float)
    n = num.size
    dbar = float(den.mean()) if n else 0.0
    if n == 0 or abs(dbar) <= 1e-12 * max(float(np.abs(den).max(initial=0.0)), 1e-300):
        return float("nan"), float("nan"), float("nan"), float("nan"), n
    r = float(num.mean()) / dbar
    if n == 1:
        return r, float("nan"), r, r, 1
    sd = float(((num - r * den) / dbar).std(ddof=1))
    hw = t_quantile(n, alpha) * sd / np.sqrt(n)
    return r, sd, r - hw, r + hw, n


def band(paths, sizes, alpha: float = 0.05) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pointwise interval of a mean path from replicate paths.

    Parameters
    ----------
    paths : array (replicates, T)
        Per replicate, the path summed over its runs (a batch of ``n_b`` runs contributes
        the sum, i.e. ``n_b`` times its mean path).
    sizes : array (replicates,)
        Runs per replicate.

    Returns
    -------
    mean, lo, hi : arrays (T,)
        Per column :func:`ratio_ci` of ``(paths[:, t], sizes)``: the mean per run and its
        interval (NaN intervals with one replicate).
    """
    paths = np.atleast_2d(np.asarray(paths, dtype=float))
    sizes = np.asarray(sizes, dtype=float)
    B, T = paths.shape
    nbar = float(sizes.mean())
    mean = paths.sum(axis=0) / sizes.sum()
    if B < 2:
        return mean, np.full(T, np.nan), np.full(T, np.nan)
    z = (paths - mean[None, :] * sizes[:, None]) / nbar
    hw = t_quantile(B, alpha) * z.std(axis=0, ddof=1) / np.sqrt(B)
    return mean, mean - hw, mean + hw


def wilson(k: int, n: int, alpha: float = 0.05) -> tuple[float, float, float]:
    """Share ``k / n`` with the Wilson score interval ``(p, lo, hi)``; NaN for ``n = 0``."""
    if n == 0:
        return float("nan"), float("nan"), float("nan")
    z = float(ndtri(1.0 - alpha / 2.0))
    p = k / n
    den = 1.0 + z * z / n
    centre = (p + z * z / (2 * n)) / den
    hw = z * np.sqrt(p * (1 - p) / n + z * z / (4 * n * n)) / den
    return p, max(0.0, centre - hw), min(1.0, centre + hw)


def quantile(x, q: float) -> float:
    """Empirical quantile (linear interpolation), NaN for empty input."""
    x = np.asarray(x, dtype=float)
    return float(np.quantile(x, q)) if x.size else float("nan")


def nested_ci(y, alpha: float = 0.05) -> dict:
    """Interval of an expected value under parameter uncertainty from ``y[k, r]``: run ``r`` of
    parameter draw ``k`` (K >= 2 draws, R runs each; R = 1 for an exact engine).

    With ``m_k`` the draw means, ``s_b^2 = Var(m_k)`` and ``s_w^2`` the mean within-draw
    variance (0 when R = 1): parameter variance ``sigma_p^2 = max(0, s_b^2 - s_w^2 / R)``,
    process variance of the estimate ``s_w^2 / (K R)``, and the predictive interval of the
    expected value at the true parameters (one more draw from the parameter distribution)

        mean(m) +- t_{1-alpha/2, K-1} sqrt(sigma_p^2 (1 + 1/K) + s_w^2 / (K R)).

    Returns
    -------
    dict
        ``mean, ci_lo, ci_hi, half_width, parameter_half_width`` (``t sqrt(sigma_p^2 (1 + 1/K))``),
        ``process_half_width`` (``t sqrt(s_w^2 / (K R))``; the two add in quadrature to
        ``half_width``), ``parameter_share`` (``sigma_p^2 (1 + 1/K)`` over the total; NaN when the
        total is 0), ``draws`` (K), ``runs_per_draw`` (R). NaN intervals below two draws.
    """
    y = np.atleast_2d(np.asarray(y, dtype=float))
    K, R = y.shape
    m = y.mean(axis=1)
    mean = float(m.mean()) if K else float("nan")
    if K < 2:
        nan = float("nan")
        return {"mean": mean, "ci_lo": nan, "ci_hi": nan, "half_width": nan, "parameter_half_width": nan,
                "process_half_width": nan, "parameter_share": nan, "draws": K, "runs_per_draw": R}
    sw2 = float(y.var(axis=1, ddof=1).mean()) if R > 1 else 0.0
    sb2 = float(m.var(ddof=1))
    sp2 = max(0.0, sb2 - sw2 / R)
    par = sp2 * (1.0 + 1.0 / K)
    proc = sw2 / (K * R)
    t = t_quantile(K, alpha)
    hw = t * np.sqrt(par + proc)
    return {"mean": mean, "ci_lo": mean - hw, "ci_hi": mean + hw, "half_width": float(hw),
            "parameter_half_width": float(t * np.sqrt(par)), "process_half_width": float(t * np.sqrt(proc)),
            "parameter_share": par / (par + proc) if par + proc > 0 else float("nan"),
            "draws": K, "runs_per_draw": R}
