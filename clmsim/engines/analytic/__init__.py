"""The analytic engine: exact expectations of the Markov reward process (NumPy/SciPy).

* :mod:`.engine` -- the entry point (``simulate``, ``evaluate``, ``cohort_occupancy``):
  forward and backward recursions, CLV tables;
* :mod:`.state_space` -- the expanded state space (periods since churn, concession
  periods left);
* :mod:`.chains` -- the per-period matrices of every strategy and heterogeneity node;
* :mod:`.steady` -- infinite-horizon values and the long-run mix.

Heterogeneity draws are integrated by the Gauss rules of :mod:`clmsim.engines.het_quadrature`.
"""

from .engine import (CAPABILITIES, CLV_COLUMNS, NAME, OPTIONS, cohort_occupancy, evaluate, nodes_for, pin_options,
                     simulate)

__all__ = ["CAPABILITIES", "CLV_COLUMNS", "NAME", "OPTIONS", "cohort_occupancy", "evaluate", "nodes_for",
           "pin_options", "simulate"]
