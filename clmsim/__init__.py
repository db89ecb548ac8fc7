"""clmsim: simulate customer lifecycles and evaluate acquisition, retention and win-back strategies.

The data flow is scenario -> model -> engines -> results -> metrics -> analysis -> report.
Importing clmsim has no side effects (no RNG, no warnings filters, no numba compilation).
"""

from ._version import __version__
from .model import CompiledModel, compile_model
from .scenario import Scenario, ScenarioError, load_scenario, scenario_from_text

__all__ = [
    "__version__",
    "CompiledModel",
    "Scenario",
    "ScenarioError",
    "compile_model",
    "load_scenario",
    "scenario_from_text",
]
