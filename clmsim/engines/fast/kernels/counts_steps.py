"""Per-period steps of the counts-mode kernel (:mod:`clmsim.engines.fast.kernels.counts`).

Row probabilities per customer type, revenue of a group, win-back contacts per churn age,
per-segment counts, the test whether the row tables must be rebuilt, save offers, the
sub-stream key of a group and the moves of a churn pool. Each is a small jitted helper
(:func:`.jit.helper`) the kernel calls once or more per period; their random numbers come from
the streams the kernel passes in, so moving code between these modules changes no draw.
"""

from __future__ import annotations

import numpy as np

from .jit import helper, inlined
from .samplers import (
    MOVES, REVENUE, WINBACK, ACTIVE, CHURNED, LOST, reseed, unowned, gamma, binomial, multinomial,
    row_probs, churn_target,
)
from .hypergeometric import hypergeometric


@helper
def type_rows(type_seg, type_het, type_val, churn_factor, mv_n, mv_cum, mv_dest, msum, ctot, ch_n, ch_dest,
              ch_cum, probs):
    """Effective row probabilities ``probs[type, s, :]`` from the row tables (see ``row_tables``)."""
    T, S = probs.shape[0], probs.shape[1]
    for tau in range(T):
        g = type_seg[tau]
        for s in range(S):
            # (a plain view of probs: with the segment's factor, an unowned view measured 3x slower)
            cf = churn_factor[g, s]
            ct = churn_target(cf, ctot[g, s], msum[g, s], type_het[tau], type_val[tau])
            row_probs(g, s, ct, mv_n, mv_dest, mv_cum, msum, ch_n, ch_dest, ch_cum, probs[tau, s])


@inlined
def _revenue(state, n, shape, scale, mean):
    """Revenue of ``n`` customers: Gamma(n k, theta) -- the sum of n Gamma(k, theta) -- or ``n`` x mean."""
    if n <= 0:
        return 0.0
    if shape > 0.0:
        return gamma(state, REVENUE, n * shape) * scale
    return n * mean


@helper
def _contacts(state, cnt, cont, wb_of_stage, w, lo, hi, cov, room, unit_seg, reach):
    """Win-back contacts of policy ``w`` per unit ``u`` (group or pool), stage and churn age:
    ``cont[u, s, a] ~ Binomial(cnt[u, s, a], cov)`` for units of segments the policy reaches
    (``reach[unit_seg[u]]``, else 0); with a capacity (``room >= 0``) ages are
    served youngest first and the contacts of the marginal age are a uniform subset of those
    wanted (multivariate hypergeometric over the units)."""
    U, S = cnt.shape[0], cnt.shape[1]
    for a in range(lo, hi):
        want = 0
        for u in range(U):
            for s in range(S):
                if wb_of_stage[s] != w:
                    continue
                cont[u, s, a] = 0
                if cnt[u, s, a] > 0 and reach[unit_seg[u]]:
                    c = binomial(state, WINBACK, cnt[u, s, a], cov)
                    cont[u, s, a] = c
                    want += c
        if room >= 0.0 and want > room:
            keep = int(room)
            left = want
            for u in range(U):
                for s in range(S):
                    c = cont[u, s, a] if wb_of_stage[s] == w else 0
                    if c > 0:
                        x = hypergeometric(state, WINBACK, c, left - c, keep)
                        left -= c
                        keep -= x
                        cont[u, s, a] = x
            want = int(room)
        if room >= 0.0:
            room -= want


@helper
def _segment_counts(nm, nc, q_seg, kind, n_seg):
    """``n_seg[g, s]``: customers of segment ``g`` in active stage ``s`` (programs aimed at
    some segments count the customers they reach)."""
    Q, S, NE = nc.shape[0], nc.shape[1], nc.shape[2]
    n_seg[:, :] = 0.0
    for q in range(Q):
        for s in range(S):
            if kind[s] == ACTIVE:
                x = nm[q, s]
                for e in range(NE):
                    x += nc[q, s, e]
                n_seg[q_seg[q], s] += x


@helper
def _unchanged(churn_factor, upgrade_factor, cf_prev, uf_prev):
    """Whether the program factors equal last period's (then copied into ``*_prev``)."""
    same = True
    G, S = churn_factor.shape[0], churn_factor.shape[1]
    for g in range(G):
        for s in range(S):
            same = same and churn_factor[g, s] == cf_prev[g, s]
            cf_prev[g, s] = churn_factor[g, s]
            for d in range(S):
                same = same and upgrade_factor[g, s, d] == uf_prev[g, s, d]
                uf_prev[g, s, d] = upgrade_factor[g, s, d]
    return same


@helper
def _save_offers(state, split, kind, p):
    """Save offers to a group's churners (``split`` over destinations): each is saved with
    ``p`` (Binomial per churn destination; the saved are taken out of ``split``). Returns
    ``(offers, saved)``."""
    tried = 0
    saved = 0
    for d in range(split.shape[0]):
        if split[d] > 0 and (kind[d] == CHURNED or kind[d] == LOST):
            tried += split[d]
            y = binomial(state, MOVES, split[d], p)
            split[d] -= y
            saved += y
    return tried, saved


