"""Experiment files: a scenario, lever grids, uncertainties, replications and seed.

An experiment is YAML next to the scenarios (paths are relative to the
experiment file)::

    name: retention-budget
    scenario: ../scenarios/telecom.yaml
    overrides: {time.horizon: 36}            # dotted paths, applied to the scenario
    strategies: [baseline]                   # default: every strategy of the scenario
    levers:                                  # full-factorial grid
      retention.programs.save_desk.spend_per_customer: {from: 0, to: 40, step: 5}
      winback.policies.reactivation_offer.coverage: [0, 0.5, 1]
    lever_sampling: {method: lhs, samples: 20}   # optional: levers sampled ({low, high} or lists), no grid
    uncertainties:                           # sampled, crossed with the grid
      transitions.declining.churned: {dist: uniform, low: 0.08, high: 0.12}
      stages.loyal.revenue.mean: {dist: normal, mean: 75, sd: 5}
    sampling: {method: lhs, samples: 16}     # lhs | sobol | random
    runs: 200
    seed: 42
    engine: fast
    mode: counts
    engine_options: {het_nodes: 12}          # passed to the engine as keywords (default: automatic)

Optional sections ``sensitivity`` (Sobol/Morris/tornado settings) and
``optimize`` (levers with bounds, budget per period, objective, frontier) are
read by ``clmsim sensitivity`` and ``clmsim optimize``.

This module is the only place the experiment schema (pydantic) lives; the
analysis layer imports :func:`load_experiment` and the plain dataclasses it
returns.
"""

from __future__ import annotations

import json
import math
import types
import typing
from pathlib import Path
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..engines import ENGINE_NAMES
from . import Scenario, load_scenario
from .errors import Diagnostic, Location, ScenarioError, did_you_mean, dotted
from .loader import Positions, locate, parse_yaml, read_file
from .overrides import numeric_paths
from .uncertainty import ParameterBlock
from .validate import _value_at

EXPERIMENT_ENGINES = ENGINE_NAMES
"""Engines an experiment may name: the registry's (:data:`clmsim.engines.ENGINES`)."""
EngineName = Literal[EXPERIMENT_ENGINES]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


Finite = Annotated[float, Field(allow_inf_nan=False)]
PositiveFinite = Annotated[float, Field(gt=0, allow_inf_nan=False)]


class RangeSpec(_Strict):
    """``{from: a, to: b, step: h}``: a, a+h, ..., up to b inclusive (within 1e-9 h)."""

    start: Finite = Field(alias="from")
    to: Finite
    step: PositiveFinite

    def count(self) -> float:
        """Number of values (computed without listing them; may be huge or 0)."""
        n = math.floor((self.to - self.start) / self.step + 1e-9) + 1
        return float(n) if math.isfinite(n) else math.inf

    def values(self) -> list[float]:
        n = int(self.count())
        if n < 1:
            raise ValueError(f"empty range: from {self.start} to {self.to}")
        return [round(self.start + i * self.step, 12) for i in range(n)]


class Uniform(_Strict):
    dist: Literal["uniform"]
    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _order(self):
        if not self.low < self.high:
            raise ValueError(f"low ({self.low:g}) must be below high ({self.high:g})")
        return self


class Triangular(_Strict):
    dist: Literal["triangular"]
    low: Finite
    mode: Finite
    high: Finite

    @model_validator(mode="after")
    def _order(self):
        if not (self.low <= self.mode <= self.high and self.low < self.high):
            raise ValueError(f"need low <= mode <= high with low < high, got {self.low:g}, {self.mode:g}, "
                             f"{self.high:g}")
        return self


class Normal(_Strict):
    dist: Literal["normal"]
    mean: Finite
    sd: PositiveFinite
    low: Finite | None = None      # optional truncation
    high: Finite | None = None

    @model_validator(mode="after")
    def _order(self):
        if self.low is not None and self.high is not None and not self.low < self.high:
            raise ValueError(f"truncation low ({self.low:g}) must be below high ({self.high:g})")
        return self


class LogNormal(_Strict):
    """``median * exp(sigma Z)``."""

    dist: Literal["lognormal"]
    median: PositiveFinite
    sigma: PositiveFinite


DISTRIBUTIONS = {"uniform": Uniform, "triangular": Triangular, "normal": Normal, "lognormal": LogNormal}
UncertaintySpec = Annotated[Union[Uniform, Triangular, Normal, LogNormal], Field(discriminator="dist")]


