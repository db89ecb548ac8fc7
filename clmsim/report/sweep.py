"""Reports of sweep run directories (``clmsim sweep EXPERIMENT --out DIR``).

Headline: the grid point with the highest mean NPV (per strategy), with its 95%
half-width. Table: NPV and the paired difference versus the baseline at every
point. Figures:

* one lever on a grid, no uncertainties: NPV along the lever with its band, one panel per
  strategy, the NPV difference versus the baseline, and -- when the sweep kept its
  per-period tables (``periods: true``), which give the present value of spend -- the return
  of each step of the lever (:func:`clmsim.plots.incremental_returns`), never an average
  return measured from zero spend;
* two levers on a grid: heatmaps with contours of NPV and of the paired NPV difference
  versus the baseline (:func:`clmsim.plots.lever_heatmap`);
* sampled designs (Latin-hypercube levers, uncertainty samples, more levers): NPV and the
  NPV difference against every input with partial dependence
  (:func:`clmsim.plots.partial_dependence`).
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
    from .figures import path_label as _label

    sw = read_sweep(directory)

    def path_label(c: str) -> str:
        return _label(sw.path(c))

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
    sampled = bool(((m.get("fingerprint_parts") or {}).get("experiment") or {}).get("lever_sampling"))
    if len(levers) == 1 and not unc and not sampled:
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
    elif len(levers) == 2 and not sampled:
        rep.figures += _heatmaps(lv, vb, levers, unc, base, path_label)
    elif levers or unc:
        rep.figures += _dependence(lv, vb, levers + unc, levers, base, path_label, sampled)
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


def _heatmaps(lv: pd.DataFrame, vb: pd.DataFrame, levers: list[str], unc: list[str], base: str,
              label) -> list[ReportFigure]:
    """Two-lever grid: NPV heatmap per strategy (up to 3) and the paired NPV difference of each
    other strategy (up to 2) versus the baseline; averaged over uncertainty samples when there are some."""
    x, y = levers
    out = []
    strategies = list(dict.fromkeys(lv["strategy"]))
    avg = " (mean over the uncertainty samples)" if unc else ""
    shown = strategies[:3]
    with style_context(shown):
        fig = Figure(figsize=(5.6 * len(shown), 4.6), layout="constrained")
        axes = fig.subplots(1, len(shown), squeeze=False)[0]
    for ax, s in zip(axes, shown):
        plots.lever_heatmap(lv[lv["strategy"] == s], x=x, y=y, z="mean", ax=ax, xlabel=label(x), ylabel=label(y),
                            title=s, label="NPV")
    out.append(ReportFigure(
        "sweep_npv_heatmap", f"NPV over {label(x)} and {label(y)}",
        f"Mean NPV at every grid point{avg} (one panel per strategy); the lines join points of equal NPV and the "
        "brightest cell is the best grid point. Every point uses the same random inputs, so the shape of the "
        "surface is not noise.", fig, lv))
    others = [s for s in strategies if s != base][:2]
    if len(vb) and others:
        with style_context(others):
            fig = Figure(figsize=(5.6 * len(others), 4.6), layout="constrained")
            axes = fig.subplots(1, len(others), squeeze=False)[0]
        for ax, s in zip(axes, others):
            d = vb[vb["strategy"] == s]
            plots.lever_heatmap(d, x=x, y=y, z="mean", lo=None if unc else "ci_lo", hi=None if unc else "ci_hi",
                                ax=ax, diverging=True, xlabel=label(x), ylabel=label(y),
                                title=f"{s} minus {base}", label=f"NPV {s} minus {base}")
        out.append(ReportFigure(
            "sweep_diff_heatmap", f"NPV versus {base} over {label(x)} and {label(y)}",
            f"The paired NPV difference versus {base} at every grid point{avg}: blue where the strategy is ahead, "
            "red where it is behind; the thick line is where the ranking flips."
            + ("" if unc else " Hatched cells: the 95% interval of the difference contains 0 (the sign is not "
                              "established by the runs made)."), fig, vb))
    return out


def _dependence(lv: pd.DataFrame, vb: pd.DataFrame, inputs: list[str], levers: list[str], base: str, label,
                sampled: bool) -> list[ReportFigure]:
    """Sampled designs (Latin-hypercube levers, uncertainty samples, more than two levers): NPV and the
    paired NPV difference against every input, with partial dependence."""
    inputs = inputs[:6]
    strategies = list(dict.fromkeys(lv["strategy"]))
    what = "sampled lever values" if sampled else ("grid and uncertainty samples" if levers else "uncertainty samples")
    out = []
    first = strategies[0]
    with style_context(strategies):
        axes = plots.partial_dependence(lv[lv["strategy"] == first], inputs, "mean",
                                        labels={c: label(c) for c in inputs}, ylabel=f"NPV ({first})")
    out.append(ReportFigure(
        "sweep_dependence", f"NPV of {first} against each input",
        f"Each dot is one point of the design ({what}): its mean NPV against the value of one input. The line is "
        "the partial dependence -- the mean NPV of the points in each bin of that input, averaged over the other "
        "inputs -- with its 95% interval (shaded); a flat line means the input barely matters here.",
        axes[0].figure, lv))
    others = [s for s in strategies if s != base]
    if len(vb) and others:
        s = others[0]
        with style_context(strategies):
            axes = plots.partial_dependence(vb[vb["strategy"] == s], inputs, "mean",
                                            labels={c: label(c) for c in inputs}, ylabel=f"NPV {s} minus {base}",
                                            reference=0.0)
        out.append(ReportFigure(
            "sweep_diff_dependence", f"{s} versus {base} against each input",
            f"The paired NPV difference between {s} and {base} at every point of the design, against each input, "
            "with its partial dependence; where the line crosses the dashed zero the better choice changes with "
            "that input.", axes[0].figure, vb))
    return out


def _steps_figure(sw, lever: str, strategy: str) -> ReportFigure:
    """Return of each step of a one-lever sweep for ``strategy`` (mean NPV and present value of spend)."""
    from ..analysis.robustness import pv_spend_by_point
    from .figures import path_label as _label

    def path_label(c: str) -> str:
        return _label(sw.path(c))

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
