"""Het path of the fast engine's individual-mode kernel (:mod:`clmsim.engines.fast.kernels.individual`):
periods the bare path does not settle (segments with heterogeneity, revenue noise: telecom).

Why: the kernel's customer loop handles every case (win-back, concessions, removals, the
bare path), so LLVM keeps most of its ~40 arrays' pointers, shapes and strides on the stack
and every look-up reloads them and applies numba's negative-index wraparound; two
SplitMix64 mixes and the first attempt of the revenue gamma sat in the middle of this
branchy code, and every heterogeneous customer called ``samplers.sample_row``, whose
inlined body took references to its six arrays (atomic reference-count updates) on each
call. Telecom with every feature on ran at about 20 ns per customer-period (4.8e7 per core).

Per period, when the bare path settles nothing, the kernel instead runs three passes
before its customer loop:

1. :func:`draw_pass`, one loop without branches over the live customers that LLVM
   vectorises (64-bit multiplies, table gathers): the transition uniform ``umv[i] =
   counter_uniform(seed_mv, key)`` and ``xg[i]``, the normal ``x`` of the revenue gamma's
   first Marsaglia-Tsang attempt on ``counter_start(seed_rev, key)`` when it passes both the
   ziggurat's fast test and the squeeze ``u < 1 - 0.0331 x^4`` (neither depends on the gamma
   shape), else NaN;
2. :func:`het_tables`: one flat row of constants per (segment, stage) -- churn factor, churn
   total, room ``1 - msum``, last cumulative move, program spend per customer, gamma ``d``,
   ``c``, scale, margin, cost, fixed contribution -- and a mode per row as source (flat
   table, gamma or beta heterogeneity, churned, other) and as destination (fixed revenue,
   gamma revenue of shape >= 1, other);
3. :func:`het_settle`: the kernel's fast path (customer outside churned and lost stages, no
   concession running, destination active or prospect) for every customer, in a loop with
   few live values and ``sample_row`` written out. A settled customer's stage, discounted
   cash and stage count are updated there and its revenue and contribution stored
   (``fx[i] < 0``); every other customer gets the destination its transition draw gives
   (``fx[i] >= 0``; churned stages without churn target, as the kernel samples them).

The customer loop then walks the customers in its usual order (removals move the last
customer into the freed slot): runs of settled customers only add their revenue and
contribution to the period's sums (a tight inner loop), so the floating-point sums see the
same values in the same order as before; the others run the general path, reading the
destination from ``fx`` instead of sampling it again. Results are bit-identical to the
kernel without this path (every draw is counter-based, a function of (seed, customer,
period) only, so computing it earlier or twice gives the same number).

A settled customer's revenue gamma is ``gd (1 + gc x)^3`` when ``x`` is finite and ``1 + gc
x > 0`` -- the floating-point operations of :func:`_gamma_rev`'s first accepted attempt --
else :func:`gamma_rev_keyed` runs the full sampler on the counter block (about 11% of draws,
squeeze failures; its two logarithms are now the largest single cost on telecom).

Stale caches: an edit of this module recompiles every kernel (:mod:`.cache`).
"""

from __future__ import annotations


import numpy as np

from .jit import helper, inlined
from .samplers import ACTIVE, CHURNED, HET_BETA, HET_NONE, LOST, PROSPECT, ZIG_KN, ZIG_WN, to_unit
from .counter_rng import GOLDEN, _mix64, _zig_reject_sm, counter_start, counter_uniform


# columns of the per-(segment, stage) table of het_tables
T_CF, T_CTOT, T_ROOM, T_MVLAST, T_RET, T_GD, T_GC, T_SCALE, T_MARGIN, T_COST, T_FIXED = range(11)
N_T = 16
"""Stride of a row in the flat table ``tb`` (a power of two: the row offset is a shift)."""
# source modes (customer leaving a row) and destination modes (customer entering one)
SRC_GENERAL, SRC_GAMMA, SRC_BETA, SRC_FLAT, SRC_CHURNED = 0, 1, 2, 3, 4
DST_GENERAL, DST_FIXED, DST_GAMMA = 0, 1, 2


