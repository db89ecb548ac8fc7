"""Latent classes with dropout: K kinds of customer, each with its own chain, and churned
customers who may leave for good.

A first-order chain on RFM stages moves every customer of a stage by the same row, so it
forecasts the customers who kept buying like the average customer of their stage and settles
at its long-run level at once (docs/calibration.md, "Richer chains on CDNOW"). Here each
customer belongs to one of ``K`` latent classes for life:

* in class ``k`` the rows of every stage except ``churned`` are a chain of their own;
* a churned customer of class ``k`` who is still *alive* drops out for good with probability
  ``d_k`` in a period and otherwise buys with probability ``r_k`` (entering the buying stages
  in the proportions pooled over all classes), else stays churned. Dropout is not observed: a
  spell of ``n`` periods in ``churned`` without a purchase has probability
  ``q^n + d (1 - q^n) / (1 - q)`` with ``q = (1 - d)(1 - r)``, and one ended by a purchase
  ``q^n (1 - d) r``.

Fitted by EM (:func:`fit_classes`): the E-step gives each customer's posterior over classes
from her transitions and churned spells; the M-step re-estimates the rows from the weighted
transition counts and ``(r_k, d_k)`` by weighted maximum likelihood of the spells (one Newton
step per iteration: a generalised EM). Customers with the same history share a posterior, so EM
runs on the distinct histories, each weighted by its customers. EM finds
local optima, so the fit keeps the best of several starts (the first splits customers by how
many periods they bought in; the others are random, from a fixed seed: the fit is
deterministic).

As a chain, class ``k`` is the stage chain plus one absorbing state, *dropped* (in a scenario,
a ``churned`` stage without a row: :data:`DROPPED`), with churned row
``{buying j: (1 - d) r split_j, dropped: d}``
(:meth:`ClassFit.matrix`). A customer churned for ``n`` periods at the end of the data is
still alive with probability ``q^n / (q^n + d (1 - q^n) / (1 - q))`` (:attr:`ClassFit.alive`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..rounding import largest_remainder
from .io import sig


@dataclass(frozen=True)
class ClassFit:
    """K latent classes with dropout fitted on periods ``0 .. periods - 1``.

    Attributes
    ----------
    shares : (K,) class shares (mean posterior)
    P : (K, S, S) each class's rows over the stage codes; the churned row is zero (see ``ret``,
        ``dropout`` and :meth:`matrix`)
    ret, dropout : (K,) ``r_k`` and ``d_k``
    split : (S,) how a return from churned splits between the buying stages
    posterior : (C, K) each customer's posterior over classes
    alive : (C, K) probability that the customer has not dropped out by the end of the fit
        window, were she of class k
    loglik : log-likelihood of the transitions and spells (the EM objective)
    purchases_loglik : log-likelihood of whether each customer bought in each period after her
        first, which every rule set models (comparable across stage rules)
    churned, buying : stage codes
    """

    shares: np.ndarray
    P: np.ndarray
    ret: np.ndarray
    dropout: np.ndarray
    split: np.ndarray
    posterior: np.ndarray
    alive: np.ndarray
    loglik: float
    purchases_loglik: float
    churned: int
    buying: tuple[int, ...]

    @property
    def K(self) -> int:
        return len(self.shares)

    def order(self) -> np.ndarray:
        """Class indices as a scenario names them: ``class_1`` the class that comes back from
        ``churned`` most often."""
        return np.argsort(-self.ret, kind="stable")

    def describe(self, window: str) -> str:
        """The classes as text for a summary, ``class_1`` first (:meth:`order`)."""
        lines = [f"{self.K} latent classes with dropout, fitted on {window} (EM, log-likelihood {self.loglik:,.1f}):"]
        for i, k in enumerate(self.order()):
            lines.append(f"  class_{i + 1}: share {self.shares[k]:.1%}; once churned: buys again {self.ret[k]:.3f}, "
                         f"drops out {self.dropout[k]:.3f} a period")
        return "\n".join(lines)

    def matrix(self, k: int) -> np.ndarray:
        """Class ``k``'s chain over the stage codes plus *dropped* (last, absorbing): (S+1, S+1)."""
        S = self.P.shape[1]
        r, d = self.ret[k], self.dropout[k]
        Q = np.zeros((S + 1, S + 1))
        Q[:S, :S] = self.P[k]
        Q[self.churned] = 0.0
        Q[self.churned, list(self.buying)] = (1 - d) * r * self.split[list(self.buying)]
        Q[self.churned, self.churned] = (1 - d) * (1 - r)
        Q[self.churned, S] = d
        Q[S, S] = 1.0
        return Q

    def occupancy(self, codes: np.ndarray, who: np.ndarray) -> np.ndarray:
        """Expected customers of class k in each stage code (alive) and dropped (last column), at
        the end of the fit window, of the customers ``who`` (bool (C,)) whose stage codes then
        are ``codes`` (C,): shape (K, S+1)."""
        S = self.P.shape[1]
        out = np.zeros((self.K, S + 1))
        for k in range(self.K):
            w = self.posterior[who, k]
            out[k, :S] = np.bincount(codes[who], weights=w * self.alive[who, k], minlength=S)[:S]
            out[k, S] = np.sum(w * (1.0 - self.alive[who, k]))
        return out


