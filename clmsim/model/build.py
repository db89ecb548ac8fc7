"""``compile_model``: a validated scenario + strategy -> :class:`CompiledModel`."""

from __future__ import annotations

import numpy as np

from ..scenario import Scenario
from ..scenario.schema import RevenueSpec, ScenarioSpec, ScheduleSpec
from .compiled import (ACTIVE, CHURNED, KIND_CODES, LINEAR, LOST, SATURATING, Channel, CompiledModel,
                       Heterogeneity, Intercept, Program, Referral, Winback)


def schedule_array(value, horizon: int) -> np.ndarray:
    """Expand a schedule (number, ``values`` + ``then``, or ``ramp``) to ``horizon`` periods."""
    if value is None:
        return None
    if not isinstance(value, ScheduleSpec):
        return np.full(horizon, float(value))
    if value.ramp is not None:
        r = value.ramp
        t = np.arange(horizon, dtype=float)
        frac = np.minimum(t / max(r.periods - 1, 1), 1.0) if r.periods > 1 else np.ones(horizon)
        return r.start + (r.end - r.start) * frac
    vals = np.asarray(value.values, dtype=float)
    n = len(vals)
    if value.then == "repeat":
        return vals[np.arange(horizon) % n]
    out = np.empty(horizon)
    k = min(n, horizon)
    out[:k] = vals[:k]
    out[k:] = vals[-1] if value.then == "hold" else 0.0
    return out


def _revenue(rev) -> tuple[float, float]:
    if rev is None:
        return 0.0, 0.0
    if isinstance(rev, RevenueSpec):
        return rev.mean, rev.cv
    return float(rev), 0.0


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
    raw = total * (shares / shares.sum())
    out = np.floor(raw).astype(np.int64)
    rest = int(total - out.sum())
    if rest > 0:
        order = np.argsort(-(raw - out), kind="stable")
        out[order[:rest]] += 1
    return out


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
    for g, gname in enumerate(segments):
        seg = seg_specs.get(gname)
        rows = {k: dict(v) for k, v in spec.transitions.items()}
        if seg is not None:
            for src, row in seg.transitions.items():
                rows.setdefault(src, {}).update(row)
        for src, row in rows.items():
            for dst, p in row.items():
                P[g, idx[src], idx[dst]] = p
        P[g, np.arange(S), np.arange(S)] = 1.0 - P[g].sum(axis=1)
        for s, n in enumerate(names):
            st = spec.stages[n]
            if kind[s] != ACTIVE:
                continue
            over = seg.stages.get(n) if seg is not None else None
            rev = over.revenue if over is not None and over.revenue is not None else st.revenue
            rev_mean[g, s], rev_cv[g, s] = _revenue(rev)
            mg = over.margin if over is not None and over.margin is not None else st.margin
            margin[g, s] = 1.0 if mg is None else mg
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

    base_rev = np.array([_revenue(spec.stages[n].revenue)[0] for n in names])
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
        stage_index=idx, operations=_operations(spec, programs, winbacks), intercepts=tuple(intercepts))


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
    from scipy import stats

    out = np.full(len(hets), -np.inf)
    for g, h in enumerate(hets):
        if h.kind == "gamma":
            out[g] = stats.gamma(1.0 / h.cv ** 2, scale=h.mean * h.cv ** 2).isf(top_share)
        elif h.kind == "beta":
            out[g] = stats.beta(h.alpha, h.beta).isf(top_share)
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
