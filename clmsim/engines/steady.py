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

_DENSE_LIMIT = 1500
_POWER_STEPS = 200_000


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
    reach = reachability((M > 0).any(axis=0))
    rewarding = (nu != 0).any(axis=0)
    T = reach[:, rewarding].any(axis=1)
    closed = T & (reach <= reach.T).all(axis=1)  # i reaches j => j reaches i
    divergent = T & reach[:, closed].any(axis=1)
    fin = T & ~divergent
    out = np.zeros((N, E))
    if divergent.any():
        cls = reach[divergent][:, closed]
        for n in range(N):
            neg = (nu[n][closed] < 0)
            out[n, divergent] = np.where((cls & neg[None, :]).any(axis=1), np.nan, np.inf)
    if fin.any():
        idx = np.flatnonzero(fin)
        Q = M[:, idx[:, None], idx[None, :]]
        out[:, idx] = np.linalg.solve(np.eye(len(idx)) - Q, nu[:, idx, None])[..., 0]
    return out


def long_run_mix(M: np.ndarray, inflow: np.ndarray, ref_entry: np.ndarray, ref_rate: np.ndarray,
                 active: np.ndarray) -> tuple[np.ndarray, str]:
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

    Returns
    -------
    occupancy : array (N, E)
        Normalised to sum 1 over the states kept; ``nan`` on states left out.
    method : str
        ``"steady state"`` or ``"Perron vector"`` (see the module docstring).
    """
    N, E, _ = M.shape
    reach = reachability((M > 0).any(axis=0))
    keep = reach[:, active].any(axis=1)
    idx = np.flatnonzero(keep)
    n = len(idx)
    D = M[:, idx[:, None], idx[None, :]]
    a, e, rho = inflow[:, idx], ref_entry[:, idx], ref_rate[idx]
    out = np.full((N, E), np.nan)
    if n == 0:
        return out, "steady state"
    # spectral radius of every block < 1 iff every kept state can reach a state that leaks
    # mass out of the kept set; decided on what every node shares (a node only adds edges)
    shared = (D > 0).all(axis=0)
    leaks = (D.sum(axis=-1) < 1.0 - 1e-13).all(axis=0)
    transient = reachability(shared)[:, leaks].any(axis=1).all()
    if transient:
        A = np.eye(n)[None] - D  # x (I - D) = b  <=>  (I - D)^T x^T = b^T
        At = np.swapaxes(A, 1, 2)
        ya = np.linalg.solve(At, a[..., None])[..., 0]
        ye = np.linalg.solve(At, e[..., None])[..., 0]
        alpha, beta = float((ya * rho).sum()), float((ye * rho).sum())
        if beta < 1.0 - 1e-12 and (a.sum() > 0):
            x = ya + alpha / (1.0 - beta) * ye
            out[:, idx] = x / x.sum()
            return out, "steady state"
        if beta >= 1.0:  # referrals outrun churn: Perron root lam > 1 solves e (lam I - D)^-1 rho = 1
            lam = _secular_root(D, e, rho)
            x = np.linalg.solve(np.swapaxes(lam * np.eye(n)[None] - D, 1, 2), e[..., None])[..., 0]
            out[:, idx] = x / x.sum()
            return out, f"Perron vector (population growing by {lam - 1:.4%} per period)"
    weights = (inflow.sum(axis=1) + ref_entry.sum(axis=1) + 1e-300) > 0  # nodes that carry customers
    coupled = bool((rho > 0).any() and (e > 0).any())
    size = N * n
    if not coupled:
        vals, vecs = np.linalg.eig(np.swapaxes(D, 1, 2))
        lead = np.argmax(vals.real, axis=1)
        lam = vals.real[np.arange(N), lead]
        top = np.isclose(lam, lam[weights].max(), rtol=0, atol=1e-12) & weights
        vec = np.zeros((N, n))
        for q in np.flatnonzero(top):
            y = np.abs(vecs[q][:, lead[q]].real)
            vec[q] = y / y.sum()
        vec = vec.ravel()
    elif size <= _DENSE_LIMIT:
        K = np.zeros((size, size))
        for i in range(size):
            unit = np.zeros(size)
            unit[i] = 1.0
            K[i] = _left(unit, D, rho, e)
        vals, vecs = np.linalg.eig(K.T)
        j = int(np.argmax(vals.real))
        vec = np.abs(vecs[:, j].real)
    else:
        vec = np.full(size, 1.0 / size)
        for _ in range(_POWER_STEPS):
            nxt = _left(vec, D, rho, e)
            nxt /= nxt.sum()
            if np.abs(nxt - vec).max() < 1e-15:
                break
            vec = nxt
        else:
            return out, "not converged"
    vec = vec / vec.sum()
    vec = np.where(np.abs(vec) < 1e-15, 0.0, vec)
    out[:, idx] = vec.reshape(N, n)
    return out, "Perron vector"


def _secular_root(D: np.ndarray, e: np.ndarray, rho: np.ndarray) -> float:
    """Root ``lam >= 1`` of ``h(lam) = e (lam I - D)^-1 rho = 1`` (``h`` decreases for
    ``lam`` above every block's spectral radius, here < 1, and ``h(1) >= 1``)."""
    from scipy.optimize import brentq

    n = D.shape[1]

    def h(lam: float) -> float:
        At = np.swapaxes(lam * np.eye(n)[None] - D, 1, 2)
        return float((np.linalg.solve(At, e[..., None])[..., 0] * rho).sum()) - 1.0

    hi = 2.0
    while h(hi) > 0:
        hi *= 2.0
    return brentq(h, 1.0, hi, xtol=1e-15, rtol=1e-15)


def _left(y: np.ndarray, D: np.ndarray, rho: np.ndarray, e: np.ndarray) -> np.ndarray:
    """``y K`` for ``K = blockdiag(D) + rho e`` (flattened (N, n) vectors)."""
    N, n, _ = D.shape
    Y = y.reshape(N, n)
    res = (Y[:, None, :] @ D)[:, 0, :] + float((Y * rho).sum()) * e
    return res.ravel()
