"""Beyond the horizon: infinite sums of a chain and the long-run mix of the base.

Both use the *last* period's parameters held constant after the horizon.

:func:`future_value`
    ``W = sum_{t>=1} v^t M^(t-1) nu = v (I - v M)^-1 nu`` per state: the value at
    time ``H`` of the rewards ``nu`` earned in periods ``H+1, H+2, ...``. For
    ``v = 1`` (expected lifetimes) only states that can reach a rewarding state
    matter; there ``(I - Q)^-1`` is the fundamental matrix ``N`` of the absorbing
    chain. A state that can reach a closed class with rewards has an infinite sum
    (``inf`` when the rewards are non-negative, else ``nan``).

:func:`long_run_mix`
    The long-run composition of the whole population (initial base, acquisitions,
    referrals) when the last period repeats for ever. With ``K = M + rho e`` (the
    move matrix plus referral inflows, restricted to the states from which an
    active stage can still be reached) and constant channel inflow ``a``:

    * if the spectral radius of ``K`` is below 1 and inflows exist, the population
      converges to the steady state ``x* = a (I - K)^-1`` (computed block-wise
      with the Sherman-Morrison form ``x* = (a + z e) (I - M)^-1``,
      ``z = a (I-M)^-1 rho / (1 - e (I-M)^-1 rho)``);
    * otherwise (no inflows, or a growing/non-absorbing population) the mix
      converges to the left Perron vector of ``K``: the quasi-stationary
      distribution of a dying population, the stationary distribution ``pi = pi P``
      of an irreducible chain, or the balanced-growth mix of a population whose
      referrals outrun its churn.

    Lost stages (and churned stages nobody leaves) accumulate without bound and
    are left out of the mix.
"""

from __future__ import annotations

import numpy as np

EDGE_TOL = 1e-12
"""Transition probabilities at or below this count as absent when deciding which states
can reach which: a leak of 1e-147 per period is an infinite lifetime in floating point."""


def reachability(pattern: np.ndarray) -> np.ndarray:
    """Boolean transitive-reflexive closure of a 0/1 matrix ``pattern`` (E, E)."""
    E = pattern.shape[0]
    reach = pattern.astype(bool) | np.eye(E, dtype=bool)
    while True:
        nxt = (reach.astype(np.int64) @ reach.astype(np.int64)) > 0
        if (nxt == reach).all():
            return reach
        reach = nxt


def future_value(M: np.ndarray, nu: np.ndarray, v: float) -> np.ndarray:
    """``sum_{t>=1} v^t M^(t-1) nu`` for a batch of chains.

    Parameters
    ----------
    M : array (N, E, E)
        One-period matrices.
    nu : array (N, E)
        Expected reward per period for a customer starting the period in each state.
    v : float
        Discount factor per period, ``0 < v <= 1``.

    Returns
    -------
    array (N, E)
        Finite values, or ``inf``/``nan`` for divergent sums (``v = 1`` only).
    """
    N, E, _ = M.shape
    eye = np.eye(E)
    if v < 1.0:
        return v * np.linalg.solve(eye - v * M, nu[..., None])[..., 0]
    out = np.zeros((N, E))
    # Which states diverge depends on each chain's own edges: a segment that never leaves a
    # class another segment leaves has an infinite sum there. Chains with the same edges and
    # rewarding states (the quadrature nodes of one segment, usually) share one closure.
    pattern, rewarding = M > EDGE_TOL, nu != 0
    groups: dict[bytes, list[int]] = {}
    for n, key in enumerate(np.packbits(np.concatenate([pattern.reshape(N, E * E), rewarding], axis=1), axis=1)):
        groups.setdefault(key.tobytes(), []).append(n)
    for members in map(np.array, groups.values()):
        reach = reachability(pattern[members[0]])
        T = reach[:, rewarding[members[0]]].any(axis=1)
        closed = T & (reach <= reach.T).all(axis=1)  # i reaches j => j reaches i
        divergent = T & reach[:, closed].any(axis=1)
        fin = T & ~divergent
        if divergent.any():
            cls = reach[divergent][:, closed]
            neg = nu[members][:, closed] < 0
            out[np.ix_(members, np.flatnonzero(divergent))] = np.where(
                (cls[None, :, :] & neg[:, None, :]).any(axis=2), np.nan, np.inf)
        if fin.any():
            idx = np.flatnonzero(fin)
            Q = M[np.ix_(members, idx, idx)]
            out[np.ix_(members, idx)] = np.linalg.solve(np.eye(len(idx)) - Q, nu[np.ix_(members, idx)][..., None])[..., 0]
    return out


