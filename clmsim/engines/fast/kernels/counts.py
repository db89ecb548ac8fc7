"""Numba kernel of the fast engine's counts mode (stage counts, not customers).

The state of a run is a set of counts: per group (cohort class x customer type) and
stage, with sub-states where a customer's history matters -- periods since churn
(churned stages: win-back eligibility and success) and concession periods left (active
stages after a win-back). Customer types are segment x heterogeneity class; the two
cohort classes are the initial population and the customers acquired during the
horizon. Each period every group moves by one multinomial draw over its effective row;
win-back contacts are binomial per churn age (capacity filled youngest first, the
marginal age split by a multivariate hypergeometric draw), and the groups of a churn
pool's won-back customers are one multivariate hypergeometric draw; the revenue of ``n``
customers with Gamma(k, theta) revenue is one Gamma(n k, theta) draw. Every draw is O(1)
whatever its counts, so the cost per run is independent of the population size; every stage count, flow and cash total is exact in
distribution for homogeneous customer types.

Mean CLV of acquired customers: a customer acquired in period ``h`` is worth
``sum_t v_t / v_h cash_t``, so each acquired group also carries the sum ``W`` of its
members' weights ``1 / v_h``. A split of ``n`` customers into ``x_d`` moves ``W x_d /
n`` along, and a group's cash counts with its mean weight ``W / n``: members of one group
have the same future whatever their acquisition period, so the expected CLV sum is
exact. Its run-to-run spread would lose the variation of *which* members move if the
initial population (weight 0) shared groups with acquired customers (weights near 1) --
that is why the two cohort classes are kept apart (measured on telecom: the sd of
``clv_acquired`` across runs matches individual mode within its sampling error, ratio
1.10 +- 0.13); within the acquired class the weights differ by at most ``1/v_H``
(telecom: 1.00-1.61), and the remaining effect is below what 200 individual runs resolve.

Speed: the per-run scratch arrays and the random-stream states are passed to the samplers
as ``unowned`` views (see :mod:`clmsim.engines.fast.kernels.samplers`), so the hot path does no atomic
reference counting; the row tables are rebuilt only when the program factors change.

Shared samplers live in :mod:`clmsim.engines.fast.kernels.samplers`, the kernel's per-period
steps (contacts, pooled moves, save offers, row probabilities per type) in
:mod:`clmsim.engines.fast.kernels.counts_steps`; :mod:`clmsim.engines.fast.kernels.cache`
stamps every kernel module, so an edit there forces a recompile here.
"""

from __future__ import annotations

import numpy as np

from .jit import entry
from .runtime import notice_compiles
from .samplers import (
    MOVES, REVENUE, ARRIVALS, HETEROGENEITY, N_STREAMS, ACTIVE, CHURNED, LOST, F_REVENUE, F_CONTRIBUTION,
    F_RETENTION, F_WINBACK, F_ACQUIRED, F_REFERRED, F_CHURNED, F_WON, F_CONTACTS, seed_streams, reseed,
    unowned, arrivals, binomial, multinomial, program_factors, row_tables, row_table_arrays,
)
from .counts_steps import (ACTIVE_SUB, _contacts, _pool_moves, _revenue, _save_offers, _segment_counts,
                           _unchanged, substream, type_rows)
from .regimes import gamma_tables, load_regime, regime_start, scale_churn
from .risk import risk_care, risk_rows


