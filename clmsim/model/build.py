"""``compile_model``: a validated scenario + strategy -> :class:`CompiledModel`."""

from __future__ import annotations

import numpy as np

from ..scenario import Scenario
from ..errors import ClmsimError
from ..rounding import largest_remainder
from ..scenario import schedules
from ..scenario.schema import RevenueSpec, ScenarioSpec
from .compiled import (ACTIVE, CHURNED, KIND_CODES, LINEAR, LOST, SATURATING, Channel, CompiledModel, Dynamics,
                       Heterogeneity, Intercept, Program, Referral, Winback)


def schedule_array(value, horizon: int) -> np.ndarray:
    """Expand a schedule (number, ``values`` + ``then``, ``ramp`` or seasonal) to ``horizon`` periods
    (:func:`clmsim.scenario.schedules.expand`)."""
    return schedules.expand(value, horizon)


def _revenue(rev) -> tuple[float, float]:
    """Mean (a number or a schedule) and cv of a stage's revenue."""
    if rev is None:
        return 0.0, 0.0
    if isinstance(rev, RevenueSpec):
        return rev.mean, rev.cv
    return rev, 0.0


class _Leaves:
    """Scheduled entries of P, revenue_mean and margin found while compiling (see :func:`_dynamics`)."""

    def __init__(self):
        self.items: list[tuple[str, tuple, object, str]] = []

    def put(self, arr: np.ndarray, name: str, index: tuple, value, path: str) -> None:
        """``arr[index] = value`` for a number; a schedule is recorded (and period 1's value set)."""
        if schedules.is_schedule(value):
            self.items.append((name, index, value, path))
            arr[index] = schedules.expand(value, 1)[0]
        else:
            arr[index] = value


def _mix(mix: dict | None, segments: tuple[str, ...], default: np.ndarray) -> np.ndarray:
    if mix is None:
        return default.copy()
    return np.array([mix.get(g, 0.0) for g in segments], dtype=float)


def _heterogeneity(het) -> Heterogeneity:
    if het is None:
        return Heterogeneity()
    if het.churn_multiplier is not None:
        m = het.churn_multiplier
        return Heterogeneity(kind="gamma", mean=m.mean, cv=m.cv)
    if het.churn_probability is not None:
        b = het.churn_probability
        return Heterogeneity(kind="beta", alpha=b.alpha, beta=b.beta)
    return Heterogeneity()


def _split_counts(total: int, shares: np.ndarray) -> np.ndarray:
    """Integer split of ``total`` by ``shares`` (largest remainder, ties to the first).

    Shares are normalised first: validation accepts sums within 1e-6 of 1, which for a
    large population would otherwise lose or invent customers. The parts sum to ``total``.
    """
    return largest_remainder(total * (shares / shares.sum()), total)


def _segment_mask(names: list[str] | None, segments: tuple[str, ...]) -> np.ndarray | None:
    """(G,) bool mask of the named segments; None (every segment) when ``names`` is None."""
    if names is None:
        return None
    return np.array([g in names for g in segments], dtype=bool)


