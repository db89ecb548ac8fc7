"""The analytic engine: exact expectations of the lifecycle model.

The model is a Markov reward process on the expanded states of
:mod:`clmsim.engines.analytic.state_space` (stage x periods since churn x concession left),
mixed over the heterogeneity draw by quadrature (:mod:`clmsim.engines.het_quadrature`).
Every quantity is linear in the occupancy, so expectations are exact:

* **population** (forward): ``x_t = x_{t-1} M_t + a_t``, ``x_0`` the initial
  population split over the draw's nodes; ``a_t`` holds the channel's expected
  customers ``E[N_c,t]`` and the referrals ``sum_s rate_s x_{t-1,s}`` (linear in
  the occupancy), both joining their entry state at the end of period ``t``;
* **cash of period t**: contribution ``x_t . c`` (after the move), program spend
  ``x_{t-1} . p_t`` and contact cost ``x_{t-1} . k_t`` (on the state at the start),
  channel spend; NPV ``= sum_t (1+d)^-t net_t``;
* **customer value** (backward): ``W_H = 0``,
  ``W_{t-1} = v (nu_t + M_t W_t)`` with ``nu_t = M_t c - p_t - k_t``: ``W_t[i]`` is
  the value, discounted to time ``t``, of periods ``t+1..H`` for a customer in
  state ``i`` at time ``t``. ``clv_horizon = W_0``; ``clv_infinite`` starts the
  recursion from ``W_H = v (I - v M_H)^-1 nu_H`` (last period's parameters for ever);
  ``clv_acquired = sum_t a_t . W_t / sum_t |a_t|`` (ratio of expectations);
* **lifetime**: the same recursion with ``v = 1`` and reward "active after the
  move", plus the entry period: ``sum_{t>=0} P(active at t)``; for an absorbing
  chain this is a row sum of the fundamental matrix ``N = (I - Q)^-1``.

Revenue is at list price (a concession does not reduce it); the concession
shows in the contribution ``revenue (margin - discount) - cost_to_serve``, as in
:data:`clmsim.results.RUN_COLUMNS`.
See docs/engines.md (section "analytic") for the definitions and error bounds.
"""

from __future__ import annotations

import time

import numpy as np
import pandas as pd

from ...errors import ClmsimError
from .. import ENGINES
from ...model import ACTIVE, CHURNED, CONVENTION, LOST, PROSPECT, CompiledModel
from ...results import PERIOD_ITEMS, RUN_COLUMNS, Results
from ..het_quadrature import DEFAULT_NODES
from ..segments import SEGMENT_FLOWS, segment_tables
from .chains import Chains, build_chains
from .steady import future_value, long_run_mix

NAME = "analytic"
CAPABILITIES = ENGINES[NAME].capabilities
"""Declared in the registry (:data:`clmsim.engines.ENGINES`): exact, no runs, no modes."""

OPTIONS = {"nodes": "quadrature nodes per piece of a heterogeneity draw's support "
                    "(default max(16, ceil((horizon + 1) / 2)))"}
"""Options ``simulate`` accepts besides ``runs`` and ``seed``."""

TAIL_MIN_NODES = 12
"""Minimum nodes per piece of the graded rule used for infinite sums (half the main count)."""

CLV_COLUMNS = ("strategy", "segment", "stage", "kind", "clv_horizon", "clv_infinite", "lifetime",
               "steady_share", "steady_active_share")


def _entry_vectors(ch: Chains) -> tuple[np.ndarray, np.ndarray]:
    """Channel inflow per period (H, G, Q, E) and the referral landing vector (G, Q, E)."""
    m, sp = ch.model, ch.space
    G, Q, E = ch.w.shape + (sp.size,)
    H = m.horizon
    inflow = np.zeros((H, G, Q, E))
    expected = m.expected_acquisitions()
    for c, chan in enumerate(m.channels):
        land = chan.mix[:, None] * ch.w  # (G, Q)
        inflow[:, :, :, sp.normal[chan.entry_stage]] += expected[c][:, None, None] * land[None]
    ref = np.zeros((G, Q, E))
    if m.referral is not None:
        ref[:, :, sp.normal[m.referral.entry_stage]] = m.referral.mix[:, None] * ch.w
    return inflow, ref


