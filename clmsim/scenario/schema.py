"""Pydantic v2 models of the scenario language (schema version 1).

This module is the single definition of what a scenario may say. Field-level
constraints (types, ranges) live here; cross-field rules (stage references,
row sums, kinds) live in :mod:`clmsim.scenario.semantic`, which runs after
these models parse. Every model forbids unknown keys so a misspelling is an
error, never a silently ignored field.

Units: every rate, spend and count is *per period* unless its name says
otherwise (``discount_rate`` is per **year**). Money is in the scenario's
currency, unnamed.
"""

from __future__ import annotations

from typing import Annotated, Literal, Union

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from .uncertainty import ParameterBlock

SCHEMA_VERSION = 1
MAX_HORIZON = 10_000
"""Longest horizon in periods (200 years of weeks): engines allocate arrays over periods."""
MAX_COUNT = 10**12
"""Largest customer count in an initial population, and largest expected number of customers a
channel acquires per period (engines count customers in int64 and sum money over them in float64)."""
MAX_NUMBER = 1e15
"""Largest amount of money, rate or parameter in a scenario: a sum over up to ``MAX_COUNT``
customers and ``MAX_HORIZON`` periods then stays far inside float64 and its exact integers."""


def _not_bool(value):
    """Refuse ``true``/``false`` where a number is expected (pydantic would read them as 1/0)."""
    if isinstance(value, bool):
        raise ValueError(f"expected a number, got {str(value).lower()}")
    return value


_NUM = BeforeValidator(_not_bool)
NonNeg = Annotated[float, Field(ge=0, le=MAX_NUMBER, allow_inf_nan=False), _NUM]
Positive = Annotated[float, Field(gt=0, le=MAX_NUMBER, allow_inf_nan=False), _NUM]
Prob = Annotated[float, Field(ge=0, le=1, allow_inf_nan=False), _NUM]
PosInt = Annotated[int, Field(gt=0), _NUM]
NonNegInt = Annotated[int, Field(ge=0), _NUM]
Count = Annotated[int, Field(ge=0, le=MAX_COUNT), _NUM]
Name = Annotated[str, Field(min_length=1, pattern=r"^[^.=\s][^.=]*$")]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=False)


# --------------------------------------------------------------------- schedules
class RampSpec(_Model):
    """Linear ramp: ``start`` in period 1 to ``end`` in period ``periods``, then ``end``."""

    start: NonNeg
    end: NonNeg
    periods: PosInt


class ScheduleSpec(_Model):
    """A value that varies over periods.

    Either ``values`` (one number per period, from period 1) with ``then``
    deciding what follows the list (``hold`` the last value, ``repeat`` the list
    cyclically -- a campaign calendar --, or ``zero``), or a ``ramp``.
    """

    values: list[NonNeg] | None = Field(default=None, min_length=1)
    then: Literal["hold", "repeat", "zero"] = "hold"
    ramp: RampSpec | None = None


Schedule = Union[NonNeg, ScheduleSpec]
"""A non-negative number (constant every period) or a :class:`ScheduleSpec`."""


class SeasonalitySpec(_Model):
    """A cycle of ``period`` multipliers (exactly ``period`` of them, each >= 0); ``phase``
    is the (1-based) index of the multiplier that applies in period 1."""

    period: Annotated[int, Field(gt=0, le=MAX_HORIZON), _NUM]
    multipliers: list[NonNeg] = Field(min_length=1)
    phase: PosInt = 1


class SeasonalSpec(_Model):
    """A seasonal value: ``base * multipliers[(t - 1 + phase - 1) mod period]`` in period t."""

    base: NonNeg
    seasonality: SeasonalitySpec


DynamicProb = Union[Prob, ScheduleSpec, SeasonalSpec]
"""A probability (or margin) that may vary over periods: a number in [0, 1], a
:class:`ScheduleSpec` or a :class:`SeasonalSpec` (every period's value is checked to lie in
[0, 1] by the semantic layer)."""
DynamicAmount = Union[NonNeg, ScheduleSpec, SeasonalSpec]
"""An amount (a revenue mean) that may vary over periods."""


