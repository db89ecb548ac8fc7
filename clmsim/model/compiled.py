"""The compiled model: a validated scenario (plus a strategy) as plain arrays.

Every engine consumes a :class:`CompiledModel`; no engine reads YAML or pydantic
objects. Indices: ``S`` stages (in file order), ``G`` segments (one, named
``all``, when the scenario has none), ``H`` periods (period ``t`` = 1..H; arrays
over periods are indexed ``t - 1``).

Timing convention (one place, stated in docs/scenario.md):

* state ``x_0`` is the initial population at time 0;
* in period ``t`` customers first move (lifecycle transitions, program effects,
  win-back), then every customer in an active stage earns that period's revenue;
  all cash of period ``t`` (revenue, serving cost, spend) is discounted by
  ``(1 + d) ** -t``;
* customers acquired in period ``t`` (channels, referrals) join their entry stage
  at the end of period ``t`` and first move in period ``t + 1``.

So a customer acquired now with margin ``m`` and retention ``r`` is worth
``m r / (1 + d - r)`` (first margin one period after acquisition, survival
required); adding the entry stage's margin once gives the other textbook form
``m (1 + d) / (1 + d - r)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

PROSPECT, ACTIVE, CHURNED, LOST = 0, 1, 2, 3
KIND_CODES = {"prospect": PROSPECT, "active": ACTIVE, "churned": CHURNED, "lost": LOST}
PERIODS_PER_YEAR = {"week": 52, "month": 12, "quarter": 4, "year": 1}

CONVENTION = ("end-of-period: in period t customers move, then active customers earn; "
              "cash of period t is discounted by (1+d)^-t; acquired customers join at the end "
              "of their period (CLV = m*r/(1+d-r) for constant retention r)")

LINEAR, SATURATING = 0, 1


@dataclass(frozen=True)
class Channel:
    """An acquisition channel. ``spend[t-1]`` is the spend of period t.

    Expected customers for spend ``x``: ``x / a`` (linear, ``a`` = cost per
    customer) or ``a * x / (x + b)`` (saturating, ``a`` = maximum, ``b`` =
    half-saturation spend).
    """

    name: str
    spend: np.ndarray
    response: int
    a: float
    b: float
    entry_stage: int
    mix: np.ndarray

    def expected_customers(self, spend: np.ndarray | float) -> np.ndarray:
        """Expected customers bought by ``spend`` (per period)."""
        x = np.asarray(spend, dtype=float)
        if self.response == LINEAR:
            return x / self.a
        return np.where(x > 0, self.a * x / (x + self.b), 0.0)


@dataclass(frozen=True)
class Referral:
    """``rate[s]`` new customers per customer in stage s per period, joining ``entry_stage``."""

    rate: np.ndarray
    entry_stage: int
    mix: np.ndarray


def _all_segments(mask: np.ndarray | None, n_segments: int) -> np.ndarray:
    """A segment mask, every segment when ``mask`` is None."""
    return np.ones(n_segments, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)


def _reach_thresholds(risk_threshold: np.ndarray | None, n_segments: int) -> np.ndarray:
    """(G,) draw above which a customer is reached: with ``target_risk`` the ``1 - top_share``
    quantile of the segment's heterogeneity draw (churn multiplier or churn probability), else
    ``-inf`` (everyone). One rule for save offers and care programs."""
    if risk_threshold is None:
        return np.full(n_segments, -np.inf)
    return np.asarray(risk_threshold, dtype=float)


@dataclass(frozen=True)
class Program:
    """A retention program. ``spend[t-1]``: spend per targeted customer in period t.

    Effect of spend ``s``: ``f(s) = s / (s + half)``; churn transitions of targeted
    stages x ``(1 - churn_reduction_max f)``; transitions marked in ``upgrade`` x
    ``(1 + upgrade_lift f)``. ``cap[t-1]`` (or None) is the aggregate budget of period t.

    Targeting: the program reaches the customers of segment ``g`` in stage ``s`` when
    ``segments[g] and target[s]`` (:meth:`reach`; ``segments`` None: every segment);
    ``segment_effects[g]`` (or None) holds segment ``g``'s ``(churn_reduction_max,
    half_saturation_spend, upgrade_lift)`` (:meth:`effects`). Customers it does not reach
    cost nothing and keep their base rows. With ``target_risk`` it reaches, in those cells,
    only the customers whose heterogeneity draw exceeds ``risk_threshold[g]``
    (:meth:`thresholds`, the same rule as a save offer's): the ``risk_share`` of the segment
    most likely to leave.
    """

    name: str
    target: np.ndarray
    spend: np.ndarray
    churn_reduction_max: float
    half_saturation_spend: float
    upgrade_lift: float
    upgrade: np.ndarray
    cap: np.ndarray | None
    segments: np.ndarray | None = None
    segment_effects: np.ndarray | None = None
    risk_share: float | None = None
    risk_threshold: np.ndarray | None = None

    def thresholds(self, n_segments: int) -> np.ndarray:
        """(G,) draw above which a customer is reached (``-inf``: everyone; see ``target_risk``)."""
        return _reach_thresholds(self.risk_threshold, n_segments)

    def saturation(self, spend: np.ndarray | float) -> np.ndarray:
        """``f(s) = s / (s + half_saturation_spend)``."""
        s = np.asarray(spend, dtype=float)
        return s / (s + self.half_saturation_spend)

    def reach(self, n_segments: int) -> np.ndarray:
        """(G, S) bool: the (segment, stage) cells the program reaches."""
        return _all_segments(self.segments, n_segments)[:, None] & np.asarray(self.target, dtype=bool)[None, :]

    def effects(self, n_segments: int) -> np.ndarray:
        """(G, 3): per segment ``churn_reduction_max, half_saturation_spend, upgrade_lift``."""
        if self.segment_effects is not None:
            return np.asarray(self.segment_effects, dtype=float)
        row = [self.churn_reduction_max, self.half_saturation_spend, self.upgrade_lift]
        return np.tile(np.asarray(row, dtype=float), (n_segments, 1))


@dataclass(frozen=True)
class Winback:
    """A win-back policy over the churned stages in ``from_stages``.

    A customer ``k`` whole periods after churn is eligible when
    ``eligible_after <= k < eligible_after + window``; in period t a share
    ``coverage[t-1]`` of eligible customers is contacted (``contact_cost`` each)
    and a contact succeeds with ``base * decay ** k``, returning the customer to
    ``return_stage`` with revenue x ``(1 - discount)`` for ``concession_periods``
    periods. ``capacity[t-1]`` (or None) caps contacts per period.
    """

    name: str
    from_stages: np.ndarray
    eligible_after: int
    window: int
    coverage: np.ndarray
    contact_cost: float
    base: float
    decay: float
    return_stage: int
    discount: float
    concession_periods: int
    capacity: np.ndarray | None
    segments: np.ndarray | None = None
    segment_success: np.ndarray | None = None
    concession_segments: np.ndarray | None = None

    @property
    def max_age(self) -> int:
        """First age that is no longer eligible: ``eligible_after + window``."""
        return self.eligible_after + self.window

    def success(self, k: np.ndarray | int, segment: np.ndarray | int | None = None) -> np.ndarray:
        """``p(k) = base * decay ** k`` (with segment ``g``'s ``base, decay`` when given)."""
        if segment is None or self.segment_success is None:
            return self.base * self.decay ** np.asarray(k, dtype=float)
        bd = np.asarray(self.segment_success, dtype=float)[segment]
        return bd[..., 0] * bd[..., 1] ** np.asarray(k, dtype=float)

    def reaches(self, n_segments: int) -> np.ndarray:
        """(G,) bool: segments whose churned customers the policy contacts (``target_segments``)."""
        return _all_segments(self.segments, n_segments)

    def grants(self, n_segments: int) -> np.ndarray:
        """(G,) bool: segments whose returning customers get the concession (when it has one)."""
        return _all_segments(self.concession_segments, n_segments)

    @property
    def has_concession(self) -> bool:
        """A discount for at least one period."""
        return self.concession_periods > 0 and self.discount > 0


@dataclass(frozen=True)
class Intercept:
    """A save offer (a retention program of kind ``intercept``).

    In period t, a customer of a (segment, stage) cell it reaches (:meth:`reach`) whose move
    is a churn (to a churned or lost stage) gets an offer costing ``spend[t-1]``; it succeeds
    with ``p_g(t) = success_max_g s / (s + half_g)`` (:meth:`success`) and the customer goes to
    ``save_stage`` (-1: the stage left from) instead, paying revenue x ``(1 - discount)``
    for ``concession_periods`` periods (from the period of the save) when the concession is
    granted to the segment (:meth:`grants`). A save ends any concession already running.
    ``segment_effects[g]`` (or None) holds segment g's ``(success_max, half)``. With
    ``target_risk`` only the customers whose heterogeneity draw exceeds
    ``risk_threshold[g]`` get the offer (:meth:`thresholds`): the ``risk_share`` of the
    segment most likely to leave.
    """

    name: str
    target: np.ndarray
    spend: np.ndarray
    success_max: float
    half_saturation_spend: float
    save_stage: int = -1
    discount: float = 0.0
    concession_periods: int = 0
    segments: np.ndarray | None = None
    segment_effects: np.ndarray | None = None
    concession_segments: np.ndarray | None = None
    risk_share: float | None = None
    risk_threshold: np.ndarray | None = None

    def thresholds(self, n_segments: int) -> np.ndarray:
        """(G,) draw above which a customer gets the offer: with ``target_risk`` the
        ``1 - top_share`` quantile of the segment's heterogeneity draw (churn multiplier or
        churn probability), else ``-inf`` (everyone)."""
        return _reach_thresholds(self.risk_threshold, n_segments)

    def reach(self, n_segments: int) -> np.ndarray:
        """(G, S) bool: the (segment, stage) cells whose churners get the offer."""
        return _all_segments(self.segments, n_segments)[:, None] & np.asarray(self.target, dtype=bool)[None, :]

    def success(self, t: int, n_segments: int) -> np.ndarray:
        """(G,) success probability of an offer in period ``t`` (1-based) per segment."""
        eff = (np.tile([self.success_max, self.half_saturation_spend], (n_segments, 1))
               if self.segment_effects is None else np.asarray(self.segment_effects, dtype=float))
        s = float(self.spend[t - 1])
        return eff[:, 0] * (s / (s + eff[:, 1]))

    def grants(self, n_segments: int) -> np.ndarray:
        """(G,) bool: segments whose saved customers get the concession."""
        return _all_segments(self.concession_segments, n_segments)

    @property
    def has_concession(self) -> bool:
        return self.concession_periods > 0 and self.discount > 0

    def destination(self, stage: int) -> int:
        """Where a customer saved from ``stage`` goes."""
        return stage if self.save_stage < 0 else self.save_stage


@dataclass(frozen=True)
class Dynamics:
    """Transition probabilities, revenue means and margins that vary over periods.

    Periods with the same values share a **regime** ``r`` (numbered by first appearance,
    period 1 is regime 0): ``P[r]`` (G, S, S), ``revenue_mean[r]`` and ``margin[r]`` (G, S).
    ``regime[t - 1]`` is the regime of period ``t`` for ``t = 1..H + X``: the ``X`` periods
    past the horizon continue the schedules until they only repeat, and the last ``cycle``
    entries repeat for ever (``cycle = 1``: the last regime holds). ``churn_scale[r, g, s]``
    is the ratio of row ``s``'s churn total in regime ``r`` to its reference total (the
    schedules' ``base`` / first value): a per-customer churn probability (beta heterogeneity)
    is scaled by it. ``fields`` names the scheduled fields (dotted paths). A model whose
    schedules take one value has no ``Dynamics`` (``CompiledModel.dynamics is None``).
    """

    P: np.ndarray
    revenue_mean: np.ndarray
    margin: np.ndarray
    churn_scale: np.ndarray
    regime: np.ndarray
    cycle: int
    fields: tuple[str, ...]

    @property
    def n_regimes(self) -> int:
        return self.P.shape[0]


@dataclass(frozen=True)
class Heterogeneity:
    """Per-customer churn propensity of one segment.

    ``kind`` is ``"none"``, ``"gamma"`` (multiplier on churn with ``mean``, ``cv``:
    shape ``1/cv^2``, scale ``mean cv^2``) or ``"beta"`` (per-period churn
    probability ``theta ~ Beta(alpha, beta)`` replacing each active row's churn total).
    """

    kind: str = "none"
    mean: float = 1.0
    cv: float = 0.0
    alpha: float = 0.0
    beta: float = 0.0


@dataclass(frozen=True)
class Team:
    """An agent pool (des engine only) serving win-back policy or retention program ``serves``.

    ``kind`` is ``"winback"``, ``"retention"`` or ``"save"`` (a save desk); ``target`` is the
    index of the policy in ``CompiledModel.winbacks``, of the program in ``programs`` or of
    the save offer in ``intercepts``. Contact
    handling time in days is gamma with ``service_mean_days`` and ``service_cv``
    (cv 1: exponential, cv 0: fixed). ``discipline``: ``"fifo"`` or
    ``"recent_first"``; ``arrivals``: ``"spread"`` (uniform over the period) or
    ``"start"``; ``response_delay_days``: days from the end of a contact to its effect.
    """

    name: str
    kind: str
    target: int
    agents: int
    service_mean_days: float
    service_cv: float
    discipline: str = "fifo"
    arrivals: str = "spread"
    response_delay_days: float = 0.0


@dataclass(frozen=True)
class Budget:
    """A budget pot (des engine only) of ``amount`` refilled every ``refill_days`` days.

    ``programs`` / ``winbacks``: indices of what it pays for; ``carry_over`` adds
    ``amount`` at each refill instead of topping up to ``amount``.
    """

    name: str
    amount: float
    refill: str
    refill_days: float
    carry_over: bool
    programs: tuple[int, ...] = ()
    winbacks: tuple[int, ...] = ()


@dataclass(frozen=True)
class Operations:
    """Operational settings of the des engine; ``days_per_period`` converts days to periods."""

    days_per_period: float
    teams: tuple[Team, ...] = ()
    budgets: tuple[Budget, ...] = ()

    @property
    def active(self) -> bool:
        return bool(self.teams or self.budgets)


@dataclass(frozen=True)
class CompiledModel:
    """Everything an engine needs, as arrays. See the module docstring for timing."""

    name: str
    strategy: str
    scenario_hash: str
    period: str
    horizon: int
    discount_rate_annual: float
    stage_names: tuple[str, ...]
    stage_kind: np.ndarray
    segment_names: tuple[str, ...]
    segment_share: np.ndarray
    P: np.ndarray
    churn_mask: np.ndarray
    revenue_mean: np.ndarray
    revenue_cv: np.ndarray
    margin: np.ndarray
    cost_to_serve: np.ndarray
    initial: np.ndarray
    heterogeneity: tuple[Heterogeneity, ...]
    channels: tuple[Channel, ...] = ()
    referral: Referral | None = None
    programs: tuple[Program, ...] = ()
    winbacks: tuple[Winback, ...] = ()
    stage_index: dict[str, int] = field(default_factory=dict)
    operations: Operations | None = None
    intercepts: tuple[Intercept, ...] = ()
    dynamics: Dynamics | None = None

    # ------------------------------------------------------------- dynamics
    @property
    def n_regimes(self) -> int:
        """Distinct sets of (transition matrices, revenue means, margins) over the periods."""
        return 1 if self.dynamics is None else self.dynamics.n_regimes

    def regime_of(self) -> np.ndarray:
        """(H,) int64 regime of period t at index t-1 (all 0 without dynamics)."""
        if self.dynamics is None:
            return np.zeros(self.horizon, dtype=np.int64)
        return self.dynamics.regime[:self.horizon]

    def regime_arrays(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``P`` (R, G, S, S), ``revenue_mean``, ``margin``, ``churn_scale`` (R, G, S) per regime."""
        d = self.dynamics
        if d is None:
            return self.P[None], self.revenue_mean[None], self.margin[None], np.ones((1,) + self.margin.shape)
        return d.P, d.revenue_mean, d.margin, d.churn_scale

    def at_regime(self, r: int) -> "CompiledModel":
        """This model with regime ``r``'s matrices, revenue means and margins, and no dynamics."""
        from dataclasses import replace

        if self.dynamics is None:
            return self
        d = self.dynamics
        return replace(self, P=d.P[r], revenue_mean=d.revenue_mean[r], margin=d.margin[r], dynamics=None)

    def refuse_dynamics(self, what: str, engine: str = "analytic") -> None:
        """Raise :class:`~clmsim.errors.UnsupportedFeature` for ``what`` when the model has
        schedules on its dynamics (``what`` cannot be defined from one set of parameters)."""
        if self.dynamics is not None:
            from ..errors import UnsupportedFeature

            raise UnsupportedFeature(engine, f"{what} with schedules on {', '.join(self.dynamics.fields)}",
                                     "a scenario with constant transitions, revenue and margins")

    # ----------------------------------------------------------- operations
    def operational_features(self) -> list[str]:
        """Operational features in use (agent pools, budget calendars), as readable names.

        Only the des engine simulates them; empty when ``operations`` is absent or idle.
        """
        ops = self.operations
        if ops is None:
            return []
        return ([f"operations.teams.{t.name} (agent pool)" for t in ops.teams]
                + [f"operations.budgets.{b.name} (budget calendar)" for b in ops.budgets])

    def refuse_operations(self, engine: str) -> None:
        """Raise :class:`~clmsim.errors.UnsupportedFeature` if the model needs the des engine.

        Engines other than des call this first: ``model.refuse_operations("fast")``.
        """
        features = self.operational_features()
        if features:
            from ..errors import UnsupportedFeature

            raise UnsupportedFeature(engine, "operational settings " + ", ".join(features), "the des engine")

    # ------------------------------------------------------------------ sizes
    @property
    def n_stages(self) -> int:
        return len(self.stage_names)

    @property
    def n_segments(self) -> int:
        return len(self.segment_names)

    @property
    def periods_per_year(self) -> int:
        return PERIODS_PER_YEAR[self.period]

    @property
    def discount_rate(self) -> float:
        """Per-period rate ``d = (1 + D) ** (1 / periods_per_year) - 1``."""
        return (1.0 + self.discount_rate_annual) ** (1.0 / self.periods_per_year) - 1.0

    def discount_factors(self) -> np.ndarray:
        """``v[t] = (1 + d) ** -t`` for t = 0..H."""
        return (1.0 + self.discount_rate) ** -np.arange(self.horizon + 1, dtype=float)

    @property
    def active(self) -> np.ndarray:
        return self.stage_kind == ACTIVE

    # ------------------------------------------------------------ flows in
    def acquisition_spend(self) -> np.ndarray:
        """Spend per channel and period, shape (channels, H)."""
        if not self.channels:
            return np.zeros((0, self.horizon))
        return np.stack([c.spend for c in self.channels])

    def expected_acquisitions(self) -> np.ndarray:
        """Expected customers from channels, shape (channels, H)."""
        if not self.channels:
            return np.zeros((0, self.horizon))
        return np.stack([c.expected_customers(c.spend) for c in self.channels])

    # ---------------------------------------------------------- programs
    def program_factors(self, spend_per_customer: np.ndarray, segment: int = 0) -> tuple[np.ndarray, np.ndarray]:
        """Churn and upgrade multipliers of one segment for given per-customer program spends.

        Parameters
        ----------
        spend_per_customer : array (programs,)
            Spend per targeted customer in the period for each program.
        segment : int
            The segment (programs reach segments through ``target_segments``).

        Returns
        -------
        churn_factor : array (S,)
            ``prod (1 - churn_reduction_max f(s))`` over programs reaching the stage.
        upgrade_factor : array (S, S)
            ``prod (1 + upgrade_lift f(s))`` on each program's upgrade transitions.
        """
        churn, upgrade = self.segment_program_factors(spend_per_customer)
        return churn[segment], upgrade[segment]

    def segment_program_factors(self, spend_per_customer: np.ndarray,
                                hit: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """:meth:`program_factors` of every segment: arrays (G, S) and (G, S, S).

        For segment ``g`` a program with effects ``(r_g, h_g, l_g)`` (:meth:`Program.effects`)
        and spend ``s`` has ``f_g = s / (s + h_g)``; it multiplies churn of the stages it
        reaches in ``g`` by ``1 - r_g f_g`` and its upgrade moves there by ``1 + l_g f_g``.

        ``hit`` (programs,) bool: whether the customers in question lie in each program's
        risk-targeted share (:meth:`risk_hits`; ignored for programs without ``target_risk``).
        Default: in no such share -- the factors of a customer whom no risk-targeted care
        program reaches.
        """
        S, G = self.n_stages, self.n_segments
        churn = np.ones((G, S))
        upgrade = np.ones((G, S, S))
        for p, (prog, s) in enumerate(zip(self.programs, np.asarray(spend_per_customer, dtype=float))):
            if prog.risk_threshold is not None and (hit is None or not hit[p]):
                continue
            reach = prog.reach(G)
            for g, (red, half, lift) in enumerate(prog.effects(G)):
                if not reach[g].any():
                    continue
                f = s / (s + half)
                churn[g, reach[g]] *= 1.0 - red * f
                upgrade[g][prog.upgrade & reach[g][:, None]] *= 1.0 + lift * f
        return churn, upgrade

    def risk_hits(self, segment: int, draws: np.ndarray) -> np.ndarray:
        """(Q, programs) bool: whether a customer of ``segment`` with heterogeneity draw
        ``draws[q]`` lies in each program's risk-targeted share (draw above the threshold;
        True for programs without ``target_risk``), the ``hit`` of
        :meth:`segment_program_factors`."""
        thr = np.array([p.thresholds(self.n_segments)[segment] for p in self.programs], dtype=float)
        return np.asarray(draws, dtype=float).reshape(-1)[:, None] > thr[None, :]

    def risk_programs(self) -> list[int]:
        """Indices of the care programs with ``target_risk``."""
        return [p for p, prog in enumerate(self.programs) if prog.risk_threshold is not None]

    def intercept_of(self) -> np.ndarray:
        """(G, S) int: index of the save offer reaching each (segment, stage) cell, -1 for none."""
        out = np.full((self.n_segments, self.n_stages), -1, dtype=np.int64)
        for k, ic in enumerate(self.intercepts):
            out[ic.reach(self.n_segments)] = k
        return out

    def program_spend(self) -> np.ndarray:
        """Per-customer spend per program and period (uncapped), shape (programs, H)."""
        if not self.programs:
            return np.zeros((0, self.horizon))
        return np.stack([p.spend for p in self.programs])

    def transition_matrix(self, segment: int, churn_factor: np.ndarray | None = None,
                          upgrade_factor: np.ndarray | None = None, multiplier: float = 1.0,
                          theta: float | None = None) -> np.ndarray:
        """Effective one-period matrix of a segment (see :func:`effective_matrix`)."""
        S = self.n_stages
        return effective_matrix(
            self.P[segment], self.churn_mask,
            np.ones(S) if churn_factor is None else churn_factor,
            np.ones((S, S)) if upgrade_factor is None else upgrade_factor,
            multiplier, theta)


def row_parts(P: np.ndarray, churn_mask: np.ndarray, upgrade_factor: np.ndarray):
    """Split base rows as :func:`effective_matrix` does (its step 1).

    Returns ``churn`` (S, S) churn entries, ``moves`` (S, S) other moves after the
    upgrade factor (scaled to sum at most 1), ``msum`` (S,) their row sums and
    ``C`` (S,) the base churn totals.
    """
    S = P.shape[-1]
    off = ~np.eye(S, dtype=bool)
    churn = np.where(churn_mask, P, 0.0)
    moves = np.where(off & ~churn_mask, P, 0.0) * upgrade_factor
    msum = moves.sum(axis=1)
    over = msum > 1.0
    moves[over] /= msum[over, None]
    msum = np.minimum(msum, 1.0)
    return churn, moves, msum, churn.sum(axis=1)


def effective_matrix(P: np.ndarray, churn_mask: np.ndarray, churn_factor: np.ndarray,
                     upgrade_factor: np.ndarray, multiplier: float = 1.0,
                     theta: float | None = None) -> np.ndarray:
    """One-period transition matrix after program effects and heterogeneity.

    For each row ``s`` with churn entries ``c_j`` (total ``C``) and other moves ``u_j``:

    1. ``u_j <- u_j * upgrade_factor[s, j]``; if ``sum u > 1`` the moves are scaled to sum 1;
    2. target churn ``C' = churn_factor[s] * (theta if given else multiplier * C)``,
       clipped to ``[0, 1 - sum u]``; each ``c_j <- c_j C' / C`` (``theta`` splits
       like the row when ``C = 0`` is impossible: validation requires ``C > 0``);
    3. staying is ``1 - sum u - C'``.

    With all factors 1 the base matrix comes back unchanged.
    """
    P = np.asarray(P, dtype=float)
    S = P.shape[0]
    churn, moves, msum, C = row_parts(P, churn_mask, upgrade_factor)
    has_churn = churn_mask.any(axis=1)
    base_total = C if theta is None else np.where(has_churn, theta, 0.0)
    target = churn_factor * base_total * (multiplier if theta is None else 1.0)
    target = np.clip(target, 0.0, 1.0 - msum)
    scale = np.divide(target, C, out=np.zeros(S), where=C > 0)
    out = moves + churn * scale[:, None]
    out[np.arange(S), np.arange(S)] = 0.0
    out[np.arange(S), np.arange(S)] = 1.0 - out.sum(axis=1)
    return out
