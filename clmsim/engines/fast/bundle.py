"""The fast engine's kernel arguments: one compiled model as one typed bundle of arrays.

Both kernels (:mod:`.kernels.individual`, :mod:`.kernels.counts`) take the same
:class:`KernelModel` -- a ``NamedTuple`` of C-contiguous, writable arrays and a few
scalars, which numba types field by field -- and write the same :class:`KernelOutput`.
Fields a mode does not use hold trivial values (one customer type per segment for
individual mode, an empty histogram for counts mode), so the bundle's numba type, and
with it the compiled kernel, is the same for every scenario.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from ...model.compiled import CHURNED, LOST, CompiledModel
from . import het_classes

FLOW_ITEMS = ("revenue", "contribution", "retention_spend", "winback_spend", "acquired", "referred",
              "churned", "won_back", "contacts")
"""Flow items the kernels write per run and period, in this order (their ``F_*`` constants)."""
N_FLOWS = len(FLOW_ITEMS)


class KernelModel(NamedTuple):
    """A compiled model as the kernels read it (``S`` stages, ``G`` segments, ``H`` periods,
    ``C`` channels, ``NP`` programs, ``W`` win-back policies, ``T`` customer types,
    ``NE`` concession sub-states). Money per customer per period; probabilities per period."""

    kind: np.ndarray          #: (S,) int64 stage kinds (``clmsim.model.compiled``)
    P: np.ndarray             #: (R, G, S, S) base transition matrices per regime (R = 1 without schedules)
    churn_mask: np.ndarray    #: (S, S) bool, entries that are churn
    rev_mean: np.ndarray      #: (R, G, S) mean revenue per regime
    rev_cv: np.ndarray        #: (G, S) revenue coefficient of variation (0: fixed)
    margin: np.ndarray        #: (R, G, S) margin on revenue per regime
    regime: np.ndarray        #: (H,) int64 regime of period t at t-1 (``CompiledModel.regime_of``)
    churn_scale: np.ndarray   #: (R, G, S) factor on a beta segment's churn probability per regime
    cost: np.ndarray          #: (G, S) cost to serve
    initial: np.ndarray       #: (G, S) int64 customers at time 0
    het_kind: np.ndarray      #: (G,) int64 heterogeneity code (``het_classes.HET_CODES``)
    het_a: np.ndarray         #: (G,) gamma shape or beta alpha
    het_b: np.ndarray         #: (G,) gamma scale or beta beta
    ch_expected: np.ndarray   #: (C, H) expected acquisitions per channel and period
    ch_mix: np.ndarray        #: (C, G) segment mix of each channel
    ch_entry: np.ndarray      #: (C,) int64 entry stage
    ref_rate: np.ndarray      #: (S,) referrals per customer in the stage per period
    ref_mix: np.ndarray       #: (G,) segment mix of referred customers
    ref_entry: int            #: entry stage of referrals (-1: none)
    pr_target: np.ndarray     #: (NP, G, S) bool, (segment, stage) cells a program reaches
    pr_partial: np.ndarray    #: (NP,) bool, the program skips some segment (spend counted per segment)
    pr_upgrade: np.ndarray    #: (NP, S, S) bool, moves a program lifts
    pr_spend: np.ndarray      #: (NP, H) spend per targeted customer
    pr_cap: np.ndarray        #: (NP, H) budget cap (-1: none)
    pr_red: np.ndarray        #: (NP, G) maximum churn reduction per segment
    pr_half: np.ndarray       #: (NP, G) half-saturation spend per segment
    pr_lift: np.ndarray       #: (NP, G) upgrade lift per segment
    wb_of_stage: np.ndarray   #: (S,) int64 win-back policy of a churned stage (-1: none)
    wb_seg: np.ndarray        #: (W, G) bool, segments a policy contacts
    wb_cseg: np.ndarray       #: (W, G) bool, segments whose returners get the concession
    wb_lo: np.ndarray         #: (W,) int64 first eligible churn age
    wb_hi: np.ndarray         #: (W,) int64 first churn age past the window
    wb_cov: np.ndarray        #: (W, H) coverage (share of eligible customers contacted)
    wb_cost: np.ndarray       #: (W,) cost per contact
    wb_base: np.ndarray       #: (W, G) success probability at churn age 0, per segment
    wb_decay: np.ndarray      #: (W, G) success decay per period of churn age, per segment
    wb_return: np.ndarray     #: (W,) int64 stage a won-back customer returns to
    wb_disc: np.ndarray       #: (W,) margin given up during the concession
    wb_cperiods: np.ndarray   #: (W,) int64 concession periods
    wb_cap: np.ndarray        #: (W, H) contacts per period (-1: no capacity)
    v: np.ndarray             #: (H + 1,) discount factors ``(1 + d)^-t``
    type_seg: np.ndarray      #: (T,) int64 segment of each customer type (counts mode)
    type_het: np.ndarray      #: (T,) int64 heterogeneity code of each type
    type_val: np.ndarray      #: (T,) the type's multiplier or churn probability
    type_w: np.ndarray        #: (T,) the type's share of its segment
    seg_first: np.ndarray     #: (G,) int64 first type of each segment
    seg_ntypes: np.ndarray    #: (G,) int64 types per segment
    ce_disc: np.ndarray       #: (NE,) concession sub-states: discount this period
    ce_next: np.ndarray       #: (NE,) int64 next sub-state (-1: concession over)
    ret_state: np.ndarray     #: (W + K,) int64 sub-state after the period of return or save (-1: none)
    ic_of: np.ndarray         #: (G, S) int64 save offer reaching a (segment, stage) cell (-1: none)
    ic_spend: np.ndarray      #: (K, H) cost of one save offer
    ic_p: np.ndarray          #: (K, G, H) success probability of an offer
    ic_save: np.ndarray       #: (K,) int64 stage a saved customer goes to (-1: the stage left from)
    ic_cperiods: np.ndarray   #: (K,) int64 concession periods after a save
    ic_cseg: np.ndarray       #: (K, G) bool, segments whose saved customers get the concession
    ic_rq: np.ndarray         #: (K, G) draw above which a churner gets the offer (-inf: everyone)
    rk_target: np.ndarray     #: (KR, G, S) bool, cells a risk-targeted care program reaches (``pr_*``: the others)
    rk_q: np.ndarray          #: (KR, G) draw above which a customer of those cells is reached
    rk_spend: np.ndarray      #: (KR, H) spend per customer reached
    rk_fac: np.ndarray        #: (KR, G, H) churn factor of a customer reached, ``1 - r_g s / (s + h_g)``
    conc_disc: np.ndarray     #: (W + K,) discount of each concession source (live policies, then offers)
    pooled: bool              #: churned customers kept in pools (:func:`pooled_churn`)
    hist_lo: float            #: CLV histogram: lower edge (individual mode)
    hist_width: float         #: CLV histogram: bin width


class KernelOutput(NamedTuple):
    """What a kernel writes, per run ``r`` (``R`` runs, ``B`` histogram bins).

    The per-segment arrays ``seg_flows`` and ``seg_occ`` are written only when the model has
    more than one segment (``G' = G``); with one segment they are empty (``G' = 0``), the kernels
    skip every per-segment step, and :func:`segment_arrays` reads the segment off the totals --
    so a scenario without segments pays nothing for them."""

    occ: np.ndarray           #: (R, H + 1, S) end-of-period occupancy
    flows: np.ndarray         #: (R, H, N_FLOWS) flow items per period (``FLOW_ITEMS``)
    chan_acq: np.ndarray      #: (R, C) customers acquired per channel
    clv_sum: np.ndarray       #: (R,) sum of acquired customers' CLV
    clv_n: np.ndarray         #: (R,) acquired customers
    hist: np.ndarray          #: (R, 2, B + 2) int64 CLV histogram per cohort (individual mode)
    work: np.ndarray          #: (R,) int64 customer-periods simulated
    seg_flows: np.ndarray     #: (R, H, G', N_FLOWS) flow items per segment (``G' = 0`` when ``G = 1``)
    seg_occ: np.ndarray       #: (R, H + 1, G', S) end-of-period occupancy per segment (row 0: initial)


def _c(a, dtype) -> np.ndarray:
    """A fresh C-contiguous, writable copy (numba types read-only or strided arrays differently)."""
    return np.array(a, dtype=dtype, order="C")


def _or_zeros(a, shape) -> np.ndarray:
    out = np.zeros(shape)
    if a is not None:
        out[...] = a
    return out


def clv_bins(model: CompiledModel, bins: int) -> tuple[float, float]:
    """Fixed CLV histogram range ``(lo, width)``: from ``-(worst cost per period) x a_H``
    to ``(best contribution per period) x a_H`` with ``a_H = sum_{t=1}^H v^t``;
    values outside fall in the under/overflow bins."""
    v = model.discount_factors()
    annuity = float(v[1:].sum())
    act = model.active
    _, rev_r, margin_r, _ = model.regime_arrays()          # the best regime
    best = float(np.max(rev_r[:, :, act] * (1 + 4 * model.revenue_cv[:, act])
                        * margin_r[:, :, act], initial=0.0))
    worst = float(np.max(model.cost_to_serve[:, act], initial=0.0))
    worst += sum(float(np.max(p.spend, initial=0.0)) for p in model.programs)
    worst += sum(w.contact_cost for w in model.winbacks)
    worst += sum(float(np.max(ic.spend, initial=0.0)) for ic in model.intercepts)
    lo, hi = -worst * annuity, best * annuity
    if hi <= lo:
        hi = lo + 1.0
    return lo, (hi - lo) / bins


def live_winbacks(model: CompiledModel) -> list:
    """The win-back policies that can contact anyone: coverage above 0 in some period. A policy
    with coverage 0 throughout changes nothing but the model's shape (its window and
    concession length), so the kernels never see it: a lever on such a policy changes no
    random draw (common random numbers survive structural levers)."""
    return [w for w in model.winbacks if np.any(np.asarray(w.coverage) > 0.0)]


def concession_states(model: CompiledModel) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Concession sub-states of counts mode: ``(w, j)`` = live policy ``w``
    (:func:`live_winbacks`), then save offer, with ``j`` discounted periods left (1 <= j <
    periods), ordered so ``next(w, j) = (w, j - 1)`` has a lower index. Returns ``ce_disc``,
    ``ce_next`` (-1: concession over) and ``ret_state[w]`` (state after the period of return
    or save, -1 if none; live policies first, then the save offers)."""
    disc, nxt, ret = [], [], []
    for w in live_winbacks(model) + list(model.intercepts):
        base = len(disc)
        for j in range(1, w.concession_periods):
            disc.append(w.discount)
            nxt.append(-1 if j == 1 else base + j - 2)
        ret.append(base + w.concession_periods - 2 if w.concession_periods >= 2 else -1)
    return np.array(disc, float), np.array(nxt, np.int64), np.array(ret, np.int64)