def _forward(ch: Chains) -> dict:
    """Expected population, flows and cash per period (see the module docstring)."""
    m, sp = ch.model, ch.space
    H, S = m.horizon, m.n_stages
    inflow, ref_land = _entry_vectors(ch)
    ref_rate = np.zeros(sp.size) if m.referral is None else m.referral.rate[sp.base]
    x = np.zeros(ch.w.shape + (sp.size,))
    x[:, :, sp.normal] = m.initial[:, None, :] * ch.w[:, :, None]
    agg = sp.aggregate(S)
    occ = np.zeros((H + 1, S))
    occ[0] = x.sum(axis=(0, 1)) @ agg
    seg = {k: np.zeros((H, x.shape[0])) for k in SEGMENT_FLOWS}    # the same items per segment
    seg_occ = np.zeros((H + 1, x.shape[0], S))
    seg_occ[0] = x.sum(axis=1) @ agg
    items = {k: np.zeros(H) for k in PERIOD_ITEMS}
    arrivals = np.zeros((H,) + x.shape)
    not_lost = m.stage_kind[sp.base] != LOST
    customer_periods = 0.0
    leaving = [(ch.M[r] * ch.churn_dest).sum(axis=-1) * ch.active for r in range(ch.n_regimes)]
    for t in range(1, H + 1):
        r = ch.regime[t - 1]
        M = ch.M[r]
        start = x.sum(axis=(0, 1))
        by_segment = x.sum(axis=1)  # (G, E): spend and contacts depend on the segment
        customer_periods += float(start[not_lost].sum())
        referred = float(start @ ref_rate)
        items["retention_spend"][t - 1] = (by_segment * ch.program_spend[r]).sum() + (x * ch.offer_cost[r]).sum()
        items["contacts"][t - 1] = (by_segment * ch.contact[r]).sum()
        items["winback_spend"][t - 1] = (by_segment * (ch.contact[r] * ch.contact_cost)).sum()
        items["won_back"][t - 1] = (by_segment * ch.success[r]).sum()
        items["churned"][t - 1] = float((x * leaving[r]).sum())  # active -> churned/lost
        g_start = x.sum(axis=1)
        # per (segment, state) rates (R, G, E): each segment's own row
        seg["retention_spend"][t - 1] = ((g_start * ch.program_spend[r]).sum(axis=1)
                                         + (x * ch.offer_cost[r]).sum(axis=(1, 2)))
        seg["contacts"][t - 1] = (g_start * ch.contact[r]).sum(axis=1)
        seg["winback_spend"][t - 1] = (g_start * (ch.contact[r] * ch.contact_cost)).sum(axis=1)
        seg["won_back"][t - 1] = (g_start * ch.success[r]).sum(axis=1)
        seg["churned"][t - 1] = (x * leaving[r]).sum(axis=(1, 2))
        x = (x[..., None, :] @ M)[..., 0, :]
        items["revenue"][t - 1] = float((x * ch.revenue[r][:, None, :]).sum())
        items["contribution"][t - 1] = float((x * ch.contribution[r][:, None, :]).sum())
        seg["revenue"][t - 1] = (x * ch.revenue[r][:, None, :]).sum(axis=(1, 2))
        seg["contribution"][t - 1] = (x * ch.contribution[r][:, None, :]).sum(axis=(1, 2))
        arrivals[t - 1] = inflow[t - 1] + referred * ref_land
        seg["acquired"][t - 1] = inflow[t - 1].sum(axis=(1, 2))
        seg["referred"][t - 1] = referred * ref_land.sum(axis=(1, 2))
        x = x + arrivals[t - 1]
        items["referred"][t - 1] = referred
        occ[t] = x.sum(axis=(0, 1)) @ agg
        seg_occ[t] = x.sum(axis=1) @ agg
    spend = m.acquisition_spend()
    bought = m.expected_acquisitions()
    items["acquisition_spend"] = spend.sum(axis=0)
    items["acquired"] = bought.sum(axis=0)
    items["net_cash"] = (items["contribution"] - items["acquisition_spend"] - items["retention_spend"]
                         - items["winback_spend"])
    v = m.discount_factors()
    items["discounted_net_cash"] = items["net_cash"] * v[1:]
    active_end = float(occ[H][m.active].sum())
    return {"items": items, "occ": occ, "arrivals": arrivals, "x_end": x, "active_end": active_end,
            "customer_periods": customer_periods, "spend": spend, "bought": bought, "ref_land": ref_land,
            "inflow": inflow, "ref_rate": ref_rate, "seg": seg, "seg_occ": seg_occ}