def pair_counts(code: np.ndarray, periods: int, S: int) -> np.ndarray:
    """(C, S, S): each customer's moves between consecutive periods ``< periods`` (codes >= 0)."""
    N = np.zeros((code.shape[0], S, S))
    for t in range(1, periods):
        a, b = code[:, t - 1], code[:, t]
        ok = (a >= 0) & (b >= 0)
        np.add.at(N, (np.nonzero(ok)[0], a[ok], b[ok]), 1.0)
    return N


def churned_spells(code: np.ndarray, periods: int, churned: int, buying: tuple[int, ...]) -> np.ndarray:
    """Each spell in ``churned`` within periods ``< periods``, as rows (customer, periods it stayed
    churned without buying, 1 if a purchase ended it / 0 if the window's end or a move to
    another stage without a purchase did)."""
    out = []
    for c in np.nonzero((code[:, :periods] == churned).any(axis=1))[0]:
        n = 0
        for t in range(1, periods):
            if code[c, t - 1] == churned:
                if code[c, t] == churned:
                    n += 1
                else:
                    out.append((c, n, int(code[c, t] in buying)))
                    n = 0
        if code[c, periods - 1] == churned:
            out.append((c, n, 0))
    return np.array(out, dtype=int).reshape(-1, 3)


def spell_loglik(r, d, n: np.ndarray, ended: np.ndarray) -> np.ndarray:
    """Log-probability of churned spells (module docstring): ``n`` periods without a purchase,
    then one (``ended == 1``) or none yet (``ended == 0``: alive throughout, or dropped out
    after ``j < n`` periods). ``r`` and ``d`` broadcast against ``n`` (one class each, or a
    column per class)."""
    q = (1 - d) * (1 - r)
    qn = q ** n
    return np.where(ended == 1, np.log(qn * (1 - d) * r + 1e-300),
                    np.log(qn + d * (1 - qn) / (1 - q) + 1e-300))


def _class_spells(rd: np.ndarray, n: np.ndarray, ended: np.ndarray) -> np.ndarray:
    """(m, K): the log-probability of each spell kind under each class's ``(r, d)`` (rows of ``rd``)."""
    return spell_loglik(rd[:, :1], rd[:, 1:], n, ended).T