def long_run_mix(M: np.ndarray, inflow: np.ndarray, ref_entry: np.ndarray, ref_rate: np.ndarray,
                 active: np.ndarray, present: np.ndarray | None = None) -> tuple[np.ndarray, str]:
    """Long-run occupancy (up to scale) of a population under constant parameters.

    Parameters
    ----------
    M : array (N, E, E)
        One-period matrices of the N = segments x nodes sub-chains.
    inflow : array (N, E)
        Expected channel arrivals per period (0 for none).
    ref_entry : array (N, E)
        Where one referred customer lands (sums to 1 over all N, E; zeros for none).
    ref_rate : array (E,)
        Referrals per customer per period of each state.
    active : array (E,)
        Active states.
    present : array (N,) of bool, optional
        Sub-chains that hold customers (quadrature nodes of positive weight); default all.

    Returns
    -------
    occupancy : array (N, E)
        Normalised to sum 1 over the states kept; ``nan`` on states left out.
    method : str
        ``"steady state"`` or ``"Perron vector ..."`` (see the module docstring).
    """
    N, E, _ = M.shape
    present = np.ones(N, dtype=bool) if present is None else np.asarray(present, dtype=bool)
    reach = reachability((M > EDGE_TOL).any(axis=0))
    keep = reach[:, active].any(axis=1)
    idx = np.flatnonzero(keep)
    n = len(idx)
    out = np.full((N, E), np.nan)
    if n == 0:
        return out, "steady state"
    D = M[:, idx[:, None], idx[None, :]] * present[:, None, None]
    a, e, rho = inflow[:, idx], ref_entry[:, idx], ref_rate[idx]
    # spectral radius of every block < 1 iff every kept state can reach a state that leaks
    # mass out of the kept set; decided on what every node shares (a node only adds edges)
    shared = (D[present] > EDGE_TOL).all(axis=0)
    leaks = (D[present].sum(axis=-1) < 1.0 - EDGE_TOL).all(axis=0)
    transient = reachability(shared)[:, leaks].any(axis=1).all()
    if transient and a.sum() > 0:
        At = np.swapaxes(np.eye(n)[None] - D, 1, 2)  # x (I - D) = b  <=>  (I - D)^T x^T = b^T
        ya = np.linalg.solve(At, a[..., None])[..., 0]
        ye = np.linalg.solve(At, e[..., None])[..., 0]
        alpha, beta = float((ya * rho).sum()), float((ye * rho).sum())
        if beta < 1.0 - 1e-12:
            x = ya + alpha / (1.0 - beta) * ye
            out[:, idx] = x / x.sum()
            return out, "steady state"
    vec, lam = _perron(D, e, rho, present)
    out[:, idx] = vec
    if lam > 1.0 + 1e-12:
        return out, f"Perron vector (population growing by {lam - 1:.4%} per period)"
    if lam < 1.0 - 1e-12:
        return out, f"Perron vector (quasi-stationary; population shrinking by {1 - lam:.4%} per period)"
    return out, "Perron vector (stationary distribution)"


def _h(D: np.ndarray, e: np.ndarray, rho: np.ndarray, lam: float, blocks: np.ndarray) -> tuple[float, np.ndarray]:
    """``h(lam) = e (lam I - D)^-1 rho`` over ``blocks`` and the vector ``e (lam I - D)^-1``."""
    n = D.shape[1]
    y = np.zeros(e.shape)
    if blocks.any():
        At = np.swapaxes(lam * np.eye(n)[None] - D[blocks], 1, 2)
        y[blocks] = np.linalg.solve(At, e[blocks][..., None])[..., 0]
    return float((y * rho).sum()), y


def _perron(D: np.ndarray, e: np.ndarray, rho: np.ndarray, present: np.ndarray) -> tuple[np.ndarray, float]:
    """Left Perron vector and root of ``K = blockdiag(D) + rho e`` (rank-one referral coupling).

    With ``lam_D`` the largest block root: if ``h(lam) = e (lam I - D)^-1 rho`` exceeds 1 just
    above ``lam_D``, the root is the ``lam > lam_D`` with ``h(lam) = 1`` and the vector is
    ``e (lam I - D)^-1``; otherwise the root is ``lam_D``, the vector the dominant blocks'
    Perron vectors plus the referrals they send into the other blocks.
    """
    from scipy.optimize import brentq

    N, n, _ = D.shape
    vals, vecs = np.linalg.eig(np.swapaxes(D, 1, 2))
    lead = np.argmax(vals.real, axis=1)
    roots = vals.real[np.arange(N), lead]
    lam_d = float(roots[present].max())
    coupled = bool((rho > 0).any() and (e > 0).any())
    if coupled:
        lo = lam_d + max(1e-12, 1e-9 * abs(lam_d))
        try:
            h_lo = _h(D, e, rho, lo, present)[0]
        except np.linalg.LinAlgError:
            h_lo = np.inf
        if h_lo > 1.0:
            hi = lam_d + 1.0
            while _h(D, e, rho, hi, present)[0] > 1.0:
                hi = lam_d + 2.0 * (hi - lam_d)
            lam = brentq(lambda x: _h(D, e, rho, x, present)[0] - 1.0, lo, hi, xtol=1e-15, rtol=1e-15)
            y = _h(D, e, rho, lam, present)[1]
            return np.abs(y) / np.abs(y).sum(), float(lam)
    top = present & (roots >= lam_d - 1e-12)
    vec = np.zeros((N, n))
    for q in np.flatnonzero(top):
        y = np.abs(vecs[q][:, lead[q]].real)
        vec[q] = y / y.sum()
    rest = present & ~top
    if coupled and rest.any():
        h_rest, y_rest = _h(D, e, rho, lam_d, rest)
        z = float((vec * rho).sum()) / (1.0 - h_rest)
        vec = vec + z * y_rest
    vec = np.where(np.abs(vec) < 1e-15, 0.0, vec)
    return vec / vec.sum(), lam_d
