"""CDNOW holdout tracking: clmsim's fitted chains against BG/NBD on the same split and metric.

The vendored CDNOW sample, 9 calibration months (1997-01 .. 1997-09, the 39 weeks of Fader,
Hardie & Lee 2005) and 9 holdout months. Metric (docs/calibration.md): tracking error =
mean over the holdout months of |expected / observed - 1| of repeat transactions, and the
total error of holdout repeat transactions.

* clmsim: ``fit_rfm(..., holdout=9)`` with the defaults (rules chosen on the calibration
  window, latent classes with dropout, as many as the BIC supports), the same with one chain
  (``classes=0``), with seasonal multipliers per month of year fitted on the calibration months
  (``seasonal=12``, one chain), with the rules fixed at the previous defaults (churn after 3,
  window 3, loyal frequency 2; one chain), and the defaults on the log with each customer's
  purchases of one day merged into one (the purchase days BG/NBD models);
* BG/NBD (Fader, Hardie & Lee 2005), fitted here by maximum likelihood on the calibration
  weeks (purchases aggregated by day and the window ending on its last day, 1997-09-30, as in
  the paper and the lifetimes package; the estimates printed are the paper's, r 0.243,
  alpha 4.414, a 0.793, b 2.426). Holdout forecast per month: the conditional expectation given
  each customer's calibration history (what lifetimes' ``conditional_expected_number_of_
  purchases_up_to_time`` gives), and the unconditional cohort expectation (the "tracking
  plot"); each against purchase days (what BG/NBD models) and against transactions (the log's
  rows, what clmsim forecasts);
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

from clmsim.calibrate.classes import class_means, fit_classes, pair_counts
from clmsim.calibrate.stages import STAGES, build_stage_panel, panel_codes

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


def purchase_days(tx: pd.DataFrame) -> pd.DataFrame:
    """The log with each customer's transactions of one day merged into one purchase (amounts
    summed; the first row's line number): the purchases BG/NBD and the lifetimes package count."""
    return tx.groupby(["customer_id", "date"], as_index=False).agg(amount=("amount", "sum"), line=("line", "min"))


def weeks(d) -> np.ndarray:
    return (pd.DatetimeIndex(d) - pd.Timestamp("1997-01-01")).days.to_numpy() / 7.0


def bgnbd_tracking(df: pd.DataFrame) -> dict:
    """BG/NBD fitted on the calibration weeks and its holdout forecast per calendar month, against
    purchase days (what it models, as the lifetimes package counts them) and transactions (the
    log's rows, what clmsim counts). A purchase on day ``D`` happens at ``D - t0`` days after the
    first purchase ``t0``, and the calibration window ends on its last day, 1997-09-30 (``T``),
    as in Fader, Hardie & Lee (2005) and lifetimes."""
    days = df.drop_duplicates(["customer_id", "date"])
    first = days.groupby("customer_id")["date"].min()
    cal = days[days["date"] < CAL_END]
    g = cal.groupby("customer_id")["date"]
    x = (g.count() - 1).reindex(first.index).to_numpy(float)
    t0 = weeks(first)
    tx = weeks(g.max().reindex(first.index)) - t0
    last_day = CAL_END - pd.Timedelta(days=1)
    T = weeks(pd.Series(last_day, index=first.index)) - t0
    p = fit_bgnbd(x, tx, T)
    months = pd.date_range(CAL_END, END, freq="MS")
    observed = {}
    for name, log in (("purchase days", days), ("transactions", df)):
        hold = log[log["date"] >= CAL_END]
        observed[name] = hold.groupby(hold["date"].dt.to_period("M")).size().to_numpy(float)
    cond, unc = [], []
    for s, e in zip(months[:-1], months[1:]):
        # the month's purchases: days s .. e - 1, i.e. times in (s - 1 day, e - 1 day]
        ws, we = weeks([s - pd.Timedelta(days=1)])[0], weeks([e - pd.Timedelta(days=1)])[0]
        end_T = weeks([last_day])[0]
        cond.append(np.sum(expected_conditional(we - end_T, x, tx, T, *p)
                           - expected_conditional(ws - end_T, x, tx, T, *p)))
        unc.append(np.sum(expected_unconditional(we - t0, *p) - expected_unconditional(ws - t0, *p)))
    out = {"params": p}
    for name, e in (("conditional", np.array(cond)), ("unconditional", np.array(unc))):
        out[name] = {what: (float(np.mean(np.abs(e / obs - 1))), float(e.sum() / obs.sum() - 1))
                     for what, obs in observed.items()}
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
    code = panel_codes(sp)
    ntx = np.zeros(code.shape)
    ntx[sp.panel["customer_id"].map(pos).to_numpy(), sp.panel["period"].to_numpy()] = sp.panel["transactions"].to_numpy()
    t = np.arange(sp.n_periods)
    last = np.maximum.accumulate(np.where(ntx > 0, t, -1), axis=1)
    return code, ntx, np.where(code >= 0, t - last, -1), sp.first_period


def tx_per_month(code, ntx, Tc, S, buying, posterior=None) -> np.ndarray:
    """Calibration mean transactions per month of each buying stage (0 for the others): pooled,
    (S,), or per class of ``posterior`` (C, K), (K, S), each customer-month weighted by her
    posterior (``class_means``)."""
    out = class_means(np.ones((len(code), 1)) if posterior is None else posterior, code, ntx, Tc, S)[0]
    out[:, [s for s in range(S) if s not in buying]] = 0.0
    return out[0] if posterior is None else out


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