def spell_objective(x: np.ndarray, w: np.ndarray, n: np.ndarray, ended: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The M-step's objective of each class, ``-sum(w_k * spell_loglik(r_k, d_k, n, ended))``,
    and its gradient in ``x_k = (logit r_k, logit d_k)``; ``x`` (K, 2), ``w`` (K, m) weights of
    the ``m`` spell kinds ``(n, ended)``. Returns (K,) and (K, 2)."""
    r, d = _logistic(x[:, :1]), _logistic(x[:, 1:])
    q = (1 - d) * (1 - r)
    qn = q ** n
    dqn = np.where(n > 0, n * q ** np.maximum(n - 1, 0), 0.0)        # d q^n / dq
    alive = qn + d * (1 - qn) / (1 - q)                               # not ended: alive or dropped
    ll = spell_loglik(r, d, n, ended)
    # ended: n log(1 - d) + n log(1 - r) + log(1 - d) + log r
    dalive_dq = dqn * (1 - d / (1 - q)) + d * (1 - qn) / (1 - q) ** 2
    gr = np.where(ended == 1, 1 / r - n / (1 - r), -dalive_dq * (1 - d) / alive)
    gd = np.where(ended == 1, -(n + 1) / (1 - d), (-dalive_dq * (1 - r) + (1 - qn) / (1 - q)) / alive)
    grad = np.column_stack([(w * gr).sum(axis=1) * r[:, 0] * (1 - r[:, 0]),
                            (w * gd).sum(axis=1) * d[:, 0] * (1 - d[:, 0])])
    return -(w * ll).sum(axis=1), -grad


def maximise_spells(x: np.ndarray, w: np.ndarray, n: np.ndarray, ended: np.ndarray, bound: float = 15.0,
                    iters: int = 100, tol: float = 1e-10) -> np.ndarray:
    """The M-step for ``(r_k, d_k)`` of every class at once: minimise :func:`spell_objective`
    from ``x`` (K, 2) by Newton's method on ``x`` in ``[-bound, bound]^2`` (Hessian from forward
    differences of the exact gradient, shifted to positive definite where it is not, each step
    halved until the objective does not rise)."""
    x = np.array(x, dtype=float)
    K = len(x)
    f, g = spell_objective(x, w, n, ended)
    h = 1e-6
    for _ in range(iters):
        H = np.empty((K, 2, 2))
        for j in range(2):
            e = np.zeros(2)
            e[j] = h
            H[:, :, j] = (spell_objective(x + e, w, n, ended)[1] - g) / h
        H = 0.5 * (H + np.swapaxes(H, 1, 2))
        low = np.linalg.eigvalsh(H)[:, 0]
        H += np.maximum(0.0, 1e-8 - low)[:, None, None] * np.eye(2)
        step = -np.linalg.solve(H, g[..., None])[..., 0]
        t = np.ones(K)
        for _ in range(40):
            xn = np.clip(x + t[:, None] * step, -bound, bound)
            fn, gn = spell_objective(xn, w, n, ended)
            worse = fn > f + 1e-12 * np.abs(f)
            if not worse.any():
                break
            t = np.where(worse, t / 2, t)
        keep = ~worse
        moved = np.abs(np.where(keep[:, None], xn - x, 0.0)).max()
        x = np.where(keep[:, None], xn, x)
        f, g = np.where(keep, fn, f), np.where(keep[:, None], gn, g)
        if moved < tol:
            break
    return x


def _logistic(x):
    return 1.0 / (1.0 + np.exp(-x))


def _mixture(L: np.ndarray, weight: np.ndarray | None = None) -> tuple[float, np.ndarray]:
    """Log-likelihood of a mixture and the posteriors, from ``L`` (C, K): each customer's (or
    each history's, counted ``weight`` times) log prior plus log-likelihood under each class."""
    top = L.max(axis=1, keepdims=True)
    each = top[:, 0] + np.log(np.exp(L - top).sum(axis=1))
    ll = float(np.sum(each if weight is None else weight * each))
    R = np.exp(L - top)
    R /= R.sum(axis=1, keepdims=True)
    return ll, R


