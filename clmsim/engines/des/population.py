"""Customer state of one des run as NumPy arrays, updated once per period, vectorised.

The des engine keeps the period grid of every clmsim engine (see
:mod:`clmsim.model.compiled`): in period ``t`` customers move, then active
customers earn. Rather than one simpy process per customer per period, a single
lifecycle process calls :meth:`Population.move` and :meth:`Population.earn`
once per period over arrays of customer state; simpy is used only for the
continuous-time operations (:mod:`clmsim.engines.des.operations`).

Arrays (one entry per customer still simulated; lost customers are dropped by
:meth:`Population.compact` and only counted):

``cid``         customer id (0, 1, ... in order of arrival; never reused)
``stage``       stage index
``seg``         segment index
``het``         churn multiplier (gamma heterogeneity, 1 without) or per-period
                churn probability theta (beta heterogeneity), drawn once at arrival
``churn_t``     period in which the customer last churned (age ``k = t - churn_t - 1``)
``conc_left``   periods of price concession left; ``conc_disc`` its discount
``acq_t``       period of acquisition (0 = initial population)
``code``        bit mask of team-delivered and risk-targeted retention programs reaching the next move
``waiting``     queued at an agent pool; ``held`` accepted an offer, effect pending (frozen)
"""

from __future__ import annotations

import numpy as np

from ...model.compiled import ACTIVE, CHURNED, LOST, CompiledModel

_FIELDS = (("cid", np.int64), ("stage", np.int64), ("seg", np.int64), ("het", np.float64),
           ("churn_t", np.int64), ("conc_left", np.int64), ("conc_disc", np.float64),
           ("acq_t", np.int64), ("code", np.int64), ("waiting", np.bool_), ("held", np.bool_))

NEVER = -(10 ** 9)
"""``churn_t`` of a customer who never churned."""


class MoveTables:
    """Per (code, segment, stage) move tables of one period (see :func:`effective_matrix`).

    ``moves_cum[c, g, s]``: cumulative non-churn move probabilities (after
    upgrade factors (codes, G, S, S) and rescaling), ``msum`` their total; ``churn_cum``:
    churn destinations' cumulative shares of the base churn total ``C``; ``cf``: churn
    factor (codes, G, S). A customer's churn probability is
    ``clip(cf * (theta if beta else het * C), 0, 1 - msum)``.
    """

    def __init__(self, model: CompiledModel, churn_factors: np.ndarray, upgrade_factors: np.ndarray):
        S, G = model.n_stages, model.n_segments
        n_codes = churn_factors.shape[0]
        off = ~np.eye(S, dtype=bool)
        mask = model.churn_mask
        self.moves_cum = np.zeros((n_codes, G, S, S))
        self.msum = np.zeros((n_codes, G, S))
        self.churn_cum = np.zeros((G, S, S))
        self.C = np.zeros((G, S))
        self.cf = np.asarray(churn_factors, dtype=float)
        for g in range(G):
            churn = np.where(mask, model.P[g], 0.0)
            C = churn.sum(axis=1)
            self.C[g] = C
            self.churn_cum[g] = np.cumsum(np.divide(churn, C[:, None], out=np.zeros((S, S)),
                                                    where=C[:, None] > 0), axis=1)
            base = np.where(off & ~mask, model.P[g], 0.0)
            for c in range(n_codes):
                moves = base * upgrade_factors[c, g]
                msum = moves.sum(axis=1)
                over = msum > 1.0
                moves[over] /= msum[over, None]
                self.msum[c, g] = np.minimum(msum, 1.0)
                self.moves_cum[c, g] = np.cumsum(moves, axis=1)
        self.churn_cum[..., -1] = np.where(self.C > 0, 1.0, 0.0)
        self.has_churn = mask.any(axis=1)


