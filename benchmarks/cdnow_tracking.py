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
  calibration history, and the unconditional cohort expectation (the "tracking plot").

A report, not a test. ``.venv/bin/python benchmarks/cdnow_tracking.py``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import optimize, special

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


def main() -> None:
    from clmsim.calibrate import RFMRules, fit_rfm
    from clmsim.calibrate.io import read_table
    from clmsim.calibrate.rfm import prepare_transactions

    raw = read_table(str(DATA), ("customer_id", "date", "amount"), (), sep="whitespace",
                     names=["customer_id", "sample_id", "date", "cds", "amount"], rename={},
                     what="transaction log")
    tx = prepare_transactions(raw, "%Y%m%d")
    for label, rules, seasonal in (("clmsim, rules chosen on the calibration window (default)", None, None),
                                   ("clmsim, defaults + seasonal=12", None, 12),
                                   ("clmsim, previous default rules (3, 3, 2)", RFMRules(), None)):
        rep = fit_rfm(tx, rules, holdout=9, seasonal=seasonal).report
        print(f"{label}: tracking error {rep.tracking_error:.1%} (repeat purchasers {rep.holdout_mape:.1%}), "
              f"total {rep.holdout_error:+.1%}")
    full = tx.assign(date=tx["date"])
    res = bgnbd_tracking(full)
    r, alpha, a, b = res["params"]
    print(f"BG/NBD on the calibration weeks: r {r:.3f}, alpha {alpha:.3f}, a {a:.3f}, b {b:.3f}")
    for k in ("conditional", "unconditional"):
        te, tot = res[k]
        print(f"BG/NBD {k}: tracking error {te:.1%}, total {tot:+.1%}")


if __name__ == "__main__":
    main()
