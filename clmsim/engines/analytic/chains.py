"""Per-period expanded transition matrices and per-state rewards of a compiled model.

:func:`build_chains` turns a :class:`~clmsim.model.CompiledModel` into the
finite mixture of Markov reward processes the analytic engine evaluates:

* **regimes**: periods with the same program spends, win-back coverages and dynamics regime
  (scheduled transitions, revenue means, margins: :class:`~clmsim.model.compiled.Dynamics`)
  share one set of matrices (a model without schedules has one regime); with dynamics the
  chains also cover the periods past the horizon until the schedules only repeat
  (``tail_regime``, whose last ``cycle`` entries repeat for ever; program spends and coverages
  hold their last value there);
* **nodes**: per segment, the quadrature nodes of the heterogeneity draw
  (:mod:`clmsim.engines.het_quadrature`), padded to a common count with zero weight;
* ``M[r, g, q]``: the expanded one-period matrix (:mod:`clmsim.engines.analytic.state_space`)
  of regime ``r``, segment ``g`` and node ``q``;
* per-state rewards: revenue (list price, before concessions) and contribution
  (``revenue (margin - discount) - cost_to_serve`` in a concession, else
  ``revenue margin - cost_to_serve``) earned *after* the move, program spend and
  win-back contact cost charged on the state at the *start* of the period.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import UnsupportedFeature
from ...model import ACTIVE, CHURNED, LOST, CompiledModel
from ...model.compiled import row_parts
from ..het_quadrature import DEFAULT_NODES, graded, kinks, mixture_nodes, risk_breaks
from .state_space import (Space, build_space, concession_discount, expand, intercept_offers, return_states,
                          winback_success)


def refuse_unsupported(model: CompiledModel) -> None:
    """Raise :class:`UnsupportedFeature` for features without an exact expectation."""
    for prog in model.programs:
        if prog.cap is not None:
            raise UnsupportedFeature(
                "analytic", f"the budget cap of retention program '{prog.name}' "
                "(retention.programs.*.budget_cap_per_period: how a capped budget is spread depends "
                "on the random number of targeted customers)", "the fast or des engine")
    for pol in model.winbacks:
        if pol.capacity is not None:
            raise UnsupportedFeature(
                "analytic", f"the contact capacity of win-back policy '{pol.name}' "
                "(winback.policies.*.capacity_per_period: who gets contacted depends on the random "
                "number of churners)", "the fast or des engine")


def effective_matrices(P: np.ndarray, churn_mask: np.ndarray, cf: np.ndarray, uf: np.ndarray,
                       x: np.ndarray, kind: str) -> np.ndarray:
    """:func:`clmsim.model.effective_matrix` for a batch of draws ``x`` (shape (Q,)).

    ``kind`` ``"beta"`` treats ``x`` as churn probabilities ``theta``, anything else
    as churn multipliers. Returns an array (Q, S, S).
    """
    S = P.shape[-1]
    churn, moves, msum, C = row_parts(P, churn_mask, uf)
    x = np.asarray(x, dtype=float)[:, None]
    if kind == "beta":
        target = cf * np.where(churn_mask.any(axis=1), 1.0, 0.0) * x
    else:
        target = cf * C * x
    target = np.clip(target, 0.0, 1.0 - msum)
    scale = np.divide(target, C, out=np.zeros_like(target), where=C > 0)
    out = moves[None] + churn[None] * scale[:, :, None]
    idx = np.arange(S)
    out[:, idx, idx] = 0.0
    out[:, idx, idx] = 1.0 - out.sum(axis=2)
    return out


def _risky(model) -> list[int]:
    """Indices of the risk-targeted care programs (``target_risk``)."""
    return model.risk_programs() if hasattr(model, "risk_programs") else []


def risk_care(model: CompiledModel, g: int, t: int, draws: np.ndarray, B: np.ndarray,
              P: np.ndarray | None = None, churn_scale: np.ndarray | None = None) -> np.ndarray:
    """Risk-targeted care programs of period ``t`` in segment ``g``, as a save offer's risk
    targeting: the rows of the base matrices ``B`` (Q, S, S) of nodes whose draw ``draws[q]``
    lies in a program's share (above its threshold; the quadrature is split there) are
    rebuilt with that program's factors, in place. ``P`` (S, S) is the period's transition
    matrix of the segment (default: the model's) and ``churn_scale`` (S,) the period's scale of
    a Beta churn probability under scheduled dynamics (default: none). Returns the programs'
    spend per customer at the start of the period, per node and stage (Q, S)."""
    S = model.n_stages
    spend = np.zeros((len(draws), S))
    risky = _risky(model)
    if not risky:
        return spend
    spends = model.program_spend()[:, t - 1]
    hits = model.risk_hits(g, draws)
    for pat in np.unique(hits[:, risky], axis=0):
        if not pat.any():
            continue
        nodes = np.flatnonzero((hits[:, risky] == pat).all(axis=1))
        hit = np.ones(len(model.programs), dtype=bool)
        hit[risky] = pat
        cf, uf = model.segment_program_factors(spends, hit)
        cfg = cf[g] if churn_scale is None else cf[g] * churn_scale
        B[nodes] = effective_matrices(model.P[g] if P is None else P, model.churn_mask, cfg, uf[g],
                                      np.asarray(draws)[nodes], model.heterogeneity[g].kind)
        for p in np.asarray(risky)[pat]:
            spend[nodes] += spends[p] * model.programs[p].reach(model.n_segments)[g]
    return spend


def _risk_variants(model: CompiledModel, g: int, t: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """Segment ``g``'s churn and upgrade factors of period ``t`` above each risk threshold of
    its care programs (the rows whose clipping kinks the quadrature must also split at)."""
    risky = _risky(model)
    if not risky:
        return []
    thr = np.array([p.thresholds(model.n_segments)[g] for p in model.programs])
    out = []
    for c in np.unique(thr[risky]):
        cf, uf = model.segment_program_factors(model.program_spend()[:, t - 1], thr <= c)
        out.append((cf[g], uf[g]))
    return out


@dataclass
class Chains:
    """The mixture of expanded chains of one model (shapes: R regimes, G segments,
    Q nodes, E expanded states, S stages, H periods)."""

    model: CompiledModel
    space: Space
    regime: np.ndarray        # (H,) regime of period t at index t-1
    x: np.ndarray             # (G, Q) draw per node
    w: np.ndarray             # (G, Q) weight per node (rows sum to 1)
    M: np.ndarray             # (R, G, Q, E, E)
    contact: np.ndarray       # (R, G, E) contact probability of a state at the start of a period
    success: np.ndarray       # (R, G, E) win-back success probability
    program_spend: np.ndarray  # (R, G, E) program spend per customer at the start of a period
    contact_cost: np.ndarray  # (E,) cost of one contact of a state
    revenue: np.ndarray       # (R, G, E) expected revenue (before concessions) after the move
    contribution: np.ndarray  # (R, G, E) expected contribution after the move
    active: np.ndarray        # (E,) bool
    churn_dest: np.ndarray    # (E,) bool: churned or lost states
    offer_cost: np.ndarray    # (R, G, Q, E) save-offer and risk-targeted care spend per customer at the
    #                           start of a period (per node: it follows the customer's draw)
    tail_regime: np.ndarray   # (X,) regimes of periods H+1..H+X (see the module docstring)
    cycle: int                # the last ``cycle`` entries of ``tail_regime`` repeat for ever

    @property
    def n_regimes(self) -> int:
        return self.M.shape[0]

    def net_value(self, r: int) -> np.ndarray:
        """Expected net cash in a period of regime ``r`` for one customer per starting state:
        ``nu = -program spend - contact cost + M @ contribution``, shape (G, Q, E)."""
        flow = (self.M[r] @ self.contribution[r][:, None, :, None])[..., 0]
        return (flow - self.program_spend[r][:, None, :] - (self.contact[r] * self.contact_cost)[:, None, :]
                - self.offer_cost[r])


def _regimes(model: CompiledModel) -> tuple[np.ndarray, list[int]]:
    """Group periods by (program spends, coverages, dynamics regime); return the regime per
    period and a representative period (1-based) per regime.

    Without dynamics the periods are ``1..H``; with dynamics ``1..H + X`` (``X`` past the
    horizon, :class:`~clmsim.model.compiled.Dynamics`), spends and coverages held at period H's.
    """
    H = model.horizon
    n = H if model.dynamics is None else len(model.dynamics.regime)
    cols = ([p.spend for p in model.programs] + [w.coverage for w in model.winbacks]
            + [ic.spend for ic in getattr(model, "intercepts", ())])
    cols = [np.concatenate([c, np.full(n - H, c[-1])]) for c in cols]
    if model.dynamics is not None:
        cols.append(model.dynamics.regime.astype(float))
    if not cols:
        return np.zeros(H, dtype=np.int64), [1]
    keys = np.stack(cols, axis=1)
    _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(first)  # number regimes in order of first appearance
    rank = np.empty_like(order)
    rank[order] = np.arange(len(order))
    return rank[np.ravel(inverse)], [int(first[i]) + 1 for i in order]


def build_chains(model: CompiledModel, nodes: int = DEFAULT_NODES, draws: np.ndarray | None = None,
                 tail: bool = False) -> Chains:
    """Build the expanded mixture of chains (see the module docstring).

    ``tail=True`` chooses nodes for infinite sums (values beyond the horizon,
    lifetimes, the steady state): the support is also split geometrically towards
    0 (:func:`~clmsim.engines.het_quadrature.graded`) down to ``d / (4 c_max)`` and the
    piece next to 0 is exact for ``p(x)/x``.

    ``draws`` (G, Q), if given, replaces the quadrature nodes (weights ``1/Q``);
    e.g. ``draws = 0`` gives the no-churn limit of heterogeneous segments.

    Raises
    ------
    UnsupportedFeature
        For program budget caps and win-back capacities.
    """
    refuse_unsupported(model)
    if hasattr(model, "refuse_operations"):
        model.refuse_operations("analytic")
    space = build_space(model)
    regime, reps = _regimes(model)
    H = model.horizon
    G, S, E = model.n_segments, model.n_stages, space.size
    factors = [model.segment_program_factors(model.program_spend()[:, min(t, H) - 1]) for t in reps]
    P_r, rev_r, margin_r, scale_r = model.regime_arrays()
    dyn = model.regime_of() if model.dynamics is None else model.dynamics.regime
    dyn_of = [int(dyn[t - 1]) for t in reps]          # dynamics regime of each chain regime

    xs, ws = [], []
    for g in range(G):
        het = model.heterogeneity[g]
        breaks = None
        if het.kind != "none":
            parts = []
            for (cf, uf), d, t in zip(factors, dyn_of, reps):
                for cfg, ufg in [(cf[g], uf[g])] + _risk_variants(model, g, min(t, H)):
                    _, _, msum, C = row_parts(P_r[d, g], model.churn_mask, ufg)
                    parts.append((cfg * scale_r[d, g] if het.kind == "beta" else cfg, msum, C))
            breaks = np.union1d(kinks(het, parts), risk_breaks(model, g))
            if tail:
                slope = max(float((cf * (C if het.kind == "gamma" else (C > 0))).max()) for cf, _, C in parts)
                floor = model.discount_rate / (4.0 * slope) if slope > 0 else 0.0
                breaks = graded(het, breaks, floor)
        x, w = mixture_nodes(het, breaks, nodes, singular=tail)
        xs.append(x)
        ws.append(w)
    if draws is not None:
        xs = list(np.asarray(draws, dtype=float))
        ws = [np.full(len(x), 1.0 / len(x)) for x in xs]
    Q = max(len(x) for x in xs)
    X = np.stack([np.concatenate([x, np.full(Q - len(x), x[0])]) for x in xs])
    W = np.stack([np.concatenate([w, np.zeros(Q - len(w))]) for w in ws])

    R = len(reps)
    M = np.empty((R, G, Q, E, E))
    contact = np.zeros((R, G, E))
    success = np.zeros((R, G, E))
    spend = np.zeros((R, G, E))
    returns = [return_states(model, space, g) for g in range(G)]
    offer_cost = np.zeros((R, G, Q, E))
    kind = model.stage_kind[space.base]
    active = kind == ACTIVE
    discount = np.zeros(E)
    conc = space.policy >= 0
    discount[conc] = [concession_discount(model, w) for w in space.policy[conc]]
    revenue = np.zeros((R, G, E))
    contribution = np.zeros((R, G, E))
    for r, t in enumerate(reps):
        d = dyn_of[r]
        rm = model.at_regime(d)
        tp = min(t, H)          # past the horizon spends and coverages hold period H's
        contact[r], success[r] = winback_success(model, space, tp)
        cf, uf = factors[r]
        for g in range(G):
            kind_g = model.heterogeneity[g].kind
            sc = scale_r[d, g] if kind_g == "beta" else None
            B = effective_matrices(P_r[d, g], model.churn_mask, cf[g] * sc if sc is not None else cf[g],
                                   uf[g], X[g], kind_g)
            risk_spend = risk_care(model, g, tp, X[g], B, P_r[d, g], sc)
            M[r, g] = expand(B, space, success[r, g], returns[g])
            if getattr(model, "intercepts", ()):
                offer_cost[r, g] = intercept_offers(rm, space, M[r, g], g, tp, X[g])
            offer_cost[r, g] += risk_spend[:, space.base]
        for prog in model.programs:
            if getattr(prog, "risk_threshold", None) is None:     # risk-targeted spend is per node
                spend[r] += prog.spend[tp - 1] * prog.reach(G)[:, space.base]
        rev = rev_r[d][:, space.base] * active
        revenue[r] = rev
        contribution[r] = rev * (margin_r[d][:, space.base] - discount) - model.cost_to_serve[:, space.base] * active

    cc = np.zeros(E)
    has = space.ret_policy >= 0
    cc[has] = [model.winbacks[w].contact_cost for w in space.ret_policy[has]]
    cycle = 1 if model.dynamics is None else model.dynamics.cycle
    return Chains(model, space, regime[:H], X, W, M, contact, success, spend, cc, revenue, contribution,
                  active, np.isin(kind, (CHURNED, LOST)), offer_cost, regime[H:] if len(regime) > H else regime[-1:],
                  cycle)
