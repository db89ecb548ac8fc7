"""Jitted building blocks shared by the fast engine's kernels: random numbers, samplers,
program effects and row tables.

Random numbers: xoshiro256** streams (Blackman & Vigna) seeded from 64-bit values with
splitmix64 (the counter-based SplitMix64 draws of individual mode live in
:mod:`counter_rng`), a 128-layer ziggurat normal (Marsaglia &
Tsang 2000), Marsaglia-Tsang gamma, exact binomial (BTRS), Poisson and multinomial
samplers, each O(1) whatever its counts (Poisson: O(log rate); the hypergeometric sampler
lives in :mod:`.hypergeometric`); counts beyond :data:`COUNT_MAX` are refused, never
looped on. No numba ``np.random`` anywhere (its per-thread state ignores ``np.random.seed``).

Speed without atomics: numba updates an array's reference count atomically whenever the
array is passed down a chain of calls, which on the counts kernel's hot path cost a third of
its time. The kernels therefore pass :func:`unowned` views of arrays that outlive the call,
loops that draw many numbers keep the xoshiro state in local variables (:func:`xoshiro`), and
the kernels use numpy's error model (no zero-division branches: every division is by a
positive count or a validated parameter).

Stale caches: an edit of this module recompiles every kernel (:mod:`.cache`).
"""

from __future__ import annotations

import numpy as np
from numba.core import cgutils, config
from numba.core.imputils import impl_ret_borrowed
from numba.extending import intrinsic

from ..bundle import FLOW_ITEMS
from .cache import SAFE_VIEWS
from .jit import helper, inlined

# stream indices (clmsim.rng.PURPOSES)
# (numpy integers, not Python ints: numba would compile a sampler once per literal stream index)
MOVES, REVENUE, ARRIVALS, HETEROGENEITY, WINBACK = (np.int64(k) for k in range(5))
N_STREAMS = 5
# kinds (clmsim.model.compiled)
PROSPECT, ACTIVE, CHURNED, LOST = 0, 1, 2, 3
# heterogeneity codes
HET_NONE, HET_GAMMA, HET_BETA = 0, 1, 2
# flow items written per period, in the order of clmsim.engines.fast.bundle.FLOW_ITEMS
F_REVENUE, F_CONTRIBUTION, F_RETENTION, F_WINBACK, F_ACQUIRED, F_REFERRED, F_CHURNED, F_WON, F_CONTACTS = (
    FLOW_ITEMS.index(item) for item in ("revenue", "contribution", "retention_spend", "winback_spend", "acquired",
                                        "referred", "churned", "won_back", "contacts"))


@intrinsic
def _unowned(typingctx, arr):
    def codegen(context, builder, sig, args):
        ary = context.make_array(sig.args[0])(context, builder, value=args[0])
        ary.meminfo = cgutils.get_null_value(ary.meminfo.type)
        ary.parent = cgutils.get_null_value(ary.parent.type)
        return ary._getvalue()

    return arr(arr), codegen


@intrinsic
def _owned(typingctx, arr):
    def codegen(context, builder, sig, args):
        return impl_ret_borrowed(context, builder, sig.return_type, args[0])

    return arr(arr), codegen


def _python_identity(arr):
    return arr


unowned = _python_identity if config.DISABLE_JIT else (_owned if SAFE_VIEWS else _unowned)
unowned.__doc__ = """``unowned(arr)``: a view of ``arr`` that holds no reference (null meminfo).

Why: numba updates an array's reference count atomically each time the array is passed down
a call chain (measured: a third of the counts kernel's time); on a null meminfo the update is
a test and a branch. The counts kernel passes such views of its scratch arrays, its random
stream states and its arguments to the samplers.

The invariant (nothing checks it): the view must not outlive its *owner*, the array it was
made from, and numba frees an array as soon as no live variable refers to it -- which can be
before the end of the scope. The owner must therefore be

* an argument of the jitted function (alive for the whole call), or
* a named variable that is used again after the last use of the view (in a loop: an array
  created before the loop and used in every iteration, as the kernel's ``states``).

A plausible-looking misuse returns garbage: ``a = np.ones(1000); v = unowned(a)`` with ``a``
not used afterwards -- numba frees ``a`` after its last use, ``w = np.full(1000, 7.0)`` next
reuses the memory, and ``v.sum()`` gives 7000.0 instead of 1000.0 (a view of a temporary,
``unowned(np.ones(1000))``, has no owner at all and is wrong for the same reason).

``CLMSIM_SAFE_VIEWS=1`` (read at import, :data:`clmsim.engines.fast.kernels.cache.SAFE_VIEWS`)
makes ``unowned`` an ordinary reference-counted identity, compiled and cached as a separate
build variant: the tests compare both builds bit for bit. Under ``NUMBA_DISABLE_JIT=1`` it
is the Python identity.
"""


