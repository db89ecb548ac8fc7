"""Calibration: from a firm's own data to a runnable scenario.

* :mod:`~clmsim.calibrate.transitions` -- maximum-likelihood transition matrix of a
  stage panel, Dirichlet or bootstrap intervals, per-stage revenue;
* :mod:`~clmsim.calibrate.sbg` -- shifted-beta-geometric retention (Fader & Hardie
  2007): alpha, beta with standard errors, retention, survival, DERL;
* :mod:`~clmsim.calibrate.rfm` -- transaction log -> stages by recency/frequency/
  monetary rules -> chain -> complete scenario;
* :mod:`~clmsim.calibrate.report` -- simulated vs observed repeat purchases on a holdout;
* :mod:`~clmsim.calibrate.io` -- reading data with row-level errors, writing YAML.

Pure numpy/scipy/pandas. Bad data raises :class:`clmsim.errors.ClmsimError`.
"""

import importlib

_EXPORTS = {
    "report": ("HoldoutReport", "holdout_report", "propagate"),
    "rfm": ("RFMFit", "RFMRules", "build_stage_panel", "fit_rfm", "prepare_transactions"),
    "sbg": ("SBGFit", "cohorts_from_table", "derl", "derl_sum", "fit_sbg", "retention", "survival"),
    "transitions": ("TransitionFit", "fit_transitions", "fragment", "prepare_panel"),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}

__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    """Import a submodule when one of its names is first asked for (``clmsim fit sbg`` needs
    neither the transition fit's scipy.stats nor the RFM pipeline)."""
    module = _MODULE_OF.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{module}"), name)
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