# --------------------------------------------------------------------------- time
class TimeSpec(_Model):
    """Clock of the model.

    ``discount_rate`` is an effective **annual** rate ``D``; the per-period rate
    is ``d = (1 + D) ** (1 / periods_per_year) - 1`` with 52, 12, 4 or 1 periods
    per year. Cash of period ``t`` (t = 1..horizon) is discounted by
    ``(1 + d) ** -t`` (end-of-period timing).
    """

    period: Literal["week", "month", "quarter", "year"] = "month"
    horizon: Annotated[int, Field(gt=0, le=MAX_HORIZON), _NUM]
    discount_rate: Annotated[float, Field(ge=0, le=10, allow_inf_nan=False), _NUM] = 0.0


# ------------------------------------------------------------------------- stages
class RevenueSpec(_Model):
    """Revenue per customer per period: gamma distributed with ``mean`` and ``cv``
    (coefficient of variation, sd/mean); ``cv: 0`` means a fixed amount."""

    mean: DynamicAmount
    cv: NonNeg = 0.0


class StageSpec(_Model):
    """A lifecycle stage. Economics apply to ``active`` stages only."""

    kind: Literal["prospect", "active", "churned", "lost"]
    description: str | None = None
    revenue: RevenueSpec | DynamicAmount | None = None
    margin: DynamicProb | None = None
    cost_to_serve: NonNeg | None = None


class StageEconomicsOverride(_Model):
    """Per-segment override of a stage's economics (the kind cannot change)."""

    revenue: RevenueSpec | DynamicAmount | None = None
    margin: DynamicProb | None = None
    cost_to_serve: NonNeg | None = None


# ------------------------------------------------------------------ heterogeneity
class GammaMultiplier(_Model):
    """Per-customer multiplier ``m ~ Gamma`` with the given mean and cv on every
    churn transition (active -> churned/lost)."""

    dist: Literal["gamma"]
    mean: Positive = 1.0
    cv: Positive


class BetaChurn(_Model):
    """Per-customer per-period churn probability ``theta ~ Beta(alpha, beta)``
    replacing each active stage's total churn probability (shifted-beta-geometric)."""

    dist: Literal["beta"]
    alpha: Positive
    beta: Positive


class HeterogeneitySpec(_Model):
    """At most one of the two forms of customer heterogeneity."""

    churn_multiplier: GammaMultiplier | None = None
    churn_probability: BetaChurn | None = None


# ----------------------------------------------------------------------- segments
class SegmentSpec(_Model):
    """A named sub-population with its own share of acquisitions, transition
    overrides (merged entry by entry into the scenario's rows), economics and
    heterogeneity."""

    share: Prob
    description: str | None = None
    transitions: dict[str, dict[str, DynamicProb]] = Field(default_factory=dict)
    stages: dict[str, StageEconomicsOverride] = Field(default_factory=dict)
    heterogeneity: HeterogeneitySpec | None = None
    initial_population: dict[str, Count] | None = None


# -------------------------------------------------------------------- acquisition
class LinearResponse(_Model):
    """``customers = spend / cost_per_customer``."""

    type: Literal["linear"]
    cost_per_customer: Positive


class SaturatingResponse(_Model):
    """``customers = max_customers * spend / (spend + half_saturation_spend)``."""

    type: Literal["saturating"]
    max_customers: NonNeg
    half_saturation_spend: Positive


Response = Annotated[Union[LinearResponse, SaturatingResponse], Field(discriminator="type")]


class ChannelSpec(_Model):
    """An acquisition channel: spend per period buys expected customers through
    ``response``; they join ``entry_stage`` at the end of the period."""

    spend_per_period: Schedule
    response: Response
    entry_stage: str
    segment_mix: dict[str, Prob] | None = None