def pooled_churn(model: CompiledModel) -> bool:
    """Whether counts mode may keep churned customers in pools by segment, stage and age
    (:func:`clmsim.engines.fast.kernels.counts_steps._pool_moves`): every churned stage's row leads
    only to itself or to lost stages, so a churned customer's type matters only if won back."""
    kind = np.asarray(model.stage_kind)
    S = model.n_stages
    for s in np.flatnonzero(kind == CHURNED):
        allowed = (np.arange(S) == s) | (kind == LOST)
        if np.any((np.asarray(model.regime_arrays()[0])[:, :, s, :] > 0) & ~allowed):
            return False
    return True


def pack(model: CompiledModel, *, het_nodes: int = 0, hist_bins: int = 0) -> KernelModel:
    """The bundle of ``model``.

    Parameters
    ----------
    het_nodes : int
        Counts mode: Gauss classes per segment with continuous heterogeneity
        (:func:`clmsim.engines.fast.het_classes.het_classes`); 0: one type per segment
        (individual mode, which draws heterogeneity per customer).
    hist_bins : int
        Individual mode: bins of the CLV histogram (:func:`clv_bins`); 0: none.
    """
    S, G, H = model.n_stages, model.n_segments, model.horizon
    winbacks = live_winbacks(model)
    care = [p for p in model.programs if p.risk_threshold is None]
    risky = [p for p in model.programs if p.risk_threshold is not None]
    C, NP, W, K, KR = len(model.channels), len(care), len(winbacks), len(model.intercepts), len(risky)
    het_kind = np.zeros(G, np.int64)
    het_a = np.ones(G)
    het_b = np.ones(G)
    for g, h in enumerate(model.heterogeneity):
        het_kind[g] = het_classes.HET_CODES[h.kind]
        if h.kind == "gamma":
            het_a[g], het_b[g] = 1.0 / h.cv ** 2, h.mean * h.cv ** 2
        elif h.kind == "beta":
            het_a[g], het_b[g] = h.alpha, h.beta
    wb_of_stage = np.full(S, -1, np.int64)
    for w, wb in enumerate(winbacks):
        wb_of_stage[np.asarray(wb.from_stages, bool)] = w
    if het_nodes > 0:
        types = het_classes.het_classes(model, het_nodes)
    else:
        types = (np.arange(G), np.zeros(G), np.ones(G), np.ones(G), np.arange(G), np.ones(G))
    ce_disc, ce_next, ret_state = concession_states(model)
    hist_lo, hist_width = clv_bins(model, hist_bins) if hist_bins > 0 else (0.0, 1.0)
    ref = model.referral
    P_r, rev_r, margin_r, scale_r = model.regime_arrays()
    f8, i8, b1 = np.float64, np.int64, np.bool_
    return KernelModel(
        kind=_c(model.stage_kind, i8), P=_c(P_r, f8), churn_mask=_c(model.churn_mask, b1),
        rev_mean=_c(rev_r, f8), rev_cv=_c(model.revenue_cv, f8), margin=_c(margin_r, f8),
        regime=_c(model.regime_of(), i8), churn_scale=_c(scale_r, f8),
        cost=_c(model.cost_to_serve, f8), initial=_c(model.initial, i8),
        het_kind=het_kind, het_a=het_a, het_b=het_b,
        ch_expected=_c(model.expected_acquisitions().reshape(C, H), f8),
        ch_mix=_c([c.mix for c in model.channels], f8).reshape(C, G),
        ch_entry=_c([c.entry_stage for c in model.channels], i8),
        ref_rate=_or_zeros(None if ref is None else ref.rate, S),
        ref_mix=_or_zeros(model.segment_share if ref is None else ref.mix, G),
        ref_entry=-1 if ref is None else int(ref.entry_stage),
        pr_target=_c([p.reach(G) for p in care], b1).reshape(NP, G, S),
        pr_partial=_c([not p.reach(G)[:, p.target].all() for p in care], b1).reshape(NP),
        pr_upgrade=_c([p.upgrade for p in care], b1).reshape(NP, S, S),
        pr_spend=_c([p.spend for p in care], f8).reshape(NP, H),
        pr_cap=_c([np.full(H, -1.0) if p.cap is None else p.cap for p in care], f8).reshape(NP, H),
        pr_red=_c([p.effects(G)[:, 0] for p in care], f8).reshape(NP, G),
        pr_half=_c([p.effects(G)[:, 1] for p in care], f8).reshape(NP, G),
        pr_lift=_c([p.effects(G)[:, 2] for p in care], f8).reshape(NP, G),
        wb_of_stage=wb_of_stage,
        wb_seg=_c([w.reaches(G) for w in winbacks], b1).reshape(W, G),
        wb_cseg=_c([w.grants(G) for w in winbacks], b1).reshape(W, G),
        wb_lo=_c([min(w.eligible_after, H + 1) for w in winbacks], i8),
        wb_hi=_c([min(w.max_age, H + 1) for w in winbacks], i8),
        wb_cov=_c([w.coverage for w in winbacks], f8).reshape(W, H),
        wb_cost=_c([w.contact_cost for w in winbacks], f8),
        wb_base=_c([w.success(0, np.arange(G)) * np.ones(G) for w in winbacks], f8).reshape(W, G),
        wb_decay=_c([np.full(G, w.decay) if w.segment_success is None else w.segment_success[:, 1]
                     for w in winbacks], f8).reshape(W, G),
        wb_return=_c([w.return_stage for w in winbacks], i8),
        wb_disc=_c([w.discount for w in winbacks], f8),
        wb_cperiods=_c([w.concession_periods for w in winbacks], i8),
        wb_cap=_c([np.full(H, -1.0) if w.capacity is None else w.capacity for w in winbacks],
                  f8).reshape(W, H),
        v=_c(model.discount_factors(), f8),
        type_seg=_c(types[0], i8), type_het=_c(types[1], i8), type_val=_c(types[2], f8),
        type_w=_c(types[3], f8), seg_first=_c(types[4], i8), seg_ntypes=_c(types[5], i8),
        ce_disc=_c(ce_disc, f8), ce_next=_c(ce_next, i8), ret_state=_c(ret_state, i8),
        ic_of=_c(model.intercept_of(), i8),
        ic_spend=_c([ic.spend for ic in model.intercepts], f8).reshape(K, H),
        ic_p=_c([np.stack([ic.success(t, G) for t in range(1, H + 1)], axis=1) for ic in model.intercepts],
                f8).reshape(K, G, H),
        ic_save=_c([ic.save_stage for ic in model.intercepts], i8),
        ic_cperiods=_c([ic.concession_periods if ic.has_concession else 0 for ic in model.intercepts], i8),
        ic_cseg=_c([ic.grants(G) for ic in model.intercepts], b1).reshape(K, G),
        ic_rq=_c([ic.thresholds(G) for ic in model.intercepts], f8).reshape(K, G),
        rk_target=_c([p.reach(G) for p in risky], b1).reshape(KR, G, S),
        rk_q=_c([p.thresholds(G) for p in risky], f8).reshape(KR, G),
        rk_spend=_c([p.spend for p in risky], f8).reshape(KR, H),
        rk_fac=_c([1.0 - p.effects(G)[:, :1] * (p.spend / (p.spend + p.effects(G)[:, 1:2])) for p in risky],
                  f8).reshape(KR, G, H),
        conc_disc=_c([w.discount for w in winbacks] + [ic.discount for ic in model.intercepts], f8),
        pooled=bool(pooled_churn(model)), hist_lo=float(hist_lo), hist_width=float(hist_width),
    )


