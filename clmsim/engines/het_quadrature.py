"""Quadrature over a customer's heterogeneity draw: a finite mixture of chains.

A segment with heterogeneity is a continuous mixture of Markov chains indexed by
the customer's draw ``x`` (a churn multiplier ``m ~ Gamma(k, s)`` with
``k = 1/cv^2``, ``s = mean cv^2``, or a churn probability ``theta ~ Beta(a, b)``).
Every expectation the analytic engine computes is ``E[f(x)] = int f(x) g(x) dx``
for the density ``g``; it is replaced by ``sum_i w_i f(x_i)``.

Within one *piece* of the support every entry of the one-period matrix is an
affine function of ``x``, so an expectation over ``t`` periods is a polynomial of
degree ``<= t`` in ``x``. :func:`clmsim.model.effective_matrix` clips the churn
total at ``1 - moves``, which puts a kink at ``x* = (1 - moves) / (factor C)``
(gamma) or ``x* = (1 - moves) / factor`` (beta). The support is therefore split
at every kink (:func:`kinks`), and each piece gets a Gauss rule whose weight
function carries the endpoint singularity of the density:

* gamma, no kink: generalized Gauss-Laguerre, weight ``y^(k-1) e^-y``, ``x = s y``;
* beta, no kink: Gauss-Jacobi on ``[0, 1]``, weight ``theta^(a-1) (1-theta)^(b-1)``;
* first piece ``[0, x1]``: Gauss-Jacobi with weight ``x^(k-1)`` (``theta^(a-1)``),
  the rest of the density as a smooth factor;
* interior pieces: Gauss-Legendre times the density;
* last piece: Gauss-Laguerre shifted to ``[xk, inf)`` (gamma) or Gauss-Jacobi with
  weight ``(1-theta)^(b-1)`` on ``[xk, 1]`` (beta).

With ``n`` nodes per piece the rule is exact for polynomials of degree ``2n - 1``
times the weight function, so horizon expectations with ``H <= 2n - 1`` are exact
up to the smooth factor's own (exponentially small) error; the weights are
normalised to sum to one so the mixture conserves customers. docs/engines.md
states the measured error (``n`` versus ``2n`` nodes).
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..model import Heterogeneity

DEFAULT_NODES = 16
"""Minimum nodes per piece of the support; see docs/engines.md for the measured error."""


def kinks(het: Heterogeneity, factors: list[tuple[np.ndarray, np.ndarray, np.ndarray]]) -> np.ndarray:
    """Draw values where the clipped churn of some active row hits its bound.

    Parameters
    ----------
    het : Heterogeneity
        The segment's heterogeneity (``gamma`` or ``beta``).
    factors : list of (churn_factor, moves_sum, churn_total)
        Per regime and per row: program churn factor, sum of the non-churn moves
        after upgrades (capped at 1) and the base churn total ``C`` (zero for rows
        without churn, which are skipped).

    Returns
    -------
    numpy.ndarray
        Sorted distinct kinks strictly inside the support.
    """
    out = []
    for cf, msum, C in factors:
        rows = C > 0
        room = 1.0 - msum[rows]
        if het.kind == "gamma":
            slope = cf[rows] * C[rows]
        else:
            slope = cf[rows]
        with np.errstate(divide="ignore", invalid="ignore"):
            x = np.where(slope > 0, room / slope, np.inf)
        upper = np.inf if het.kind == "gamma" else 1.0
        out.extend(float(v) for v in x if 0.0 < v < upper)
    if het.kind == "gamma" and out:
        # a kink beyond which the draw has no mass in float64 (tiny churn: 1/C far in the tail)
        # changes nothing, and a mesh built around it would carry only zero weights
        k = 1.0 / het.cv ** 2
        out = [v for v in out if special.gammaincc(k, v / (het.mean / k)) > 0.0]
    if not out:
        return np.zeros(0)
    pts = np.unique(np.round(np.asarray(out), 14))
    return pts


def _jacobi_on(lo: float, hi: float, n: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Nodes/weights for ``int_lo^hi f(x) (hi-x)^a (x-lo)^b dx``."""
    u, w = special.roots_jacobi(n, a, b)
    half = (hi - lo) / 2.0
    x = lo + half * (1.0 + u)
    return x, w * half ** (1.0 + a + b)


