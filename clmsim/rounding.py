"""Whole customers from expected counts: the one largest-remainder rounding clmsim uses.

A population split by segment shares (:mod:`clmsim.model.build`) and the expected customers of
latent classes written as initial populations (:mod:`clmsim.calibrate.classes`) must be whole
numbers that add up to a given total.
"""

from __future__ import annotations

import numpy as np


def largest_remainder(raw: np.ndarray, total: int) -> np.ndarray:
    """Non-negative ``raw`` (any shape) as integers summing to ``total``: each cell's floor, plus
    one for the cells with the largest fractional parts (ties to the first, in C order) until
    the total is reached. ``total`` must lie between ``floor(raw).sum()`` and that plus the
    number of cells."""
    raw = np.asarray(raw, dtype=float)
    out = np.floor(raw).astype(np.int64)
    rest = int(total - out.sum())
    if rest > 0:
        order = np.argsort(-(raw - out).ravel(), kind="stable")
        out.flat[order[:rest]] += 1
    return out
