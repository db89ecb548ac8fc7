"""Continuous-time operations of the des engine, on simpy: agent pools, budgets, delays.

Time in the simpy environment is in **days**; period ``t`` covers days
``[(t-1) D, t D)`` with ``D = days_per_period``. The lifecycle process
(:mod:`clmsim.engines.des`) acts at the period boundaries; everything here
happens in between:

* :class:`WinbackTeam` (a ``simpy.PriorityResource``): a pool of agents calling
  churned customers. Each period the lifecycle process picks eligible churned
  customers by ``coverage`` (after the period's moves) and each starts a
  :meth:`Operations.winback_contact` process: it arrives (start of the period or
  a uniform time in it), waits for the budget (if one pays for the policy) and
  for an agent, is served for a gamma handling time, succeeds with
  ``base * decay ** k`` (``k`` = whole periods since churn when service starts),
  and ``response_delay_days`` after the call returns to the policy's stage (it is
  held in its churned stage meanwhile). A waiting customer reneges when its
  eligibility expires: the window ends (day ``(churn_t + eligible_after + window) D``)
  or it drifts to a lost stage.
* :class:`CareTeam`: the same for a retention program: customers in the program's
  target stages after the period's moves queue for a care contact; if its effect
  lands before the next period boundary, the program's effect (at that period's
  spend per customer) applies to the customer's next move; otherwise it reneges.
* :class:`SaveDesk`: agents making a save offer (retention program of kind ``intercept``).
  A customer whose move in period ``t`` is a churn from a cell the offer reaches is held in
  the stage they are leaving and queues (arriving at the start of the period or a uniform
  time in it); when an agent takes the call the offer is paid and succeeds with ``p_g(t)``;
  ``response_delay_days`` after the call the customer is saved (to the save stage) or leaves
  (to the churn destination drawn at the start of the period). Whoever is not resolved
  when the period ends leaves unoffered (reneges, nothing paid): a desk of limited capacity
  saves fewer customers and spends less.
* :class:`Budget` (a ``simpy.Container``): refilled on a calendar by
  :meth:`Operations.budget_calendar`, drained by spend.
"""

from __future__ import annotations

import math

import numpy as np
import simpy

from ...model.compiled import Budget as BudgetSpec
from ...model.compiled import CompiledModel, Team


class WinbackTeam(simpy.PriorityResource):
    """Agents of one win-back policy (``team.agents`` servers); lower priority value served first."""

    def __init__(self, env: simpy.Environment, team: Team):
        super().__init__(env, capacity=team.agents)
        self.team = team


class CareTeam(simpy.PriorityResource):
    """Agents delivering one retention program's care contacts."""

    def __init__(self, env: simpy.Environment, team: Team):
        super().__init__(env, capacity=team.agents)
        self.team = team


class SaveDesk(simpy.PriorityResource):
    """Agents making one save offer's calls to customers about to leave."""

    def __init__(self, env: simpy.Environment, team: Team):
        super().__init__(env, capacity=team.agents)
        self.team = team


class Budget(simpy.Container):
    """A budget pot of ``spec.amount`` (unbounded when unspent money carries over)."""

    def __init__(self, env: simpy.Environment, spec: BudgetSpec):
        cap = float("inf") if spec.carry_over else max(spec.amount, 1e-300)
        super().__init__(env, capacity=cap, init=spec.amount)
        self.spec = spec

    def take(self, amount: float) -> float:
        """Take ``min(amount, level)`` now (synchronous); returns what was taken."""
        amount = min(float(amount), float(self.level))
        if amount > 0:
            self.get(amount)
        return amount


