"""The scenario language: YAML in, validated :class:`Scenario` out.

This is the only package that touches YAML or pydantic. Use :func:`load_scenario`
for files and :func:`scenario_from_text` for strings (tests, notebooks)::

    sc = load_scenario("scenarios/telecom.yaml", overrides=["time.horizon=36"])
    sc.strategy_names        # ('baseline', 'no_save_desk', ...)
    sc.spec_for("save_desk_x2").retention.programs["save_desk"].spend_per_customer
"""

from __future__ import annotations

from .core import BASELINE, Scenario, _build, dump_yaml, load_scenario, scenario_from_text
from .errors import Diagnostic, Location, ScenarioError, ScenarioWarning, strict
from .schema import SCHEMA_VERSION, ScenarioSpec, json_schema

__all__ = [
    "SCHEMA_VERSION",
    "Diagnostic",
    "Location",
    "Scenario",
    "ScenarioError",
    "ScenarioWarning",
    "strict",
    "ScenarioSpec",
    "json_schema",
    "load_scenario",
    "scenario_from_text",
    "dump_yaml",
]

from .editor import ScenarioEditor  # noqa: E402  (uses the names above)

__all__.append("ScenarioEditor")
