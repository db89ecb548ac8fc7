"""The plan of ``clmsim demo``: a YAML data file shipped with clmsim (``clmsim/data/demo.yaml``).

The demo's code (:mod:`clmsim.cli.demo`) holds no scenario specifics: which scenario, which
lever to sweep, which inputs are uncertain and how much of each step to run are data, read
and validated here (this package is the only one that reads YAML or uses pydantic). A plan
file given by the user is merged over the shipped one, so it may name only what it changes.
Problems are reported all at once as ``file:line:col: dotted.path: message``.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import Diagnostic, Location, ScenarioError, dotted
from .loader import locate, parse_yaml

SHIPPED = "demo.yaml"
"""File name of the shipped plan in the package's ``data`` directory (package data, pyproject.toml)."""


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MarginsStep(_Strict):
    strategy: str = "baseline"
    rel_step: float = Field(default=0.01, gt=0, le=0.2)


class SimulateStep(_Strict):
    runs: int = Field(default=30, ge=2, le=100_000)
    mode: str = "individual"
    cohort: int = Field(default=10_000, ge=1, le=10_000_000)
    strategies: list[str] | None = None


class SweepStep(_Strict):
    lever: str
    levels: list[float] = Field(min_length=2)


class SensitivityStep(_Strict):
    uncertain: list[str] = Field(min_length=1)
    spread: float = Field(default=0.2, gt=0, lt=1)
    samples: int = Field(default=32, ge=4, le=100_000)
    sobol_samples: int = Field(default=0, ge=0, le=100_000)


class HeadToHead(_Strict):
    title: str = Field(min_length=1)
    against: str
    strategies: list[str] = Field(min_length=1)


class DemoPlan(_Strict):
    """What ``clmsim demo`` runs (the fields are described in the shipped ``demo.yaml``)."""

    scenario: str
    out: str = "results/demo"
    seed: int = Field(default=2026, ge=0)
    baseline: str = "baseline"
    margins: MarginsStep = MarginsStep()
    head_to_head: list[HeadToHead] = []
    simulate: SimulateStep = SimulateStep()
    sweep: SweepStep
    sensitivity: SensitivityStep
    fallback_runs: int = Field(default=30, ge=2, le=100_000)


def _read(text: str, name: str) -> tuple[dict, object]:
    data, positions = parse_yaml(text, name)
    if not isinstance(data, dict):
        raise ScenarioError([Diagnostic(Location(name, 1, 1), "", "a demo plan must be a YAML mapping")])
    return data, positions


def _merge(base: dict, over: dict) -> dict:
    out = dict(base)
    for k, v in over.items():
        out[k] = _merge(base[k], v) if isinstance(v, dict) and isinstance(base.get(k), dict) else v
    return out


def load_demo_plan(path: str | Path | None = None, **changes) -> DemoPlan:
    """The shipped demo plan, with the plan file ``path`` (if given) merged over it and then
    ``changes`` (top-level fields or ``section.field`` keys, e.g. ``{"simulate.runs": 10}``).

    Raises
    ------
    ScenarioError
        With every problem, located in the file that holds it.
    """
    shipped = resources.files("clmsim").joinpath("data", SHIPPED)
    name = f"clmsim/data/{SHIPPED}"
    data, positions = _read(shipped.read_text(encoding="utf-8"), name)
    if path is not None:
        p = Path(path)
        if not p.is_file():
            raise ScenarioError([Diagnostic(Location(str(p), 1, 1), "", "demo plan file not found")])
        name = str(p)
        user, positions = _read(p.read_text(encoding="utf-8"), name)
        data = _merge(data, user)
    for key, value in changes.items():
        node = data
        *parents, last = key.split(".")
        for k in parents:
            node = node.setdefault(k, {})
        node[last] = value
    try:
        return DemoPlan.model_validate(data)
    except ValidationError as exc:
        default = Location(name, 1, 1)
        raise ScenarioError([Diagnostic(locate(positions, tuple(e["loc"]), default), dotted(e["loc"]), e["msg"])
                             for e in exc.errors()]) from None


__all__ = ["DemoPlan", "load_demo_plan"]
