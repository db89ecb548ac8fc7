"""Numba kernel of the fast engine's counts mode (stage counts, not customers).

The state of a run is a set of counts: per group (acquisition cohort x customer
type) and stage, with sub-states where a customer's history matters -- periods
since churn (churned stages: win-back eligibility and success) and concession
periods left (active stages after a win-back). Each period every group moves by
one multinomial draw over its effective row; win-back contacts are binomial per
churn age (capacity filled youngest first, the marginal age split by a
multivariate hypergeometric draw); the revenue of ``n`` customers with
Gamma(k, theta) revenue is one Gamma(n k, theta) draw. Cost per run is independent
of the population size; the result is exact in distribution for homogeneous
customer types. Cohorts (initial population, acquired in period 1..H) are kept
apart so the mean CLV of acquired customers is exact too.

Shared samplers live in :mod:`clmsim.engines.kernels_common`; this module records its
hash so an edit there forces a recompile here (see that module's docstring).
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

from . import kernels_common
from .kernels_common import (  # noqa: F401  (N_FLOWS re-exported for the wrapper)
    N_FLOWS,
    MOVES, REVENUE, ARRIVALS, HETEROGENEITY, WINBACK, N_STREAMS, ACTIVE, CHURNED, LOST, F_REVENUE,
    F_CONTRIBUTION, F_RETENTION, F_WINBACK, F_ACQUIRED, F_REFERRED, F_CHURNED, F_WON, F_CONTACTS,
    seed_streams, reseed, gamma, binomial, poisson, multinomial, hypergeometric, program_factors, row_tables,
    row_table_arrays, churn_target,
)

COMMON_SHA256 = "85abc112e85cb315a5f8b2b67df2929632fe5f5951f6fd692d3fad8d49b32b77"
"""SHA-256 of kernels_common.py this module was compiled against (see its docstring)."""
kernels_common.check_dependency(__name__, COMMON_SHA256)


@njit(cache=True)
def type_rows(type_seg, type_het, type_val, churn_factor, mv_n, mv_cum, mv_dest, msum, ctot, ch_n, ch_dest,
              ch_cum, probs):
    """Effective row probabilities ``probs[type, s, :]`` from the row tables (see ``row_tables``)."""
    T, S = probs.shape[0], probs.shape[1]
    for tau in range(T):
        g = type_seg[tau]
        for s in range(S):
            row = probs[tau, s]
            for d in range(S):
                row[d] = 0.0
            ct = churn_target(churn_factor[s], ctot[g, s], msum[g, s], type_het[tau], type_val[tau])
            prev = 0.0
            for j in range(ch_n[g, s]):
                row[ch_dest[g, s, j]] += ct * (ch_cum[g, s, j] - prev)
                prev = ch_cum[g, s, j]
            prev = 0.0
            for j in range(mv_n[g, s]):
                row[mv_dest[g, s, j]] += mv_cum[g, s, j] - prev
                prev = mv_cum[g, s, j]
            stay = 1.0 - ct - msum[g, s]
            row[s] += stay if stay > 0.0 else 0.0


@njit(cache=True)
def _revenue(state, n, shape, scale, mean):
    """Revenue of ``n`` customers: Gamma(n k, theta) -- the sum of n Gamma(k, theta) -- or ``n`` x mean."""
    if n <= 0:
        return 0.0
    if shape > 0.0:
        return gamma(state, REVENUE, n * shape) * scale
    return n * mean


@njit(cache=True, parallel=True)
def simulate_counts(seeds, kind, P, churn_mask, rev_mean, rev_cv, margin, cost, initial,
                    type_seg, type_het, type_val, seg_first, seg_ntypes,
                    ch_expected, ch_mix, ch_entry, ref_rate, ref_mix, ref_entry,
                    pr_target, pr_upgrade, pr_spend, pr_cap, pr_red, pr_half, pr_lift,
                    wb_of_stage, wb_lo, wb_hi, wb_cov, wb_cost, wb_base, wb_decay, wb_return,
                    wb_disc, wb_cperiods, v, wb_cap, ce_disc, ce_next, ret_state,
                    occ, flows, chan_acq, clv_sum, clv_n, work):
    """Simulate ``R`` runs on counts; writes the output arrays in place.

    Groups ``q = cohort T + type`` (cohort 0: initial population, ``h``: acquired in
    period ``h``; types: segment x heterogeneity class). State: ``nm[q, s]`` (no
    concession), ``nc[q, s, e]`` (concession sub-state ``e``: ``ce_disc[e]`` this
    period, then ``ce_next[e]``, -1 = none), ``nh[q, s, a]`` (churned, age ``a``,
    last age capped). Timing and economics as ``simulate_individual``; outputs the
    same arrays except the CLV histogram (``clv_sum`` is the exact sum over acquired
    customers of their CLV at acquisition).
    """
    R = seeds.shape[0]
    G, S = P.shape[0], P.shape[1]
    T = type_seg.shape[0]
    H = v.shape[0] - 1
    C = ch_expected.shape[0]
    W = wb_lo.shape[0]
    E = max(ce_disc.shape[0], 1)
    A = 1
    for w in range(W):
        A = max(A, wb_hi[w] + 1)
    Q = (H + 1) * T
    for r in prange(R):
        state = np.empty((N_STREAMS, 4), np.uint64)
        seed_streams(seeds[r], state)
        nm = np.zeros((Q, S), np.int64)
        nm2 = np.zeros((Q, S), np.int64)
        nc = np.zeros((Q, S, E), np.int64)
        nc2 = np.zeros((Q, S, E), np.int64)
        nh = np.zeros((Q, S, A), np.int64)
        nh2 = np.zeros((Q, S, A), np.int64)
        ncont = np.zeros((Q, S, A), np.int64)
        nret = np.zeros((Q, max(W, 1)), np.int64)
        lost = np.zeros(S)
        cash = np.zeros(H + 1)
        clv_acc = np.zeros(H + 1)
        churn_factor = np.ones(S)
        upgrade_factor = np.ones((S, S))
        ret_stage = np.zeros(S)
        mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum = row_table_arrays(G, S)
        probs = np.zeros((T, S, S))
        n_start = np.zeros(S)
        split = np.zeros(S, np.int64)
        gsplit = np.zeros(G, np.int64)
        tsplit = np.zeros(T, np.int64)
        uni = np.zeros(T)
        gam_shape = np.zeros((G, S))
        gam_scale = np.zeros((G, S))
        for g in range(G):
            for s in range(S):
                cv = rev_cv[g, s]
                if cv > 0.0:
                    gam_shape[g, s] = 1.0 / (cv * cv)
                    gam_scale[g, s] = rev_mean[g, s] * cv * cv
        # initial population: split over the segment's types (heterogeneity classes)
        for g in range(G):
            nt = seg_ntypes[g]
            for j in range(nt):
                uni[j] = 1.0 / nt
            for s in range(S):
                m = initial[g, s]
                occ[r, 0, s] += m
                if kind[s] == LOST:
                    lost[s] += m
                    continue
                multinomial(state, HETEROGENEITY, m, uni[:nt], tsplit)
                for j in range(nt):
                    q = seg_first[g] + j
                    if kind[s] == CHURNED:
                        nh[q, s, 0] += tsplit[j]
                    else:
                        nm[q, s] += tsplit[j]
        done = 0
        for t in range(1, H + 1):
            nq = t * T                                       # groups alive: cohorts 0..t-1
            total = 0
            for s in range(S):
                n_start[s] = occ[r, t - 1, s]
                if kind[s] != LOST:
                    total += int(n_start[s])
            done += total
            ret_total = program_factors(t, n_start, pr_target, pr_upgrade, pr_spend, pr_cap, pr_red,
                                        pr_half, pr_lift, churn_factor, upgrade_factor, ret_stage)
            row_tables(P, churn_mask, upgrade_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest,
                       ch_cum)
            type_rows(type_seg, type_het, type_val, churn_factor, mv_n, mv_cum, mv_dest, msum, ctot, ch_n,
                      ch_dest, ch_cum, probs)
            for h in range(t):
                cash[h] = 0.0
            for k in range(N_STREAMS):
                reseed(seeds[r], state, k, t)
            # win-back contacts per churn age: Binomial(n, coverage) per group, capacity youngest first
            for w in range(W):
                room = wb_cap[w, t - 1]
                for a in range(wb_lo[w], wb_hi[w]):
                    want = 0
                    for q in range(nq):
                        for s in range(S):
                            if wb_of_stage[s] != w:
                                continue
                            ncont[q, s, a] = 0
                            if nh[q, s, a] > 0:
                                c = binomial(state, WINBACK, nh[q, s, a], wb_cov[w, t - 1])
                                ncont[q, s, a] = c
                                want += c
                    if room >= 0.0 and want > room:
                        keep = int(room)
                        left = want
                        for q in range(nq):
                            for s in range(S):
                                c = ncont[q, s, a] if wb_of_stage[s] == w else 0
                                if c > 0:
                                    x = hypergeometric(state, WINBACK, c, left - c, keep)
                                    left -= c
                                    keep -= x
                                    ncont[q, s, a] = x
                        want = int(room)
                    if room >= 0.0:
                        room -= want
            revenue = 0.0
            contribution = 0.0
            wb_spend = 0.0
            churned = 0
            won = 0
            contacts = 0
            for q in range(nq):
                tau = q % T
                coh = q // T
                for s in range(S):
                    ks = kind[s]
                    row = probs[tau, s]
                    if ks == CHURNED:
                        w = wb_of_stage[s]
                        for a in range(A):
                            n = nh[q, s, a]
                            if n == 0:
                                continue
                            nh[q, s, a] = 0
                            reseed(seeds[r], state, MOVES, ((t * Q + q) * S + s) * (A + E + 1) + a)
                            if w >= 0 and wb_lo[w] <= a < wb_hi[w] and ncont[q, s, a] > 0:
                                c = ncont[q, s, a]
                                contacts += c
                                wb_spend += c * wb_cost[w]
                                cash[coh] -= c * wb_cost[w]
                                x = binomial(state, MOVES, c, wb_base[w] * wb_decay[w] ** a)
                                won += x
                                nret[q, w] += x
                                n -= x
                            multinomial(state, MOVES, n, row, split)
                            a2 = a + 1 if a + 1 < A else A - 1
                            for d in range(S):
                                x = split[d]
                                if x == 0:
                                    continue
                                kd = kind[d]
                                if kd == CHURNED:
                                    nh2[q, d, a2] += x
                                elif kd == LOST:
                                    lost[d] += x
                                else:
                                    nm2[q, d] += x
                    elif ks != LOST:
                        for e in range(-1, ce_disc.shape[0]):
                            if e < 0:
                                n = nm[q, s]
                                nm[q, s] = 0
                            else:
                                n = nc[q, s, e]
                                nc[q, s, e] = 0
                            if n == 0:
                                continue
                            reseed(seeds[r], state, MOVES, ((t * Q + q) * S + s) * (A + E + 1) + A + 1 + e)
                            cash[coh] -= n * ret_stage[s]
                            multinomial(state, MOVES, n, row, split)
                            for d in range(S):
                                x = split[d]
                                if x == 0:
                                    continue
                                kd = kind[d]
                                if kd == CHURNED or kd == LOST:
                                    if ks == ACTIVE:
                                        churned += x
                                    if kd == CHURNED:
                                        nh2[q, d, 0] += x
                                    else:
                                        lost[d] += x
                                elif e >= 0:
                                    nc2[q, d, e] += x
                                else:
                                    nm2[q, d] += x
            # revenue of the active groups after the move; concession sub-states advance
            for q in range(nq):
                g = type_seg[q % T]
                coh = q // T
                for d in range(S):
                    if kind[d] != ACTIVE:
                        continue
                    reseed(seeds[r], state, REVENUE, (t * Q + q) * S + d)
                    to_main = 0
                    for e in range(ce_disc.shape[0]):
                        x = nc2[q, d, e]
                        if x == 0:
                            continue
                        rv = _revenue(state, x, gam_shape[g, d], gam_scale[g, d], rev_mean[g, d])
                        cb = rv * (margin[g, d] - ce_disc[e]) - x * cost[g, d]
                        revenue += rv
                        contribution += cb
                        cash[coh] += cb
                        nc2[q, d, e] = 0
                        if ce_next[e] < 0:
                            to_main += x
                        else:
                            nc2[q, d, ce_next[e]] += x
                    x = nm2[q, d]
                    if x > 0:
                        rv = _revenue(state, x, gam_shape[g, d], gam_scale[g, d], rev_mean[g, d])
                        cb = rv * margin[g, d] - x * cost[g, d]
                        revenue += rv
                        contribution += cb
                        cash[coh] += cb
                    nm2[q, d] += to_main
                for w in range(W):
                    x = nret[q, w]
                    if x == 0:
                        continue
                    nret[q, w] = 0
                    d = wb_return[w]
                    disc = wb_disc[w] if wb_cperiods[w] > 0 else 0.0
                    rv = _revenue(state, x, gam_shape[g, d], gam_scale[g, d], rev_mean[g, d])
                    cb = rv * (margin[g, d] - disc) - x * cost[g, d]
                    revenue += rv
                    contribution += cb
                    cash[coh] += cb
                    if ret_state[w] >= 0:
                        nc2[q, d, ret_state[w]] += x
                    else:
                        nm2[q, d] += x
            for h in range(t):
                clv_acc[h] += v[t] * cash[h]
            # arrivals of period t form cohort t
            acquired = 0
            referred = 0
            for c in range(C + 1):
                if c < C:
                    m = poisson(state, ARRIVALS, ch_expected[c, t - 1])
                    mix = ch_mix[c]
                    entry = ch_entry[c]
                    acquired += m
                    chan_acq[r, c] += m
                else:
                    if ref_entry < 0:
                        break
                    lam = 0.0
                    for s in range(S):
                        lam += ref_rate[s] * n_start[s]
                    m = poisson(state, ARRIVALS, lam)
                    mix = ref_mix
                    entry = ref_entry
                    referred += m
                if m == 0:
                    continue
                multinomial(state, ARRIVALS, m, mix, gsplit)
                for g in range(G):
                    nt = seg_ntypes[g]
                    for j in range(nt):
                        uni[j] = 1.0 / nt
                    multinomial(state, HETEROGENEITY, gsplit[g], uni[:nt], tsplit)
                    for j in range(nt):
                        nm2[t * T + seg_first[g] + j, entry] += tsplit[j]
            # swap buffers, record occupancy
            for s in range(S):
                occ[r, t, s] = lost[s]
            for q in range(nq + T):
                for s in range(S):
                    x = nm2[q, s]
                    nm[q, s] = x
                    nm2[q, s] = 0
                    for e in range(ce_disc.shape[0]):
                        x += nc2[q, s, e]
                        nc[q, s, e] = nc2[q, s, e]
                        nc2[q, s, e] = 0
                    for a in range(A):
                        x += nh2[q, s, a]
                        nh[q, s, a] = nh2[q, s, a]
                        nh2[q, s, a] = 0
                    occ[r, t, s] += x
            f = flows[r, t - 1]
            f[F_REVENUE] = revenue
            f[F_CONTRIBUTION] = contribution
            f[F_RETENTION] = ret_total
            f[F_WINBACK] = wb_spend
            f[F_ACQUIRED] = acquired
            f[F_REFERRED] = referred
            f[F_CHURNED] = churned
            f[F_WON] = won
            f[F_CONTACTS] = contacts
        total_clv = 0.0
        for h in range(1, H + 1):
            total_clv += clv_acc[h] / v[h]
        clv_sum[r] = total_clv
        n_acq = 0.0
        for t in range(H):
            n_acq += flows[r, t, F_ACQUIRED] + flows[r, t, F_REFERRED]
        clv_n[r] = n_acq
        work[r] = done
