"""CDNOW holdout tracking: clmsim's fitted chain against BG/NBD on the same split and metric.

The vendored CDNOW sample, 9 calibration months (1997-01 .. 1997-09, the 39 weeks of Fader,
Hardie & Lee 2005) and 9 holdout months. Metric (docs/calibration.md): tracking error =
mean over the holdout months of |expected / observed - 1| of repeat transactions, and the
total error of holdout repeat transactions.

* clmsim: ``fit_rfm(..., holdout=9)`` with the default (chosen) rules, the same with seasonal
  multipliers per month of year fitted on the calibration months (``seasonal=12``), and with the
  rules fixed at the previous defaults (churn after 3, window 3, loyal frequency 2);
* BG/NBD (Fader, Hardie & Lee 2005), fitted here by maximum likelihood on the calibration
  weeks (purchases aggregated by day, as the lifetimes package does; a check against the
  paper's estimates on the full data, r 0.243, alpha 4.414, a 0.793, b 2.426, is printed).
  Holdout transactions per month: the conditional expectation given each customer's
  calibration history, and the unconditional cohort expectation (the "tracking plot");
* three richer chains on the default rules' stages, which ``fit rfm`` does not fit (prototypes,
  to show what a richer chain does on this split): a latent-class mixture of 2 and 3 chains
  (each customer in one class for life, fitted by EM on the calibration months; the forecast
  weighs each class by the customer's posterior); ``churned`` split by recency with a
  return probability that decays geometrically or as a power of the months since the last
  purchase (maximum likelihood on the calibration months; the forecast starts from each
  customer's observed recency); and 2 and 3 latent classes of chains in which a churned customer
  can drop out for good (:func:`dropout_mixture_forecast`); then the holdout split by where each
  customer stood at the end of calibration (churned or not: where the plain chain's error comes
  from), how often a churned customer buys in the next month, by months since her last
  purchase, in the calibration and the holdout months (why the first two do not help), and the
  dropout classes on every candidate of the rule choice (how much the rules still matter).

A report, not a test. ``.venv/bin/python benchmarks/cdnow_tracking.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special
from scipy.stats import rankdata

from clmsim.calibrate.rfm import STAGES, build_stage_panel

ROOT = Path(__file__).resolve().parents[1]
DATA = ROOT / "data" / "cdnow" / "CDNOW_sample.txt"
CAL_END = pd.Timestamp("1997-10-01")   # first day after the calibration window
END = pd.Timestamp("1998-07-01")


def bgnbd_nll(params, x, tx, T):
    r, alpha, a, b = np.exp(params)
    lb = special.betaln
    A = special.gammaln(r + x) - special.gammaln(r) + r * np.log(alpha) - (r + x) * np.log(alpha + T)
    t1 = lb(a, b + x) - lb(a, b)
    with np.errstate(divide="ignore", invalid="ignore"):
        t2 = np.where(x > 0, lb(a + 1, b + x - 1) - lb(a, b) + (r + x) * (np.log(alpha + T) - np.log(alpha + tx)),
                      -np.inf)
    return -np.sum(A + np.logaddexp(t1, t2))


def fit_bgnbd(x, tx, T):
    res = optimize.minimize(bgnbd_nll, np.log([0.5, 5.0, 1.0, 2.0]), args=(x, tx, T), method="Nelder-Mead",
                            options={"maxiter": 20000, "xatol": 1e-8, "fatol": 1e-8})
    return np.exp(res.x)


def expected_unconditional(t, r, alpha, a, b):
    """E[X(t)]: repeat transactions in (0, t] after the first purchase."""
    t = np.asarray(t, dtype=float)
    z = t / (alpha + t)
    return (a + b - 1) / (a - 1) * (1 - (alpha / (alpha + t)) ** r * special.hyp2f1(r, b, a + b - 1, z))


def expected_conditional(t, x, tx, T, r, alpha, a, b):
    """E[Y(t) | x, t_x, T]: repeat transactions in (T, T + t]."""
    t = np.asarray(t, dtype=float)
    z = t / (alpha + T + t)
    head = (a + b + x - 1) / (a - 1) * (1 - ((alpha + T) / (alpha + T + t)) ** (r + x)
                                        * special.hyp2f1(r + x, b + x, a + b + x - 1, z))
    alive = 1 + (x > 0) * a / np.maximum(b + x - 1, 1e-12) * ((alpha + T) / (alpha + tx)) ** (r + x)
    return head / alive


def weeks(d) -> np.ndarray:
    return (pd.DatetimeIndex(d) - pd.Timestamp("1997-01-01")).days.to_numpy() / 7.0


def bgnbd_tracking(df: pd.DataFrame) -> dict:
    days = df.drop_duplicates(["customer_id", "date"])
    first = days.groupby("customer_id")["date"].min()
    cal = days[days["date"] < CAL_END]
    g = cal.groupby("customer_id")["date"]
    x = (g.count() - 1).reindex(first.index).to_numpy(float)
    t0 = weeks(first)
    tx = weeks(g.max().reindex(first.index)) - t0
    T = weeks(pd.Series(CAL_END, index=first.index)) - t0
    p = fit_bgnbd(x, tx, T)
    months = pd.date_range(CAL_END, END, freq="MS")
    hold = days[days["date"] >= CAL_END]
    obs = hold.groupby(hold["date"].dt.to_period("M")).size().to_numpy(float)
    cond, unc = [], []
    for s, e in zip(months[:-1], months[1:]):
        ws, we = weeks([s])[0], weeks([e])[0]
        cond.append(np.sum(expected_conditional(we - weeks([CAL_END])[0], x, tx, T, *p)
                           - expected_conditional(ws - weeks([CAL_END])[0], x, tx, T, *p)))
        unc.append(np.sum(expected_unconditional(we - t0, *p) - expected_unconditional(ws - t0, *p)))
    out = {"params": p}
    for name, e in (("conditional", np.array(cond)), ("unconditional", np.array(unc))):
        out[name] = (float(np.mean(np.abs(e / obs - 1))), float(e.sum() / obs.sum() - 1))
    return out


# ------------------------------------------------ richer chains (prototypes, not in clmsim)
BUYING = (STAGES.index("repeat"), STAGES.index("loyal"))
"""The stages of a month with a purchase (repeat transactions)."""
CHURNED = STAGES.index("churned")

def stage_matrix(tx: pd.DataFrame, rules):
    """Stage index (into ``STAGES``, -1 before the first purchase), transactions and recency
    per customer and month, and each customer's first-purchase month."""
    sp = build_stage_panel(tx, rules)
    pos = {c: i for i, c in enumerate(sp.customers)}
    ci = sp.panel["customer_id"].map(pos).to_numpy()
    ti = sp.panel["period"].to_numpy()
    code = np.full((len(sp.customers), sp.n_periods), -1)
    ntx = np.zeros(code.shape)
    code[ci, ti] = sp.panel["stage"].map({s: i for i, s in enumerate(STAGES)}).to_numpy()
    ntx[ci, ti] = sp.panel["transactions"].to_numpy()
    t = np.arange(sp.n_periods)
    last = np.maximum.accumulate(np.where(ntx > 0, t, -1), axis=1)
    return code, ntx, np.where(code >= 0, t - last, -1), sp.first_period