def _matvec(M: np.ndarray, W: np.ndarray) -> np.ndarray:
    """``M @ W`` per (segment, node) with ``0 * inf = 0``."""
    if np.isfinite(W).all():
        return (M @ W[..., None])[..., 0]
    finite = np.where(np.isfinite(W), W, 0.0)
    out = (M @ finite[..., None])[..., 0]
    for bad, fill in ((np.isposinf(W), np.inf), (np.isnan(W), np.nan), (np.isneginf(W), -np.inf)):
        if bad.any():
            hit = np.einsum("gqij,gqj->gqi", (M > 0).astype(float), bad.astype(float)) > 0
            out = np.where(hit, fill, out)
    return out


def _backward(ch: Chains, terminal: np.ndarray, v: float, reward: str = "cash",
              keep_all: bool = False) -> np.ndarray:
    """``W_{t-1} = v (nu_t + M_t W_t)`` from ``W_H = terminal``; returns W_0 or all W_t."""
    H = ch.model.horizon
    nus = [ch.net_value(r) if reward == "cash" else _active_next(ch, r) for r in range(ch.n_regimes)]
    W = terminal
    out = [W] if keep_all else None
    for t in range(H, 0, -1):
        r = ch.regime[t - 1]
        W = v * (nus[r] + _matvec(ch.M[r], W))
        if keep_all:
            out.append(W)
    return np.stack(out[::-1]) if keep_all else W


def _active_next(ch: Chains, r: int) -> np.ndarray:
    """``P(active after the move)`` per starting state, shape (G, Q, E)."""
    return np.einsum("gqij,j->gqi", ch.M[r], ch.active.astype(float))


def _tail(ch: Chains, v: float, reward: str) -> np.ndarray:
    """Value at time H of periods H+1.. (see :mod:`.steady`).

    Without schedules on the dynamics: the last regime for ever. With them the periods past
    the horizon follow ``ch.tail_regime``, whose last ``L = ch.cycle`` regimes repeat: the value
    at the start of the repeating cycle solves ``W = b + v^L M_1 ... M_L W`` (``b`` the cycle's
    discounted rewards from ``W = 0``), exactly; the periods before it are recursed backward.
    """
    G, Q, E = ch.w.shape + (ch.space.size,)

    def nu_of(r):
        return ch.net_value(r) if reward == "cash" else _active_next(ch, r)

    tail, L = ch.tail_regime, ch.cycle
    if len(tail) == 1:
        r = tail[0]
        return future_value(ch.M[r].reshape(G * Q, E, E), nu_of(r).reshape(G * Q, E), v).reshape(G, Q, E)
    b = np.zeros((G, Q, E))
    A = np.broadcast_to(np.eye(E), (G, Q, E, E))
    for r in tail[::-1][:L]:                  # the cycle, backward
        b = v * (nu_of(r) + (ch.M[r] @ b[..., None])[..., 0])
        A = ch.M[r] @ A
    vL = v ** L
    W = future_value(A.reshape(G * Q, E, E), (b / vL).reshape(G * Q, E), vL).reshape(G, Q, E)
    for r in tail[::-1][L:]:                  # the periods before the cycle, backward
        W = v * (nu_of(r) + _matvec(ch.M[r], W))
    return W


def _mix_nodes(ch: Chains, values: np.ndarray) -> np.ndarray:
    """Weighted sum over nodes (G, Q, ...) -> (G, ...) with ``0 * inf = 0``."""
    w = ch.w.reshape(ch.w.shape + (1,) * (values.ndim - 2))
    return np.where(w > 0, w * values, 0.0).sum(axis=1)


