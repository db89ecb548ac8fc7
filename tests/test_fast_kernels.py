"""Samplers of the fast-engine kernels against their exact distributions (oracle:
scipy.stats laws; Kolmogorov-Smirnov and moment checks at ~99.9%)."""

from __future__ import annotations

import numpy as np
import pytest
from numba import njit
from scipy import stats

from clmsim.engines import kernels_bare, kernels_chain, kernels_common as kc, kernels_counts, kernels_het


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
        out[i] = kc._gamma_sm(gd, gc, kc.counter_start(np.uint64(seed), kc.customer_key(i)))
    return out


@pytest.mark.parametrize("shape", [1.0, 6.25, 16.0])
def test_counter_based_gamma_matches_gamma_law(shape):
    """The per-customer-period revenue draw (SplitMix64 counter, one block per key)."""
    assert stats.kstest(_draw_counter_gamma(shape, N, 17), stats.gamma(shape).cdf).statistic < KS_CRIT


@njit
def _draw_counter_uniform(seed, n):
    out = np.empty(n)
    for i in range(n):
        out[i] = kc.counter_uniform(np.uint64(seed), kc.customer_key(i))
    return out


def test_counter_uniforms_are_uniform_and_unrelated_across_seeds():
    a = _draw_counter_uniform(np.uint64(1), N)
    assert stats.kstest(a, "uniform").statistic < KS_CRIT
    # seeds differing by a multiple of the SplitMix64 increment must not replay each other
    b = _draw_counter_uniform(np.uint64((1 + 3 * int(kc.GOLDEN)) % 2**64), N)
    assert abs(np.corrcoef(a[3:], b[:-3])[0, 1]) < 4.5 / np.sqrt(N)
    assert abs(np.corrcoef(a, b)[0, 1]) < 4.5 / np.sqrt(N)


def test_beta_and_uniform_match_their_laws():
    assert stats.kstest(_draw(4, 0.7, 1.2, N, 15), stats.beta(0.7, 1.2).cdf).statistic < KS_CRIT
    assert stats.kstest(_draw(5, 0.0, 0.0, N, 16), "uniform").statistic < KS_CRIT


def test_kernel_modules_record_the_current_common_hash():
    """numba's cache would not notice an edit of kernels_common.py: the kernel modules record
    its hash (editing them forces a recompile) and refuse to import when it is stale."""
    assert kernels_chain.COMMON_SHA256 == kc.source_sha256()
    assert kernels_counts.COMMON_SHA256 == kc.source_sha256()
    with pytest.raises(RuntimeError, match="COMMON_SHA256"):
        kc.check_dependency("clmsim.engines.kernels_chain", "0" * 64)


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
    got = np.array([kc._fc(int(i)) for i in k])
    # (the reference itself cancels ln k! ~ 1e3 down to 1e-4: ~1e-13 of rounding at k ~ 300)
    assert np.max(np.abs(got - exact)) < 5e-13
def test_chain_kernel_records_the_current_het_hash():
    """Same stale-cache guard for kernels_het.py (het path of the individual kernel)."""
    assert kernels_chain.HET_SHA256 == kernels_het.source_sha256()
    assert kernels_het.COMMON_SHA256 == kc.source_sha256()
    with pytest.raises(RuntimeError, match="HET_SHA256"):
        kernels_het.check_dependency("clmsim.engines.kernels_chain", "0" * 64)


@njit
def _gamma_rev_of(gd, gc, seed, keys):
    out = np.empty(keys.shape[0])
    for i in range(keys.shape[0]):
        out[i] = kernels_het.gamma_rev_slow(gd, gc, seed, keys[i])
    return out


