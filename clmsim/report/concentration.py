"""The report's value-concentration section: Lorenz curve, CLV pyramid and the cohort x age heatmaps.

:func:`concentration_section` returns the figures the data supports and, for the rest, a line
saying what is missing and how to get it (the report lists those lines).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from matplotlib.figure import Figure

from .. import plots
from ..concentration import ValueConcentration, value_concentration
from ..errors import ClmsimError, UnsupportedFeature
from ..plots.style import style_context
from .html import ReportFigure


def _pct(x: float) -> str:
    return f"{x:.0%}" if np.isfinite(x) else "n/a"


def _interval(row) -> str:
    if np.isfinite(row["ci_lo"]) and np.isfinite(row["ci_hi"]):
        return f" (95% interval over runs {row['ci_lo']:.1%} to {row['ci_hi']:.1%})"
    return (" (one histogram of all runs, so no interval over runs: `clmsim run` simulates in batches and "
            "gives one)")


def _who(cohort: str) -> str:
    return {"acquired": "customers acquired during the horizon", "initial": "customers present at the start"}.get(
        cohort, "customers")


def lorenz_figure(vc: ValueConcentration, strategies) -> ReportFigure:
    """Lorenz curve of CLV for ``strategies`` (the first is annotated)."""
    strategies = list(strategies)
    base = strategies[0]
    gini = {s: vc.metric("gini", s)["estimate"] for s in strategies}
    with style_context(strategies):
        fig = Figure(figsize=(8.0, 4.6), layout="constrained")
        ax = fig.add_subplot()
    plots.lorenz_curve(vc.lorenz, strategies, ax=ax, gini=gini)
    top = vc.metric("top_20pct_share", base)
    neg = vc.metric("share_negative", base)
    g = vc.metric("gini", base)
    cohort = top["cohort"]
    how = (f"Rank the {_who(cohort)} from the least to the most valuable; the curve gives, for each share of "
           "them (across), the share of total lifetime value they hold together (up). If every customer were "
           "worth the same the curve would be the dashed diagonal; the more it sags, the more value sits with "
           f"few customers. In {base} the top 20% hold {_pct(top['estimate'])} of the total{_interval(top)}; "
           f"the Gini coefficient (twice the shaded area) is {g['estimate']:.2f}. Where the curve dips below 0 "
           f"customers lose money: {_pct(neg['estimate'])} of them have a negative CLV (between "
           f"{_pct(neg['bin_lo'])} and {_pct(neg['bin_hi'])} at this histogram's resolution: customers worth "
           "about 0, such as those acquired in the last period, share one bin; the fast engine's option "
           "hist_bins narrows it). CLV here is each customer's discounted contribution minus retention and "
           "win-back spend on them, up to the horizon, before acquisition cost, read from the simulated "
           f"per-customer histogram (the top-20% share lies between {top['bin_lo']:.1%} and {top['bin_hi']:.1%} "
           "whatever the values inside each bin).")
    return ReportFigure("lorenz", "Value concentration: Lorenz curve of CLV", how, fig,
                        vc.lorenz[vc.lorenz["strategy"].isin(strategies)].reset_index(drop=True))


def pyramid_figure(vc: ValueConcentration, strategy: str, currency: str = "") -> ReportFigure:
    """The CLV pyramid of one strategy."""
    tiers = vc.tiers[vc.tiers["strategy"] == strategy].reset_index(drop=True)
    with style_context(list(tiers["tier"])):
        fig = Figure(figsize=(8.5, 4.2), layout="constrained")
        ax = fig.add_subplot()
    plots.clv_pyramid(tiers, strategy, ax=ax, currency=currency)
    top = tiers.iloc[0]
    bottom = tiers.iloc[-1]
    per_run = (f" (about {top['customers_per_run']:,.0f} customers per run)"
               if np.isfinite(top["customers_per_run"]) else "")
    how = (f"The {_who(tiers['cohort'].iloc[0])} ({strategy}) in tiers by value, the most valuable on top: "
           "grey bars (left) are each tier's share of customers, blue bars (right) its share of total CLV, "
           + ("with the 95% interval over runs as whiskers and " if tiers["clv_share_lo"].notna().all() else "")
           + "the tier's mean CLV beside it. "
           f"The {top['tier']}{per_run} hold {_pct(top['clv_share'])} of the value; the {bottom['tier']} hold "
           f"{_pct(bottom['clv_share'])}{' (they cost more than they bring in)' if bottom['clv_share'] < 0 else ''}. "
           "A tier whose blue bar is much longer than its grey bar is where "
           "retention spend protects the most value; a negative blue bar is a tier that costs more to serve "
           "than it brings in.")
    return ReportFigure("pyramid", "Value concentration: CLV pyramid", how, fig, tiers)


def cohort_figure(table: pd.DataFrame, unit: str, currency: str = "", segmented: bool = False) -> ReportFigure:
    """Survival (left) and revenue per customer (right) by acquisition cohort and age."""
    with style_context():
        fig = Figure(figsize=(11.5, 4.4), layout="constrained")
        ax1, ax2 = fig.subplots(1, 2)
    plots.cohort_heatmap(table, "survival", ax=ax1, unit=unit)
    plots.cohort_heatmap(table, "revenue", ax=ax2, unit=unit, currency=currency)
    wide = table.pivot_table(index="cohort", columns="age", values="survival", aggfunc="first")
    same = bool(np.nanmax(np.abs(wide.to_numpy(float) - wide.iloc[0].to_numpy(float)[None, :])) < 1e-9) \
        if len(wide) > 1 else True
    how = (f"Each row is the customers acquired in one {unit} (the channels' and referrals' new customers, at "
           f"the end of that {unit}); each column is their age, {unit}s since joining. Left: the share still in "
           "an active stage (customers won back count again; a cohort that joins as prospects starts below 100%). "
           f"Right: expected revenue per customer of the cohort in that {unit}, at list price, counting those "
           "who have left as 0. Later cohorts have fewer ages inside the horizon, hence the triangle. Exact "
           "expectations (analytic engine) of the baseline"
           + (", all segments together weighted by how many of each the channels bring" if segmented else "")
           + ". "
           + ("Every row is the same here: nothing in the scenario changes over time, so a cohort's fate depends "
              "only on its age." if same else
              "Rows differ because spend or policies change over time: compare rows at the same age to see "
              "which cohorts fare better."))
    return ReportFigure("cohorts", "Cohorts: survival and revenue by age", how, fig, table)


def concentration_section(results, model=None, strategies=None, currency: str = "",
                          skip=()) -> tuple[list, list]:
    """``(figures, missing)``: the Lorenz curve and CLV pyramid when ``results`` hold a per-customer
    CLV histogram, and the cohort heatmaps when the baseline ``model`` is given. ``skip``: figure
    keys drawn elsewhere (``"lorenz"`` skips value concentration, ``"cohorts"`` the heatmaps)."""
    figures, missing = [], []
    hist = getattr(results, "clv_hist", None)
    if "lorenz" in skip:
        pass
    elif hist is not None and len(hist):
        names = [s for s in (strategies or results.strategies) if s in set(hist["strategy"])][:3]
        try:
            vc = value_concentration(results, names)
        except ClmsimError as exc:
            missing.append(f"value concentration: {exc}")
        else:
            figures += [lorenz_figure(vc, names), pyramid_figure(vc, names[0], currency)]
    else:
        missing.append("value concentration (Lorenz curve, CLV pyramid): needs the CLV of every customer, which "
                       "only the fast engine's individual mode records (clmsim run --engine fast --mode individual "
                       "--report)")
    if model is not None and "cohorts" not in skip:
        from ..engines.analytic.cohorts import cohort_table

        try:
            table = cohort_table(model)
        except UnsupportedFeature as exc:
            missing.append(f"cohort heatmaps: {exc}")
        else:
            if len(table):
                figures.append(cohort_figure(table, model.period, currency, model.n_segments > 1))
            else:
                missing.append("cohort heatmaps: the scenario acquires no customers")
    return figures, missing
