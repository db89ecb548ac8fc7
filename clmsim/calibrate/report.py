"""Fit report: simulated against observed repeat-purchase curve on a holdout.

The transaction window is cut at period ``T_cal``. The chain is fitted on the
stages of periods ``0 .. T_cal - 1`` only (stages depend on the past only, so
nothing leaks from the holdout). The tracked customers are those whose first
purchase falls in the calibration window.

In the calibration window, expected stage occupancy of the tracked customers
(row vector over stages) is propagated with the fitted matrix ``P`` (``P_t``, the
matrix of period t's calendar position, with seasonal multipliers,
:mod:`clmsim.calibrate.seasonal`):

    x_t = x_{t-1} P + a_t e_new,    x_{-1} = 0,

with ``a_t`` the observed number of first purchases in period ``t`` (calibration
periods only; the customers join ``new`` at the end of ``t``, clmsim's timing for
acquisitions). A *repeat purchaser* of period ``t`` is a tracked customer in a
buying stage (``repeat`` or ``loyal``): one who bought in a period after her
first-purchase period. Expected repeat purchasers in ``t`` are
``x_t[repeat] + x_t[loyal]``; expected repeat transactions add the calibration
mean number of transactions per period of each buying stage (with latent classes,
each class's own mean applied to the class's occupancy,
:func:`clmsim.calibrate.classes.class_means`).

The holdout forecast starts from the *observed* occupancy at the end of the
calibration window, ``x_t = x_{t-1} P`` (no arrivals). It comes from the analytic engine
(:func:`clmsim.api.simulate` on a scenario whose initial population is the
observed occupancy at the end of calibration) when it is installed; the numpy
propagation is the fallback (the two are the same expectation).
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass

import numpy as np
import pandas as pd


def propagate(P: np.ndarray, x0: np.ndarray, arrivals: np.ndarray, entry: int) -> np.ndarray:
    """Expected occupancy of periods 0..n-1: ``x_t = x_{t-1} P_t + arrivals[t] e_entry``.

    Parameters
    ----------
    P : (S, S) row-stochastic matrix, or (n, S, S): ``P[t]`` moves customers into period t
        (a seasonal chain)
    x0 : (S,) occupancy before period 0 (customers present at time 0)
    arrivals : (n,) customers joining ``entry`` at the end of each period
    entry : int

    Returns
    -------
    ndarray (n, S)
    """
    x = np.asarray(x0, dtype=float).copy()
    out = np.empty((len(arrivals), len(x)))
    P = np.asarray(P, dtype=float)
    for t, a in enumerate(arrivals):
        x = x @ (P[t] if P.ndim == 3 else P)
        x[entry] += a
        out[t] = x
    return out


def calibration_arrivals(first_period: np.ndarray, Tc: int, T: int) -> np.ndarray:
    """(T,) first purchases per period of the customers who first bought before period ``Tc``
    (0 from ``Tc`` on): the arrivals the calibration curve is propagated from."""
    arrivals = np.bincount(first_period[first_period < Tc], minlength=T)[:T].astype(float)
    arrivals[Tc:] = 0.0
    return arrivals


def analytic_engine_available() -> bool:
    """True when :mod:`clmsim.engines.analytic` and :mod:`clmsim.api` are installed."""
    return (importlib.util.find_spec("clmsim.api") is not None
            and importlib.util.find_spec("clmsim.engines.analytic") is not None)


def engine_occupancy(scenario_text: str, stages: tuple[str, ...],
                     segments: tuple[str, ...] | None = None) -> np.ndarray:
    """Expected occupancy per period 1..H from the analytic engine, shape (H, S), or per
    segment of ``segments`` (G, H, S)."""
    from ..api import simulate
    from ..scenario import scenario_from_text

    res = simulate(scenario_from_text(scenario_text, "<holdout scenario>"), engine="analytic")

    def table(per: pd.DataFrame) -> np.ndarray:
        base = per[per["strategy"] == "baseline"]
        H = int(base["period"].max())
        out = np.zeros((H, len(stages)))
        for j, s in enumerate(stages):
            rows = base[(base["item"] == f"stage:{s}") & (base["period"] >= 1)].sort_values("period")
            out[:, j] = rows["mean"].to_numpy()[:H]
        return out

    if segments is None:
        return table(res.periods)
    seg = res.segment_periods
    return np.stack([table(seg[seg["segment"] == g]) for g in segments])


@dataclass(frozen=True)
class HoldoutReport:
    """Observed and expected repeat-purchase curves, calibration and holdout.

    Attributes
    ----------
    table : DataFrame
        One row per period: ``period``, ``start`` (first day), ``phase``
        (calibration/holdout), ``observed_buyers``, ``expected_buyers``,
        ``observed_transactions``, ``expected_transactions`` and their cumulative sums
        ``cum_observed``, ``cum_expected`` (transactions).
    calibration_periods, holdout_periods : int
    tracked : int
        Customers whose first purchase is in the calibration window.
    engine : str
        ``"analytic"`` or ``"numpy"``: what produced the holdout expectations.
    seasonal : int or None
        Cycle length when the chain carries seasonal multipliers (``P`` given per period).
    classes : int or None
        Number of latent classes with dropout when the forecast comes from them.
    """

    table: pd.DataFrame
    calibration_periods: int
    holdout_periods: int
    tracked: int
    engine: str
    seasonal: int | None = None
    classes: int | None = None

    @property
    def holdout(self) -> pd.DataFrame:
        return self.table[self.table["phase"] == "holdout"]

    @property
    def holdout_error(self) -> float:
        """Relative error of total holdout repeat transactions, ``expected / observed - 1``."""
        h = self.holdout
        return float(h["expected_transactions"].sum() / h["observed_transactions"].sum() - 1.0)

    @property
    def holdout_mape(self) -> float:
        """Mean absolute percentage error of repeat purchasers per holdout period."""
        h = self.holdout
        obs = h["observed_buyers"].to_numpy(dtype=float)
        ok = obs > 0
        return float(np.mean(np.abs(h["expected_buyers"].to_numpy()[ok] / obs[ok] - 1.0)))

    @property
    def tracking_error(self) -> float:
        """Tracking error: mean absolute percentage error of repeat transactions per holdout
        period, ``mean_t |expected_t / observed_t - 1|`` (periods with observed 0 left out)."""
        h = self.holdout
        obs = h["observed_transactions"].to_numpy(dtype=float)
        ok = obs > 0
        return float(np.mean(np.abs(h["expected_transactions"].to_numpy()[ok] / obs[ok] - 1.0)))

    def to_markdown(self, period: str = "period") -> str:
        """The report as a Markdown table plus headline numbers."""
        h = self.holdout
        lines = [f"Tracked customers (first purchase in the {self.calibration_periods} calibration {period}s): "
                 f"{self.tracked:,}. Holdout: {self.holdout_periods} {period}s; expectations from the "
                 f"{'analytic engine' if self.engine == 'analytic' else 'numpy propagation of the fitted chain'}"
                 + (f" with seasonal multipliers (cycle of {self.seasonal} {period}s, fitted on the calibration "
                    f"{period}s)." if self.seasonal else "")
                 + (f" of {self.classes} latent classes of chains with dropout, fitted on the calibration {period}s."
                    if self.classes else "")
                 + ("" if self.seasonal or self.classes else "."),
                 "",
                 f"Holdout repeat transactions: observed {h['observed_transactions'].sum():,.0f}, expected "
                 f"{h['expected_transactions'].sum():,.1f} ({self.holdout_error:+.1%}); tracking error (mean "
                 f"absolute error per {period}) of repeat transactions {self.tracking_error:.1%}, of repeat "
                 f"purchasers {self.holdout_mape:.1%}.",
                 "",
                 f"| {period} | start | phase | repeat buyers obs | exp | repeat tx obs | exp | error | cum tx obs "
                 "| cum exp |",
                 "|---:|---|---|---:|---:|---:|---:|---:|---:|---:|"]
        for _, r in self.table.iterrows():
            o, e = r["observed_transactions"], r["expected_transactions"]
            err = f"{e / o - 1:+.1%}" if o > 0 else ""
            lines.append(f"| {int(r['period'])} | {r['start']:%Y-%m-%d} | {r['phase']} | {r['observed_buyers']:,.0f} | "
                         f"{r['expected_buyers']:,.1f} | {o:,.0f} | {e:,.1f} | {err} | {r['cum_observed']:,.0f} | "
                         f"{r['cum_expected']:,.1f} |")
        return "\n".join(lines)


def holdout_report(panel: pd.DataFrame, first_period: np.ndarray, customers: np.ndarray,
                   starts: pd.DatetimeIndex, stages: tuple[str, ...], P: np.ndarray,
                   tx_per_period: dict[str, float], calibration_periods: int,
                   buying: tuple[str, ...] = ("repeat", "loyal"), entry: str = "new",
                   holdout_scenario: str | None = None, seasonal: int | None = None,
                   occupancy: np.ndarray | None = None, engine: str | None = None,
                   classes: int | None = None) -> HoldoutReport:
    """Compare observed and expected repeat purchases (see the module docstring).

    Parameters
    ----------
    panel : DataFrame
        The full stage panel (``customer_id, period, stage, transactions``).
    first_period, customers : arrays
        First-purchase period of each customer.
    starts : DatetimeIndex
        First day of each period of the full window.
    stages, P : the chain fitted on the calibration periods: (S, S), or (T, S, S) for a
        seasonal chain (``P[t]`` moves customers into period ``t``).
    tx_per_period : dict, or a sequence of them
        Calibration mean transactions per period of each buying stage; with latent classes, one
        dict per class, in the order of ``occupancy``'s first axis.
    calibration_periods : int
        ``T_cal``.
    holdout_scenario : str, optional
        YAML of a scenario starting from the observed occupancy at the end of
        calibration; when given and the analytic engine is installed it produces
        the holdout expectations.
    seasonal : int, optional
        Cycle length of the seasonal multipliers in ``P`` (for the report's wording).
    occupancy, engine : optional
        Expected occupancy of every period (T, S), or per latent class (K, T, S), computed
        elsewhere (:mod:`clmsim.calibrate.classes`) and the name of what computed its holdout
        part; ``P`` and ``holdout_scenario`` are then not used.
    classes : int, optional
        Number of latent classes with dropout behind ``occupancy`` (for the report's wording).
    """
    T = len(starts)
    Tc = calibration_periods
    tracked_ids = set(np.asarray(customers)[first_period < Tc])
    tr = panel[panel["customer_id"].isin(tracked_ids)]
    buy_rows = tr[tr["stage"].isin(buying)]
    obs_buyers = np.bincount(buy_rows["period"], minlength=T)[:T].astype(float)
    obs_tx = np.bincount(buy_rows["period"], weights=buy_rows["transactions"], minlength=T)[:T]
    arrivals = calibration_arrivals(first_period, Tc, T)
    idx = {s: i for i, s in enumerate(stages)}
    rates = [tx_per_period] if isinstance(tx_per_period, dict) else list(tx_per_period)
    if occupancy is not None:
        occ = np.asarray(occupancy, dtype=float)
        engine = engine or "numpy"
    else:
        occ = propagate(P, np.zeros(len(stages)), arrivals, idx[entry])
        engine = "numpy"
    if T > Tc and occupancy is None:
        end = tr[tr["period"] == Tc - 1]["stage"].value_counts()
        x_end = np.array([float(end.get(s, 0)) for s in stages])
        if holdout_scenario is not None and analytic_engine_available():
            occ[Tc:] = engine_occupancy(holdout_scenario, stages)[: T - Tc]
            engine = "analytic"
        else:
            occ[Tc:] = propagate(P[Tc:] if np.ndim(P) == 3 else P, x_end, np.zeros(T - Tc), idx[entry])
    occ = occ if occ.ndim == 3 else occ[None]
    cols = [idx[s] for s in buying if s in idx]
    exp_buyers = occ[:, :, cols].sum(axis=(0, 2))
    exp_tx = sum(o[:, idx[s]] * r.get(s, 0.0) for o, r in zip(occ, rates) for s in buying if s in idx)
    table = pd.DataFrame({"period": np.arange(T), "start": starts,
                          "phase": np.where(np.arange(T) < Tc, "calibration", "holdout"),
                          "observed_buyers": obs_buyers, "expected_buyers": exp_buyers,
                          "observed_transactions": obs_tx, "expected_transactions": exp_tx})
    table["cum_observed"] = table["observed_transactions"].cumsum()
    table["cum_expected"] = table["expected_transactions"].cumsum()
    return HoldoutReport(table=table, calibration_periods=Tc, holdout_periods=T - Tc,
                         tracked=len(tracked_ids), engine=engine, seasonal=seasonal, classes=classes)