def fit_classes(code: np.ndarray, periods: int, K: int, *, churned: int, buying: tuple[int, ...],
                n_stages: int | None = None, starts: int = 8, iters: int = 500, tol: float = 1e-7) -> ClassFit:
    """Fit K latent classes with dropout (module docstring) by EM on periods ``< periods``.

    Parameters
    ----------
    code : (C, T) int array
        Stage code per customer and period, -1 before her first purchase.
    periods : int
        Periods used (a calibration window: ``T_cal``).
    K : int
        Number of classes (>= 1).
    churned, buying : stage codes of ``churned`` and of the stages of a repeat purchase.
    n_stages : int, optional
        Number of stage codes (default: the largest code + 1).
    starts, iters, tol : EM starts (best kept), iterations per start and convergence tolerance
        on the log-likelihood.
    """
    from scipy.stats import rankdata

    code = np.asarray(code)[:, :periods]
    S = n_stages or max(int(code.max()) + 1, churned + 1, max(buying) + 1)
    buy = list(buying)
    C = len(code)
    # Customers with the same history have the same likelihood and posterior: EM runs on the
    # distinct histories (``U``), each weighted by how many customers share it.
    hist, inv, count = np.unique(code, axis=0, return_inverse=True, return_counts=True)
    inv, wt = np.ravel(inv), count.astype(float)
    U = len(hist)
    N = pair_counts(hist, periods, S)
    full = N.copy()
    pooled = np.einsum("c,cj->j", wt, N[:, churned, buy])
    split = np.zeros(S)
    split[buy] = pooled / pooled.sum() if pooled.sum() > 0 else 1.0 / len(buy)
    N[:, churned, :] = 0.0
    spells = churned_spells(hist, periods, churned, buying)
    kinds, which = np.unique(spells[:, 1:], axis=0, return_inverse=True)
    M = np.zeros((U, len(kinds)))                        # spells of each kind per history
    np.add.at(M, (spells[:, 0], np.ravel(which)), 1.0)
    n, ended = kinds[:, 0].astype(float), kinds[:, 1]
    months = np.isin(code, buy).sum(axis=1) + (code >= 0).any(axis=1)   # periods with a purchase
    best = None
    for seed in range(starts):
        rng = np.random.default_rng(seed)
        if seed == 0:
            R0 = np.full((C, K), 0.1 / K)
            R0[np.arange(C), np.minimum(K - 1, (rankdata(months) * K / (C + 1)).astype(int))] += 0.9
        else:
            R0 = rng.dirichlet(np.ones(K), size=C)
        R = np.zeros((U, K))                             # the customers' starting posteriors, averaged
        np.add.at(R, inv, R0)
        R /= wt[:, None]
        theta = np.array([rng.normal(-2.0, 1.0, size=2) for _ in range(K)])
        old = -np.inf
        for _ in range(iters):
            Rw = R * wt[:, None]
            cnt = np.einsum("ck,cij->kij", Rw, N) + 1e-9
            P = cnt / cnt.sum(axis=2, keepdims=True)
            # one Newton step per EM iteration (a generalised EM: every step raises the
            # likelihood, and the fixed points are EM's; warm-started, it is nearly exact)
            theta = maximise_spells(theta, Rw.T @ M, n, ended, iters=1)
            L = (np.einsum("cij,kij->ck", N, np.log(P)) + np.log(wt @ R / C)
                 + M @ _class_spells(_logistic(theta), n, ended))
            ll, R = _mixture(L, wt)
            if ll - old < tol:
                break
            old = ll
        if best is None or ll > best[0]:
            best = (ll, P, R, _logistic(theta))
    ll, P, R, rd = best
    P = P.copy()
    P[:, churned, :] = 0.0
    ret, dropout = rd[:, 0], rd[:, 1]
    # alive at the end of the window: customers churned then, by the spell so far
    so_far = np.zeros(U)
    cut = spells[spells[:, 2] == 0]
    so_far[cut[:, 0]] = cut[:, 1]
    at_end = hist[:, periods - 1] == churned
    q = (1 - dropout) * (1 - ret)
    qn = q[None, :] ** so_far[:, None]
    alive = np.where(at_end[:, None], qn / (qn + dropout * (1 - qn) / (1 - q)), 1.0)
    # the purchases' log-likelihood: buy or not in each period, by stage (churned: the spells)
    bought = full[:, :, buy].sum(axis=2)
    moves = full.sum(axis=2)
    rows = [i for i in range(S) if i != churned]
    Lp = np.log(wt @ R / C) + M @ _class_spells(rd, n, ended)
    for k in range(K):
        p = np.clip(P[k][rows][:, buy].sum(axis=1), 1e-300, 1 - 1e-16)
        Lp[:, k] += bought[:, rows] @ np.log(p) + (moves - bought)[:, rows] @ np.log1p(-p)
    purchases, _ = _mixture(Lp, wt)
    R, alive = R[inv], alive[inv]
    return ClassFit(shares=R.mean(axis=0), P=P, ret=ret, dropout=dropout, split=split, posterior=R, alive=alive,
                    loglik=ll, purchases_loglik=purchases, churned=churned, buying=tuple(buying))


