"""Calibration: from a firm's own data to a runnable scenario.

* :mod:`~clmsim.calibrate.transitions` -- maximum-likelihood transition matrix of a
  stage panel, Dirichlet or bootstrap intervals, per-stage revenue;
* :mod:`~clmsim.calibrate.sbg` -- shifted-beta-geometric retention (Fader & Hardie
  2007): alpha, beta with standard errors, retention, survival, DERL;
* :mod:`~clmsim.calibrate.stages` -- transaction log -> lifecycle stages by recency/frequency/
  monetary rules (the stage panel);
* :mod:`~clmsim.calibrate.rfm` -- stages -> rules chosen on the calibration window -> latent
  classes or one chain -> complete scenario, with a holdout report;
* :mod:`~clmsim.calibrate.classes` -- latent classes of chains with dropout from churned (EM), as
  scenario segments (``fit_rfm``'s default, as many as the BIC supports; ``classes=K``);
* :mod:`~clmsim.calibrate.report` -- simulated vs observed repeat purchases on a holdout;
* :mod:`~clmsim.calibrate.io` -- reading data with row-level errors, writing YAML.

Pure numpy/scipy/pandas. Bad data raises :class:`clmsim.errors.ClmsimError`.
"""

from .._lazy import lazy_exports

# ``clmsim fit sbg`` needs neither the transition fit's scipy.stats nor the RFM pipeline: each name
# imports its module when first asked for.
__getattr__, __dir__, __all__ = lazy_exports(__name__, {
    "classes": ("ClassFit", "fit_classes"),
    "report": ("HoldoutReport", "holdout_report", "propagate"),
    "rfm": ("RFMFit", "fit_rfm"),
    "stages": ("RFMRules", "build_stage_panel", "prepare_transactions"),
    "sbg": ("SBGFit", "cohorts_from_table", "derl", "derl_sum", "fit_sbg", "retention", "survival"),
    "transitions": ("TransitionFit", "fit_transitions", "fragment", "prepare_panel"),
})
