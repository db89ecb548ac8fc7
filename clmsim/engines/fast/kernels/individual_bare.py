"""Bare path of the fast engine's individual-mode kernel (:mod:`clmsim.engines.fast.kernels.individual`).

A customer of a segment without heterogeneity, outside churned and lost stages, with no
concession running and whose destination has fixed revenue (``cv = 0``) costs the general
loop about 8 ns per period (bare six-stage chain, 1.2e8 customer-periods/s per core). The
kernel settles such customers in two passes instead, chosen per run (every segment without
heterogeneity, at most 64 segment-stage rows) and per period (some row settles here):

1. :func:`bucket_codes`, a tight loop over the customer arrays: the top ``BUCKET_BITS``
   bits of the customer's transition draw (the same counter-based ``mix(seed XOR key)``
   the general path turns into its uniform) index a per-(segment, stage) table built by
   :func:`bucket_tables`; the table gives a *code* -- row and destination index -- for every
   bucket that no cumulative probability of the row cuts, so one load replaces the
   comparisons (a cut bucket, ``2^-BUCKET_BITS`` of the draws per cut, gets the code
   "general path").
2. In the kernel's customer loop, a settled code costs a table look-up: the stage is set,
   the customer's discounted cash ``vt (fixed_cb - ret_stage)`` (precomputed per code, the
   same floating-point operations as the general path) is added to its CLV, and the code
   is counted (four interleaved counters, so consecutive customers do not wait on one
   counter); the counts join the per-(segment, stage) fixed-revenue aggregation after the
   loop. Other customers run the general path, in the same order as before.

The destination is the one the general path's flat table gives for the same uniform
(``u = m 2^-53`` with the draw's top 53 bits ``m``; a bucket is settled only when ``u`` at
both its ends falls in the same interval), so results are bit-identical to the general
path for every scenario.

Stale caches: an edit of this module recompiles every kernel (:mod:`.cache`).
"""

from __future__ import annotations


import numpy as np

from .jit import helper
from .counter_rng import _mix64



BUCKET_BITS = 10
"""Bits of a transition draw that index the bare path's bucket tables (:func:`bucket_tables`)."""


@helper
def bucket_tables(fl_n, fl_cum, fl_dest, fast_src, fast_dst, noisy, fixed_cb, ret_stage, vt, bk, bk_cum,
                  cd_dest, cd_w, cd_fast):
    """Tables of the bare path for one period (module docstring, "Bare path").

    Parameters
    ----------
    fl_n, fl_cum, fl_dest : ndarray
        Flat row tables of :func:`flat_tables` (segments without heterogeneity).
    fast_src, fast_dst, noisy : ndarray of bool, shape (G, S)
        Stages a customer may leave / enter on the kernel's fast path; stages with
        revenue noise.
    fixed_cb, ret_stage : ndarray
        Fixed contribution and program spend per customer, per (segment, stage).
    vt : float
        Discount factor of the period.
    bk : ndarray of int16, shape (G S 2^BUCKET_BITS,)
        Out: code of bucket ``b`` of row ``(g, s)`` at ``(g S + s) 2^B + b``: the top ``B``
        bits of the draw decide the destination index ``j`` when no cumulative
        probability of the row falls inside the bucket (code ``(g S + s) S + j``),
        else the code ``G S S`` (decided on the general path).
    bk_cum : ndarray, shape (G, S, S)
        The ``fl_cum`` rows ``bk`` was built from; only changed rows are rebuilt.
    cd_dest, cd_w, cd_fast : ndarray, shape (G S S + 1,)
        Out, per code: destination stage, discounted cash ``vt (fixed_cb - ret_stage)``
        added to the customer's CLV, and whether the code is settled here (source
        outside churned stages, fixed revenue, destination active or prospect).

    Returns
    -------
    bool
        Whether any code is settled on the bare path this period.
    """
    G, S = fl_n.shape[0], fl_n.shape[1]
    nb = 1 << BUCKET_BITS
    slow = G * S * S
    cd_fast[slow] = False
    any_fast = False
    for g in range(G):
        for s in range(S):
            row = g * S + s
            for j in range(S):
                c = row * S + j
                ns = fl_dest[g, s, j]
                cd_dest[c] = ns
                cd_fast[c] = j < fl_n[g, s] and fast_src[g, s] and fast_dst[g, ns] and not noisy[g, ns]
                cd_w[c] = vt * (fixed_cb[g, ns] - ret_stage[g, s])
                any_fast = any_fast or cd_fast[c]
            same = True
            for k in range(S - 1):
                same = same and bk_cum[g, s, k] == fl_cum[g, s, k]
            if same:
                continue
            for k in range(S - 1):
                bk_cum[g, s, k] = fl_cum[g, s, k]
            for b in range(nb):
                c = slow
                if fast_src[g, s]:
                    u_lo = np.float64(b << (53 - BUCKET_BITS)) * (1.0 / 9007199254740992.0)
                    u_hi = np.float64(((b + 1) << (53 - BUCKET_BITS)) - 1) * (1.0 / 9007199254740992.0)
                    j_lo = 0
                    j_hi = 0
                    for k in range(S - 1):
                        j_lo += u_lo >= fl_cum[g, s, k]
                        j_hi += u_hi >= fl_cum[g, s, k]
                    if j_lo == j_hi:
                        c = row * S + j_lo
                bk[row * nb + b] = c
    return any_fast


@helper
def bucket_codes(n, stage, seg, cid, seed, tg, S, G, bk, code):
    """Pass 1 of the bare path: every customer's code for this period.

    Parameters
    ----------
    n : int
        Live customers (the first ``n`` entries of the arrays).
    stage, seg, cid : ndarray
        Customer stage (int8), segment (int8, read only when ``G > 1``) and key (uint64).
    seed, tg : uint64
        The run's transition seed and ``t G`` of period ``t``: customer ``i``'s draw is
        ``mix(seed XOR (cid[i] + tg))``, the value :func:`counter_rng.counter_uniform`
        turns into the general path's uniform.
    S, G : int
        Stages and segments.
    bk : ndarray of int16
        Bucket table of :func:`bucket_tables`.
    code : ndarray of int16
        Out: ``code[i]`` is the entry of ``bk`` for customer ``i``'s row and the top
        ``BUCKET_BITS`` bits of its draw.
    """
    sh = np.uint64(64 - BUCKET_BITS)
    if G == 1:
        for i in range(n):
            code[i] = bk[(np.int64(stage[i]) << BUCKET_BITS) | np.int64(_mix64(seed ^ (cid[i] + tg)) >> sh)]
    else:
        for i in range(n):
            row = np.int64(seg[i]) * S + np.int64(stage[i])
            code[i] = bk[(row << BUCKET_BITS) | np.int64(_mix64(seed ^ (cid[i] + tg)) >> sh)]
