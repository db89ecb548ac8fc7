"""Shifted-beta-geometric (sBG) model of contractual retention.

Fader, P. S. and Hardie, B. G. S. (2007), "How to project customer retention",
*Journal of Interactive Marketing* 21(1), 76-90; and (2010), "Customer-base
valuation in a contractual setting: the perils of ignoring heterogeneity",
*Marketing Science* 29(1), 85-93.

Model. Each customer has a per-period churn probability ``theta`` (at every
renewal opportunity she leaves with probability ``theta``), and ``theta`` varies
across customers as ``Beta(alpha, beta)``. With ``T`` the period in which a
customer churns (T = 1, 2, ...) and ``B`` the beta function:

* ``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)``
* survival ``S(t) = P(T > t) = B(alpha, beta + t) / B(alpha, beta)``
* retention ``r_t = S(t) / S(t - 1) = (beta + t - 1) / (alpha + beta + t - 1)``
  (rises with ``t``: heterogeneity sorts out the churners).

Data: for each cohort, ``n_t`` customers alive at ``t = 0, 1, ..., T`` (``n_0`` =
cohort size). The log-likelihood is

    LL = sum_{t=1}^{T} (n_{t-1} - n_t) ln P(T = t) + n_T ln S(T),

maximised over ``(ln alpha, ln beta)`` with :func:`scipy.optimize.minimize`; the
standard errors come from the inverse observed information (analytic, via
trigamma functions; :func:`numerical_hessian` checks it in the tests).

Discounted expected residual lifetime (Fader & Hardie 2010, eq. 6) of a customer
who has made ``n - 1`` renewals, evaluated just before the ``n``-th renewal
decision, with per-period discount rate ``d``:

    DERL(d | alpha, beta, n - 1) = sum_{t >= n} S(t) / S(n - 1) (1 + d)^-(t - n)
                                 = (beta + n - 1) / (alpha + beta + n - 1)
                                   * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d)).

The first term (the ``n``-th renewal itself) is undiscounted. clmsim's end-of-
period convention discounts the first payment by one period: multiply by
``1 / (1 + d)`` to compare with a clmsim CLV per unit margin.

In a scenario the fit becomes the heterogeneity block
``heterogeneity: {churn_probability: {dist: beta, alpha: ..., beta: ...}}``:
each customer's ``theta`` replaces the total churn probability of every active row.
"""

from __future__ import annotations

from dataclasses import dataclass

from typing import TYPE_CHECKING

import numpy as np
from scipy import special

if TYPE_CHECKING:
    import pandas as pd

from ..errors import ClmsimError
from .io import rows_text, sig, to_number


# ------------------------------------------------------------------ model functions
def churn_pmf(alpha: float, beta: float, t) -> np.ndarray:
    """``P(T = t) = B(alpha + 1, beta + t - 1) / B(alpha, beta)`` for t >= 1."""
    t = np.asarray(t, dtype=float)
    return np.exp(special.betaln(alpha + 1.0, beta + t - 1.0) - special.betaln(alpha, beta))


def survival(alpha: float, beta: float, t) -> np.ndarray:
    """``S(t) = B(alpha, beta + t) / B(alpha, beta)`` (share alive after t periods)."""
    t = np.asarray(t, dtype=float)
    return np.exp(special.betaln(alpha, beta + t) - special.betaln(alpha, beta))


def retention(alpha: float, beta: float, t) -> np.ndarray:
    """Retention rate of period t >= 1: ``r_t = (beta + t - 1) / (alpha + beta + t - 1)``."""
    t = np.asarray(t, dtype=float)
    return (beta + t - 1.0) / (alpha + beta + t - 1.0)


