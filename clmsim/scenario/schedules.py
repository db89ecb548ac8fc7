"""Values of a schedule over periods, and where a schedule starts repeating.

A schedule is a plain number, a :class:`~clmsim.scenario.schema.ScheduleSpec`
(``values`` + ``then``, or ``ramp``) or a :class:`~clmsim.scenario.schema.SeasonalSpec`
(``base`` x ``seasonality.multipliers``). Period ``t`` = 1, 2, ...; arrays are indexed
``t - 1``. Every schedule is *eventually periodic*: from period ``start`` on, the value of
period ``t + cycle`` equals that of period ``t`` (:func:`tail`). A constant has
``start = cycle = 1``.
"""

from __future__ import annotations

import math

import numpy as np

from .schema import MAX_HORIZON, ScheduleSpec, SeasonalSpec

MAX_CYCLE = MAX_HORIZON
"""Longest combined cycle (least common multiple of the cycles of the schedules of one model)."""


def expand(value, periods: int) -> np.ndarray | None:
    """Values of periods ``1..periods`` of a schedule (None stays None).

    ``values`` + ``then``: ``hold`` the last value, ``repeat`` the list, or ``zero``;
    ``ramp``: linear from ``start`` in period 1 to ``end`` in period ``periods``, then ``end``;
    seasonal: ``base * multipliers[(t - 1 + phase - 1) mod period]``.
    """
    if value is None:
        return None
    if isinstance(value, SeasonalSpec):
        s = value.seasonality
        mult = np.asarray(s.multipliers, dtype=float)
        return value.base * mult[(np.arange(periods) + s.phase - 1) % s.period]
    if not isinstance(value, ScheduleSpec):
        return np.full(periods, float(value))
    if value.ramp is not None:
        r = value.ramp
        t = np.arange(periods, dtype=float)
        frac = np.minimum(t / max(r.periods - 1, 1), 1.0) if r.periods > 1 else np.ones(periods)
        return r.start + (r.end - r.start) * frac
    vals = np.asarray(value.values, dtype=float)
    n = len(vals)
    if value.then == "repeat":
        return vals[np.arange(periods) % n]
    out = np.empty(periods)
    k = min(n, periods)
    out[:k] = vals[:k]
    out[k:] = vals[-1] if value.then == "hold" else 0.0
    return out


def is_schedule(value) -> bool:
    """A schedule mapping (values/ramp or seasonal), not a plain number."""
    return isinstance(value, (ScheduleSpec, SeasonalSpec))


def tail(value) -> tuple[int, int]:
    """``(start, cycle)``: from period ``start`` on the schedule repeats every ``cycle`` periods."""
    if isinstance(value, SeasonalSpec):
        return 1, value.seasonality.period
    if not isinstance(value, ScheduleSpec):
        return 1, 1
    if value.ramp is not None:
        return value.ramp.periods, 1
    n = len(value.values or [1])
    if value.then == "repeat":
        return 1, n
    return (n if value.then == "hold" else n + 1), 1


def combined_tail(values) -> tuple[int, int]:
    """``(start, cycle)`` of several schedules together: the latest start, the lcm of the cycles."""
    start, cycle = 1, 1
    for v in values:
        s, c = tail(v)
        start, cycle = max(start, s), math.lcm(cycle, c)
    return start, cycle


def reference(value) -> float:
    """The value a schedule is written around: ``base`` (seasonal), the first value or the ramp's
    start (the plain number itself for a constant). Churn heterogeneity scales from it."""
    if isinstance(value, SeasonalSpec):
        return float(value.base)
    if isinstance(value, ScheduleSpec):
        return float(value.ramp.start if value.ramp is not None else value.values[0])
    return float(value)


def distinct_periods(values) -> int:
    """Periods ``1..n`` after which schedules only repeat: ``start + cycle - 1`` (at most
    :data:`MAX_CYCLE` plus the start)."""
    start, cycle = combined_tail(values)
    return start + min(cycle, MAX_CYCLE) - 1
