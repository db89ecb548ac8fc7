"""The scenario language: YAML in, validated :class:`Scenario` out.

This is the only package that touches YAML or pydantic. Use :func:`load_scenario`
for files and :func:`scenario_from_text` for strings (tests, notebooks)::

    sc = load_scenario("scenarios/telecom.yaml", overrides=["time.horizon=36"])
    sc.strategy_names        # ('baseline', 'no_save_desk', ...)
    sc.spec_for("save_desk_x2").retention.programs["save_desk"].spend_per_customer
"""

from __future__ import annotations

from .._lazy import lazy_exports

# Each name imports its module when first asked for: ``from clmsim.scenario import ScenarioError`` or
# ``dump_yaml`` (the CLI's error handling, ``clmsim fit``) does not build the pydantic schema.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "core": ("BASELINE", "Scenario", "_build", "load_scenario", "scenario_from_text"),
    "editor": ("ScenarioEditor",),
    "errors": ("Diagnostic", "Location", "ScenarioError", "ScenarioWarning", "strict"),
    "loader": ("dump_yaml",),
    "schema": ("SCHEMA_VERSION", "ScenarioSpec", "json_schema"),
})