def _first_piece(hi: float, n: int, a: float, singular: bool) -> tuple[np.ndarray, np.ndarray]:
    """Rule for ``int_0^hi f(x) x^(a-1) dx``; ``singular`` makes it exact for ``f = p(x)/x``
    (Jacobi weight ``x^(a-2)`` applied to ``x f(x)``, needs ``a > 1``)."""
    if singular and a > 1.0:
        x, w = _jacobi_on(0.0, hi, n, 0.0, a - 2.0)
        return x, w * x
    return _jacobi_on(0.0, hi, n, 0.0, a - 1.0)


NEARLY_CONSTANT_SHAPE = 1e4
"""Gamma shape (1/cv^2) beyond which a draw is integrated by one Gauss rule over its whole
support: its mass lies within a few cv (< 1 %) of the mean, where the integrand is smooth."""


def _genlaguerre_normalized(n: int, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss rule for the weight ``x^alpha e^-x`` with weights summing to 1. For large ``alpha``
    (a nearly constant gamma draw, cv -> 0) the raw weights overflow (they sum to
    ``Gamma(alpha + 1)``), so the normalised weights come from the Jacobi matrix (Golub-Welsch:
    squared first components of its eigenvectors)."""
    if alpha < 100.0:
        y, w = special.roots_genlaguerre(n, alpha)
        return y, w / np.exp(special.gammaln(alpha + 1.0))
    i = np.arange(n, dtype=float)
    J = np.diag(2.0 * i + alpha + 1.0) + np.diag(np.sqrt(i[1:] * (i[1:] + alpha)), 1) \
        + np.diag(np.sqrt(i[1:] * (i[1:] + alpha)), -1)
    y, v = np.linalg.eigh(J)
    w = v[0] ** 2
    return y, w / w.sum()


def _gamma_nodes(k: float, s: float, breaks: np.ndarray, n: int,
                 singular: bool = False) -> tuple[np.ndarray, np.ndarray]:
    log_norm = special.gammaln(k) + k * np.log(s)  # density = x^(k-1) e^(-x/s) / (Gamma(k) s^k)
    if breaks.size == 0:
        y, w = _genlaguerre_normalized(n, k - 1.0)
        return s * y, w
    xs, ws = [], []
    x, w = _first_piece(breaks[0], n, k, singular)  # weight x^(k-1), smooth e^(-x/s)
    xs.append(x)
    ws.append(w * np.exp(-x / s - log_norm))
    for lo, hi in zip(breaks[:-1], breaks[1:]):
        x, w = _jacobi_on(lo, hi, n, 0.0, 0.0)
        xs.append(x)
        ws.append(w * np.exp((k - 1.0) * np.log(x) - x / s - log_norm))
    lo = breaks[-1]
    y, w = special.roots_laguerre(n)
    x = lo + s * y
    xs.append(x)
    ws.append(w * np.exp((k - 1.0) * np.log(x) - lo / s + np.log(s) - log_norm))
    return np.concatenate(xs), np.concatenate(ws)


def _beta_nodes(a: float, b: float, breaks: np.ndarray, n: int,
                singular: bool = False) -> tuple[np.ndarray, np.ndarray]:
    log_norm = special.betaln(a, b)
    if breaks.size == 0:
        x, w = _jacobi_on(0.0, 1.0, n, b - 1.0, a - 1.0)
        return x, w / np.exp(log_norm)
    xs, ws = [], []
    x, w = _first_piece(breaks[0], n, a, singular)
    xs.append(x)
    ws.append(w * np.exp((b - 1.0) * np.log1p(-x) - log_norm))
    for lo, hi in zip(breaks[:-1], breaks[1:]):
        x, w = _jacobi_on(lo, hi, n, 0.0, 0.0)
        xs.append(x)
        ws.append(w * np.exp((a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x) - log_norm))
    x, w = _jacobi_on(breaks[-1], 1.0, n, b - 1.0, 0.0)
    xs.append(x)
    ws.append(w * np.exp((a - 1.0) * np.log(x) - log_norm))
    return np.concatenate(xs), np.concatenate(ws)


def graded(het: Heterogeneity, breaks: np.ndarray, floor: float) -> np.ndarray:
    """Add a geometric mesh ``b 2^j`` around the first break (or the draw's mean ``b``):
    down to ``floor`` and up to the end of the bulk (1 for beta, mean + 10 sd for gamma).

    Infinite-horizon values behave like ``1 / (d + c x)`` near ``x = 0``; with pieces
    whose length is proportional to their distance from 0, that near-pole stays at a
    fixed relative distance from every piece and each Gauss rule converges geometrically.
    """
    if het.kind == "gamma":
        top = breaks[0] if breaks.size else het.mean
        upper = het.mean * (1.0 + 10.0 * het.cv)
    else:
        top = breaks[0] if breaks.size else het.alpha / (het.alpha + het.beta)
        upper = 1.0
    j = int(np.clip(np.ceil(np.log2(top / floor)) if floor > 0 else 1, 1, 60))
    down = top * 2.0 ** -np.arange(1, j + 1)
    up = top * 2.0 ** np.arange(1, 60)
    up = up[up < upper / 1.5]
    return np.union1d(np.union1d(breaks, down), up)


def mixture_nodes(het: Heterogeneity, breaks: np.ndarray | None = None,
                  n: int = DEFAULT_NODES, singular: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Nodes ``x_i`` and weights ``w_i`` (summing to 1) of a segment's draw.

    Parameters
    ----------
    het : Heterogeneity
        ``none`` gives the single node ``x = 1`` (a churn multiplier of one).
    breaks : array, optional
        Kinks of the integrand (:func:`kinks`); the support is split there.
    n : int
        Nodes per piece.
    singular : bool
        Make the piece next to 0 exact for integrands ``p(x) / x`` (undiscounted
        infinite sums such as lifetimes grow like ``1/x`` when churn vanishes).

    Returns
    -------
    x, w : numpy.ndarray
        Multipliers (gamma, none) or churn probabilities (beta), and weights.
    """
    if n < 1:
        raise ValueError(f"need at least one quadrature node, got {n}")
    breaks = np.zeros(0) if breaks is None else np.asarray(breaks, dtype=float)
    if het.kind == "none":
        return np.ones(1), np.ones(1)
    if het.kind == "gamma":
        k = 1.0 / het.cv ** 2
        if k > NEARLY_CONSTANT_SHAPE:  # cv < 0.01: one Gauss rule (piecewise weights x^(k-1) overflow)
            breaks = np.zeros(0)
        x, w = _gamma_nodes(k, het.mean * het.cv ** 2, breaks, n, singular)
    elif het.kind == "beta":
        x, w = _beta_nodes(het.alpha, het.beta, breaks, n, singular)
    else:
        raise ValueError(f"unknown heterogeneity kind {het.kind!r}")
    keep = w > 0
    x, w = x[keep], w[keep]
    return x, w / w.sum()


def risk_breaks(model, g: int) -> np.ndarray:
    """Draw values of segment ``g`` where a risk-targeted save offer starts reaching customers
    (its threshold): the quadrature splits the support there, so every node is wholly in or
    out of the targeted share and the mixture stays exact."""
    thr = [ic.thresholds(model.n_segments)[g] for ic in getattr(model, "intercepts", ())]
    return np.array([x for x in thr if np.isfinite(x) and x > 0.0])
