"""Customer types of the fast engine's counts mode: continuous heterogeneity as Gauss classes.

Counts mode evolves stage counts of *homogeneous* customer types. A segment whose
churn multiplier (gamma) or churn probability (beta) varies per customer is replaced
by ``K`` classes at the nodes ``x_i`` of the ``K``-point Gauss rule of that law
(generalized Gauss-Laguerre for gamma, Gauss-Jacobi for beta; see
:mod:`clmsim.engines.het_quadrature`), class ``i`` holding the share ``w_i`` of the
segment. The discrete law matches the first ``2K - 1`` moments, so an expectation
that is a polynomial of degree ``< 2K`` in the draw (e.g. survival over ``H < 2K``
unclipped periods) is exact; otherwise it is a quadrature error.

Choosing ``K`` (:func:`nodes_for`): a cohort that starts in one stage of a heterogeneous
segment and follows the segment's one-period matrices (program effects of each period at the
written spend, heterogeneity by :func:`clmsim.model.effective_matrix`) has an expected stage
occupancy at ``t = 1..H`` that is an expectation over the draw. It is computed with the
plain ``K``-point rule and with a reference rule (64 nodes per piece, split where the churn
clip binds, accurate to ~1e-12), for a cohort starting in each stage (a lost start adds nothing). The
smallest ``K`` of :data:`CANDIDATES` whose worst absolute error (a share of the starting
cohort) is ``<= tol`` is chosen. Win-back returns are left out of this proxy (a returning
customer follows the same matrices again); the engine tests compare counts-mode means with
the analytic engine's exact values.
"""

from __future__ import annotations

import hashlib

import numpy as np

from ...model.compiled import CompiledModel, effective_matrix, row_parts
from ..het_quadrature import kinks, mixture_nodes, risk_breaks

CANDIDATES = (4, 6, 8, 12, 16, 24, 32, 48, 64)
"""Class counts tried, in order, by :func:`nodes_for`."""
TOLERANCE = 1e-6
"""Default worst absolute error of the occupancy paths, a share of the cohort (module docstring)."""
HET_CODES = {"none": 0, "gamma": 1, "beta": 2}


def _regimes(model: CompiledModel) -> list[tuple]:
    """Program churn and upgrade factors per segment, (G, S) and (G, S, S), of every period at
    the written spend, with the period's transition matrices (G, S, S): with scheduled
    dynamics (:class:`~clmsim.model.compiled.Dynamics`) the churn factor of a beta segment also
    carries the period's churn scale."""
    spends = model.program_spend()
    G, S = model.n_segments, model.n_stages
    out = [model.segment_program_factors(spends[:, t]) if spends.size else
           (np.ones((G, S)), np.ones((G, S, S)))
           for t in range(model.horizon)]
    if model.dynamics is None:
        return [(cf, uf, model.P) for cf, uf in out]
    P_r, _, _, scale = model.regime_arrays()
    beta = np.array([h.kind == "beta" for h in model.heterogeneity])[:, None]
    return [(np.where(beta, cf * scale[d], cf), uf, P_r[d]) for (cf, uf), d in zip(out, model.regime_of())]


def _paths(model: CompiledModel, g: int, x: np.ndarray, w: np.ndarray, regimes) -> np.ndarray:
    """Expected occupancy ``(start, t, stage)`` of cohorts starting in each stage of segment
    ``g``, mixed over the draws ``x`` with weights ``w``."""
    het = model.heterogeneity[g]
    S = model.n_stages
    cache: dict = {}
    mats = []
    for cf, uf, P in regimes:
        key = (cf[g].tobytes(), uf[g].tobytes(), P[g].tobytes())
        if key not in cache:
            cache[key] = np.stack([
                effective_matrix(P[g], model.churn_mask, cf[g], uf[g],
                                 **({"theta": xi} if het.kind == "beta" else {"multiplier": xi}))
                for xi in x])
        mats.append(cache[key])
    d = np.broadcast_to(np.eye(S), (len(x), S, S)).copy()        # (node, start, stage)
    out = np.empty((S, len(regimes), S))
    for t, m in enumerate(mats):
        d = np.einsum("nks,nsj->nkj", d, m)
        out[:, t, :] = np.einsum("n,nkj->kj", w, d)
    return out


class _References(list):
    """Per heterogeneous segment ``(g, het, regimes, reference paths)``, with the class
    errors already computed against them (``errors[nodes]``)."""

    def __init__(self, items):
        super().__init__(items)
        self.errors: dict[int, float] = {}


_MEMO: dict[bytes, _References] = {}
_MEMO_SIZE = 256


def _model_key(model: CompiledModel, regimes) -> bytes:
    """Digest of everything the occupancy paths depend on: rows, churn mask, heterogeneity
    laws and the program factors of every period."""
    h = hashlib.sha256()
    for a in (model.P, model.churn_mask):
        h.update(np.ascontiguousarray(a).tobytes())
    h.update(repr(model.heterogeneity).encode())
    for cf, uf, P in regimes:
        h.update(cf.tobytes())
        h.update(uf.tobytes())
        if model.dynamics is not None:
            h.update(P.tobytes())
    return h.digest()


