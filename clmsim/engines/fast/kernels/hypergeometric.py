"""Hypergeometric sampler of the counts kernel: exact, O(1) whatever the population.

Ratio of uniforms with a table-mountain hat (Stadlober 1989) above
:data:`HYPERGEOMETRIC_SEQUENTIAL` draws of the smaller side, item by item below it. Draws
from the xoshiro256** streams of :mod:`.samplers` (``uniform``) and uses its log-factorial
correction table (``_fc``). Split out of :mod:`.samplers` so that each module holds one
concept; an edit of either recompiles every kernel (:mod:`.cache`).
"""

from __future__ import annotations

import numpy as np

from .jit import helper
from .samplers import _fc, uniform


HYPERGEOMETRIC_SEQUENTIAL = 16
"""Below this many draws (of the smaller side), :func:`hypergeometric` takes the items one by one."""
D_HAT_SLOPE = 1.7155277699214135
"""``2 sqrt(2/e)``: width per standard deviation of the ratio-of-uniforms hat (Stadlober 1989)."""
D_HAT_CONST = 0.8989161620588988
"""``3 - 2 sqrt(3/e)``: constant part of that width (the hat covers every log-concave pmf)."""


@helper
def log_factorial_ratio(a, b):
    """``ln a! - ln b!`` for integers ``a, b >= 0``, accurate for large close arguments.

    From ``ln k! = (k + 1/2) ln(k + 1) - (k + 1) + ln sqrt(2 pi) + fc(k)`` (:func:`_fc`):
    ``(a - b) ln(a + 1) + (b + 1/2) log1p((a - b) / (b + 1)) - (a - b) + fc(a) - fc(b)``. Each
    term is of the size of ``(a - b) ln a``, so the absolute error is about ``1e-16 |a - b| ln a``
    (``lgamma(a + 1) - lgamma(b + 1)`` would lose ``1e-16 a ln a``: 3e-3 at a = 1e12)."""
    d = float(a - b)
    return d * np.log(a + 1.0) + (b + 0.5) * np.log1p(d / (b + 1.0)) - d + _fc(np.int64(a)) - _fc(np.int64(b))


@helper
def _hypergeometric_hrua(state, k, m, n, N):
    """Items of the smaller class (``m`` of ``N``) among ``n`` drawn, for ``m, n <= N / 2``:
    ratio of uniforms with a table-mountain hat (Stadlober 1989, "Sampling from Poisson,
    binomial and hypergeometric distributions: ratio of uniforms as a simple and fast
    alternative"). With ``a = mean + 1/2`` and half-width ``h / 2``, ``h = D1 sqrt(var + 1/2)
    + D2``, the pair ``(u, v)`` uniform on ``(0, 1] x [-h/2, h/2]`` gives ``x = a + v / u``,
    accepted when ``u^2 <= f(floor x) / f(mode)`` (squeezes ``2 ln u <= u (4 - u) - 3`` and
    ``2 ln u >= u - 1/u`` first). Exact; O(1) expected: about 1.4 pairs per draw."""
    mean = n * (m / N)
    var = mean * ((N - m) / N) * ((N - n) / (N - 1.0))
    a = mean + 0.5
    h = D_HAT_SLOPE * np.sqrt(var + 0.5) + D_HAT_CONST
    top = min(n, m)
    rest = N - m - n                                      # >= 0: m, n <= N / 2
    mode = np.int64(np.floor((n + 1.0) * (m + 1.0) / (N + 2.0)))
    mode = min(max(mode, 0), top)
    # exact mode: f(k + 1) / f(k) = (m - k)(n - k) / ((k + 1)(rest + k + 1)) (float ratios)
    while mode < top and (m - mode) * float(n - mode) > (mode + 1.0) * float(rest + mode + 1):
        mode += 1
    while mode > 0 and (m - mode + 1.0) * float(n - mode + 1) < mode * float(rest + mode):
        mode -= 1
    while True:
        u = 1.0 - uniform(state, k)                      # (0, 1]
        v = uniform(state, k) - 0.5
        x = a + h * v / u
        if x < 0.0 or x >= top + 1.0:
            continue
        j = np.int64(np.floor(x))
        t = (log_factorial_ratio(mode, j) + log_factorial_ratio(m - mode, m - j)
             + log_factorial_ratio(n - mode, n - j) + log_factorial_ratio(rest + mode, rest + j))
        if u * (4.0 - u) - 3.0 <= t:
            return j
        if u * (u - t) >= 1.0:
            continue
        if 2.0 * np.log(u) <= t:
            return j


@helper
def hypergeometric(state, k, good, bad, draws):
    """Good items among ``draws`` taken without replacement from ``good + bad``, exact.

    By symmetry the draw is of the smaller class among the smaller of the drawn and the
    left-over items; below :data:`HYPERGEOMETRIC_SEQUENTIAL` draws the items are taken one
    by one, else :func:`_hypergeometric_hrua` (O(1), whatever the counts)."""
    total = good + bad
    if draws <= 0 or good <= 0:
        return 0
    if draws >= total:
        return good
    if bad <= 0:
        return draws
    flip_draws = 2 * draws > total                       # count among the left-over items instead
    n = total - draws if flip_draws else draws
    flip_class = good > bad                              # count the bad items instead
    m = bad if flip_class else good
    if n < HYPERGEOMETRIC_SEQUENTIAL:
        x = 0
        left, other, size = m, total - m, total
        for _ in range(n):
            if uniform(state, k) * size < left:
                x += 1
                left -= 1
            else:
                other -= 1
            size -= 1
    else:
        x = _hypergeometric_hrua(state, k, m, n, total)
    if flip_draws:
        x = m - x                                        # the smaller class among the drawn items
    return draws - x if flip_class else x