@entry
def simulate_counts(r0, r1, seeds, m, out):
    """Simulate runs ``r0 .. r1 - 1`` on counts; writes rows ``r`` of ``out`` in place.

    ``seeds[r]`` are run ``r``'s stream seeds, ``m`` the model
    (:class:`clmsim.engines.fast.bundle.KernelModel`), ``out`` the outputs
    (:class:`~clmsim.engines.fast.bundle.KernelOutput`).

    Groups are ``q = c T + tau``: cohort class ``c`` (0 initial population, 1 acquired)
    and customer type ``tau`` (segment x heterogeneity class; ``type_w[tau]`` is the
    class's probability within its segment). State: ``nm[q, s]`` (no
    concession), ``nc[q, s, e]`` (concession sub-state ``e``: ``ce_disc[e]`` this
    period, then ``ce_next[e]``, -1 = none), ``nh[q, s, a]`` (churned, age ``a``,
    last age capped), each with the weight sums ``wm, wc, wh`` of the CLV accounting
    (module docstring). Random numbers: every group draws from its own sub-stream
    keyed by (period, group, stage, sub-state), so a strategy that changes one group
    leaves the others' draws alone; the keys (:func:`substream`) do not depend on the model's
    dimensions, so a structural lever (a win-back window or concession length that no contact
    uses) changes no draw. Timing and economics as ``simulate_individual``;
    outputs the same arrays except the CLV histogram (``clv_sum`` is the sum over
    acquired customers of their CLV at acquisition, exact in expectation). With more than one
    segment the same items go into ``seg_flows`` and ``seg_occ`` by segment (every group and
    pool belongs to one; program spend ``sum_s spend_s x start count_{g,s}``).
    """
    # the bundle's fields, at most three per line: a longer tuple assignment builds and unpacks a
    # tuple of arrays, which numba compiles into reference counting of each (8% more IR)
    kind, P_all, churn_mask = m.kind, m.P, m.churn_mask
    initial, v = m.initial, m.v
    rev_all, rev_cv, margin_all = m.rev_mean, m.rev_cv, m.margin
    cost = m.cost
    regime, churn_scale = m.regime, m.churn_scale
    dynamic = P_all.shape[0] > 1
    P, rev_mean, margin = regime_start(P_all, rev_all, margin_all)    # the period's regime, copied in
    type_seg, type_het, type_val = m.type_seg, m.type_het, m.type_val
    type_w = m.type_w
    seg_first, seg_ntypes = m.seg_first, m.seg_ntypes
    ch_expected, ch_mix, ch_entry = m.ch_expected, m.ch_mix, m.ch_entry
    ref_rate, ref_mix, ref_entry = m.ref_rate, m.ref_mix, m.ref_entry
    pr_target, pr_upgrade, pr_spend = m.pr_target, m.pr_upgrade, m.pr_spend
    pr_cap = m.pr_cap
    pr_red, pr_half, pr_lift = m.pr_red, m.pr_half, m.pr_lift
    wb_of_stage, wb_lo, wb_hi = m.wb_of_stage, m.wb_lo, m.wb_hi
    wb_cov, wb_cost = m.wb_cov, m.wb_cost
    wb_base, wb_decay, wb_return = m.wb_base, m.wb_decay, m.wb_return
    wb_disc = m.wb_disc
    wb_cperiods, wb_cap, wb_seg = m.wb_cperiods, m.wb_cap, m.wb_seg
    wb_cseg, conc_disc = m.wb_cseg, m.conc_disc
    pr_partial = m.pr_partial
    ic_of, ic_spend, ic_p = m.ic_of, m.ic_spend, m.ic_p
    ic_save, ic_cperiods, ic_cseg = m.ic_save, m.ic_cperiods, m.ic_cseg
    ic_rq = m.ic_rq
    rk_target, rk_q, rk_spend = m.rk_target, m.rk_q, m.rk_spend
    rk_fac = m.rk_fac
    KR = rk_spend.shape[0]
    K = ic_spend.shape[0]
    ce_disc, ce_next, ret_state = m.ce_disc, m.ce_next, m.ret_state
    pooled = m.pooled
    occ, flows, chan_acq = out.occ, out.flows, out.chan_acq
    clv_sum, clv_n, work = out.clv_sum, out.clv_n, out.work
    seg_flows, seg_occ = out.seg_flows, out.seg_occ
    segs = seg_flows.shape[2] > 0                            # per-segment outputs (more than one segment)
    G, S = P.shape[0], P.shape[1]
    T = type_seg.shape[0]
    H = v.shape[0] - 1
    C = ch_expected.shape[0]
    W = wb_lo.shape[0]
    NE = ce_disc.shape[0]
    E = max(NE, 1)
    A = 1
    for w in range(W):
        A = max(A, wb_hi[w] + 1)
    Q = 2 * T                                                # cohort class (initial, acquired) x type
    q_class = np.zeros(Q, np.int64)                          # class of group q within its segment
    q_seg = np.zeros(Q, np.int64)                            # segment of group q
    for q in range(Q):
        q_class[q] = q % T - seg_first[type_seg[q % T]]
        q_seg[q] = type_seg[q % T]
    pool_seg = np.arange(G)                                  # segment of pool g
    count_seg = False
    for p in range(pr_partial.shape[0]):
        count_seg = count_seg or pr_partial[p]
    states = np.empty((N_STREAMS, 4), np.uint64)             # random streams (alive over the loop)
    for r in range(r0, r1):
        state = unowned(states)
        seed_row = seeds[r]
        seed_streams(seed_row, state)
        nm = np.zeros((Q, S), np.int64)
        nm2 = np.zeros((Q, S), np.int64)
        wm = np.zeros((Q, S), np.float64)
        wm2 = np.zeros((Q, S), np.float64)
        nc = np.zeros((Q, S, E), np.int64)
        nc2 = np.zeros((Q, S, E), np.int64)
        wc = np.zeros((Q, S, E), np.float64)
        wc2 = np.zeros((Q, S, E), np.float64)
        nh = np.zeros((Q, S, A), np.int64)
        nh2 = np.zeros((Q, S, A), np.int64)
        wh = np.zeros((Q, S, A), np.float64)
        wh2 = np.zeros((Q, S, A), np.float64)
        ncont = np.zeros((Q, S, A), np.int64)
        pn = np.zeros((G, S, A), np.int64)
        pn2 = np.zeros((G, S, A), np.int64)
        pcont = np.zeros((G, S, A), np.int64)
        nret = np.zeros((Q, max(W, 1)), np.int64)
        wret = np.zeros((Q, max(W, 1)), np.float64)
        nsave = np.zeros((Q, S, max(K, 1)), np.int64)         # saved by offer k into stage d (concession)
        wsave = np.zeros((Q, S, max(K, 1)), np.float64)
        lost = np.zeros((G, S), np.float64)                 # customers in lost stages, by segment
        churn_factor = np.ones((G, S), np.float64)
        upgrade_factor = np.ones((G, S, S), np.float64)
        cf_prev = np.ones((G, S), np.float64)
        uf_prev = np.ones((G, S, S), np.float64)
        ret_stage = np.zeros((G, S), np.float64)
        n_seg = np.zeros((G, S), np.float64)
        mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum = row_table_arrays(G, S)
        probs = np.zeros((T, S, S), np.float64)
        n_start = np.zeros(S, np.float64)
        split = np.zeros(S, np.int64)
        gsplit = np.zeros(G, np.int64)
        arrived = np.zeros((G, S), np.int64)                 # new customers of the period by segment, stage
        tsplit = np.zeros(T, np.int64)
        gam_shape = np.zeros((G, S), np.float64)
        gam_scale = np.zeros((G, S), np.float64)
        rg_prev = -1
        # initial population: split over the segment's types (heterogeneity classes)
        for g in range(G):
            f0, nt = seg_first[g], seg_ntypes[g]
            for s in range(S):
                m = initial[g, s]
                occ[r, 0, s] += m
                if kind[s] == LOST:
                    lost[g, s] += m
                    continue
                multinomial(state, HETEROGENEITY, m, type_w[f0:f0 + nt], tsplit)
                if kind[s] == CHURNED:
                    pn[g, s, 0] += m
                for j in range(nt):
                    if kind[s] == CHURNED:
                        nh[f0 + j, s, 0] += tsplit[j]        # cohort class 0: initial
                    else:
                        nm[f0 + j, s] += tsplit[j]
        done = 0
        clv_total = 0.0
        for t in range(1, H + 1):
            rg = regime[t - 1]
            new_regime = rg != rg_prev
            if new_regime:             # the period's regime (scheduled dynamics): rows and revenue
                if dynamic:
                    load_regime(P_all, rev_all, margin_all, rg, P, rev_mean, margin)
                gamma_tables(rev_mean, rev_cv, gam_shape, gam_scale)
                rg_prev = rg
            total = 0
            for s in range(S):
                n_start[s] = occ[r, t - 1, s]
                if kind[s] != LOST:
                    total += int(n_start[s])
            done += total
            if count_seg:                                    # programs aimed at some segments count them
                _segment_counts(nm, nc, q_seg, kind, n_seg)
            ret_total = program_factors(t, n_start, n_seg, pr_target, pr_partial, pr_upgrade, pr_spend, pr_cap,
                                        pr_red, pr_half, pr_lift, churn_factor, upgrade_factor, ret_stage)
            if dynamic:
                scale_churn(churn_factor, churn_scale[rg])
            same = _unchanged(churn_factor, upgrade_factor, cf_prev, uf_prev) and t > 1  # rows follow the factors
            same = same and not new_regime
            if not same or KR > 0:
                row_tables(P, churn_mask, upgrade_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest,
                           ch_cum)
                type_rows(type_seg, type_het, type_val, churn_factor, mv_n, mv_cum, mv_dest, msum, ctot, ch_n,
                          ch_dest, ch_cum, probs)
                if KR > 0:
                    risk_rows(t, type_seg, type_het, type_val, churn_factor, rk_target, rk_q, rk_fac, rk_spend, mv_n,
                              mv_cum, mv_dest, msum, ctot, ch_n, ch_dest, ch_cum, probs)
            for k in range(N_STREAMS):
                reseed(seed_row, state, k, t)
            sf = seg_flows[r, t - 1]
            if segs:                                         # program spend: per-customer spend x start counts
                for g in range(G):
                    y = 0.0
                    for s in range(S):
                        y += ret_stage[g, s] * seg_occ[r, t - 1, g, s]
                    sf[g, F_RETENTION] = y
            # win-back contacts per churn age (per pool, or per group), capacity youngest first
            for w in range(W):
                if pooled:
                    _contacts(state, unowned(pn), unowned(pcont), unowned(wb_of_stage), w, wb_lo[w], wb_hi[w],
                              wb_cov[w, t - 1], wb_cap[w, t - 1], unowned(pool_seg), unowned(wb_seg[w]))
                else:
                    _contacts(state, unowned(nh), unowned(ncont), unowned(wb_of_stage), w, wb_lo[w], wb_hi[w],
                              wb_cov[w, t - 1], wb_cap[w, t - 1], unowned(q_seg), unowned(wb_seg[w]))
            revenue = 0.0
            contribution = 0.0
            wb_spend = 0.0
            offer_spend = 0.0
            risk_spend = 0.0
            clv_cash = 0.0                                   # sum over groups of mean weight x cash
            churned = 0
            won = 0
            contacts = 0
            for q in range(Q):
                for s in range(S):
                    ks = kind[s]
                    row = unowned(probs[q % T, s])
                    if ks == CHURNED:
                        if pooled:
                            continue
                        w = wb_of_stage[s]
                        for a in range(A):
                            n = nh[q, s, a]
                            if n == 0:
                                continue
                            wt = wh[q, s, a]
                            nh[q, s, a] = 0
                            wh[q, s, a] = 0.0
                            reseed(seed_row, state, MOVES, substream(t, q // T, type_seg[q % T], q_class[q], s, a))
                            if w >= 0 and wb_lo[w] <= a < wb_hi[w] and ncont[q, s, a] > 0:
                                c = ncont[q, s, a]
                                contacts += c
                                wb_spend += c * wb_cost[w]
                                clv_cash -= wt / n * c * wb_cost[w]
                                x = binomial(state, MOVES, c, wb_base[w, q_seg[q]] * wb_decay[w, q_seg[q]] ** a)
                                won += x
                                if segs:
                                    g = type_seg[q % T]
                                    sf[g, F_CONTACTS] += c
                                    sf[g, F_WINBACK] += c * wb_cost[w]
                                    sf[g, F_WON] += x
                                nret[q, w] += x
                                wret[q, w] += wt / n * x
                                wt -= wt / n * x
                                n -= x
                            if n == 0:
                                continue
                            multinomial(state, MOVES, n, row, unowned(split))
                            a2 = a + 1 if a + 1 < A else A - 1
                            for d in range(S):
                                x = split[d]
                                if x == 0:
                                    continue
                                kd = kind[d]
                                if kd == CHURNED:
                                    nh2[q, d, a2] += x
                                    wh2[q, d, a2] += wt / n * x
                                elif kd == LOST:
                                    lost[type_seg[q % T], d] += x
                                else:
                                    nm2[q, d] += x
                                    wm2[q, d] += wt / n * x
                    elif ks != LOST:
                        for e in range(-1, NE):
                            if e < 0:
                                n = nm[q, s]
                                wt = wm[q, s]
                                nm[q, s] = 0
                                wm[q, s] = 0.0
                            else:
                                n = nc[q, s, e]
                                wt = wc[q, s, e]
                                nc[q, s, e] = 0
                                wc[q, s, e] = 0.0
                            if n == 0:
                                continue
                            reseed(seed_row, state, MOVES, substream(t, q // T, type_seg[q % T], q_class[q], s,
                                                                     ACTIVE_SUB + 1 + e))
                            clv_cash -= wt * ret_stage[q_seg[q], s]
                            if KR > 0:                       # risk-targeted care of this class
                                _, y, _ = risk_care(t, q_seg[q], s, type_val[q % T], 1.0, rk_target, rk_q, rk_fac,
                                                    rk_spend)
                                risk_spend += n * y
                                clv_cash -= wt * y
                                if segs:
                                    sf[q_seg[q], F_RETENTION] += n * y
                            multinomial(state, MOVES, n, row, unowned(split))
                            k = ic_of[q_seg[q], s] if ks == ACTIVE else -1
                            if k >= 0 and type_val[q % T] > ic_rq[k, q_seg[q]]:   # classes split there
                                # save offers: every churner got one; each is saved with p_g(t)
                                tried, saved = _save_offers(state, unowned(split), unowned(kind),
                                                            ic_p[k, q_seg[q], t - 1])
                                if tried > 0:
                                    offer_spend += tried * ic_spend[k, t - 1]
                                    clv_cash -= wt / n * tried * ic_spend[k, t - 1]
                                    if segs:
                                        sf[q_seg[q], F_RETENTION] += tried * ic_spend[k, t - 1]
                                if saved > 0:
                                    d = s if ic_save[k] < 0 else ic_save[k]
                                    if ic_cperiods[k] > 0 and ic_cseg[k, q_seg[q]]:
                                        nsave[q, d, k] += saved
                                        wsave[q, d, k] += wt / n * saved
                                    else:
                                        nm2[q, d] += saved
                                        wm2[q, d] += wt / n * saved
                            for d in range(S):
                                x = split[d]
                                if x == 0:
                                    continue
                                kd = kind[d]
                                if kd == CHURNED or kd == LOST:
                                    if ks == ACTIVE:
                                        churned += x
                                        if segs:
                                            sf[type_seg[q % T], F_CHURNED] += x
                                    if kd == CHURNED:
                                        nh2[q, d, 0] += x
                                        wh2[q, d, 0] += wt / n * x
                                        if pooled:
                                            pn2[type_seg[q % T], d, 0] += x
                                    else:
                                        lost[type_seg[q % T], d] += x
                                elif e >= 0:
                                    nc2[q, d, e] += x
                                    wc2[q, d, e] += wt / n * x
                                else:
                                    nm2[q, d] += x
                                    wm2[q, d] += wt / n * x
            if pooled and segs:                              # the pools' contacts (drawn above), by segment
                for g in range(G):
                    for s in range(S):
                        w = wb_of_stage[s]
                        if kind[s] != CHURNED or w < 0:
                            continue
                        for a in range(wb_lo[w], min(wb_hi[w], A)):
                            if pn[g, s, a] > 0 and pcont[g, s, a] > 0:
                                sf[g, F_CONTACTS] += pcont[g, s, a]
                                sf[g, F_WINBACK] += pcont[g, s, a] * wb_cost[w]
            if pooled:
                pc, pw, ps, pv = _pool_moves(state, unowned(seed_row), t, T, unowned(kind), unowned(probs),
                                             unowned(seg_first), unowned(seg_ntypes), unowned(wb_of_stage),
                                             unowned(wb_lo), unowned(wb_hi), unowned(wb_cost), unowned(wb_base),
                                             unowned(wb_decay), unowned(pn), unowned(pn2), unowned(pcont),
                                             unowned(nh), unowned(wh), unowned(nh2), unowned(wh2), unowned(nret),
                                             unowned(wret), unowned(lost), unowned(split))
                contacts += pc
                won += pw
                wb_spend += ps
                clv_cash += pv
                if segs:                                     # the pools' returners, by segment
                    for q in range(Q):
                        for w in range(W):
                            sf[type_seg[q % T], F_WON] += nret[q, w]
            # revenue of the active groups after the move; concession sub-states advance
            for q in range(Q):
                g = type_seg[q % T]
                for d in range(S):
                    if kind[d] != ACTIVE:
                        continue
                    reseed(seed_row, state, REVENUE, substream(t, q // T, g, q_class[q], d, 0))
                    to_main = 0
                    w_main = 0.0
                    for e in range(NE):
                        x = nc2[q, d, e]
                        if x == 0:
                            continue
                        wt = wc2[q, d, e]
                        rv = _revenue(state, x, gam_shape[g, d], gam_scale[g, d], rev_mean[g, d])
                        cb = rv * (margin[g, d] - ce_disc[e]) - x * cost[g, d]
                        revenue += rv
                        contribution += cb
                        if segs:
                            sf[g, F_REVENUE] += rv
                            sf[g, F_CONTRIBUTION] += cb
                        clv_cash += cb * (wt / x)
                        nc2[q, d, e] = 0
                        wc2[q, d, e] = 0.0
                        if ce_next[e] < 0:
                            to_main += x
                            w_main += wt
                        else:
                            nc2[q, d, ce_next[e]] += x
                            wc2[q, d, ce_next[e]] += wt
                    x = nm2[q, d]
                    if x > 0:
                        rv = _revenue(state, x, gam_shape[g, d], gam_scale[g, d], rev_mean[g, d])
                        cb = rv * margin[g, d] - x * cost[g, d]
                        revenue += rv
                        contribution += cb
                        if segs:
                            sf[g, F_REVENUE] += rv
                            sf[g, F_CONTRIBUTION] += cb
                        clv_cash += cb * (wm2[q, d] / x)
                    for k in range(K):                       # saved with a concession: first period
                        x = nsave[q, d, k]
                        if x == 0:
                            continue
                        wt = wsave[q, d, k]
                        nsave[q, d, k] = 0
                        wsave[q, d, k] = 0.0
                        rv = _revenue(state, x, gam_shape[g, d], gam_scale[g, d], rev_mean[g, d])
                        cb = rv * (margin[g, d] - conc_disc[W + k]) - x * cost[g, d]
                        revenue += rv
                        contribution += cb
                        if segs:
                            sf[g, F_REVENUE] += rv
                            sf[g, F_CONTRIBUTION] += cb
                        clv_cash += cb * (wt / x)
                        if ret_state[W + k] >= 0:
                            nc2[q, d, ret_state[W + k]] += x
                            wc2[q, d, ret_state[W + k]] += wt
                        else:
                            to_main += x
                            w_main += wt
                    nm2[q, d] += to_main
                    wm2[q, d] += w_main
                for w in range(W):
                    x = nret[q, w]
                    if x == 0:
                        continue
                    wt = wret[q, w]
                    nret[q, w] = 0
                    wret[q, w] = 0.0
                    d = wb_return[w]
                    disc = wb_disc[w] if wb_cperiods[w] > 0 and wb_cseg[w, g] else 0.0
                    rv = _revenue(state, x, gam_shape[g, d], gam_scale[g, d], rev_mean[g, d])
                    cb = rv * (margin[g, d] - disc) - x * cost[g, d]
                    revenue += rv
                    contribution += cb
                    if segs:
                        sf[g, F_REVENUE] += rv
                        sf[g, F_CONTRIBUTION] += cb
                    clv_cash += cb * (wt / x)
                    if ret_state[w] >= 0 and wb_cseg[w, g]:
                        nc2[q, d, ret_state[w]] += x
                        wc2[q, d, ret_state[w]] += wt
                    else:
                        nm2[q, d] += x
                        wm2[q, d] += wt
            clv_total += v[t] * clv_cash
            # arrivals of period t, each weighing 1 / v_t in the CLV accounting
            acquired = 0
            referred = 0
            for c in range(C + 1):
                if c == C and ref_entry < 0:
                    break
                m = arrivals(state, c, t, unowned(ch_expected), unowned(ref_rate), unowned(n_start))
                if c < C:
                    mix = ch_mix[c]
                    entry = ch_entry[c]
                    acquired += m
                    chan_acq[r, c] += m
                else:
                    mix = ref_mix
                    entry = ref_entry
                    referred += m
                if m == 0:
                    continue
                multinomial(state, ARRIVALS, m, unowned(mix), unowned(gsplit))
                for g in range(G):
                    arrived[g, entry] += gsplit[g]
                    if segs:
                        sf[g, F_ACQUIRED if c < C else F_REFERRED] += gsplit[g]
            # one split over the classes per segment and entry stage: sources share the class
            # probabilities, so the sum of their multinomial splits is one multinomial split
            for g in range(G):
                f0, nt = seg_first[g], seg_ntypes[g]
                for s in range(S):
                    m = arrived[g, s]
                    if m == 0:
                        continue
                    arrived[g, s] = 0
                    multinomial(state, HETEROGENEITY, m, unowned(type_w[f0:f0 + nt]), unowned(tsplit))
                    for j in range(nt):
                        nm2[T + f0 + j, s] += tsplit[j]              # cohort class 1: acquired
                        wm2[T + f0 + j, s] += tsplit[j] / v[t]
            # swap buffers (the old state is all zeros after the moves), record occupancy
            nm, nm2 = nm2, nm
            wm, wm2 = wm2, wm
            nc, nc2 = nc2, nc
            wc, wc2 = wc2, wc
            nh, nh2 = nh2, nh
            wh, wh2 = wh2, wh
            pn, pn2 = pn2, pn
            for s in range(S if not segs else 0):            # (with segments: the sums of theirs, below)
                x = 0.0
                for g in range(G):
                    x += lost[g, s]
                for q in range(Q):
                    x += nm[q, s]
                    for e in range(NE):
                        x += nc[q, s, e]
                    if not pooled:
                        for a in range(A):
                            x += nh[q, s, a]
                if pooled:
                    for g in range(G):
                        for a in range(A):
                            x += pn[g, s, a]
                occ[r, t, s] = x
            if segs:                                         # the same sums by segment
                so = seg_occ[r, t]
                for g in range(G):
                    for s in range(S):
                        so[g, s] = lost[g, s]
                for q in range(Q):
                    g = type_seg[q % T]
                    for s in range(S):
                        y = float(nm[q, s])
                        for e in range(NE):
                            y += nc[q, s, e]
                        if not pooled:
                            for a in range(A):
                                y += nh[q, s, a]
                        so[g, s] += y
                if pooled:
                    for g in range(G):
                        for s in range(S):
                            for a in range(A):
                                so[g, s] += pn[g, s, a]
                for s in range(S):                           # totals: sums of integer counts, exact
                    x = 0.0
                    for g in range(G):
                        x += so[g, s]
                    occ[r, t, s] = x
            f = flows[r, t - 1]
            f[F_REVENUE] = revenue
            f[F_CONTRIBUTION] = contribution
            f[F_RETENTION] = ret_total + offer_spend + risk_spend
            f[F_WINBACK] = wb_spend
            f[F_ACQUIRED] = acquired
            f[F_REFERRED] = referred
            f[F_CHURNED] = churned
            f[F_WON] = won
            f[F_CONTACTS] = contacts
        clv_sum[r] = clv_total
        n_acq = 0.0
        for t in range(H):
            n_acq += flows[r, t, F_ACQUIRED] + flows[r, t, F_REFERRED]
        clv_n[r] = n_acq
        work[r] = done


notice_compiles(simulate_counts, "counts-mode", "about 25 s")
