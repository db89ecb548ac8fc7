"""A small pure-NumPy reference of the fast engine's individual mode (tests only).

Written from the model's specification (:mod:`clmsim.model.compiled`: the timing
convention, :func:`~clmsim.model.compiled.row_parts` and ``program_factors``), not from the
kernel: one run at a time, every period vectorised over the live customers, random numbers
from :class:`numpy.random.Generator`. It shares no code path and no random stream with the
numba kernel, so agreement in law (means within their standard errors) is evidence that the
kernel -- its bare and het fast paths, counter-based draws and bookkeeping -- simulates the
model. Slow (about 10 ms per period for a few thousand customers); use small scenarios.

Per period ``t``: program spend per customer of the (segment, stage) cells a program reaches
(``target_segments``; budget caps spread evenly) and its effects per segment; win-back contacts
per policy and churn age ``k`` ~ Binomial(eligible, coverage) among the churned customers of
the segments it reaches, capacity filled youngest first, a uniform subset of the eligible
contacted, each won back with the segment's ``base decay^k`` (to the return stage, with a
concession where the segment is granted one); every other customer moves by its effective row
(churn scaled by its heterogeneity draw); a move to a churned or lost stage from a cell a save
offer reaches (and, with ``target_risk``, a draw above the segment's threshold) gets the offer
at its spend, which succeeds with the segment's ``success_max s / (s + half)``: the customer
goes to the save stage instead, with the offer's concession where granted (ending any running
one); active customers earn Gamma revenue (margin less the concession discount); lost customers
leave with their CLV; Poisson acquisitions and referrals join at the end of the period.
"""

from __future__ import annotations

import numpy as np

from clmsim.model.compiled import ACTIVE, CHURNED, LOST, CompiledModel, row_parts

RUN_ITEMS = ("npv", "revenue", "contribution", "retention_spend", "winback_spend", "acquired", "referred",
             "churned", "won_back", "contacts", "active_end", "clv_acquired")


def _het_draws(rng, het, n):
    if het.kind == "gamma":
        return rng.gamma(1.0 / het.cv ** 2, het.mean * het.cv ** 2, n)
    if het.kind == "beta":
        return rng.beta(het.alpha, het.beta, n)
    return np.ones(n)


def _revenue(rng, model, seg, stage):
    mean = model.revenue_mean[seg, stage]
    cv = model.revenue_cv[seg, stage]
    noisy = cv > 0
    out = mean.astype(float).copy()
    if noisy.any():
        k = 1.0 / cv[noisy] ** 2
        out[noisy] = rng.gamma(k, mean[noisy] / k)
    return out