@dataclass(frozen=True)
class ClassChoice:
    """How many latent classes the data support (:func:`choose_classes`).

    Attributes
    ----------
    classes : int
        The number chosen; 0 is one chain without dropout (no classes).
    rows : tuple of (K, log-likelihood, free parameters, BIC)
        Every number tried, 0 first.
    fits : dict
        ``K -> ClassFit`` of every ``K >= 1`` tried.
    periods, customers : int
        The window the choice was made on and the customers in it (BIC's ``n``).
    """

    classes: int
    rows: tuple[tuple[int, float, int, float], ...]
    fits: dict
    periods: int
    customers: int

    def describe(self, window: str) -> str:
        """The choice as text for a summary."""
        lines = [f"number of latent classes chosen on {window} by BIC = -2 log-likelihood + parameters x "
                 f"ln({self.customers:,} customers), lowest wins:",
                 f"  {'classes':>30} {'log-likelihood':>15} {'parameters':>10} {'BIC':>11}"]
        for K, ll, p, bic in self.rows:
            label = "one chain without dropout" if K == 0 else f"{K} with dropout"
            mark = "  <- chosen" if K == self.classes else ""
            lines.append(f"  {label:>30} {ll:>15,.1f} {p:>10d} {bic:>11,.1f}{mark}")
        return "\n".join(lines)


def choose_classes(code: np.ndarray, periods: int, *, churned: int, buying: tuple[int, ...],
                   n_stages: int | None = None, max_classes: int = 5, starts: int = 8) -> ClassChoice:
    """Choose the number of latent classes with dropout by the Bayesian information criterion on
    periods ``< periods`` (a calibration window: never a holdout).

    ``BIC = -2 log L + p ln n`` with ``n`` the customers seen in the window and ``L`` the
    likelihood :func:`fit_classes` maximises (the moves between stages and the churned spells).
    ``K = 0`` is the plain chain: one class that never drops out, whose churned row is a
    Bernoulli return (the same likelihood at ``d = 0``, so the numbers compare). Parameters: each
    class has the free entries of its rows (a row's observed destinations minus one, stages other
    than ``churned``), ``r_k`` and ``d_k`` (the chain: ``r`` only), plus ``K - 1`` shares; the
    split of a return between the buying stages is pooled and the same for every ``K``, so it is
    left out. ``K = 1, 2, ..`` are fitted in turn until the BIC stops falling or ``max_classes``.
    """
    code = np.asarray(code)[:, :periods]
    S = n_stages or max(int(code.max()) + 1, churned + 1, max(buying) + 1)
    N = pair_counts(code, periods, S).sum(axis=0)
    rows = [i for i in range(S) if i != churned]
    free = int(sum(max(int((N[i] > 0).sum()) - 1, 0) for i in rows))
    n = int((code >= 0).any(axis=1).sum())
    with np.errstate(divide="ignore", invalid="ignore"):
        P = N / N.sum(axis=1, keepdims=True)
        ll = float(np.sum(np.where(N[rows] > 0, N[rows] * np.log(P[rows]), 0.0)))
    back, stay = float(N[churned, list(buying)].sum()), float(N[churned, churned])
    for k, total in ((back, back + stay), (stay, back + stay)):
        if k > 0:
            ll += k * np.log(k / total)
    table = [(0, ll, free + 1, -2 * ll + (free + 1) * np.log(n))]
    fits = {}
    for K in range(1, max_classes + 1):
        fit = fit_classes(code, periods, K, churned=churned, buying=buying, n_stages=S, starts=starts)
        p = K * (free + 2) + K - 1
        fits[K] = fit
        table.append((K, fit.loglik, p, -2 * fit.loglik + p * np.log(n)))
        if table[-1][3] > table[-2][3]:
            break
    best = min(table, key=lambda r: r[3])[0]
    return ClassChoice(classes=best, rows=tuple(table), fits=fits, periods=periods, customers=n)


