"""Seasonal multipliers of a fitted stage chain: purchase probability and revenue per purchase.

A stage panel (:mod:`clmsim.calibrate.stages`) is cut into calendar periods; with a cycle of
``N`` periods (``N = 12`` for months: month of year) period ``t`` has the cycle position
``c(t) = k(t) mod N``, ``k`` the calendar index of the period (months: ``12 year + month - 1``,
so position 0 is January; quarters: ``4 year + quarter - 1``; years: the year; weeks: weeks
from the first date). The model, for a customer in stage ``i`` at the end of period ``t - 1``:

* she buys in period ``t`` (moves into a buying stage, ``repeat`` or ``loyal``) with
  probability ``B_i m_c(t)``: a per-stage base ``B_i`` times a multiplier per position;
* where a buyer goes among the buying stages, and a non-buyer among the others, is the
  constant chain's split ``q_ij = P_ij / B_i`` and ``r_ij = P_ij / (1 - B_i)``.

So row ``i`` of the chain in period ``t`` is ``P_ij(t) = B_i m_c q_ij`` for buying ``j`` and
``(1 - B_i m_c) r_ij`` otherwise: a buying entry has multiplier ``m_c``, a non-buying entry
the complement ``(1 - B_i m_c) / (1 - B_i)``; both average 1 over a cycle when the ``m_c`` do.
Revenue per customer-period of a buying stage ``j`` is ``R_j g_c(t)`` likewise.

**Estimation** (calibration periods only). The mean model ``E[buys] = B_i m_c`` is fitted by
its estimating equations (observed = expected summed over every stage and over every
position), alternating ``B_i = O_i / sum_c n_ic m_c`` and ``m_c = O_c / sum_i n_ic B_i``
(``n_ic`` customers in stage ``i`` before a period at position ``c``, ``O`` the buys). The
standard error of ``m_c`` is ``sqrt(sum_i n_ic p_ic (1 - p_ic)) / sum_i n_ic B_i`` (revenue:
the residual sum of squares of the period's rows in place of the binomial variance).

**Shrinkage.** A position seen once (one calendar month in a year of data) is a noisy
estimate. The log multipliers are shrunk towards their precision-weighted mean ``mu`` with the
random-effects (DerSimonian-Laird) between-position variance
``tau^2 = max(0, (Q - (k - 1)) / (sum w - sum w^2 / sum w))``, ``w = 1 / se^2`` on the log scale,
``Q = sum w (log m - mu)^2`` over the ``k`` positions seen: ``log m* = mu + (log m - mu)
tau^2 / (tau^2 + se^2)``; a position never seen gets ``mu``. The data *support* seasonality
when Cochran's ``Q`` exceeds its chi-square(``k - 1``) 95% quantile; otherwise every
multiplier is 1 (revenue multipliers are emitted only when supported). The bases are then
re-estimated with the shrunk multipliers held fixed, and the multipliers normalised to
average 1 over a cycle (the bases absorb the scale; the fitted values do not change).

**Caps.** A buying multiplier is capped at ``1 / B_i`` in row ``i`` so that no period's
purchase probability exceeds 1 (the summary names every capped cell); entries are rounded down
to 6 decimals, so base x multiplier keeps every row sum at most 1 in every period.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy import stats

from ..errors import ClmsimError

SUPPORT_LEVEL = 0.05
"""Cochran's Q test level: below it the data support seasonal multipliers."""

MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


MAX_CYCLE = 1000
"""Longest cycle accepted (periods)."""


def check_cycle(n) -> int:
    """The cycle length ``N`` as an int in 2..:data:`MAX_CYCLE`, or a :class:`ClmsimError`."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or not 2 <= n <= MAX_CYCLE:
        raise ClmsimError(f"seasonal: the cycle length must be a whole number of periods from 2 to {MAX_CYCLE} "
                          f"(12 for month of year with monthly periods), got {n!r}")
    return int(n)


def cycle_positions(starts: pd.DatetimeIndex, period: str, n: int) -> np.ndarray:
    """Cycle position (0..n-1) of each period whose first day is in ``starts``."""
    d = pd.DatetimeIndex(starts)
    if period == "month":
        k = d.year * 12 + d.month - 1
    elif period == "quarter":
        k = d.year * 4 + d.quarter - 1
    elif period == "year":
        k = d.year
    else:  # weeks: 7-day blocks from the first date
        k = np.arange(len(d))
    return np.asarray(k, dtype=np.int64) % n


def position_label(c: int, period: str, n: int) -> str:
    """``Jan`` for month-of-year positions, ``Q1`` for quarter-of-year, else ``#c+1``."""
    if period == "month" and n == 12:
        return MONTHS[c]
    if period == "quarter" and n == 4:
        return f"Q{c + 1}"
    return f"#{c + 1}"


