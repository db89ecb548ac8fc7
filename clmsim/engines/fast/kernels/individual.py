"""Numba kernel of the fast engine's individual mode (every customer simulated).

Random numbers (see :mod:`clmsim.engines.fast.kernels.samplers`): per run, ``len(PURPOSES)``
streams seeded inside the kernel from 64-bit values; a customer's transition, win-back
and revenue draws are counter-based, keyed by (customer, period), so a run's draws depend
on (seed, run, purpose, customer, period) only -- never on the thread that runs it, nor
on the order of the customer arrays. The kernel simulates a range of runs
(:func:`clmsim.engines.fast.kernels.runtime.run_split` spreads ranges over threads); every
run writes its own output rows and nothing is reduced across runs, so results are
bit-identical for any thread count.

Timing and economics follow :mod:`clmsim.model.compiled` (see ``simulate_individual``).

Bare path (:mod:`clmsim.engines.fast.kernels.individual_bare`): when no segment has heterogeneity, each
period first maps every customer's transition draw to a *code* through a per-(segment,
stage) bucket table (one tight loop, no comparisons); in the customer loop a customer whose
code is settled -- source outside churned and lost stages, no concession running,
destination with fixed revenue -- only gets its stage and its CLV updated and the code
counted, the fixed revenue being added per (segment, stage) after the loop like the fast
path's. Every other customer (a draw near a cumulative probability included) runs the
general path in the same order, so the results are bit-identical with or without it.

Het path (:mod:`clmsim.engines.fast.kernels.individual_het`): in every other period (heterogeneity or
revenue noise, e.g. telecom) three passes run before the customer loop -- the draws of
every customer in one vectorised loop (transition uniform, first revenue-gamma attempt),
flat per-(segment, stage) tables, and the fast path for every customer in a lean loop
(``het_settle``: stage, discounted cash and counts updated, revenue and contribution
stored) -- and the customer loop, in its usual order, adds the stored revenue of runs of
settled customers to the period's sums and runs the general path on the others with the
destination already drawn. The sums see the same values in the same order, so results are
bit-identical with or without it (telecom with every feature on: 4.8e7 -> 5.4e7
customer-periods/s per core).

``CLMSIM_FAST_PATHS=0`` (the kernel's ``fast_paths`` argument) turns both paths off: every
customer then runs the general path, and the tests check that every scenario of the
library and the reference set gives the same bits both ways.
"""

from __future__ import annotations

import numpy as np

from .jit import entry, helper, inlined
from .counter_rng import GOLDEN, counter_uniform, customer_key
from .individual_bare import BUCKET_BITS, bucket_codes, bucket_tables
from .individual_het import N_T, SRC_GENERAL, draw_pass, gamma_rev_keyed, het_settle, het_tables
from .individual_rows import flat_tables
from .regimes import load_regime, regime_start, revenue_tables, scale_churn
from .risk import risk_care
from .runtime import notice_compiles
from .samplers import (
    MOVES, REVENUE, ARRIVALS, HETEROGENEITY, WINBACK, N_STREAMS, ACTIVE, CHURNED, LOST, HET_NONE,
    HET_GAMMA, HET_BETA, F_REVENUE, F_CONTRIBUTION, F_RETENTION, F_WINBACK, F_ACQUIRED, F_REFERRED,
    F_CHURNED, F_WON, F_CONTACTS, seed_streams, reseed, arrivals, gamma, beta, binomial,
    multinomial, program_factors, row_tables, row_table_arrays, churn_target, sample_row, segment_occupancy,
)


@inlined
def _draw_het(state, kind, a, b):
    if kind == HET_GAMMA:
        return gamma(state, HETEROGENEITY, a) * b
    if kind == HET_BETA:
        return beta(state, HETEROGENEITY, a, b)
    return 1.0


@helper
def _hist_bin(value, lo, width, nb):
    """Fixed bins ``[lo + i w, lo + (i + 1) w)``: index ``1 + i``; 0 and ``nb + 1`` are
    under/overflow (scalars only: no array reference taken per finalised customer)."""
    x = (value - lo) / width
    if x < 0.0:
        return 0
    if x >= nb:
        return nb + 1
    return 1 + int(x)