class SamplingSpec(_Strict):
    method: Literal["lhs", "sobol", "random"] = "lhs"
    samples: int = Field(default=16, ge=1, le=100_000)


class SensitivitySpec(_Strict):
    """Settings of ``clmsim sensitivity``: indices of ``metric`` (mean over runs) of ``strategy``."""

    methods: list[Literal["sobol", "morris", "tornado"]] = ["sobol", "morris", "tornado"]
    samples: int = Field(default=256, ge=4, le=10_000_000)      # Sobol base sample N (N (2d + 2) evaluations)
    trajectories: int = Field(default=20, ge=2, le=10_000_000)  # Morris trajectories (r (d + 1) evaluations)
    levels: int = Field(default=4, ge=2, le=1000)
    strategy: str = "baseline"
    metric: str = "npv"
    engine: EngineName | None = None
    runs: int | None = Field(default=None, ge=1)


class BoundSpec(_Strict):
    low: Finite
    high: Finite

    @model_validator(mode="after")
    def _order(self):
        if not self.low <= self.high:
            raise ValueError(f"low ({self.low:g}) must not exceed high ({self.high:g})")
        return self


class OptimizeSpec(_Strict):
    """Settings of ``clmsim optimize``: maximise the objective subject to total spend per period in
    present value (acquisition + retention + win-back, docs/analysis.md) <= ``budget``."""

    levers: dict[str, BoundSpec] = Field(min_length=1)
    budget: PositiveFinite | None = None
    objective: Literal["mean", "p10"] = "mean"
    frontier: list[PositiveFinite] = Field(default=[], max_length=100)
    grid: int = Field(default=7, ge=3, le=41)
    rounds: int = Field(default=4, ge=1, le=12)
    strategy: str = "baseline"


class ExperimentSpec(_Strict):
    name: str = Field(min_length=1)
    description: str = ""
    scenario: str = Field(min_length=1)
    overrides: dict[str, Any] = {}
    strategies: list[str] | None = Field(default=None, min_length=1)
    baseline: str = "baseline"
    levers: dict[str, Union[RangeSpec, list[Finite], BoundSpec]] = {}
    lever_sampling: SamplingSpec | None = None
    uncertainties: dict[str, UncertaintySpec] = {}
    parameter_uncertainty: list[ParameterBlock] = Field(default=[], max_length=10_000)
    sampling: SamplingSpec = SamplingSpec()
    runs: int = Field(default=100, ge=1)
    seed: int = Field(ge=0, lt=2**63)
    engine: EngineName = "fast"
    mode: Literal["auto", "counts", "individual"] = "auto"
    engine_options: dict[str, Union[int, float, str, bool]] = {}
    chunk_runs: int = Field(default=250, ge=1)
    periods: bool = False
    roi_target: Finite | None = None
    sensitivity: SensitivitySpec | None = None
    optimize: OptimizeSpec | None = None


