"""Teaching data behind ``clmsim explain`` and the explorer: exact numbers with their meaning.

:func:`explain_model` evaluates one compiled model with the analytic engine and
returns, per segment and stage, what a customer entering that stage is worth,
together with the words and formulas that explain each number:

* **retention** ``r = 1 - churn`` per period, as written in the file and after the
  retention programmes' effect (period-1 spend, an average customer);
* **lifetime** ``L``: expected periods as a customer, *counting the period of entry*
  (one stage with retention ``r``: ``L = 1 / (1 - r)``);
* **margins paid** ``L - 1``: expected margins collected *after* entry -- the ones
  CLV counts under clmsim's end-of-period convention (``r / (1 - r)`` for one stage),
  so at ``d = 0`` CLV is margins paid x margin, not lifetime x margin;
* **CLV** in both timing forms: the first margin one period after acquisition,
  ``m r / (1 + d - r)`` (clmsim's convention, ``clv_infinite``), and the first margin
  at acquisition, ``m (1 + d) / (1 + d - r) = m + m r / (1 + d - r)``
  (``clv_entry_margin``: the entry period's contribution added undiscounted);
* the long-run mix of the base.

Plain-language texts are in :data:`PLAIN`, the matrix formulas in :data:`FORMULAS`.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from .model import CompiledModel

FORMULAS = {
    "lifetime": "L(s) = sum_{t>=0} P(active at t | in s at 0); for an absorbing chain the row sum "
                "over active stages of N = (I - Q)^-1 (Q: moves among non-absorbing states); "
                "one active stage with retention r: L = 1/(1 - r) = 1/churn",
    "margins_paid": "L(s) - 1 for an active stage (the entry period pays no margin under the "
                    "end-of-period convention); one active stage: r/(1 - r); at d = 0, CLV_inf = m r/(1 - r)",
    "clv_horizon": "CLV_H(s) = sum_{t=1..H} (1+d)^-t E[contribution_t - program spend_t - contact cost_t "
                   "| in s at 0]; backward: W_H = 0, W_{t-1} = v (nu_t + M_t W_t), CLV_H = W_0",
    "clv_infinite": "CLV_inf(s) = the same with W_H = v (I - v M)^-1 nu (last period's parameters for ever); "
                    "one active stage, margin m, retention r: m r / (1 + d - r)",
    "clv_entry_margin": "CLV_0(s) = c(s) + CLV_inf(s), c(s) the stage's contribution per period, paid at "
                        "acquisition; one active stage: m + m r/(1 + d - r) = m (1 + d) / (1 + d - r)",
    "steady_state": "x* = a (I - K)^-1 with constant inflow a and K = M + referrals (spectral radius < 1); "
                    "otherwise the left Perron vector of K (stationary distribution pi = pi P of an "
                    "irreducible chain)",
}
"""The matrix formula behind each number of ``clmsim explain`` (printed with ``--math``; see docs/engines.md)."""

PLAIN = {
    "retention": "the chance that a customer of this stage is still a customer one {period} later "
                 "(1 - churn), as written in the file. 'w/ programmes' includes the retention "
                 "programmes' effect at their first-{period} spend (an average customer in both; a "
                 "programme aimed at the riskiest share counts for that share of the customers)",
    "lifetime": "how many {period}s the customer is expected to stay, counting the {period} they join "
                "(one stage kept with chance r: 1/(1 - r))",
    "margins_paid": "how many margins the firm expects to collect after the customer joins: lifetime minus "
                    "the joining {period}. CLV counts exactly these, so with no discounting CLV = margins "
                    "paid x margin, one fewer than lifetime x margin",
    "clv_horizon": "the expected value today of everything the customer pays from next {period} on, "
                   "minus what the firm spends to keep them, over the plan's {horizon} {period}s",
    "clv_infinite": "the same for ever (the last {period}'s conditions held): the first margin arrives one "
                    "{period} after acquisition, m r / (1 + d - r) for one stage",
    "clv_entry_margin": "CLV when the joining {period}'s margin is paid at acquisition: CLV for ever plus "
                        "one margin, m (1 + d) / (1 + d - r) for one stage",
    "discount": "money is discounted at {rate} per {period}: 1 paid one {period} from now is worth "
                "1/(1 + d) = {v} today",
    "steady_state": "where the customer base settles if today's conditions (acquisition, moves, "
                    "programmes) go on for ever: the share of customers in each stage, and among "
                    "paying (active) customers",
}
"""What each number means, in plain words (``{period}``, ``{horizon}``, ``{rate}``, ``{v}`` filled in)."""

CLOSED_FORM_RTOL = 1e-6
"""Relative agreement with the engine at which a stage counts as "one stage kept with chance r"."""


def _contribution(model: CompiledModel) -> np.ndarray:
    """Contribution per customer per period, (segments, stages): revenue x margin - cost to serve."""
    return model.revenue_mean * model.margin - model.cost_to_serve


def _risk_bands(model: CompiledModel) -> list[tuple[float, np.ndarray | None]]:
    """``(weight, hit)`` bands of a segment's customers for programmes aimed at the riskiest
    share (``target_risk``): the shares nest (the top 10% lie inside the top 30%), so the
    customers split into bands between consecutive shares, each in the shares at least as wide
    as its own, and the rest in none (``hit`` None). One band of weight 1 without such programmes."""
    risk = model.risk_programs()
    shares = sorted({model.programs[p].risk_share for p in risk})
    bands, lo = [], 0.0
    for share in shares:
        hit = np.array([prog.risk_threshold is None or prog.risk_share >= share for prog in model.programs])
        bands.append((share - lo, hit))
        lo = share
    bands.append((1.0 - lo, None))
    return bands


def _retention(model: CompiledModel, with_programmes: bool) -> dict:
    """(segment, active stage) -> ``1 - churn`` of the period-1 matrix (average customer: a
    programme aimed at the riskiest share counts for that share of the customers)."""
    out = {}
    bands = _risk_bands(model) if with_programmes and model.programs else [(1.0, None)]
    for weight, hit in bands:
        churn_f = upgrade_f = [None] * model.n_segments
        if with_programmes and model.programs:
            churn_f, upgrade_f = model.segment_program_factors(model.program_spend()[:, 0], hit)
        for g, seg in enumerate(model.segment_names):
            P = model.transition_matrix(g, churn_f[g], upgrade_f[g])
            for s in np.flatnonzero(model.active):
                key = (seg, model.stage_names[s])
                out[key] = out.get(key, 0.0) + weight * float(1.0 - P[s, model.churn_mask[s]].sum())
    return out


def _programme_spend(model: CompiledModel) -> np.ndarray:
    """Period-1 programme spend per customer of each segment and stage (segments, stages); a
    programme aimed at the riskiest share spends on that share of the customers."""
    out = np.zeros((model.n_segments, model.n_stages))
    for prog in model.programs:
        share = 1.0 if prog.risk_threshold is None else prog.risk_share
        out[prog.reach(model.n_segments)] += share * prog.spend[0]
    return out


def closed_form(m: float, r: float, d: float) -> dict:
    """The one-stage (geometric) formulas: margin ``m`` per period, retention ``r``, discount ``d``.

    Returns
    -------
    dict
        ``clv`` = m r / (1 + d - r) (first margin one period after acquisition),
        ``clv_entry_margin`` = m (1 + d) / (1 + d - r) (first margin at acquisition),
        ``lifetime`` = 1 / (1 - r) (periods, counting the entry period),
        ``margins_paid`` = r / (1 - r).
    """
    inf = math.inf
    return {"m": m, "r": r, "d": d,
            "clv": m * r / (1 + d - r) if 1 + d - r > 0 else inf,
            "clv_entry_margin": m * (1 + d) / (1 + d - r) if 1 + d - r > 0 else inf,
            "lifetime": 1 / (1 - r) if r < 1 else inf,
            "margins_paid": r / (1 - r) if r < 1 else inf}


def _closed_forms(model: CompiledModel, clv: pd.DataFrame, retention: dict) -> dict:
    """(segment, stage) -> :func:`closed_form` where it reproduces the engine's CLV for ever.

    It does for an active stage whose customers only stay or leave for good (no other
    move, no win-back, no heterogeneity): checked numerically, never assumed."""
    out = {}
    d = model.discount_rate
    c = _contribution(model) - _programme_spend(model)
    engine = {(seg, stage): (float(ci), float(life))  # plain lookups: a pandas .loc per stage costs more
              for seg, stage, ci, life in zip(clv["segment"], clv["stage"], clv["clv_infinite"], clv["lifetime"])}
    for g, seg in enumerate(model.segment_names):
        for s in np.flatnonzero(model.active):
            name = model.stage_names[s]
            r = retention.get((seg, name))
            if r is None or (seg, name) not in engine:
                continue
            cf = closed_form(float(c[g, s]), r, d)
            eng, life = engine[(seg, name)]
            if math.isfinite(eng) and abs(cf["clv"] - eng) <= CLOSED_FORM_RTOL * max(1.0, abs(eng)) \
                    and abs(cf["lifetime"] - life) <= CLOSED_FORM_RTOL * cf["lifetime"]:
                out[(seg, name)] = cf
    return out


def default_cohort_stage(model: CompiledModel) -> str:
    """Where new customers start: the first channel's entry stage, else the first active stage."""
    if model.channels:
        return model.stage_names[model.channels[0].entry_stage]
    if model.referral is not None:
        return model.stage_names[model.referral.entry_stage]
    return model.stage_names[int(np.flatnonzero(model.active)[0])]