@dataclass(frozen=True)
class Factors:
    """Multiplicative factors per cycle position (see the module docstring).

    Attributes
    ----------
    multipliers : ndarray (N,)
        Shrunk, normalised multipliers (mean 1); all 1 when not ``supported``.
    se : ndarray (N,)
        Their standard errors (posterior sd, delta method; prior sd for a position never seen).
    raw, raw_se : ndarray (N,)
        Unshrunk estimates on the same scale and their standard errors (NaN where not seen).
    seen : ndarray of int (N,)
        Periods at each position in the data.
    q, p_value, tau : float
        Cochran's Q over the positions seen, its chi-square p-value, the between-position sd
        of the log multipliers.
    """

    multipliers: np.ndarray
    se: np.ndarray
    raw: np.ndarray
    raw_se: np.ndarray
    seen: np.ndarray
    q: float
    p_value: float
    tau: float

    @property
    def supported(self) -> bool:
        """Do the data show variation across positions beyond noise (Q test at 5%)?"""
        return bool(self.p_value < SUPPORT_LEVEL)


def _shrunk(est: np.ndarray, se: np.ndarray, seen: np.ndarray) -> tuple[np.ndarray, np.ndarray, float, float, float]:
    """Random-effects shrinkage of log ``est`` (see the module docstring).
    Returns log multipliers, their sd, Q, p-value, tau."""
    ok = seen & (est > 0) & np.isfinite(se) & (se > 0)
    n = len(est)
    if ok.sum() < 2:
        return np.zeros(n), np.zeros(n), 0.0, 1.0, 0.0
    lg = np.log(est[ok])
    v = (se[ok] / est[ok]) ** 2
    w = 1.0 / v
    mu = float(np.sum(w * lg) / w.sum())
    q = float(np.sum(w * (lg - mu) ** 2))
    k = int(ok.sum())
    p = float(stats.chi2.sf(q, k - 1))
    tau2 = max(0.0, (q - (k - 1)) / (w.sum() - np.sum(w ** 2) / w.sum())) if p < SUPPORT_LEVEL else 0.0
    out = np.full(n, mu)
    sd = np.full(n, np.sqrt(tau2))
    out[ok] = mu + (lg - mu) * tau2 / (tau2 + v)
    sd[ok] = np.sqrt(tau2 * v / (tau2 + v))
    return out, sd, q, p, float(np.sqrt(tau2))


