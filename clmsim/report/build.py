"""Assemble a :class:`~clmsim.report.html.Report` from results: headline numbers,
the strategy table and the figures that the available data supports.

Half-widths: Monte Carlo numbers carry the half-width of their 95% interval
(Student t over runs; paired within runs for differences, see
:mod:`clmsim.analysis.compare`); analytic numbers are exact expectations.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any, Sequence

import pandas as pd

from ..errors import ClmsimError
from ..metrics import PATHS_FILE
from ..results import Results
from .html import Headline, Report, ReportFigure, ReportTable, provenance_items

BASELINE = "baseline"
MIN_RUNS_FOR_HISTOGRAM = 20
"""Fewest runs for which a histogram of per-run mean CLV is drawn."""


def comparison_of(results: Results, baseline: str = BASELINE, paths: pd.DataFrame | None = None):
    """A :class:`clmsim.analysis.Comparison` of ``results`` (per-run rows and per-period means).

    ``paths`` (batches of runs, see :func:`clmsim.analysis.compare.simulate_in_batches`) give the
    present values of spend and the payback period their Monte Carlo intervals; without them
    the results' per-period means are one batch (exact for the analytic engine)."""
    from ..analysis.compare import Comparison, add_total_spend
    from ..metrics import paths_from_periods, results_discount_factors

    if baseline not in results.strategies:
        raise ClmsimError(f"baseline strategy '{baseline}' is not in the results "
                          f"(have: {', '.join(results.strategies)})")
    mc = bool((results.runs["run"] >= 0).any())
    periods = results.periods if len(results.periods) and "item" in results.periods.columns else None
    if paths is None and periods is not None:
        v = results_discount_factors(results)
        if v is not None:
            paths = paths_from_periods(periods, v, int(results.provenance.get("runs") or 1) if mc else 1)
    prov = {"monte_carlo": mc, **{k: results.provenance.get(k) for k in
                                  ("engine", "runs", "batches", "period", "horizon", "discount_rate", "active_stages")
                                  if results.provenance.get(k) is not None}}
    if "active_stages" not in prov and len(results.clv) and "kind" in results.clv.columns:
        prov["active_stages"] = list(dict.fromkeys(results.clv.loc[results.clv["kind"] == "active", "stage"]))
    return Comparison(add_total_spend(results.runs), baseline, prov, paths, periods,
                      segment_runs=results.segment_runs if len(results.segment_runs) else None)


def _hw(lo: float, hi: float) -> float:
    return (hi - lo) / 2 if not (math.isnan(lo) or math.isnan(hi)) else float("nan")


def headlines(comp, horizon_text: str = "") -> list[Headline]:
    """Headline numbers of a comparison: what to do and what it costs, the baseline's NPV, CLV per
    acquired customer and the active base at the end, each with its ± half-width (or exact)."""
    from ..decision import recommendation

    t = comp.table()
    mc = comp.monte_carlo
    n = comp.n_runs
    base = comp.baseline
    lv = t[(t.kind == "level") & (t.strategy == base)].set_index("metric")
    out = []

    def level(metric, label, kind, note, undefined=None):
        if metric in lv.index:
            r = lv.loc[metric]
            if undefined is not None and math.isnan(float(r["mean"])):
                note = undefined
            out.append(Headline(label, float(r["mean"]), _hw(r["ci_lo"], r["ci_hi"]), kind, note, exact=not mc))

    runs_note = f"{n} runs" if mc else "exact expectation"
    if len(comp.strategies) > 1:
        rec = recommendation(t, base)
        dn = rec["npv_diff"]
        label = ("What to do: " + (f"switch to {rec['strategy']}" if rec["change"] else f"keep {base}")
                 + (f" (NPV vs {base})" if rec["change"] else f"; closest: {rec['closest']}"))
        out.append(Headline(label, float(dn[0]), _hw(dn[1], dn[2]), "money", rec["text"], exact=not mc))
        ds = rec["spend_diff"]
        if rec["change"] and rec["case"] in ("more", "less", "same"):
            out.append(Headline(f"What it costs: spend of {rec['strategy']} vs {base}", float(ds[0]),
                                _hw(ds[1], ds[2]), "money",
                                {"more": "more spend, present value", "less": "less spend (a saving), present value",
                                 "same": "the same spend, within 0.5%"}[rec["case"]], exact=not mc))
    level("npv", f"NPV of {base}", "money", f"{horizon_text}{runs_note}")
    level("clv_acquired", f"CLV per acquired customer ({base})", "money", "discounted, before acquisition cost",
          undefined=f"{base} acquires no customers")
    level("active_end", f"Active customers at the end ({base})", "count", runs_note)
    return out