def explain_model(model: CompiledModel, cohort_stage: str | None = None, **options) -> dict:
    """Teaching data for one compiled model (see :func:`clmsim.api.explain`)."""
    from .engines import analytic

    model.refuse_dynamics("explain (closed forms from one period's retention and margin)")
    out = analytic.evaluate(model, **options)
    clv = out["clv"].copy()
    contrib = _contribution(model)
    seg_idx = {s: g for g, s in enumerate(model.segment_names)}
    active = model.active
    entry = []
    for row in clv.itertuples(index=False):
        s = model.stage_index[row.stage]
        if not active[s]:
            entry.append(0.0)
        elif row.segment in seg_idx:
            entry.append(float(contrib[seg_idx[row.segment], s]))
        else:  # "all": segments weighted by their shares
            entry.append(float(model.segment_share @ contrib[:, s]))
    is_active = np.array([active[model.stage_index[s]] for s in clv["stage"]])
    clv["margins_paid"] = clv["lifetime"] - is_active.astype(float)
    clv["clv_entry_margin"] = clv["clv_infinite"] + np.array(entry)
    clv.attrs = dict(out["clv"].attrs)
    retention = _retention(model, with_programmes=False)
    after = _retention(model, with_programmes=True)
    for table in (retention, after):  # "all": the share-weighted average customer of the stage
        if model.n_segments > 1:
            for s in np.flatnonzero(active):
                name = model.stage_names[s]
                table[("all", name)] = float(sum(model.segment_share[g] * table[(seg, name)]
                                                 for seg, g in seg_idx.items()))
    periods = out["periods"]
    surv = periods[periods["item"].str.startswith("survival:")]
    survival = surv.pivot(index="period", columns="item", values="mean")
    survival.columns = [c.split(":", 1)[1] for c in survival.columns]
    stage = cohort_stage or default_cohort_stage(model)
    return {
        "model": model,
        "discount_rate": model.discount_rate,
        "clv": clv,
        "steady_method": clv.attrs.get("steady_method", ""),
        "states": out["chains"].space.labels,
        "retention": retention,
        "retention_after": after,
        "contribution": {(seg, model.stage_names[s]): float(contrib[g, s])
                         for seg, g in seg_idx.items() for s in np.flatnonzero(active)},
        "closed_form": _closed_forms(model, clv, after),
        "npv": float(out["runs"]["npv"]),
        "clv_new_customer": float(out["runs"]["clv_acquired"]),
        "survival": survival,
        "cohort_stage": stage,
        "cohort": analytic.cohort_occupancy(model, stage, options.get("nodes"), chains=out["chains"]),
        "formulas": FORMULAS,
        "plain": PLAIN,
    }


