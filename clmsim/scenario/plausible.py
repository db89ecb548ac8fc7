"""Plausibility checks: values that validate but are probably not what was meant.

Each finding is a :class:`~clmsim.scenario.errors.Diagnostic` shown as a warning
(``clmsim: warning: file:line:col: path: ...``), or reported with the errors under
``clmsim --strict`` (:func:`clmsim.scenario.errors.strict`).
"""

from __future__ import annotations

from .errors import Diagnostic, Location
from .loader import Positions, locate
from .schema import ScenarioSpec


def plausibility(spec: ScenarioSpec, positions: Positions, default: Location) -> list[Diagnostic]:
    """Warnings about a valid scenario (currently: a discount rate written as a percent)."""
    out = []
    rate = spec.time.discount_rate
    if rate > 1:
        out.append(Diagnostic(locate(positions, ("time", "discount_rate"), default), "time.discount_rate",
                              f"{rate:g} is read as {rate:.0%} a year (the rate is a fraction, not a percent): "
                              f"did you mean {rate / 100:g}?"))
    return out