@helper
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@helper
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


@helper
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


@helper
def xoshiro(s0, s1, s2, s3):
    """One step of xoshiro256** (Blackman & Vigna) on a state held in local variables:
    ``(output, s0, s1, s2, s3)``. Loops that draw many numbers keep the state in registers
    this way; through the state array, every store into another array forces a reload."""
    result = _rotl(s1 * np.uint64(5), 7) * np.uint64(9)
    t = s1 << np.uint64(17)
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = _rotl(s3, 45)
    return result, s0, s1, s2, s3


@inlined
def stream_get(state, k):
    """The xoshiro state of stream ``k`` as four local words (for :func:`xoshiro`)."""
    return state[k, 0], state[k, 1], state[k, 2], state[k, 3]


@inlined
def stream_put(state, k, s0, s1, s2, s3):
    """Store four local words back as the xoshiro state of stream ``k``."""
    state[k, 0] = s0
    state[k, 1] = s1
    state[k, 2] = s2
    state[k, 3] = s3


@helper
def to_unit(x):
    """Uniform on [0, 1) from the top 53 bits of a 64-bit output."""
    return np.float64(np.int64(x >> np.uint64(11))) * (1.0 / 9007199254740992.0)


@inlined
def next_u64(state, k):
    """xoshiro256**: next 64-bit output of stream ``k`` (state in ``state[k]``)."""
    s0, s1, s2, s3 = stream_get(state, k)
    result, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
    stream_put(state, k, s0, s1, s2, s3)
    return result


@helper
def uniform(state, k):
    """Uniform on [0, 1) with 53 random bits. A helper that LLVM inlines at each call site, not
    numba-inlined (:mod:`.jit` says why)."""
    return to_unit(next_u64(state, k))


def _ziggurat_tables():
    """Tables of Marsaglia & Tsang's (2000) 128-layer ziggurat for the standard normal
    (constants, computed once at import; no randomness)."""
    m1 = 2147483648.0
    dn = 3.442619855899
    tn = dn
    vn = 9.91256303526217e-3
    kn = np.zeros(128, np.int64)
    wn = np.zeros(128, np.float64)
    fn = np.zeros(128, np.float64)
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


@inlined
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


@inlined
def _gamma_parts(state, k, shape):
    """A Gamma(shape) draw as ``(core, u)``: ``core ~ Gamma(a)`` with ``a = shape + 1`` when
    ``shape < 1`` (else ``a = shape``) by Marsaglia & Tsang, and the boost uniform ``u``
    (1 when unused); the draw is ``core u^(1/shape)``. ``u`` is drawn first."""
    u0 = 1.0
    a = shape
    if a < 1.0:
        u0 = uniform(state, k)
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
            return d * v, u0
        if np.log(u) < 0.5 * x2 + d * (1.0 - v + np.log(v)):
            return d * v, u0


@helper
def gamma(state, k, shape):
    """Gamma(shape, scale 1) (Marsaglia & Tsang 2000; shape < 1 by the boost
    ``G(a) = G(a + 1) U^(1/a)``). Returns 0 for shape <= 0."""
    if shape <= 0.0:
        return 0.0
    core, u = gamma_parts(unowned(state), k, shape)    # (the argument outlives the call: no reference count)
    return core * u ** (1.0 / shape) if shape < 1.0 else core


@helper
def gamma_parts(state, k, shape):
    """:func:`_gamma_parts` written out once, for :func:`gamma` and :func:`beta`'s two draws
    (each inlined copy of the sampler costs about a second of compile time)."""
    return _gamma_parts(state, k, shape)


@helper
def beta(state, k, a, b):
    """Beta(a, b) as ``X / (X + Y)`` with independent gammas. For shapes far below 1 the
    boost ``U^(1/a)`` underflows (a = b = 0.001: to 0 in half the draws); whenever a draw
    is below 1e-290 the ratio is taken from the logarithms of the same draws,
    ``1 / (1 + exp(ln Y - ln X))``, which stay finite and exact."""
    st = unowned(state)                  # no atomic reference counts: the argument outlives the calls
    cx, ux = gamma_parts(st, k, a)
    cy, uy = gamma_parts(st, k, b)
    x = cx * ux ** (1.0 / a) if a < 1.0 else cx
    y = cy * uy ** (1.0 / b) if b < 1.0 else cy
    if x > 1e-290 and y > 1e-290:
        return x / (x + y)
    lx = np.log(cx) + np.log(ux) / a
    ly = np.log(cy) + np.log(uy) / b
    return 1.0 / (1.0 + np.exp(ly - lx))