@entry
def simulate_individual(r0, r1, seeds, m, out, fast_paths):
    """Simulate runs ``r0 .. r1 - 1`` customer by customer; writes rows ``r`` of ``out`` in place.

    ``seeds[r]`` are run ``r``'s stream seeds, ``m`` the model
    (:class:`clmsim.engines.fast.bundle.KernelModel`), ``out`` the outputs
    (:class:`~clmsim.engines.fast.bundle.KernelOutput`). ``fast_paths=False`` runs every
    customer through the general path (no bare or het path): the results are bit-identical,
    which the tests check.

    Per period ``t``: start occupancy -> program spend (caps spread evenly) and row
    tables; win-back contacts per churn age ``k`` = Binomial(eligible, coverage),
    capacity filled from ``k = eligible_after`` upwards (most recent churners
    first), contacted customers chosen by selection sampling; every customer then
    moves (won-back customers jump to the return stage), active customers earn
    ``R ~ Gamma(1/cv^2, mean cv^2)``, contribution ``R (margin - discount) - cost``;
    a customer reaching a lost stage is finalised and removed (memory O(live
    customers)); Poisson acquisitions and referrals join at the end of ``t``.
    Per-customer CLV ``sum_t v^(t - t_acq) cash_t`` (cash net of program spend and
    contact cost on it) goes into ``clv_sum``/``clv_n`` (acquired customers) and
    fixed-bin histograms ``hist[r, cohort]`` (0 initial, 1 acquired).

    Outputs: ``occ (R, H+1, S)`` end-of-period occupancy, ``flows (R, H, N_FLOWS)``,
    ``chan_acq (R, C)``, ``clv_sum, clv_n (R,)``, ``hist (R, 2, B+2)``, ``work (R,)``
    customer-periods simulated; with more than one segment also ``seg_flows (R, H, G, N_FLOWS)``
    (each item where the total is accumulated, by the customer's segment; program spend
    ``sum_s spend_s x start count_{g,s}``) and ``seg_occ (R, H+1, G, S)`` (a pass over the live
    customers at the end of each period, lost stages counted as customers leave).
    """
    # the bundle's fields, at most three per line: a longer tuple assignment builds and unpacks a
    # tuple of arrays, which numba compiles into reference counting of each (6% more IR)
    kind, P_all, churn_mask = m.kind, m.P, m.churn_mask
    initial, v = m.initial, m.v
    rev_all, rev_cv, margin_all = m.rev_mean, m.rev_cv, m.margin
    cost = m.cost
    regime, churn_scale = m.regime, m.churn_scale
    dynamic = P_all.shape[0] > 1
    P, rev_mean, margin = regime_start(P_all, rev_all, margin_all)    # the period's regime, copied in
    het_kind, het_a, het_b = m.het_kind, m.het_a, m.het_b
    ch_expected, ch_mix, ch_entry = m.ch_expected, m.ch_mix, m.ch_entry
    ref_rate, ref_mix, ref_entry = m.ref_rate, m.ref_mix, m.ref_entry
    pr_target, pr_partial, pr_upgrade = m.pr_target, m.pr_partial, m.pr_upgrade
    pr_spend, pr_cap = m.pr_spend, m.pr_cap
    pr_red, pr_half, pr_lift = m.pr_red, m.pr_half, m.pr_lift
    wb_of_stage, wb_lo, wb_hi = m.wb_of_stage, m.wb_lo, m.wb_hi
    wb_cov, wb_cost = m.wb_cov, m.wb_cost
    wb_base, wb_decay, wb_return = m.wb_base, m.wb_decay, m.wb_return
    wb_disc = m.wb_disc
    wb_seg, wb_cseg = m.wb_seg, m.wb_cseg
    ic_of, ic_spend, ic_p = m.ic_of, m.ic_spend, m.ic_p
    ic_save, ic_cperiods, ic_cseg = m.ic_save, m.ic_cperiods, m.ic_cseg
    ic_rq = m.ic_rq
    rk_target, rk_q, rk_spend = m.rk_target, m.rk_q, m.rk_spend
    rk_fac = m.rk_fac
    KR = rk_spend.shape[0]
    conc_disc = m.conc_disc
    wb_cperiods, wb_cap, hist_lo = m.wb_cperiods, m.wb_cap, m.hist_lo
    hist_width = m.hist_width
    occ, flows, chan_acq = out.occ, out.flows, out.chan_acq
    clv_sum, clv_n, hist = out.clv_sum, out.clv_n, out.hist
    work, seg_flows, seg_occ = out.work, out.seg_flows, out.seg_occ
    segs = seg_flows.shape[2] > 0      # per-segment outputs (more than one segment)
    G, S = P.shape[0], P.shape[1]
    H = v.shape[0] - 1
    C = ch_expected.shape[0]
    W = wb_lo.shape[0]
    NB = hist.shape[2] - 2
    A = 1
    for w in range(W):
        A = max(A, wb_hi[w] + 1)
    wb_all = True                             # every win-back policy reaches every segment: the
    for w in range(W):                        # customer loop skips the per-segment test
        for g in range(G):
            wb_all = wb_all and wb_seg[w, g]
    rk_cell = np.zeros((G, S), np.bool_)      # cells of risk-targeted care programs: general path
    for p in range(KR):
        for g in range(G):
            for s in range(S):
                rk_cell[g, s] = rk_cell[g, s] or rk_target[p, g, s]
    n0 = 0
    for g in range(G):
        for s in range(S):
            if kind[s] != LOST:
                n0 += initial[g, s]
    expected_arrivals = 0.0
    for c in range(C):
        for t in range(H):
            expected_arrivals += ch_expected[c, t]
    ref_max = 0.0
    for s in range(S):
        ref_max = max(ref_max, ref_rate[s])
    cap0 = n0 + int(1.2 * expected_arrivals) + 1024
    if ref_entry >= 0:
        cap0 += int(min(ref_max * n0 * H * 2.0, 1e7))
    for r in range(r0, r1):
        state = np.empty((N_STREAMS, 4), np.uint64)
        seed_streams(seeds[r], state)
        cap = cap0
        stage = np.empty(cap, np.int8)
        seg = np.empty(cap, np.int8)
        mult = np.empty(cap, np.float64)
        age = np.empty(cap, np.int16)
        conc = np.empty(cap, np.int16)
        cpol = np.empty(cap, np.int8)
        tacq = np.empty(cap, np.int32)
        cid = np.empty(cap, np.uint64)
        clv = np.empty(cap, np.float64)
        # tables
        churn_factor = np.ones((G, S), np.float64)
        upgrade_factor = np.ones((G, S, S), np.float64)
        ret_stage = np.zeros((G, S), np.float64)
        n_seg = np.zeros((G, S), np.float64)
        count_seg = False
        for p in range(pr_partial.shape[0]):
            count_seg = count_seg or pr_partial[p]
        mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum = row_table_arrays(G, S)
        fl_n = np.zeros((G, S), np.int64)
        fl_dest = np.zeros((G, S, S), np.int64)
        fl_cum = np.zeros((G, S, S), np.float64)
        fixed_cb = np.zeros((G, S), np.float64)
        gam_d = np.zeros((G, S), np.float64)
        gam_c = np.zeros((G, S), np.float64)
        n_conc = 0                     # (counted, not a literal True: see _no_literals)
        for w in range(W):
            n_conc += wb_cperiods[w] > 0
        for k in range(ic_cperiods.shape[0]):
            n_conc += ic_cperiods[k] > 0
        no_conc = n_conc == 0
        offers = ic_spend.shape[0] > 0
        # bare path (individual_bare): every segment without heterogeneity, bucket table <= 128 kB
        bare = fast_paths and G * S <= 64
        for g in range(G):
            bare = bare and het_kind[g] == HET_NONE
        NCD = G * S * S + 1
        bk = np.zeros((G * S << BUCKET_BITS) if bare else 1, np.int16)
        bk_cum = np.full((G, S, S), -1.0)
        code = np.empty(cap if bare else 1, np.int16)
        umv = np.empty(cap, np.float64)             # draws of individual_het.draw_pass
        xg = np.empty(cap, np.float64)
        tb = np.zeros(G * S * N_T, np.float64)
        mode = np.zeros(2 * G * S, np.int64)
        fx = np.zeros(cap, np.int8)
        rc = np.empty(2 * cap, np.float64)
        cd_dest = np.zeros(NCD, np.int8)
        cd_w = np.zeros(NCD, np.float64)
        cd_fast = np.zeros(NCD, np.bool_)
        cd_cnt = np.zeros((4, NCD), np.int64)
        fast_src = np.zeros((G, S), np.bool_)
        fast_dst = np.zeros((G, S), np.bool_)
        n_start = np.zeros(S, np.float64)
        n_end = np.zeros(S, np.float64)
        cnt = np.zeros(S, np.int64)
        elig = np.zeros((W, A), np.int64)
        elig_next = np.zeros((W, A), np.int64)
        quota = np.zeros((W, A), np.int64)
        split = np.zeros(G, np.int64)
        cntg = np.zeros((G, S), np.int64)
        lostg = np.zeros((G, S), np.float64)        # per-segment occupancy of lost stages
        oc4 = np.zeros(4 * G * S if segs else 1, np.int64)   # live customers per (segment, stage), 4 lanes
        sacc = np.zeros(2 * G, np.float64)          # per-segment revenue, contribution of the period
        mv_last = np.zeros((G, S), np.float64)
        noisy = np.zeros((G, S), np.bool_)
        gam_shape = np.zeros((G, S), np.float64)
        gam_scale = np.zeros((G, S), np.float64)
        rg_prev = -1
        # initial population (time 0): churned customers have churn age 0
        n = np.int64(0)                # live customers (an int64 from the start: see _no_literals)
        for g in range(G):
            for s in range(S):
                if kind[s] == LOST:
                    occ[r, 0, s] += initial[g, s]
                    n_end[s] += initial[g, s]
                    lostg[g, s] += initial[g, s]
                    continue
                for _ in range(initial[g, s]):
                    stage[n] = s
                    seg[n] = g
                    mult[n] = _draw_het(state, het_kind[g], het_a[g], het_b[g])
                    age[n] = 0
                    conc[n] = 0
                    cpol[n] = 0
                    tacq[n] = 0
                    cid[n] = customer_key(n)
                    clv[n] = 0.0
                    n += 1
                occ[r, 0, s] += initial[g, s]
                n_end[s] += initial[g, s]
                w = wb_of_stage[s]
                if w >= 0 and wb_lo[w] == 0 and wb_seg[w, g]:
                    elig_next[w, 0] += initial[g, s]
        next_id = n
        clv_total = 0.0
        clv_count = 0
        done = 0
        for t in range(1, H + 1):
            vt = v[t]
            rg = regime[t - 1]
            if rg != rg_prev:          # the period's regime (scheduled dynamics): its rows and revenue tables
                if dynamic:
                    load_regime(P_all, rev_all, margin_all, rg, P, rev_mean, margin)
                revenue_tables(kind, rev_mean, rev_cv, margin, cost, gam_shape, gam_scale, gam_d, gam_c, fixed_cb,
                               noisy, fast_src, fast_dst)
                for g in range(G):               # cells of risk-targeted care: the general path
                    for s in range(S):
                        fast_src[g, s] = fast_src[g, s] and not rk_cell[g, s]
                rg_prev = rg
            for k in range(N_STREAMS):
                reseed(seeds[r], state, k, t)
            for s in range(S):
                n_start[s] = n_end[s]
                if kind[s] != LOST:
                    n_end[s] = 0.0
            if count_seg:
                segment_occupancy(n, stage, seg, n_seg)
            ret_total = program_factors(t, n_start, n_seg, pr_target, pr_partial, pr_upgrade, pr_spend, pr_cap,
                                        pr_red, pr_half, pr_lift, churn_factor, upgrade_factor, ret_stage)
            if dynamic:
                scale_churn(churn_factor, churn_scale[rg])
            row_tables(P, churn_mask, upgrade_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest,
                       ch_cum)
            flat_tables(churn_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum, fl_n, fl_dest,
                        fl_cum)
            for g in range(G):
                for s in range(S):
                    mv_last[g, s] = mv_cum[g, s, mv_n[g, s] - 1] if mv_n[g, s] > 0 else 0.0
            sf = seg_flows[r, t - 1]
            if segs:                   # program spend per segment: per-customer spend x start counts
                for g in range(G):
                    x = 0.0
                    for s in range(S):
                        x += ret_stage[g, s] * seg_occ[r, t - 1, g, s]
                    sf[g, F_RETENTION] = x
            # win-back quotas: Binomial(eligible, coverage) per age, capacity from the youngest
            for w in range(W):
                room = wb_cap[w, t - 1]
                for a in range(A):
                    elig[w, a] = elig_next[w, a]
                    elig_next[w, a] = 0
                    q = binomial(state, WINBACK, elig[w, a], wb_cov[w, t - 1]) if elig[w, a] > 0 else 0
                    if room >= 0.0:
                        if q > room:
                            q = int(room)
                        room -= q
                    quota[w, a] = q
            revenue = 0.0
            contribution = 0.0
            wb_spend = 0.0
            offer_spend = 0.0
            risk_spend = 0.0
            churned = 0
            won = 0
            contacts = 0
            done += n
            for s in range(S):
                cnt[s] = 0
            seed_mv = seeds[r, MOVES]
            seed_wb = seeds[r, WINBACK]
            seed_rev = seeds[r, REVENUE]
            bare_t = bare and bucket_tables(fl_n, fl_cum, fl_dest, fast_src, fast_dst, noisy, fixed_cb, ret_stage,
                                            vt, bk, bk_cum, cd_dest, cd_w, cd_fast)
            het_t = fast_paths and not bare_t
            tg = np.uint64(t) * GOLDEN
            if bare_t:                 # pass 1: every customer's code from its transition draw
                bucket_codes(n, stage, seg, cid, seed_mv, tg, S, G, bk, code)
            elif het_t:                # individual_het: draws of every customer, lean fast path
                draw_pass(n, cid, seed_mv, seed_rev, tg, umv, xg)
                het_tables(kind, het_kind, churn_factor, ctot, msum, mv_last, ret_stage, gam_shape, gam_d, gam_c,
                           gam_scale, margin, cost, fixed_cb, tb, mode)
                if KR > 0:             # customers of risk-targeted cells take the general path
                    for g in range(G):
                        for s in range(S):
                            if rk_cell[g, s]:
                                mode[2 * (g * S + s)] = SRC_GENERAL
                het_settle(n, S, G, vt, no_conc, stage, seg, mult, conc, clv, cid, umv, xg, seed_rev, tg, tb, mode,
                           fl_cum, fl_dest, mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum, cnt, cntg, fx, rc)
            i = 0
            while i < n:
                if bare_t:
                    # settled code: the general fast path's fixed-revenue branch, precomputed
                    c = code[i]
                    if cd_fast[c] and (no_conc or conc[i] == 0):
                        clv[i] += cd_w[c]
                        stage[i] = cd_dest[c]
                        cd_cnt[i & 3, c] += 1
                        i += 1
                        continue
                elif het_t:
                    # customers settled by het_settle: their revenue joins the sums in customer order
                    # (two copies of the loop: a test of `segs` per customer cost 1.6% of the kernel's
                    # instructions on telecom)
                    if segs:
                        while i < n and fx[i] < 0:
                            if fx[i] == -2:
                                revenue += rc[2 * i]
                                contribution += rc[2 * i + 1]
                                sacc[2 * seg[i]] += rc[2 * i]
                                sacc[2 * seg[i] + 1] += rc[2 * i + 1]
                            i += 1
                    else:
                        while i < n and fx[i] < 0:
                            if fx[i] == -2:
                                revenue += rc[2 * i]
                                contribution += rc[2 * i + 1]
                            i += 1
                    if i >= n:
                        break
                s = stage[i]
                g = seg[i] if G > 1 else 0
                ns_pre = -1
                key = cid[i] + np.uint64(t) * GOLDEN
                if fast_src[g, s]:
                    # fast path: a customer outside churned stages moving to an active (or prospect)
                    # stage, no concession running
                    if het_t:
                        ns = fx[i]             # het_settle's destination (the same draw)
                    elif het_kind[g] == HET_NONE:
                        # entries past the row's last are 2.0: a fixed-length, branch-free count
                        u = counter_uniform(seed_mv, key)
                        j = 0
                        for k in range(S - 1):
                            j += u >= fl_cum[g, s, k]
                        ns = fl_dest[g, s, j]
                    else:
                        u = counter_uniform(seed_mv, key)
                        ct = churn_target(churn_factor[g, s], ctot[g, s], msum[g, s], het_kind[g], mult[i])
                        ns = sample_row(u, s, g, ct, mv_last, mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum)
                    if fast_dst[g, ns] and (no_conc or conc[i] == 0):
                        if not noisy[g, ns]:
                            clv[i] += vt * (fixed_cb[g, ns] - ret_stage[g, s])
                            cntg[g, ns] += 1
                            stage[i] = ns
                            i += 1
                            continue
                        if gam_shape[g, ns] >= 1.0:
                            rv = gamma_rev_keyed(gam_d[g, ns], gam_c[g, ns], seed_rev, key)
                            rv *= gam_scale[g, ns]
                            cb = rv * margin[g, ns] - cost[g, ns]
                        else:
                            rv = rev_mean[g, ns]
                            cb = fixed_cb[g, ns]
                        revenue += rv
                        contribution += cb
                        if segs:
                            sacc[2 * g] += rv
                            sacc[2 * g + 1] += cb
                        clv[i] += vt * (cb - ret_stage[g, s])
                        cnt[ns] += 1
                        stage[i] = ns
                        i += 1
                        continue
                    ns_pre = ns
                cash = -ret_stage[g, s]
                cf = -1.0                      # no risk-targeted care: the period's factor churn_factor[g, s],
                                               # read only on the path that draws with it
                if KR > 0 and rk_cell[g, s]:
                    # risk-targeted care (target_risk): the customers whose draw is above the threshold
                    cf, y, _ = risk_care(t, g, s, mult[i], churn_factor[g, s], rk_target, rk_q, rk_fac, rk_spend)
                    cash -= y
                    risk_spend += y
                    if segs:
                        sf[g, F_RETENTION] += y
                ns = -1
                ks = kind[s]
                if ks == CHURNED:
                    w = wb_of_stage[s]
                    k = age[i]
                    if w >= 0 and wb_lo[w] <= k < wb_hi[w] and (wb_all or wb_seg[w, g]):
                        u1 = counter_uniform(seed_wb, key)
                        u2 = counter_uniform(seed_wb, key + np.uint64(0xD1B54A32D192ED03))
                        if u1 * elig[w, k] < quota[w, k]:
                            quota[w, k] -= 1
                            contacts += 1
                            cash -= wb_cost[w]
                            wb_spend += wb_cost[w]
                            if segs:
                                sf[g, F_CONTACTS] += 1.0
                                sf[g, F_WINBACK] += wb_cost[w]
                            if u2 < wb_base[w, g] * wb_decay[w, g] ** k:
                                ns = wb_return[w]
                                won += 1
                                if segs:
                                    sf[g, F_WON] += 1.0
                                conc[i] = wb_cperiods[w] if wb_cseg[w, g] else 0
                                cpol[i] = w
                                age[i] = 0
                        elig[w, k] -= 1
                    if ns < 0:
                        if het_t:
                            ns = fx[i]         # het_settle's destination (the same draw)
                        else:
                            u = counter_uniform(seed_mv, key)
                            ns = sample_row(u, s, g, 0.0, mv_last, mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum)
                        if kind[ns] == CHURNED:
                            if age[i] < A - 1:
                                age[i] += 1
                        else:
                            age[i] = 0
                elif ns_pre >= 0:
                    ns = ns_pre
                else:
                    u = counter_uniform(seed_mv, key)
                    if het_kind[g] == HET_NONE:
                        j = 0
                        for k in range(fl_n[g, s] - 1):
                            j += u >= fl_cum[g, s, k]
                        ns = fl_dest[g, s, j]
                    else:
                        ct = churn_target(churn_factor[g, s] if cf < 0.0 else cf, ctot[g, s], msum[g, s],
                                          het_kind[g], mult[i])
                        ns = sample_row(u, s, g, ct, mv_last, mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum)
                if (offers and ks == ACTIVE and (kind[ns] == CHURNED or kind[ns] == LOST) and ic_of[g, s] >= 0
                        and mult[i] > ic_rq[ic_of[g, s], g]):
                    # a save offer to a customer trying to leave (among the riskiest with target_risk):
                    # paid per attempt, saves with p_g(t)
                    k = ic_of[g, s]
                    cash -= ic_spend[k, t - 1]
                    offer_spend += ic_spend[k, t - 1]
                    if segs:
                        sf[g, F_RETENTION] += ic_spend[k, t - 1]
                    if counter_uniform(seed_wb, key + np.uint64(0x8CB92BA72F3D8DD7)) < ic_p[k, g, t - 1]:
                        ns = s if ic_save[k] < 0 else ic_save[k]
                        conc[i] = ic_cperiods[k] if ic_cseg[k, g] else 0
                        cpol[i] = W + k
                if ks == ACTIVE and (kind[ns] == CHURNED or kind[ns] == LOST):
                    churned += 1
                    if segs:
                        sf[g, F_CHURNED] += 1.0
                    conc[i] = 0
                    age[i] = 0
                kn = kind[ns]
                if kn == ACTIVE:
                    if gam_shape[g, ns] > 0.0 or conc[i] > 0:
                        rv = rev_mean[g, ns]
                        if gam_shape[g, ns] >= 1.0:
                            rv = gamma_rev_keyed(gam_d[g, ns], gam_c[g, ns], seed_rev, key)
                            rv *= gam_scale[g, ns]
                        elif gam_shape[g, ns] > 0.0:
                            rv = gamma(state, REVENUE, gam_shape[g, ns]) * gam_scale[g, ns]
                        mg = margin[g, ns]
                        if conc[i] > 0:
                            mg -= conc_disc[cpol[i]]
                            conc[i] -= 1
                        cb = rv * mg - cost[g, ns]
                    else:
                        rv = rev_mean[g, ns]
                        cb = fixed_cb[g, ns]
                    revenue += rv
                    contribution += cb
                    if segs:
                        sacc[2 * g] += rv
                        sacc[2 * g + 1] += cb
                    cash += cb
                clv[i] += vt * cash
                cnt[ns] += 1
                if kn == LOST:
                    if segs:
                        lostg[g, ns] += 1.0
                    val = clv[i] / v[tacq[i]]
                    coh = 1 if tacq[i] > 0 else 0
                    if coh == 1:
                        clv_total += val
                        clv_count += 1
                    hist[r, coh, _hist_bin(val, hist_lo, hist_width, NB)] += 1
                    n -= 1
                    stage[i] = stage[n]
                    seg[i] = seg[n]
                    mult[i] = mult[n]
                    age[i] = age[n]
                    conc[i] = conc[n]
                    cpol[i] = cpol[n]
                    tacq[i] = tacq[n]
                    cid[i] = cid[n]
                    clv[i] = clv[n]
                    if bare_t:
                        code[i] = code[n]
                    elif het_t:
                        fx[i] = fx[n]
                        rc[2 * i] = rc[2 * n]
                        rc[2 * i + 1] = rc[2 * n + 1]
                    continue
                stage[i] = ns
                if kn == CHURNED:
                    w = wb_of_stage[ns]
                    if w >= 0 and wb_lo[w] <= age[i] < wb_hi[w] and (wb_all or wb_seg[w, g]):
                        elig_next[w, age[i]] += 1
                i += 1
            if bare_t:                 # bare-path counts join the fixed-revenue aggregation
                for c in range(NCD - 1):
                    m = cd_cnt[0, c] + cd_cnt[1, c] + cd_cnt[2, c] + cd_cnt[3, c]
                    if m > 0:
                        cntg[c // (S * S), cd_dest[c]] += m
                        for k in range(4):
                            cd_cnt[k, c] = 0
            for g in range(G):
                for s in range(S):
                    # fast-path customers counted per (segment, stage); fixed revenue added here
                    revenue += cntg[g, s] * rev_mean[g, s]
                    contribution += cntg[g, s] * fixed_cb[g, s]
                    if segs:
                        sacc[2 * g] += cntg[g, s] * rev_mean[g, s]
                        sacc[2 * g + 1] += cntg[g, s] * fixed_cb[g, s]
                    cnt[s] += cntg[g, s]
                    cntg[g, s] = 0
            if segs:                   # revenue and contribution by segment, summed in sacc (contiguous)
                for g in range(G):
                    sf[g, F_REVENUE] = sacc[2 * g]
                    sf[g, F_CONTRIBUTION] = sacc[2 * g + 1]
                    sacc[2 * g] = 0.0
                    sacc[2 * g + 1] = 0.0
            for s in range(S):
                n_end[s] += cnt[s]
            # arrivals join at the end of the period
            acquired = 0
            referred = 0
            for c in range(C + 1):
                if c == C and ref_entry < 0:
                    break
                m = arrivals(state, c, t, ch_expected, ref_rate, n_start)
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
                if n + m > cap:
                    newcap = max(2 * cap, n + m + 1024)
                    stage = _grow(stage, n, np.empty(newcap, np.int8))
                    seg = _grow(seg, n, np.empty(newcap, np.int8))
                    cpol = _grow(cpol, n, np.empty(newcap, np.int8))
                    age = _grow(age, n, np.empty(newcap, np.int16))
                    conc = _grow(conc, n, np.empty(newcap, np.int16))
                    tacq = _grow(tacq, n, np.empty(newcap, np.int32))
                    cid = _grow(cid, n, np.empty(newcap, np.uint64))
                    mult = _grow(mult, n, np.empty(newcap, np.float64))
                    clv = _grow(clv, n, np.empty(newcap, np.float64))
                    if bare:
                        code = np.empty(newcap, np.int16)
                    umv = np.empty(newcap, np.float64)
                    xg = np.empty(newcap, np.float64)
                    fx = np.zeros(newcap, np.int8)
                    rc = np.empty(2 * newcap, np.float64)
                    cap = newcap
                multinomial(state, ARRIVALS, m, mix, split)
                if segs:
                    for g in range(G):
                        sf[g, F_ACQUIRED if c < C else F_REFERRED] += split[g]
                for g in range(G):
                    for _ in range(split[g]):
                        stage[n] = entry
                        seg[n] = g
                        mult[n] = _draw_het(state, het_kind[g], het_a[g], het_b[g])
                        age[n] = 0
                        conc[n] = 0
                        cpol[n] = 0
                        tacq[n] = t
                        cid[n] = customer_key(next_id)
                        next_id += 1
                        clv[n] = 0.0
                        n += 1
                n_end[entry] += m
            for s in range(S):
                occ[r, t, s] = n_end[s]
            if segs:                   # per-segment occupancy: one pass over the live customers
                so = seg_occ[r, t]
                for j in range(n):             # integer lanes: no store-to-load chain, exact counts
                    oc4[((j & 3) * G + seg[j]) * S + stage[j]] += 1
                for g in range(G):
                    for s in range(S):
                        live = 0
                        for k in range(4):
                            live += oc4[(k * G + g) * S + s]
                            oc4[(k * G + g) * S + s] = 0
                        so[g, s] = lostg[g, s] + live
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
        for i in range(n):
            val = clv[i] / v[tacq[i]]
            coh = 1 if tacq[i] > 0 else 0
            if coh == 1:
                clv_total += val
                clv_count += 1
            hist[r, coh, _hist_bin(val, hist_lo, hist_width, NB)] += 1
        clv_sum[r] = clv_total
        clv_n[r] = clv_count
        work[r] = done


@helper
def _grow(a, n, b):
    """``b`` with ``a[:n]`` copied in (``b``: the larger array, allocated by the caller with the
    same dtype class as ``a`` was -- numba then reuses that allocation's compiled code; an
    explicit loop, as slice assignment compiles numba's shape-mismatch message formatting)."""
    for j in range(n):
        b[j] = a[j]
    return b


notice_compiles(simulate_individual, "individual-mode", "about 30 s")