def derl(alpha: float, beta: float, discount_rate: float, renewals: int = 0) -> float:
    """Discounted expected residual lifetime (Fader & Hardie 2010, closed form).

    Parameters
    ----------
    alpha, beta : float
        sBG parameters.
    discount_rate : float
        Per-period discount rate ``d`` (> 0).
    renewals : int
        ``n - 1``: renewals the customer has made (0: a customer just acquired,
        just before the first renewal decision).

    Returns
    -------
    float
        ``(beta + n - 1) / (alpha + beta + n - 1) * 2F1(1, beta + n; alpha + beta + n; 1 / (1 + d))``,
        in periods of payment (multiply by the margin per period for money).
        Where :func:`scipy.special.hyp2f1` returns no finite value (large
        ``alpha + beta``, e.g. > 150 at d = 0.1) the series is summed directly
        (:func:`derl_sum`).
    """
    if discount_rate <= 0:
        raise ClmsimError(f"DERL needs a positive discount rate, got {discount_rate}")
    n = renewals + 1
    x = 1.0 / (1.0 + discount_rate)
    value = float((beta + n - 1.0) / (alpha + beta + n - 1.0) * special.hyp2f1(1.0, beta + n, alpha + beta + n, x))
    if not np.isfinite(value):  # scipy's 2F1 fails for large alpha + beta (nearly homogeneous customers)
        value = derl_sum(alpha, beta, discount_rate, renewals)
    return value


def derl_sum(alpha: float, beta: float, discount_rate: float, renewals: int = 0,
             tol: float = 1e-13, max_terms: int = 10_000_000) -> float:
    """DERL by direct summation of ``S(t) / S(n - 1) (1 + d)^-(t - n)`` (a check of :func:`derl`)."""
    n = renewals + 1
    x = 1.0 / (1.0 + discount_rate)
    total, k = 0.0, 0
    chunk = 4096
    base = special.betaln(alpha, beta + n - 1.0)
    while k < max_terms:
        t = n + np.arange(k, k + chunk, dtype=float)
        terms = np.exp(special.betaln(alpha, beta + t) - base + (t - n) * np.log(x))
        total += float(terms.sum())
        k += chunk
        if terms[-1] < tol * max(total, 1e-300):
            break
    return total


def sufficient_stats(cohorts: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray, float]:
    """What the likelihood needs of the data, in one pass over the rows: ``lost[t]``
    (customers churning in period t, summed over cohorts), ``ended[T]`` (customers alive at
    the last observed period T of their cohort) and the total cohort size. The fit then
    costs O(longest cohort) per evaluation, whatever the number of cohorts."""
    T = max(len(n) for n in cohorts) - 1
    lost = np.zeros(T + 1)
    ended = np.zeros(T + 1)
    size = 0.0
    for n in cohorts:
        n = np.asarray(n, dtype=float)
        lost[1:len(n)] += n[:-1] - n[1:]
        ended[len(n) - 1] += n[-1]
        size += n[0]
    return lost, ended, size


def _loglik_stats(alpha: float, beta: float, lost: np.ndarray, ended: np.ndarray) -> float:
    t = np.arange(1, len(lost))
    w = lost[1:] > 0
    ll = float(np.sum(lost[1:][w] * np.log(churn_pmf(alpha, beta, t[w]))))
    e = np.flatnonzero(ended > 0)
    return ll + float(np.sum(ended[e] * np.log(survival(alpha, beta, e))))


def loglik(alpha: float, beta: float, cohorts: list[np.ndarray]) -> float:
    """sBG log-likelihood of alive counts (see the module docstring)."""
    lost, ended, _ = sufficient_stats(cohorts)
    return _loglik_stats(alpha, beta, lost, ended)


def _information_stats(alpha: float, beta: float, lost: np.ndarray, ended: np.ndarray, size: float) -> np.ndarray:
    def hess_lnB(a, b):
        a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
        tab = special.polygamma(1, a + b)
        return np.array([[special.polygamma(1, a) - tab, -tab], [-tab, special.polygamma(1, b) - tab]])

    t = np.arange(1, len(lost))
    H = np.einsum("t,ijt->ij", lost[1:], hess_lnB(np.full(t.shape, alpha + 1.0), beta + t - 1.0)) if len(t) else 0
    T = np.arange(len(ended))
    H = H + np.einsum("t,ijt->ij", ended, hess_lnB(np.full(T.shape, alpha), beta + T))
    H = H - size * hess_lnB(alpha, beta)
    return -H


def information(alpha: float, beta: float, cohorts: list[np.ndarray]) -> np.ndarray:
    """Observed information ``-d2 LL / d(alpha, beta)^2`` (analytic, trigamma).

    Uses ``ln P(T=t) = lnB(alpha+1, beta+t-1) - lnB(alpha, beta)``,
    ``ln S(t) = lnB(alpha, beta+t) - lnB(alpha, beta)`` and
    ``d2 lnB(a, b) / da2 = psi1(a) - psi1(a+b)``, ``d2 / da db = -psi1(a+b)``.
    """
    return _information_stats(alpha, beta, *sufficient_stats(cohorts))


