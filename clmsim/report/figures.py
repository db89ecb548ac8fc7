"""The report's figures: each builder draws one plot from :mod:`clmsim.plots` on a
fresh Figure and returns a :class:`~clmsim.report.html.ReportFigure` with its
"how to read this" text and the data behind it (written as CSV beside the PNG).
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import plots
from ..model import ACTIVE, CHURNED, LOST, PROSPECT, CompiledModel
from ..plots.style import stage_colors, style_context
from .html import ReportFigure


def _fig(w: float = 8.0, h: float = 4.5, labels: Sequence[str] = ()) -> tuple[Figure, object]:
    with style_context(labels):
        fig = Figure(figsize=(w, h), layout="constrained")
        return fig, fig.add_subplot()


KIND_NAMES = {PROSPECT: "prospect", ACTIVE: "active", CHURNED: "churned", LOST: "lost"}


def model_colors(model: CompiledModel | None) -> dict[str, str] | None:
    """Stage colours shared by every figure of a report (see :func:`clmsim.plots.style.stage_colors`)."""
    if model is None:
        return None
    return stage_colors(model.stage_names, [KIND_NAMES[int(k)] for k in model.stage_kind])


def active_stages(model: CompiledModel) -> list[str]:
    """Names of the active stages, in file order."""
    return [n for n, k in zip(model.stage_names, model.stage_kind) if k == ACTIVE]


def occupancy_figure(results, strategies: Sequence[str], stages: Sequence[str] | None = None,
                     colors: dict[str, str] | None = None) -> ReportFigure:
    """Stacked occupancy panels for ``strategies``."""
    strategies = list(strategies)
    ncols = 1 if len(strategies) == 1 else (2 if len(strategies) in (2, 4) else 3)
    nrows = -(-len(strategies) // ncols)
    with style_context([*strategies, *(stages or [])]):  # one panel: room for the legend beside it
        fig = Figure(figsize=(max(3.9 * ncols + 1.4, 7.5), 2.9 * nrows + 0.6 + (0.6 if ncols == 1 else 0)),
                     layout="constrained")
    plots.occupancy_panels(results, strategies, stages=stages, ncols=ncols, fig=fig, colors=colors)
    p = results.periods
    data = p[p["strategy"].isin(strategies) & p["item"].str.startswith("stage:")]
    mc = plots.occupancy.has_band(data)
    return ReportFigure(
        "occupancy", "Customers by stage over time",
        "Each panel stacks the expected number of customers in each active stage at the end of every "
        "period, for one strategy; the total height is the active base. "
        + ("The thin dark bands show each stage's 5-95% range across the simulated runs, drawn at the upper "
           "edge of that stage. " if mc else "")
        + "Compare panels to see which stages a strategy grows or drains.", fig, data)


def comparison_figure(diffs: pd.DataFrame, baseline: str = "baseline", n_runs: int = 0) -> ReportFigure:
    """Paired NPV differences vs the baseline."""
    fig, ax = _fig(8.0, 1.2 + 0.6 * len(diffs), diffs["strategy"].astype(str))
    plots.comparison_plot(diffs, ax=ax, baseline=baseline)
    exact = diffs["lo"].isna().all()
    how = ("Each point is a strategy's NPV minus the baseline's NPV; right of the dashed line the strategy "
           "earns more. ")
    how += ("Values are exact expectations (analytic engine), so there are no intervals." if exact else
            f"Bars are 95% intervals of the paired difference over {n_runs} runs that share their random "
            "inputs (common random numbers), so they reflect the strategy, not luck. A bar that crosses "
            "the dashed line means the data cannot tell the strategy apart from the baseline.")
    return ReportFigure("compare_npv", f"NPV versus {baseline}", how, fig, diffs)


def cumulative_figure(results, baseline: str = "baseline") -> ReportFigure:
    """Cumulative discounted net cash of each strategy minus the baseline."""
    fig, ax = _fig(8.5, 4.4, results.strategies)
    plots.cumulative_difference(results, baseline=baseline, ax=ax)
    p = results.periods
    p = p[p["item"] == "discounted_net_cash"].pivot_table(index="period", columns="strategy", values="mean",
                                                           aggfunc="first").sort_index().cumsum()
    data = p.sub(p[baseline], axis=0).drop(columns=[baseline]).reset_index()
    return ReportFigure(
        "cumulative", "When the difference accrues",
        f"Running total of each strategy's discounted net cash minus the {baseline}'s (expected values), "
        "period by period. The end of each line is the NPV difference of the table above. A line that dips "
        "first and rises later is an investment that pays back where it crosses the dashed zero line; a line "
        "that starts up and keeps falling gains early and loses later.", fig, data)


def clv_figure(results, strategies: Sequence[str], cohort: str = "acquired", exact: float | None = None) -> ReportFigure:
    """CLV distribution of acquired (or initial) customers, or of run means (``exact``: the exact
    expectation reported elsewhere, which the simulated mean estimates)."""
    sm = [plots.clv_summary(results, s, cohort=cohort) for s in strategies]
    fig, ax = _fig(8.0, 4.3, strategies)
    plots.clv_distribution(results, list(strategies), ax=ax, cohort=cohort)
    data = pd.concat([pd.DataFrame({"strategy": s.strategy, "lo": s.edges[:-1], "hi": s.edges[1:],
                                    "share": s.share}) for s in sm], ignore_index=True)
    if sm[0].source == "clv_hist":
        who = ("customers acquired during the horizon" if cohort == "acquired"
               else "customers present at the start")
        how = ("The histogram shows how the lifetime value (discounted contribution minus retention and "
               "win-back spend, up to the horizon, without acquisition cost) spreads over the "
               f"{who}. The solid line is the mean; the shaded band holds the middle "
               "90% of customers. Many customers are worth little and a few are worth a lot: plan on the mean, "
               "not on a typical customer.")
    else:
        how = ("The histogram shows the mean CLV of acquired customers in each simulated run; the solid line "
               "is the overall mean and the shaded band its 95% interval.")
    if exact is not None:
        from ..decision import money as _money

        how += (f" The solid line is the mean of the simulated customers: a Monte Carlo estimate of the exact CLV "
                f"per acquired customer in the headline numbers ({_money(exact)}), shown to place the spread, not "
                "as a second answer.")
    return ReportFigure("clv", f"CLV of {'acquired' if cohort == 'acquired' else 'initial'} customers", how,
                        fig, data)


def baseline_matrix(model: CompiledModel, segment: int = 0) -> np.ndarray:
    """Effective one-period matrix of a segment with programs at their first-period spend
    and the average heterogeneity multiplier (1)."""
    churn, up = model.program_factors(model.program_spend()[:, 0], segment) if model.programs else (None, None)
    return model.transition_matrix(segment, churn, up)


def used_stages(model: CompiledModel) -> np.ndarray:
    """Indices of the stages worth showing: all but prospect stages that nobody starts in
    and no channel fills (an unused prospect stage is only an empty row and column)."""
    entries = {c.entry_stage for c in model.channels}
    keep = [s for s in range(model.n_stages)
            if not (model.stage_kind[s] == PROSPECT and model.initial[:, s].sum() == 0 and s not in entries)]
    return np.asarray(keep, dtype=int)


def heatmap_figure(model: CompiledModel) -> ReportFigure:
    """Transition heatmap (unused prospect stages left out); with segments one panel per
    segment, each titled with the segment and its share -- never one segment for all."""
    keep = used_stages(model)
    names = [model.stage_names[s] for s in keep]
    G = model.n_segments
    mats = [baseline_matrix(model, g)[np.ix_(keep, keep)] for g in range(G)]
    ncol = min(G, 2)
    nrow = -(-G // ncol)
    with style_context([*names, *model.segment_names]):
        fig = Figure(figsize=(ncol * (1.6 + 0.8 * len(names)), nrow * (0.8 + 0.7 * len(names))),
                     layout="constrained")
        axes = [fig.add_subplot(nrow, ncol, g + 1) for g in range(G)]
    for g, (ax, P) in enumerate(zip(axes, mats)):
        title = None if G == 1 else (f"segment {model.segment_names[g]} "
                                     f"(share {model.segment_share[g]:.0%})")
        plots.transition_heatmap(P, names, ax=ax, unit=model.period, title=title)
    frames = [pd.DataFrame(P, index=pd.Index(names, name="from"), columns=names).reset_index() for P in mats]
    data = pd.concat([f.assign(segment=g) for f, g in zip(frames, model.segment_names)], ignore_index=True) \
        if G > 1 else frames[0]
    per = "Monthly moves between stages" if model.period == "month" else f"Moves between stages per {model.period}"
    how = (f"Row = where a customer is, column = where they are one {model.period} later; each row sums to "
           "100%. Retention programs are applied at their spend as written, for an average customer "
           "(heterogeneity multiplier 1); win-back returns from the churned stage are not shown here.")
    if G > 1:
        per += ", per segment"
        how = (f"One panel per segment: the scenario's {G} segments move differently (share = the segment's "
               "share of customers, as the scenario sets it). " + how)
    return ReportFigure("transitions", per, how, fig, data)


def flows_figure(model: CompiledModel, cohort: float = 10_000, every: int | None = None) -> ReportFigure:
    """Alluvial diagram of a cohort entering the first channel's entry stage. With segments the
    cohort is split over them by that channel's segment mix (the segment shares without channels),
    each part flows through its own segment's matrix and the flows are added: the
    population-weighted view of new customers, labelled so."""
    names = list(model.stage_names)
    entry = entry_stage(model)
    every = every or (12 if model.period == "month" else max(1, model.horizon // 5))
    steps = [every] * max(1, min(5, model.horizon // every))
    mix = np.asarray(next((c.mix for c in model.channels), model.segment_share), dtype=float)
    mix = mix / mix.sum() if mix.sum() > 0 else np.asarray(model.segment_share, dtype=float)
    F = None
    for g in range(model.n_segments):
        x0 = np.zeros(model.n_stages)
        x0[entry] = cohort * mix[g]
        Fg = plots.cohort_flows(x0, baseline_matrix(model, g), steps)
        F = Fg if F is None else [a + b for a, b in zip(F, Fg)]
    unit = model.period
    labels = ["joined"] + [f"{every * (k + 1)} {unit}s" for k in range(len(steps))]
    segmented = model.n_segments > 1
    with style_context(names):
        fig = Figure(figsize=(9.5, 4.8), layout="constrained")
        ax = fig.add_subplot()
    plots.stage_flow(F, names, column_labels=labels, ax=ax, colors=model_colors(model),
                     title=f"Where {int(cohort):,} new customers are after each {every} {unit}s"
                     + ("\nall segments, weighted by the segment mix of new customers" if segmented else ""))
    rows = [{"from_snapshot": labels[k], "to_snapshot": labels[k + 1], "from": names[i], "to": names[j],
             "customers": F[k][i, j]} for k in range(len(F)) for i in range(len(names))
            for j in range(len(names)) if F[k][i, j] > 0]
    how = (f"Follow {int(cohort):,} customers from the day they join (left) through the stages, one column every "
           f"{every} {unit}s; ribbon width is the expected number of customers moving between two stages. ")
    if segmented:
        split = ", ".join(f"{g} {w:.0%}" for g, w in zip(model.segment_names, mix))
        how += (f"Population-weighted over the segments: the customers are split as new customers arrive "
                f"({split}), each part follows its own segment's transition matrix (the panels above) and the "
                "flows are added. ")
    how += ("Computed from the transition matrices (average customer, programs as written, no win-back), "
            "so it shows the lifecycle's shape, not the strategies' totals.")
    return ReportFigure("flows", "Stage flows of a cohort" + (" (all segments, weighted)" if segmented else ""),
                        how, fig, pd.DataFrame(rows))


def survival_figure(t, simulated, analytic, cohort: int, unit: str, runs: int) -> ReportFigure:
    """Cohort survival with a binomial band and the analytic curve."""
    fig, ax = _fig(8.0, 4.2)
    base = simulated if simulated is not None else analytic
    lo, hi = plots.binomial_band(base, cohort, 0.90)
    plots.survival_curve(t, simulated, lo=lo, hi=hi, analytic=analytic, ax=ax, unit=unit,
                         label=f"simulated (mean of {runs} runs)" if simulated is not None else "simulated",
                         band_label=f"90% range for one cohort of {cohort:,}",
                         analytic_label="analytic (exact)")
    data = pd.DataFrame({"t": t, "simulated": simulated if simulated is not None else np.nan,
                         "analytic": analytic if analytic is not None else np.nan, "band_lo": lo, "band_hi": hi})
    how = (f"The share of a group of {cohort:,} new customers that is still active (in any active stage, "
           "including those won back) after each period. The band is the range one such cohort would show "
           "90% of the time (binomial: customers act independently). ")
    if simulated is not None and analytic is not None:
        how += "The dashed line is the exact expectation; the simulated curve should lie on it."
    how += " Where the curve crosses the dotted 50% line is the cohort's median lifetime."
    return ReportFigure("survival", "Cohort survival", how, fig, data)


def entry_stage(model: CompiledModel) -> int:
    """Stage new customers enter: the first channel's entry stage, else the first active stage."""
    return next((c.entry_stage for c in model.channels), int(np.flatnonzero(model.active)[0]))


