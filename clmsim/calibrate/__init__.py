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

from .report import HoldoutReport, holdout_report, propagate
from .rfm import RFMFit, RFMRules, build_stage_panel, fit_rfm, prepare_transactions
from .sbg import SBGFit, cohorts_from_table, derl, derl_sum, fit_sbg, retention, survival
from .transitions import TransitionFit, fit_transitions, fragment, prepare_panel

__all__ = [
    "HoldoutReport", "RFMFit", "RFMRules", "SBGFit", "TransitionFit", "build_stage_panel",
    "cohorts_from_table", "derl", "derl_sum", "fit_rfm", "fit_sbg", "fit_transitions", "fragment",
    "holdout_report", "prepare_panel", "prepare_transactions", "propagate", "retention", "survival",
]
