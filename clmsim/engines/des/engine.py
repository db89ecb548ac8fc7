"""The des engine: discrete-event simulation on simpy, with operations and journeys.

The model is the one every clmsim engine shares (:mod:`clmsim.model.compiled`):
in period ``t`` customers move (programs, win-back, heterogeneity), then active
customers earn; acquisitions join at the end of the period; cash of period ``t``
is discounted by ``(1 + d) ** -t``. The engine runs one simpy environment per run
whose clock is in **days** (``D = days_per_period``; period ``t`` covers days
``[(t-1) D, t D)``):

* :class:`Lifecycle` is the one process of the period grid. At day ``(t-1) D``
  it charges program spend, makes the period's win-back contacts (policies
  without a team), moves every customer at once (vectorised over NumPy arrays,
  :class:`~clmsim.engines.des.population.Population`) and hands operational
  work to the teams; at day ``t D`` active customers earn and acquisitions join.
* With an ``operations`` block, agent pools, budget calendars and response
  delays run as simpy processes between the boundaries
  (:mod:`clmsim.engines.des.operations`). Without one the des engine is another Monte
  Carlo of the same model, run by a different code path (an oracle for the fast
  engine and vice versa).

Randomness follows :mod:`clmsim.rng`: run ``r`` draws from the streams
``(seed, r, purpose)`` for every strategy (common random numbers), so results do
not depend on ``workers``. Operations draw from a child of the ``winback``
stream (``stream(seed, r, "winback").spawn(1)``).

The event log (``Results.events``, for ``trace_runs``) has one row per event:
``strategy, run, customer, segment, time, event, from_stage, to_stage, amount`` with
``time`` in periods (day / D): ``start`` (initial customer, time 0), ``arrive``
(acquired, end of its period), ``retention`` (program spend on the customer,
amount = spend), ``contact`` (amount = contact cost), ``declined`` (a contact that
did not win the customer back), ``won_back``, ``move``
(any other stage change; at the start of the period), ``earn`` (amount =
contribution, end of the period), and with agent pools ``queue``, ``renege`` and
``care`` (a care contact delivered, amount = spend).
"""

from __future__ import annotations

import time as _time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from typing import Sequence

import numpy as np
import pandas as pd
import simpy

from ... import rng as _rng
from ...errors import ClmsimError, UnsupportedFeature
from ...model.compiled import ACTIVE, CHURNED, CONVENTION, LOST, CompiledModel
from ...results import Results
from .. import ENGINES
from ..segments import SEGMENT_FLOWS, periods_table, segment_tables
from .eventlog import EVENT_COLUMNS, EventLog
from .operations import Operations
from .population import MoveTables, Population

__all__ = ["simulate", "simulate_run", "pin_options", "RunRecord", "OPTIONS", "NAME", "CAPABILITIES"]

NAME = "des"
CAPABILITIES = ENGINES[NAME].capabilities
"""Declared in the registry (:data:`clmsim.engines.ENGINES`): Monte Carlo, ``first_run``,
operations, event log."""

OPTIONS = {"trace_customers": None, "quantiles": True}
"""Engine options: ``trace_customers`` (None: every customer of a traced run; an
int ``n``: ``n`` customers evenly spread over the initial population; or a list
of customer ids) and ``quantiles`` (q05/q50/q95 in ``periods``)."""

FLOWS = ("revenue", "contribution", "acquisition_spend", "retention_spend", "winback_spend",
         "acquired", "referred", "churned", "won_back", "contacts")


# --------------------------------------------------------------------- one run
@dataclass
class RunRecord:
    """Everything one run produces (picklable, for worker processes)."""

    run: int
    flows: dict[str, np.ndarray]          # item -> (H + 1,), index t = period (0 unused)
    occupancy: np.ndarray                 # (H + 1, S)
    channel_acquired: np.ndarray          # (channels,)
    clv_sum: float
    clv_n: int
    customer_periods: int
    waits: np.ndarray = field(default_factory=lambda: np.zeros(0))   # days, served contacts
    reneged: int = 0
    events: pd.DataFrame | None = None
    seg_flows: dict[str, np.ndarray] = field(default_factory=dict)   # item -> (H + 1, G)
    seg_occupancy: np.ndarray | None = None                           # (H + 1, G, S)