class Operations:
    """The operations layer of one run: teams, budgets and their processes.

    Parameters
    ----------
    env : simpy.Environment
    model : CompiledModel
        With ``model.operations`` set.
    run : the run state (:class:`clmsim.engines.des.RunState`): population, ledger, event log.
    rng : numpy Generator for arrival times, handling times and success draws.
    """

    def __init__(self, env: simpy.Environment, model: CompiledModel, run, rng: np.random.Generator):
        self.env = env
        self.model = model
        self.run = run
        self.rng = rng
        ops = model.operations
        self.D = ops.days_per_period
        self.winback_team: dict[int, WinbackTeam] = {}
        self.care_team: dict[int, CareTeam] = {}
        self.save_desk: dict[int, SaveDesk] = {}
        for team in ops.teams:
            if team.kind == "winback":
                self.winback_team[team.target] = WinbackTeam(env, team)
            elif team.kind == "save":
                self.save_desk[team.target] = SaveDesk(env, team)
            else:
                self.care_team[team.target] = CareTeam(env, team)
        self.program_budget: dict[int, Budget] = {}
        self.winback_budget: dict[int, Budget] = {}
        self.budgets = []
        for spec in ops.budgets:
            pot = Budget(env, spec)
            self.budgets.append(pot)
            for p in spec.programs:
                self.program_budget[p] = pot
            for w in spec.winbacks:
                self.winback_budget[w] = pot
            env.process(self.budget_calendar(pot))
        self.gone: dict[int, simpy.Event] = {}
        self.waits: list[float] = []       # days from arrival to service start, served contacts
        self.reneged = 0
        self.care_spend = np.zeros(len(model.programs))  # spend per customer reached, by program

    # ------------------------------------------------------------ helpers
    def period_of(self, day: float) -> int:
        """Period containing ``day`` (period t covers [(t-1) D, t D))."""
        return int(math.floor(day / self.D + 1e-12)) + 1

    def service_days(self, team: Team) -> float:
        if team.service_cv == 0 or team.service_mean_days == 0:
            return team.service_mean_days
        shape = 1.0 / team.service_cv ** 2
        return float(self.rng.gamma(shape, team.service_mean_days / shape))

    def arrival_day(self, team: Team, t: int) -> float:
        start = (t - 1) * self.D
        return start if team.arrivals == "start" else start + float(self.rng.random()) * self.D

    def budget_calendar(self, pot: Budget):
        """Refill ``pot`` every ``refill_days`` (days k * refill_days, k = 1, 2, ...)."""
        k = 1
        while True:
            yield self.env.timeout(max(k * pot.spec.refill_days - self.env.now, 0.0))
            if pot.spec.carry_over:
                pot.put(pot.spec.amount)
            elif pot.level < pot.spec.amount:
                pot.put(pot.spec.amount - pot.level)
            k += 1

    def expire(self, cids: np.ndarray) -> None:
        """Customers left their churned stage while queued: their eligibility ends now."""
        for cid in cids.tolist():
            ev = self.gone.pop(cid, None)
            if ev is not None and not ev.triggered:
                ev.succeed()

    def _wait_for(self, event, gone, deadline: float):
        """Yield until ``event`` fires, the customer is gone or ``deadline`` (day) passes."""
        timeout = self.env.timeout(max(deadline - self.env.now, 0.0))
        result = yield event | gone | timeout
        return event in result

    def _renege(self, cid: int, stage: int) -> None:
        self.reneged += 1
        row = self.run.pop.row(cid)
        if row >= 0:
            self.run.pop._waiting[row] = False
            stage = int(self.run.pop.stage[row])
        self.run.log.one(self.env.now / self.D, cid, "renege", stage, stage, 0.0)

    # ------------------------------------------------------------- win-back
    def request_winback(self, w: int, t: int, rows: np.ndarray) -> None:
        """Start a contact process for each row (eligible, covered churned customers)."""
        pop = self.run.pop
        pop._waiting[rows] = True
        for cid, churn_t, stage in zip(pop.cid[rows].tolist(), pop.churn_t[rows].tolist(),
                                       pop.stage[rows].tolist()):
            self.gone[cid] = self.env.event()
            self.env.process(self.winback_contact(w, t, cid, churn_t, stage))

    def winback_contact(self, w: int, t: int, cid: int, churn_t: int, stage: int):
        """One churned customer's way through the win-back queue (see the module docstring)."""
        env, wb, run = self.env, self.model.winbacks[w], self.run
        team = self.winback_team[w]
        gone = self.gone[cid]
        arrive = self.arrival_day(team.team, t)
        if arrive > env.now:
            yield env.timeout(arrive - env.now)
        deadline = (churn_t + wb.max_age) * self.D
        run.log.one(env.now / self.D, cid, "queue", stage, stage, 0.0)
        pot = self.winback_budget.get(w)
        paid = 0.0
        if pot is not None and wb.contact_cost > 0:
            get = pot.get(wb.contact_cost)
            ok = yield from self._wait_for(get, gone, deadline)
            if not ok:
                get.cancel()
                self.gone.pop(cid, None)
                self._renege(cid, stage)
                return
            paid = wb.contact_cost
        priority = -churn_t if team.team.discipline == "recent_first" else 0
        req = team.request(priority=priority)
        ok = yield from self._wait_for(req, gone, deadline)
        if not ok:
            req.cancel()
            if paid:
                pot.put(paid)
            self.gone.pop(cid, None)
            self._renege(cid, stage)
            return
        self.gone.pop(cid, None)
        start = env.now
        self.waits.append(start - arrive)
        tp = self.period_of(start)
        k = tp - churn_t - 1
        stage = int(run.pop.stage[run.pop.row(cid)])   # may have moved within the policy's stages
        run.contact(tp, cid, wb.contact_cost, start / self.D, stage)
        success = float(self.rng.random()) < float(wb.success(k, int(run.pop.seg[run.pop.row(cid)])))
        yield env.timeout(self.service_days(team.team))
        team.release(req)
        row = run.pop.row(cid)
        run.pop._waiting[row] = False
        if not success or not wb.from_stages[run.pop.stage[row]]:
            # failed, or drifted away during a call that straddled a period boundary
            st = int(run.pop.stage[row])
            run.log.one(env.now / self.D, cid, "declined", st, st, 0.0)
            return
        run.pop._held[row] = True
        if team.team.response_delay_days > 0:
            yield env.timeout(team.team.response_delay_days)
        row = run.pop.row(cid)
        run.pop._held[row] = False
        run.win_back(self.period_of(env.now), w, np.array([row]), env.now / self.D)

    # ----------------------------------------------------------- save desk
    def request_save(self, k: int, t: int, cids: list[int]) -> None:
        """Queue the held leavers ``cids`` of period ``t`` at save offer ``k``'s desk."""
        for cid in cids:
            self.env.process(self.save_call(k, t, cid))

    def save_call(self, k: int, t: int, cid: int):
        """One leaver's way through the save desk (see the module docstring)."""
        env, run = self.env, self.run
        desk = self.save_desk[k]
        arrive = self.arrival_day(desk.team, t)
        if arrive > env.now:
            yield env.timeout(arrive - env.now)
        deadline = t * self.D
        req = desk.request()
        ok = yield from self._wait_for(req, env.event(), deadline)
        if not ok or cid not in run.pending_save:
            req.cancel()
            return                                    # the period ended first: run.resolve_saves lets them go
        self.waits.append(env.now - arrive)
        saved = run.offer(t, k, cid, env.now / self.D)
        yield env.timeout(self.service_days(desk.team))
        desk.release(req)
        if desk.team.response_delay_days > 0:
            yield env.timeout(desk.team.response_delay_days)
        if env.now < deadline and cid in run.pending_save:
            run.settle_save(t, cid, saved, env.now / self.D)

    # ------------------------------------------------------------ retention
    def request_care(self, p: int, t: int, rows: np.ndarray, spend: float) -> None:
        """Start a care-contact process for each targeted row; ``spend`` per customer reached."""
        pop = self.run.pop
        for cid, stage in zip(pop.cid[rows].tolist(), pop.stage[rows].tolist()):
            self.env.process(self.care_contact(p, t, cid, stage, spend))

    def care_contact(self, p: int, t: int, cid: int, stage: int, spend: float):
        """A care contact for program ``p``; its effect must land before day ``t D``."""
        env, run = self.env, self.run
        team = self.care_team[p]
        arrive = self.arrival_day(team.team, t)
        if arrive > env.now:
            yield env.timeout(arrive - env.now)
        deadline = t * self.D - team.team.response_delay_days
        if env.now >= deadline:  # arrives too late for any effect to land before the next move
            self._renege(cid, stage)
            return
        never = env.event()
        pot = self.program_budget.get(p)
        paid = 0.0
        if pot is not None and spend > 0:
            get = pot.get(spend)
            ok = yield from self._wait_for(get, never, deadline)
            if not ok:
                get.cancel()
                self._renege(cid, stage)
                return
            paid = spend
        req = team.request()
        ok = yield from self._wait_for(req, never, deadline)
        if not ok:
            req.cancel()
            if paid:
                pot.put(paid)
            self._renege(cid, stage)
            return
        self.waits.append(env.now - arrive)
        run.care(self.period_of(env.now), p, cid, spend, env.now / self.D, stage)
        yield env.timeout(self.service_days(team.team))
        team.release(req)
        if team.team.response_delay_days > 0:
            yield env.timeout(team.team.response_delay_days)
        if env.now < t * self.D:
            row = run.pop.row(cid)
            if row >= 0:
                run.pop._code[row] |= 1 << run.care_bit[p]