def class_means(posterior: np.ndarray, code: np.ndarray, values: np.ndarray, periods: int,
                S: int) -> tuple[np.ndarray, np.ndarray]:
    """Each class's mean and coefficient of variation of ``values`` per customer-period in each
    stage code, over periods ``< periods``: a customer's periods count with her posterior weight
    ``w_ck`` (``posterior``, (C, K)).

    ``mean_ks = sum w x / sum w`` and ``cv_ks = sd_ks / mean_ks`` with the reliability-weighted
    variance ``sd^2 = sum w (x - mean)^2 / (sum w - sum w^2 / sum w)`` (ddof 1 when every weight
    is 1); 0 where a stage has no weight or a zero mean. ``values`` (C, T) is e.g. the
    transactions or the revenue of each customer and period. Returns two (K, S) arrays.

    A class that comes back more often is also a class that buys more in a period it buys in;
    the pooled per-stage mean would forecast the customers left after the others drop out with
    the average customer's basket.
    """
    code = np.asarray(code)[:, :periods]
    ok = code >= 0
    c = code[ok]
    x = np.asarray(values, dtype=float)[:, :periods][ok]
    K = posterior.shape[1]
    mean, cv = np.zeros((K, S)), np.zeros((K, S))
    for k in range(K):
        w = np.broadcast_to(posterior[:, k:k + 1], code.shape)[ok]
        sw = np.bincount(c, weights=w, minlength=S)[:S]
        has = sw > 0
        m = np.bincount(c, weights=w * x, minlength=S)[:S] / np.where(has, sw, 1.0)
        dev = np.bincount(c, weights=w * (x - m[c]) ** 2, minlength=S)[:S]
        denom = sw - np.bincount(c, weights=w * w, minlength=S)[:S] / np.where(has, sw, 1.0)
        sd = np.sqrt(np.where(denom > 0, dev / np.where(denom > 0, denom, 1.0), 0.0))
        mean[k] = m
        cv[k] = np.where(m > 0, sd / np.where(m > 0, m, 1.0), 0.0)
    return mean, cv


# ------------------------------------------------------------------ as a scenario
DROPPED = "dropped"
"""Name of the stage a scenario gives dropout: of kind ``churned`` with no row, so its customers
never come back by themselves but a win-back policy contacts them with the other churned
customers, as a real campaign that cannot tell them apart would."""


def whole(x: np.ndarray) -> np.ndarray:
    """Non-negative ``x`` as integers that sum to ``round(x.sum())`` (largest remainder; ties to
    the first cell), the way a scenario's initial populations are whole customers."""
    x = np.asarray(x, dtype=float)
    return largest_remainder(x, int(round(float(x.sum()))))


def _whole_by_stage(occ: np.ndarray, churned: list[int]) -> np.ndarray:
    """(K, n) expected customers as whole customers, rounded stage by stage (:func:`whole`), the
    columns ``churned`` (churned and dropped) together: a customer's stage in the data is observed,
    so each stage keeps its count of customers, and churned plus dropped the churned count."""
    out = np.zeros(occ.shape, dtype=np.int64)
    for cols in [[j] for j in range(occ.shape[1]) if j not in churned] + [churned]:
        out[:, cols] = whole(occ[:, cols].ravel()).reshape(occ.shape[0], len(cols))
    return out


def _floor6(p: float) -> float:
    return float(np.floor(p * 1e6 + 1e-9) / 1e6)


def segments_block(fit: ClassFit, names: tuple[str, ...], present: tuple[str, ...], occupancy: np.ndarray,
                   base_rows: dict, revenue: tuple[np.ndarray, np.ndarray] | None = None,
                   earning: tuple[str, ...] = ()) -> dict:
    """The scenario's ``segments``: one per class, ``class_1`` the class that comes back from
    ``churned`` most often. Each segment carries its share, every row of its chain (entries
    rounded down to 6 decimals, so a row never sums above 1; zeros where the scenario's
    ``base_rows`` have an entry the class does not, since a segment's entries replace the
    scenario's one by one), churned's row with the move to :data:`DROPPED`, and its initial
    population: ``occupancy`` (K, S+1) from :meth:`ClassFit.occupancy`, the alive customers in
    their stages and the others in :data:`DROPPED`, in whole customers, stage by stage (churned
    and dropped together) so that each stage keeps its count in the data. With ``revenue``,
    each segment also carries the revenue (mean, cv) of its class in each stage of
    ``earning``.

    Parameters
    ----------
    names : the stage name of each stage code
    present : the scenario's stages (names)
    revenue : (mean, cv), each (K, S) by stage code, optional
        Each class's revenue per period in a stage (:func:`class_means`).
    earning : the stages whose revenue the segments override
    """
    order = fit.order()
    codes = [names.index(s) for s in present]
    held = (*present, DROPPED)
    pops = _whole_by_stage(occupancy[:, codes + [occupancy.shape[1] - 1]],
                           [j for j, c in enumerate(codes) if c == fit.churned] + [len(codes)])
    shares = [round(float(fit.shares[k]), 6) for k in order]
    shares[-1] = round(1.0 - sum(shares[:-1]), 6)
    out = {}
    for i, k in enumerate(order):
        Q = fit.matrix(int(k))
        rows = {}
        for a in codes:
            src = names[a]
            to = {names[b]: _floor6(Q[a, b]) for b in codes
                  if b != a and (_floor6(Q[a, b]) > 0 or names[b] in base_rows.get(src, {}))}
            if a == fit.churned:
                to[DROPPED] = _floor6(Q[a, -1])
            if any(v > 0 for v in to.values()) or src in base_rows:
                rows[src] = to
        out[f"class_{i + 1}"] = {
            "share": shares[i],
            "description": (f"latent class {i + 1} of {fit.K} ({fit.shares[k]:.1%} of the customers): once churned, "
                            f"buys again with probability {fit.ret[k]:.3f} a period and drops out for good with "
                            f"probability {fit.dropout[k]:.3f}"),
            "transitions": rows,
            "initial_population": {s: int(n) for s, n in zip(held, pops[k]) if n > 0},
        }
        if revenue is not None and earning:
            mean, cv = revenue
            out[f"class_{i + 1}"]["stages"] = {
                s: {"revenue": {"mean": sig(mean[k, names.index(s)]), "cv": sig(cv[k, names.index(s)])}}
                for s in earning}
    return out


