"""Distribution functions of the heterogeneity draw, from :mod:`scipy.special`.

A segment's churn multiplier (or churn probability) is drawn once per customer from a gamma
law with shape ``k`` and scale ``s`` or a beta law with parameters ``a, b``. The engines and
the model need their cdf, survival function and its inverse at a handful of points (quadrature
pieces, risk-targeting thresholds); these are the regularized incomplete gamma and beta
functions, which give the same numbers as ``scipy.stats.gamma`` / ``scipy.stats.beta`` (those
call the same functions) without importing ``scipy.stats``, which costs about half a second
on every command.

- gamma(k, s): ``cdf(x) = P(k, x / s)``, ``sf(x) = Q(k, x / s)``, ``isf(q) = s Q^-1(k, q)``;
- beta(a, b): ``cdf(x) = I_x(a, b)``, ``sf(x) = 1 - I_x(a, b)``, ``isf(q)`` its inverse.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
from scipy import special

__all__ = ["GammaLaw", "BetaLaw", "het_law"]


class GammaLaw(NamedTuple):
    """Gamma law with shape ``k`` and scale ``s`` (mean ``k s``)."""

    k: float
    s: float

    def cdf(self, x):
        return special.gammainc(self.k, np.maximum(x, 0.0) / self.s)

    def sf(self, x):
        return special.gammaincc(self.k, np.maximum(x, 0.0) / self.s)

    def isf(self, q):
        return self.s * special.gammainccinv(self.k, q)


class BetaLaw(NamedTuple):
    """Beta law with parameters ``a`` and ``b`` on [0, 1]."""

    a: float
    b: float

    def cdf(self, x):
        return special.betainc(self.a, self.b, np.clip(x, 0.0, 1.0))

    def sf(self, x):
        return special.betaincc(self.a, self.b, np.clip(x, 0.0, 1.0))

    def isf(self, q):
        return special.betainccinv(self.a, self.b, q)


def het_law(het) -> GammaLaw | BetaLaw:
    """The law of a heterogeneity draw ``het`` (``kind`` "gamma" with ``mean`` and ``cv``:
    shape ``1 / cv^2``, scale ``mean cv^2``; ``kind`` "beta" with ``alpha`` and ``beta``)."""
    if het.kind == "gamma":
        return GammaLaw(1.0 / het.cv ** 2, het.mean * het.cv ** 2)
    if het.kind == "beta":
        return BetaLaw(het.alpha, het.beta)
    raise ValueError(f"no law for heterogeneity kind {het.kind!r}")
