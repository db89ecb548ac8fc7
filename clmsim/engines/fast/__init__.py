"""The fast engine: numba Monte Carlo of many runs, per customer (individual mode) or on
stage counts (counts mode).

* :mod:`.engine` -- the entry point (``simulate``): validation, mode choice, seeds,
  outputs and their summary tables;
* :mod:`.het_classes` -- the Gauss classes that stand for continuous heterogeneity in
  counts mode;
* :mod:`.kernels` -- the numba kernels (the only modules of the engine that import numba).
"""

from .engine import (CAPABILITIES, FLOW_ITEMS, MODES, NAME, OPTIONS, approximation, choose_mode, clv_bins,
                     concession_states, continuous_heterogeneity, pack, pin_options, pooled_churn, simulate)

__all__ = ["CAPABILITIES", "FLOW_ITEMS", "MODES", "NAME", "OPTIONS", "approximation", "choose_mode", "clv_bins", "concession_states",
           "continuous_heterogeneity", "pack", "pin_options", "pooled_churn", "simulate"]
