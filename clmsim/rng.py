"""The one random-number policy of clmsim: every stream comes from a seed through
:class:`numpy.random.SeedSequence`, keyed by (run, purpose).

Run ``r`` and purpose ``p`` always get the stream of
``SeedSequence(entropy=seed, spawn_key=(r, p))`` -- independent of how many runs
are requested, of the strategy and of the thread count. Every strategy therefore
sees the same random inputs in run ``r`` (common random numbers), and the first
100 runs of a 1,000-run study are the 100 runs of a 100-run study.

Kernels receive one 64-bit value per (run, purpose) (:func:`kernel_seeds`) and
expand it inside the kernel with splitmix64 into a xoshiro256** state. 64-bit
values make collisions negligible (probability ~ n^2 / 2^65: ~3e-8 for 10^6
runs x 5 purposes), unlike numba's 32-bit ``np.random.seed`` which collides at
10^5-10^6 runs. No global RNG is used or touched anywhere.
"""

from __future__ import annotations

import functools

import numpy as np

PURPOSES = ("moves", "revenue", "arrivals", "heterogeneity", "winback")
"""Named streams of one run. ``moves``: per-customer transitions and win-back
contact/success uniforms; ``revenue``: revenue noise; ``arrivals``: Poisson
acquisitions, referrals and their segment split; ``heterogeneity``: per-customer
draws at arrival; ``winback``: contact counts per churn age (count-level)."""


FRESH_SEED_DIGITS = 9
"""A seed drawn when none is given has at most this many digits: short enough to retype."""


def fresh_seed() -> int:
    """A new seed from OS entropy, below ``10 ** FRESH_SEED_DIGITS`` (printed and recorded, so
    a user can retype it to reproduce the study)."""
    import secrets

    return secrets.randbelow(10 ** FRESH_SEED_DIGITS)


def root_sequence(seed: int | None) -> np.random.SeedSequence:
    """The root :class:`~numpy.random.SeedSequence` of a study.

    Parameters
    ----------
    seed : int or None
        A non-negative integer; None draws a fresh seed from OS entropy (:func:`fresh_seed`;
        record ``root_sequence(None).entropy`` to reproduce the study).
    """
    if seed is None:
        seed = fresh_seed()
    else:
        if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
            from .errors import ClmsimError
            raise ClmsimError(f"seed must be a non-negative integer or None, got {seed!r}")
        seed = int(seed)
    return np.random.SeedSequence(seed)


def stream(seed_entropy: int, run: int, purpose: str) -> np.random.SeedSequence:
    """SeedSequence of one (run, purpose) stream: ``spawn_key = (run, purpose index)``."""
    return np.random.SeedSequence(seed_entropy, spawn_key=(int(run), PURPOSES.index(purpose)))


def kernel_seeds(seed_entropy: int, runs: int, first_run: int = 0) -> np.ndarray:
    """64-bit seeds for kernels, shape ``(runs, len(PURPOSES))``, dtype uint64.

    Row ``i`` belongs to run ``first_run + i``; column ``j`` to ``PURPOSES[j]``.
    Each value is ``SeedSequence(seed_entropy, spawn_key=(run, j)).generate_state(1, uint64)``.
    A study asks for the same runs at every point (common random numbers) and each
    SeedSequence costs microseconds (4% of a telecom counts run), so recent answers of up
    to :data:`REMEMBER_RUNS` runs are remembered (at most 32 of them, 13 MB); every call
    returns its own copy.
    """
    if runs < 0:
        raise ValueError(f"runs must be >= 0, got {runs}")
    if runs > REMEMBER_RUNS:
        return _kernel_seeds.__wrapped__(int(seed_entropy), int(runs), int(first_run))
    return _kernel_seeds(int(seed_entropy), int(runs), int(first_run)).copy()


REMEMBER_RUNS = 10_000
"""Largest run range whose kernel seeds :func:`kernel_seeds` remembers."""


@functools.lru_cache(maxsize=32)
def _kernel_seeds(seed_entropy: int, runs: int, first_run: int) -> np.ndarray:
    out = np.empty((runs, len(PURPOSES)), dtype=np.uint64)
    for i in range(runs):
        for j in range(len(PURPOSES)):
            ss = np.random.SeedSequence(seed_entropy, spawn_key=(first_run + i, j))
            out[i, j] = ss.generate_state(1, np.uint64)[0]
    return out


def generator(seed_entropy: int, run: int, purpose: str) -> np.random.Generator:
    """A NumPy :class:`~numpy.random.Generator` on the (run, purpose) stream, for
    Python-side code (e.g. DES) that follows the same policy."""
    return np.random.Generator(np.random.PCG64(stream(seed_entropy, run, purpose)))