def simulate_reference(model: CompiledModel, runs: int, seed: int) -> dict:
    """``runs`` runs of ``model``; returns per-run totals (:data:`RUN_ITEMS`, arrays of
    ``runs``) and ``occ`` (runs, H + 1, S), the end-of-period occupancy."""
    rng = np.random.default_rng(seed)
    S, G, H = model.n_stages, model.n_segments, model.horizon
    kind = np.asarray(model.stage_kind)
    v = model.discount_factors()
    acq_spend = model.acquisition_spend().sum(axis=0)
    expected = model.expected_acquisitions().reshape(len(model.channels), H)
    het_kind = [h.kind for h in model.heterogeneity]
    policy_of = np.full(S, -1)
    for w, wb in enumerate(model.winbacks):
        policy_of[np.asarray(wb.from_stages, bool)] = w
    out = {k: np.zeros(runs) for k in RUN_ITEMS}
    out["occ"] = np.zeros((runs, H + 1, S))
    for r in range(runs):
        lost = np.zeros(S)
        parts = {k: [] for k in ("stage", "seg", "mult")}
        for g in range(G):
            for s in range(S):
                n = int(model.initial[g, s])
                if kind[s] == LOST:
                    lost[s] += n
                    continue
                parts["stage"].append(np.full(n, s))
                parts["seg"].append(np.full(n, g))
                parts["mult"].append(_het_draws(rng, model.heterogeneity[g], n))
        stage = np.concatenate(parts["stage"]).astype(int)
        seg = np.concatenate(parts["seg"]).astype(int)
        mult = np.concatenate(parts["mult"])
        n = len(stage)
        age, conc, cdisc, tacq, clv = (np.zeros(n, int), np.zeros(n, int), np.zeros(n), np.zeros(n, int),
                                       np.zeros(n))
        clv_total, clv_count = 0.0, 0
        out["occ"][r, 0] = np.bincount(stage, minlength=S) + lost
        for t in range(1, H + 1):
            n_start = np.bincount(stage, minlength=S) + lost
            # programs: spend per customer of the cells reached, caps spread evenly
            cells = np.zeros((G, S))
            np.add.at(cells, (seg, stage), 1.0)
            spend = np.zeros(len(model.programs))
            ret_cell = np.zeros((G, S))
            ret_total = 0.0
            for p, prog in enumerate(model.programs):
                reach = prog.reach(G)
                ntarget = cells[reach].sum()
                x = prog.spend[t - 1]
                if prog.cap is not None and ntarget > 0 and prog.cap[t - 1] / ntarget < x:
                    x = prog.cap[t - 1] / ntarget
                spend[p] = x
                ret_cell[reach] += x
                ret_total += x * ntarget
            cf_g, uf_g = model.segment_program_factors(spend)
            # win-back contacts, youngest ages first under a capacity
            contacted = np.zeros(len(stage), bool)
            won = np.zeros(len(stage), bool)
            w_of = policy_of[stage]
            for w, wb in enumerate(model.winbacks):
                room = None if wb.capacity is None else float(wb.capacity[t - 1])
                aimed = wb.reaches(G)[seg]
                for k in range(wb.eligible_after, wb.max_age):
                    idx = np.flatnonzero((w_of == w) & (age == k) & aimed)
                    q = rng.binomial(len(idx), wb.coverage[t - 1]) if len(idx) else 0
                    if room is not None:
                        q = min(q, int(room))
                        room -= q
                    chosen = rng.choice(idx, q, replace=False) if q else idx[:0]
                    contacted[chosen] = True
                    won[chosen] = rng.random(q) < wb.success(k, seg[chosen])
            # moves: every customer's effective row, churn scaled by its draw
            dest = np.empty(len(stage), int)
            for g in range(G):
                churn, moves, msum, C = row_parts(model.P[g], model.churn_mask, uf_g[g])
                sel = np.flatnonzero(seg == g)
                s = stage[sel]
                base = mult[sel] if het_kind[g] == "beta" else mult[sel] * C[s]
                target = np.clip(cf_g[g][s] * base, 0.0, 1.0 - msum[s])
                target = np.where(C[s] > 0, target, 0.0)
                rows = moves[s] + churn[s] * np.divide(target, C[s], out=np.zeros(len(s)), where=C[s] > 0)[:, None]
                rows[np.arange(len(s)), s] = 0.0
                rows[np.arange(len(s)), s] = np.maximum(1.0 - rows.sum(axis=1), 0.0)
                cum = np.cumsum(rows, axis=1)
                u = rng.random(len(s)) * cum[:, -1]
                dest[sel] = np.minimum((u[:, None] >= cum).sum(axis=1), S - 1)
            # save offers: every churn move from a cell an offer reaches (above its risk threshold)
            offer_paid = np.zeros(len(stage))
            churns = (kind[stage] == ACTIVE) & ((kind[dest] == CHURNED) | (kind[dest] == LOST))
            for ic in model.intercepts:
                asked = churns & ic.reach(G)[seg, stage] & (mult > ic.thresholds(G)[seg])
                offer_paid[asked] = float(ic.spend[t - 1])      # one save offer per (segment, stage)
                saved = asked & (rng.random(len(stage)) < ic.success(t, G)[seg])
                dest[saved] = stage[saved] if ic.save_stage < 0 else ic.save_stage
                granted = saved & ic.grants(G)[seg] & ic.has_concession
                conc[saved] = np.where(granted[saved], ic.concession_periods, 0)
                cdisc[granted] = ic.discount
            for w, wb in enumerate(model.winbacks):
                hit = won & (w_of == w)
                dest[hit] = wb.return_stage
                granted = hit & wb.grants(G)[seg]
                conc[hit] = np.where(granted[hit], wb.concession_periods, 0)
                cdisc[granted] = wb.discount
            src_active = kind[stage] == ACTIVE
            dst = kind[dest]
            leaves = src_active & ((dst == CHURNED) | (dst == LOST)) & ~won
            conc[leaves] = 0
            was_churned = (kind[stage] == CHURNED) & ~won
            age = np.where(won | leaves, 0, np.where(was_churned & (dst == CHURNED), age + 1, 0))
            # revenue of customers in active stages after the move
            cash = -ret_cell[seg, stage] - offer_paid
            contact_cost = np.array([wb.contact_cost for wb in model.winbacks] + [0.0])
            cash -= np.where(contacted, contact_cost[w_of], 0.0)
            earn = dst == ACTIVE
            rev = np.zeros(len(stage))
            contrib = np.zeros(len(stage))
            if earn.any():
                rv = _revenue(rng, model, seg[earn], dest[earn])
                margin = model.margin[seg[earn], dest[earn]].copy()
                margin -= np.where(conc[earn] > 0, cdisc[earn], 0.0)
                rev[earn] = rv
                contrib[earn] = rv * margin - model.cost_to_serve[seg[earn], dest[earn]]
                conc[earn] = np.maximum(conc[earn] - 1, 0)
            cash += contrib
            clv += v[t] * cash
            stage = dest
            gone = kind[stage] == LOST
            lost += np.bincount(stage[gone], minlength=S)
            fin = clv[gone] / v[tacq[gone]]
            acq = tacq[gone] > 0
            clv_total += fin[acq].sum()
            clv_count += int(acq.sum())
            keep = ~gone
            stage, seg, mult, age, conc, cdisc, tacq, clv = (a[keep] for a in (stage, seg, mult, age, conc, cdisc,
                                                                               tacq, clv))
            # arrivals at the end of the period
            sources = [(expected[c, t - 1], ch.mix, ch.entry_stage, "acquired")
                       for c, ch in enumerate(model.channels)]
            if model.referral is not None:
                ref = model.referral
                sources.append((float(ref.rate @ n_start), ref.mix, ref.entry_stage, "referred"))
            new = {k: [] for k in ("stage", "seg", "mult")}
            for lam, mix, entry, item in sources:
                m = rng.poisson(lam)
                out[item][r] += m
                split = rng.multinomial(m, np.asarray(mix) / np.sum(mix))
                for g in range(G):
                    new["stage"].append(np.full(split[g], entry))
                    new["seg"].append(np.full(split[g], g))
                    new["mult"].append(_het_draws(rng, model.heterogeneity[g], split[g]))
            m = sum(len(a) for a in new["stage"])
            if m:
                stage = np.concatenate([stage] + new["stage"]).astype(int)
                seg = np.concatenate([seg] + new["seg"]).astype(int)
                mult = np.concatenate([mult] + new["mult"])
                age, conc = (np.concatenate([a, np.zeros(m, int)]) for a in (age, conc))
                cdisc = np.concatenate([cdisc, np.zeros(m)])
                tacq = np.concatenate([tacq, np.full(m, t)])
                clv = np.concatenate([clv, np.zeros(m)])
            out["occ"][r, t] = np.bincount(stage, minlength=S) + lost
            wb_spend = float(np.sum(np.where(contacted, contact_cost[w_of], 0.0)))
            out["revenue"][r] += rev.sum()
            out["contribution"][r] += contrib.sum()
            out["retention_spend"][r] += ret_total + offer_paid.sum()
            out["winback_spend"][r] += wb_spend
            out["churned"][r] += leaves.sum()
            out["won_back"][r] += won.sum()
            out["contacts"][r] += contacted.sum()
            out["npv"][r] += v[t] * (contrib.sum() - acq_spend[t - 1] - ret_total - offer_paid.sum() - wb_spend)
        acq = tacq > 0
        clv_total += (clv[acq] / v[tacq[acq]]).sum()
        clv_count += int(acq.sum())
        out["clv_acquired"][r] = clv_total / clv_count if clv_count else np.nan
        out["active_end"][r] = out["occ"][r, H][kind == ACTIVE].sum()
    return out