def numerical_hessian(f, x: np.ndarray, rel_step: float = 1e-4) -> np.ndarray:
    """Central-difference Hessian of a scalar function ``f`` at ``x``."""
    x = np.asarray(x, dtype=float)
    k = x.size
    h = rel_step * np.maximum(np.abs(x), 1e-3)
    H = np.empty((k, k))
    for i in range(k):
        for j in range(i, k):
            e_i = np.zeros(k)
            e_j = np.zeros(k)
            e_i[i] = h[i]
            e_j[j] = h[j]
            val = (f(x + e_i + e_j) - f(x + e_i - e_j) - f(x - e_i + e_j) + f(x - e_i - e_j)) / (4 * h[i] * h[j])
            H[i, j] = H[j, i] = val
    return H


# ------------------------------------------------------------------------ the fit
@dataclass(frozen=True)
class SBGFit:
    """Maximum-likelihood sBG fit.

    Attributes
    ----------
    alpha, beta : float
        Estimates.
    cov : ndarray (2, 2)
        Inverse observed information of ``(alpha, beta)``.
    loglik : float
        Maximised log-likelihood.
    cohorts : dict[str, ndarray]
        Alive counts per cohort (t = 0..T).
    """

    alpha: float
    beta: float
    cov: np.ndarray
    loglik: float
    cohorts: dict[str, np.ndarray]

    @property
    def se_alpha(self) -> float:
        return float(np.sqrt(self.cov[0, 0]))

    @property
    def se_beta(self) -> float:
        return float(np.sqrt(self.cov[1, 1]))

    @property
    def mean_churn(self) -> float:
        """``E[theta] = alpha / (alpha + beta)``: churn probability of a new customer's first period."""
        return self.alpha / (self.alpha + self.beta)

    def retention(self, t) -> np.ndarray:
        return retention(self.alpha, self.beta, t)

    def survival(self, t) -> np.ndarray:
        return survival(self.alpha, self.beta, t)

    def derl(self, discount_rate: float, renewals: int = 0) -> float:
        return derl(self.alpha, self.beta, discount_rate, renewals)

    def uncertainty_blocks(self) -> list[dict]:
        """``parameter_uncertainty``: (ln alpha, ln beta) jointly normal with the delta-method
        covariance ``cov_ij / (theta_i theta_j)`` of the maximum-likelihood estimates (a joint
        log-normal: both stay positive, their correlation is kept)."""
        th = np.array([self.alpha, self.beta])
        c = np.asarray(self.cov, dtype=float) / np.outer(th, th)
        c = (c + c.T) / 2
        return [{"dist": "mvnormal", "paths": ["heterogeneity.churn_probability.alpha",
                                               "heterogeneity.churn_probability.beta"],
                 "mean": [round(float(np.log(self.alpha)), 8), round(float(np.log(self.beta)), 8)],
                 "cov": [[float(f"{x:.8g}") for x in row] for row in c], "log": True}]

    def heterogeneity_block(self) -> dict:
        """``{"heterogeneity": {"churn_probability": {"dist": "beta", "alpha": a, "beta": b}}}``."""
        return {"heterogeneity": {"churn_probability": {"dist": "beta", "alpha": sig(self.alpha),
                                                         "beta": sig(self.beta)}}}

    def projection(self, periods: int, cohorts: list[str] | None = None) -> pd.DataFrame:
        """Per cohort (default all) and t = 1..periods: observed and fitted survival and retention."""
        import pandas as pd

        return pd.DataFrame(self._projection(periods, cohorts))

    def _projection(self, periods: int, cohorts: list[str] | None = None) -> dict[str, np.ndarray]:
        """The columns of :meth:`projection` (without pandas: ``clmsim fit sbg`` prints them)."""
        names = list(self.cohorts) if cohorts is None else list(cohorts)
        t = np.arange(1, periods + 1)
        obs_s = np.full((len(names), periods), np.nan)
        obs_r = np.full((len(names), periods), np.nan)
        for i, name in enumerate(names):
            n = self.cohorts[name]
            k = min(len(n) - 1, periods)
            obs_s[i, :k] = n[1:k + 1] / n[0]
            obs_r[i, :k] = n[1:k + 1] / n[:k]
        return {"cohort": np.repeat(np.asarray(names, dtype=object), periods),
                "t": np.tile(t, len(names)), "observed_survival": obs_s.ravel(),
                "survival": np.tile(self.survival(t), len(names)),
                "observed_retention": obs_r.ravel(),
                "retention": np.tile(self.retention(t), len(names))}

    def summary(self, discount_rate: float | None = None, periods: int = 12) -> str:
        lines = [f"sBG fit: {len(self.cohorts)} cohort(s), {int(sum(n[0] for n in self.cohorts.values()))} customers",
                 f"  alpha = {self.alpha:.4f} (se {self.se_alpha:.4f})",
                 f"  beta  = {self.beta:.4f} (se {self.se_beta:.4f})",
                 f"  log-likelihood {self.loglik:.3f}; mean churn probability E[theta] = {self.mean_churn:.4f}"]
        first = next(iter(self.cohorts))
        p = self._projection(periods, [first])
        lines.append(f"  projection (cohort {first}): t, survival (observed), retention (observed)")
        for r in ({k: v[i] for k, v in p.items()} for i in range(periods)):
            so = "" if np.isnan(r["observed_survival"]) else f" ({r['observed_survival']:.3f})"
            ro = "" if np.isnan(r["observed_retention"]) else f" ({r['observed_retention']:.3f})"
            lines.append(f"    {int(r['t']):>3}  {r['survival']:.3f}{so:<9}  {r['retention']:.3f}{ro}")
        if discount_rate is not None:
            lines.append(f"  DERL at d = {discount_rate:g} per period: new customer {self.derl(discount_rate):.3f} periods"
                         f", after 4 renewals {self.derl(discount_rate, 4):.3f}")
        return "\n".join(lines)


