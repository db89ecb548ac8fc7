"""Cohort x age tables of the analytic engine: survival and revenue of each acquisition cohort.

Cohort ``c`` (c = 1..H) is the customers the channels and referrals bring in during period ``c``;
they join at its end (:data:`clmsim.model.CONVENTION`), at age 0. Their expected entry mix over
the expanded states (segment, heterogeneity node, entry stage) is the engine's arrival vector
``a_c``; normalised to one customer, ``y_{c,0} = a_c / |a_c|`` moves on with the matrices of
the periods it lives through, ``y_{c,a} = y_{c,a-1} M_{c+a}``, so a cohort that meets a later
programme schedule or win-back policy ages differently from an earlier one. Per cohort and age
``a = 0..H-c``:

* ``survival``: ``P(in an active stage at the end of period c+a)`` (customers won back count
  again; a cohort entering a prospect stage starts below 1);
* ``revenue``: expected revenue at list price in period ``c+a`` per customer of the cohort
  (``a >= 1``; NaN at age 0, the period of joining earns nothing).

Exact expectations, like the rest of the engine (heterogeneity integrated by the same quadrature).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ...model import CompiledModel
from .chains import build_chains
from .engine import _forward, nodes_for

COHORT_COLUMNS = ("strategy", "cohort", "age", "customers", "survival", "revenue")
"""Columns of :func:`cohort_table`: ``customers`` is the cohort's expected size."""


def cohort_table(model: CompiledModel, nodes: int | None = None) -> pd.DataFrame:
    """Expected survival and revenue per customer of every acquisition cohort at every age.

    Parameters
    ----------
    model : CompiledModel
    nodes : int, optional
        Quadrature nodes per piece (default as :func:`clmsim.engines.analytic.engine.nodes_for`).

    Returns
    -------
    DataFrame
        :data:`COHORT_COLUMNS`, one row per cohort ``c`` with expected size above 0 and age
        ``0..H-c`` (see the module docstring). Empty when nobody is acquired.

    Raises
    ------
    UnsupportedFeature
        For the features the analytic engine refuses (budget caps, win-back capacities).
    """
    ch = build_chains(model, nodes_for(model, nodes))
    H = model.horizon
    arrivals = _forward(ch)["arrivals"]                     # (H, G, Q, E), joined at the end of period t
    size = arrivals.sum(axis=(1, 2, 3))
    live = np.flatnonzero(size > 0)
    if not len(live):
        return pd.DataFrame(columns=list(COHORT_COLUMNS))
    Y = arrivals[live] / size[live, None, None, None]      # one customer per cohort
    cohorts = live + 1
    active = ch.active.astype(float)
    rev = ch.revenue[:, :, None, :]                        # (R, G, 1, E)
    surv = np.full((len(live), H + 1), np.nan)
    revenue = np.full((len(live), H + 1), np.nan)
    surv[:, 0] = (Y * active).sum(axis=(1, 2, 3))
    for t in range(1, H + 1):
        on = cohorts < t                                   # cohorts alive in period t
        if not on.any():
            continue
        Y[on] = (Y[on][..., None, :] @ ch.M[ch.regime[t - 1]])[..., 0, :]
        age = t - cohorts[on]
        surv[on, age] = (Y[on] * active).sum(axis=(1, 2, 3))
        revenue[on, age] = (Y[on] * rev[ch.regime[t - 1]]).sum(axis=(1, 2, 3))
    rows = [(model.strategy, int(c), a, float(size[c - 1]), surv[k, a], revenue[k, a])
            for k, c in enumerate(cohorts) for a in range(H - c + 1)]
    return pd.DataFrame(rows, columns=list(COHORT_COLUMNS))
