"""Samplers of the fast-engine kernels against their exact distributions (oracle:
scipy.stats laws; Kolmogorov-Smirnov and moment checks at ~99.9%)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from clmsim.engines.fast.kernels import individual_rows as kernels_rows
from clmsim.engines.fast.kernels import individual_bare as kernels_bare, individual_het as kernels_het
from clmsim.engines.fast.kernels import counter_rng as kcnt, hypergeometric as khg, samplers as kc
from fast_helpers import from_python


@njit
def _draw(kind, a, b, n, seed):
    state = np.empty((kc.N_STREAMS, 4), np.uint64)
    seeds = np.full(kc.N_STREAMS, seed, np.uint64)
    kc.seed_streams(seeds, state)
    out = np.empty(n)
    for i in range(n):
        if kind == 0:
            out[i] = kc.normal(state, 0)
        elif kind == 1:
            out[i] = kc.gamma(state, 0, a)
        elif kind == 2:
            out[i] = kc.binomial(state, 0, int(a), b)
        elif kind == 3:
            out[i] = kc.poisson(state, 0, a)
        elif kind == 4:
            out[i] = kc.beta(state, 0, a, b)
        else:
            out[i] = kc.uniform(state, 0)
    return out


N = 200_000
KS_CRIT = 1.95 / np.sqrt(N)       # two-sided KS critical value at alpha = 0.001


def test_normal_ziggurat_matches_standard_normal():
    x = _draw(0, 0.0, 0.0, N, 11)
    assert stats.kstest(x, "norm").statistic < KS_CRIT
    # tails beyond the ziggurat base r = 3.44 are drawn by rejection: frequency matches
    tail = np.mean(np.abs(x) > 3.5)
    p = 2 * stats.norm.sf(3.5)
    assert abs(tail - p) < 4.5 * np.sqrt(p / N)


@pytest.mark.parametrize("shape", [0.3, 1.0, 6.25, 400.0])
def test_gamma_matches_gamma_law(shape):
    x = _draw(1, shape, 0.0, N, 12)
    assert stats.kstest(x, stats.gamma(shape).cdf).statistic < KS_CRIT


@pytest.mark.parametrize("n,p", [(10, 0.3), (1000, 0.02), (1_000_000, 0.37)])
def test_binomial_matches_binomial_moments(n, p):
    x = _draw(2, float(n), p, 20_000, 13)
    m, var = n * p, n * p * (1 - p)
    assert abs(x.mean() - m) < 4.5 * np.sqrt(var / x.size)
    assert abs(x.var() / var - 1) < 4.5 * np.sqrt(2 / x.size) + 4.5 * np.sqrt(1 / x.size)
    assert x.min() >= 0 and x.max() <= n


@pytest.mark.parametrize("lam", [0.5, 12.0, 5000.0])
def test_poisson_matches_poisson_moments(lam):
    x = _draw(3, lam, 0.0, 20_000, 14)
    assert abs(x.mean() - lam) < 4.5 * np.sqrt(lam / x.size)
    assert abs(x.var() / lam - 1) < 4.5 * np.sqrt(2 / x.size) + 4.5 * np.sqrt(1 / x.size)


@njit
def _draw_counter_gamma(shape, n, seed):
    gd = shape - 1.0 / 3.0
    gc = 1.0 / np.sqrt(9.0 * gd)
    out = np.empty(n)
    for i in range(n):
        out[i] = kcnt._gamma_sm(gd, gc, kcnt.counter_start(np.uint64(seed), kcnt.customer_key(i)))
    return out


@pytest.mark.parametrize("shape", [1.0, 6.25, 16.0])
def test_counter_based_gamma_matches_gamma_law(shape):
    """The per-customer-period revenue draw (SplitMix64 counter, one block per key)."""
    assert stats.kstest(_draw_counter_gamma(shape, N, 17), stats.gamma(shape).cdf).statistic < KS_CRIT


@njit
def _draw_counter_uniform(seed, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = kcnt.counter_uniform(np.uint64(seed), kcnt.customer_key(i))
    return out


def test_counter_uniforms_are_uniform_and_unrelated_across_seeds():
    a = _draw_counter_uniform(np.uint64(1), N)
    assert stats.kstest(a, "uniform").statistic < KS_CRIT
    # seeds differing by a multiple of the SplitMix64 increment must not replay each other
    b = _draw_counter_uniform(np.uint64((1 + 3 * int(kcnt.GOLDEN)) % 2**64), N)
    assert abs(np.corrcoef(a[3:], b[:-3])[0, 1]) < 4.5 / np.sqrt(N)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4.5 / np.sqrt(N)


def test_beta_and_uniform_match_their_laws():
    assert stats.kstest(_draw(4, 0.7, 1.2, N, 15), stats.beta(0.7, 1.2).cdf).statistic < KS_CRIT
    assert stats.kstest(_draw(5, 0.0, 0.0, N, 16), "uniform").statistic < KS_CRIT


@pytest.mark.parametrize("n,p", [(40, 0.8), (100, 0.3), (1000, 0.02), (5000, 0.4), (10_000_000, 0.013),
                                 (200, 0.55), (25, 0.45), (80, 0.13), (30, 0.34)])
def test_binomial_matches_binomial_pmf_chi_square(n, p):
    # oracle: scipy.stats.binom pmf; bins merged until every expected count is >= 20,
    # then a chi-square goodness-of-fit test at alpha = 0.001 (covers inversion below n p = 10
    # and BTRS above: the immediate box, the rejection step with Stirling corrections from the
    # table (k < 10) and from the series, and n p just above 10 where the box is smallest)
    draws = 200_000
    x = _draw(2, float(n), p, draws, 21).astype(np.int64)
    lo, hi = int(stats.binom.ppf(1e-7, n, p)), int(stats.binom.isf(1e-7, n, p))
    k = np.arange(lo, hi + 1)
    expected = stats.binom.pmf(k, n, p) * draws
    expected[0] += stats.binom.cdf(lo - 1, n, p) * draws
    expected[-1] += stats.binom.sf(hi, n, p) * draws
    observed = np.bincount(np.clip(x, lo, hi) - lo, minlength=k.size).astype(float)
    obs_bins, exp_bins, o, e = [], [], 0.0, 0.0
    for oi, ei in zip(observed, expected):
        o, e = o + oi, e + ei
        if e >= 20:
            obs_bins.append(o), exp_bins.append(e)
            o, e = 0.0, 0.0
    obs_bins[-1] += o
    exp_bins[-1] += e
    chi2 = float(np.sum((np.array(obs_bins) - exp_bins) ** 2 / np.array(exp_bins)))
    assert stats.chi2.sf(chi2, len(obs_bins) - 1) > 1e-3, (chi2, len(obs_bins))


def test_stirling_correction_matches_log_gamma():
    # oracle: scipy.special.gammaln; fc(k) = ln k! - [(k + 1/2) ln(k + 1) - (k + 1) + ln sqrt(2 pi)]
    from scipy import special

    k = np.arange(0, 400)
    exact = special.gammaln(k + 1.0) - ((k + 0.5) * np.log(k + 1.0) - (k + 1.0) + 0.5 * np.log(2 * np.pi))
    fc = from_python(kc._fc)
    got = np.array([fc(int(i)) for i in k])
    # (the reference itself cancels ln k! ~ 1e3 down to 1e-4: ~1e-13 of rounding at k ~ 300)
    assert np.max(np.abs(got - exact)) < 5e-13


@njit
def _gamma_rev_of(gd, gc, seed, keys):
    out = np.empty(keys.shape[0])
    for i in range(keys.shape[0]):
        out[i] = kernels_het.gamma_rev_keyed(gd, gc, seed, keys[i])
    return out


@pytest.mark.parametrize("shape", [1.0, 1.3, 6.25, 11.1, 16.0])
def test_draw_pass_gives_the_kernel_draws(shape):
    """The het path's draw pass: the transition uniform is counter_uniform, and a finite first
    attempt reproduces the full revenue-gamma sampler bit for bit (NaN otherwise)."""
    n = 20_000
    customer_key, counter_uniform = from_python(kcnt.customer_key), from_python(kcnt.counter_uniform)
    cid = np.array([customer_key(i) for i in range(n)], np.uint64)
    seed_mv, seed_rev, tg = np.uint64(12345), np.uint64(987654321), np.uint64(7 * int(kcnt.GOLDEN) % 2**64)
    umv, xg = np.empty(n), np.empty(n)
    from_python(kernels_het.draw_pass)(n, cid, seed_mv, seed_rev, tg, umv, xg)
    keys = cid + tg
    assert all(umv[i] == counter_uniform(seed_mv, keys[i]) for i in range(0, n, 97))
    gd = shape - 1.0 / 3.0
    gc = 1.0 / np.sqrt(9.0 * gd)
    full = _gamma_rev_of(gd, gc, seed_rev, keys)
    gv = 1.0 + gc * xg
    ok = gv > 0.0
    assert 0.85 < ok.mean() < 0.95                 # squeeze failures (~11%) take the full sampler
    np.testing.assert_array_equal(gd * (gv[ok] * gv[ok] * gv[ok]), full[ok])


def test_bare_path_codes_agree_with_the_flat_table():
    """A settled bucket code gives the destination the general path's flat table gives for the
    same counter-based uniform (what keeps the kernel bit-identical with the bare path)."""
    rng = np.random.default_rng(5)
    G, S = 2, 5
    P = rng.uniform(0.0, 0.1, (G, S, S))
    churn_mask = np.zeros((S, S), np.bool_)
    churn_mask[:, S - 1] = True
    upgrade = np.ones((G, S, S))
    churn_factor = np.ones((G, S))
    mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum = from_python(kc.row_table_arrays)(G, S)
    from_python(kc.row_tables)(P, churn_mask, upgrade, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum)
    fl_n = np.zeros((G, S), np.int64)
    fl_dest = np.zeros((G, S, S), np.int64)
    fl_cum = np.zeros((G, S, S))
    from_python(kernels_rows.flat_tables)(churn_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum, fl_n,
                             fl_dest, fl_cum)
    fast_src = np.ones((G, S), np.bool_)
    fast_src[:, S - 1] = False
    fast_dst = fast_src.copy()
    noisy = np.zeros((G, S), np.bool_)
    fixed_cb = rng.uniform(1.0, 9.0, (G, S))
    ret = np.zeros((G, S))
    bk = np.zeros(G * S << kernels_bare.BUCKET_BITS, np.int16)
    bk_cum = np.full((G, S, S), -1.0)
    NCD = G * S * S + 1
    cd_dest, cd_w, cd_fast = np.zeros(NCD, np.int8), np.zeros(NCD), np.zeros(NCD, np.bool_)
    assert from_python(kernels_bare.bucket_tables)(fl_n, fl_cum, fl_dest, fast_src, fast_dst, noisy, fixed_cb, ret, 0.9, bk,
                                      bk_cum, cd_dest, cd_w, cd_fast)
    n = 100_000
    stage = rng.integers(0, S - 1, n).astype(np.int8)
    seg = rng.integers(0, G, n).astype(np.int8)
    cid = rng.integers(0, 2 ** 63, n).astype(np.uint64)
    seed, tg = np.uint64(123456789), np.uint64(3 * int(kcnt.GOLDEN) % 2 ** 64)   # period 3
    code = np.empty(n, np.int16)
    from_python(kernels_bare.bucket_codes)(n, stage, seg, cid, seed, tg, S, G, bk, code)
    counter_uniform = from_python(kcnt.counter_uniform)
    u = np.array([counter_uniform(seed, key) for key in cid + tg])     # array sum wraps silently
    j = (u[:, None] >= fl_cum[seg, stage, :S - 1]).sum(axis=1)
    dest = fl_dest[seg, stage, j]
    settled = cd_fast[code]
    cut = ~settled & (dest != S - 1)
    assert 0.0 < cut.mean() < 0.01 and (code[cut] == G * S * S).all()    # cut buckets: general path
    assert (code[settled] == ((seg * S + stage) * S + j)[settled]).all()
    assert (cd_dest[code[settled]] == dest[settled]).all()
    assert (cd_dest[code[settled]] != S - 1).all()    # the lost stage is never settled


@njit
def _multinomial_draws(n, probs, reps, seed):
    state = np.empty((kc.N_STREAMS, 4), np.uint64)
    kc.seed_streams(np.full(kc.N_STREAMS, seed, np.uint64), state)
    out = np.zeros((reps, probs.shape[0]), np.int64)
    split = np.zeros(probs.shape[0], np.int64)
    for i in range(reps):
        kc.multinomial(state, 0, n, probs, split)
        out[i] = split
    return out


def _chi_square_p(observed, expected, min_expected=20.0):
    """p-value of a chi-square goodness-of-fit test after merging cells (in the given order)
    until every expected count is at least ``min_expected``."""
    obs_bins, exp_bins, o, e = [], [], 0.0, 0.0
    for oi, ei in zip(observed, expected):
        o, e = o + oi, e + ei
        if e >= min_expected:
            obs_bins.append(o), exp_bins.append(e)
            o, e = 0.0, 0.0
    obs_bins[-1] += o
    exp_bins[-1] += e
    chi2 = float(np.sum((np.array(obs_bins) - exp_bins) ** 2 / np.array(exp_bins)))
    return stats.chi2.sf(chi2, len(obs_bins) - 1)


@pytest.mark.parametrize("n", [1, 5, 16])
def test_multinomial_small_n_matches_multinomial_pmf_chi_square(n):
    # oracle: scipy.stats.multinomial pmf of every outcome (the categorical path, n <= 16,
    # with a zero-probability category first, as a stage row has: it must never be drawn)
    import itertools

    probs = np.array([0.0, 0.83, 0.10, 0.04, 0.0, 0.03])
    reps = 100_000
    draws = _multinomial_draws(n, probs, reps, 31)
    assert draws[:, 0].sum() == 0 and draws[:, 4].sum() == 0 and np.all(draws.sum(axis=1) == n)
    live = [1, 2, 3, 5]
    outcomes = [c for c in itertools.product(range(n + 1), repeat=len(live)) if sum(c) == n]
    law = stats.multinomial(n, probs[live])
    expected = np.array([law.pmf(c) for c in outcomes]) * reps
    index = {c: i for i, c in enumerate(outcomes)}
    observed = np.zeros(len(outcomes))
    for row in map(tuple, draws[:, live]):
        observed[index[row]] += 1
    order = np.argsort(expected)[::-1]
    assert _chi_square_p(observed[order], expected[order]) > 1e-3


def test_multinomial_large_n_matches_multinomial_moments():
    # oracle: E[X_j] = n p_j, Var[X_j] = n p_j (1 - p_j), Cov[X_i, X_j] = -n p_i p_j (the
    # conditional-binomial path, n > 16); tolerances 4.5 standard errors of each estimate
    probs = np.array([0.0, 0.83, 0.10, 0.04, 0.0, 0.03])
    n, reps = 5_000, 40_000
    draws = _multinomial_draws(n, probs, reps, 32).astype(float)
    assert np.all(draws.sum(axis=1) == n)
    mean = n * probs
    var = n * probs * (1 - probs)
    se_mean = np.sqrt(var / reps)
    assert np.all(np.abs(draws.mean(axis=0) - mean) <= 4.5 * se_mean + 1e-12)
    # sample variance: se ~ var * sqrt(2 / reps) for near-normal counts
    live = probs > 0
    assert np.all(np.abs(draws.var(axis=0, ddof=1)[live] - var[live]) <= 4.5 * var[live] * np.sqrt(2 / reps))
    cov = np.cov(draws[:, 1], draws[:, 2])[0, 1]
    true_cov = -n * probs[1] * probs[2]
    se_cov = np.sqrt((var[1] * var[2] + true_cov ** 2) / reps)
    assert abs(cov - true_cov) <= 4.5 * se_cov


@njit
def _hypergeometric_draws(good, bad, draws, reps, seed):
    state = np.empty((kc.N_STREAMS, 4), np.uint64)
    kc.seed_streams(np.full(kc.N_STREAMS, seed, np.uint64), state)
    out = np.empty(reps, np.int64)
    for i in range(reps):
        out[i] = khg.hypergeometric(state, 0, good, bad, draws)
    return out


@pytest.mark.parametrize("good,bad,draws", [(30, 70, 10), (30, 70, 80), (5, 500, 40), (400, 300, 350),
                                             (20, 20, 17), (700, 300, 20), (3, 100_000, 40_000),
                                             (2_000, 100_000, 99_000), (60_000, 40_000, 30_000)])
def test_hypergeometric_matches_hypergeometric_pmf_chi_square(good, bad, draws):
    # oracle: scipy.stats.hypergeom pmf. Covers the item-by-item branch (fewer than 16 draws of
    # the smaller side) and the ratio-of-uniforms branch, with each symmetry (draws above half
    # the total, more good than bad items)
    reps = 100_000
    x = _hypergeometric_draws(good, bad, draws, reps, 33)
    law = stats.hypergeom(good + bad, good, draws)
    k = np.arange(max(0, draws - bad), min(good, draws) + 1)
    observed = np.bincount(x - k[0], minlength=k.size).astype(float)
    assert observed.size == k.size
    assert _chi_square_p(observed, law.pmf(k) * reps) > 1e-3


@pytest.mark.parametrize("good,bad,draws", [(10**12, 3 * 10**12, 10**9), (10**12, 10**12, 2 * 10**12 - 20),
                                             (7 * 10**11, 3 * 10**11, 4 * 10**11), (5, 10**12, 5 * 10**11)])
def test_hypergeometric_of_huge_counts_matches_exact_moments(good, bad, draws):
    # oracle: the hypergeometric mean and variance in closed form (the counts of a churn pool of
    # 10^12 customers; scipy's pmf is not accurate there); each draw is O(1)
    reps = 50_000
    x = _hypergeometric_draws(good, bad, draws, reps, 34).astype(float)
    N = good + bad
    mean = draws * good / N
    var = mean * (bad / N) * (N - draws) / (N - 1)
    assert abs(x.mean() - mean) < 4.5 * np.sqrt(var / reps)
    assert abs(x.var() / var - 1) < 4.5 * np.sqrt(2 / reps) + 4.5 * np.sqrt(1 / reps)
    assert x.min() >= max(0, draws - bad) and x.max() <= min(good, draws)


@pytest.mark.parametrize("m,n,N", [(16, 16, 32), (16, 40, 100), (50, 50, 100), (5, 500, 1010), (300, 350, 700),
                                   (2, 10_000, 20_000), (1_000, 1_000, 1_000_000), (40_000, 30_000, 100_000)])
def test_hypergeometric_ratio_of_uniforms_hat_covers_the_pmf(m, n, N):
    # the condition the ratio-of-uniforms sampler is exact under (oracle: scipy.stats.hypergeom
    # log-pmf): for every x in [k, k + 1), |x - a| sqrt(f(k) / f(mode)) <= h / 2, and the mode
    # the kernel finds is the pmf's
    law = stats.hypergeom(N, m, n)
    k = np.arange(0, min(m, n) + 1)
    logf = law.logpmf(k)
    mode = int(k[np.argmax(logf)])
    mean = n * m / N
    var = mean * (N - m) / N * (N - n) / (N - 1)
    a = mean + 0.5
    h = khg.D_HAT_SLOPE * np.sqrt(var + 0.5) + khg.D_HAT_CONST
    ratio = np.sqrt(np.exp(logf - logf[mode]))
    reach = np.maximum(np.abs(k - a), np.abs(k + 1 - a)) * ratio
    assert np.all(reach <= h / 2 * (1 + 1e-12)), float(np.max(reach / (h / 2)))
    # the kernel's log ratios ln f(j) / f(mode) agree with the pmf's ratio recursion
    # f(k + 1) / f(k) = (m - k)(n - k) / ((k + 1)(N - m - n + k + 1)), summed exactly
    import math

    step = [math.log((m - i) * (n - i) / ((i + 1) * (N - m - n + i + 1))) for i in range(min(m, n))]
    lfr = from_python(khg.log_factorial_ratio)
    for j in (0, mode // 2, mode, (mode + min(m, n)) // 2, min(m, n)):
        t = lfr(mode, j) + lfr(m - mode, m - j) + lfr(n - mode, n - j) + lfr(N - m - n + mode, N - m - n + j)
        exact = -math.fsum(step[j:mode]) if j <= mode else math.fsum(step[mode:j])
        assert t == pytest.approx(exact, rel=1e-10, abs=1e-10)


@pytest.mark.parametrize("a,b", [(0, 0), (5, 0), (0, 7), (29, 31), (1000, 10), (10**12 + 900, 10**12),
                                 (10**12, 10**12 + 1000), (4 * 10**15, 4 * 10**15 - 3)])
def test_log_factorial_ratio_matches_a_sum_of_logs(a, b):
    # oracle: ln a! - ln b! = sum of ln i over i between them, summed exactly (math.fsum); at
    # 10^12 lgamma differences would lose ~1e-3
    import math

    lo, hi, sign = (b, a, 1.0) if a >= b else (a, b, -1.0)
    exact = sign * math.fsum(math.log(i) for i in range(lo + 1, hi + 1))
    assert from_python(khg.log_factorial_ratio)(a, b) == pytest.approx(exact, rel=1e-12, abs=1e-12)


@njit
def _poisson_once(lam):
    state = np.empty((kc.N_STREAMS, 4), np.uint64)
    kc.seed_streams(np.full(kc.N_STREAMS, 7, np.uint64), state)
    return kc.poisson(state, 0, lam)


@njit
def _binomial_once(n, p):
    state = np.empty((kc.N_STREAMS, 4), np.uint64)
    kc.seed_streams(np.full(kc.N_STREAMS, 7, np.uint64), state)
    return kc.binomial(state, 0, n, p)


@pytest.mark.parametrize("lam", [np.inf, 1e308, 2.0 ** 53 * 1.5, np.nan])
def test_poisson_refuses_a_rate_beyond_exact_counts_instead_of_looping(lam):
    # a spend of 1e308 made the kernel's Poisson loop forever (int(inf) in the splitting step)
    with pytest.raises(ValueError, match="Poisson draw refused"):
        _poisson_once(lam)


def test_poisson_at_the_largest_rate_is_a_poisson_count():
    lam = kc.COUNT_MAX
    x = _poisson_once(lam)
    assert abs(x - lam) < 6 * np.sqrt(lam)            # sd 9.5e7: within 6 sd
    assert _poisson_once(-1.0) == 0 and _poisson_once(0.0) == 0


def test_binomial_refuses_a_nan_probability_or_an_inexact_count():
    # a NaN probability made the inversion loop redraw forever
    with pytest.raises(ValueError, match="binomial draw refused"):
        _binomial_once(100, np.nan)
    with pytest.raises(ValueError, match="binomial draw refused"):
        _binomial_once(2 ** 60, 0.3)
    x = _binomial_once(2 ** 52, 0.3)
    assert abs(x - 0.3 * 2 ** 52) < 6 * np.sqrt(0.21 * 2 ** 52)


@njit
def _streams_agree(seed, n):
    """Draw ``n`` numbers through the state array and through register-held copies of it."""
    state = np.empty((kc.N_STREAMS, 4), np.uint64)
    kc.seed_streams(np.full(kc.N_STREAMS, seed, np.uint64), state)
    s0, s1, s2, s3 = state[1, 0], state[1, 1], state[1, 2], state[1, 3]
    for _ in range(n):
        x, s0, s1, s2, s3 = kc.xoshiro(s0, s1, s2, s3)
        if x != kc.next_u64(state, 1):
            return False
    return s0 == state[1, 0] and s1 == state[1, 1] and s2 == state[1, 2] and s3 == state[1, 3]


@njit
def _categorical_uses_n_numbers(n, seed):
    """The categorical path of ``multinomial`` consumes exactly ``n`` numbers of its stream."""
    a = np.empty((kc.N_STREAMS, 4), np.uint64)
    b = np.empty((kc.N_STREAMS, 4), np.uint64)
    kc.seed_streams(np.full(kc.N_STREAMS, seed, np.uint64), a)
    kc.seed_streams(np.full(kc.N_STREAMS, seed, np.uint64), b)
    split = np.zeros(3, np.int64)
    kc.multinomial(a, 2, n, np.array([0.5, 0.3, 0.2]), split)
    for _ in range(n):
        kc.uniform(b, 2)
    return kc.uniform(a, 2) == kc.uniform(b, 2)


def test_register_held_xoshiro_continues_the_array_stream():
    assert _streams_agree(41, 1000)
    assert all(_categorical_uses_n_numbers(n, 42) for n in (1, 7, 16))


@njit
def _through_unowned(a):
    row = kc.unowned(a[1])               # a view of a row, holding no reference
    row[2] = 7.0
    total = 0.0
    for j in range(row.shape[0]):
        total += row[j]
    whole = kc.unowned(a)
    whole[0, 0] = -1.0
    return total, row.shape[0], whole.shape


def test_unowned_view_reads_and_writes_the_owner():
    a = np.arange(12.0).reshape(3, 4)
    total, size, shape = _through_unowned(a)
    assert a[1, 2] == 7.0 and a[0, 0] == -1.0
    assert total == 4.0 + 5.0 + 7.0 + 7.0 and size == 4 and shape == (3, 4)


@pytest.mark.parametrize("a,b", [(0.001, 0.001), (0.01, 0.03), (0.004, 2.0)])
def test_beta_with_tiny_shapes_matches_beta_law(a, b):
    # oracle: scipy.stats.beta cdf at thresholds from 1e-300 to 1 - 1e-9, each share within
    # 4.5 binomial standard errors. With shapes this small both gamma draws underflow to 0 in
    # a large share of draws (a quarter at a = b = 0.001); the ratio must then come from their
    # logarithms, never 0/0. (Not a KS test: mass within 1e-16 of 1 rounds to exactly 1.0.)
    draws = _draw(4, a, b, N, 17)
    assert np.all(np.isfinite(draws)) and np.all((draws >= 0.0) & (draws <= 1.0))
    for q in (1e-300, 1e-100, 1e-10, 0.5, 1 - 1e-9):
        p = stats.beta(a, b).cdf(q)
        assert abs(np.mean(draws <= q) - p) <= 4.5 * np.sqrt(p * (1 - p) / N) + 1e-12, q
