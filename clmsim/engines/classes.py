"""Customer types of the fast engine's counts mode: continuous heterogeneity as Gauss classes.

Counts mode evolves stage counts of *homogeneous* customer types. A segment whose
churn multiplier (gamma) or churn probability (beta) varies per customer is replaced
by ``K`` classes at the nodes ``x_i`` of the ``K``-point Gauss rule of that law
(generalized Gauss-Laguerre for gamma, Gauss-Jacobi for beta; see
:mod:`clmsim.engines.quadrature`), class ``i`` holding the share ``w_i`` of the
segment. The discrete law matches the first ``2K - 1`` moments, so an expectation
that is a polynomial of degree ``< 2K`` in the draw (e.g. survival over ``H < 2K``
unclipped periods) is exact; otherwise it is a quadrature error.

Choosing ``K`` (:func:`nodes_for`): the expectations of a segment are built from
products of its rows over up to ``H`` periods. For every active row with churn
total ``C`` and every program regime's churn factor ``f`` (and ``f = 1``, the
uncapped/unfunded end), the survival-type functional ``g_t(x) = (1 - min(f C x,
room))^t`` (``room = 1 -`` the row's other moves; ``f x`` for beta) is integrated for
``t = 1..H`` with a reference rule (64 nodes per piece, split where the clip binds,
accurate to ~1e-12) and with the plain ``K``-point rule. The smallest ``K`` of
:data:`CANDIDATES` whose worst relative error is ``<= tol`` is chosen. This is a
proxy (mixtures of rows are not single geometric terms), stated as such; the engine
tests compare counts-mode means against the analytic engine's exact values.
"""

from __future__ import annotations

import numpy as np

from ..model.compiled import CompiledModel, row_parts
from .quadrature import kinks, mixture_nodes

CANDIDATES = (4, 6, 8, 12, 16, 24, 32, 48, 64)
"""Class counts tried, in order, by :func:`nodes_for`."""
TOLERANCE = 1e-6
"""Default worst relative error of the survival functionals (module docstring)."""
HET_CODES = {"none": 0, "gamma": 1, "beta": 2}


def _slopes(model: CompiledModel, g: int) -> list[tuple[float, float]]:
    """``(slope, room)`` per active row with churn and per churn factor (1 and each regime's)."""
    het = model.heterogeneity[g]
    spends = model.program_spend()
    regimes = {tuple(spends[:, t]) for t in range(model.horizon)} if spends.size else {()}
    out = set()
    for key in regimes:
        cf, uf = model.program_factors(np.asarray(key, float)) if key else (np.ones(model.n_stages), None)
        if uf is None:
            uf = np.ones((model.n_stages, model.n_stages))
        _, _, msum, C = row_parts(model.P[g], model.churn_mask, uf)
        for s in np.flatnonzero((C > 0) & np.asarray(model.active, bool)):
            base = C[s] if het.kind == "gamma" else 1.0
            for f in {1.0, float(cf[s])}:
                if f * base > 0:
                    out.add((f * base, float(1.0 - msum[s])))
    return sorted(out)


def _relevant(het, breaks: np.ndarray) -> np.ndarray:
    """Kinks with probability mass beyond them (a kink in a tail of mass < 1e-16 changes
    nothing, while a piece ending there makes the smooth factor of its rule span many
    orders of magnitude)."""
    from scipy import stats

    if het.kind == "gamma":
        law = stats.gamma(1.0 / het.cv ** 2, scale=het.mean * het.cv ** 2)
    else:
        law = stats.beta(het.alpha, het.beta)
    return breaks[law.sf(breaks) > 1e-16]


def _expectations(x: np.ndarray, w: np.ndarray, slope: float, room: float, H: int) -> np.ndarray:
    """``E[g_t]``, t = 1..H, under the discrete law (x, w)."""
    q = 1.0 - np.minimum(slope * x, room)
    return (q[None, :] ** np.arange(1, H + 1)[:, None]) @ w


def _references(model: CompiledModel) -> list[tuple[object, float, float, np.ndarray]]:
    """Per heterogeneous segment and row: ``(het, slope, room, reference E[g_t])``."""
    out = []
    for g, het in enumerate(model.heterogeneity):
        if het.kind == "none":
            continue
        for slope, room in _slopes(model, g):
            if het.kind == "gamma":
                factors = [(np.ones(1), np.array([1.0 - room]), np.array([slope]))]
            else:
                factors = [(np.array([slope]), np.array([1.0 - room]), np.array([1.0]))]
            xr, wr = mixture_nodes(het, _relevant(het, kinks(het, factors)), 64)
            out.append((het, slope, room, _expectations(xr, wr, slope, room, model.horizon)))
    return out


def _error(refs, nodes: int, H: int) -> float:
    worst = 0.0
    rules: dict = {}
    for het, slope, room, ref in refs:
        if id(het) not in rules:
            rules[id(het)] = mixture_nodes(het, n=nodes)
        x, w = rules[id(het)]
        worst = max(worst, float(np.max(np.abs(_expectations(x, w, slope, room, H) - ref))))
    return worst


def discretisation_error(model: CompiledModel, nodes: int) -> float:
    """Worst absolute error (a probability) of the survival functionals (module
    docstring) over the heterogeneous segments when each is replaced by ``nodes`` Gauss
    classes (0 when no segment is heterogeneous)."""
    return _error(_references(model), nodes, model.horizon)


def nodes_for(model: CompiledModel, tol: float = TOLERANCE) -> tuple[int, float]:
    """Smallest class count of :data:`CANDIDATES` meeting ``tol`` and its error
    (the last candidate and its error when none does; ``(1, 0.0)`` when no segment is
    heterogeneous)."""
    refs = _references(model)
    if not refs:
        return 1, 0.0
    err = np.inf
    for k in CANDIDATES:
        err = _error(refs, k, model.horizon)
        if err <= tol:
            return k, err
    return CANDIDATES[-1], err


def het_classes(model: CompiledModel, nodes: int) -> tuple[np.ndarray, ...]:
    """Customer types: one per homogeneous segment, ``nodes`` Gauss classes per segment
    with continuous heterogeneity (module docstring).

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
        x, w = mixture_nodes(h, n=nodes)
        seg.extend([g] * len(x)), het.extend([HET_CODES[h.kind]] * len(x))
        val.extend(x), prob.extend(w)
        ntypes.append(len(x))
    return (np.array(seg, np.int64), np.array(het, np.int64), np.array(val, float), np.array(prob, float),
            np.array(first, np.int64), np.array(ntypes, np.int64))


def choose(models, nodes: int = 0, tol: float = TOLERANCE) -> tuple[int, float]:
    """Class count for a call over several models (strategies): ``nodes`` if positive,
    else the largest :func:`nodes_for` pick; with the worst error over the models."""
    refs = [(_references(m), m.horizon) for m in models]
    if nodes <= 0:
        nodes = 1
        for r, H in refs:
            if r:
                k = next((k for k in CANDIDATES if _error(r, k, H) <= tol), CANDIDATES[-1])
                nodes = max(nodes, k)
    return nodes, max((_error(r, nodes, H) for r, H in refs if r), default=0.0)
