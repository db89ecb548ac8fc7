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
at every kink (:func:`kinks`), and each piece gets the ``n``-point Gauss rule of the
draw's density *restricted to that piece*:

* no kink: the classical rules, generalized Gauss-Laguerre (weight ``y^(k-1) e^-y``,
  ``x = s y``) or Gauss-Jacobi on ``[0, 1]`` (weight ``theta^(a-1) (1-theta)^(b-1)``);
* with kinks, per piece (:func:`_piece_rule`): a reference rule of cells on which the
  log density varies by at most :data:`MAX_LOG_VARIATION` and whose distance from the
  density's branch points at 0 and 1 is at least their width (an endpoint power with
  exponent in (-1, 1) is carried by a Gauss-Jacobi weight instead), ``n +``
  :data:`EXTRA_NODES` nodes per cell; the piece's Gauss rule is then that of the
  reference measure (Lanczos, Golub-Welsch). Pieces holding less than
  :data:`NEGLIGIBLE_MASS` of the draw get no nodes, and the unbounded gamma support ends
  where its tail holds less than that (beyond the last kink every matrix entry is
  constant, so only the mass matters there).

Accuracy guaranteed: on every piece the rule integrates ``f(x) g(x)`` for every
polynomial ``f`` of degree ``<= 2n - 1`` with an error below ``1e-11 sup|f|`` over the
piece (in units of the segment's customers; measured against the incomplete beta and
gamma functions: <= 1e-12 over 200 random laws, kinks and ``n`` from 4 to 31,
``tests/test_analytic.py``), plus ``NEGLIGIBLE_MASS``. The analytic engine uses ``n >=
(H + 2) // 2`` nodes, so every expectation over the horizon -- a polynomial of degree
``<= H`` on each piece -- is exact to that error; without kinks the classical rules are
exact to rounding. Weights are normalised to sum to one so the mixture conserves
customers. The tail rules for infinite sums (``singular``: exact for ``p(x) / x`` next to
0) carry the same guarantee for ``p``. docs/engines.md states the measured error of the
engine's results (``n`` versus ``2n`` nodes).
"""

from __future__ import annotations

import functools

import numpy as np
from scipy import special

from ..laws import BetaLaw, GammaLaw
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
    if breaks.size == 0:
        y, w = _genlaguerre_normalized(n, k - 1.0)
        return s * y, w
    law = GammaLaw(k, s)
    logpdf = lambda x: (k - 1.0) * np.log(x) - x / s  # noqa: E731 (up to a constant)
    top = float(law.isf(NEGLIGIBLE_MASS))           # the support beyond holds < 1e-22 of the mass
    return _pieces(law, logpdf, k - 1.0, None, np.append(breaks[breaks < top], top), n, singular,
                   ("gamma", k, s))


def _beta_nodes(a: float, b: float, breaks: np.ndarray, n: int,
                singular: bool = False) -> tuple[np.ndarray, np.ndarray]:
    log_norm = special.betaln(a, b)
    if breaks.size == 0:
        x, w = _jacobi_on(0.0, 1.0, n, b - 1.0, a - 1.0)
        return x, w / np.exp(log_norm)
    law = BetaLaw(a, b)
    logpdf = lambda x: (a - 1.0) * np.log(x) + (b - 1.0) * np.log1p(-x)  # noqa: E731 (up to a constant)
    return _pieces(law, logpdf, a - 1.0, b - 1.0, np.append(breaks, 1.0), n, singular, ("beta", a, b))


NEGLIGIBLE_MASS = 1e-22
"""Probability below which a piece of the support (or a cell of its reference rule) is left out:
far below float64's resolution of the total (2.2e-16), so no expectation can see it."""
MAX_LOG_VARIATION = 8.0
"""Largest variation of the log density a cell of a reference rule leaves to its Gauss nodes."""
EXTRA_NODES = 16
"""Reference nodes per cell beyond the piece's ``n`` (cells are exact for degree ``2n + 31``)."""


PIECE_RULES_KEPT = 2048
"""Piece rules remembered (:func:`_pieces`): moving one kink leaves the other pieces' rules as they were."""

_piece_rules: dict = {}


def _pieces(law, logpdf, e0: float, e1: float | None, ends: np.ndarray, n: int,
            singular: bool, law_key: tuple) -> tuple[np.ndarray, np.ndarray]:
    """The ``n``-point Gauss rule of the density on every piece ``[0, ends[0]], [ends[0],
    ends[1]], ...`` (see :func:`_piece_rule`), pieces without mass left out; weights are the
    pieces' probabilities times the rules' normalised weights.

    ``law_key`` names the density (kind and parameters): a piece's rule depends only on it
    and the piece, so rules are remembered per piece (a changed kink recomputes the two
    pieces it bounds, not the whole support)."""
    xs, ws = [], []
    lo = 0.0
    for hi in ends:
        mass = float(law.cdf(hi) - law.cdf(lo)) if law.cdf(lo) < 0.5 else float(law.sf(lo) - law.sf(hi))
        if mass > NEGLIGIBLE_MASS and hi > lo:
            sing = singular and lo == 0.0 and e0 > 0.0
            key = (law_key, lo, float(hi), n, sing)
            rule = _piece_rules.get(key)
            if rule is None:
                if len(_piece_rules) >= PIECE_RULES_KEPT:
                    _piece_rules.clear()
                rule = _piece_rules[key] = _piece_rule(logpdf, lo, float(hi), e0, e1, n, sing)
            x, w = rule
            xs.append(x)
            ws.append(mass * w)
        lo = float(hi)
    return np.concatenate(xs), np.concatenate(ws)