def class_scenario(scenario: dict, fit: ClassFit, names: tuple[str, ...], end_codes: np.ndarray, who: np.ndarray,
                   present: tuple[str, ...], revenue: tuple[np.ndarray, np.ndarray] | None = None) -> None:
    """Turn a chain's ``scenario`` (plain data, its stages ``present``) into the classes' one, in
    place: a ``churned`` stage :data:`DROPPED` without a row and one segment per class
    (:func:`segments_block`), whose initial populations (the customers ``who``, in stage codes
    ``end_codes``) replace the scenario's and, with ``revenue`` (:func:`class_means`), whose
    revenue replaces the scenario's in every stage that has one."""
    earning = tuple(s for s, e in scenario["stages"].items() if "revenue" in e)
    scenario["stages"][DROPPED] = {"kind": "churned"}
    scenario["segments"] = segments_block(fit, names, present, fit.occupancy(end_codes, who), scenario["transitions"],
                                          revenue, earning)
    scenario.pop("initial_population", None)


def class_occupancy(fit: ClassFit, names: tuple[str, ...], first_period: np.ndarray, code: np.ndarray, Tc: int,
                    T: int, stages: tuple[str, ...], holdout_scenario: str, entry: str = "new") -> tuple[np.ndarray, str]:
    """Expected occupancy of each class (K, T, ``stages``; class ``k`` of ``fit``) of the
    customers who first bought before period ``Tc``: in periods ``< Tc`` from the observed first
    purchases (each class taking its share of them, entering ``entry``), after it from each
    customer's stage at the end of period ``Tc - 1``, by the analytic engine on
    ``holdout_scenario`` (the classes' scenario, in whole customers: segment ``class_i`` is class
    ``fit.order()[i]``) or, without the engine, by numpy. Returns the occupancy and
    ``"analytic"`` or ``"numpy"``."""
    from .report import analytic_engine_available, calibration_arrivals, engine_occupancy, propagate

    cols = [names.index(s) for s in stages]
    arrivals = calibration_arrivals(first_period, Tc, T)
    S1 = fit.P.shape[1] + 1
    new = names.index(entry)
    occ = np.stack([propagate(fit.matrix(k), np.zeros(S1), arrivals * fit.shares[k], new)[:, cols]
                    for k in range(fit.K)])
    if T <= Tc:
        return occ, "numpy"
    if analytic_engine_available():
        segments = tuple(f"class_{i + 1}" for i in range(fit.K))
        occ[fit.order(), Tc:] = engine_occupancy(holdout_scenario, stages, segments)[:, : T - Tc]
        return occ, "analytic"
    x = fit.occupancy(code[:, Tc - 1], first_period < Tc)
    for k in range(fit.K):
        occ[k, Tc:] = propagate(fit.matrix(k), x[k], np.zeros(T - Tc), new)[:, cols]
    return occ, "numpy"