def _survival(ch: Chains, entries: np.ndarray) -> np.ndarray:
    """``P(active at end of period t | entered stage s at time 0)``, shape (len(entries), G, H+1).

    Every entry stage moves in one product per period: ``y`` is (G, Q, entries, E), one
    (entries x E) @ (E x E) product per segment and node."""
    sp, H = ch.space, ch.model.horizon
    y = np.zeros(ch.w.shape + (len(entries), sp.size))
    for n, s in enumerate(entries):
        y[:, :, n, sp.normal[s]] = ch.w
    active = ch.active.astype(float)
    out = np.zeros((ch.w.shape[0], len(entries), H + 1))
    out[..., 0] = (y @ active).sum(axis=1)
    for t in range(1, H + 1):
        y = y @ ch.M[ch.regime[t - 1]]
        out[..., t] = (y @ active).sum(axis=1)
    return out.transpose(1, 0, 2)


def _survival_curves(ch: Chains, entries: np.ndarray, share: np.ndarray) -> np.ndarray:
    """:func:`_survival` with the segments mixed by ``share``, shape (len(entries), H+1), as a
    probability: the quadrature weights and segment shares sum to 1 only up to rounding
    (1.0000000000000002 at time 0 was possible), so the curves are clipped to [0, 1] and at
    time 0 are the entry stage's activity exactly."""
    out = np.clip(np.einsum("g,ngt->nt", share, _survival(ch, entries)), 0.0, 1.0)
    out[:, 0] = ch.active[ch.space.normal[entries]]
    return out


def cohort_occupancy(model: CompiledModel, stage: str, nodes: int | None = None,
                     chains: Chains | None = None) -> pd.DataFrame:
    """Expected stage occupancy of one customer entering ``stage`` at time 0.

    Rows are periods ``0..H``, columns the stages; entries are probabilities
    ``P(in stage at the end of period t)`` (segments weighted by their shares,
    heterogeneity integrated). Row sums are 1. ``chains``: the model's chains on the
    main nodes when already built (``evaluate(model)["chains"]``), else built here.
    """
    if stage not in model.stage_index:
        raise ClmsimError(f"unknown stage {stage!r}; stages: {', '.join(model.stage_names)}")
    ch = build_chains(model, nodes_for(model, nodes)) if chains is None else chains
    sp, H = ch.space, model.horizon
    y = np.zeros(ch.w.shape + (sp.size,))
    y[:, :, sp.normal[model.stage_index[stage]]] = ch.w * model.segment_share[:, None]
    agg = sp.aggregate(model.n_stages)
    rows = [y.sum(axis=(0, 1)) @ agg]
    for t in range(1, H + 1):
        y = (y[..., None, :] @ ch.M[ch.regime[t - 1]])[..., 0, :]
        rows.append(y.sum(axis=(0, 1)) @ agg)
    return pd.DataFrame(rows, columns=list(model.stage_names)).rename_axis("period")


def _new_customer_cash(ch: Chains, fwd: dict) -> np.ndarray:
    """Expected net cash per period of one paid customer acquired at time 0 (H,)."""
    H = ch.model.horizon
    mix = fwd["inflow"].sum(axis=0)
    total = mix.sum()
    out = np.full(H, np.nan)
    if total <= 0:
        return out
    y = mix / total
    nus = [ch.net_value(r) for r in range(ch.n_regimes)]
    for t in range(1, H + 1):
        r = ch.regime[t - 1]
        out[t - 1] = float((y * nus[r]).sum())
        y = (y[..., None, :] @ ch.M[r])[..., 0, :]
    return out


def _table_values(ch: Chains, v: float) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """CLV over the horizon, CLV for ever, lifetime (without the entry period) and expected
    active periods 1..H per (segment, state), mixed over the nodes of ``ch``: four backward
    recursions run side by side, as rows: ``W^T <- W^T M^T`` (numpy multiplies a stack of
    (4 x E) @ (E x E) about four times faster than (E x E) @ (E x 4))."""
    G, Q, E = ch.w.shape + (ch.space.size,)
    zeros = np.zeros((G, Q, E))
    W = np.stack([zeros, _tail(ch, v, "cash"), _tail(ch, 1.0, "active"), zeros], axis=-2)  # (G, Q, 4, E)
    scale = np.array([v, v, 1.0, 1.0])[:, None]
    nus, Mt = [], []
    for r in range(ch.n_regimes):
        nu, act = ch.net_value(r), _active_next(ch, r)
        nus.append(np.stack([nu, nu, act, act], axis=-2))
        Mt.append(np.ascontiguousarray(np.swapaxes(ch.M[r], -1, -2)))
    bad = ~np.isfinite(W)
    for t in range(ch.model.horizon, 0, -1):
        r = ch.regime[t - 1]
        if bad.any():
            step = np.stack([_matvec(ch.M[r], W[..., j, :]) for j in range(W.shape[-2])], axis=-2)
        else:
            step = W @ Mt[r]
        W = scale * (nus[r] + step)
        bad = ~np.isfinite(W)
    out = _mix_nodes(ch, W)  # (G, 4, E)
    return out[:, 0], out[:, 1], out[:, 2], out[:, 3]


