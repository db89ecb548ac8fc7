"""From a transaction log to lifecycle stages by recency/frequency/monetary rules.

A transaction log has rows ``(customer_id, date, amount)``. Dates are cut into
calendar periods (``month``, ``quarter``, ``year``; ``week`` = 7-day blocks from
the first date), period 0 holding the earliest date. For customer ``c`` and
period ``t`` let

* ``t0`` -- the period of the customer's first purchase (she is in the panel from ``t0`` on);
* ``buy`` -- she bought in period ``t``;
* ``R`` (recency) -- periods since her last purchase (0 if ``buy``);
* ``F`` (frequency) -- periods with a purchase among the last ``frequency_window``
  periods ``t - W + 1 .. t``;
* ``M`` (monetary) -- her spend over the same window.

Her stage at the end of period ``t`` is decided by the first rule that applies
(:class:`RFMRules` holds the thresholds):

1. ``t == t0``                                         -> ``new``      (active)
2. ``buy`` and ``F >= loyal_frequency`` and ``M >= loyal_monetary`` -> ``loyal`` (active)
3. ``buy``                                             -> ``repeat``   (active)
4. ``R < churn_after``                                 -> ``lapsing``  (active, earns 0)
5. ``R < dormant_after`` (or no ``dormant_after``)     -> ``churned``  (kind churned)
6. otherwise                                           -> ``dormant``  (kind churned)

So "bought a repeat purchase in period t" is exactly "is in ``repeat`` or
``loyal`` at the end of t", which lets a fitted chain predict the repeat-purchase
curve. Customers can always come back, so no stage is of kind ``lost``
(absorbing); ``dropped``, the hidden dropout of latent classes, is a churned stage without a row
(``classes=K``, :mod:`clmsim.calibrate.classes`); a stage with no rows in the data is
left out of the scenario.
A customer's stage at ``t`` depends on data up to ``t`` only, so cutting the
panel at a calibration date leaks nothing from the holdout.

Per-stage revenue is the customer's spend in the period (0 in ``lapsing``);
per-stage transactions per period feed the repeat-transaction curve.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from .io import to_dates, to_number

STAGES = ("new", "repeat", "loyal", "lapsing", "churned", "dormant")
KINDS = {"new": "active", "repeat": "active", "loyal": "active", "lapsing": "active",
         "churned": "churned", "dormant": "churned"}
BUYING = ("repeat", "loyal")
PERIODS = ("week", "month", "quarter", "year")


@dataclass(frozen=True)
class RFMRules:
    """Thresholds of the stage rules (see the module docstring).

    Parameters
    ----------
    period : {"week", "month", "quarter", "year"}
        Length of a period (also the scenario's ``time.period``).
    churn_after : int
        Recency, in periods, from which a customer counts as churned (>= 1).
    dormant_after : int or None
        Recency from which a churned customer counts as dormant (> churn_after), or None.
    frequency_window : int
        ``W``: periods (the current one included) over which F and M are counted (>= 1).
    loyal_frequency : int
        Minimum F for ``loyal`` (1..W).
    loyal_monetary : float
        Minimum M (spend over the window, currency) for ``loyal``.
    """

    period: str = "month"
    churn_after: int = 3
    dormant_after: int | None = None
    frequency_window: int = 3
    loyal_frequency: int = 2
    loyal_monetary: float = 0.0

    def __post_init__(self):
        if self.period not in PERIODS:
            raise ClmsimError(f"period must be one of {', '.join(PERIODS)}, got {self.period!r}")
        if self.churn_after < 1:
            raise ClmsimError(f"churn_after must be >= 1 period, got {self.churn_after}")
        if self.dormant_after is not None and self.dormant_after <= self.churn_after:
            raise ClmsimError(f"dormant_after ({self.dormant_after}) must exceed churn_after ({self.churn_after})")
        if self.frequency_window < 1:
            raise ClmsimError(f"frequency_window must be >= 1 period, got {self.frequency_window}")
        if not 1 <= self.loyal_frequency <= self.frequency_window:
            raise ClmsimError(f"loyal_frequency must be between 1 and frequency_window ({self.frequency_window}), "
                              f"got {self.loyal_frequency}")
        if self.loyal_monetary < 0:
            raise ClmsimError(f"loyal_monetary must be >= 0, got {self.loyal_monetary}")

    def describe(self) -> str:
        """One-line statement of the rules."""
        dormant = f"; recency >= {self.dormant_after} -> dormant" if self.dormant_after else ""
        money = f" and spend over the window >= {self.loyal_monetary:g}" if self.loyal_monetary > 0 else ""
        return (f"{self.period}ly periods; first purchase period -> new; bought in >= {self.loyal_frequency} "
                f"of the last {self.frequency_window} periods{money} -> loyal; other purchase periods -> repeat; "
                f"recency 1..{self.churn_after - 1} -> lapsing; recency >= {self.churn_after} -> churned{dormant}")

    def as_dict(self) -> dict:
        return asdict(self)


# ------------------------------------------------------------------ transactions
def prepare_transactions(raw: pd.DataFrame, date_format: str | None = None,
                         what: str = "transaction log") -> pd.DataFrame:
    """Parse a raw log (strings with ``line``) into ``customer_id, date, amount, line``.

    Raises
    ------
    ClmsimError
        Unparseable dates or amounts, negative amounts (naming the rows).
    """
    df = pd.DataFrame({"customer_id": raw["customer_id"].astype(str).str.strip(),
                       "date": to_dates(raw, "date", date_format, what),
                       "amount": to_number(raw, "amount", nonnegative=True, what=what),
                       "line": raw["line"].to_numpy()})
    return df


def period_index(dates: pd.Series, period: str, origin: pd.Timestamp) -> np.ndarray:
    """Whole periods between ``origin``'s period and each date (calendar months,
    quarters, years; weeks = 7-day blocks from ``origin``)."""
    d = pd.DatetimeIndex(dates)
    if period == "week":
        return ((d - origin).days // 7).to_numpy(dtype=np.int64)
    if period == "month":
        return ((d.year - origin.year) * 12 + (d.month - origin.month)).to_numpy(dtype=np.int64)
    if period == "quarter":
        return ((d.year - origin.year) * 4 + (d.quarter - origin.quarter)).to_numpy(dtype=np.int64)
    return (d.year - origin.year).to_numpy(dtype=np.int64)


def period_starts(period: str, origin: pd.Timestamp, n: int) -> pd.DatetimeIndex:
    """First day of periods 0..n-1."""
    if period == "week":
        return pd.DatetimeIndex([origin + pd.Timedelta(days=7 * k) for k in range(n)])
    freq = {"month": "MS", "quarter": "QS", "year": "YS"}[period]
    first = origin.to_period({"month": "M", "quarter": "Q", "year": "Y"}[period]).start_time
    return pd.date_range(first, periods=n, freq=freq)


def complete_periods(period: str, origin: pd.Timestamp, end: pd.Timestamp) -> int:
    """Number of whole periods from ``origin``'s period through ``end`` (inclusive);
    a period that ``end`` cuts short is not counted."""
    last = int(period_index(pd.Series([end]), period, origin)[0])
    nxt = end + pd.Timedelta(days=1)
    full = int(period_index(pd.Series([nxt]), period, origin)[0]) > last
    return last + 1 if full else last


@dataclass(frozen=True)
class StagePanel:
    """Stages per customer and period derived from a transaction log.

    Attributes
    ----------
    panel : DataFrame
        ``customer_id, period, stage, revenue, transactions`` (one row per customer
        and period from her first purchase to the last period).
    starts : DatetimeIndex
        First day of each period.
    first_period : ndarray
        Per customer (in ``customers`` order): period of the first purchase.
    customers : ndarray of str
    stages : tuple of str
        Stages present, in scenario order.
    dropped : int
        Transactions outside the complete periods (before ``start`` or after the last whole period).
    """

    panel: pd.DataFrame
    starts: pd.DatetimeIndex
    first_period: np.ndarray
    customers: np.ndarray
    stages: tuple[str, ...]
    dropped: int

    @property
    def n_periods(self) -> int:
        return len(self.starts)


def stage_codes(buy: np.ndarray, spend: np.ndarray, rules: RFMRules) -> np.ndarray:
    """Stage index (into :data:`STAGES`) per customer and period; -1 before the first purchase.

    Parameters
    ----------
    buy : bool array (C, T)
    spend : float array (C, T)
    """
    C, T = buy.shape
    t = np.arange(T)
    W = rules.frequency_window
    cb = np.concatenate([np.zeros((C, 1)), np.cumsum(buy, axis=1)], axis=1)
    cs = np.concatenate([np.zeros((C, 1)), np.cumsum(spend, axis=1)], axis=1)
    lo = np.maximum(t + 1 - W, 0)
    F = cb[:, t + 1] - cb[:, lo]
    M = cs[:, t + 1] - cs[:, lo]
    last = np.maximum.accumulate(np.where(buy, t, -1), axis=1)
    R = t - last
    first = np.where(buy.any(axis=1), buy.argmax(axis=1), T)
    idx = {s: i for i, s in enumerate(STAGES)}
    code = np.full((C, T), -1, dtype=np.int64)
    alive = t[None, :] >= first[:, None]
    dormant = R >= rules.dormant_after if rules.dormant_after else np.zeros_like(buy)
    code[alive & dormant] = idx["dormant"]
    code[alive & ~dormant & (R >= rules.churn_after)] = idx["churned"]
    code[alive & (R >= 1) & (R < rules.churn_after)] = idx["lapsing"]
    code[alive & buy] = idx["repeat"]
    code[alive & buy & (F >= rules.loyal_frequency) & (M >= rules.loyal_monetary)] = idx["loyal"]
    code[t[None, :] == first[:, None]] = idx["new"]
    return code


def build_stage_panel(tx: pd.DataFrame, rules: RFMRules, start: pd.Timestamp | None = None,
                      end: pd.Timestamp | None = None, what: str = "transaction log") -> StagePanel:
    """Stages per customer and period (see the module docstring).

    Parameters
    ----------
    tx : DataFrame
        From :func:`prepare_transactions`.
    start, end : Timestamp, optional
        First and last day of the data window (default: first and last transaction
        date). Only whole periods are used; transactions outside them are dropped.

    Raises
    ------
    ClmsimError
        Fewer than 2 whole periods, or no transactions inside them.
    """
    origin = pd.Timestamp(start) if start is not None else tx["date"].min()
    stop = pd.Timestamp(end) if end is not None else tx["date"].max()
    T = complete_periods(rules.period, origin, stop)
    if T < 2:
        raise ClmsimError(f"{what}: too few observations: the data span {T} whole {rules.period}(s) "
                          f"from {origin.date()} to {stop.date()}; transitions need at least 2")
    k = period_index(tx["date"], rules.period, origin)
    inside = (k >= 0) & (k < T) & (tx["date"] >= origin).to_numpy()
    dropped = int((~inside).sum())
    tx = tx[inside]
    k = k[inside]
    if len(tx) == 0:
        raise ClmsimError(f"{what}: no transactions between {origin.date()} and {stop.date()}")
    cust_codes, customers = pd.factorize(tx["customer_id"])
    C = len(customers)
    spend = np.zeros((C, T))
    ntx = np.zeros((C, T))
    np.add.at(spend, (cust_codes, k), tx["amount"].to_numpy())
    np.add.at(ntx, (cust_codes, k), 1.0)
    buy = ntx > 0
    code = stage_codes(buy, spend, rules)
    first = buy.argmax(axis=1)
    ci, ti = np.nonzero(code >= 0)
    panel = pd.DataFrame({"customer_id": np.asarray(customers)[ci], "period": ti,
                          "stage": np.asarray(STAGES)[code[ci, ti]], "revenue": spend[ci, ti],
                          "transactions": ntx[ci, ti]})
    present = set(np.unique(code[code >= 0]))
    stages = tuple(s for i, s in enumerate(STAGES) if i in present)
    return StagePanel(panel=panel, starts=period_starts(rules.period, origin, T), first_period=first,
                      customers=np.asarray(customers), stages=stages, dropped=dropped)


def _panel_matrix(sp: StagePanel, values: np.ndarray, fill, dtype) -> np.ndarray:
    pos = {c: i for i, c in enumerate(sp.customers)}
    out = np.full((len(sp.customers), sp.n_periods), fill, dtype=dtype)
    out[sp.panel["customer_id"].map(pos).to_numpy(), sp.panel["period"].to_numpy()] = values
    return out


def panel_codes(sp: StagePanel) -> np.ndarray:
    """Stage code (index into :data:`STAGES`) per customer (``sp.customers`` order) and period;
    -1 before her first purchase."""
    return _panel_matrix(sp, sp.panel["stage"].map({s: i for i, s in enumerate(STAGES)}).to_numpy(), -1, np.int64)


def panel_values(sp: StagePanel, column: str) -> np.ndarray:
    """A numeric column of the stage panel (``transactions``, ``revenue``) per customer and
    period, as :func:`panel_codes`; 0 before her first purchase."""
    return _panel_matrix(sp, sp.panel[column].to_numpy(dtype=float), 0.0, float)