COUNT_MAX = 2.0 ** 53
"""Largest count the samplers draw (a Poisson rate, a binomial count): float64, in which the
kernels total their counts, holds every integer exactly only up to 2^53 (9.007e15); the
scenario schema bounds every amount and count well below it. Beyond it the samplers raise a
``ValueError`` instead of returning a count that is not exact (or looping on an infinite rate)."""


def _stirling_table(size: int = 30) -> np.ndarray:
    """``fc(k) = ln k! - [(k + 1/2) ln(k + 1) - (k + 1) + ln sqrt(2 pi)]`` for k < size
    (exact, from ``math.lgamma``; a constant table computed once at import)."""
    import math

    return np.array([math.lgamma(k + 1.0) - ((k + 0.5) * math.log(k + 1.0) - (k + 1.0)
                                             + 0.5 * math.log(2.0 * math.pi)) for k in range(size)])


STIRLING_FC = _stirling_table()


@helper
def _fc(k):
    """Stirling correction ``fc(k)`` (see :func:`_stirling_table`): table below 30, else the
    series ``1/12 - 1/360 (k+1)^-2 + 1/1260 (k+1)^-4`` over ``k + 1`` (error < 1e-13)."""
    if k < 30:
        return STIRLING_FC[k]
    kp1 = k + 1.0
    sq = kp1 * kp1
    return (1.0 / 12.0 - (1.0 / 360.0 - 1.0 / 1260.0 / sq) / sq) / kp1


@inlined
def _btrs(state, k, n, p):
    """Binomial(n, p) for ``p <= 1/2`` and ``n p >= 10`` by BTRS, transformed rejection
    with squeeze (Hormann 1993, J. Stat. Comput. Simul. 46:101): ``k = floor((2a/u_s + b) u
    + c)`` from two uniforms is accepted at once inside a box where the hat lies below the
    pmf (about 80% of draws for large ``n p``), else by comparing ``log(v alpha / (a/u_s^2 +
    b))`` with ``log f(k) / f(m)`` written with Stirling corrections. Exact; O(1)."""
    q = 1.0 - p
    spq = np.sqrt(n * p * q)
    b = 1.15 + 2.53 * spq
    a = -0.0873 + 0.0248 * b + 0.01 * p
    c = n * p + 0.5
    vr = 0.92 - 4.2 / b
    alpha = 0.0
    while True:
        u = uniform(state, k) - 0.5
        v = uniform(state, k)
        us = 0.5 - abs(u)
        x = np.floor((2.0 * a / us + b) * u + c)
        if us >= 0.07 and v <= vr:
            return np.int64(x)
        if x < 0.0 or x > n or v <= 0.0:
            continue
        if alpha == 0.0:                              # constants of the rejection step, once
            alpha = (2.83 + 5.1 / b) * spq
            lr = np.log(p / q)
            m = np.floor((n + 1) * p)
        lv = np.log(v * alpha / (a / (us * us) + b))
        bound = ((m + 0.5) * (np.log(m + 1.0) - np.log(n - m + 1.0) - lr)
                 + (n + 1.0) * (np.log(n - m + 1.0) - np.log(n - x + 1.0))
                 + (x + 0.5) * (lr + np.log(n - x + 1.0) - np.log(x + 1.0))
                 + _fc(np.int64(m)) + _fc(np.int64(n - m)) - _fc(np.int64(x)) - _fc(np.int64(n - x)))
        if lv <= bound:
            return np.int64(x)


@inlined
def _binomial(state, k, n, p):
    """Binomial(n, p), exact. ``p > 1/2`` by symmetry; ``n p >= 10`` by BTRS
    (:func:`_btrs`, O(1)); otherwise inversion by the pmf recursion (Kachitvichyanukul &
    Schmeiser's BINV), O(n p + 1)."""
    if n <= 0 or p <= 0.0:
        return 0
    if p >= 1.0:
        return n
    if p != p or n > COUNT_MAX:
        raise ValueError("binomial draw refused: the probability is NaN or the count exceeds 2^53 "
                         "(float64 represents counts exactly only up to 2^53)")
    flip = p > 0.5
    if flip:
        p = 1.0 - p
    if n * p >= 10.0:
        x = _btrs(state, k, n, p)
        return n - x if flip else x
    q = 1.0 - p
    ratio = p / q
    a = (n + 1) * ratio
    r0 = q ** n        # once, outside the redraw loop: inside it, LLVM hoisted numba's pow fallback for
    while True:        # n > 2^16 out of its branch and paid a pow call on every draw
        r = r0
        u = uniform(state, k)
        y = 0
        while u > r and y < n:
            u -= r
            y += 1
            r *= a / y - ratio
        if u <= r:
            break                                      # else rounding left mass beyond n: redraw
    return n - y if flip else y


