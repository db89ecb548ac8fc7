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

As in :mod:`clmsim.engines.kernels_chain`, the kernel and all its jitted helpers
live in this module (numba's cache is per module); the shared helper block is a
verbatim copy of the one there, checked by a test.
"""

from __future__ import annotations

import numpy as np
from numba import njit, prange

# stream indices (clmsim.rng.PURPOSES)
MOVES, REVENUE, ARRIVALS, HETEROGENEITY, WINBACK = 0, 1, 2, 3, 4
N_STREAMS = 5
# kinds (clmsim.model.compiled)
PROSPECT, ACTIVE, CHURNED, LOST = 0, 1, 2, 3
# heterogeneity codes
HET_NONE, HET_GAMMA, HET_BETA = 0, 1, 2
# flow items written per period (clmsim.engines.fast.FLOW_ITEMS)
F_REVENUE, F_CONTRIBUTION, F_RETENTION, F_WINBACK, F_ACQUIRED, F_REFERRED, F_CHURNED, F_WON, F_CONTACTS = range(9)
N_FLOWS = 9


# ===================================================================== shared helpers
# (verbatim in kernels_chain.py and kernels_counts.py; tests/test_fast_counts.py checks it)
@njit(cache=True, inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(cache=True)
def seed_streams(seeds_row, state):
    """Expand 64-bit seeds (one per stream) with splitmix64 into xoshiro256** states."""
    for k in range(seeds_row.shape[0]):
        z = seeds_row[k]
        for j in range(4):
            z = z + np.uint64(0x9E3779B97F4A7C15)
            x = z
            x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
            x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
            state[k, j] = x ^ (x >> np.uint64(31))


@njit(cache=True)
def reseed(seeds_row, state, k, key):
    """Restart stream ``k`` at sub-stream ``key`` (e.g. a period or a count group):
    splitmix64 expansion of ``seed ^ (key x odd constant)``. Sub-streams keep common
    random numbers aligned across strategies when populations diverge."""
    z = seeds_row[k] ^ (np.uint64(key) * np.uint64(0xD1B54A32D192ED03))
    for j in range(4):
        z = z + np.uint64(0x9E3779B97F4A7C15)
        x = z
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        state[k, j] = x ^ (x >> np.uint64(31))


@njit(cache=True, inline="always")
def next_u64(state, k):
    """xoshiro256** (Blackman & Vigna): next 64-bit output of stream ``k``."""
    s0 = state[k, 0]
    s1 = state[k, 1]
    s2 = state[k, 2]
    s3 = state[k, 3]
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    state[k, 0] = s0
    state[k, 1] = s1
    state[k, 2] = s2
    state[k, 3] = s3
    return result


@njit(cache=True, inline="always")
def uniform(state, k):
    """Uniform on [0, 1) with 53 random bits."""
    return np.float64(np.int64(next_u64(state, k) >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@njit(cache=True, inline="always")
def xoshiro_step(s0, s1, s2, s3):
    """One xoshiro256** step on a state held in local variables (kept in registers in
    hot loops): returns ``(uniform in [0, 1), s0, s1, s2, s3)``."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    u = np.float64(np.int64(result >> np.uint64(11))) * (1.0 / 9007199254740992.0)
    return u, s0, s1, s2, s3


def _ziggurat_tables():
    """Tables of Marsaglia & Tsang's (2000) 128-layer ziggurat for the standard normal
    (constants, computed once at import; no randomness)."""
    m1 = 2147483648.0
    dn = 3.442619855899
    tn = dn
    vn = 9.91256303526217e-3
    kn = np.zeros(128, np.int64)
    wn = np.zeros(128)
    fn = np.zeros(128)
    q = vn / np.exp(-0.5 * dn * dn)
    kn[0] = int((dn / q) * m1)
    kn[1] = 0
    wn[0] = q / m1
    wn[127] = dn / m1
    fn[0] = 1.0
    fn[127] = np.exp(-0.5 * dn * dn)
    for i in range(126, 0, -1):
        dn = np.sqrt(-2.0 * np.log(vn / dn + np.exp(-0.5 * dn * dn)))
        kn[i + 1] = int((dn / tn) * m1)
        tn = dn
        fn[i] = np.exp(-0.5 * dn * dn)
        wn[i] = dn / m1
    return kn, wn, fn


ZIG_KN, ZIG_WN, ZIG_FN = _ziggurat_tables()


@njit(cache=True)
def normal(state, k):
    """Standard normal by the ziggurat method (Marsaglia & Tsang 2000, 128 layers):
    one 64-bit draw in ~99% of calls; exact tails and wedges by rejection."""
    while True:
        bits = next_u64(state, k)
        hz = np.int64(np.int32(np.uint32(bits >> np.uint64(32))))
        iz = hz & 127
        if abs(hz) < ZIG_KN[iz]:
            return hz * ZIG_WN[iz]
        if iz == 0:
            # tail beyond r = 3.442620 (Marsaglia 1964)
            while True:
                x = -np.log(1.0 - uniform(state, k)) * 0.2904764
                y = -np.log(1.0 - uniform(state, k))
                if y + y >= x * x:
                    break
            return 3.442620 + x if hz > 0 else -3.442620 - x
        x = hz * ZIG_WN[iz]
        if ZIG_FN[iz] + uniform(state, k) * (ZIG_FN[iz - 1] - ZIG_FN[iz]) < np.exp(-0.5 * x * x):
            return x


@njit(cache=True)
def gamma(state, k, shape):
    """Gamma(shape, scale 1) (Marsaglia & Tsang 2000; shape < 1 by the boost
    ``G(a) = G(a + 1) U^(1/a)``). Returns 0 for shape <= 0."""
    if shape <= 0.0:
        return 0.0
    boost = 1.0
    a = shape
    if a < 1.0:
        boost = uniform(state, k) ** (1.0 / a)
        a += 1.0
    d = a - 1.0 / 3.0
    c = 1.0 / np.sqrt(9.0 * d)
    while True:
        x = normal(state, k)
        v = 1.0 + c * x
        if v <= 0.0:
            continue
        v = v * v * v
        u = uniform(state, k)
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            return d * v * boost
        if np.log(u) < 0.5 * x2 + d * (1.0 - v + np.log(v)):
            return d * v * boost


@njit(cache=True)
def beta(state, k, a, b):
    """Beta(a, b) as ``X / (X + Y)`` with independent gammas."""
    x = gamma(state, k, a)
    y = gamma(state, k, b)
    return x / (x + y)


@njit(cache=True)
def binomial(state, k, n, p):
    """Binomial(n, p), exact. ``p > 1/2`` by symmetry; while ``n p >= 30`` order-statistic
    splitting (Knuth, TAOCP 3.4.1: the i-th smallest of n uniforms is Beta(i, n + 1 - i));
    then inversion by the pmf recursion (Kachitvichyanukul & Schmeiser's BINV), O(n p + 1)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    n0 = n
    flip = p > 0.5
    if flip:
        p = 1.0 - p
    x = 0
    while n * p >= 30.0:
        i = 1 + n // 2
        b = beta(state, k, float(i), float(n + 1 - i))
        if b >= p:
            n = i - 1
            p = p / b
        else:
            x += i
            n = n - i
            p = (p - b) / (1.0 - b)
    if n > 0 and p > 0.0:
        q = 1.0 - p
        ratio = p / q
        a = (n + 1) * ratio
        while True:
            r = q ** n
            u = uniform(state, k)
            y = 0
            while u > r and y < n:
                u -= r
                y += 1
                r *= a / y - ratio
            if u <= r:
                break                                  # else rounding left mass beyond n: redraw
        x += y
    return n0 - x if flip else x


@njit(cache=True)
def poisson(state, k, lam):
    """Poisson(lam), exact: while ``lam > 30`` the arrival time of event ``m``
    (Gamma(m)) splits the interval (Ahrens & Dieter), then multiplication of uniforms."""
    x = 0
    while lam > 30.0:
        m = int(lam * 0.875)
        g = gamma(state, k, float(m))
        if g < lam:
            x += m
            lam -= g
        else:
            return x + binomial(state, k, m - 1, lam / g)
    if lam <= 0.0:
        return x
    limit = np.exp(-lam)
    prod = uniform(state, k)
    while prod >= limit:
        x += 1
        prod *= uniform(state, k)
    return x


@njit(cache=True)
def multinomial(state, k, n, probs, out):
    """Multinomial(n, probs) into ``out`` (``probs`` sums to 1): ``n <= 16`` by ``n``
    categorical draws, else by conditional binomials; the last category with positive
    probability takes what rounding leaves."""
    S = probs.shape[0]
    last = -1
    for j in range(S):
        out[j] = 0
        if probs[j] > 0.0:
            last = j
    if n <= 0 or last < 0:
        return
    if n <= 16:
        for _ in range(n):
            u = uniform(state, k)
            c = 0.0
            pick = last
            for j in range(last):
                c += probs[j]
                if u < c:
                    pick = j
                    break
            out[pick] += 1
        return
    rest = 1.0
    for j in range(last + 1):
        if probs[j] <= 0.0:
            continue
        if j == last or probs[j] >= rest:
            out[j] = n
            return
        d = binomial(state, k, n, probs[j] / rest)
        out[j] = d
        n -= d
        rest -= probs[j]
        if n <= 0:
            return


@njit(cache=True)
def program_factors(t, n_start, pr_target, pr_upgrade, pr_spend, pr_cap, pr_red, pr_half, pr_lift,
                    churn_factor, upgrade_factor, ret_stage):
    """Per-customer program spend of period ``t`` (budget cap spread evenly:
    ``min(spend, cap / n_targeted)``) and its effects, as
    :meth:`clmsim.model.CompiledModel.program_factors`. Returns total retention spend."""
    S = churn_factor.shape[0]
    for s in range(S):
        churn_factor[s] = 1.0
        ret_stage[s] = 0.0
        for d in range(S):
            upgrade_factor[s, d] = 1.0
    total = 0.0
    for p in range(pr_target.shape[0]):
        ntarget = 0.0
        for s in range(S):
            if pr_target[p, s]:
                ntarget += n_start[s]
        spend = pr_spend[p, t - 1]
        cap = pr_cap[p, t - 1]
        if cap >= 0.0 and ntarget > 0.0 and cap / ntarget < spend:
            spend = cap / ntarget
        f = spend / (spend + pr_half[p])
        total += spend * ntarget
        for s in range(S):
            if pr_target[p, s]:
                churn_factor[s] *= 1.0 - pr_red[p] * f
                ret_stage[s] += spend
            for d in range(S):
                if pr_upgrade[p, s, d]:
                    upgrade_factor[s, d] *= 1.0 + pr_lift[p] * f
    return total


@njit(cache=True)
def row_tables(P, churn_mask, upgrade_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum):
    """Sampling tables of the effective rows (see :func:`clmsim.model.effective_matrix`).

    For segment ``g`` and stage ``s``: moves (off-diagonal, non-churn) ``u_j =
    P x upgrade`` scaled to sum 1 if they exceed it (``mv_*``, cumulative, total
    ``msum``); churn entries ``c_j`` with total ``ctot`` and cumulative shares
    ``ch_cum`` (``c_j / C``). A customer with churn target ``C' = clip(churn_factor
    x (multiplier C or theta), 0, 1 - msum)`` churns with probability ``C'`` split
    like ``c_j``, moves with ``u_j`` and stays otherwise.
    """
    G, S = P.shape[0], P.shape[1]
    for g in range(G):
        for s in range(S):
            m = 0
            tot = 0.0
            for d in range(S):
                if d != s and not churn_mask[s, d] and P[g, s, d] > 0.0:
                    u = P[g, s, d] * upgrade_factor[s, d]
                    mv_dest[g, s, m] = d
                    tot += u
                    mv_cum[g, s, m] = tot
                    m += 1
            mv_n[g, s] = m
            if tot > 1.0:
                for j in range(m):
                    mv_cum[g, s, j] /= tot
                tot = 1.0
            msum[g, s] = tot
            c = 0
            ctotal = 0.0
            for d in range(S):
                if churn_mask[s, d] and P[g, s, d] > 0.0:
                    ch_dest[g, s, c] = d
                    ctotal += P[g, s, d]
                    ch_cum[g, s, c] = ctotal
                    c += 1
            ch_n[g, s] = c
            ctot[g, s] = ctotal
            for j in range(c):
                ch_cum[g, s, j] /= ctotal


@njit(cache=True, inline="always")
def churn_target(cf, ctot, msum, het, mult):
    """``C' = clip(cf x (mult C | theta), 0, 1 - msum)`` (zero when the row has no churn)."""
    if ctot <= 0.0:
        return 0.0
    c = cf * (mult if het == HET_BETA else mult * ctot)
    room = 1.0 - msum
    if c > room:
        c = room
    if c < 0.0:
        c = 0.0
    return c