def pair_counts(code: np.ndarray, Tc: int, S: int) -> np.ndarray:
    """(customers, S, S) transitions of each customer between consecutive calibration months."""
    N = np.zeros((code.shape[0], S, S))
    for t in range(1, Tc):
        a, b = code[:, t - 1], code[:, t]
        ok = (a >= 0) & (b >= 0)
        np.add.at(N, (np.nonzero(ok)[0], a[ok], b[ok]), 1.0)
    return N


def tx_per_month(code, ntx, Tc, S, buying) -> np.ndarray:
    """Calibration mean transactions per month of each buying stage (0 for the others)."""
    out = np.zeros(S)
    for b in buying:
        m = code[:, :Tc] == b
        out[b] = ntx[:, :Tc][m].mean()
    return out


def propagate(x: np.ndarray, P: np.ndarray, rate: np.ndarray, months: int) -> np.ndarray:
    """Expected transactions in each of the next ``months`` months of a population ``x`` (counts
    by state) moving by ``P``, buying ``rate`` per month in each state."""
    out = np.zeros(months)
    for h in range(months):
        x = x @ P
        out[h] = x @ rate
    return out


def mixture_forecast(code, ntx, first, Tc, T, K, starts=4, iters=1000):
    """Holdout repeat transactions per month of a K-class mixture of chains fitted by EM."""
    S = len(STAGES)
    N = pair_counts(code, Tc, S)
    best = None
    for seed in range(starts):
        R = np.random.default_rng(seed).dirichlet(np.ones(K), size=len(code))
        old = -np.inf
        for _ in range(iters):
            cnt = np.einsum("ck,cij->kij", R, N) + 1e-9
            P = cnt / cnt.sum(axis=2, keepdims=True)
            L = np.einsum("cij,kij->ck", N, np.log(P)) + np.log(R.mean(axis=0))
            top = L.max(axis=1, keepdims=True)
            ll = float(np.sum(top[:, 0] + np.log(np.exp(L - top).sum(axis=1))))
            R = np.exp(L - top)
            R /= R.sum(axis=1, keepdims=True)
            if ll - old < 1e-8:
                break
            old = ll
        if best is None or ll > best[0]:
            best = (ll, P, R)
    _, P, R = best
    rate = tx_per_month(code, ntx, Tc, S, BUYING)
    tracked = first < Tc
    return sum(propagate(np.bincount(code[tracked, Tc - 1], weights=R[tracked, k], minlength=S), P[k], rate,
                         T - Tc) for k in range(K))