class Population:
    """Struct of arrays holding every customer of one run (see the module docstring)."""

    def __init__(self, model: CompiledModel, capacity: int = 1024):
        self.model = model
        self.n = 0
        self._cap = max(int(capacity), 16)
        for name, dtype in _FIELDS:
            setattr(self, "_" + name, np.zeros(self._cap, dtype=dtype))
        self.next_id = 0
        self.lost_dropped = 0
        self.lost_dropped_seg = np.zeros(model.n_segments, dtype=np.int64)
        self.kind = model.stage_kind
        self.is_active = model.stage_kind == ACTIVE
        self.is_gone = np.isin(model.stage_kind, (CHURNED, LOST))
        self.is_lost = model.stage_kind == LOST
        self.beta_seg = np.array([h.kind == "beta" for h in model.heterogeneity])

    # ------------------------------------------------------------- storage
    def __getattr__(self, name: str) -> np.ndarray:
        # views of the used part: pop.stage is pop._stage[:pop.n]
        if name in _NAMES:
            return self.__dict__["_" + name][: self.__dict__["n"]]
        raise AttributeError(name)

    def _grow(self, need: int) -> None:
        if need <= self._cap:
            return
        cap = max(need, 2 * self._cap)
        for name, _ in _FIELDS:
            old = getattr(self, "_" + name)
            new = np.zeros(cap, dtype=old.dtype)
            new[: self.n] = old[: self.n]
            setattr(self, "_" + name, new)
        self._cap = cap

    def add(self, stage: np.ndarray, seg: np.ndarray, het: np.ndarray, acq_t: int) -> np.ndarray:
        """Append customers; returns their ids."""
        m = len(stage)
        self._grow(self.n + m)
        sl = slice(self.n, self.n + m)
        ids = np.arange(self.next_id, self.next_id + m, dtype=np.int64)
        self._cid[sl] = ids
        self._stage[sl] = stage
        self._seg[sl] = seg
        self._het[sl] = het
        self._churn_t[sl] = NEVER
        self._conc_left[sl] = 0
        self._conc_disc[sl] = 0.0
        self._acq_t[sl] = acq_t
        self._code[sl] = 0
        self._waiting[sl] = False
        self._held[sl] = False
        self.n += m
        self.next_id += m
        return ids

    def compact(self) -> None:
        """Drop customers in lost stages (absorbing) that no process refers to; count them."""
        drop = self.is_lost[self.stage] & ~self.waiting & ~self.held
        k = int(drop.sum())
        if k == 0 or k < self.n // 8:
            return
        self.lost_dropped_seg += np.bincount(self.seg[drop], minlength=self.model.n_segments)
        keep = np.flatnonzero(~drop)
        for name, _ in _FIELDS:
            arr = getattr(self, "_" + name)
            arr[: len(keep)] = arr[keep]
        self.lost_dropped += k
        self.n = len(keep)

    def row(self, cid: int) -> int:
        """Row of customer ``cid`` (ids stay sorted), or -1 if dropped."""
        i = int(np.searchsorted(self.cid, cid))
        return i if i < self.n and self._cid[i] == cid else -1

    def segment_occupancy(self) -> np.ndarray:
        """Customers per segment and stage, shape (G, S) (dropped customers as in :meth:`occupancy`)."""
        G, S = self.model.n_segments, self.model.n_stages
        occ = np.bincount(self.seg * S + self.stage, minlength=G * S).reshape(G, S).astype(np.int64)
        lost = np.flatnonzero(self.is_lost)
        if len(lost):
            occ[:, lost[0]] += self.lost_dropped_seg
        return occ

    def occupancy(self) -> np.ndarray:
        """Customers per stage (lost stages include dropped customers)."""
        occ = np.bincount(self.stage, minlength=self.model.n_stages).astype(np.int64)
        lost = np.flatnonzero(self.is_lost)
        if len(lost):
            occ[lost[0]] += self.lost_dropped
        return occ

    # --------------------------------------------------------------- draws
    def draw_het(self, seg: np.ndarray, rng: np.random.Generator) -> np.ndarray:
        """Per-customer heterogeneity at arrival (1.0 without heterogeneity)."""
        out = np.ones(len(seg))
        for g, h in enumerate(self.model.heterogeneity):
            if h.kind == "none":
                continue
            idx = np.flatnonzero(seg == g)
            if not len(idx):
                continue
            if h.kind == "gamma":
                out[idx] = rng.gamma(1.0 / h.cv ** 2, h.mean * h.cv ** 2, size=len(idx))
            else:
                out[idx] = rng.beta(h.alpha, h.beta, size=len(idx))
        return out

    # --------------------------------------------------------------- moves
    def move(self, t: int, tables: MoveTables, frozen: np.ndarray, rng: np.random.Generator
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Lifecycle transitions of period ``t`` for every customer not ``frozen``.

        Returns the rows that changed stage, their old and their new stages.
        Customers who churn (active -> churned/lost) get ``churn_t = t`` and lose
        any concession.
        """
        n = self.n
        S, G = self.model.n_stages, self.model.n_segments
        stage, seg = self.stage, self.seg
        u = rng.random(n)
        u[frozen] = 2.0
        flat = (self.code * G + seg) * S + stage
        msum = tables.msum.reshape(-1)[flat]
        gs = seg * S + stage
        base = tables.C.reshape(-1)[gs]
        if self.beta_seg.any():
            theta = np.where(tables.has_churn[stage], self.het, 0.0)
            base = np.where(self.beta_seg[seg], theta, base * self.het)
        else:
            base = base * self.het
        cf = tables.cf[self.code, seg, stage]
        target = np.minimum(np.maximum(cf * base, 0.0), 1.0 - msum)
        go_move = u < msum
        go_churn = ~go_move & (u < msum + target)
        new = stage.copy()
        rows_m = np.flatnonzero(go_move)
        if len(rows_m):
            cum = tables.moves_cum.reshape(-1, S)[flat[rows_m]]
            new[rows_m] = np.minimum((u[rows_m, None] >= cum).sum(axis=1), S - 1)
        rows_c = np.flatnonzero(go_churn)
        if len(rows_c):
            w = (u[rows_c] - msum[rows_c]) / target[rows_c]
            cum = tables.churn_cum.reshape(-1, S)[gs[rows_c]]
            new[rows_c] = np.minimum((w[:, None] >= cum).sum(axis=1), S - 1)
        changed = np.flatnonzero(new != stage)
        old = stage[changed].copy()
        self._stage[changed] = new[changed]
        churned = changed[self.is_active[old] & self.is_gone[new[changed]]]
        self._churn_t[churned] = t
        self._conc_left[churned] = 0
        return changed, old, new[changed]

    # ---------------------------------------------------------------- earn
    def earn(self, rng: np.random.Generator, model: CompiledModel | None = None
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Revenue of one period for every customer in an active stage.

        Revenue ``R ~ Gamma(shape 1/cv^2, scale mean cv^2)`` (fixed when cv = 0);
        contribution ``R (margin - disc) - cost_to_serve`` with ``disc`` the concession
        discount while a concession runs (then one concession period is used up).

        ``model`` (default: the population's) is the period's regime of a model with scheduled
        dynamics (:meth:`clmsim.model.CompiledModel.at_regime`): its revenue means and margins.

        Returns the rows, their revenue ``R`` (before the concession, as every engine
        reports it) and their contribution.
        """
        m = self.model if model is None else model
        rows = np.flatnonzero(self.is_active[self.stage])
        g, s = self.seg[rows], self.stage[rows]
        mean, cv = m.revenue_mean[g, s], m.revenue_cv[g, s]
        noisy = cv > 0
        rev = mean.copy()
        if noisy.any():
            shape = 1.0 / cv[noisy] ** 2
            rev[noisy] = rng.standard_gamma(shape) * mean[noisy] / shape
        conc = self.conc_left[rows] > 0
        disc = np.where(conc, self.conc_disc[rows], 0.0)
        contrib = rev * (m.margin[g, s] - disc) - m.cost_to_serve[g, s]
        self._conc_left[rows[conc]] -= 1
        return rows, rev, contrib


_NAMES = frozenset(name for name, _ in _FIELDS)