def words(model: CompiledModel) -> dict:
    """:data:`PLAIN` with the model's period, horizon and discount rate filled in."""
    d = model.discount_rate
    fill = {"period": model.period, "horizon": model.horizon, "rate": f"{d:.4%}", "v": f"{1 / (1 + d):.4f}"}
    return {k: v.format(**fill) for k, v in PLAIN.items()}


def worked_example(cf: dict, stage: str, period: str) -> list[str]:
    """The one-stage formulas with the stage's numbers substituted (lines of text)."""
    m, r, d = cf["m"], cf["r"], cf["d"]
    return [
        f"{stage}: margin m = {m:,.2f} per {period}, retention r = {r:.4f}, d = {d:.4%}",
        f"  CLV, first margin one {period} after acquisition: m r / (1 + d - r) = "
        f"{m:,.2f} x {r:.4f} / {1 + d - r:.4f} = {cf['clv']:,.2f}",
        f"  CLV, first margin at acquisition:  m (1 + d) / (1 + d - r) = "
        f"{m:,.2f} x {1 + d:.4f} / {1 + d - r:.4f} = {cf['clv_entry_margin']:,.2f}"
        f"  (= {m:,.2f} + {cf['clv']:,.2f})",
        f"  lifetime 1 / (1 - r) = {cf['lifetime']:.2f} {period}s counting the first; margins paid "
        f"r / (1 - r) = {cf['margins_paid']:.2f}: with no discounting CLV = {cf['margins_paid']:.2f} x m "
        f"= {cf['margins_paid'] * m:,.2f}, not {cf['lifetime']:.2f} x m",
    ]
