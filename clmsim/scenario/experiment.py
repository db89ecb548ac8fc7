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
from pathlib import Path
from typing import Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from . import Scenario, load_scenario
from .errors import Diagnostic, Location, ScenarioError, dotted
from .loader import locate, parse_yaml

EXPERIMENT_ENGINES = ("analytic", "fast", "des")
MAX_GRID = 1_000_000


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


class RangeSpec(_Strict):
    """``{from: a, to: b, step: h}``: a, a+h, ..., up to b inclusive (within 1e-9 h)."""

    start: float = Field(alias="from")
    to: float
    step: float = Field(gt=0)

    def values(self) -> list[float]:
        n = int(math.floor((self.to - self.start) / self.step + 1e-9)) + 1
        if n < 1:
            raise ValueError(f"empty range: from {self.start} to {self.to}")
        return [round(self.start + i * self.step, 12) for i in range(n)]


class Uniform(_Strict):
    dist: Literal["uniform"]
    low: float
    high: float


class Triangular(_Strict):
    dist: Literal["triangular"]
    low: float
    mode: float
    high: float


class Normal(_Strict):
    dist: Literal["normal"]
    mean: float
    sd: float = Field(gt=0)
    low: float | None = None      # optional truncation
    high: float | None = None


class LogNormal(_Strict):
    """``median * exp(sigma Z)``."""

    dist: Literal["lognormal"]
    median: float = Field(gt=0)
    sigma: float = Field(gt=0)


UncertaintySpec = Union[Uniform, Triangular, Normal, LogNormal]


class SamplingSpec(_Strict):
    method: Literal["lhs", "sobol", "random"] = "lhs"
    samples: int = Field(default=16, ge=1, le=100_000)


class SensitivitySpec(_Strict):
    """Settings of ``clmsim sensitivity``: indices of ``metric`` (mean over runs) of ``strategy``."""

    methods: list[Literal["sobol", "morris", "tornado"]] = ["sobol", "morris", "tornado"]
    samples: int = Field(default=256, ge=4)          # Sobol base sample N (N (2d + 2) evaluations)
    trajectories: int = Field(default=20, ge=2)      # Morris trajectories (r (d + 1) evaluations)
    levels: int = Field(default=4, ge=2)
    strategy: str = "baseline"
    metric: str = "npv"
    engine: Literal["analytic", "fast", "des"] | None = None
    runs: int | None = Field(default=None, ge=1)


class BoundSpec(_Strict):
    low: float
    high: float


class OptimizeSpec(_Strict):
    """Settings of ``clmsim optimize``: maximise the objective subject to total spend per period in
    present value (acquisition + retention + win-back, docs/analysis.md) <= ``budget``."""

    levers: dict[str, BoundSpec]
    budget: float | None = Field(default=None, gt=0)
    objective: Literal["mean", "p10"] = "mean"
    frontier: list[float] = []
    grid: int = Field(default=7, ge=3, le=41)
    rounds: int = Field(default=4, ge=1, le=12)
    strategy: str = "baseline"


class ExperimentSpec(_Strict):
    name: str
    description: str = ""
    scenario: str
    overrides: dict[str, Any] = {}
    strategies: list[str] | None = None
    baseline: str = "baseline"
    levers: dict[str, Union[RangeSpec, list[float]]] = {}
    uncertainties: dict[str, UncertaintySpec] = {}
    sampling: SamplingSpec = SamplingSpec()
    runs: int = Field(default=100, ge=1)
    seed: int = Field(ge=0)
    engine: Literal["analytic", "fast", "des"] = "fast"
    mode: str = "auto"
    engine_options: dict[str, Union[int, float, str, bool]] = {}
    chunk_runs: int = Field(default=250, ge=1)
    periods: bool = False
    roi_target: float | None = None
    sensitivity: SensitivitySpec | None = None
    optimize: OptimizeSpec | None = None

    @model_validator(mode="after")
    def _grid(self):
        for path, spec in self.levers.items():
            vals = spec.values() if isinstance(spec, RangeSpec) else spec
            if not vals:
                raise ValueError(f"lever '{path}' has no values")
        return self


class Experiment:
    """A validated experiment with its scenario loaded.

    Attributes
    ----------
    spec : ExperimentSpec
    source : Path
        The experiment file.
    scenario : Scenario
        The scenario with ``overrides`` applied.
    """

    def __init__(self, spec: ExperimentSpec, source: Path, scenario: Scenario, text: str):
        self.spec = spec
        self.source = source
        self.scenario = scenario
        self.text = text

    @property
    def strategies(self) -> list[str]:
        names = list(self.scenario.strategy_names) if self.spec.strategies is None else list(self.spec.strategies)
        return [self.spec.baseline] + [s for s in names if s != self.spec.baseline]

    def lever_values(self) -> dict[str, list[float]]:
        """Grid values per lever path, in file order."""
        return {p: (s.values() if isinstance(s, RangeSpec) else list(s)) for p, s in self.spec.levers.items()}

    def plain(self) -> dict:
        """The experiment as plain data (JSON-able), for manifests and hashing."""
        return json.loads(self.spec.model_dump_json(by_alias=True))

    def with_values(self, values: dict[str, float]) -> Scenario:
        """The scenario with numeric fields set (``path -> value``), validated.

        Integer fields (e.g. initial counts) receive rounded values.
        """
        return apply_values(self.scenario, values)