def strategy_table(comp) -> ReportTable:
    """The decision table (:mod:`clmsim.decision`): per strategy NPV, spend, differences versus the
    baseline, the return on the change, wins and payback, with the footnotes."""
    from .. import decision

    t = comp.table()
    pv = comp.provenance
    unit = pv.get("period") or "period"
    rows = decision.decision_rows(t, comp.baseline)
    heads = decision.headers(comp.baseline, unit)
    cols = ["strategy", "npv", "pv_spend", "npv_diff", "spend_diff", "ret", "wins", "payback"]
    if not comp.monte_carlo:
        cols.remove("wins")
    display = pd.DataFrame(rows)[cols].rename(columns=heads)
    notes = decision.notes(comp.monte_carlo, comp.n_runs, int(pv.get("batches") or 1), pv.get("horizon"), unit,
                           has_spend=bool(t.loc[t["metric"] == "pv_spend", "mean"].notna().any()))
    return ReportTable("strategies", "Strategies compared", display, comp.summary(), " ".join(notes))


def segment_report_table(comp) -> ReportTable | None:
    """NPV by segment (:func:`clmsim.decision.segment_rows`): per strategy and segment NPV, the NPV
    difference versus the baseline's same segment and active customers at the end; None without
    segments."""
    from .. import decision

    seg = comp.segment_table()
    if not len(seg) or seg["segment"].nunique() < 2:
        return None
    heads = {k: v.format(b=comp.baseline) for k, v in decision.SEGMENT_HEADERS.items()}
    display = pd.DataFrame(decision.segment_rows(seg, comp.baseline)).rename(columns=heads)
    return ReportTable("segments", "NPV by segment", display, seg, decision.segment_note(comp.monte_carlo,
                                                                                          comp.n_runs))


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
                        extra_figures: Sequence[ReportFigure] = (), extra_provenance: dict | None = None,
                        paths: pd.DataFrame | None = None) -> Report:
    """A report of one Results object (e.g. a ``clmsim run`` directory).

    Shows the headline numbers and the decision table (when ``baseline`` is present), stage
    occupancy, the paired comparison, the CLV distribution (Monte Carlo only), value concentration
    (Lorenz curve and CLV pyramid, when the results hold per-customer CLV) and -- when the
    ``scenario`` is known -- the transition heatmap, stage flows, cohort heatmaps and the resolved
    scenario.
    ``paths``: batch paths (see :func:`comparison_of`). A figure of ``extra_figures`` replaces
    the report's own figure with the same key (e.g. the demo's Monte Carlo occupancy).
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
        comp = comparison_of(results, baseline, paths)
        rep.headlines = headlines(comp, horizon)
        rep.tables.append(strategy_table(comp))
        by_segment = segment_report_table(comp)
        if by_segment is not None:
            rep.tables.append(by_segment)
        if len(results.strategies) > 1:
            from ..plots import paired_differences
            rep.figures.append(figures.comparison_figure(paired_differences(results, "npv", baseline), baseline,
                                                         comp.n_runs if mc else 0))
            if has_periods:
                rep.figures.append(figures.cumulative_figure(results, baseline))
    else:
        missing.append(f"no '{baseline}' strategy in the results: headline numbers and comparisons need it")
    stages = figures.active_stages(model) if model is not None else None
    given = {f.key for f in extra_figures}
    if "occupancy" in given:
        pass
    elif has_periods:
        rep.figures.append(figures.occupancy_figure(results, results.strategies[:6], stages,
                                                    figures.model_colors(model)))
        if len(results.strategies) > 6:
            missing.append(f"stage occupancy is drawn for the first 6 of {len(results.strategies)} strategies")
    else:
        missing.append("stage occupancy and cumulative cash over time: these results hold per-run totals only "
                       "(no per-period table; `clmsim run ... --out DIR` writes one)")
    n_mc = int((results.runs["run"] >= 0).sum() / max(len(results.strategies), 1)) if mc else 0
    has_hist = len(results.clv_hist) > 0
    if "clv" in given:
        pass
    elif mc and not has_hist and n_mc < MIN_RUNS_FOR_HISTOGRAM:
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
    if has_periods and model is not None and baseline in results.strategies and "survival" not in given:
        surv = figures.analytic_survival(results, model, baseline)
        if surv is not None:
            rep.figures.append(surv)
    if model is not None:
        rep.figures += [figures.heatmap_figure(model), figures.flows_figure(model)]
    from .concentration import concentration_section  # Lorenz curve, CLV pyramid, cohort heatmaps
    section, gaps = concentration_section(results, model, [baseline] if baseline in results.strategies else None,
                                          skip=given)
    rep.figures += section
    missing += gaps
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
    paths = pd.read_parquet(d / PATHS_FILE) if (d / PATHS_FILE).exists() else None
    rep = report_from_results(res, sc, paths=paths)
    return write_report(rep, out if out is not None else d)