class RunState:
    """State of one run: population, ledger, event log, random streams, operations."""

    def __init__(self, model: CompiledModel, entropy: int, run: int, log: EventLog):
        self.model = model
        self.log = log
        H, S = model.horizon, model.n_stages
        self.flows = {name: np.zeros(H + 1) for name in FLOWS}
        self.occ = np.zeros((H + 1, S))
        self.seg_flows = {name: np.zeros((H + 1, model.n_segments)) for name in SEGMENT_FLOWS}
        self.seg_occ = np.zeros((H + 1, model.n_segments, S))
        self.seg_of = np.zeros(0, dtype=np.int64)   # segment of every customer id (ids are 0, 1, ...)
        self.chan_acq = np.zeros(len(model.channels))
        self.v = model.discount_factors()
        self.clv_sum = 0.0
        self.clv_n = 0
        self.work = 0
        g = lambda purpose: _rng.generator(entropy, run, purpose)  # noqa: E731
        self.rng_moves, self.rng_rev, self.rng_arr = g("moves"), g("revenue"), g("arrivals")
        self.rng_het, self.rng_wb = g("heterogeneity"), g("winback")
        ops_seq, offer_seq = _rng.stream(entropy, run, "winback").spawn(2)
        self.rng_ops = np.random.Generator(np.random.PCG64(ops_seq))
        self.rng_offer = np.random.Generator(np.random.PCG64(offer_seq))   # save offers
        init = model.initial
        self.pop = Population(model, capacity=int(init.sum() * 1.3) + 1024)
        self.expected = model.expected_acquisitions()
        self._tables: dict[tuple, MoveTables] = {}
        self.ops: Operations | None = None
        self.care_bit: dict[int, int] = {}
        self.care_spend = np.zeros(len(model.programs))
        self.occ_start = np.zeros(S)
        self.pending_save: dict[int, tuple[int, int, int, int]] = {}   # cid -> (offer, from, to, churn_t)
        self._policy_of = np.full(S, -1)   # win-back policy serving each churned stage
        for w, wb in enumerate(model.winbacks):
            self._policy_of[wb.from_stages] = w

    # ----------------------------------------------------------- bookkeeping
    def by_segment(self, t: int, item: str, seg: np.ndarray, amount=1.0) -> None:
        """Add ``amount`` (per customer, or one value for all) of ``item`` in period ``t`` to the
        segments ``seg`` of the customers it concerns (the per-segment twin of ``flows``)."""
        seg = np.atleast_1d(seg)
        w = np.broadcast_to(np.asarray(amount, dtype=float), seg.shape)
        self.seg_flows[item][t] += np.bincount(seg, weights=w, minlength=self.model.n_segments)

    def attribute(self, t: int, rows: np.ndarray, cash) -> None:
        """Add per-customer cash of period ``t`` to ``clv_sum`` for acquired customers."""
        acq = self.pop.acq_t[rows]
        mine = acq > 0
        if mine.any():
            cash = np.broadcast_to(np.asarray(cash, dtype=float), rows.shape)
            self.clv_sum += float(np.sum(cash[mine] * self.v[t] / self.v[acq[mine]]))

    def contact(self, t: int, cid: int, cost: float, time: float, stage: int) -> None:
        """One win-back contact made by an agent in period ``t``."""
        self.flows["contacts"][t] += 1
        self.flows["winback_spend"][t] += cost
        self.by_segment(t, "contacts", self.seg_of[cid])
        self.by_segment(t, "winback_spend", self.seg_of[cid], cost)
        row = self.pop.row(cid)
        self.attribute(t, np.array([row]), -cost)
        self.log.one(time, cid, "contact", stage, stage, cost)

    def care(self, t: int, p: int, cid: int, spend: float, time: float, stage: int) -> None:
        """One care contact of program ``p`` delivered in period ``t``."""
        self.flows["retention_spend"][t] += spend
        self.by_segment(t, "retention_spend", self.seg_of[cid], spend)
        row = self.pop.row(cid)
        if row >= 0:
            self.attribute(t, np.array([row]), -spend)
        self.log.one(time, cid, "care", stage, stage, spend)

    def win_back(self, t: int, w: int, rows: np.ndarray, time: float) -> None:
        """Return ``rows`` to the policy's stage with its concession, in period ``t``."""
        if not len(rows):
            return
        wb, pop = self.model.winbacks[w], self.pop
        old = pop.stage[rows].copy()
        pop._stage[rows] = wb.return_stage
        pop._conc_left[rows] = wb.concession_periods * wb.grants(self.model.n_segments)[pop.seg[rows]]
        pop._conc_disc[rows] = wb.discount
        self.flows["won_back"][t] += len(rows)
        self.by_segment(t, "won_back", pop.seg[rows])
        self.log.many(time, pop.cid[rows], "won_back", old, wb.return_stage, 0.0)

    def add_customers(self, t: int, stage: int, seg_counts: np.ndarray) -> None:
        seg = np.repeat(np.arange(len(seg_counts)), seg_counts)
        if not len(seg):
            return
        het = self.pop.draw_het(seg, self.rng_het)
        ids = self.pop.add(np.full(len(seg), stage), seg, het, t)
        self.seg_of = np.concatenate([self.seg_of, seg])
        self.log.segments(ids, seg)
        self.log.many(float(t), ids, "start" if t == 0 else "arrive", -1, stage, 0.0)

    # ------------------------------------------------------------- tables
    def tables(self, spends: np.ndarray, t: int = 1) -> MoveTables:
        """Move tables for the period's non-team program spends and dynamics regime (cached);
        one code per combination of team-delivered programs and risk-targeted care programs
        (bits after the team bits: the customer's draw is above the program's threshold)
        reaching a customer. With scheduled dynamics the period's regime gives the rows, and a
        beta segment's churn factor carries the regime's churn scale
        (:class:`clmsim.model.compiled.Dynamics`)."""
        bits = sorted(self.care_bit, key=self.care_bit.get)
        risky = self.model.risk_programs()
        r = int(self.model.regime_of()[t - 1])
        key = tuple(np.round(spends, 12)) + tuple(np.round(self.care_spend[bits], 12)) + (r,)
        tab = self._tables.get(key)
        if tab is None:
            n_codes = 1 << (len(bits) + len(risky))
            S, G = self.model.n_stages, self.model.n_segments
            cf, uf = np.ones((n_codes, G, S)), np.ones((n_codes, G, S, S))
            for c in range(n_codes):
                s = spends.copy()
                for b, p in enumerate(bits):
                    if c >> b & 1:
                        s[p] = self.care_spend[p]
                hit = np.ones(len(s), dtype=bool)
                for b, p in enumerate(risky, start=len(bits)):
                    hit[p] = bool(c >> b & 1)
                cf[c], uf[c] = self.model.segment_program_factors(s, hit)
            if self.model.dynamics is not None:
                beta = np.array([h.kind == "beta" for h in self.model.heterogeneity])[:, None]
                cf = np.where(beta, cf * self.model.dynamics.churn_scale[r], cf)
            tab = MoveTables(self.model.at_regime(r), cf, uf)
            if len(self._tables) > 64:
                self._tables.clear()
            self._tables[key] = tab
        return tab

    # ----------------------------------------------------------- the period
    def start_period(self, t: int) -> None:
        """Day ``(t-1) D``: program spend, win-back contacts, moves, team requests."""
        m, pop, ops = self.model, self.pop, self.ops
        occ = np.bincount(pop.stage, minlength=m.n_stages)
        self.occ_start = occ
        self.work += int(pop.n - occ[pop.is_lost].sum())
        G, S = m.n_segments, m.n_stages
        occ_gs = None
        if any(prog.segments is not None for prog in m.programs):   # aimed at some segments: count them
            occ_gs = np.bincount(pop.seg * S + pop.stage, minlength=G * S).reshape(G, S)
        spends = np.zeros(len(m.programs))
        risky = m.risk_programs()
        for p, prog in enumerate(m.programs):
            reach = prog.reach(G)
            n_t = int(occ[prog.target].sum()) if prog.segments is None else int(occ_gs[reach].sum())
            picked = None
            if p in risky:             # target_risk: the customers whose draw is above the threshold
                if p in self.care_bit:
                    raise UnsupportedFeature("des", f"an operations team serving the risk-targeted care program "
                                             f"'{prog.name}'", "a care program without target_risk")
                picked = np.flatnonzero(reach[pop.seg, pop.stage] & (pop.het > prog.thresholds(G)[pop.seg]))
                n_t = len(picked)
            s = float(prog.spend[t - 1])
            if prog.cap is not None and n_t > 0:
                s = min(s, float(prog.cap[t - 1]) / n_t)
            if p in self.care_bit:
                self.pending_care[p] = s
                continue
            pot = ops.program_budget.get(p) if ops is not None else None
            if pot is not None and n_t > 0:
                s = min(s, pot.level / n_t)
                pot.take(s * n_t)
            if n_t == 0 or s <= 0:
                continue
            spends[p] = s
            self.flows["retention_spend"][t] += s * n_t
            rows = np.flatnonzero(prog.target[pop.stage] if prog.segments is None else reach[pop.seg, pop.stage])
            if picked is not None:
                rows = picked
                pop._code[rows] |= 1 << (len(self.care_bit) + risky.index(p))
            self.by_segment(t, "retention_spend", pop.seg[rows], s)
            self.attribute(t, rows, -s)
            self.log.many(float(t - 1), pop.cid[rows], "retention", pop.stage[rows], pop.stage[rows], s)
        tables = self.tables(spends, t)
        frozen = pop.held.copy()
        for w, wb in enumerate(m.winbacks):
            if ops is not None and w in ops.winback_team:
                continue
            rows, k = self._eligible(t, w)
            limit = len(rows)
            if wb.capacity is not None:
                limit = min(limit, int(np.floor(wb.capacity[t - 1] + 1e-9)))
            pot = ops.winback_budget.get(w) if ops is not None else None
            if pot is not None and wb.contact_cost > 0:
                limit = min(limit, int(np.floor(pot.level / wb.contact_cost + 1e-9)))
            if len(rows) > limit:  # most recent churners first, ties at random
                keep = np.lexsort((self.rng_wb.random(len(rows)), k))[:limit]
                keep.sort()
                rows, k = rows[keep], k[keep]
            if not len(rows):
                continue
            if pot is not None:
                pot.take(wb.contact_cost * len(rows))
            self.flows["contacts"][t] += len(rows)
            self.flows["winback_spend"][t] += wb.contact_cost * len(rows)
            self.by_segment(t, "contacts", pop.seg[rows])
            self.by_segment(t, "winback_spend", pop.seg[rows], wb.contact_cost)
            self.attribute(t, rows, -wb.contact_cost)
            self.log.many(float(t - 1), pop.cid[rows], "contact", pop.stage[rows], pop.stage[rows],
                          wb.contact_cost)
            ok = self.rng_wb.random(len(rows)) < wb.success(k, pop.seg[rows])
            won = rows[ok]
            self.log.many(float(t - 1), pop.cid[rows[~ok]], "declined", pop.stage[rows[~ok]],
                          pop.stage[rows[~ok]], 0.0)
            self.win_back(t, w, won, float(t - 1))
            frozen[won] = True
        churn_t = pop.churn_t.copy() if m.intercepts else None
        changed, old, new = pop.move(t, tables, frozen, self.rng_moves)
        if m.intercepts:
            changed, old, new = self.save_offers(t, changed, old, new, churn_t)
        pop._code[: pop.n] = 0
        self.flows["churned"][t] += int(np.sum(pop.is_active[old] & pop.is_gone[new]))
        self.by_segment(t, "churned", pop.seg[changed[pop.is_active[old] & pop.is_gone[new]]])
        self.log.many(float(t - 1), pop.cid[changed], "move", old, new, 0.0)
        if ops is None:
            return
        moved = pop.waiting[changed]
        if moved.any():  # queued customers who left the stages their policy serves renege
            served = np.zeros(m.n_stages, dtype=bool)
            for w in ops.winback_team:
                served |= m.winbacks[w].from_stages
            gone = moved & ~(served[new] & (self._policy_of[old] == self._policy_of[new]))
            ops.expire(pop.cid[changed[gone]])
        for w in ops.winback_team:
            rows, _ = self._eligible(t, w)
            if len(rows):
                ops.request_winback(w, t, rows)
        for p in ops.care_team:
            self.care_spend[p] = self.pending_care[p]
            rows = np.flatnonzero(m.programs[p].reach(G)[pop.seg, pop.stage])
            if len(rows) and self.pending_care[p] > 0:
                ops.request_care(p, t, rows, self.pending_care[p])

    def save_offers(self, t: int, changed: np.ndarray, old: np.ndarray, new: np.ndarray,
                    churn_t: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Save offers of period ``t`` to the customers whose move was a churn (see
        :class:`~clmsim.model.compiled.Intercept`): each costs the offer's spend and saves with
        ``p_g(t)``; a saved customer goes to the save stage (its churn undone, any concession
        replaced by the offer's). Returns the rows that changed stage, old and new stages."""
        m, pop = self.model, self.pop
        G = m.n_segments
        of = m.intercept_of()
        left = np.flatnonzero(pop.is_active[old] & pop.is_gone[new])   # positions in ``changed``
        tried, tried_from = changed[left], old[left]
        k_of = of[pop.seg[tried], tried_from]
        for k, ic in enumerate(m.intercepts):
            pick = (k_of == k) & (pop.het[tried] > ic.thresholds(G)[pop.seg[tried]])   # target_risk
            rows, src = tried[pick], tried_from[pick]
            if not len(rows):
                continue
            if self.ops is not None and k in self.ops.save_desk:
                # held in the stage they are leaving until the desk calls (or the period ends)
                for cid, a, b, ct in zip(pop.cid[rows].tolist(), src.tolist(), pop.stage[rows].tolist(),
                                         churn_t[rows].tolist()):
                    self.pending_save[cid] = (k, a, b, ct)
                pop._stage[rows] = src
                pop._churn_t[rows] = churn_t[rows]
                self.ops.request_save(k, t, pop.cid[rows].tolist())
                continue
            cost = float(ic.spend[t - 1])
            self.flows["retention_spend"][t] += cost * len(rows)
            self.by_segment(t, "retention_spend", pop.seg[rows], cost)
            self.attribute(t, rows, -cost)
            self.log.many(float(t - 1), pop.cid[rows], "offer", src, pop.stage[rows], cost)
            seg = pop.seg[rows]
            ok = self.rng_offer.random(len(rows)) < ic.success(t, G)[seg]
            saved, src = rows[ok], src[ok]
            if not len(saved):
                continue
            dest = src if ic.save_stage < 0 else np.full(len(saved), ic.save_stage)
            pop._stage[saved] = dest
            pop._churn_t[saved] = churn_t[saved]
            grant = ic.grants(G)[pop.seg[saved]] & ic.has_concession
            pop._conc_left[saved] = np.where(grant, ic.concession_periods, 0)
            pop._conc_disc[saved] = np.where(grant, ic.discount, 0.0)
            self.log.many(float(t - 1), pop.cid[saved], "saved", src, dest, 0.0)
        final = pop.stage[changed]
        keep = final != old
        return changed[keep], old[keep], final[keep]

    def offer(self, t: int, k: int, cid: int, time: float) -> bool:
        """The save desk calls held leaver ``cid`` (period ``t``): the offer is paid; returns
        whether it succeeds (with ``p_g(t)``)."""
        ic, pop = self.model.intercepts[k], self.pop
        row = pop.row(cid)
        cost = float(ic.spend[t - 1])
        self.flows["retention_spend"][t] += cost
        self.by_segment(t, "retention_spend", pop.seg[row], cost)
        self.attribute(t, np.array([row]), -cost)
        stage = int(pop.stage[row])
        self.log.one(time, cid, "offer", stage, stage, cost)
        return bool(self.rng_offer.random() < ic.success(t, self.model.n_segments)[pop.seg[row]])

    def settle_save(self, t: int, cid: int, saved: bool, time: float) -> None:
        """End a held leaver's wait: saved to the offer's save stage, or gone (churned in ``t``)."""
        k, src, dest, _ = self.pending_save.pop(cid)
        ic, pop = self.model.intercepts[k], self.pop
        row = pop.row(cid)
        if saved:
            to = ic.destination(src)
            grant = bool(ic.grants(self.model.n_segments)[pop.seg[row]] and ic.has_concession)
            pop._stage[row] = to
            pop._conc_left[row] = ic.concession_periods if grant else 0
            pop._conc_disc[row] = ic.discount if grant else 0.0
            self.log.one(time, cid, "saved", src, to, 0.0)
            return
        pop._stage[row] = dest
        pop._churn_t[row] = t
        pop._conc_left[row] = 0
        self.flows["churned"][t] += 1
        self.by_segment(t, "churned", pop.seg[row])
        self.log.one(time, cid, "move", src, dest, 0.0)

    def resolve_saves(self, t: int) -> None:
        """Day ``t D``: leavers the save desk has not resolved leave now, unoffered (renege)."""
        for cid in list(self.pending_save):
            self.ops.reneged += 1
            k, src, _, _ = self.pending_save[cid]
            self.log.one(float(t), cid, "renege", src, src, 0.0)
            self.settle_save(t, cid, False, float(t))

    def _eligible(self, t: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Rows of policy ``w`` eligible in period ``t`` and picked by coverage, with ages."""
        wb, pop = self.model.winbacks[w], self.pop
        mask = wb.from_stages[pop.stage] & ~pop.waiting & ~pop.held
        if wb.segments is not None:
            mask &= wb.segments[pop.seg]
        rows = np.flatnonzero(mask)
        k = t - pop.churn_t[rows] - 1
        ok = (k >= wb.eligible_after) & (k < wb.max_age)
        rows, k = rows[ok], k[ok]
        pick = self.rng_wb.random(len(rows)) < wb.coverage[t - 1]
        return rows[pick], k[pick]

    def end_period(self, t: int) -> None:
        """Day ``t D``: active customers earn, acquisitions join, occupancy is recorded."""
        m, pop = self.model, self.pop
        if self.pending_save:
            self.resolve_saves(t)
        rows, rev, contrib = pop.earn(self.rng_rev, m.at_regime(int(m.regime_of()[t - 1])))
        self.flows["revenue"][t] += rev.sum()
        self.flows["contribution"][t] += contrib.sum()
        self.by_segment(t, "revenue", pop.seg[rows], rev)
        self.by_segment(t, "contribution", pop.seg[rows], contrib)
        self.attribute(t, rows, contrib)
        self.log.many(float(t), pop.cid[rows], "earn", pop.stage[rows], pop.stage[rows], contrib)
        for c, ch in enumerate(m.channels):
            n_c = int(self.rng_arr.poisson(self.expected[c, t - 1]))
            self.flows["acquisition_spend"][t] += ch.spend[t - 1]
            self.flows["acquired"][t] += n_c
            self.chan_acq[c] += n_c
            self.clv_n += n_c
            if n_c:
                split = self.rng_arr.multinomial(n_c, ch.mix)
                self.seg_flows["acquired"][t] += split
                self.add_customers(t, ch.entry_stage, split)
        ref = m.referral
        if ref is not None:
            n_r = int(self.rng_arr.poisson(float(ref.rate @ self.occ_start)))
            self.flows["referred"][t] += n_r
            self.clv_n += n_r
            if n_r:
                split = self.rng_arr.multinomial(n_r, ref.mix)
                self.seg_flows["referred"][t] += split
                self.add_customers(t, ref.entry_stage, split)
        self.occ[t] = pop.occupancy()
        self.seg_occ[t] = pop.segment_occupancy()
        pop.compact()


class Lifecycle:
    """The period-grid process of one run (see the module docstring)."""

    def __init__(self, env: simpy.Environment, state: RunState, days_per_period: float):
        self.env, self.state, self.D = env, state, days_per_period

    def process(self):
        for t in range(1, self.state.model.horizon + 1):
            self.state.start_period(t)
            yield self.env.timeout(t * self.D - self.env.now)
            self.state.end_period(t)


def simulate_run(model: CompiledModel, run: int, entropy: int, trace: bool = False,
                 trace_customers=None) -> RunRecord:
    """Simulate run ``run`` of one model; module level so worker processes can call it."""
    n_init = int(model.initial[:, model.stage_kind != LOST].sum())
    traced = None
    if trace and trace_customers is not None:
        if isinstance(trace_customers, (int, np.integer)):
            k = min(int(trace_customers), n_init)
            traced = np.unique(np.round(np.linspace(0, max(n_init - 1, 0), k)).astype(np.int64)) if k else []
        else:
            traced = np.asarray(list(trace_customers), dtype=np.int64)
    state = RunState(model, entropy, run, EventLog(trace, traced))
    for g in range(model.n_segments):
        for s in range(model.n_stages):
            if model.stage_kind[s] != LOST and model.initial[g, s] > 0:
                counts = np.zeros(model.n_segments, dtype=np.int64)
                counts[g] = model.initial[g, s]
                state.add_customers(0, s, counts)
    churned0 = np.isin(model.stage_kind[state.pop.stage], (CHURNED,))
    state.pop._churn_t[: state.pop.n][churned0] = 0
    state.occ[0] = state.pop.occupancy()
    state.seg_occ[0] = state.pop.segment_occupancy()
    env = simpy.Environment()
    ops = model.operations
    D = ops.days_per_period if ops is not None else 1.0
    if ops is not None and ops.active:
        state.ops = Operations(env, model, state, state.rng_ops)
        state.care_bit = {p: b for b, p in enumerate(sorted(state.ops.care_team))}
    state.pending_care = np.zeros(len(model.programs))
    done = env.process(Lifecycle(env, state, D).process())
    env.run(until=done)
    waits = np.asarray(state.ops.waits) if state.ops is not None else np.zeros(0)
    events = state.log.frame(model.strategy, run, model.stage_names, model.segment_names) if trace else None
    return RunRecord(run, state.flows, state.occ, state.chan_acq, state.clv_sum, state.clv_n, state.work,
                     waits, state.ops.reneged if state.ops is not None else 0, events, state.seg_flows,
                     state.seg_occ)


def _task(args) -> RunRecord:
    model, run, entropy, trace, trace_customers = args
    return simulate_run(model, run, entropy, trace, trace_customers)


# ---------------------------------------------------------------- public API
def pin_options(models: Sequence[CompiledModel], options: dict) -> dict:
    """The options unchanged: the des engine chooses nothing per call (engine contract)."""
    return dict(options)


def simulate(models: Sequence[CompiledModel], *, runs: int, seed: int | None, trace_runs: Sequence[int] = (),
             workers: int = 1, first_run: int = 0, **options) -> Results:
    """Discrete-event simulation of ``runs`` runs of every model (strategy).

    Parameters
    ----------
    models : sequence of CompiledModel
        One per strategy, from :func:`clmsim.model.compile_model`.
    runs : int
        Runs per strategy; run ``r`` draws from the streams ``(seed, r, purpose)``
        (common random numbers across strategies).
    seed : int or None
        Root seed; None draws OS entropy (recorded as ``seed`` in the provenance).
    trace_runs : sequence of int
        Runs whose event log goes into ``Results.events`` (indices ``first_run ..``).
    workers : int
        Worker processes (``concurrent.futures.ProcessPoolExecutor``); results are
        bit-identical to ``workers=1``.
    first_run : int
        Index of the first run: ``runs=n, first_run=r0`` simulates runs ``r0 .. r0 + n - 1``,
        exactly those rows of one call with ``runs=r0 + n`` (every run draws from its own
        streams), so chunks of a study and ``compare(seed=s)`` equal ``simulate(seed=s)``.
    **options
        See :data:`OPTIONS`.

    Returns
    -------
    Results
        ``runs``, ``periods``, ``events``; provenance ``engine="des"``. With agent
        pools ``runs`` also has ``contact_wait_days`` (mean wait for an agent, days)
        and ``reneged`` (customers who left a queue).
    """
    t0 = _time.perf_counter()
    models = list(models)
    opts = _validate(models, runs, trace_runs, workers, first_run, options)
    root = _rng.root_sequence(seed)
    trace = set(int(r) for r in trace_runs)
    run_ids = range(int(first_run), int(first_run) + int(runs))
    tasks = [(m, r, root.entropy, r in trace, opts["trace_customers"]) for m in models for r in run_ids]
    if workers > 1 and len(tasks) > 1:
        with ProcessPoolExecutor(max_workers=workers) as pool:
            records = list(pool.map(_task, tasks, chunksize=max(1, len(tasks) // (4 * workers))))
    else:
        records = [_task(a) for a in tasks]
    frames = [_tables(m, records[i * runs:(i + 1) * runs], opts["quantiles"]) for i, m in enumerate(models)]
    cat = lambda k: pd.concat([f[k] for f in frames], ignore_index=True)  # noqa: E731
    ev = [r.events for r in records if r.events is not None]
    events = pd.concat(ev, ignore_index=True) if ev else pd.DataFrame({c: [] for c in EVENT_COLUMNS})
    first = models[0]
    prov = dict(scenario=first.name, scenario_hash=first.scenario_hash, engine="des", seed=root.entropy,
                runs=int(runs), mode="discrete-event", period=first.period, horizon=first.horizon,
                convention=CONVENTION,
                active_stages=[n for n, k in zip(first.stage_names, first.stage_kind) if k == ACTIVE],
                customer_periods=int(sum(r.customer_periods for r in records)),
                first_run=int(first_run), strategies=[m.strategy for m in models], workers=int(workers),
                trace_runs=sorted(trace),
                operations=sorted({f for m in models for f in m.operational_features()}),
                seconds=_time.perf_counter() - t0)
    return Results(prov, cat("runs"), cat("periods"), events=events, segment_runs=cat("segment_runs"),
                   segment_periods=cat("segment_periods"))


def _validate(models, runs, trace_runs, workers, first_run, options) -> dict:
    if not models:
        raise ClmsimError("the des engine needs at least one compiled model (strategy)")
    for name, val in (("runs", runs), ("workers", workers)):
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 1:
            raise ClmsimError(f"{name} must be a positive integer, got {val!r}")
    if isinstance(first_run, bool) or not isinstance(first_run, (int, np.integer)) or first_run < 0:
        raise ClmsimError(f"first_run must be a non-negative integer, got {first_run!r}")
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ClmsimError(f"unknown des-engine option(s) {', '.join(sorted(unknown))}; known: {', '.join(OPTIONS)}")
    last = first_run + runs - 1
    for r in trace_runs:
        if isinstance(r, bool) or not isinstance(r, (int, np.integer)) or not first_run <= r <= last:
            raise ClmsimError(f"trace_runs must list runs in {first_run}..{last}, got {r!r}")
    first = models[0]
    for m in models:
        if m.horizon != first.horizon or m.stage_names != first.stage_names:
            raise ClmsimError("all strategies of one des-engine call must share horizon and stages")
    tc = options.get("trace_customers")
    if tc is not None and (isinstance(tc, bool) or (isinstance(tc, (int, np.integer)) and tc < 0)):
        raise ClmsimError(f"trace_customers must be None, a non-negative count or a list of ids, got {tc!r}")
    return {**OPTIONS, **options}


def _tables(model: CompiledModel, records: list[RunRecord], quantiles: bool) -> dict:
    """``runs`` and ``periods`` tables of one strategy."""
    H, R = model.horizon, len(records)
    v = model.discount_factors()
    per = {name: np.stack([r.flows[name][1:] for r in records]) for name in FLOWS}
    per["net_cash"] = (per["contribution"] - per["acquisition_spend"] - per["retention_spend"]
                       - per["winback_spend"])
    per["discounted_net_cash"] = per["net_cash"] * v[1:]
    runs = {"strategy": model.strategy, "run": np.array([r.run for r in records])}
    runs["npv"] = per["discounted_net_cash"].sum(axis=1)
    for name in FLOWS:
        runs[name] = per[name].sum(axis=1)
    occ = np.stack([r.occupancy for r in records])
    runs["active_end"] = occ[:, H, model.stage_kind == ACTIVE].sum(axis=1)
    clv_n = np.array([r.clv_n for r in records], dtype=float)
    clv_sum = np.array([r.clv_sum for r in records])
    runs["clv_acquired"] = np.where(clv_n > 0, clv_sum / np.maximum(clv_n, 1), np.nan)
    acq_spend = model.acquisition_spend()
    for c, ch in enumerate(model.channels):
        runs[f"acquired:{ch.name}"] = np.array([r.channel_acquired[c] for r in records])
        runs[f"acquisition_spend:{ch.name}"] = np.full(R, acq_spend[c].sum())
    if model.operational_features():
        runs["contact_wait_days"] = [float(r.waits.mean()) if len(r.waits) else np.nan for r in records]
        runs["reneged"] = [r.reneged for r in records]
    runs_df, periods_df = pd.DataFrame(runs), periods_table(model.strategy, model.stage_names, occ, per, quantiles)
    seg = segment_tables(model, {k: np.stack([r.seg_flows[k][1:] for r in records]) for k in SEGMENT_FLOWS},
                         np.stack([r.seg_occupancy for r in records]), runs["run"], quantiles=quantiles)
    return {"runs": runs_df, "periods": periods_df, **seg}