def compile_spec(spec: ScenarioSpec, strategy: str = "baseline", scenario_hash: str = "") -> CompiledModel:
    """Compile one validated spec (see :func:`compile_model`)."""
    names = tuple(spec.stages)
    idx = {n: i for i, n in enumerate(names)}
    S, H = len(names), spec.time.horizon
    kind = np.array([KIND_CODES[spec.stages[n].kind] for n in names], dtype=np.int8)
    seg_specs = spec.segments or {}
    segments = tuple(seg_specs) or ("all",)
    G = len(segments)
    share = np.array([seg_specs[g].share for g in segments]) if seg_specs else np.ones(1)

    churn_mask = (kind[:, None] == ACTIVE) & np.isin(kind, (CHURNED, LOST))[None, :]
    P = np.zeros((G, S, S))
    rev_mean = np.zeros((G, S))
    rev_cv = np.zeros((G, S))
    margin = np.zeros((G, S))
    cost = np.zeros((G, S))
    hets = []
    leaves = _Leaves()
    for g, gname in enumerate(segments):
        seg = seg_specs.get(gname)
        rows = {k: dict(v) for k, v in spec.transitions.items()}
        if seg is not None:
            for src, row in seg.transitions.items():
                rows.setdefault(src, {}).update(row)
        for src, row in rows.items():
            for dst, p in row.items():
                own = seg is not None and dst in seg.transitions.get(src, {})
                leaves.put(P, "P", (g, idx[src], idx[dst]), p,
                           (f"segments.{gname}." if own else "") + f"transitions.{src}.{dst}")
        P[g, np.arange(S), np.arange(S)] = 1.0 - P[g].sum(axis=1)
        for s, n in enumerate(names):
            st = spec.stages[n]
            if kind[s] != ACTIVE:
                continue
            over = seg.stages.get(n) if seg is not None else None
            own = over is not None and over.revenue is not None
            mean, rev_cv[g, s] = _revenue(over.revenue if own else st.revenue)
            where = f"segments.{gname}.stages.{n}" if own else f"stages.{n}"
            leaves.put(rev_mean, "revenue_mean", (g, s), mean,
                       where + (".revenue.mean" if isinstance(over.revenue if own else st.revenue, RevenueSpec)
                                else ".revenue"))
            own = over is not None and over.margin is not None
            mg = over.margin if own else st.margin
            leaves.put(margin, "margin", (g, s), 1.0 if mg is None else mg,
                       (f"segments.{gname}.stages.{n}" if own else f"stages.{n}") + ".margin")
            cs = over.cost_to_serve if over is not None and over.cost_to_serve is not None else st.cost_to_serve
            cost[g, s] = 0.0 if cs is None else cs
        het = seg.heterogeneity if seg is not None and seg.heterogeneity is not None else spec.heterogeneity
        hets.append(_heterogeneity(het))

    initial = np.zeros((G, S), dtype=np.int64)
    if seg_specs and all(seg_specs[g].initial_population is not None for g in segments):
        for g, gname in enumerate(segments):
            for n, c in seg_specs[gname].initial_population.items():
                initial[g, idx[n]] = c
    else:
        for n, c in spec.initial_population.items():
            initial[:, idx[n]] = _split_counts(c, share)

    channels = []
    for cname, ch in spec.acquisition.channels.items():
        r = ch.response
        if r.type == "linear":
            code, a, b = LINEAR, r.cost_per_customer, 0.0
        else:
            code, a, b = SATURATING, r.max_customers, r.half_saturation_spend
        channels.append(Channel(cname, schedule_array(ch.spend_per_period, H), code, float(a), float(b),
                                idx[ch.entry_stage], _mix(ch.segment_mix, segments, share)))
    referral = None
    ref = spec.acquisition.referrals
    if ref is not None:
        rate = np.zeros(S)
        for n, v in ref.from_.items():
            rate[idx[n]] = v
        referral = Referral(rate, idx[ref.entry_stage], _mix(ref.segment_mix, segments, share))

    dynamics = _dynamics(leaves, P, rev_mean, margin, H, churn_mask, hets, segments)
    base_rev = np.array([schedules.reference(_revenue(spec.stages[n].revenue)[0]) for n in names])
    programs, intercepts = [], []
    for pname, prog in spec.retention.programs.items():
        if prog.kind == "intercept":
            intercepts.append(_intercept(pname, prog, idx, segments, H, hets))
            continue
        target = np.zeros(S, dtype=bool)
        target[[idx[n] for n in prog.target]] = True
        upgrade = np.zeros((S, S), dtype=bool)
        for s in np.flatnonzero(target):
            for d in range(S):
                if d == s or kind[d] != ACTIVE:
                    continue
                if prog.effect.upgrade_to is not None:
                    upgrade[s, d] = names[d] in prog.effect.upgrade_to
                else:
                    upgrade[s, d] = base_rev[d] > base_rev[s]
        eff = prog.effect
        effects = None
        if prog.effect_by_segment:
            effects = np.array([[eff.churn_reduction_max, eff.half_saturation_spend, eff.upgrade_lift]] * G)
            for gname, over in prog.effect_by_segment.items():
                for j, key in enumerate(("churn_reduction_max", "half_saturation_spend", "upgrade_lift")):
                    if getattr(over, key) is not None:
                        effects[segments.index(gname), j] = getattr(over, key)
        top = prog.target_risk.top_share if prog.target_risk is not None else None
        programs.append(Program(pname, target, schedule_array(prog.spend_per_customer, H),
                                eff.churn_reduction_max, eff.half_saturation_spend, eff.upgrade_lift, upgrade,
                                schedule_array(prog.budget_cap_per_period, H),
                                _segment_mask(prog.target_segments, segments), effects,
                                top, None if top is None else _risk_thresholds(hets, top)))
    winbacks = []
    for wname, pol in spec.winback.policies.items():
        from_stages = np.zeros(S, dtype=bool)
        chosen = pol.from_stages if pol.from_stages is not None else [n for n in names if kind[idx[n]] == CHURNED]
        from_stages[[idx[n] for n in chosen]] = True
        success = None
        if pol.success_by_segment:
            success = np.array([[pol.success.base, pol.success.decay]] * G)
            for gname, over in pol.success_by_segment.items():
                success[segments.index(gname)] = over.base, over.decay
        winbacks.append(Winback(wname, from_stages, pol.eligible_after, pol.window,
                                schedule_array(pol.coverage, H), pol.contact_cost, pol.success.base,
                                pol.success.decay, idx[pol.return_stage], pol.concession.discount,
                                pol.concession.periods, schedule_array(pol.capacity_per_period, H),
                                _segment_mask(pol.target_segments, segments), success,
                                _segment_mask(pol.concession.target_segments, segments)))

    return CompiledModel(
        name=spec.name, strategy=strategy, scenario_hash=scenario_hash, period=spec.time.period,
        horizon=H, discount_rate_annual=spec.time.discount_rate, stage_names=names, stage_kind=kind,
        segment_names=segments, segment_share=share, P=P, churn_mask=churn_mask, revenue_mean=rev_mean,
        revenue_cv=rev_cv, margin=margin, cost_to_serve=cost, initial=initial, heterogeneity=tuple(hets),
        channels=tuple(channels), referral=referral, programs=tuple(programs), winbacks=tuple(winbacks),
        stage_index=idx, operations=_operations(spec, programs, winbacks), intercepts=tuple(intercepts),
        dynamics=dynamics)