def outputs(model: CompiledModel, runs: int, hist_bins: int = 0) -> KernelOutput:
    """Zeroed outputs of ``runs`` runs of ``model`` (a histogram of ``hist_bins`` bins); the
    per-segment occupancy starts from the initial population when there are segments."""
    R, S, H, C = runs, model.n_stages, model.horizon, len(model.channels)
    G = model.n_segments if model.n_segments > 1 else 0
    seg_occ = np.zeros((R, H + 1, G, S))
    if G:
        seg_occ[:, 0] = model.initial
    return KernelOutput(occ=np.zeros((R, H + 1, S)), flows=np.zeros((R, H, N_FLOWS)), chan_acq=np.zeros((R, C)),
                        clv_sum=np.zeros(R), clv_n=np.zeros(R), hist=np.zeros((R, 2, hist_bins + 2), np.int64),
                        work=np.zeros(R, np.int64), seg_flows=np.zeros((R, H, G, N_FLOWS)), seg_occ=seg_occ)


def segment_arrays(out) -> tuple[np.ndarray, np.ndarray]:
    """``(seg_flows, seg_occ)`` of kernel outputs ``out`` (a :class:`KernelOutput` or its dict)
    with the segment axis always present: with one segment, the totals."""
    get = out.get if isinstance(out, dict) else lambda k: getattr(out, k)
    seg_flows, seg_occ = get("seg_flows"), get("seg_occ")
    if seg_flows.shape[2] == 0:
        return get("flows")[:, :, None, :], get("occ")[:, :, None, :]
    return seg_flows, seg_occ