def value_at(data: Any, path: str) -> Any:
    """The value at a dotted path of plain data (KeyError if absent)."""
    node = data
    for key in path.split("."):
        if isinstance(node, list):
            node = node[int(key)]
        else:
            node = node[key]
    return node


def apply_values(scenario: Scenario, values: dict[str, float]) -> Scenario:
    """A new validated :class:`Scenario`: ``scenario`` with dotted-path values set.

    Values are set as given; if the scenario then fails validation and some
    targeted fields hold integers in the scenario (e.g. initial counts, window
    lengths), those are rounded to integers and validation is tried again.
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
        return build(True)


def _diagnostics(exc: ValidationError, positions, default: Location) -> list[Diagnostic]:
    out = []
    for err in exc.errors():
        loc = tuple(k for k in err["loc"] if not (isinstance(k, str) and k in (
            "RangeSpec", "list[float]", "Uniform", "Triangular", "Normal", "LogNormal")))
        out.append(Diagnostic(locate(positions, loc, default), dotted(loc), err["msg"]))
    return out


def load_experiment(path: str | Path) -> Experiment:
    """Read, validate and resolve an experiment file.

    Checks that the scenario exists and validates with ``overrides``, that every
    strategy is known, and that every lever and uncertainty names an existing
    numeric field of the scenario.

    Raises
    ------
    ScenarioError
        With every problem found, located in the experiment file.
    """
    path = Path(path)
    if not path.exists():
        raise ScenarioError([Diagnostic(Location(str(path), 1, 1), "", "experiment file not found")])
    text = path.read_text(encoding="utf-8")
    data, positions = parse_yaml(text, str(path))
    default = Location(str(path), 1, 1)
    if not isinstance(data, dict):
        raise ScenarioError([Diagnostic(default, "", "an experiment must be a YAML mapping")])
    try:
        spec = ExperimentSpec.model_validate(data)
    except ValidationError as exc:
        raise ScenarioError(_diagnostics(exc, positions, default)) from None
    scen_path = (path.parent / spec.scenario).resolve()
    if not scen_path.exists():
        raise ScenarioError([Diagnostic(locate(positions, ("scenario",), default), "scenario",
                                        f"scenario file not found: {scen_path}")])
    overrides = [f"{k}={json.dumps(v)}" for k, v in spec.overrides.items()]
    scenario = load_scenario(scen_path, overrides)
    diags = []
    for s in (spec.strategies or []) + [spec.baseline]:
        if s not in scenario.strategy_names:
            diags.append(Diagnostic(locate(positions, ("strategies",), default), "strategies",
                                    f"unknown strategy '{s}'; the scenario has {', '.join(scenario.strategy_names)}"))
    numeric_paths = [("levers", p) for p in spec.levers] + [("uncertainties", p) for p in spec.uncertainties]
    if spec.optimize is not None:
        numeric_paths += [("optimize", "levers", p) for p in spec.optimize.levers]
    for key in numeric_paths:
        p = key[-1]
        try:
            v = value_at(scenario.data, p)
        except (KeyError, IndexError, ValueError, TypeError):
            diags.append(Diagnostic(locate(positions, key, default), dotted(key),
                                    f"'{p}' is not a field of the scenario (fields must be written in the scenario)"))
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)):
            diags.append(Diagnostic(locate(positions, key, default), dotted(key),
                                    f"'{p}' holds {type(v).__name__}, not a number"))
    if spec.sensitivity is not None and not spec.uncertainties:
        diags.append(Diagnostic(locate(positions, ("sensitivity",), default), "sensitivity",
                                "sensitivity needs 'uncertainties' to vary"))
    n_grid = math.prod(len(v) for v in ({p: (s.values() if isinstance(s, RangeSpec) else s)
                                        for p, s in spec.levers.items()}).values()) if spec.levers else 1
    if n_grid * (spec.sampling.samples if spec.uncertainties else 1) > MAX_GRID:
        diags.append(Diagnostic(locate(positions, ("levers",), default), "levers",
                                f"the grid has more than {MAX_GRID:,} experiment points"))
    if diags:
        raise ScenarioError(diags)
    return Experiment(spec, path, scenario, text)
