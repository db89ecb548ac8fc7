"""The fast engine: numba Monte Carlo of many runs, per customer (individual mode) or on
stage counts (counts mode).

* :mod:`.engine` -- the entry point (``simulate``): validation, mode choice, seeds,
  outputs and their summary tables;
* :mod:`.bundle` -- a compiled model as the kernels' one argument bundle
  (:class:`KernelModel`) and their outputs (:class:`KernelOutput`);
* :mod:`.het_classes` -- the Gauss classes that stand for continuous heterogeneity in
  counts mode;
* :mod:`.kernels` -- the numba kernels (the only modules of the engine that import numba).
"""

from .bundle import FLOW_ITEMS, KernelModel, KernelOutput, clv_bins, concession_states, pack, pooled_churn
from .engine import (CAPABILITIES, MODES, NAME, OPTIONS, approximation, choose_mode, continuous_heterogeneity,
                     pin_options, simulate)

__all__ = ["CAPABILITIES", "FLOW_ITEMS", "KernelModel", "KernelOutput", "MODES", "NAME", "OPTIONS", "approximation",
           "choose_mode", "clv_bins", "concession_states", "continuous_heterogeneity", "pack", "pin_options",
           "pooled_churn", "simulate"]