@njit(cache=True, inline="always")
def sample_row(u, s, g, ct, mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum):
    """Destination of a customer in stage ``s`` given a uniform ``u`` and churn target ``ct``."""
    if u < ct:
        x = u / ct
        n = ch_n[g, s]
        for j in range(n - 1):
            if x < ch_cum[g, s, j]:
                return ch_dest[g, s, j]
        return ch_dest[g, s, n - 1]
    x = u - ct
    for j in range(mv_n[g, s]):
        if x < mv_cum[g, s, j]:
            return mv_dest[g, s, j]
    return s
# ================================================================= end shared helpers


@njit(cache=True)
def hypergeometric(state, k, good, bad, draws):
    """Good items among ``draws`` taken without replacement (sequential; O(min(draws, total - draws)))."""
    total = good + bad
    if draws <= 0 or good <= 0:
        return 0
    if draws >= total:
        return good
    if 2 * draws > total:
        return good - hypergeometric(state, k, good, bad, total - draws)
    x = 0
    for _ in range(draws):
        if uniform(state, k) * total < good:
            x += 1
            good -= 1
        else:
            bad -= 1
        total -= 1
    return x


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
        mv_n = np.zeros((G, S), np.int64)
        mv_dest = np.zeros((G, S, S), np.int64)
        mv_cum = np.zeros((G, S, S))
        msum = np.zeros((G, S))
        ctot = np.zeros((G, S))
        ch_n = np.zeros((G, S), np.int64)
        ch_dest = np.zeros((G, S, S), np.int64)
        ch_cum = np.zeros((G, S, S))
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
