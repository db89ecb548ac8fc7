"""Marginal returns: where the next unit of spend earns most at the current plan.

For every spend lever of a strategy -- each retention program's spend per customer, each save
offer's spend per offer (``kind: intercept``: paid per churn attempt it reaches, and a bigger
offer saves more), each acquisition channel's spend per period, each win-back policy's coverage
(whose cost is the contact cost of the extra contacts) -- the marginal return is

    m = dNPV / dPV(spend)

along a small change of that lever alone, in the unit of ROI (docs/metrics.md): NPV is
net of spend, so ``m > 0`` means one more unit of spend (present value) returns itself plus
``m``, ``m = 0`` is break-even, ``m < 0`` means the last unit spent loses ``|m|`` (cutting
the lever raises NPV). At an optimum of an unconstrained plan every lever has ``m = 0``; at
an optimum under a budget every lever has the same ``m`` (the budget's shadow price).

Computation: exact expectations (analytic engine) at the lever scaled by ``1 +- h`` over the
whole schedule (``h = rel_step``, default 1%), central differences; a lever at 0 is moved up
by an absolute step (``rel_step`` x the program's or save offer's half-saturation spend, the channel's
half-saturation spend or cost per customer, or a coverage of ``rel_step``), one-sided, and so
is a coverage at 1. The same differences with ``h / 2`` give a Richardson extrapolation and
its error estimate ``|m_h - m_{h/2}|``, reported per lever.

A marginal return holds for the next units only, and a win-back coverage cannot pass 1: its
**room** is the present value of the extra spend at coverage 1 in every period (exact, one
more analytic evaluation), with the NPV change that buys (``room_dnpv``); a spend lever has no
cap (``room = inf``).
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..metrics import paths_from_periods
from ..model import CompiledModel, compile_model
from ..model.compiled import SATURATING
from . import runner
from .compare import load

DEFAULT_STEP = 0.01
"""Relative step of the finite differences (1% of the lever)."""


@dataclass(frozen=True)
class Lever:
    """A spend lever of a compiled model: ``kind`` (program, intercept, channel, winback), its index, the
    dotted scenario path it corresponds to and how a change of size ``h`` moves its schedule."""

    kind: str
    index: int
    name: str
    path: str
    values: np.ndarray
    absolute: float

    @property
    def value(self) -> float:
        """The lever as written: its first-period value (a schedule is scaled as a whole)."""
        return float(self.values[0])

    @property
    def capped(self) -> bool:
        """Whether the lever has an upper bound (a win-back coverage: 1)."""
        return self.kind == "winback"

    def at_cap(self, model: CompiledModel) -> CompiledModel:
        """``model`` with this lever at its upper bound in every period (coverage 1)."""
        items = list(model.winbacks)
        items[self.index] = dataclasses.replace(items[self.index], coverage=np.ones_like(self.values))
        return dataclasses.replace(model, winbacks=tuple(items))

    def moved(self, model: CompiledModel, h: float) -> CompiledModel:
        """``model`` with this lever scaled by ``1 + h`` (or moved by ``h x absolute`` when it is 0)."""
        new = self.values * (1.0 + h) if np.any(self.values > 0) else self.values + h * self.absolute
        if self.kind == "winback":
            new = np.clip(new, 0.0, 1.0)
        new = np.maximum(new, 0.0)
        if self.kind in ("program", "intercept"):
            field = "programs" if self.kind == "program" else "intercepts"
            items = list(getattr(model, field))
            items[self.index] = dataclasses.replace(items[self.index], spend=new)
            return dataclasses.replace(model, **{field: tuple(items)})
        if self.kind == "channel":
            items = list(model.channels)
            items[self.index] = dataclasses.replace(items[self.index], spend=new)
            return dataclasses.replace(model, channels=tuple(items))
        items = list(model.winbacks)
        items[self.index] = dataclasses.replace(items[self.index], coverage=new)
        return dataclasses.replace(model, winbacks=tuple(items))

    def steps(self, h: float) -> tuple[float, float]:
        """``(down, up)`` relative moves: central, or one-sided at 0 (coverage: also at 1)."""
        if not np.any(self.values > 0):
            return 0.0, h
        if self.kind == "winback" and np.all(self.values * (1 + h) > 1.0):
            return -h, 0.0
        return -h, h


def levers(model: CompiledModel) -> list[Lever]:
    """Every spend lever of ``model`` (programs, save offers, channels, win-back coverages), in file order."""
    out = []
    for i, p in enumerate(model.programs):
        out.append(Lever("program", i, p.name, f"retention.programs.{p.name}.spend_per_customer",
                         np.asarray(p.spend, float), p.half_saturation_spend))
    for i, ic in enumerate(model.intercepts):
        out.append(Lever("intercept", i, ic.name, f"retention.programs.{ic.name}.spend_per_customer",
                         np.asarray(ic.spend, float), ic.half_saturation_spend))
    for i, c in enumerate(model.channels):
        out.append(Lever("channel", i, c.name, f"acquisition.channels.{c.name}.spend_per_period",
                         np.asarray(c.spend, float), c.b if c.response == SATURATING else c.a))
    for i, w in enumerate(model.winbacks):
        out.append(Lever("winback", i, w.name, f"winback.policies.{w.name}.coverage",
                         np.asarray(w.coverage, float), 1.0))
    return out


@dataclass
class Margins:
    """Result of :func:`margins`.

    Attributes
    ----------
    table : DataFrame
        One row per lever, best marginal return first: ``lever`` (dotted path), ``kind``,
        ``value`` (first-period value as written), ``pv_spend`` (present value of what the lever
        spends now; NaN where the results cannot separate it), ``step`` (relative step),
        ``dnpv``, ``dspend`` (changes of NPV and of the present value of all spend for the step
        up), ``marginal_return``, ``error`` (Richardson estimate), ``room`` (present value of
        the extra spend the lever can take before its cap: coverage 1 in every period; ``inf``
        without a cap) and ``room_dnpv`` (the NPV change of going there; NaN without a cap).
    info : dict
        Scenario, strategy, engine, step, NPV and spend of the plan.
    """

    table: pd.DataFrame
    info: dict

    def best(self) -> pd.Series:
        """The lever with the highest marginal return."""
        return self.table.iloc[0]


def _pv_spend(periods: pd.DataFrame, v: np.ndarray, strategy: str) -> float:
    paths = paths_from_periods(periods[periods["strategy"] == strategy], v)
    return float(paths["spend"].sum())


def _lever_spend(lever: Lever, model: CompiledModel, periods: pd.DataFrame, v: np.ndarray) -> float:
    """Present value of what one lever spends in the plan (from the exact per-period means)."""
    p = periods[periods["strategy"] == model.strategy]
    H = model.horizon
    if lever.kind == "channel":
        return float((model.channels[lever.index].spend * v[1:]).sum())
    if lever.kind == "intercept":
        # paid per churn attempt: not a stage occupancy; retention spend less the programs' spend
        # when the results separate them (one save offer, every program's spend known)
        if len(model.intercepts) != 1:
            return float("nan")
        r = p[p["item"] == "retention_spend"].set_index("period")["mean"].reindex(range(1, H + 1)).to_numpy(float)
        programs = sum(_lever_spend(lv, model, periods, v) for lv in levers(model) if lv.kind == "program")
        return float((r * v[1:]).sum() - programs)
    if lever.kind == "program":
        prog = model.programs[lever.index]
        if not prog.reach(model.n_segments).any(axis=1).all():
            return float("nan")  # aimed at some segments: stage occupancy mixes in the others
        names = [f"stage:{n}" for n, t in zip(model.stage_names, prog.target) if t]
        occ = p[p["item"].isin(names)].groupby("period")["mean"].sum().reindex(range(H + 1)).to_numpy(float)
        return float((prog.spend * occ[:-1] * v[1:]).sum())
    if len(model.winbacks) == 1:
        w = p[p["item"] == "winback_spend"].set_index("period")["mean"].reindex(range(1, H + 1)).to_numpy(float)
        return float((w * v[1:]).sum())
    return float("nan")  # several policies: the results hold their total contact cost only


def margins(scenario: Any, strategy: str = "baseline", *, rel_step: float = DEFAULT_STEP,
            overrides: Sequence[str] = (), **options) -> Margins:
    """Marginal return of every spend lever of ``strategy`` (see the module docstring).

    Parameters
    ----------
    scenario : path or Scenario
    strategy : str
        The plan whose levers are moved (default the baseline).
    rel_step : float
        Relative step ``h`` of the finite differences (0 < h <= 0.2).
    overrides : sequence of str
        ``path=value`` overrides applied when loading a file.
    **options
        Analytic engine options (e.g. ``nodes``).

    Returns
    -------
    Margins
    """
    if not 0 < rel_step <= 0.2:
        raise ClmsimError(f"the relative step must be in (0, 0.2], got {rel_step}")
    sc = load(scenario, overrides)
    if strategy not in sc.strategy_names:
        raise ClmsimError(f"unknown strategy '{strategy}'; known: {', '.join(sc.strategy_names)}")
    base = compile_model(sc, strategy)
    found = levers(base)
    if not found:
        raise ClmsimError(f"strategy '{strategy}' has no spend lever (programs, save offers, channels or win-back "
                          "policies)")
    models, plan = [dataclasses.replace(base, strategy="plan")], []
    for k, lv in enumerate(found):
        down, up = lv.steps(rel_step)
        for tag, h in (("d", down), ("u", up), ("d2", down / 2), ("u2", up / 2)):
            models.append(dataclasses.replace(lv.moved(base, h), strategy=f"{k}{tag}"))
        if lv.capped:
            models.append(dataclasses.replace(lv.at_cap(base), strategy=f"{k}cap"))
        plan.append((k, lv, down, up))
    runs, periods, _ = runner.simulate_range(models, "analytic", 0, 0, 1, options, periods=True)
    npv = runs.set_index("strategy")["npv"]
    v = base.discount_factors()
    spend = {m.strategy: _pv_spend(periods, v, m.strategy) for m in models}
    rows = []
    for k, lv, down, up in plan:
        def ratio(a: str, b: str) -> tuple[float, float, float]:
            dn, ds = npv[b] - npv[a], spend[b] - spend[a]
            return (dn / ds if ds != 0 else float("nan")), dn, ds
        m1, dn, ds = ratio(f"{k}d", f"{k}u")
        m2, _, _ = ratio(f"{k}d2", f"{k}u2")
        central = down != 0 and up != 0
        order = 2 if central else 1
        best = m2 + (m2 - m1) / (2 ** order - 1)
        room, room_dnpv = float("inf"), float("nan")
        if lv.capped:
            room = max(spend[f"{k}cap"] - spend["plan"], 0.0)
            room_dnpv = float(npv[f"{k}cap"] - npv["plan"])
        rows.append({"lever": lv.path, "kind": lv.kind, "value": lv.value,
                     "pv_spend": _lever_spend(lv, models[0], periods, v), "step": up - down,
                     "dnpv": dn, "dspend": ds, "marginal_return": best, "error": abs(m2 - m1),
                     "central": central, "room": room, "room_dnpv": room_dnpv})
    table = pd.DataFrame(rows).sort_values("marginal_return", ascending=False, kind="stable",
                                           na_position="last").reset_index(drop=True)
    info = {"scenario": sc.name, "scenario_hash": sc.hash, "strategy": strategy, "engine": "analytic",
            "rel_step": rel_step, "npv": float(npv["plan"]), "pv_spend": spend["plan"],
            "period": base.period, "horizon": base.horizon}
    return Margins(table, info)


__all__ = ["DEFAULT_STEP", "Lever", "Margins", "levers", "margins"]
