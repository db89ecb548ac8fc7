"""The RNG policy (clmsim.rng): SeedSequence streams keyed by (run, purpose)."""

from __future__ import annotations

import numpy as np
import pytest

from clmsim import rng
from clmsim.errors import ClmsimError


def test_kernel_seeds_are_keyed_by_run_and_purpose():
    a = rng.kernel_seeds(42, 50)
    assert a.shape == (50, len(rng.PURPOSES)) and a.dtype == np.uint64
    # independent of how many runs were asked for, and of the offset used to chunk runs
    assert np.array_equal(a[:10], rng.kernel_seeds(42, 10))
    assert np.array_equal(a[20:30], rng.kernel_seeds(42, 10, first_run=20))
    assert not np.array_equal(a, rng.kernel_seeds(43, 50))


def test_remembered_kernel_seeds_are_the_seed_sequence_values_and_private_copies():
    # oracle: numpy's SeedSequence(entropy, spawn_key=(run, purpose)).generate_state(1, uint64)
    first = rng.kernel_seeds(11, 6, first_run=3)
    first[:] = 0                                     # a caller's copy: the memory is not shared
    again = rng.kernel_seeds(11, 6, first_run=3)
    expected = [[np.random.SeedSequence(11, spawn_key=(3 + i, j)).generate_state(1, np.uint64)[0]
                 for j in range(len(rng.PURPOSES))] for i in range(6)]
    assert np.array_equal(again, np.array(expected, np.uint64))
    big = rng.kernel_seeds(11, rng.REMEMBER_RUNS + 1)  # computed, not remembered
    assert np.array_equal(big[3:9], again)


def test_kernel_seeds_have_no_collisions_at_scale():
    # 64-bit values from distinct spawn keys: 20,000 runs x 5 purposes all distinct
    a = rng.kernel_seeds(7, 20_000)
    assert np.unique(a).size == a.size


def test_seed_validation_and_fresh_entropy():
    with pytest.raises(ClmsimError, match="seed"):
        rng.root_sequence(-1)
    with pytest.raises(ClmsimError, match="seed"):
        rng.root_sequence(1.5)
    fresh = rng.root_sequence(None)
    assert isinstance(fresh.entropy, int) and fresh.entropy > 0


def test_generator_streams_follow_the_same_keys():
    g1 = rng.generator(5, 3, "revenue").random(4)
    g2 = rng.generator(5, 3, "revenue").random(4)
    g3 = rng.generator(5, 3, "moves").random(4)
    assert np.array_equal(g1, g2) and not np.array_equal(g1, g3)