class ReferralSpec(_Model):
    """Referrals: ``from[stage]`` new customers per customer of that stage per period."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    from_: dict[str, NonNeg] = Field(alias="from")
    entry_stage: str
    segment_mix: dict[str, Prob] | None = None


class AcquisitionSpec(_Model):
    channels: dict[Name, ChannelSpec] = Field(default_factory=dict)
    referrals: ReferralSpec | None = None


# ---------------------------------------------------------------------- retention
class ProgramEffect(_Model):
    """Saturating effect of spend ``s`` per targeted customer per period:
    churn transitions x ``1 - churn_reduction_max * s / (s + half_saturation_spend)``,
    upgrade transitions x ``1 + upgrade_lift * s / (s + half_saturation_spend)``."""

    churn_reduction_max: Prob = 0.0
    half_saturation_spend: Positive
    upgrade_lift: NonNeg = 0.0
    upgrade_to: list[str] | None = None


class ConcessionSpec(_Model):
    """Price concession after a return: revenue x ``(1 - discount)`` for ``periods`` periods,
    granted to returning customers of ``target_segments`` (default: every segment)."""

    discount: Prob = 0.0
    periods: NonNegInt = 0
    target_segments: list[str] | None = Field(default=None, min_length=1)


class SegmentProgramEffect(_Model):
    """Per-segment override of a program's effect: the fields given replace the program's
    ``effect`` for the customers of that segment (``upgrade_to`` stays the program's)."""

    churn_reduction_max: Prob | None = None
    half_saturation_spend: Positive | None = None
    upgrade_lift: NonNeg | None = None


class RiskTargetSpec(_Model):
    """Aim at the customers most likely to leave: the ``top_share`` of each targeted segment
    with the highest churn propensity under the segment's heterogeneity draw."""

    top_share: Annotated[float, Field(gt=0, le=1, allow_inf_nan=False), _NUM]


class ProgramSpec(_Model):
    """A retention program reaching the customers of its target stages (in its target segments).

    ``kind: care`` (default) spends ``spend_per_customer`` on every customer it reaches and
    lowers their churn. ``kind: intercept`` is a save offer: it pays ``spend_per_customer``
    per customer who *attempts* to churn in the period, and saves them with probability
    ``churn_reduction_max * s / (s + half_saturation_spend)``, sending them to ``save_to``
    (default: the stage they tried to leave) with an optional ``concession``.
    """

    kind: Literal["care", "intercept"] = "care"
    target: list[str] = Field(min_length=1)
    target_segments: list[str] | None = Field(default=None, min_length=1)
    spend_per_customer: Schedule
    effect: ProgramEffect
    effect_by_segment: dict[str, SegmentProgramEffect] = Field(default_factory=dict)
    budget_cap_per_period: Schedule | None = None
    save_to: str | None = None
    concession: ConcessionSpec | None = None
    target_risk: RiskTargetSpec | None = None


class RetentionSpec(_Model):
    programs: dict[Name, ProgramSpec] = Field(default_factory=dict)


# ------------------------------------------------------------------------ winback
class SuccessSpec(_Model):
    """Success probability of a contact ``k`` whole periods after churn:
    ``p(k) = base * decay ** k``."""

    base: Prob
    decay: Prob = 1.0


class WinbackPolicySpec(_Model):
    """Contacts churned customers of ``target_segments`` (default: every segment) whose time
    since churn ``k`` (whole periods) is in ``[eligible_after, eligible_after + window)``;
    ``success_by_segment`` replaces ``success`` for the customers of a segment."""

    from_stages: list[str] | None = None
    target_segments: list[str] | None = Field(default=None, min_length=1)
    eligible_after: NonNegInt = 0
    window: PosInt
    coverage: Schedule
    contact_cost: NonNeg = 0.0
    success: SuccessSpec
    success_by_segment: dict[str, SuccessSpec] = Field(default_factory=dict)
    return_stage: str
    concession: ConcessionSpec = Field(default_factory=ConcessionSpec)
    capacity_per_period: Schedule | None = None


class WinbackSpec(_Model):
    policies: dict[Name, WinbackPolicySpec] = Field(default_factory=dict)


# --------------------------------------------------------------------- operations
class ServiceTimeSpec(_Model):
    """Handling time of one contact in **days**: gamma with ``mean`` and ``cv``
    (``cv: 1`` is exponential, ``cv: 0`` a fixed time)."""

    mean: NonNeg
    cv: NonNeg = 1.0


class TeamSpec(_Model):
    """An agent pool (des engine only) serving one win-back policy or retention program.

    Win-back: each period, eligible churned customers picked by ``coverage`` queue
    for an agent; a customer whose eligibility expires while waiting (window over,
    or drifted to a lost stage) leaves the queue (reneges). Retention: customers in
    the program's target stages at the start of a period queue for a care contact
    that must land before their next move. ``arrivals``: ``spread`` = requests arrive
    at uniform times over the period, ``start`` = all at the start of the period.
    ``discipline``: ``fifo`` or ``recent_first`` (most recent churners first).
    ``response_delay_days``: days from the end of a contact to its effect.
    """

    serves: Name
    agents: PosInt
    service_days: ServiceTimeSpec
    discipline: Literal["fifo", "recent_first"] = "fifo"
    arrivals: Literal["spread", "start"] = "spread"
    response_delay_days: NonNeg = 0.0


class BudgetSpec(_Model):
    """A budget (des engine only): a pot of ``amount`` refilled on a calendar
    (``period``: every period, or ``monthly`` / ``quarterly`` / ``yearly`` in days of
    the calendar) and drained by the spend of the programs and win-back policies
    it ``serves``. ``carry_over: false`` tops the pot up to ``amount`` at each refill
    (unspent money lapses); ``true`` adds ``amount``."""

    serves: list[Name] = Field(min_length=1)
    amount: NonNeg
    refill: Literal["period", "monthly", "quarterly", "yearly"] = "period"
    carry_over: bool = False


class OperationsSpec(_Model):
    """Operational settings (des engine only): agent pools, budget calendars,
    response delays. ``days_per_period`` converts days to periods (default:
    7 per week, 365.25/12 per month, 365.25/4 per quarter, 365.25 per year)."""

    days_per_period: Positive | None = None
    teams: dict[Name, TeamSpec] = Field(default_factory=dict)
    budgets: dict[Name, BudgetSpec] = Field(default_factory=dict)


# ----------------------------------------------------------------------- scenario
class ScenarioSpec(_Model):
    """A whole scenario, after ``extends`` has been merged."""

    schema_version: Annotated[Literal[1], Field(), _NUM]
    name: str = Field(min_length=1)
    description: str | None = None
    time: TimeSpec
    stages: dict[Name, StageSpec] = Field(min_length=1)
    transitions: dict[str, dict[str, DynamicProb]] = Field(default_factory=dict)
    heterogeneity: HeterogeneitySpec | None = None
    segments: dict[Name, SegmentSpec] | None = None
    initial_population: dict[str, Count] = Field(default_factory=dict)
    acquisition: AcquisitionSpec = Field(default_factory=AcquisitionSpec)
    retention: RetentionSpec = Field(default_factory=RetentionSpec)
    winback: WinbackSpec = Field(default_factory=WinbackSpec)
    operations: OperationsSpec | None = None
    strategies: dict[Name, dict[str, object]] = Field(default_factory=dict)
    parameter_uncertainty: list[ParameterBlock] | None = Field(default=None, max_length=10_000)


def json_schema() -> dict:
    """JSON Schema of a scenario file (``extends`` included), for editors."""
    schema = ScenarioSpec.model_json_schema(by_alias=True)
    schema["properties"]["extends"] = {
        "type": "string",
        "description": "Path of a base scenario, relative to this file, deep-merged under this one.",
    }
    # a file that extends another may leave required fields to its base: clmsim checks the merge
    required = schema.pop("required", [])
    schema["if"] = {"required": ["extends"]}
    schema["else"] = {"required": required}
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "clmsim scenario"
    return schema