def recency_forecast(code, ntx, recency, first, Tc, T, churn_after, rungs=12, form="geometric"):
    """Holdout repeat transactions per month of the chain with ``churned`` split by recency
    ``a = churn_after .. churn_after + rungs - 1`` (the last rung keeps the older ones): a
    customer on rung ``j`` buys with probability ``b d^j`` (geometric) or ``b (1 + j)^-d``
    (power), split between the buying stages as pooled over the rungs; ``b`` and ``d`` by
    maximum likelihood on the calibration months."""
    S0 = len(STAGES)
    rung = np.clip(recency - churn_after, 0, rungs - 1)
    state = np.where(code == CHURNED, S0 + rung, code)          # rung j -> state S0 + j
    S = S0 + rungs
    N = pair_counts(state, Tc, S).sum(axis=0)
    P = N / np.maximum(N.sum(axis=1, keepdims=True), 1.0)
    rows = np.arange(S0, S)
    bought = N[np.ix_(rows, BUYING)].sum(axis=1)
    seen = N[rows].sum(axis=1)
    split = N[np.ix_(rows, BUYING)].sum(axis=0) / bought.sum()
    j = np.arange(rungs, dtype=float)

    def prob(theta):
        b, d = np.exp(theta)
        return np.clip(b * (np.exp(-d * j) if form == "geometric" else (1 + j) ** -d), 1e-9, 1 - 1e-9)

    def nll(theta):
        p = prob(theta)
        return -np.sum(bought * np.log(p) + (seen - bought) * np.log1p(-p))

    p = prob(optimize.minimize(nll, np.log([0.05, 0.1]), method="Nelder-Mead").x)
    for i, row in enumerate(rows):
        P[row] = 0.0
        P[row, list(BUYING)] = p[i] * split
        P[row, rows[min(i + 1, rungs - 1)]] += 1.0 - p[i]
    rate = tx_per_month(state, ntx, Tc, S, BUYING)
    return propagate(np.bincount(state[first < Tc, Tc - 1], minlength=S).astype(float), P, rate, T - Tc)


def churned_spells(code: np.ndarray, Tc: int) -> np.ndarray:
    """Each spell in ``churned`` within the calibration months, as rows (customer, months it
    stayed churned without buying, 1 if a purchase ended it / 0 if the calibration ended it or a
    move to another stage without a purchase did)."""
    out = []
    for c in np.nonzero((code[:, :Tc] == CHURNED).any(axis=1))[0]:
        n = 0
        for t in range(1, Tc):
            if code[c, t - 1] == CHURNED:
                if code[c, t] == CHURNED:
                    n += 1
                else:
                    out.append((c, n, int(code[c, t] in BUYING)))
                    n = 0
        if code[c, Tc - 1] == CHURNED:
            out.append((c, n, 0))
    return np.array(out, dtype=int).reshape(-1, 3)


