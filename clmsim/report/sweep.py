"""Reports of sweep run directories (``clmsim sweep EXPERIMENT --out DIR``).

Headline: the grid point with the highest mean NPV (per strategy), with its 95%
half-width. Table: NPV and the paired difference versus the baseline at every
point. Figures (one lever, no uncertainties): NPV along the lever with its band, one
panel per strategy, the NPV difference versus the baseline, and -- when the sweep kept its
per-period tables (``periods: true``), which give the present value of spend -- the return of
each step of the lever (:func:`clmsim.plots.incremental_returns`), never an average return
measured from zero spend.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
from matplotlib.figure import Figure

from .. import plots
from ..plots.style import style_context
from ..textable import human_pm
from .html import Headline, Report, ReportFigure, ReportTable, provenance_items

POINT_COLUMNS = ("experiment", "grid", "sample")


def sweep_inputs(points: pd.DataFrame) -> tuple[list[str], list[str]]:
    """``(levers, uncertainties)``: point columns that vary across grid points / across samples."""
    cols = [c for c in points.columns if c not in POINT_COLUMNS]
    levers, unc = [], []
    for c in cols:
        if "sample" in points and points.groupby("grid")[c].nunique().max() > 1:
            unc.append(c)
        elif points[c].nunique() > 1:
            levers.append(c)
    return levers, unc


def _pm(mean: float, lo: float, hi: float) -> str:
    a, b = human_pm(mean, (hi - lo) / 2)
    return f"{a} \u00b1 {b}" if b else a


def report_from_sweep(directory: str | Path) -> Report:
    """A report of a complete sweep run directory."""
    from ..analysis.sweep import read_sweep
    from .figures import path_label

    sw = read_sweep(directory)
    m = sw.manifest
    base = m.get("baseline", "baseline")
    levers, unc = sweep_inputs(sw.points)
    lv = sw.table("npv", "level")
    vb = sw.table("npv_diff", "vs_baseline")
    rep = Report(f"clmsim sweep: {m.get('experiment', Path(directory).name)}",
                 f"scenario {m.get('scenario')} \u00b7 {m.get('engine')} engine \u00b7 {m.get('points')} points x "
                 f"{m.get('runs')} runs \u00b7 seed {m.get('seed')}")
    mc = bool((sw.runs["run"] >= 0).any())
    for s, sub in lv.groupby("strategy", sort=False):
        best = sub.loc[sub["mean"].idxmax()]
        where = ", ".join(f"{path_label(c)} = {best[c]:g}" for c in levers) or f"point {int(best['experiment'])}"
        rep.headlines.append(Headline(f"Best NPV of {s}: {where}", float(best["mean"]),
                                      (best["ci_hi"] - best["ci_lo"]) / 2, "money",
                                      f"over {m.get('runs')} runs" if mc else "exact expectation", exact=not mc))
    rows = []
    for _, r in lv.iterrows():
        row = {"strategy": r["strategy"], **{path_label(c): f"{r[c]:g}" for c in levers + unc},
               "NPV": _pm(r["mean"], r["ci_lo"], r["ci_hi"])}
        if len(vb):
            d = vb[(vb["experiment"] == r["experiment"]) & (vb["strategy"] == r["strategy"])]
            row[f"NPV vs {base}"] = _pm(*d[["mean", "ci_lo", "ci_hi"]].iloc[0]) if len(d) else ""
        rows.append(row)
    rep.tables.append(ReportTable("sweep_table", "NPV at every point", pd.DataFrame(rows), lv,
                                  "\u00b1 = half-width of the 95% interval over runs; differences are paired "
                                  "(common random numbers)."))
    if len(levers) == 1 and not unc:
        lever = levers[0]
        strategies = list(dict.fromkeys(lv["strategy"]))[:4]
        with style_context(strategies):
            fig = Figure(figsize=(5.2 * len(strategies) + 0.5, 4.0), layout="constrained")
            axes = fig.subplots(1, len(strategies), squeeze=False, sharey=True)[0]
        for ax, s in zip(axes, strategies):
            plots.npv_vs_budget(lv[lv["strategy"] == s], x=lever, y="mean", lo="ci_lo", hi="ci_hi", ax=ax,
                                break_even=None, xlabel=path_label(lever), title=s)
        rep.figures.append(ReportFigure(
            "sweep_npv", f"NPV along {path_label(lever)}",
            "Mean NPV at every value of the lever (one panel per strategy) with its 95% interval over runs "
            "(shaded). Every point uses the same random inputs, so the shape of the curve is not noise.",
            fig, lv))
        if len(vb):
            with style_context(strategies):
                fig = Figure(figsize=(8.0, 4.2), layout="constrained")
                ax = fig.add_subplot()
            for s in [s for s in strategies if s != base][:1]:
                plots.npv_vs_budget(vb[vb["strategy"] == s], x=lever, y="mean", lo="ci_lo", hi="ci_hi", ax=ax,
                                    xlabel=path_label(lever), ylabel=f"NPV {s} minus {base}",
                                    title=f"{s} versus {base} along {path_label(lever)}")
                rep.figures.append(ReportFigure(
                    "sweep_diff", f"{s} versus {base}",
                    f"The paired NPV difference between {s} and {base} at every value of the lever, with its 95% "
                    "interval; where the curve crosses the dashed line the ranking of the two flips.", fig, vb))
        if len(sw.periods):
            rep.figures.append(_steps_figure(sw, lever, strategies[0]))
        else:
            rep.missing.append("the return of each step of the lever: it needs the present value of spend, which "
                               "needs the per-period tables (set 'periods: true' in the experiment)")
    else:
        rep.missing.append("sweep figures are drawn for one lever without uncertainties; this sweep has "
                           f"{len(levers)} lever(s) and {len(unc)} uncertain input(s): see the table and "
                           "summary.csv")
    scen = Path(directory) / "scenario.yaml"
    if scen.is_file():
        from ..scenario import ScenarioError, dump_yaml, load_scenario

        try:  # shown only when it is a scenario (never the raw text of whatever file is there)
            rep.scenario_text = dump_yaml(load_scenario(scen, hidden=True).data)
        except ScenarioError:
            rep.missing.append("scenario.yaml in the sweep directory is not a valid scenario; not shown")
    rep.provenance = provenance_items({k: v for k, v in m.items() if k != "versions"},
                                      {"versions": json.dumps(m.get("versions", {}))})
    return rep


def _steps_figure(sw, lever: str, strategy: str) -> ReportFigure:
    """Return of each step of a one-lever sweep for ``strategy`` (mean NPV and present value of spend)."""
    from ..analysis.robustness import pv_spend_by_point
    from .figures import path_label

    npv = sw.runs[sw.runs["strategy"] == strategy].groupby("experiment")["npv"].mean().rename("npv")
    pv = pv_spend_by_point(sw.periods)
    pv = pv[pv["strategy"] == strategy].set_index("experiment")["pv_spend"]
    df = sw.points.set_index("experiment")[[lever]].join(npv).join(pv).dropna()
    steps = plots.incremental_returns(df[lever], df["npv"], df["pv_spend"])
    with style_context():
        fig = Figure(figsize=(8.0, 4.2), layout="constrained")
        ax = fig.add_subplot()
    plots.marginal_roi(steps, ax=ax, xlabel=path_label(lever), title=f"Return on each step of spend ({strategy})")
    return ReportFigure(
        "sweep_steps", f"Return on each step of {path_label(lever)}",
        "Between neighbouring levels of the lever: (extra NPV) / (extra spend), spend in present value, mean over "
        "runs. NPV is net of spend, so 0% (dashed) is break-even: steps above it pay for themselves, steps below do "
        "not, and the best level is where the steps stop paying.", fig, steps)


def is_sweep_dir(directory: str | Path) -> bool:
    """True when ``directory`` holds a sweep manifest."""
    return (Path(directory) / "manifest.json").is_file()


__all__ = ["is_sweep_dir", "report_from_sweep", "sweep_inputs"]