def _dynamics(leaves: _Leaves, P: np.ndarray, rev_mean: np.ndarray, margin: np.ndarray, H: int,
              churn_mask: np.ndarray, hets: list[Heterogeneity], segments: tuple[str, ...]) -> Dynamics | None:
    """Regimes of the scheduled entries (:class:`~clmsim.model.compiled.Dynamics`), or None when
    every schedule takes one value (then ``P``, ``rev_mean``, ``margin`` already hold it).

    Periods ``1..H + X`` are expanded, ``X`` past the horizon until the schedules only repeat
    (the last ``cycle`` periods form the repeating cycle)."""
    if not leaves.items:
        return None
    start, cycle = schedules.combined_tail(v for _, _, v, _ in leaves.items)
    if cycle > schedules.MAX_CYCLE:
        raise ClmsimError(f"the schedules of {', '.join(sorted({p for *_, p in leaves.items}))} repeat only "
                          f"every {cycle} periods together (more than {schedules.MAX_CYCLE}): use cycles "
                          "whose lengths divide one another")
    n = max(H, start - 1) + cycle
    vals = np.stack([schedules.expand(v, n) for _, _, v, _ in leaves.items], axis=1)   # (n, K)
    _, first, inverse = np.unique(vals, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    regime = rank[np.ravel(inverse)].astype(np.int64)
    reps = [int(first[i]) for i in order]
    arrays = {"P": P, "revenue_mean": rev_mean, "margin": margin}
    S = P.shape[-1]
    diag = np.arange(S)
    if len(reps) == 1:   # every period alike: period 1's values, already in place
        return None
    out = {name: np.stack([a] * len(reps)) for name, a in arrays.items()}
    for r, t in enumerate(reps):
        for k, (name, index, _, _) in enumerate(leaves.items):
            out[name][(r,) + index] = vals[t, k]
    out["P"][:, :, diag, diag] = 0.0
    out["P"][:, :, diag, diag] = 1.0 - out["P"].sum(axis=3)
    # reference churn totals (schedules at their base) for beta heterogeneity
    ref = P.copy()
    for name, index, v, _ in leaves.items:
        if name == "P":
            ref[index] = schedules.reference(v)
    C_ref = np.where(churn_mask, ref, 0.0).sum(axis=2)                     # (G, S)
    C = np.where(churn_mask, out["P"], 0.0).sum(axis=3)                     # (R, G, S)
    scale = np.ones_like(C)
    for g, het in enumerate(hets):
        if het.kind != "beta":
            continue
        moving = (C[:, g] != C_ref[g]).any(axis=0)
        bad = moving & (C_ref[g] <= 0)
        if bad.any():
            raise ClmsimError(f"segment '{segments[g]}': a per-customer churn probability (heterogeneity "
                              "churn_probability) scales with the churn schedule from its base value, which is 0 "
                              "in a row whose churn varies: give the schedule a positive base")
        scale[:, g] = np.divide(C[:, g], C_ref[g], out=np.ones_like(C[:, g]), where=C_ref[g] > 0)
    P[...], rev_mean[...], margin[...] = out["P"][0], out["revenue_mean"][0], out["margin"][0]
    fields = tuple(dict.fromkeys(p for *_, p in leaves.items))
    return Dynamics(out["P"], out["revenue_mean"], out["margin"], scale, regime, cycle, fields)


def _intercept(name: str, prog, idx: dict[str, int], segments: tuple[str, ...], H: int,
               hets: list[Heterogeneity]) -> Intercept:
    """Compile a retention program of kind ``intercept`` (a save offer)."""
    target = np.zeros(len(idx), dtype=bool)
    target[[idx[n] for n in prog.target]] = True
    eff = prog.effect
    effects = None
    if prog.effect_by_segment:
        effects = np.array([[eff.churn_reduction_max, eff.half_saturation_spend]] * len(segments))
        for gname, over in prog.effect_by_segment.items():
            g = segments.index(gname)
            if over.churn_reduction_max is not None:
                effects[g, 0] = over.churn_reduction_max
            if over.half_saturation_spend is not None:
                effects[g, 1] = over.half_saturation_spend
    conc = prog.concession
    share = prog.target_risk.top_share if prog.target_risk is not None else None
    return Intercept(name, target, schedule_array(prog.spend_per_customer, H), eff.churn_reduction_max,
                     eff.half_saturation_spend, -1 if prog.save_to is None else idx[prog.save_to],
                     conc.discount if conc else 0.0, conc.periods if conc else 0,
                     _segment_mask(prog.target_segments, segments), effects,
                     _segment_mask(conc.target_segments if conc else None, segments),
                     share, None if share is None else _risk_thresholds(hets, share))


def _risk_thresholds(hets: list[Heterogeneity], top_share: float) -> np.ndarray:
    """Per segment the ``1 - top_share`` quantile of the heterogeneity draw (``-inf`` without
    heterogeneity: validation refuses risk targeting there)."""
    from ..laws import het_law

    out = np.full(len(hets), -np.inf)
    for g, h in enumerate(hets):
        if h.kind in ("gamma", "beta"):
            out[g] = het_law(h).isf(top_share)
    return out


DAYS_PER_PERIOD = {"week": 7.0, "month": 365.25 / 12, "quarter": 365.25 / 4, "year": 365.25}
"""Default days per period of the operations clock (Gregorian average year)."""
REFILL_DAYS = {"monthly": 365.25 / 12, "quarterly": 365.25 / 4, "yearly": 365.25}


def _operations(spec: ScenarioSpec, programs: list, winbacks: list):
    """Compile the optional ``operations`` block (des engine only); None when absent."""
    from .compiled import Budget, Operations, Team

    ops = spec.operations
    if ops is None:
        return None
    days = ops.days_per_period or DAYS_PER_PERIOD[spec.time.period]
    prog_idx = {p.name: i for i, p in enumerate(programs)}
    wb_idx = {w.name: i for i, w in enumerate(winbacks)}
    save_idx = {name: i for i, name in enumerate(n for n, p in spec.retention.programs.items() if p.kind == "intercept")}
    teams = []
    for tname, tm in ops.teams.items():
        if tm.serves in save_idx:
            kind, target = "save", save_idx[tm.serves]
        elif tm.serves in wb_idx:
            kind, target = "winback", wb_idx[tm.serves]
        else:
            kind, target = "retention", prog_idx[tm.serves]
        teams.append(Team(tname, kind, target, tm.agents, tm.service_days.mean, tm.service_days.cv,
                          tm.discipline, tm.arrivals, tm.response_delay_days))
    budgets = []
    for bname, bd in ops.budgets.items():
        budgets.append(Budget(bname, bd.amount, bd.refill, REFILL_DAYS.get(bd.refill, days), bd.carry_over,
                              tuple(prog_idx[n] for n in bd.serves if n in prog_idx),
                              tuple(wb_idx[n] for n in bd.serves if n in wb_idx)))
    return Operations(days, tuple(teams), tuple(budgets))


def compile_model(scenario: Scenario, strategy: str = "baseline") -> CompiledModel:
    """Compile a scenario under one strategy into plain arrays for the engines.

    Parameters
    ----------
    scenario : Scenario
        From :func:`clmsim.scenario.load_scenario`.
    strategy : str
        A strategy name; ``baseline`` is the scenario as written.
    """
    return compile_spec(scenario.spec_for(strategy), strategy, scenario.hash)