def _clv_table(ch: Chains, fwd: dict, v: float, main: tuple | None = None) -> pd.DataFrame:
    """Per segment and stage: CLV over the horizon and for ever, lifetime, long-run mix.

    ``ch`` holds the tail nodes (``build_chains(..., tail=True)``); ``fwd`` the forward
    pass (for the inflow vectors, recomputed here on the tail nodes). ``main`` =
    (chains, W_0, L_0) on the main nodes, where horizon sums are exact: the tail
    nodes then only add what lies beyond the horizon."""
    m, sp = ch.model, ch.space
    inflow_t, ref_land = _entry_vectors(ch)
    fwd = {"inflow": inflow_t, "ref_land": ref_land, "ref_rate": fwd["ref_rate"]}
    G, S = m.n_segments, m.n_stages
    horizon, infinite, life, life_h = _table_values(ch, v)
    if main is not None:
        mch, W0, L0 = main
        exact_h, exact_l = _mix_nodes(mch, W0), _mix_nodes(mch, L0)
        with np.errstate(invalid="ignore"):
            infinite = exact_h + (infinite - horizon)
            life = np.where(np.isfinite(life), exact_l + (life - life_h), life)
        horizon = exact_h
    life = life + ch.active  # the entry period counts when the entry stage is active
    life = life + _divergent_mixture(ch, 1.0, "active")
    if v == 1.0:
        infinite = infinite + _divergent_mixture(ch, v, "cash")
    last = ch.tail_regime[-1]
    N = G * ch.w.shape[1]
    inflow = fwd["inflow"][-1].reshape(N, sp.size)
    ref = fwd["ref_land"].reshape(N, sp.size)
    mix, method = long_run_mix(ch.M[last].reshape(N, sp.size, sp.size), inflow, ref, fwd["ref_rate"],
                               ch.active, present=(ch.w > 0).ravel())
    if ch.cycle > 1:   # a periodic chain has no single long-run mix: it cycles with the seasons
        mix = np.full_like(mix, np.nan)
        method = (f"none: {', '.join(m.dynamics.fields)} repeat every {ch.cycle} periods, so the mix "
                  "cycles and has no single steady state")
    mix = mix.reshape(ch.w.shape + (sp.size,))
    kept = ~np.isnan(mix).all(axis=(0, 1))
    by_stage = np.where(kept, np.nan_to_num(mix), 0.0).sum(axis=1) @ sp.aggregate(S)  # (G, S)
    kept_stage = sp.aggregate(S).T @ kept.astype(float) > 0
    rows = []
    names = list(m.segment_names) + (["all"] if G > 1 else [])
    weights = np.vstack([np.eye(G), m.segment_share[None, :]]) if G > 1 else np.eye(1)
    kinds = {PROSPECT: "prospect", ACTIVE: "active", CHURNED: "churned", LOST: "lost"}
    for name, wg in zip(names, weights):
        occ = wg @ by_stage if name == "all" else by_stage[int(np.argmax(wg))]
        total = occ[kept_stage].sum()
        act = occ[m.active].sum()
        for s in range(S):
            i = sp.normal[s]
            steady = occ[s] / total if kept_stage[s] and total > 0 else np.nan
            steady_act = occ[s] / act if m.active[s] and act > 0 else np.nan
            rows.append((m.strategy, name, m.stage_names[s], kinds[int(m.stage_kind[s])],
                         _combine(wg, horizon[:, i]), _combine(wg, infinite[:, i]),
                         _combine(wg, life[:, i]), steady, steady_act))
    df = pd.DataFrame(rows, columns=list(CLV_COLUMNS))
    df.attrs["steady_method"] = method
    return df


