"""Strategy evaluation on top of the engines: paired comparisons, sweeps,
sensitivity, budget optimisation and robustness, on any execution backend.

Everything runs on common random numbers (one seed for every strategy and grid
point) and in reproducible chunks of runs, so results are bit-identical for any
backend and worker count. See docs/analysis.md.
"""

from .compare import Comparison, compare

__all__ = ["Comparison", "compare"]