def _piece_rule(logpdf, lo: float, hi: float, e0: float | None, e1: float | None, n: int,
                singular: bool) -> tuple[np.ndarray, np.ndarray]:
    """The ``n``-point Gauss rule of the density ``exp(logpdf)`` restricted to ``[lo, hi]``
    (weights summing to 1): exact for every polynomial of degree ``<= 2n - 1``.

    A reference rule is built first (:func:`_reference`): cells on which the log density varies
    by at most :data:`MAX_LOG_VARIATION` (apart from an endpoint power ``x^e0`` at 0 or
    ``(1-x)^e1`` at 1 with exponent in (-1, 1), carried by a Gauss-Jacobi weight), each with ``n
    +`` :data:`EXTRA_NODES` Gauss nodes, so that polynomials of degree ``2n - 1`` times the
    density are integrated to about 1e-20; the Gauss rule of that discrete measure then comes
    from its Jacobi matrix (Lanczos with full reorthogonalisation, Golub-Welsch). ``singular``:
    the rule of ``density / x`` with weights times ``x``, exact for ``p(x) / x``."""
    shift = (lambda x: logpdf(x) - np.log(x)) if singular else logpdf
    x, logw = _reference(shift, lo, hi, e0 - float(singular), e1, n + EXTRA_NODES)
    w = np.exp(logw - logw.max())
    keep = w > 0
    x, w = x[keep], w[keep]
    if x.size > n:
        x, w = _gauss_of_discrete(x, w, n)
    if singular:
        w = w * x
    return x, w / w.sum()


def _reference(logpdf, lo: float, hi: float, e0: float, e1: float | None,
               m: int) -> tuple[np.ndarray, np.ndarray]:
    """Nodes and log weights of a composite rule for ``int_lo^hi f(x) exp(logpdf(x)) dx``, the
    density behaving like ``x^e0`` at 0 and (``e1`` not None) ``(1-x)^e1`` at 1.

    ``[lo, hi]`` is bisected until on every cell ``[u, v]`` (a) the log density, less an
    endpoint power the cell carries as its Gauss-Jacobi weight (a cell touching 0 or 1 whose
    exponent is in (-1, 1)), varies by at most :data:`MAX_LOG_VARIATION`, and (b) the branch
    points at 0 and 1 are at least a cell width away (``u >= v - u``, ``1 - v >= v - u``) unless
    the cell carries them: the integrand is then analytic in a Bernstein ellipse with ``rho >=
    3 + sqrt 8``, where ``m`` Gauss nodes converge like ``rho^-2m``. Cells that cannot hold
    :data:`NEGLIGIBLE_MASS` of the piece are left out."""
    at0 = e0 != 0.0                                   # a branch point (or pole) of the density at 0
    at1 = e1 is not None and e1 != 0.0
    carry0 = -1.0 < e0 < 1.0
    carry1 = e1 is not None and -1.0 < e1 < 1.0

    def smooth(x, left, right):
        out = logpdf(x)
        if left:
            out = out - e0 * np.log(x)
        if right:
            out = out - e1 * np.log1p(-x)
        return out

    def cell(u, v, left, right):
        a, b = (e1 if right else 0.0), (e0 if left else 0.0)
        t, lw = _jacobi_log(m, a, b)                  # weight (1-t)^a (1+t)^b on [-1, 1]
        half = (v - u) / 2.0
        x = u + half * (1.0 + t)
        return x, lw + (1.0 + a + b) * np.log(half) + smooth(x, left, right)

    with np.errstate(divide="ignore", invalid="ignore"):
        # the piece's log integral, roughly (Riemann sum on a grid dense near both ends): the
        # floor below which a cell is negligible need only be right within a few powers of ten
        j = 2.0 ** -np.arange(1, 60)
        grid = np.unique(np.concatenate([lo + (hi - lo) * j, hi - (hi - lo) * j, np.linspace(lo, hi, 2001)]))
        mid, width = 0.5 * (grid[1:] + grid[:-1]), np.diff(grid)
        terms = logpdf(mid) + np.log(width)
        floor = np.logaddexp.reduce(terms[np.isfinite(terms)]) + np.log(NEGLIGIBLE_MASS) - 10.0
        probe = np.linspace(0.0, 1.0, 17)
        todo, done = [(lo, hi)], []
        while todo:
            u, v = todo.pop()
            left, right = carry0 and u == 0.0, carry1 and v == 1.0
            pts = u + (v - u) * probe
            full = logpdf(pts)
            full = full[np.isfinite(full)]
            if not (left or right) and (full.size == 0 or np.log(v - u) + full.max() < floor):
                continue                              # holds < 1e-22 of the piece
            y = smooth(pts, left, right)
            y = y[np.isfinite(y)]
            near = (at0 and not left and u < v - u) or (at1 and not right and 1.0 - v < v - u)
            if ((y.size and np.ptp(y) <= MAX_LOG_VARIATION and not near) or len(done) + len(todo) > 4000
                    or v - u <= 1e-14 * max(abs(u), abs(v))):
                done.append(cell(u, v, left, right))
            else:
                todo += [(u, 0.5 * (u + v)), (0.5 * (u + v), v)]
        x = np.concatenate([c[0] for c in done])
        lw = np.concatenate([c[1] for c in done])
    ok = np.isfinite(lw)
    return x[ok], lw[ok]


