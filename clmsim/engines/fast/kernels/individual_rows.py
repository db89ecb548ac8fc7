"""Row tables of the fast engine's individual mode: a customer's effective transition row
as the kernel samples it, and the flat per-(segment, stage) tables of customers without
heterogeneity (every destination by decreasing probability, so the usual outcome is found at
the first comparison)."""

from __future__ import annotations

import numpy as np

from .jit import helper
from .samplers import HET_NONE, churn_target, row_probs, row_table_arrays, row_tables

__all__ = ["effective_row", "flat_tables"]


@helper
def effective_row(P, churn_mask, upgrade_factor, churn_factor, g, s, het, mult):
    """Effective row ``s`` of segment ``g`` as the kernel samples it (for tests
    against :func:`clmsim.model.effective_matrix`)."""
    G, S = P.shape[0], P.shape[1]
    mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum = row_table_arrays(G, S)
    uf = np.empty((G, S, S), np.float64)
    for k in range(G):
        uf[k] = upgrade_factor
    row_tables(P, churn_mask, uf, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum)
    out = np.zeros(S, np.float64)
    ct = churn_target(churn_factor[s], ctot[g, s], msum[g, s], het, mult)
    row_probs(g, s, ct, mv_n, mv_dest, mv_cum, msum, ch_n, ch_dest, ch_cum, out)
    return out


@helper
def flat_tables(churn_factor, mv_n, mv_dest, mv_cum, msum, ctot, ch_n, ch_dest, ch_cum, fl_n, fl_dest,
                fl_cum):
    """Rows of customers without heterogeneity as one table per (segment, stage):
    every destination (staying included) by decreasing probability, cumulative, so
    the usual outcome is found at the first comparison."""
    G, S = mv_n.shape[0], mv_n.shape[1]
    prob = np.zeros(S, np.float64)
    order = np.zeros(S, np.int64)
    for g in range(G):
        for s in range(S):
            ct = churn_target(churn_factor[g, s], ctot[g, s], msum[g, s], HET_NONE, 1.0)
            row_probs(g, s, ct, mv_n, mv_dest, mv_cum, msum, ch_n, ch_dest, ch_cum, prob)
            _order_desc(prob, order)
            m = 0
            tot = 0.0
            for j in range(S):
                d = order[j]
                if prob[d] > 0.0:
                    tot += prob[d]
                    fl_dest[g, s, m] = d
                    fl_cum[g, s, m] = tot
                    m += 1
            if m == 0:
                fl_dest[g, s, 0] = s
                m = 1
            for j in range(m - 1, S):
                fl_cum[g, s, j] = 2.0                      # the last entry takes everything left
            fl_n[g, s] = m


@helper
def _order_desc(prob, order):
    """``order`` = indices of ``prob`` by decreasing value, ties in index order: a stable
    insertion sort (the order ``np.argsort(-prob)`` gives up to 15 entries, without
    compiling numba's quicksort)."""
    for i in range(prob.shape[0]):
        j = i
        while j > 0 and prob[i] > prob[order[j - 1]]:
            order[j] = order[j - 1]
            j -= 1
        order[j] = i