def check_cohort(name: str, n: np.ndarray, lines: np.ndarray | None = None, what: str = "survival data") -> None:
    """Alive counts must be non-negative, non-increasing, start above 0, span >= 1 period."""
    where = (lambda mask: f" in {rows_text(lines[mask])}") if lines is not None else (lambda mask: "")
    if len(n) < 2:
        raise ClmsimError(f"{what}: cohort {name!r} has only period 0; it needs alive counts for t = 0 and later")
    if n[0] <= 0:
        raise ClmsimError(f"{what}: cohort {name!r} starts with {n[0]} customers at t = 0{where(np.arange(len(n)) == 0)}")
    up = np.zeros(len(n), dtype=bool)
    up[1:] = n[1:] > n[:-1]
    if up.any():
        raise ClmsimError(f"{what}: cohort {name!r}: alive counts rise{where(up)}; counts of one cohort cannot grow")


def cohorts_from_table(df, what: str = "survival data") -> dict[str, np.ndarray]:
    """Alive counts per cohort from a table with ``period``, ``alive``, ``line`` and optional ``cohort``
    (a DataFrame from :func:`~clmsim.calibrate.io.read_table` or a dict of arrays from
    :func:`~clmsim.calibrate.io.read_columns`).

    Periods of each cohort must be 0, 1, ..., T without gaps. One sort of the rows: linear
    in rows up to the sort (10,000 cohorts of 1e6 rows take about a second).
    """
    period = to_number(df, "period", integer=True, nonnegative=True, what=what)
    alive = to_number(df, "alive", integer=True, nonnegative=True, what=what)
    cohort = np.char.strip(np.asarray(df["cohort"]).astype(str)) if "cohort" in df else np.full(len(period), "all")
    lines = np.asarray(df["line"])
    uniq, first, inverse = np.unique(cohort, return_index=True, return_inverse=True)
    by_first = np.argsort(first, kind="stable")      # cohorts in order of first appearance
    rank = np.empty(len(uniq), dtype=np.int64)
    rank[by_first] = np.arange(len(uniq))
    codes, names = rank[inverse.ravel()], uniq[by_first]
    order = np.lexsort((period, codes))
    c, t, n, ln = codes[order], period[order], alive[order], lines[order]
    starts = np.flatnonzero(np.r_[True, c[1:] != c[:-1]])
    ends = np.r_[starts[1:], len(c)]
    pos = np.arange(len(c)) - np.repeat(starts, ends - starts)
    bad = t != pos
    up = np.zeros(len(c), dtype=bool)
    up[1:] = (n[1:] > n[:-1]) & (c[1:] == c[:-1])
    suspect = bad | up | np.isin(np.arange(len(c)), starts[(n[starts] <= 0) | (ends - starts < 2)])
    if suspect.any():  # name the first cohort (in file order) with a problem, with its rows
        first = int(np.min(c[suspect]))
        k = int(np.flatnonzero(c[starts] == first)[0])
        a, b = starts[k], ends[k]
        name = str(names[first])
        tt, nn, ll = t[a:b], n[a:b], ln[a:b]
        if not np.array_equal(tt, np.arange(len(tt))):
            dup = np.zeros(len(tt), dtype=bool)
            dup[1:] = tt[1:] == tt[:-1]
            if dup.any():
                raise ClmsimError(f"{what}: cohort {name!r} repeats a period in {rows_text(ll[dup])}")
            raise ClmsimError(f"{what}: cohort {name!r} must have periods 0, 1, ..., T without gaps; "
                              f"it has {', '.join(map(str, tt[:12]))}{' ...' if len(tt) > 12 else ''} "
                              f"({rows_text(ll)})")
        check_cohort(name, nn, ll, what)
    return {str(names[c[a]]): n[a:b].astype(float) for a, b in zip(starts, ends)}