def spell_loglik(r: float, d: float, n: np.ndarray, ended: np.ndarray) -> np.ndarray:
    """Log-probability of churned spells when, each month, a churned customer still alive drops
    out for good with probability ``d`` and otherwise buys with probability ``r``: a spell
    of ``n`` months without a purchase, then one (``ended``), or cut by the calibration's end
    (alive throughout, or dropped out after ``j < n`` months)."""
    q = (1 - d) * (1 - r)
    qn = q ** n
    return np.where(ended == 1, np.log(qn * (1 - d) * r + 1e-300),
                    np.log(qn + d * (1 - qn) / (1 - q) + 1e-300))


def dropout_mixture_forecast(code, ntx, first, Tc, T, K, starts=8, iters=500):
    """Holdout repeat transactions per month of K latent classes of chains in which a churned
    customer can drop out for good: each customer belongs to one class for life; in class k,
    the rows of the stages other than ``churned`` are a chain of their own, and a churned
    customer still alive drops out with probability ``d_k`` a month, else buys with probability
    ``r_k`` (split between the buying stages as pooled). Fitted by EM on the calibration months
    (rows: weighted counts; ``r_k, d_k``: weighted maximum likelihood of the churned spells),
    the best of ``starts`` starts: the first splits the customers by how many months they bought
    in, the others are random. The forecast weighs each class by the customer's posterior and, for a customer churned at
    the end of calibration, by the probability she is still alive after her spell so far.
    Returns the forecast of the customers churned at the end of calibration, that of the others,
    the classes' (share, r, d), and the log-likelihood of the calibration months' purchase
    sequences (whether each customer bought in each month after her first), which, unlike the
    stages', every rule set models."""
    S = len(STAGES)
    buy = list(BUYING)
    N = pair_counts(code, Tc, S)
    split = N.sum(axis=0)[CHURNED, buy] / N.sum(axis=0)[CHURNED, buy].sum()
    N[:, CHURNED, :] = 0.0
    spells = churned_spells(code, Tc)
    kinds, which = np.unique(spells[:, 1:], axis=0, return_inverse=True)
    M = np.zeros((len(code), len(kinds)))                # spells of each kind per customer
    np.add.at(M, (spells[:, 0], which.ravel()), 1.0)
    n, ended = kinds[:, 0].astype(float), kinds[:, 1]

    def rd(x):
        return 1.0 / (1.0 + np.exp(-x))

    best = None
    months = (ntx[:, :Tc] > 0).sum(axis=1)               # purchase months in calibration
    for seed in range(starts):
        rng = np.random.default_rng(seed)
        if seed == 0:   # the first start splits the customers by how often they bought
            R = np.full((len(code), K), 0.1 / K)
            R[np.arange(len(code)), np.minimum(K - 1, (rankdata(months) * K / (len(code) + 1)).astype(int))] += 0.9
        else:
            R = rng.dirichlet(np.ones(K), size=len(code))
        theta = [rng.normal(-2.0, 1.0, size=2) for _ in range(K)]
        old = -np.inf
        for _ in range(iters):
            cnt = np.einsum("ck,cij->kij", R, N) + 1e-9
            P = cnt / cnt.sum(axis=2, keepdims=True)
            W = R.T @ M
            L = np.einsum("cij,kij->ck", N, np.log(P)) + np.log(R.mean(axis=0))
            for k in range(K):
                theta[k] = optimize.minimize(lambda x: -np.sum(W[k] * spell_loglik(*rd(x), n, ended)), theta[k],
                                             method="L-BFGS-B", bounds=[(-15.0, 15.0)] * 2).x
                L[:, k] += M @ spell_loglik(*rd(theta[k]), n, ended)
            top = L.max(axis=1, keepdims=True)
            ll = float(np.sum(top[:, 0] + np.log(np.exp(L - top).sum(axis=1))))
            R = np.exp(L - top)
            R /= R.sum(axis=1, keepdims=True)
            if ll - old < 1e-7:
                break
            old = ll
        if best is None or ll > best[0]:
            best = (ll, P, R, [rd(t) for t in theta])
    _, P, R, params = best
    end = code[:, Tc - 1]
    so_far = np.zeros(len(code))                         # months churned at the end of calibration
    cut = spells[spells[:, 2] == 0]
    so_far[cut[:, 0]] = cut[:, 1]
    rate = np.append(tx_per_month(code, ntx, Tc, S, BUYING), 0.0)   # state S: dropped out
    tracked = first < Tc
    parts = [np.zeros(T - Tc), np.zeros(T - Tc)]
    for k, (r, d) in enumerate(params):
        Q = np.zeros((S + 1, S + 1))
        Q[:S, :S] = P[k]
        Q[CHURNED] = 0.0
        Q[CHURNED, buy] = (1 - d) * r * split
        Q[CHURNED, CHURNED] = (1 - d) * (1 - r)
        Q[CHURNED, S] = d
        Q[S, S] = 1.0
        q = (1 - d) * (1 - r)
        alive = np.where(end == CHURNED, q ** so_far / (q ** so_far + d * (1 - q ** so_far) / (1 - q)), 1.0)
        for g, group in enumerate((tracked & (end == CHURNED), tracked & (end != CHURNED))):
            w = R[group, k]
            x = np.bincount(end[group], weights=w * alive[group], minlength=S + 1)
            x[S] += np.sum(w * (1 - alive[group]))
            parts[g] += propagate(x, Q, rate, T - Tc)
    full = pair_counts(code, Tc, S)
    bought = full[:, :, buy].sum(axis=2)
    moves = full.sum(axis=2)
    rows = [i for i in range(S) if i != CHURNED]
    L = np.log(R.mean(axis=0)) + M @ np.column_stack([spell_loglik(r, d, n, ended) for r, d in params])
    for k in range(K):
        p = np.clip(P[k][rows][:, buy].sum(axis=1), 1e-300, 1 - 1e-16)
        L[:, k] += bought[:, rows] @ np.log(p) + (moves - bought)[:, rows] @ np.log1p(-p)
    top = L.max(axis=1)
    purchases = float(np.sum(top + np.log(np.exp(L - top[:, None]).sum(axis=1))))
    return (parts[0], parts[1], [(float(R[:, k].mean()), float(r), float(d)) for k, (r, d) in enumerate(params)],
            purchases)