@helper
def binomial(state, k, n, p):
    """Binomial(n, p), exact (:func:`_binomial`, written out here once and called by every
    kernel). numba copies an ``inline="always"`` function's IR into every caller and types it
    again there, so each inlined copy of the sampler costs compile time (about 1 s); only
    :func:`multinomial`, the hot caller, inlines it: there the call cost 3% of the telecom
    counts kernel's instructions (callgrind)."""
    return _binomial(state, k, n, p)


@helper
def poisson(state, k, lam):
    """Poisson(lam), exact: while ``lam > 30`` the arrival time of event ``m``
    (Gamma(m)) splits the interval (Ahrens & Dieter), then multiplication of uniforms;
    O(log lam). A rate above :data:`COUNT_MAX` (or NaN, or infinite) is refused with a
    ``ValueError``: its draws would not be exact counts in float64 (and an infinite rate
    would never leave the splitting loop). Rates <= 0 give 0."""
    if not lam <= COUNT_MAX:
        raise ValueError("Poisson draw refused: the rate is NaN or exceeds 2^53 customers "
                         "(float64 represents counts exactly only up to 2^53)")
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


@helper
def arrivals(state, c, t, ch_expected, ref_rate, n_start):
    """New customers of source ``c`` in period ``t`` (stream ``ARRIVALS``): channel ``c < C``
    ``Poisson(expected[c, t])``, ``c = C`` referrals ``Poisson(sum_s rate_s x occupancy_s at the
    start of t)``."""
    if c < ch_expected.shape[0]:
        return poisson(state, ARRIVALS, ch_expected[c, t - 1])
    lam = 0.0
    for s in range(n_start.shape[0]):
        lam += ref_rate[s] * n_start[s]
    return poisson(state, ARRIVALS, lam)


@helper
def multinomial(state, k, n, probs, out):
    """Multinomial(n, probs) into ``out`` (``probs`` sums to 1): ``n <= 16`` by ``n``
    categorical draws, else by conditional binomials (:func:`_binomial` inlined: see
    :func:`binomial`); the last category with positive probability takes what rounding leaves."""
    S = probs.shape[0]
    last = -1
    for j in range(S):
        out[j] = 0
        if probs[j] > 0.0:
            last = j
    if n <= 0 or last < 0:
        return
    if n <= 16:
        s0, s1, s2, s3 = stream_get(state, k)
        for _ in range(n):
            x, s0, s1, s2, s3 = xoshiro(s0, s1, s2, s3)
            u = to_unit(x)
            c = 0.0
            pick = last
            for j in range(last):
                c += probs[j]
                if u < c:
                    pick = j
                    break
            out[pick] += 1
        stream_put(state, k, s0, s1, s2, s3)
        return
    rest = 1.0
    for j in range(last + 1):
        if probs[j] <= 0.0:
            continue
        if j == last or probs[j] >= rest:
            out[j] = n
            return
        d = _binomial(state, k, n, probs[j] / rest)
        out[j] = d
        n -= d
        rest -= probs[j]
        if n <= 0:
            return


@helper
def program_factors(t, n_start, n_seg, pr_target, pr_partial, pr_upgrade, pr_spend, pr_cap, pr_red, pr_half,
                    pr_lift, churn_factor, upgrade_factor, ret_stage):
    """Per-customer program spend of period ``t`` (budget cap spread evenly:
    ``min(spend, cap / n_targeted)``) and its effects per segment, as
    :meth:`clmsim.model.CompiledModel.segment_program_factors`: ``churn_factor`` (G, S),
    ``upgrade_factor`` (G, S, S), ``ret_stage`` (G, S) spend per customer. Customers are
    counted from ``n_start`` (S,) or, for a program that skips some segment
    (``pr_partial``), from ``n_seg`` (G, S), the occupancy by segment and stage at the start
    of the period. Returns total retention spend."""
    G, S = churn_factor.shape[0], churn_factor.shape[1]
    for g in range(G):
        for s in range(S):
            churn_factor[g, s] = 1.0
            ret_stage[g, s] = 0.0
            for d in range(S):
                upgrade_factor[g, s, d] = 1.0
    total = 0.0
    for p in range(pr_target.shape[0]):
        ntarget = 0.0
        if pr_partial[p]:
            for g in range(G):
                for s in range(S):
                    if pr_target[p, g, s]:
                        ntarget += n_seg[g, s]
        else:
            for s in range(S):
                if pr_target[p, 0, s]:
                    ntarget += n_start[s]
        spend = pr_spend[p, t - 1]
        cap = pr_cap[p, t - 1]
        if cap >= 0.0 and ntarget > 0.0 and cap / ntarget < spend:
            spend = cap / ntarget
        total += spend * ntarget
        for g in range(G):
            f = spend / (spend + pr_half[p, g])
            for s in range(S):
                if not pr_target[p, g, s]:
                    continue
                churn_factor[g, s] *= 1.0 - pr_red[p, g] * f
                ret_stage[g, s] += spend
                for d in range(S):
                    if pr_upgrade[p, s, d]:
                        upgrade_factor[g, s, d] *= 1.0 + pr_lift[p, g] * f
    return total