@inlined
def _gamma_rev(gd, gc, z):
    """Gamma(shape >= 1) / 1 for the revenue draw: Marsaglia-Tsang (``gd = shape - 1/3``,
    ``gc = 1/sqrt(9 gd)``) with a ziggurat normal from the high 32 bits of a SplitMix64
    output and the acceptance uniform ``(low 32 bits + 1/2) 2^-32`` from the same output
    (independent bits of the mixer). The first output is ``z`` itself (already a mixed
    value, :func:`counter_rng.counter_start`), so an accepted first attempt costs no
    further mix; later attempts continue the SplitMix64 sequence ``z += G`` as
    :func:`counter_rng._gamma_sm` does."""
    bits = z
    first = True
    while True:
        if first:
            first = False
        else:
            z += GOLDEN
            bits = _mix64(z)
        hz = np.int64(np.int32(np.uint32(bits >> np.uint64(32))))
        iz = hz & 127
        if abs(hz) < ZIG_KN[iz]:
            x = hz * ZIG_WN[iz]
            u = (np.float64(bits & np.uint64(0xFFFFFFFF)) + 0.5) * (1.0 / 4294967296.0)
        else:
            x, z = _zig_reject_sm(z, hz, iz)
            z += GOLDEN
            u = to_unit(_mix64(z))
        gv = 1.0 + gc * x
        if gv <= 0.0:
            continue
        gv = gv * gv * gv
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            break
        if np.log(u) < 0.5 * x2 + gd * (1.0 - gv + np.log(gv)):
            break
    return gd * gv


@helper
def gamma_rev_keyed(gd, gc, seed_rev, key):
    """:func:`_gamma_rev` on the revenue counter block of ``key``
    (:func:`counter_rng.counter_start`). Compiled once and called from the cold branch of
    :func:`het_settle` and from the general customer loop of ``simulate_individual``: a
    numba-inlined copy at each call site cost compile time (docs/engines.md, "Less to
    compile")."""
    return _gamma_rev(gd, gc, counter_start(seed_rev, key))


@helper
def draw_pass(n, cid, seed_mv, seed_rev, tg, umv, xg):
    """Every live customer's transition uniform and first revenue-gamma attempt for one period.

    Parameters
    ----------
    n : int
        Live customers (the first ``n`` entries of the arrays).
    cid : ndarray of uint64
        Customer keys (:func:`counter_rng.customer_key`).
    seed_mv, seed_rev : uint64
        The run's transition and revenue seeds.
    tg : uint64
        ``t G`` of period ``t``: customer ``i``'s key is ``cid[i] + tg``.
    umv : ndarray of float64
        Out: ``counter_uniform(seed_mv, key)``.
    xg : ndarray of float64
        Out: the standard normal ``x`` of the first Marsaglia-Tsang attempt of the revenue
        gamma (ziggurat fast test on the high 32 bits of ``counter_start(seed_rev, key)``)
        when both the ziggurat fast test and the squeeze ``u < 1 - 0.0331 x^4`` (``u`` from
        the low 32 bits) pass, else NaN (the customer loop then runs the full sampler).
    """
    for i in range(n):
        key = cid[i] + tg
        umv[i] = counter_uniform(seed_mv, key)
        bits = counter_start(seed_rev, key)
        hz = np.int64(np.int32(np.uint32(bits >> np.uint64(32))))
        iz = hz & 127
        x = hz * ZIG_WN[iz]
        u = (np.float64(bits & np.uint64(0xFFFFFFFF)) + 0.5) * (1.0 / 4294967296.0)
        x2 = x * x
        ok = (abs(hz) < ZIG_KN[iz]) & (u < 1.0 - 0.0331 * x2 * x2)
        xg[i] = x if ok else np.nan