def end_groups(code, first, Tc):
    """The tracked customers split by where they stood at the end of calibration: (label, mask)
    of those churned then and of the others."""
    tracked, churned = first < Tc, code[:, Tc - 1] == CHURNED
    return (("churned at the end of calibration", tracked & churned), ("the others", tracked & ~churned))


def dropout_mixture_forecast(code, ntx, first, Tc, T, K, starts=8, pooled_rate=False):
    """Holdout repeat transactions per month of K latent classes of chains in which a churned
    customer can drop out for good (:mod:`clmsim.calibrate.classes`, fitted on the calibration
    months, ``starts`` EM starts): each class's chain with its *dropped* state propagated from
    the customers' stages at the end of calibration, weighted by their posterior class and, for a
    churned customer, by the probability she is still alive after her spell so far; each class
    buys its own posterior-weighted mean transactions per calibration month in a buying stage
    (``class_means``; ``pooled_rate=True``: the pooled mean of every class). Returns the forecast
    of the customers churned at the end of calibration, that of the others, the classes' (share,
    r, d, transactions per month in each buying stage), and the log-likelihood of the calibration
    months' purchases."""
    S = len(STAGES)
    fit = fit_classes(code, Tc, K, churned=CHURNED, buying=BUYING, n_stages=S, starts=starts)
    rates = [tx_per_month(code, ntx, Tc, S, BUYING)] * K if pooled_rate else \
        tx_per_month(code, ntx, Tc, S, BUYING, fit.posterior)
    rates = [np.append(r, 0.0) for r in rates]   # state S: dropped out
    end = code[:, Tc - 1]
    parts = []
    for _, group in end_groups(code, first, Tc):
        x = fit.occupancy(end, group)
        parts.append(sum(propagate(x[k], fit.matrix(k), rates[k], T - Tc) for k in range(K)))
    return (parts[0], parts[1], [(float(w), float(r), float(d), *(float(x[b]) for b in BUYING))
                                 for w, r, d, x in zip(fit.shares, fit.ret, fit.dropout, rates)],
            fit.purchases_loglik)


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
    runs.append(("2 latent classes with dropout, every class buying the pooled transactions per month",
                 sum(dropout_mixture_forecast(code, ntx, first, Tc, T, 2, pooled_rate=True)[:2])))
    for label, exp in runs:
        print(f"prototype, {label}: tracking error {np.mean(np.abs(exp / obs - 1)):.1%}, "
              f"total {exp.sum() / obs.sum() - 1:+.1%}")
    print("2 classes with dropout, (share, r, d, transactions per month in repeat, in loyal) per class: "
          + "; ".join(f"({w:.3f}, {r:.3f}, {d:.3f}, {a:.3f}, {b:.3f})" for w, r, d, a, b in dropout[2][2]))
    # where the plain chain's error comes from: customers churned at the end of calibration, and the others
    S = len(STAGES)
    N = pair_counts(code, Tc, S).sum(axis=0)
    P = N / np.maximum(N.sum(axis=1, keepdims=True), 1.0)
    rate = tx_per_month(code, ntx, Tc, S, BUYING)
    end = code[:, Tc - 1]
    print("holdout repeat transactions per month: observed | plain chain | 2 classes with dropout")
    for g, (label, group) in enumerate(end_groups(code, first, Tc)):
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
    from clmsim.calibrate.stages import prepare_transactions

    raw = read_table(str(DATA), ("customer_id", "date", "amount"), (), sep="whitespace",
                     names=["customer_id", "sample_id", "date", "cds", "amount"], rename={},
                     what="transaction log")
    tx = prepare_transactions(raw, "%Y%m%d")
    chosen = None
    for label, log, rules, seasonal, classes in (
            ("clmsim, defaults (rules chosen on the calibration window, latent classes chosen by BIC)",
             tx, None, None, None),
            ("clmsim, defaults but one chain (classes=0)", tx, None, None, 0),
            ("clmsim, defaults + seasonal=12 (one chain)", tx, None, 12, None),
            ("clmsim, previous default rules (3, 3, 2), one chain", tx, RFMRules(), None, 0),
            ("clmsim, defaults on the log with each customer's purchases of a day merged (purchase days)",
             purchase_days(tx), None, None, None)):
        fit = fit_rfm(log, rules, holdout=9, seasonal=seasonal, classes=classes)
        chosen = chosen or fit.rules
        rep = fit.report
        print(f"{label}: tracking error {rep.tracking_error:.1%} (repeat purchasers {rep.holdout_mape:.1%}), "
              f"total {rep.holdout_error:+.1%}")
    res = bgnbd_tracking(tx)
    r, alpha, a, b = res["params"]
    print(f"BG/NBD on the calibration weeks: r {r:.3f}, alpha {alpha:.3f}, a {a:.3f}, b {b:.3f}")
    for k in ("conditional", "unconditional"):
        for what, (te, tot) in res[k].items():
            print(f"BG/NBD {k}, against {what}: tracking error {te:.1%}, total {tot:+.1%}")
    richer_chains(tx, chosen)
    dropout_by_rules(tx)


if __name__ == "__main__":
    main()
