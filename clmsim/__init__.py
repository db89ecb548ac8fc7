"""clmsim: simulate customer lifecycles and evaluate acquisition, retention and win-back strategies.

The data flow is scenario -> model -> engines -> results -> metrics -> analysis -> report.
Importing clmsim has no side effects (no RNG, no warnings filters, no numba compilation) and
costs almost nothing: the names below are imported when first asked for, so ``clmsim --help``
or ``clmsim fit sbg`` never loads the scenario schema (pydantic) or the model compiler.
"""

from ._lazy import lazy_exports
from ._version import __version__

__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "model": ("CompiledModel", "compile_model"),
    "scenario": ("Scenario", "ScenarioError", "load_scenario", "scenario_from_text"),
}, eager=("__version__",))
