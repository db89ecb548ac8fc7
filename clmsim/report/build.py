"""Assemble a :class:`~clmsim.report.html.Report` from results: headline numbers,
the strategy table and the figures that the available data supports.

Half-widths: Monte Carlo numbers carry the half-width of their 95% interval
(Student t over runs; paired within runs for differences, see
:mod:`clmsim.analysis.compare`); analytic numbers are exact expectations.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..errors import ClmsimError
from ..results import Results
from ..textable import human, human_pm
from .html import Headline, Report, ReportFigure, ReportTable

BASELINE = "baseline"
MIN_RUNS_FOR_HISTOGRAM = 20
"""Fewest runs for which a histogram of per-run mean CLV is drawn."""


def comparison_of(results: Results, baseline: str = BASELINE):
    """A :class:`clmsim.analysis.Comparison` over the per-run rows of ``results``."""
    from ..analysis.compare import Comparison, add_total_spend

    if baseline not in results.strategies:
        raise ClmsimError(f"baseline strategy '{baseline}' is not in the results "
                          f"(have: {', '.join(results.strategies)})")
    mc = bool((results.runs["run"] >= 0).any())
    return Comparison(add_total_spend(results.runs), baseline, {"monte_carlo": mc})


def _hw(lo: float, hi: float) -> float:
    return (hi - lo) / 2 if not (math.isnan(lo) or math.isnan(hi)) else float("nan")


def headlines(comp, horizon_text: str = "") -> list[Headline]:
    """Headline numbers of a comparison: baseline NPV, the best strategy's gain, its ROI and
    win share, CLV per acquired customer and the active base at the end, each with ± half-width."""
    t = comp.table()
    mc = comp.provenance.get("monte_carlo", True)
    n = comp.n_runs
    base = comp.baseline
    lv = t[(t.kind == "level") & (t.strategy == base)].set_index("metric")
    out = []

    def level(metric, label, kind, note):
        if metric in lv.index:
            r = lv.loc[metric]
            out.append(Headline(label, float(r["mean"]), _hw(r["ci_lo"], r["ci_hi"]), kind, note, exact=not mc))

    runs_note = f"{n} runs" if mc else "exact expectation"
    level("npv", f"NPV of {base}", "money", f"{horizon_text}{runs_note}")
    vb = t[(t.kind == "vs_baseline") & (t.metric == "npv")]
    if len(vb):
        best = vb.sort_values("mean").iloc[-1]
        s = best["strategy"]
        rows = t[(t.kind == "vs_baseline") & (t.strategy == s)].set_index("metric")
        win = rows.loc["win_share", "mean"] if "win_share" in rows.index else float("nan")
        note = f"paired over {n} runs; wins {win:.0%} of runs" if mc else "exact expectations"
        label = (f"Best strategy: {s}, NPV gain vs {base}" if best["mean"] > 0 else
                 f"No strategy beats {base}; closest: {s}, NPV vs {base}")
        out.append(Headline(label, float(best["mean"]), _hw(best["ci_lo"], best["ci_hi"]), "money", note,
                            exact=not mc))
        d_spend = rows.loc["total_spend"] if "total_spend" in rows.index else None
        if d_spend is not None and d_spend["mean"] < 0:
            # a cut: ROI = gain / (negative spend) would read as a loss; show the saving instead
            out.append(Headline(f"Spend saved by {s} vs {base}", -float(d_spend["mean"]),
                                _hw(d_spend["ci_lo"], d_spend["ci_hi"]), "money",
                                "undiscounted, over the horizon", exact=not mc))
        elif "roi" in rows.index and not math.isnan(rows.loc["roi", "mean"]):
            r = rows.loc["roi"]
            out.append(Headline(f"ROI of {s} vs {base}", float(r["mean"]), _hw(r["ci_lo"], r["ci_hi"]), "percent",
                                "extra NPV / extra spend", exact=not mc))
    level("clv_acquired", f"CLV per acquired customer ({base})", "money", "discounted, before acquisition cost")
    level("active_end", f"Active customers at the end ({base})", "count", runs_note)
    return out


def strategy_table(comp) -> ReportTable:
    """Per strategy: NPV, difference vs baseline, ROI and win share, each with its half-width."""
    s = comp.summary()
    t = comp.table()
    dsp = t[(t.kind == "vs_baseline") & (t.metric == "total_spend")].set_index("strategy")
    mc = comp.provenance.get("monte_carlo", True)
    rows = []
    for r in s.to_dict("records"):
        def pm(v, lo, hi, pct=False):
            if v is None or (isinstance(v, float) and math.isnan(v)):
                return ""
            hw = _hw(lo, hi)
            if not mc or math.isnan(hw):
                return f"{v:.1%}" if pct else human(v, 4)
            if pct:
                return f"{v:.1%} \u00b1 {hw:.1%}"
            a, b = human_pm(v, hw)
            return f"{a} \u00b1 {b}" if b else a
        rows.append({
            "strategy": r["strategy"],
            "NPV": pm(r["npv"], r["npv_lo"], r["npv_hi"]),
            f"NPV vs {comp.baseline}": pm(r.get("d_npv", float("nan")), r.get("d_npv_lo", float("nan")),
                                          r.get("d_npv_hi", float("nan"))),
            "ROI": pm(r.get("roi", float("nan")), r.get("roi_lo", float("nan")), r.get("roi_hi", float("nan")),
                      pct=True),
            "wins": "" if not mc or math.isnan(r.get("win_share", float("nan"))) else f"{r['win_share']:.0%}",
            "total spend": human(r["total_spend"], 4),
            f"spend vs {comp.baseline}": (human(float(dsp.loc[r["strategy"], "mean"]), 3)
                                          if r["strategy"] in dsp.index else ""),
        })
    note = ("\u00b1 = half-width of the 95% interval; differences and ROI are paired over runs with common "
            "random numbers; 'wins' = share of runs where the strategy's NPV beats the baseline's. "
            if mc else "Exact expectations (analytic engine). ")
    note += ("ROI = NPV difference / spend difference (spend undiscounted, over the horizon); when a strategy "
             "spends less (negative spend difference) a positive NPV difference gives a negative ROI.")
    return ReportTable("strategies", "Strategies compared", pd.DataFrame(rows), s, note)


def text_summary(comp) -> list[dict]:
    """Rows for :func:`clmsim.textable.format_table` (the demo's headline table)."""
    s = comp.summary()
    t = comp.table()
    dsp = t[(t.kind == "vs_baseline") & (t.metric == "total_spend")].set_index("strategy")["mean"]
    out = []
    for r in s.to_dict("records"):
        out.append({"strategy": r["strategy"], "npv": (r["npv"], _hw(r["npv_lo"], r["npv_hi"])),
                    "d_spend": float(dsp.get(r["strategy"], float("nan"))),
                    "d_npv": (r.get("d_npv", float("nan")), _hw(r.get("d_npv_lo", float("nan")),
                                                                 r.get("d_npv_hi", float("nan")))),
                    "roi": r.get("roi", float("nan")), "win": r.get("win_share", float("nan")),
                    "spend": r["total_spend"]})
    return out


def provenance_items(prov: dict, extra: dict | None = None) -> dict:
    """Provenance as display strings, most useful first."""
    order = ("scenario", "scenario_hash", "source", "engine", "mode", "runs", "seed", "period", "horizon",
             "convention", "clmsim_version", "customer_periods", "seconds")
    out = {k: prov[k] for k in order if k in prov}
    out.update({k: v for k, v in prov.items() if k not in out})
    out.update(extra or {})
    return {k: (json.dumps(v, default=str) if isinstance(v, (dict, list)) else v) for k, v in out.items()}


def load_run_dir(run_dir: str | Path) -> Results:
    """Results stored in a run directory by :meth:`Results.to_parquet`."""
    d = Path(run_dir)
    if not d.is_dir():
        raise ClmsimError(f"run directory not found: {d}")
    if not (d / "provenance.json").exists() or not (d / "runs.parquet").exists():
        hint = " (it looks like a sweep directory)" if (d / "manifest.json").exists() else ""
        raise ClmsimError(f"{d} holds no results{hint}: expected provenance.json and runs.parquet, as written "
                          "by `clmsim run ... --out DIR`")
    return Results.read_parquet(d)


def find_scenario(run_dir: Path, results: Results, scenario: str | Path | None = None):
    """The scenario behind a run directory: ``scenario`` if given, else ``scenario.yaml`` in the
    directory (None otherwise). A path recorded in the results' provenance is never opened:
    only files the user names are read. A scenario whose hash differs from the results' is
    refused; ``scenario.yaml`` is read as a file the user did not name (problems in it are
    reported by location only)."""
    from ..scenario import ScenarioError, load_scenario

    prov = results.provenance
    candidates = [scenario] if scenario else [run_dir / "scenario.yaml"]
    for c in candidates:
        if c and (scenario or Path(c).is_file()):
            try:
                sc = load_scenario(c, hidden=not scenario)
            except ScenarioError:
                if scenario:
                    raise
                continue
            want = prov.get("scenario_hash")
            if want and sc.hash != want:
                if scenario:
                    raise ClmsimError(f"{c} is not the scenario of these results (hash {sc.hash}, "
                                      f"results {want})")
                continue
            return sc
    if scenario:
        raise ClmsimError(f"scenario file not found: {scenario}")
    return None


def report_from_results(results: Results, scenario=None, *, baseline: str = BASELINE,
                        title: str | None = None, missing: Sequence[str] = (),
                        extra_figures: Sequence[ReportFigure] = (), extra_provenance: dict | None = None) -> Report:
    """A report of one Results object (e.g. a ``clmsim run`` directory).

    Shows the headline numbers and strategy table (when ``baseline`` is present), stage occupancy,
    the paired comparison, the CLV distribution (Monte Carlo only), and -- when the ``scenario`` is
    known -- the transition heatmap, stage flows and the resolved scenario.
    """
    from . import figures

    prov = results.provenance
    missing = list(missing)
    rep = Report(title or f"clmsim report: {prov.get('scenario', 'results')}",
                 _subtitle(prov), missing=missing)
    mc = bool((results.runs["run"] >= 0).any()) if len(results.runs) else False
    model = None
    if scenario is not None:
        from ..model import compile_model
        from ..scenario import dump_yaml

        model = compile_model(scenario, baseline if baseline in scenario.strategy_names else None)
        rep.scenario_text = dump_yaml(scenario.data)
    else:
        missing.append("the scenario file was not found, so the transition heatmap, stage flows and the "
                       "resolved scenario are not shown (pass --scenario FILE)")
    horizon = _horizon_text(prov)
    has_periods = len(results.periods) > 0 and "item" in results.periods.columns
    if baseline in results.strategies:
        comp = comparison_of(results, baseline)
        rep.headlines = headlines(comp, horizon)
        rep.tables.append(strategy_table(comp))
        if len(results.strategies) > 1:
            from ..plots import paired_differences
            rep.figures.append(figures.comparison_figure(paired_differences(results, "npv", baseline), baseline,
                                                         comp.n_runs if mc else 0))
            if has_periods:
                rep.figures.append(figures.cumulative_figure(results, baseline))
    else:
        missing.append(f"no '{baseline}' strategy in the results: headline numbers and comparisons need it")
    stages = figures.active_stages(model) if model is not None else None
    if has_periods:
        rep.figures.append(figures.occupancy_figure(results, results.strategies[:6], stages,
                                                    figures.model_colors(model)))
        if len(results.strategies) > 6:
            missing.append(f"stage occupancy is drawn for the first 6 of {len(results.strategies)} strategies")
    else:
        missing.append("stage occupancy and cumulative cash over time: these results hold per-run totals only "
                       "(no per-period table; `clmsim run ... --out DIR` writes one)")
    n_mc = int((results.runs["run"] >= 0).sum() / max(len(results.strategies), 1)) if mc else 0
    has_hist = len(results.clv_hist) > 0
    if mc and not has_hist and n_mc < MIN_RUNS_FOR_HISTOGRAM:
        missing.append(f"CLV distribution: these results have no per-customer histogram (counts mode) and only "
                       f"{n_mc} runs; use individual mode or at least {MIN_RUNS_FOR_HISTOGRAM} runs")
    elif mc:
        try:
            rep.figures.append(figures.clv_figure(results, results.strategies[:1]))
        except ClmsimError:
            try:
                rep.figures.append(figures.clv_figure(results, results.strategies[:1], cohort="initial"))
            except ClmsimError as exc:
                missing.append(f"CLV distribution: {exc}")
    else:
        missing.append("CLV distribution: exact expectations have no spread; run a Monte Carlo engine "
                       "(--engine fast) to see it")
    if (has_periods and model is not None and baseline in results.strategies
            and not any(f.key == "survival" for f in extra_figures)):
        surv = figures.analytic_survival(results, model, baseline)
        if surv is not None:
            rep.figures.append(surv)
    if model is not None:
        rep.figures += [figures.heatmap_figure(model), figures.flows_figure(model)]
    rep.figures += list(extra_figures)
    rep.provenance = provenance_items(prov, extra_provenance)
    return rep


def _horizon_text(prov: dict) -> str:
    if prov.get("horizon") and prov.get("period"):
        return f"{prov['horizon']} {prov['period']}s, "
    return ""


def _subtitle(prov: dict) -> str:
    bits = [f"scenario {prov.get('scenario', '?')}"]
    if prov.get("engine"):
        eng = f"{prov['engine']} engine"
        if prov.get("mode"):
            eng += f" ({prov['mode']} mode)"
        bits.append(eng)
    if prov.get("engine") != "analytic" and prov.get("runs"):
        bits.append(f"{prov['runs']} runs, seed {prov.get('seed')}")
    if prov.get("horizon"):
        bits.append(f"horizon {prov['horizon']} {prov.get('period', 'period')}s")
    return " \u00b7 ".join(bits)


def report_run_dir(run_dir: str | Path, out: str | Path | None = None, scenario: Any = None) -> Path:
    """Write ``report.html`` (and PNG/CSV files) for a run directory -- results written by
    ``clmsim run/compare --out`` or a sweep directory -- and return the HTML path."""
    from .html import write_report

    d = Path(run_dir)
    from .sweep import is_sweep_dir, report_from_sweep

    if is_sweep_dir(d) and not (d / "provenance.json").exists():
        return write_report(report_from_sweep(d), out if out is not None else d)
    res = load_run_dir(d)
    sc = find_scenario(d, res, scenario)
    rep = report_from_results(res, sc)
    return write_report(rep, out if out is not None else d)
