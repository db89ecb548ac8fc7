"""Figures of clmsim results: each function takes data, draws on an optional ``ax=``
and returns the matplotlib Axes (never ``plt.show()``; no pyplot state is touched).

Modules: :mod:`.occupancy` (stacked stage occupancy with bands), :mod:`.flows`
(transition heatmap, alluvial stage flows), :mod:`.clv` (CLV distribution),
:mod:`.survival` (cohort survival), :mod:`.compare` (paired differences vs baseline),
:mod:`.budget` (NPV/ROI vs budget, frontier), :mod:`.sensitivity` (tornado, Sobol, Morris),
:mod:`.surface` (two-lever heatmaps, partial dependence of sampled designs),
:mod:`.concentration` (Lorenz curve of CLV, CLV pyramid, cohort x age heatmap),
:mod:`.style` (palette, formatters, CJK fonts).
"""

from .budget import (break_even_points, budget_frontier, incremental_returns, marginal_returns, marginal_roi,
                     npv_vs_budget)
from .clv import clv_distribution, clv_summary
from .concentration import clv_pyramid, cohort_heatmap, lorenz_curve
from .compare import comparison_plot, cumulative_difference, p_best_plot, paired_differences
from .flows import cohort_flows, stage_flow, transition_heatmap
from .occupancy import occupancy_area, occupancy_panels
from .sensitivity import morris_screening, sobol_indices, tornado
from .surface import lever_heatmap, partial_dependence
from .survival import binomial_band, survival_curve

__all__ = [
    "binomial_band", "break_even_points", "budget_frontier", "clv_distribution", "clv_pyramid", "clv_summary",
    "cohort_flows", "cohort_heatmap", "lorenz_curve",
    "comparison_plot", "cumulative_difference", "incremental_returns", "lever_heatmap", "marginal_returns",
    "marginal_roi", "partial_dependence",
    "morris_screening", "npv_vs_budget", "occupancy_area", "occupancy_panels", "p_best_plot", "paired_differences",
    "sobol_indices", "stage_flow", "survival_curve", "tornado", "transition_heatmap",
]