def _references(model: CompiledModel) -> _References:
    """Reference paths of ``model`` (:class:`_References`), remembered per model content: a
    study calls the engine on the same model chunk after chunk, and the paths take
    milliseconds each time. Bounded: the oldest entries go first."""
    regimes = _regimes(model)
    key = _model_key(model, regimes)
    if key not in _MEMO:
        if len(_MEMO) >= _MEMO_SIZE:
            del _MEMO[next(iter(_MEMO))]
        _MEMO[key] = _References(_compute_references(model, regimes))
    return _MEMO[key]


def _compute_references(model: CompiledModel, regimes) -> list[tuple[int, object, list, np.ndarray]]:
    out = []
    for g, het in enumerate(model.heterogeneity):
        if het.kind == "none":
            continue
        parts = []
        for cf, uf, P in {(cf.tobytes(), uf.tobytes(), P.tobytes()): (cf, uf, P) for cf, uf, P in regimes}.values():
            _, _, msum, C = row_parts(P[g], model.churn_mask, uf[g])
            parts.append((cf[g], msum, C))
        xr, wr = mixture_nodes(het, _relevant(het, kinks(het, parts)), 64)
        out.append((g, het, regimes, _paths(model, g, xr, wr, regimes)))
    return out


def _relevant(het, breaks: np.ndarray) -> np.ndarray:
    """Kinks with probability mass beyond them (a kink in a tail of mass < 1e-16 changes
    nothing, while a piece ending there makes the smooth factor of its rule span many
    orders of magnitude)."""
    from ...laws import het_law

    return breaks[het_law(het).sf(breaks) > 1e-16]


def _error(model: CompiledModel, refs: _References, nodes: int) -> float:
    """Worst gap of the ``nodes``-class paths to the references (remembered with them)."""
    if nodes not in refs.errors:
        refs.errors[nodes] = _compute_error(model, refs, nodes)
    return refs.errors[nodes]


def _compute_error(model: CompiledModel, refs, nodes: int) -> float:
    worst = 0.0
    for g, het, regimes, ref in refs:
        x, w = mixture_nodes(het, n=nodes)
        worst = max(worst, float(np.max(np.abs(_paths(model, g, x, w, regimes) - ref))))
    return worst


def discretisation_error(model: CompiledModel, nodes: int) -> float:
    """Worst absolute error (a share of the starting cohort) of the expected occupancy paths
    (module docstring) when each heterogeneous segment is replaced by ``nodes`` Gauss
    classes (0 when no segment is heterogeneous)."""
    return _error(model, _references(model), nodes)


def _pick(model: CompiledModel, refs, tol: float) -> tuple[int, float]:
    err = np.inf
    for k in CANDIDATES:
        err = _error(model, refs, k)
        if err <= tol:
            return k, err
    return CANDIDATES[-1], err


def nodes_for(model: CompiledModel, tol: float = TOLERANCE) -> tuple[int, float]:
    """Smallest class count of :data:`CANDIDATES` meeting ``tol`` and its error
    (the last candidate and its error when none does; ``(1, 0.0)`` when no segment is
    heterogeneous)."""
    refs = _references(model)
    return _pick(model, refs, tol) if refs else (1, 0.0)


def het_classes(model: CompiledModel, nodes: int) -> tuple[np.ndarray, ...]:
    """Customer types: one per homogeneous segment, ``nodes`` Gauss classes per segment
    with continuous heterogeneity (module docstring) -- per piece of the support when a
    risk-targeted save offer splits it at its threshold, so each class is wholly in or out
    of the offer's share.

    Returns
    -------
    type_seg, type_het, type_val, type_w, seg_first, seg_ntypes : numpy.ndarray
        Per type its segment, heterogeneity code, draw value (multiplier or churn
        probability) and share of its segment; per segment its first type and count.
    """
    seg, het, val, prob, first, ntypes = [], [], [], [], [], []
    for g, h in enumerate(model.heterogeneity):
        first.append(len(seg))
        if h.kind == "none":
            seg.append(g), het.append(0), val.append(1.0), prob.append(1.0)
            ntypes.append(1)
            continue
        x, w = mixture_nodes(h, risk_breaks(model, g), n=nodes)   # split where a risk-targeted offer starts
        seg.extend([g] * len(x)), het.extend([HET_CODES[h.kind]] * len(x))
        val.extend(x), prob.extend(w)
        ntypes.append(len(x))
    return (np.array(seg, np.int64), np.array(het, np.int64), np.array(val, float), np.array(prob, float),
            np.array(first, np.int64), np.array(ntypes, np.int64))


def choose(models, nodes: int = 0, tol: float = TOLERANCE) -> tuple[int, float]:
    """Class count for a call over several models (strategies): ``nodes`` if positive,
    else the largest :func:`nodes_for` pick; with the worst error over the models."""
    refs = [(m, _references(m)) for m in models]
    if nodes <= 0:
        nodes = max([1] + [_pick(m, r, tol)[0] for m, r in refs if r])
    return nodes, max((_error(m, r, nodes) for m, r in refs if r), default=0.0)