def richer_chains(tx: pd.DataFrame, rules) -> None:
    """Tracking and total error of the two prototypes on the default rules' stages."""
    code, ntx, recency, first = stage_matrix(tx, rules)
    T = code.shape[1]
    Tc = T - 9
    obs = ntx[first < Tc, Tc:].sum(axis=0)
    runs = [(f"latent-class mixture of {K} chains (EM)", mixture_forecast(code, ntx, first, Tc, T, K))
            for K in (2, 3)]
    runs += [(f"churned by recency, {form} decay of the return probability",
              recency_forecast(code, ntx, recency, first, Tc, T, rules.churn_after, form=form))
             for form in ("geometric", "power")]
    dropout = {K: dropout_mixture_forecast(code, ntx, first, Tc, T, K) for K in (2, 3)}
    runs += [(f"{K} latent classes of chains with dropout from churned (EM)", sum(dropout[K][:2])) for K in (2, 3)]
    for label, exp in runs:
        print(f"prototype, {label}: tracking error {np.mean(np.abs(exp / obs - 1)):.1%}, "
              f"total {exp.sum() / obs.sum() - 1:+.1%}")
    print("2 classes with dropout, (share, r, d) per class: "
          + "; ".join(f"({w:.3f}, {r:.3f}, {d:.3f})" for w, r, d in dropout[2][2]))
    # where the plain chain's error comes from: customers churned at the end of calibration, and the others
    S = len(STAGES)
    N = pair_counts(code, Tc, S).sum(axis=0)
    P = N / np.maximum(N.sum(axis=1, keepdims=True), 1.0)
    rate = tx_per_month(code, ntx, Tc, S, BUYING)
    end = code[:, Tc - 1]
    print("holdout repeat transactions per month: observed | plain chain | 2 classes with dropout")
    for g, (label, group) in enumerate((("churned at the end of calibration", (first < Tc) & (end == CHURNED)),
                                        ("the others", (first < Tc) & (end != CHURNED)))):
        plain = propagate(np.bincount(end[group], minlength=S).astype(float), P, rate, T - Tc)
        print(f"  {label} ({int(group.sum())} customers): {' '.join(f'{v:.0f}' for v in ntx[group, Tc:].sum(axis=0))} | "
              f"{' '.join(f'{v:.0f}' for v in plain)} | {' '.join(f'{v:.0f}' for v in dropout[2][g])}")
    # why: how often a churned customer buys in the next month, by months since her last purchase
    churned = code[:, :-1] == CHURNED
    bought = ntx[:, 1:] > 0

    def returned(lo, hi, months=None):
        """(buyers, churned customers) over months ``lo .. hi - 1``, at one recency or all."""
        at = churned[:, lo:hi] if months is None else churned[:, lo:hi] & (recency[:, lo:hi] == months)
        return int((at & bought[:, lo:hi]).sum()), int(at.sum())

    print("churned customers buying in the next month, by months since the last purchase "
          "(calibration months | holdout months):")
    for a in range(rules.churn_after, rules.churn_after + 10):
        cells = []
        for lo, hi in ((0, Tc - 1), (Tc, T - 1)):
            k, n = returned(lo, hi, a)
            cells.append(f"{k:>3}/{n:<5} {k / n:.3f}" if n else f"{'-':>15}")
        print(f"  {a:>2} months: " + " | ".join(cells))
    k, n = returned(0, Tc - 1)
    print(f"  pooled over the calibration months: {k}/{n} {k / n:.3f}")