@pytest.mark.parametrize("shape", [1.0, 1.3, 6.25, 11.1, 16.0])
def test_draw_pass_gives_the_kernel_draws(shape):
    """The het path's draw pass: the transition uniform is counter_uniform, and a finite first
    attempt reproduces the full revenue-gamma sampler bit for bit (NaN otherwise)."""
    n = 20_000
    cid = np.array([kc.customer_key(i) for i in range(n)], np.uint64)
    seed_mv, seed_rev, tg = np.uint64(12345), np.uint64(987654321), np.uint64(7 * int(kc.GOLDEN) % 2**64)
    umv, xg = np.empty(n), np.empty(n)
    kernels_het.draw_pass(n, cid, seed_mv, seed_rev, tg, umv, xg)
    keys = cid + tg
    assert all(umv[i] == kc.counter_uniform(seed_mv, keys[i]) for i in range(0, n, 97))
    gd = shape - 1.0 / 3.0
    gc = 1.0 / np.sqrt(9.0 * gd)
    full = _gamma_rev_of(gd, gc, seed_rev, keys)
    gv = 1.0 + gc * xg
    ok = gv > 0.0
    assert 0.85 < ok.mean() < 0.95                 # squeeze failures (~11%) take the full sampler
    np.testing.assert_array_equal(gd * (gv[ok] * gv[ok] * gv[ok]), full[ok])


def test_chain_kernel_records_the_current_bare_hash():
    """Same stale-cache guard for kernels_bare.py, whose jitted helpers kernels_chain calls."""
    assert kernels_chain.BARE_SHA256 == kernels_bare.source_sha256()
    with pytest.raises(RuntimeError, match="BARE_SHA256"):
        kernels_bare.check_dependency("clmsim.engines.kernels_chain", "0" * 64)


def test_bare_path_codes_agree_with_the_flat_table():
    """A settled bucket code gives the destination the general path's flat table gives for the
    same counter-based uniform (what keeps the kernel bit-identical with the bare path)."""
    rng = np.random.default_rng(5)
    G, S = 2, 5
    P = rng.uniform(0.0, 0.1, (G, S, S))
    churn_mask = np.zeros((S, S), np.bool_)
    churn_mask[:, S - 1] = True
    upgrade = np.ones((S, S))
    churn_factor = np.ones(S)
    mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum = kc.row_table_arrays(G, S)
    kc.row_tables(P, churn_mask, upgrade, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum)
    fl_n = np.zeros((G, S), np.int64)
    fl_dest = np.zeros((G, S, S), np.int64)
    fl_cum = np.zeros((G, S, S))
    kernels_chain.flat_tables(churn_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum, fl_n,
                              fl_dest, fl_cum)
    fast_src = np.ones((G, S), np.bool_)
    fast_src[:, S - 1] = False
    fast_dst = fast_src.copy()
    noisy = np.zeros((G, S), np.bool_)
    fixed_cb = rng.uniform(1.0, 9.0, (G, S))
    ret = np.zeros(S)
    bk = np.zeros(G * S << kernels_bare.BUCKET_BITS, np.int16)
    bk_cum = np.full((G, S, S), -1.0)
    NCD = G * S * S + 1
    cd_dest, cd_w, cd_fast = np.zeros(NCD, np.int8), np.zeros(NCD), np.zeros(NCD, np.bool_)
    assert kernels_bare.bucket_tables(fl_n, fl_cum, fl_dest, fast_src, fast_dst, noisy, fixed_cb, ret, 0.9, bk,
                                      bk_cum, cd_dest, cd_w, cd_fast)
    n = 100_000
    stage = rng.integers(0, S - 1, n).astype(np.int8)
    seg = rng.integers(0, G, n).astype(np.int8)
    cid = rng.integers(0, 2 ** 63, n).astype(np.uint64)
    seed, tg = np.uint64(123456789), np.uint64(3 * int(kc.GOLDEN) % 2 ** 64)   # period 3
    code = np.empty(n, np.int16)
    kernels_bare.bucket_codes(n, stage, seg, cid, seed, tg, S, G, bk, code)
    u = np.array([kc.counter_uniform(seed, key) for key in cid + tg])     # array sum wraps silently
    j = (u[:, None] >= fl_cum[seg, stage, :S - 1]).sum(axis=1)
    dest = fl_dest[seg, stage, j]
    settled = cd_fast[code]
    cut = ~settled & (dest != S - 1)
    assert 0.0 < cut.mean() < 0.01 and (code[cut] == G * S * S).all()    # cut buckets: general path
    assert (code[settled] == ((seg * S + stage) * S + j)[settled]).all()
    assert (cd_dest[code[settled]] == dest[settled]).all()
    assert (cd_dest[code[settled]] != S - 1).all()    # the lost stage is never settled