ACTIVE_SUB = 1 << 15
"""Sub-stream sub-states of a group: churn age ``a`` (< 2^15), else ``ACTIVE_SUB + 1 + e``
(concession sub-state ``e``, -1 for none)."""


@helper
def substream(t, c, g, j, s, sub):
    """Key of a group's sub-stream in period ``t``: cohort class ``c`` (0, 1), segment ``g``
    (< 128), heterogeneity class ``j`` within it (< 256), stage ``s`` (< 128) and sub-state
    ``sub`` (< 2^16), in fixed bit fields. No field depends on the model's other dimensions
    (the number of churn ages, concession sub-states or customer types), so a lever that
    changes them leaves every other group's draws alone (common random numbers)."""
    return ((((t * 2 + c) * 128 + g) * 256 + j) * 128 + s) * 65536 + sub


@helper
def _pool_moves(state, seeds_row, t, T, kind, probs, seg_first, seg_ntypes, wb_of_stage, wb_lo, wb_hi,
                wb_cost, wb_base, wb_decay, pn, pn2, pcont, nh, wh, nh2, wh2, nret, wret, lost, split):
    """One period of the churned pools (``pooled`` mode of :func:`simulate_counts`).

    A pool ``pn[g, s, a]`` holds the customers of segment ``g`` churned ``a`` periods ago
    into stage ``s``; nothing that happens to them depends on their type or cohort class
    until they return. So the pool draws contacts, successes and moves once, and only the
    returning customers get a type: they are a uniform sample without replacement of the
    pool's *composition* ``nh[q, s, a]`` (the customers who entered the pool, by group,
    less those who returned before; ``wh`` their CLV weights). Those who left for a lost
    stage meanwhile are a uniform random subset, independent of type, so sampling from the
    composition gives the returning customers' types the same law as tracking every type.
    The sample's split over the groups is multivariate hypergeometric, drawn exactly as
    conditional hypergeometric draws group by group (each O(1),
    :func:`~clmsim.engines.fast.kernels.hypergeometric.hypergeometric`): the cost does not grow
    with the number of returners. The composition is carried while a later age can still
    be won back. Returns ``(contacts, won, spend, clv_cash)`` of the period.
    """
    G, S, A = pn.shape[0], pn.shape[1], pn.shape[2]
    contacts = 0
    won = 0
    spend = 0.0
    clv_cash = 0.0
    for g in range(G):
        f0, nt = seg_first[g], seg_ntypes[g]
        for s in range(S):
            if kind[s] != CHURNED:
                continue
            w = wb_of_stage[s]
            hi = wb_hi[w] if w >= 0 else 0
            row = unowned(probs[f0, s])
            for a in range(A):
                n = pn[g, s, a]
                pn[g, s, a] = 0
                a2 = a + 1 if a + 1 < A else A - 1
                if n > 0:
                    reseed(seeds_row, state, MOVES, substream(t, 0, g, 0, s, a))
                    if w >= 0 and wb_lo[w] <= a < hi and pcont[g, s, a] > 0:
                        c = pcont[g, s, a]
                        ucount = 0
                        uweight = 0.0
                        for j in range(2 * nt):
                            q = f0 + j if j < nt else T + f0 + j - nt
                            ucount += nh[q, s, a]
                            uweight += wh[q, s, a]
                        contacts += c
                        spend += c * wb_cost[w]
                        clv_cash -= uweight / ucount * c * wb_cost[w]
                        x = binomial(state, MOVES, c, wb_base[w, g] * wb_decay[w, g] ** a)
                        won += x
                        n -= x
                        if x > 0:
                            # returners' groups: multivariate hypergeometric of x draws from the
                            # composition, as conditional hypergeometric draws group by group
                            left = ucount
                            for j in range(2 * nt):
                                q = f0 + j if j < nt else T + f0 + j - nt
                                have = nh[q, s, a]
                                xr = hypergeometric(state, MOVES, have, left - have, x)
                                left -= have
                                x -= xr
                                if xr > 0:           # returners leave at their group's mean weight
                                    mw = wh[q, s, a] / have
                                    nh[q, s, a] -= xr
                                    wh[q, s, a] -= xr * mw
                                    nret[q, w] += xr
                                    wret[q, w] += xr * mw
                                if x == 0:
                                    break
                    if n > 0:
                        multinomial(state, MOVES, n, row, unowned(split))
                        for d in range(S):
                            x = split[d]
                            if x == 0:
                                continue
                            if kind[d] == LOST:
                                lost[g, d] += x
                            else:
                                pn2[g, d, a2] += x              # d == s: the wrapper checks
                carry = n > 0 and a2 < hi
                for j in range(2 * nt):
                    q = f0 + j if j < nt else T + f0 + j - nt
                    if carry:
                        nh2[q, s, a2] += nh[q, s, a]
                        wh2[q, s, a2] += wh[q, s, a]
                    nh[q, s, a] = 0
                    wh[q, s, a] = 0.0
    return contacts, won, spend, clv_cash