@functools.lru_cache(maxsize=64)
def _jacobi_log(m: int, a: float, b: float) -> tuple[np.ndarray, np.ndarray]:
    """Gauss-Jacobi nodes on [-1, 1] for the weight ``(1-t)^a (1+t)^b`` and log weights (a
    Legendre rule for ``a = b = 0``)."""
    if a == 0.0 and b == 0.0:
        t, w = special.roots_legendre(m)
    else:
        t, w = special.roots_jacobi(m, a, b)
    return t, np.log(w)


def _gauss_of_discrete(x: np.ndarray, w: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """The ``n``-point Gauss rule of the discrete measure ``sum_j w_j delta(x_j)`` (``w`` > 0):
    Lanczos on ``diag(x)`` from ``sqrt(w)`` with full reorthogonalisation gives the measure's
    Jacobi matrix, whose eigenvalues are the nodes and the squared first components of its
    eigenvectors the normalised weights (Golub & Welsch 1969)."""
    c = 0.5 * (x.min() + x.max())
    r = 0.5 * (x.max() - x.min()) or 1.0
    t = (x - c) / r                                   # on [-1, 1]: a well-scaled Jacobi matrix
    N = t.size
    Qm = np.zeros((n, N))
    q = np.sqrt(w / w.sum())
    alpha, beta = np.zeros(n), np.zeros(n)
    prev, b = np.zeros(N), 0.0
    for j in range(n):
        Qm[j] = q
        v = t * q - b * prev
        alpha[j] = q @ v
        v -= alpha[j] * q
        for _ in range(2):                            # full reorthogonalisation, twice
            v -= Qm[:j + 1].T @ (Qm[:j + 1] @ v)
        b = float(np.linalg.norm(v))
        if j + 1 < n:
            if b <= 1e-300:
                n = j + 1
                alpha, beta = alpha[:n], beta[:n]
                break
            beta[j + 1] = b
            prev, q = q, v / b
    from scipy.linalg import eigh_tridiagonal

    nodes, vec = eigh_tridiagonal(alpha, beta[1:n])
    weights = vec[0] ** 2
    return c + r * nodes, weights / weights.sum()


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
    if het.kind not in ("none", "gamma", "beta"):
        raise ValueError(f"unknown heterogeneity kind {het.kind!r}")
    breaks = () if breaks is None else tuple(float(b) for b in np.asarray(breaks, dtype=float).ravel())
    x, w = _nodes(het.kind, float(het.mean), float(het.cv), float(het.alpha), float(het.beta), breaks, int(n),
                  bool(singular))
    return x.copy(), w.copy()


@functools.lru_cache(maxsize=256)
def _nodes(kind: str, mean: float, cv: float, alpha: float, beta: float, breaks: tuple, n: int,
           singular: bool) -> tuple[np.ndarray, np.ndarray]:
    """:func:`mixture_nodes`, remembered: strategies, sweep points and optimiser steps of one
    scenario ask for the same rules again."""
    breaks = np.asarray(breaks, dtype=float)
    if kind == "none":
        return np.ones(1), np.ones(1)
    if kind == "gamma":
        k = 1.0 / cv ** 2
        if k > NEARLY_CONSTANT_SHAPE:  # cv < 0.01: one Gauss rule (piecewise weights x^(k-1) overflow)
            breaks = np.zeros(0)
        x, w = _gamma_nodes(k, mean * cv ** 2, breaks, n, singular)
    else:
        x, w = _beta_nodes(alpha, beta, breaks, n, singular)
    keep = w > 0
    x, w = x[keep], w[keep]
    return x, w / w.sum()


def risk_breaks(model, g: int) -> np.ndarray:
    """Draw values of segment ``g`` where a risk-targeted save offer or care program starts
    reaching customers (its threshold): the quadrature splits the support there, so every node
    is wholly in or out of the targeted share and the mixture stays exact."""
    levers = (*getattr(model, "programs", ()), *getattr(model, "intercepts", ()))
    thr = [x.thresholds(model.n_segments)[g] for x in levers]
    return np.unique([x for x in thr if np.isfinite(x) and x > 0.0])     # sorted, as the pieces need