def dropout_by_rules(tx: pd.DataFrame) -> None:
    """The 2-class dropout prototype on every candidate of the rule choice (none chosen here:
    how much the stage rules still matter)."""
    from clmsim.calibrate import RFMRules
    from clmsim.calibrate.rfm import RULE_CANDIDATES

    print("2 latent classes of chains with dropout, by stage rules (churn_after, frequency_window, loyal_frequency):")
    for churn_after in RULE_CANDIDATES["churn_after"]:
        for window, loyal in RULE_CANDIDATES["window"]:
            code, ntx, _, first = stage_matrix(tx, RFMRules(churn_after=churn_after, frequency_window=window,
                                                            loyal_frequency=loyal))
            T = code.shape[1]
            Tc = T - 9
            obs = ntx[first < Tc, Tc:].sum(axis=0)
            churned, others, _, purchases = dropout_mixture_forecast(code, ntx, first, Tc, T, 2)
            exp = churned + others
            print(f"  {churn_after}, {window}, {loyal}: tracking error {np.mean(np.abs(exp / obs - 1)):.1%}, "
                  f"total {exp.sum() / obs.sum() - 1:+.1%}; log-likelihood of the calibration purchases {purchases:.1f}")


def main() -> None:
    from clmsim.calibrate import RFMRules, fit_rfm
    from clmsim.calibrate.io import read_table
    from clmsim.calibrate.rfm import prepare_transactions

    raw = read_table(str(DATA), ("customer_id", "date", "amount"), (), sep="whitespace",
                     names=["customer_id", "sample_id", "date", "cds", "amount"], rename={},
                     what="transaction log")
    tx = prepare_transactions(raw, "%Y%m%d")
    chosen = None
    for label, rules, seasonal in (("clmsim, rules chosen on the calibration window (default)", None, None),
                                   ("clmsim, defaults + seasonal=12", None, 12),
                                   ("clmsim, previous default rules (3, 3, 2)", RFMRules(), None)):
        fit = fit_rfm(tx, rules, holdout=9, seasonal=seasonal)
        chosen = chosen or fit.rules
        rep = fit.report
        print(f"{label}: tracking error {rep.tracking_error:.1%} (repeat purchasers {rep.holdout_mape:.1%}), "
              f"total {rep.holdout_error:+.1%}")
    full = tx.assign(date=tx["date"])
    res = bgnbd_tracking(full)
    r, alpha, a, b = res["params"]
    print(f"BG/NBD on the calibration weeks: r {r:.3f}, alpha {alpha:.3f}, a {a:.3f}, b {b:.3f}")
    for k in ("conditional", "unconditional"):
        te, tot = res[k]
        print(f"BG/NBD {k}: tracking error {te:.1%}, total {tot:+.1%}")
    richer_chains(tx, chosen)
    dropout_by_rules(tx)


if __name__ == "__main__":
    main()