def _shape_at_zero(het) -> float:
    """Exponent ``a`` of the draw's density ``~ x^(a-1)`` at ``x = 0`` (inf without heterogeneity)."""
    if het.kind == "gamma":
        return 1.0 / het.cv ** 2
    if het.kind == "beta":
        return het.alpha
    return np.inf


def _divergent_mixture(ch: Chains, v: float, reward: str) -> np.ndarray:
    """States (G, E) whose mixture value is infinite because the no-churn limit is.

    Near ``x = 0`` a value that is infinite at ``x = 0`` grows like ``1/x``; its mean
    over a density ``~ x^(a-1)`` is infinite when ``a <= 1`` (sBG with alpha <= 1,
    gamma with cv >= 1). Returns the limit values (``inf``/``nan``) there, 0 elsewhere.
    """
    m = ch.model
    out = np.zeros((m.n_segments, ch.space.size))
    shapes = np.array([_shape_at_zero(h) for h in m.heterogeneity])
    if not (shapes <= 1.0).any():
        return out
    limit = build_chains(m, draws=np.zeros((m.n_segments, 1)))
    val = _backward(limit, _tail(limit, v, reward), v, reward=reward)[:, 0, :]
    bad = ~np.isfinite(val) & (shapes <= 1.0)[:, None]
    out[bad] = val[bad]
    return out


def _combine(weights: np.ndarray, values: np.ndarray) -> float:
    """Weighted sum over segments with ``0 * inf = 0`` (the product is not formed where a weight
    is 0, so no invalid-value warning either)."""
    out = np.zeros(np.broadcast(weights, values).shape)
    np.multiply(weights, values, out=out, where=weights > 0)
    return float(out.sum())