def analytic_survival(results, model: CompiledModel, strategy: str) -> ReportFigure | None:
    """Exact cohort survival of the entry stage from the analytic engine's ``survival:<stage>``
    items (None when the results do not hold them)."""
    stage = model.stage_names[entry_stage(model)]
    p = results.periods
    sel = p[(p["strategy"] == strategy) & (p["item"] == f"survival:{stage}")].sort_values("period")
    if sel.empty:
        return None
    t = sel["period"].to_numpy()
    S = sel["mean"].to_numpy(float)
    segmented = model.n_segments > 1
    fig, ax = _fig(8.0, 4.2, [stage])
    plots.survival_curve(t, None, analytic=S, ax=ax, unit=model.period, analytic_label=f"exact ({strategy})",
                         title=f"Cohort survival: customers entering '{stage}'"
                         + (" (all segments, weighted)" if segmented else ""))
    weights = ", ".join(f"{g} {w:.0%}" for g, w in zip(model.segment_names, model.segment_share))
    return ReportFigure(
        "survival", "Cohort survival" + (" (all segments, weighted)" if segmented else ""),
        f"The share of customers who entered '{stage}' at time 0 that is still active (any active stage, "
        "including those won back) after each period, exact expectation of the analytic engine"
        + (f", the segments weighted by their shares ({weights})" if segmented else "")
        + ". Where the curve crosses the dotted 50% line is the median lifetime.", fig,
        pd.DataFrame({"t": t, "analytic": S}))


