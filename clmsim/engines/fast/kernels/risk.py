"""Risk-targeted care programmes (``target_risk``) in the fast engine's kernels: one rule for
both modes.

A care programme ``p`` with ``target_risk`` reaches, in the (segment, stage) cells of
``rk_target[p]``, only the customers whose heterogeneity draw exceeds ``rk_q[p, g]`` (the
segment's ``1 - top_share`` quantile, :meth:`clmsim.model.compiled.Program.thresholds`). A
customer reached in period ``t`` has churn scaled by ``rk_fac[p, g, t - 1]`` and costs
``rk_spend[p, t - 1]``. Individual mode applies it per customer (its draw), counts mode per
customer type (types are split at the thresholds).
"""

from __future__ import annotations

from .jit import helper
from .samplers import churn_target, row_probs


@helper
def risk_care(t, g, s, val, cf, rk_target, rk_q, rk_fac, rk_spend):
    """The programmes reaching a customer of cell ``(g, s)`` with draw ``val`` in period ``t``:
    ``(churn factor, spend, reached)`` -- ``cf`` times each reaching programme's factor, the
    sum of their spends, and whether any reaches it."""
    spend = 0.0
    hit = False
    for p in range(rk_q.shape[0]):
        if rk_target[p, g, s] and val > rk_q[p, g]:
            cf *= rk_fac[p, g, t - 1]
            spend += rk_spend[p, t - 1]
            hit = True
    return cf, spend, hit


@helper
def risk_rows(t, type_seg, type_het, type_val, churn_factor, rk_target, rk_q, rk_fac, rk_spend, mv_n, mv_cum,
              mv_dest, msum, ctot, ch_n, ch_dest, ch_cum, probs):
    """Counts mode: the rows of the types above a risk-targeted care programme's threshold in
    the cells it reaches -- ``counts_steps.type_rows`` with :func:`risk_care`'s churn factor
    of period ``t``."""
    T, S = probs.shape[0], probs.shape[1]
    for tau in range(T):
        g = type_seg[tau]
        for s in range(S):
            cf, _, hit = risk_care(t, g, s, type_val[tau], churn_factor[g, s], rk_target, rk_q, rk_fac, rk_spend)
            if hit:
                ct = churn_target(cf, ctot[g, s], msum[g, s], type_het[tau], type_val[tau])
                row_probs(g, s, ct, mv_n, mv_dest, mv_cum, msum, ch_n, ch_dest, ch_cum, probs[tau, s])