@helper
def het_tables(kind, het_kind, churn_factor, ctot, msum, mv_last, ret_stage, gam_shape, gam_d, gam_c,
               gam_scale, margin, cost, fixed_cb, tb, mode):
    """Per-period tables of :func:`het_settle` (module docstring, step 2).

    Parameters
    ----------
    kind : ndarray of int64, shape (S,)
        Stage kinds.
    het_kind : ndarray of int64, shape (G,)
        Heterogeneity code per segment.
    churn_factor, ret_stage : ndarray, shape (G, S)
        Program churn factors and spend per customer of the period.
    ctot, msum, mv_last : ndarray, shape (G, S)
        Row tables of :func:`samplers.row_tables` (``mv_last`` the last cumulative move).
    gam_shape, gam_d, gam_c, gam_scale, margin, cost, fixed_cb : ndarray, shape (G, S)
        Revenue gamma shape, Marsaglia-Tsang constants and scale, margin, cost to serve and
        fixed contribution ``mean x margin - cost``.
    tb : ndarray, shape (G S N_T,)
        Out: row ``g S + s`` at ``(g S + s) N_T``, columns ``T_*``.
    mode : ndarray of int64, shape (2 G S,)
        Out: the ``SRC_*`` and ``DST_*`` codes of row ``r`` at ``2 r`` and ``2 r + 1``.
    """
    G, S = ctot.shape[0], ctot.shape[1]
    for g in range(G):
        for s in range(S):
            row = g * S + s
            tb[row * N_T + T_CF] = churn_factor[g, s]
            tb[row * N_T + T_CTOT] = ctot[g, s]
            tb[row * N_T + T_ROOM] = 1.0 - msum[g, s]
            tb[row * N_T + T_MVLAST] = mv_last[g, s]
            tb[row * N_T + T_RET] = ret_stage[g, s]
            tb[row * N_T + T_GD] = gam_d[g, s]
            tb[row * N_T + T_GC] = gam_c[g, s]
            tb[row * N_T + T_SCALE] = gam_scale[g, s]
            tb[row * N_T + T_MARGIN] = margin[g, s]
            tb[row * N_T + T_COST] = cost[g, s]
            tb[row * N_T + T_FIXED] = fixed_cb[g, s]
            src = SRC_CHURNED if kind[s] == CHURNED else SRC_GENERAL
            if kind[s] != CHURNED and kind[s] != LOST:
                if het_kind[g] == HET_NONE:
                    src = SRC_FLAT
                elif het_kind[g] == HET_BETA:
                    src = SRC_BETA
                else:
                    src = SRC_GAMMA
            mode[2 * row] = src
            # as the kernel's fast_dst and noisy
            fast = kind[s] == PROSPECT or (kind[s] == ACTIVE and (gam_shape[g, s] == 0.0
                                                                  or gam_shape[g, s] >= 1.0))
            dst = DST_GENERAL
            if fast and gam_shape[g, s] <= 0.0:
                dst = DST_FIXED
            elif fast and gam_shape[g, s] >= 1.0:
                dst = DST_GAMMA
            mode[2 * row + 1] = dst


@helper
def g0(G, sg):
    """Segment of a customer as a non-negative index (0 when ``G == 1``)."""
    return np.int64(sg) & 127 if G > 1 else 0