def _alternate(n_ic: np.ndarray, o_i: np.ndarray, o_c: np.ndarray, iters: int = 500) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``B_i = O_i / sum_c n_ic m_c``, ``m_c = O_c / sum_i n_ic B_i`` (mean of the seen ``m``
    fixed at 1)."""
    seen = n_ic.sum(axis=0) > 0
    m = np.ones(n_ic.shape[1])
    base = np.zeros(n_ic.shape[0])
    for _ in range(iters):
        den = n_ic @ m
        base = np.divide(o_i, den, out=np.zeros_like(o_i), where=den > 0)
        e_c = base @ n_ic
        new = np.where(seen & (e_c > 0), o_c / np.where(e_c > 0, e_c, 1.0), 1.0)
        new = new / np.mean(new[seen]) if seen.any() and np.mean(new[seen]) > 0 else new
        done = np.max(np.abs(new - m)) < 1e-12
        m = new
        if done:
            break
    den = n_ic @ m
    base = np.divide(o_i, den, out=np.zeros_like(o_i), where=den > 0)
    return base, m


def _factors(n_ic: np.ndarray, o_i: np.ndarray, o_c: np.ndarray, ss_c, counts_seen: np.ndarray
             ) -> tuple[Factors, np.ndarray]:
    """Estimate, shrink, re-base and normalise. ``ss_c(base, m)`` gives each position's variance
    of the observed total. Returns the factors and the per-stage bases."""
    base, m = _alternate(n_ic, o_i, o_c)
    seen = n_ic.sum(axis=0) > 0
    e_c = base @ n_ic
    # a position seen without a single purchase: half a purchase (continuity correction) for the log scale
    m = np.where(seen & (o_c <= 0) & (e_c > 0), 0.5 / np.where(e_c > 0, e_c, 1.0), m)
    se = np.where(seen & (e_c > 0), np.sqrt(np.maximum(ss_c(base, m), 0.0)) / np.where(e_c > 0, e_c, 1.0), np.nan)
    log_m, log_sd, q, p, tau = _shrunk(m, se, seen)
    shrunk = np.exp(log_m)
    den = n_ic @ shrunk
    base = np.divide(o_i, den, out=np.zeros_like(o_i), where=den > 0)
    scale = shrunk.mean()
    mult = shrunk / scale
    factors = Factors(multipliers=mult, se=mult * log_sd, raw=np.where(seen, m / scale, np.nan),
                      raw_se=np.where(seen, se / scale, np.nan), seen=counts_seen, q=q, p_value=p, tau=tau)
    return factors, base * scale


@dataclass(frozen=True)
class SeasonalFit:
    """Seasonal multipliers of a chain fitted on a stage panel (see the module docstring).

    Attributes
    ----------
    cycle : int
        ``N``, periods per cycle.
    period : str
        Period length (month, quarter, year, week).
    stages : tuple of str
        Stage order of ``P`` and of the rows.
    buying : tuple of str
        Stages whose entry is a purchase.
    P : ndarray (S, S)
        The constant chain (its within-buy and within-non-buy splits are kept).
    purchase : Factors
        Multipliers of the purchase probability.
    buy_base : ndarray (S,)
        ``B_i``: the per-stage purchase probability at multiplier 1.
    revenue : Factors or None
        Multipliers of revenue per customer-period in the buying stages (None: no revenue data).
    revenue_base : dict
        ``R_j`` per buying stage (revenue at multiplier 1).
    """

    cycle: int
    period: str
    stages: tuple[str, ...]
    buying: tuple[str, ...]
    P: np.ndarray
    purchase: Factors
    buy_base: np.ndarray
    revenue: Factors | None
    revenue_base: dict

    # ------------------------------------------------------------ the seasonal chain
    def rows(self) -> dict[str, dict[str, tuple[float, np.ndarray]]]:
        """Per seasonal source stage: ``{dst: (base, multipliers)}`` for every move the chain makes
        (staying implied), rounded down to 6 decimals so that every period's row sums to at most 1.
        Rows without purchases, or all purchases, stay constant and are left out; so is everything
        when the data do not support seasonality."""
        if not self.purchase.supported:
            return {}
        out = {}
        buy = np.array([s in self.buying for s in self.stages])
        m = self.purchase.multipliers
        for i, src in enumerate(self.stages):
            b_const = float(self.P[i, buy].sum())
            b = float(self.buy_base[i])
            if b_const <= 0 or b_const >= 1 or b <= 0 or b >= 1:
                continue
            mi = _floor6(np.minimum(m, 1.0 / b))
            ci = _floor6(np.maximum((1.0 - b * mi) / (1.0 - b), 0.0))
            row = {}
            for j, dst in enumerate(self.stages):
                if j == i or self.P[i, j] <= 0:
                    continue
                if buy[j]:
                    row[dst] = (float(_floor6(b * self.P[i, j] / b_const)), mi)
                else:
                    row[dst] = (float(_floor6((1 - b) * self.P[i, j] / (1 - b_const))), ci)
            out[src] = row
        return out

    def capped(self) -> list[tuple[str, int]]:
        """``(stage, position)`` cells whose purchase multiplier was capped at ``1 / B_i``."""
        if not self.purchase.supported:
            return []
        buy = np.array([s in self.buying for s in self.stages])
        return [(s, int(c)) for i, s in enumerate(self.stages)
                if 0 < self.buy_base[i] < 1 and self.P[i, buy].sum() > 0
                for c in np.nonzero(self.purchase.multipliers * self.buy_base[i] > 1.0)[0]]

    def matrices(self, constant: dict[str, dict[str, float]], positions: np.ndarray) -> np.ndarray:
        """The chain of each period, shape ``(len(positions), S, S)``: the rounded rows of
        :meth:`rows` (base x multiplier of the period's 0-based cycle position) where seasonal,
        the rows of the ``constant`` block elsewhere (staying = 1 - row sum) -- exactly the
        numbers :meth:`transitions_block` writes."""
        return block_matrices(self.transitions_block(constant, phase=1), self.stages,
                              (np.asarray(positions) % self.cycle) + 1)

    # ------------------------------------------------------------ scenario blocks
    def transitions_block(self, constant: dict[str, dict[str, float]], phase: int) -> dict:
        """The scenario's ``transitions``: ``constant`` (the fitted block) with every seasonal
        entry replaced by ``{base, seasonality: {period, multipliers, phase}}``."""
        out = {k: dict(v) for k, v in constant.items()}
        for src, row in self.rows().items():
            out[src] = {dst: self._entry(base, mult, phase) for dst, (base, mult) in row.items()}
        return out

    def revenue_entries(self, phase: int) -> dict[str, dict]:
        """``{stage: seasonal revenue mean}`` for the buying stages, when the data support it."""
        if self.revenue is None or not self.revenue.supported:
            return {}
        mult = _floor6(self.revenue.multipliers)
        return {s: self._entry(float(f"{r:.6g}"), mult, phase) for s, r in self.revenue_base.items()}

    def _entry(self, base: float, mult: np.ndarray, phase: int) -> dict:
        return {"base": base, "seasonality": {"period": self.cycle,
                                              "multipliers": [float(x) for x in mult], "phase": int(phase)}}

    # ------------------------------------------------------------ report
    def describe(self, fitted_on: str = "the data") -> str:
        """The factors as a plain-text table with the support tests and caps."""
        lab = [position_label(c, self.period, self.cycle) for c in range(self.cycle)]
        lines = [f"seasonal multipliers ({self.cycle} {self.period}s per cycle, fitted on {fitted_on}; log "
                 f"multipliers shrunk towards their mean, a position never seen gets it; normalised to mean 1)"]
        for name, f in (("purchase probability", self.purchase), ("revenue per purchase", self.revenue)):
            if f is None:
                continue
            verdict = ("supported" if f.supported else "not supported: every multiplier 1")
            lines.append(f"  {name}: Cochran Q {f.q:.1f} on {int((f.seen > 0).sum()) - 1} df, p {f.p_value:.3g} "
                         f"({verdict}); between-position sd {f.tau:.3f}")
            lines.append("    position  seen  raw (se)          multiplier (se)")
            for c in range(self.cycle):
                raw = f"{f.raw[c]:.3f} ({f.raw_se[c]:.3f})" if np.isfinite(f.raw[c]) else "-"
                lines.append(f"    {lab[c]:>8}  {int(f.seen[c]):>4}  {raw:<16}  {f.multipliers[c]:.3f} "
                             f"({f.se[c]:.3f})")
        caps = self.capped()
        if caps:
            lines.append("  capped at 1 / base so that the purchase probability stays <= 1: "
                         + ", ".join(f"{s} in {lab[c]}" for s, c in caps))
        return "\n".join(lines)


def _floor6(x):
    return np.floor(np.asarray(x, dtype=float) * 1e6 + 1e-7) / 1e6


def entry_value(entry, t: int) -> float:
    """Value of a transition entry (or revenue mean) in scenario period ``t`` (1, 2, ...): a
    number, or ``base * multipliers[(t - 1 + phase - 1) mod period]`` for a seasonal entry."""
    if isinstance(entry, dict):
        season = entry["seasonality"]
        k = (int(t) - 1 + int(season.get("phase", 1)) - 1) % int(season["period"])
        return float(entry["base"]) * float(season["multipliers"][k])
    return float(entry)


def block_matrices(block: dict, stages: tuple[str, ...], periods) -> np.ndarray:
    """The chain of a ``transitions`` block in each scenario period of ``periods`` (1-based),
    shape ``(len(periods), S, S)``; staying = 1 - row sum."""
    idx = {s: i for i, s in enumerate(stages)}
    S = len(stages)
    out = np.zeros((len(periods), S, S))
    for n, t in enumerate(periods):
        P = np.zeros((S, S))
        for src, row in block.items():
            for dst, entry in row.items():
                P[idx[src], idx[dst]] = entry_value(entry, t)
        P[np.arange(S), np.arange(S)] = 1.0 - P.sum(axis=1)
        out[n] = P
    return out


def fit_seasonal(panel: pd.DataFrame, P: np.ndarray, stages: tuple[str, ...], positions: np.ndarray, cycle: int,
                 period: str, buying: tuple[str, ...] = ("repeat", "loyal")) -> SeasonalFit:
    """Fit purchase and revenue multipliers per cycle position on a stage panel.

    Parameters
    ----------
    panel : DataFrame
        ``customer_id, period, stage, revenue`` -- the calibration periods only.
    P : (S, S) the constant chain fitted on the same panel.
    stages : stage order of ``P``.
    positions : int array
        Cycle position of every period of the panel (index = period).
    cycle : int
        ``N``.
    """
    cycle = check_cycle(cycle)
    idx = {s: i for i, s in enumerate(stages)}
    S = len(stages)
    df = panel.sort_values(["customer_id", "period"])
    cust = df["customer_id"].to_numpy()
    per = df["period"].to_numpy()
    code = df["stage"].map(idx).to_numpy()
    pair = (cust[1:] == cust[:-1]) & (per[1:] == per[:-1] + 1)
    src, dst, t = code[:-1][pair], code[1:][pair], per[1:][pair]
    pos = positions[t]
    bought = np.isin(dst, [idx[s] for s in buying if s in idx])
    n_ic = np.zeros((S, cycle))
    o_ic = np.zeros((S, cycle))
    np.add.at(n_ic, (src, pos), 1.0)
    np.add.at(o_ic, (src, pos), bought.astype(float))
    seen_periods = np.bincount(positions[np.unique(t)], minlength=cycle) if len(t) else np.zeros(cycle, int)

    def binomial(base, m):
        p = np.clip(base[:, None] * m[None, :], 0.0, 1.0)
        return np.sum(n_ic * p * (1 - p), axis=0)

    purchase, buy_base = _factors(n_ic, o_ic.sum(axis=1), o_ic.sum(axis=0), binomial, seen_periods)

    revenue, revenue_base = None, {}
    if "revenue" in panel.columns:
        rows = panel[panel["stage"].isin(buying)]
        bstages = tuple(s for s in buying if s in idx and (rows["stage"] == s).any())
        if bstages and len(rows):
            j = rows["stage"].map({s: k for k, s in enumerate(bstages)}).to_numpy()
            c = positions[rows["period"].to_numpy()]
            rev = rows["revenue"].to_numpy(dtype=float)
            n_jc = np.zeros((len(bstages), cycle))
            r_jc = np.zeros((len(bstages), cycle))
            np.add.at(n_jc, (j, c), 1.0)
            np.add.at(r_jc, (j, c), rev)

            def residual(base, g):
                res = rev - base[j] * g[c]
                return np.bincount(c, weights=res ** 2, minlength=cycle)

            seen_rev = np.bincount(positions[np.unique(rows["period"])], minlength=cycle)
            revenue, rb = _factors(n_jc, r_jc.sum(axis=1), r_jc.sum(axis=0), residual, seen_rev)
            revenue_base = {s: float(rb[k]) for k, s in enumerate(bstages)}
    return SeasonalFit(cycle=cycle, period=period, stages=tuple(stages), buying=tuple(buying), P=np.asarray(P),
                       purchase=purchase, buy_base=buy_base, revenue=revenue, revenue_base=revenue_base)


@functools.lru_cache(maxsize=1)
def scenario_accepts_seasonality() -> bool:
    """Does this clmsim's scenario language accept ``{base, seasonality: {...}}`` entries?
    (Detected by loading a tiny scenario with one.)"""
    from ..scenario import scenario_from_text
    from .io import write_yaml

    tiny = {"schema_version": 1, "name": "seasonality-probe", "time": {"period": "month", "horizon": 2},
            "stages": {"a": {"kind": "active", "revenue": {"mean": 1.0, "cv": 0.0}}, "b": {"kind": "churned"}},
            "transitions": {"a": {"b": {"base": 0.1, "seasonality": {"period": 2, "multipliers": [0.5, 1.5],
                                                                       "phase": 1}}}},
            "initial_population": {"a": 10}, "strategies": {"baseline": {}}}
    try:
        scenario_from_text(write_yaml(tiny, None), "<seasonality probe>")
    except Exception:  # noqa: BLE001 -- any refusal means: not supported by this version
        return False
    return True