class Experiment:
    """A validated experiment with its scenario loaded.

    Attributes
    ----------
    spec : ExperimentSpec
    source : Path
        The experiment file.
    scenario : Scenario
        The scenario with ``overrides`` applied.
    text : str
        The experiment file as read.
    positions : dict
        Source location of every path of the experiment file (for messages about points).
    """

    def __init__(self, spec: ExperimentSpec, source: Path, scenario: Scenario, text: str,
                 positions: Positions | None = None):
        self.spec = spec
        self.source = source
        self.scenario = scenario
        self.text = text
        self.positions = positions or {}

    @property
    def strategies(self) -> list[str]:
        names = list(self.scenario.strategy_names) if self.spec.strategies is None else list(self.spec.strategies)
        return [self.spec.baseline] + [s for s in names if s != self.spec.baseline]

    def lever_values(self) -> dict[str, list[float]]:
        """Grid values per lever path, in file order (without ``lever_sampling``)."""
        return {p: (s.values() if isinstance(s, RangeSpec) else list(s)) for p, s in self.spec.levers.items()}

    def plain(self) -> dict:
        """The experiment as plain data (JSON-able), for manifests and hashing."""
        return json.loads(self.spec.model_dump_json(by_alias=True))

    def with_values(self, values: dict[str, float]) -> Scenario:
        """The scenario with numeric fields set (``path -> value``), validated.

        Integer fields (e.g. initial counts) receive rounded values. A point whose values
        make the scenario invalid is reported at the lines of the experiment file that
        set them (levers, uncertainties or optimize levers).
        """
        where = {}
        for p in values:
            for section in (("levers",), ("uncertainties",), ("optimize", "levers")):
                if section + (p,) in self.positions:
                    where[p] = self.positions[section + (p,)]
                    break
        return apply_values(self.scenario, values, where)


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted path of plain data (KeyError if absent)."""
    node = data
    for key in path.split("."):
        if isinstance(node, list):
            node = node[int(key)]
        else:
            node = node[key]
    return node


def apply_values(scenario: Scenario, values: dict[str, float],
                 where: dict[str, Location] | None = None) -> Scenario:
    """A new validated :class:`Scenario`: ``scenario`` with dotted-path values set.

    Values are set as given; if the scenario then fails validation and some
    targeted fields hold integers in the scenario (e.g. initial counts, window
    lengths), those are rounded to integers and validation is tried again.
    ``where`` locates each path (e.g. its line in an experiment file): problems are
    reported there, as ``setting PATH = VALUE: ...``.
    """
    from . import _build

    def build(as_int: bool) -> Scenario:
        assigns = []
        for path, v in values.items():
            if as_int:
                try:
                    base = value_at(scenario.data, path)
                except (KeyError, IndexError, ValueError, TypeError):
                    base = None
                if isinstance(base, int) and not isinstance(base, bool):
                    v = int(round(v))
            assigns.append(f"{path}={json.dumps(float(v) if not as_int else v)}")
        return _build(scenario.data, {}, scenario.source, assigns)

    try:
        return build(False)
    except ScenarioError:
        try:
            return build(True)
        except ScenarioError as exc:
            if not where:
                raise
            raise _at_levers(exc, values, where) from None


def _at_levers(exc: ScenarioError, values: dict[str, float], where: dict[str, Location]) -> ScenarioError:
    """The problems of a point re-located at the experiment lines that set its values."""
    setting = ", ".join(f"{p} = {v:g}" for p, v in values.items())
    first = next(iter(where.values()))
    out = []
    for d in exc.diagnostics:
        loc = next((where[p] for p in where if d.path == p or d.path.startswith(p + ".")
                    or p.startswith(d.path + ".")), first) if d.path else first
        msg = d.message if not d.location.hidden else "the scenario is invalid there"
        out.append(Diagnostic(loc, d.path, f"{msg} (at the point {setting})"))
    return ScenarioError(out)


_BRANCH_TAGS = {"RangeSpec", "BoundSpec", "list[float]", "list[constrained-float]", "Uniform", "Triangular", "Normal",
                "LogNormal", "uniform", "triangular", "normal", "lognormal", "int", "float", "str", "bool",
                "function-after[_order(), RangeSpec]", "function-after[_order(), Uniform]",
                "function-after[_order(), Triangular]", "function-after[_order(), Normal]",
                "function-after[_order(), BoundSpec]"}


def _model_at(path: tuple) -> type[BaseModel] | None:
    """The experiment model that holds the fields at ``path`` (for did-you-mean)."""
    model: Any = ExperimentSpec
    i = 0
    while i < len(path):
        key = path[i]
        field = model.model_fields.get(key) if model else None
        if field is None:
            field = next((f for f in model.model_fields.values() if f.alias == key), None) if model else None
        if field is None:
            return None
        ann = field.annotation
        sub = _submodel(ann)
        if sub is None and typing.get_origin(_strip(ann)) is dict:
            i += 1  # a free name (a lever path, an uncertainty path)
            sub = _submodel(typing.get_args(_strip(ann))[1])
        model = sub
        i += 1
    return model


def _strip(ann: Any) -> Any:
    while typing.get_origin(ann) in (Union, types.UnionType) and type(None) in typing.get_args(ann):
        ann = next(a for a in typing.get_args(ann) if a is not type(None))
    if typing.get_origin(ann) is Annotated:
        ann = typing.get_args(ann)[0]
    return ann


def _submodel(ann: Any) -> type[BaseModel] | None:
    ann = _strip(ann)
    if isinstance(ann, type) and issubclass(ann, BaseModel):
        return ann
    for arg in typing.get_args(ann):
        sub = _submodel(arg)
        if sub is not None:
            return sub
    return None


def _message(err: dict, path: tuple, data: Any) -> str:
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        model = _model_at(path[:-1])
        names = [f.alias or n for n, f in model.model_fields.items()] if model else []
        return f"unknown field '{path[-1]}'{did_you_mean(path[-1], names)}"
    if kind == "missing":
        return f"missing required field '{path[-1]}'"
    if kind == "union_tag_invalid":
        tag = err.get("ctx", {}).get("tag", value)
        return f"unknown distribution '{tag}'{did_you_mean(str(tag), DISTRIBUTIONS)}; choose one of " \
               f"{', '.join(DISTRIBUTIONS)}"
    if kind == "union_tag_not_found":
        return f"an uncertainty needs 'dist', one of {', '.join(DISTRIBUTIONS)}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite number, got {value}"
    message = str(err["msg"])
    if kind == "literal_error":
        return f"{message}, got {value!r}"
    if "input" in err and not isinstance(value, (dict, list)):
        message += f", got {value!r}"
    return message


def _diagnostics(exc: ValidationError, data: Any, positions, default: Location) -> list[Diagnostic]:
    """Located diagnostics of a ``ValidationError``; of a union (a lever written as a range or
    a list) only the branch matching what was written is reported."""
    errors = exc.errors(include_url=False)
    out = []
    for err in errors:
        raw = tuple(err["loc"])
        path, tag_at = [], None
        for k in raw:
            if isinstance(k, str) and (k in _BRANCH_TAGS or k.startswith(("function-", "list[", "constrained"))):
                tag_at = tag_at if tag_at is not None else (len(path), k)
                continue
            path.append(k)
        path = tuple(path)
        if tag_at is not None:
            written = _value_at(data, path[:tag_at[0]])
            branch_is_map = tag_at[1][:1].isupper() or "RangeSpec" in tag_at[1] or tag_at[1] in DISTRIBUTIONS
            if isinstance(written, dict) != branch_is_map and len(errors) > 1:
                continue
            if isinstance(written, dict) and len(errors) > 1 and _other_branch_written(tag_at[1], written):
                continue
        where = locate(positions, path, default)
        if err["type"] == "extra_forbidden" and path in positions:
            where = positions[path]
        out.append(Diagnostic(where, dotted(path), _message(err, path, data)))
    if not out:  # every error was a branch we skipped: report them all
        return _diagnostics_all(errors, positions, default, data)
    return out


_LEVER_BRANCH_FIELDS = {"RangeSpec": {"from", "to", "step"}, "BoundSpec": {"low", "high"}}


def _other_branch_written(tag: str, written: dict) -> bool:
    """A lever written as a map matches one of its two map branches (a grid range or sampling
    bounds) by the keys it uses: errors of the other branch are not reported."""
    mine = next((k for k in _LEVER_BRANCH_FIELDS if k in tag), None)
    if mine is None:
        return False
    keys = set(written)
    return not (keys & _LEVER_BRANCH_FIELDS[mine]) and any(keys & f for k, f in _LEVER_BRANCH_FIELDS.items()
                                                           if k != mine)


def _diagnostics_all(errors, positions, default, data) -> list[Diagnostic]:
    return [Diagnostic(locate(positions, tuple(e["loc"]), default), dotted(e["loc"]),
                       _message(e, tuple(e["loc"]), data)) for e in errors]


def _grid_size(spec: ExperimentSpec) -> float:
    if spec.lever_sampling is not None:
        return float(spec.lever_sampling.samples) if spec.levers else 1.0
    n = 1.0
    for s in spec.levers.values():
        n *= s.count() if isinstance(s, RangeSpec) else (len(s) if isinstance(s, list) else 1)
    return n


def load_experiment(path: str | Path) -> Experiment:
    """Read, validate and resolve an experiment file.

    Checks every field (all problems at once, each at its ``file:line:col``, with
    did-you-mean hints), that the scenario exists and validates with ``overrides``,
    that every strategy is known, that every lever and uncertainty names an existing
    numeric field of the scenario, and that the design (levers x samples) is not
    empty and within the limit of points (:mod:`clmsim.limits`). The scenario file is
    not named on the command line: problems in it are reported by location only.

    Raises
    ------
    ScenarioError
        With every problem found, located in the experiment file.
    """
    from ..limits import ALLOW_HINT, current

    path = Path(path)
    text = read_file(path, "experiment")
    data, positions = parse_yaml(text, str(path))
    default = Location(str(path), 1, 1)
    if not isinstance(data, dict):
        raise ScenarioError([Diagnostic(default, "", "not an experiment: an experiment file is a YAML mapping "
                                        "with name, scenario and seed (see experiments/)")])
    if "scenario" not in data and "schema_version" in data:
        raise ScenarioError([Diagnostic(default, "", "this is a scenario file, not an experiment: an experiment "
                                        "names its scenario with 'scenario: PATH' (see experiments/)")])
    diags: list[Diagnostic] = []
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_diagnostics(exc, data, positions, default)) from None
    here = lambda *key: locate(positions, key, default)  # noqa: E731
    limit = current().points
    for p, s in spec.levers.items():
        if spec.lever_sampling is not None:
            if isinstance(s, RangeSpec):
                diags.append(Diagnostic(here("levers", p), f"levers.{p}", "with lever_sampling a lever is sampled: "
                                        "give its range as {low: A, high: B} or a list of values to choose from"))
            elif isinstance(s, list) and not s:
                diags.append(Diagnostic(here("levers", p), f"levers.{p}", "no values"))
            continue
        if isinstance(s, BoundSpec):
            diags.append(Diagnostic(here("levers", p), f"levers.{p}", "a range {low, high} is sampled, not a grid: "
                                    "add 'lever_sampling: {method: lhs, samples: N}' or write {from, to, step}"))
            continue
        n = s.count() if isinstance(s, RangeSpec) else len(s)
        if n < 1:
            what = f"empty range: from {s.start:g} to {s.to:g} has no values" if isinstance(s, RangeSpec) \
                else "no values"
            diags.append(Diagnostic(here("levers", p), f"levers.{p}", what))
        elif n > limit:
            diags.append(Diagnostic(here("levers", p), f"levers.{p}",
                                    f"the range has {n:.3g} points, more than the limit of {limit:,} ({ALLOW_HINT}); "
                                    "use a larger step or fewer values"))
    n_points = _grid_size(spec) * (spec.sampling.samples if (spec.uncertainties or spec.parameter_uncertainty) else 1)
    if spec.levers and n_points > limit and not diags:
        diags.append(Diagnostic(here("levers"), "levers",
                                f"the design has {n_points:.3g} experiment points (grid x samples), more than the "
                                f"limit of {limit:,} ({ALLOW_HINT})"))
    scen_path = path.parent / spec.scenario
    if not scen_path.exists():
        diags.append(Diagnostic(here("scenario"), "scenario", f"scenario file not found: {scen_path}"))
        raise ScenarioError(diags)
    overrides = [f"{k}={json.dumps(v)}" for k, v in spec.overrides.items()]
    try:
        scenario = load_scenario(scen_path, overrides, hidden=True)
    except ScenarioError as exc:
        raise ScenarioError(diags + [_override_at(d, positions, default) for d in exc.diagnostics]) from None
    for key, names in ((("strategies",), spec.strategies or []), (("baseline",), [spec.baseline])):
        for s in names:
            if s not in scenario.strategy_names:
                diags.append(Diagnostic(here(*key), dotted(key),
                                        f"unknown strategy '{s}'{did_you_mean(s, scenario.strategy_names)}; "
                                        f"the scenario has {', '.join(scenario.strategy_names)}"))
    lever_keys = [("levers", p) for p in spec.levers] + [("uncertainties", p) for p in spec.uncertainties]
    if spec.optimize is not None:
        lever_keys += [("optimize", "levers", p) for p in spec.optimize.levers]
    numbers = None
    for key in lever_keys:
        p = key[-1]
        try:
            v = value_at(scenario.data, p)
        except (KeyError, IndexError, ValueError, TypeError):
            numbers = numbers if numbers is not None else numeric_paths(scenario.data)
            diags.append(Diagnostic(here(*key), dotted(key),
                                    f"'{p}' is not a field of the scenario{did_you_mean(p, numbers)} (fields must be "
                                    "written in the scenario)"))
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            diags.append(Diagnostic(here(*key), dotted(key), f"'{p}' holds {type(v).__name__}, not a number"))
    if spec.parameter_uncertainty:
        from .uncertainty import check_blocks

        diags += check_blocks(spec.parameter_uncertainty, scenario.data, positions, default, path.parent)[1]
    if spec.sensitivity is not None and not spec.uncertainties:
        diags.append(Diagnostic(here("sensitivity"), "sensitivity", "sensitivity needs 'uncertainties' to vary"))
    if diags:
        raise ScenarioError(diags)
    return Experiment(spec, path, scenario, text, positions)


def _override_at(d: Diagnostic, positions, default: Location) -> Diagnostic:
    """A scenario problem caused by an experiment override is reported at the override's line."""
    if d.location.file == "--set":
        key = d.path
        return Diagnostic(locate(positions, ("overrides", key), default), f"overrides.{key}", d.message)
    return d