@helper
def het_settle(n, S, G, vt, no_conc, stage, seg, mult, conc, clv, cid, umv, xg, seed_rev, tg, tb, mode, fl_cum,
               fl_dest, mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum, cnt, cntg, fx, rc):
    """The kernel's fast path, for every live customer at once (module docstring, step 3).

    Parameters
    ----------
    n : int
        Live customers.
    S, G : int
        Stages and segments.
    vt : float
        Discount factor of the period.
    no_conc : bool
        No win-back policy grants concessions (``conc`` is then not read).
    stage, seg, mult, conc, clv, cid : ndarray
        Customer arrays of the kernel (stage, segment, heterogeneity draw, concession
        periods left, discounted cash so far, key); ``stage`` and ``clv`` of settled
        customers are updated.
    umv, xg : ndarray
        Draws of :func:`draw_pass` for this period.
    seed_rev, tg : uint64
        Revenue seed and ``t G`` (for the cold gamma branch).
    tb, mode : ndarray
        Tables of :func:`het_tables`.
    fl_cum, fl_dest : ndarray, shape (G, S, S)
        Flat tables of segments without heterogeneity (``individual.flat_tables``).
    mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum : ndarray
        Row tables (:func:`samplers.row_tables`) for customers who churn or move.
    cnt : ndarray of int64, shape (S,)
        Customers per destination with revenue drawn (updated).
    cntg : ndarray of int64, shape (G, S)
        Customers per (segment, destination) with fixed revenue (updated; the kernel adds
        their revenue after the loop).
    fx : ndarray of int8
        Out, per customer: ``-1`` settled with fixed revenue, ``-2`` settled with revenue
        ``rc[2 i]`` and contribution ``rc[2 i + 1]`` (the kernel adds them to the period's
        sums in its customer order); otherwise (the kernel's general path) the destination
        the transition draw gives (in churned stages without churn target, as the kernel
        samples it when the customer is not won back), which the kernel reads instead of
        sampling again.
    rc : ndarray of float64, shape (2 cap,)
        Out (``fx`` = -2).
    """
    c4 = np.zeros((4, S), np.int64)            # interleaved counts: no store-to-load chain
    for i in range(n):
        s = np.int64(stage[i]) & 127
        g = g0(G, seg[i])
        row = (g * S + s) & 0xFFFF             # known >= 0: no negative-index wraparound code
        sm = mode[2 * row]
        if sm == SRC_GENERAL:
            fx[i] = 0
            continue
        u = umv[i]
        if sm == SRC_FLAT:
            j = 0
            for k in range(S - 1):
                j += u >= fl_cum[g, s, k]
            ns = fl_dest[g, s, j]
        else:
            ct = 0.0                           # churned stages: no churn target (as the kernel)
            ctot = tb[row * N_T + T_CTOT]
            if ctot > 0.0 and sm != SRC_CHURNED:
                mu = mult[i]
                c = tb[row * N_T + T_CF] * (mu if sm == SRC_BETA else mu * ctot)
                room = tb[row * N_T + T_ROOM]
                if c > room:
                    c = room
                if c < 0.0:
                    c = 0.0
                ct = c
            # samplers.sample_row written out on scalars from the flat table: no array
            # passed (or referenced, as its numba-inlined copy was) on every move
            if u < ct:
                x = u / ct
                nc = ch_n[g, s]
                ns = ch_dest[g, s, nc - 1]
                for j in range(nc - 1):
                    if x < ch_cum[g, s, j]:
                        ns = ch_dest[g, s, j]
                        break
            else:
                x = u - ct
                ns = s
                if x < tb[row * N_T + T_MVLAST]:
                    nm = mv_n[g, s]
                    ns = mv_dest[g, s, nm - 1]
                    for j in range(nm - 1):
                        if x < mv_cum[g, s, j]:
                            ns = mv_dest[g, s, j]
                            break
        ns &= 127
        fx[i] = ns
        if sm == SRC_CHURNED:
            continue
        drow = (g * S + ns) & 0xFFFF
        dm = mode[2 * drow + 1]
        if dm == DST_GENERAL or not (no_conc or conc[i] == 0):
            continue
        if dm == DST_FIXED:
            clv[i] += vt * (tb[drow * N_T + T_FIXED] - tb[row * N_T + T_RET])
            cntg[g, ns] += 1
            fx[i] = -1
        else:
            x = xg[i]
            gd = tb[drow * N_T + T_GD]
            gc = tb[drow * N_T + T_GC]
            gv = 1.0 + gc * x
            if gv > 0.0:                       # first attempt accepted (x finite), as _gamma_rev
                rv = gd * (gv * gv * gv)
            else:
                rv = gamma_rev_keyed(gd, gc, seed_rev, cid[i] + tg)
            rv *= tb[drow * N_T + T_SCALE]
            cb = rv * tb[drow * N_T + T_MARGIN] - tb[drow * N_T + T_COST]
            rc[2 * i] = rv
            rc[2 * i + 1] = cb
            clv[i] += vt * (cb - tb[row * N_T + T_RET])
            c4[i & 3, ns] += 1
            fx[i] = -2
        stage[i] = ns
    for k in range(4):
        for s in range(S):
            cnt[s] += c4[k, s]