def nodes_for(model: CompiledModel, nodes: int | None = None) -> int:
    """Quadrature nodes per piece: ``nodes`` if given, else ``max(DEFAULT_NODES, ceil((H+1)/2))``
    so a polynomial of degree ``H`` in the draw (an expectation over ``H`` periods) is
    integrated exactly by the Gauss rule on each piece."""
    if nodes is not None:
        return int(nodes)
    return max(DEFAULT_NODES, (model.horizon + 2) // 2)


def evaluate(model: CompiledModel, nodes: int | None = None) -> dict:
    """All exact outputs of one compiled model.

    Returns
    -------
    dict
        ``runs`` (one row dict), ``periods`` (DataFrame), ``clv`` (DataFrame),
        ``chains`` (:class:`~clmsim.engines.analytic.chains.Chains`), ``customer_periods``,
        ``segment_runs`` and ``segment_periods`` (:mod:`clmsim.engines.segments`: the same sums
        over each segment's slice of the state).
    """
    nodes = nodes_for(model, nodes)
    ch = build_chains(model, nodes)
    v = 1.0 / (1.0 + model.discount_rate)
    H = model.horizon
    fwd = _forward(ch)
    items = fwd["items"]
    zeros = np.zeros(ch.w.shape + (ch.space.size,))
    W = _backward(ch, zeros, v, keep_all=True)  # (H+1, G, Q, E)
    arrivals = fwd["arrivals"]
    newcomers = arrivals.sum()
    value = float((arrivals * W[1:]).sum())
    row = {
        "strategy": model.strategy, "run": -1,
        "npv": float(items["discounted_net_cash"].sum()),
        "revenue": float(items["revenue"].sum()),
        "contribution": float(items["contribution"].sum()),
        "acquisition_spend": float(items["acquisition_spend"].sum()),
        "retention_spend": float(items["retention_spend"].sum()),
        "winback_spend": float(items["winback_spend"].sum()),
        "acquired": float(items["acquired"].sum()),
        "referred": float(items["referred"].sum()),
        "churned": float(items["churned"].sum()),
        "won_back": float(items["won_back"].sum()),
        "contacts": float(items["contacts"].sum()),
        "active_end": fwd["active_end"],
        "clv_acquired": value / newcomers if newcomers > 0 else np.nan,
    }
    for c, chan in enumerate(model.channels):
        row[f"acquired:{chan.name}"] = float(fwd["bought"][c].sum())
        row[f"acquisition_spend:{chan.name}"] = float(fwd["spend"][c].sum())

    periods = [(0, f"stage:{n}", fwd["occ"][0, s]) for s, n in enumerate(model.stage_names)]
    for t in range(1, H + 1):
        periods.extend((t, f"stage:{n}", fwd["occ"][t, s]) for s, n in enumerate(model.stage_names))
        periods.extend((t, k, items[k][t - 1]) for k in PERIOD_ITEMS)
    entries = np.flatnonzero(np.isin(model.stage_kind, (PROSPECT, ACTIVE)))
    surv = _survival_curves(ch, entries, model.segment_share)
    for n, s in enumerate(entries):
        periods.extend((t, f"survival:{model.stage_names[s]}", surv[n, t]) for t in range(H + 1))
    cash = _new_customer_cash(ch, fwd)
    periods.extend((t, "new_customer_net_cash", cash[t - 1]) for t in range(1, H + 1))
    pdf = pd.DataFrame(periods, columns=["period", "item", "mean"])
    pdf.insert(0, "strategy", model.strategy)
    for col in ("sd", "q05", "q50", "q95"):
        pdf[col] = np.nan
    if any(h.kind != "none" for h in model.heterogeneity):
        tail = build_chains(model, max(nodes // 2, TAIL_MIN_NODES), tail=True)
        L0 = _backward(ch, zeros, 1.0, reward="active")
        table = _clv_table(tail, fwd, v, main=(ch, W[0], L0))
    else:
        table = _clv_table(ch, fwd, v)
    seg = segment_tables(model, {k: a[None] for k, a in fwd["seg"].items()}, fwd["seg_occ"][None], [-1],
                         exact=True)
    return {"runs": row, "periods": pdf, "clv": table, "chains": ch,
            "customer_periods": fwd["customer_periods"], **seg}


def pin_options(models, options: dict) -> dict:
    """The options unchanged: the analytic engine chooses nothing per call (engine contract)."""
    return dict(options)


def simulate(models, *, runs: int = 1, seed: int | None = None, **options) -> Results:
    """Exact expectations for one or more compiled models (one per strategy).

    Parameters
    ----------
    models : sequence of CompiledModel
        Same scenario, one per strategy.
    runs, seed : ignored
        The analytic engine is exact: it draws nothing and writes one ``run = -1``
        row per strategy; provenance records ``runs = 0`` and ``seed = None``.
    nodes : int, optional
        Quadrature nodes per piece of a heterogeneity draw's support.

    Raises
    ------
    ClmsimError
        For an unknown option or a bad value.
    UnsupportedFeature
        For program budget caps and win-back capacities.
    """
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise ClmsimError(f"the analytic engine has no option {', '.join(map(repr, unknown))}; "
                          f"it accepts: {', '.join(OPTIONS)}")
    nodes = options.get("nodes")
    if nodes is not None and (not isinstance(nodes, (int, np.integer)) or isinstance(nodes, bool)
                              or not 1 <= nodes <= 400):
        raise ClmsimError(f"nodes must be an integer between 1 and 400, got {nodes!r}")
    models = list(models)
    if not models:
        raise ClmsimError("no strategy to evaluate")
    t0 = time.perf_counter()
    outs = [evaluate(m, nodes) for m in models]
    seconds = time.perf_counter() - t0
    runs_df = pd.DataFrame([o["runs"] for o in outs])
    base = ["strategy", "run", *RUN_COLUMNS]
    runs_df = runs_df[base + [c for c in runs_df.columns if c not in base]]
    first = models[0]
    prov = {
        "scenario": first.name, "scenario_hash": first.scenario_hash, "engine": "analytic",
        "seed": None, "runs": 0, "mode": "exact", "period": first.period, "horizon": first.horizon,
        "convention": CONVENTION, "customer_periods": float(sum(o["customer_periods"] for o in outs)),
        "seconds": seconds, "nodes": nodes_for(first, nodes), "discount_rate": first.discount_rate,
        "steady_method": {m.strategy: o["clv"].attrs["steady_method"] for m, o in zip(models, outs)},
    }
    clv = pd.concat([o["clv"] for o in outs], ignore_index=True)
    clv.attrs = {}
    cat = lambda k: pd.concat([o[k] for o in outs], ignore_index=True)  # noqa: E731
    return Results(prov, runs_df, cat("periods"), clv, segment_runs=cat("segment_runs"),
                   segment_periods=cat("segment_periods"))