def fit_sbg(cohorts: dict[str, np.ndarray] | list | np.ndarray, *, start: tuple[float, float] = (1.0, 1.0)) -> SBGFit:
    """Fit alpha, beta by maximum likelihood to one or several cohorts' alive counts.

    Parameters
    ----------
    cohorts : dict of arrays, list of arrays, or one array
        Alive counts ``n_0, n_1, ..., n_T`` per cohort (lengths may differ).
    start : (float, float)
        Starting (alpha, beta).

    Raises
    ------
    ClmsimError
        Invalid counts, too little data (the longest cohort must span t = 0..2:
        one period of churn cannot separate alpha from beta), no churn at all,
        or an optimiser failure.
    """
    if isinstance(cohorts, np.ndarray) and cohorts.ndim == 1:
        cohorts = {"all": cohorts}
    elif isinstance(cohorts, (list, tuple)):
        cohorts = {f"cohort{i + 1}": np.asarray(c) for i, c in enumerate(cohorts)}
    cohorts = {str(k): np.asarray(v, dtype=float) for k, v in cohorts.items()}
    if not cohorts:
        raise ClmsimError("sBG: no cohorts given")
    for name, n in cohorts.items():
        check_cohort(name, n)
    if max(len(n) for n in cohorts.values()) < 3:
        raise ClmsimError("sBG: too few observations for a stable estimate: alive counts for t = 0, 1, 2 at least "
                          "are needed (one period of churn identifies only the mean churn, not alpha and beta)")
    if all(n[-1] == n[0] for n in cohorts.values()):
        raise ClmsimError("sBG: no customer churned in the data; alpha and beta cannot be estimated")
    if all(n[1] == 0 for n in cohorts.values()):
        raise ClmsimError("sBG: every customer churned in the first period; alpha and beta cannot be estimated")
    lost, ended, size = sufficient_stats(list(cohorts.values()))

    def nll(z):
        return -_loglik_stats(np.exp(z[0]), np.exp(z[1]), lost, ended)

    from scipy import optimize

    res = optimize.minimize(nll, np.log(np.asarray(start, dtype=float)), method="Nelder-Mead",
                            options={"xatol": 1e-10, "fatol": 1e-12, "maxiter": 20_000})
    from scipy import optimize

    res = optimize.minimize(nll, res.x, method="BFGS", options={"gtol": 1e-9})
    a, b = np.exp(res.x)
    if not np.all(np.isfinite([a, b])) or a > 1e6 or b > 1e6:
        raise ClmsimError(f"sBG: the likelihood has no finite maximum (alpha={a:.3g}, beta={b:.3g}); "
                          "the data look homogeneous: use a constant churn probability instead")
    info = _information_stats(a, b, lost, ended, size)
    try:
        cov = np.linalg.inv(info)
    except np.linalg.LinAlgError:
        cov = np.full((2, 2), np.nan)
    return SBGFit(alpha=float(a), beta=float(b), cov=cov, loglik=-float(res.fun), cohorts=cohorts)