@helper
def segment_occupancy(n, stage, seg, n_seg):
    """``n_seg[g, s]`` = customers ``0 .. n - 1`` in segment ``g`` and stage ``s`` (individual
    mode, for programs aimed at some segments only)."""
    for g in range(n_seg.shape[0]):
        for s in range(n_seg.shape[1]):
            n_seg[g, s] = 0.0
    for i in range(n):
        n_seg[seg[i], stage[i]] += 1.0


@helper
def row_tables(P, churn_mask, upgrade_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum):
    """Sampling tables of the effective rows (see :func:`clmsim.model.effective_matrix`).

    For segment ``g`` and stage ``s``: moves (off-diagonal, non-churn) ``u_j =
    P x upgrade[g]`` scaled to sum 1 if they exceed it (``mv_*``, cumulative, total
    ``msum``); churn entries ``c_j`` with total ``ctot`` and cumulative shares
    ``ch_cum`` (``c_j / C``). A customer with churn target ``C' = clip(churn_factor[g, s]
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
                    u = P[g, s, d] * upgrade_factor[g, s, d]
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


@helper
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


@helper
def row_probs(g, s, ct, mv_n, mv_dest, mv_cum, msum, ch_n, ch_dest, ch_cum, out):
    """Probabilities of row ``s`` of segment ``g`` into ``out`` for churn target ``ct``: churn
    ``ct`` split like the churn entries, the moves, and staying ``max(1 - ct - moves, 0)``."""
    for d in range(out.shape[0]):
        out[d] = 0.0
    prev = 0.0
    for j in range(ch_n[g, s]):
        out[ch_dest[g, s, j]] += ct * (ch_cum[g, s, j] - prev)
        prev = ch_cum[g, s, j]
    prev = 0.0
    for j in range(mv_n[g, s]):
        out[mv_dest[g, s, j]] += mv_cum[g, s, j] - prev
        prev = mv_cum[g, s, j]
    stay = 1.0 - ct - msum[g, s]
    out[s] += stay if stay > 0.0 else 0.0


@helper
def sample_row(u, s, g, ct, mv_last, mv_n, mv_dest, mv_cum, ch_n, ch_dest, ch_cum):
    """Destination of a customer in stage ``s`` given a uniform ``u`` and churn target ``ct``.

    ``u < ct`` churns (split by ``ch_cum``); otherwise ``x = u - ct`` picks a move by
    ``mv_cum``, and the usual outcome, staying (``x >=`` the last cumulative move
    ``mv_last[g, s]``), is decided by one comparison before the scan of the moves.
    Compiled once and called (three call sites in individual mode's customer loop): the
    numba-inlined copies cost 2.6% of that kernel's IR and executed more instructions.
    """
    if u < ct:
        x = u / ct
        n = ch_n[g, s]
        for j in range(n - 1):
            if x < ch_cum[g, s, j]:
                return ch_dest[g, s, j]
        return ch_dest[g, s, n - 1]
    x = u - ct
    if x >= mv_last[g, s]:
        return s
    n = mv_n[g, s]
    for j in range(n - 1):
        if x < mv_cum[g, s, j]:
            return mv_dest[g, s, j]
    return mv_dest[g, s, n - 1]


@helper
def row_table_arrays(G, S):
    """Zeroed row tables filled by :func:`row_tables`: ``mv_n, mv_dest, mv_cum, msum,
    ctot, ch_n, ch_dest, ch_cum`` of shapes (G, S) and (G, S, S)."""
    return (np.zeros((G, S), np.int64), np.zeros((G, S, S), np.int64), np.zeros((G, S, S), np.float64),
            np.zeros((G, S), np.float64), np.zeros((G, S), np.float64), np.zeros((G, S), np.int64),
            np.zeros((G, S, S), np.int64), np.zeros((G, S, S), np.float64))

