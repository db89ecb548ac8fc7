"""Counter-based random numbers of the fast engine's individual mode: SplitMix64
(Steele, Lea & Flood 2014) outputs of ``seed XOR key``, where a customer's key depends
only on its arrival number and the period. Every customer therefore meets the same
numbers in every strategy whatever the rest of the population does (common random
numbers), and a draw needs no stream state. Also the ziggurat normal and the
Marsaglia-Tsang gamma on such a counter (revenue noise).

Stale caches: an edit of this module recompiles every kernel (:mod:`.cache`).
"""

from __future__ import annotations

import numpy as np

from .jit import helper, inlined
from .samplers import ZIG_FN, ZIG_KN, ZIG_WN, to_unit



GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@helper
def _mix64(z):
    """SplitMix64 output function (Steele, Lea & Flood 2014)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@helper
def customer_key(c):
    """64-bit key of customer ``c`` (numbered in arrival order): ``mix(c G)`` with the
    SplitMix64 mixer ``mix`` and increment ``G``; computed once, at arrival."""
    return _mix64(np.uint64(c) * GOLDEN)


@helper
def counter_uniform(seed, key):
    """Counter-based uniform ``mix(seed XOR key)``; customer ``c`` in period ``t`` uses
    ``key = customer_key(c) + t G`` and meets the same number in every strategy whatever the
    rest of the population does (common random numbers). The key is mixed before it meets
    the seed, so two runs whose seeds differ by a multiple of ``G`` do not replay each other
    (as they would with a plain Weyl offset ``seed + key G``)."""
    return to_unit(_mix64(seed ^ key))


REV_OFFSET = np.uint64(0x632BE59BD9B4E019)
"""Key offset ``c`` of the revenue counter block (:func:`counter_start`)."""


@helper
def counter_start(seed, key):
    """Start of the SplitMix64 block of (``seed``, ``key``) for draws needing several numbers
    (revenue gamma): ``mix(seed XOR (key + c))``, ``c`` = :data:`REV_OFFSET`; the block
    continues ``z += G``."""
    return _mix64(seed ^ (key + REV_OFFSET))


@helper
def _zig_reject_sm(z, hz, iz):
    """Ziggurat normal after a failed fast test for ``(hz, iz)`` (wedge or tail test,
    else fresh draws), on a SplitMix64 counter ``z``; returns ``(x, z)``."""
    if iz == 0:
        while True:
            z += GOLDEN
            x = -np.log(1.0 - to_unit(_mix64(z))) * 0.2904764
            z += GOLDEN
            y = -np.log(1.0 - to_unit(_mix64(z)))
            if y + y >= x * x:
                break
        return (3.442620 + x if hz > 0 else -3.442620 - x), z
    x = hz * ZIG_WN[iz]
    z += GOLDEN
    if ZIG_FN[iz] + to_unit(_mix64(z)) * (ZIG_FN[iz - 1] - ZIG_FN[iz]) < np.exp(-0.5 * x * x):
        return x, z
    while True:
        z += GOLDEN
        bits = _mix64(z)
        hz = np.int64(np.int32(np.uint32(bits >> np.uint64(32))))
        iz = hz & 127
        if abs(hz) < ZIG_KN[iz]:
            return hz * ZIG_WN[iz], z
        if iz == 0:
            return _zig_reject_sm(z, hz, iz)
        x = hz * ZIG_WN[iz]
        z += GOLDEN
        if ZIG_FN[iz] + to_unit(_mix64(z)) * (ZIG_FN[iz - 1] - ZIG_FN[iz]) < np.exp(-0.5 * x * x):
            return x, z


@inlined
def _gamma_sm(gd, gc, z):
    """Gamma(shape >= 1) / 1 by Marsaglia-Tsang (``gd = shape - 1/3``, ``gc = 1/sqrt(9 gd)``)
    with a ziggurat normal, drawing from the SplitMix64 sequence at counter ``z``."""
    while True:
        z += GOLDEN
        bits = _mix64(z)
        hz = np.int64(np.int32(np.uint32(bits >> np.uint64(32))))
        iz = hz & 127
        if abs(hz) < ZIG_KN[iz]:
            x = hz * ZIG_WN[iz]
        else:
            x, z = _zig_reject_sm(z, hz, iz)
        gv = 1.0 + gc * x
        if gv <= 0.0:
            continue
        gv = gv * gv * gv
        z += GOLDEN
        u = to_unit(_mix64(z))
        x2 = x * x
        if u < 1.0 - 0.0331 * x2 * x2:
            break
        if np.log(u) < 0.5 * x2 + gd * (1.0 - gv + np.log(gv)):
            break
    return gd * gv
