"""Strategy evaluation on top of the engines: paired comparisons, marginal returns,
sweeps, sensitivity, budget optimisation and robustness, on any execution backend.

Everything runs on common random numbers (one seed for every strategy and grid
point) and in reproducible chunks of runs, so results are bit-identical for any
backend and worker count. See docs/analysis.md.

>>> from clmsim.analysis import compare
>>> c = compare("scenarios/telecom.yaml", runs=200, seed=1)      # doctest: +SKIP
>>> c.table()                                                     # doctest: +SKIP
"""

from .backends import Backend, make_backend
from .compare import Comparison, compare
from .experiment import design, load_experiment
from .margins import Margins, margins
from .optimize import Optimum, frontier, optimize
from .robustness import robustness
from .sensitivity import Ranking, Sensitivity, morris_indices, ranking, sensitivity, sobol_indices, tornado
from .sweep import Sweep, read_sweep, sweep

__all__ = [
    "Backend", "Comparison", "Margins", "Optimum", "Ranking", "Sensitivity", "Sweep", "compare", "design",
    "frontier", "load_experiment", "make_backend", "margins", "morris_indices", "optimize", "ranking",
    "read_sweep", "robustness", "sensitivity", "sobol_indices", "sweep", "tornado",
]
