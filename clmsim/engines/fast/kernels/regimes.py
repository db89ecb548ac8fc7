"""Scheduled dynamics in the kernels: the tables of the period's regime.

A compiled model with schedules on its transitions, revenue means or margins has ``R``
regimes (:class:`clmsim.model.compiled.Dynamics`); the bundle carries ``P`` (R, G, S, S),
``rev_mean`` and ``margin`` (R, G, S), ``churn_scale`` (R, G, S) and ``regime`` (H,). A
kernel looks the regime up once per period and rebuilds its tables only when it changes, so
a model without schedules (R = 1) runs the same arithmetic as before regimes existed.
"""

from __future__ import annotations

import numpy as np

from .jit import helper
from .samplers import ACTIVE, CHURNED, LOST, PROSPECT


@helper
def load_regime(P_all, rev_all, margin_all, rg, P, rev_mean, margin):
    """Copy regime ``rg``'s transition matrices (G, S, S), revenue means and margins (G, S) into
    the kernel's working arrays ``P``, ``rev_mean`` and ``margin`` (explicit loops: a slice
    assignment would compile numba's shape-mismatch message formatting, about a second of
    compile time per kernel, for a check the shapes of the bundle make impossible)."""
    G, S = P.shape[0], P.shape[1]
    for g in range(G):
        for s in range(S):
            rev_mean[g, s] = rev_all[rg, g, s]
            margin[g, s] = margin_all[rg, g, s]
            for j in range(S):
                P[g, s, j] = P_all[rg, g, s, j]


@helper
def regime_start(P_all, rev_all, margin_all):
    """Working arrays ``(P, rev_mean, margin)`` of a kernel, holding regime 0 (a kernel copies
    each period's regime into them with :func:`load_regime`, so its hot loops use names bound
    once, as they did before regimes existed)."""
    P, rev_mean, margin = np.empty(P_all.shape[1:]), np.empty(rev_all.shape[1:]), np.empty(margin_all.shape[1:])
    load_regime(P_all, rev_all, margin_all, np.int64(0), P, rev_mean, margin)
    return P, rev_mean, margin


@helper
def gamma_tables(rev_mean, rev_cv, gam_shape, gam_scale):
    """Revenue gamma shape ``1/cv^2`` and scale ``mean cv^2`` of one regime, shapes (G, S)
    (left alone where ``cv = 0``: a fixed amount)."""
    for g in range(gam_shape.shape[0]):
        for s in range(gam_shape.shape[1]):
            cv = rev_cv[g, s]
            if cv > 0.0:
                gam_shape[g, s] = 1.0 / (cv * cv)
                gam_scale[g, s] = rev_mean[g, s] * cv * cv


@helper
def revenue_tables(kind, rev_mean, rev_cv, margin, cost, gam_shape, gam_scale, gam_d, gam_c, fixed_cb, noisy,
                   fast_src, fast_dst):
    """Revenue tables of one regime, shapes (G, S): gamma shape ``1/cv^2``, scale ``mean cv^2``
    and Marsaglia-Tsang constants, fixed contribution ``mean x margin - cost``, whether revenue
    is noisy, and the stages the fast path may leave / enter."""
    G, S = gam_shape.shape[0], gam_shape.shape[1]
    gamma_tables(rev_mean, rev_cv, gam_shape, gam_scale)
    for g in range(G):
        for s in range(S):
            if rev_cv[g, s] > 0.0:
                gam_d[g, s] = gam_shape[g, s] - 1.0 / 3.0
                gam_c[g, s] = 1.0 / np.sqrt(9.0 * gam_d[g, s])
            fixed_cb[g, s] = rev_mean[g, s] * margin[g, s] - cost[g, s]
            noisy[g, s] = gam_shape[g, s] > 0.0
            fast_src[g, s] = kind[s] != CHURNED and kind[s] != LOST
            fast_dst[g, s] = kind[s] == PROSPECT or (kind[s] == ACTIVE and (gam_shape[g, s] == 0.0
                                                                              or gam_shape[g, s] >= 1.0))


@helper
def scale_churn(churn_factor, scale):
    """``churn_factor *= scale`` (G, S): a per-customer churn probability (beta heterogeneity)
    follows the period's churn schedule (:class:`clmsim.model.compiled.Dynamics`); 1 elsewhere."""
    for g in range(churn_factor.shape[0]):
        for s in range(churn_factor.shape[1]):
            churn_factor[g, s] *= scale[g, s]