def sweep_figure(df: pd.DataFrame, lever: str, current: float | None, exact: bool = True) -> ReportFigure:
    """NPV along a budget lever and the return of each step of extra spend.

    ``df``: one row per level, columns ``value`` (lever), ``npv`` and ``pv_spend`` (present value
    of all spend) -- exact expectations, or Monte Carlo means (``exact=False``)."""
    steps = plots.incremental_returns(df["value"], df["npv"], df["pv_spend"])
    with style_context():
        fig = Figure(figsize=(11.0, 4.2), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
    plots.npv_vs_budget(df, x="value", y="npv", lo=None, hi=None, ax=ax1, xlabel=lever, ylabel="NPV",
                        current=current, break_even=None, title="NPV at each level",
                        label="exact" if exact else "mean over runs")
    plots.marginal_roi(steps, ax=ax2, xlabel=lever, current=current)
    data = df.merge(steps.rename(columns={"x_hi": "value"})[["value", "roi"]], on="value", how="left")
    data = data.rename(columns={"roi": "roi_of_step_to_this_level"})
    return ReportFigure(
        "sweep", f"Sweeping {lever}",
        "Left: NPV at each level of the lever, everything else as written"
        + (" (exact expectations, analytic engine)." if exact else " (means over runs on common random numbers).")
        + " Right: the return of each step up to the next level, (extra NPV) / (extra spend), spend in present "
        "value; NPV is net of spend, so 0% (dashed) is break-even. Steps above the line pay for themselves, steps "
        "below do not: the best level is where the steps stop paying, which is where the left curve peaks. The "
        "dotted vertical line is the level as written in the scenario.", fig, data)


def margins_figure(table: pd.DataFrame) -> ReportFigure:
    """Marginal return of every spend lever (:mod:`clmsim.analysis.margins`)."""
    df = table.assign(lever=[path_label(p) for p in table["lever"]])
    fig, ax = _fig(8.5, 1.3 + 0.55 * len(df), df["lever"].astype(str))
    plots.marginal_returns(df, ax=ax)
    return ReportFigure(
        "margins", "Where the next unit of spend goes",
        "For each spend lever, what one more unit of spend on it (in present value) returns at the current plan, "
        "exact (analytic engine, a 1% change of the lever alone): +50% means each extra 1 spent comes back with "
        "0.50 of NPV on top; a negative bar means the last units spent there lose money, so spending less on it "
        "raises NPV (on a lever at 0: its first units would lose, so leave it off). A bar holds for the next units "
        "only, and a win-back coverage stops at 1: the table's room says how much more each lever can take. The "
        "whiskers are the finite-difference error. At the best plan every bar is at 0 "
        "(or, within a fixed budget, all bars are equal).", fig, table)


def ranking_figure(table: pd.DataFrame, samples: int, spread_text: str) -> ReportFigure:
    """Probability that each strategy is best over sampled states of the world."""
    fig, ax = _fig(8.5, 1.3 + 0.55 * len(table), table["strategy"].astype(str))
    plots.p_best_plot(table, ax=ax, samples=samples)
    return ReportFigure(
        "ranking", "How sure is the choice?",
        f"The assumptions that matter most were varied together ({spread_text}) over {samples} sampled states of "
        "the world; for each, every strategy was evaluated exactly on the same inputs. A bar is the share of those "
        "states in which the strategy has the highest NPV, with its 95% interval (Wilson): a strategy near 100% is "
        "the right choice whatever the uncertain inputs turn out to be.", fig, table)


def path_label(path: str) -> str:
    """A readable name for a dotted scenario path:
    ``transitions.declining.churned -> 'declining → churned'``,
    ``stages.loyal.revenue.mean -> 'loyal: revenue mean'``,
    ``retention.programs.save_desk.effect.churn_reduction_max -> 'save desk: churn reduction max'``."""
    parts = str(path).split(".")
    if len(parts) == 3 and parts[0] == "transitions":
        return f"{parts[1]} \u2192 {parts[2]}"
    if len(parts) >= 3 and parts[0] == "stages":
        return f"{parts[1]}: {' '.join(parts[2:]).replace('_', ' ')}"
    if len(parts) >= 4 and parts[0] in ("retention", "winback", "acquisition"):
        rest = [q for q in parts[3:] if q not in ("effect", "response")]
        return f"{parts[2].replace('_', ' ')}: {' '.join(rest).replace('_', ' ')}"
    return str(path)


def _labelled(df: pd.DataFrame) -> pd.DataFrame:
    out = df.copy()
    out["parameter"] = [path_label(p) for p in out["parameter"]]
    return out


def tornado_figure(df: pd.DataFrame, base: float, output: str = "NPV", decision: str | None = None) -> ReportFigure:
    """One-at-a-time sensitivity (``decision``: the output is a difference between two strategies,
    and a bar that crosses 0 flips the choice)."""
    data = df
    df = _labelled(df)
    fig, ax = _fig(8.5, 1.4 + 0.55 * len(df), df["parameter"].astype(str))
    plots.tornado(df, base, ax=ax, output=output)
    how = (f"Each bar moves one assumption to the low (blue) or high (orange) end of its range with all others "
           f"as written; the bar shows how far {output} moves from the base (vertical line). The widest bars "
           "on top are the assumptions worth checking first.")
    if decision:
        ax.axvline(0.0, color="black", linewidth=1.2)
        how += (f" Here {output} is the NPV difference between {decision}: where a bar crosses 0 (solid line), that "
                "assumption alone flips the choice.")
    return ReportFigure("tornado", "What could change the choice" if decision else f"What moves {output}", how,
                        fig, data)


def sobol_figure(df: pd.DataFrame, output: str = "NPV", n: int | None = None,
                 warnings: Sequence[str] = ()) -> ReportFigure:
    """Sobol indices."""
    data = df
    df = _labelled(df)
    fig, ax = _fig(8.5, 1.4 + 0.6 * len(df), df["parameter"].astype(str))
    plots.sobol_indices(df, ax=ax, output=output)
    return ReportFigure(
        "sobol", f"Sobol indices of {output}",
        f"When all assumptions vary together over their ranges, S1 (blue) is the share of the variance of "
        f"{output} each explains alone, ST (orange) includes its interactions with the others. ST near 0: the "
        "assumption does not matter; ST much larger than S1: it matters through interactions."
        + (f" Estimated from {n:,} model evaluations; the whiskers are 95% intervals." if n else "")
        + (" The indices are shares between 0 and 1: an estimate outside that range is sampling noise of the "
           "estimator and shrinks with a larger sample."
           if ((df[["S1", "ST"]] > 1).any().any() or (df[["S1", "ST"]] < 0).any().any()) else "")
        + "".join(f" WARNING: {w}." for w in warnings), fig, data)


def morris_figure(df: pd.DataFrame, output: str = "NPV", n: int | None = None) -> ReportFigure:
    """Morris screening."""
    data = df
    df = _labelled(df)
    fig, ax = _fig(8.5, 1.4 + 0.55 * len(df), df["parameter"].astype(str))
    plots.morris_screening(df, ax=ax, output=output)
    return ReportFigure(
        "morris", "Screening the assumptions (Morris)",
        f"Each assumption is moved across its range many times, from different starting points with the others "
        f"varying too. The bar (\u03bc*) is the average size of the change in {output} it causes; the diamond "
        "(\u03c3) is how much that change depends on the other assumptions. Long bars matter; a diamond far to "
        "the right of its bar's end means the effect depends on the other inputs."
        + (f" {n:,} model evaluations; whiskers are 95% intervals." if n else ""), fig, data)
