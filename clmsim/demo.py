"""The demo (``make demo`` = ``clmsim demo``): the main job on the bundled telecom scenario.

Steps, each on common random numbers (one seed for every strategy, level and sample):

1. **compare** every strategy of the scenario with the fast engine (individual mode:
   every customer simulated), paired 95% intervals versus the baseline;
2. **survival** of a cohort of new customers, simulated and exact (analytic engine);
3. **sweep** one budget lever (the save-desk spend per declining customer) over a grid:
   NPV gain and ROI versus spending nothing, exact (analytic engine; the fast engine's
   counts mode, with paired intervals, when the analytic engine refuses the scenario);
4. **sensitivity** of baseline NPV to a few assumptions, each uniform on +-20% of its
   value as written: tornado, Morris screening and Sobol indices
   (:mod:`clmsim.analysis.sensitivity`), exact evaluations (analytic engine, same fallback).

It prints the headline table and writes ``OUT/report.html`` (with PNGs and CSVs),
the comparison's Results (``OUT/compare/``) and the experiment files it ran
(``OUT/sweep-experiment.yaml``, ``OUT/sensitivity-experiment.yaml``) so every number
can be reproduced with the ordinary commands. A step that cannot run in this
installation is skipped and the report says what is missing and why.
"""

from __future__ import annotations

import dataclasses
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable

import numpy as np
import pandas as pd

from .errors import ClmsimError
from .textable import format_table

SAVE_DESK = "retention.programs.save_desk.spend_per_customer"


@dataclass(frozen=True)
class DemoPlan:
    """What the demo runs. Defaults fit ``scenarios/telecom.yaml`` in about a minute on 2 cores.

    Attributes
    ----------
    scenario : str
        Scenario file.
    out : str
        Output directory.
    runs : int
        Monte Carlo runs per strategy in the comparison (individual mode).
    seed : int
        Seed of every step.
    lever : str
        Dotted path of the swept budget lever (spend per targeted customer per period).
    levels : tuple of float
        Lever values; the value as written is added when missing.
    sweep_runs : int
        Runs per level when the sweep falls back to the fast engine (counts mode).
    uncertain : tuple of str
        Dotted paths varied by the sensitivity analysis, each uniform on
        ``value * (1 -+ spread)``.
    spread : float
        Relative half-range of the uncertainties.
    morris_trajectories : int
        Morris trajectories (``r (d + 1)`` evaluations).
    sobol_samples : int
        Sobol base sample N (``N (d + 2)`` evaluations); 0 skips Sobol (the report then says how
        to run it).
    sensitivity_runs : int
        Runs per sensitivity evaluation when it falls back to the fast engine (same seed: CRN).
    exact_engine : str
        Engine of the sweep and sensitivity steps (``"analytic"``; ``"fast"`` forces Monte Carlo).
    het_nodes : int
        Gauss classes per segment when counts mode discretises continuous heterogeneity
        (0: the automatic count, :mod:`clmsim.engines.fast.het_classes`).
    cohort : int
        Cohort size for the survival curve.
    analytic : bool
        Overlay the exact survival curve (analytic engine).
    """

    scenario: str = "scenarios/telecom.yaml"
    out: str = "results/demo"
    runs: int = 30
    seed: int = 2026
    lever: str = SAVE_DESK
    levels: tuple = (0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 24.0, 32.0, 40.0)
    sweep_runs: int = 30
    uncertain: tuple = ("transitions.declining.churned", "transitions.growing.churned",
                        "stages.loyal.revenue.mean", "retention.programs.save_desk.effect.churn_reduction_max",
                        "winback.policies.reactivation_offer.success.base")
    spread: float = 0.2
    morris_trajectories: int = 10
    sobol_samples: int = 32
    sensitivity_runs: int = 5
    het_nodes: int = 0
    exact_engine: str = "analytic"
    cohort: int = 10_000
    analytic: bool = True


@dataclass
class DemoOutcome:
    """What the demo produced: the report path, the printed table and what was skipped."""

    report: Path
    table: str
    missing: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class _Step:
    """Times a step, prints its start and end, turns an unavailable feature into a 'missing' line."""

    def __init__(self, name: str, what: str, missing: list[str], seconds: dict, echo):
        self.name, self.what, self.missing, self.seconds, self.echo = name, what, missing, seconds, echo

    def __enter__(self):
        self.t0 = time.perf_counter()
        self.echo(f"[{self.name}] {self.what} ...")
        return self

    def __exit__(self, exc_type, exc, tb):
        dt = time.perf_counter() - self.t0
        self.seconds[self.name] = dt
        if exc_type is None:
            self.echo(f"[{self.name}] done in {dt:.1f} s")
            return False
        if issubclass(exc_type, (ClmsimError, ImportError)):
            msg = f"{self.name}: {exc}"
            self.missing.append(msg)
            self.echo(f"[{self.name}] skipped: {exc}")
            return True
        return False


def _experiment_file(path: Path, scenario: Path, body: dict) -> Path:
    from .scenario import dump_yaml

    data = {"scenario": str(scenario.resolve()), **body}
    path.write_text("# written by `clmsim demo`; rerun with the clmsim sweep/sensitivity commands\n"
                    + dump_yaml(data), encoding="utf-8")
    return path


def _value_at(data: dict, path: str) -> float:
    node = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ClmsimError(f"the demo's scenario has no field '{path}'")
        node = node[key]
    if isinstance(node, dict) and "mean" in node:
        node = node["mean"]
    if not isinstance(node, (int, float)) or isinstance(node, bool):
        raise ClmsimError(f"'{path}' is not a number in the demo's scenario")
    return float(node)


def run_compare(plan: DemoPlan, scenario):
    """Step 1: every strategy, fast engine, individual mode.

    One engine call per strategy (a progress bar on a terminal); run ``r`` of every
    strategy draws the same random streams, so the strategies stay paired (common
    random numbers) exactly as in a single call.
    """
    from tqdm.auto import tqdm

    from .engines import fast
    from .model import compile_model

    names = scenario.strategy_names
    results = None
    for name in tqdm(names, desc="strategies", unit="strategy", leave=False,
                     disable=not sys.stderr.isatty()):
        part = fast.simulate([compile_model(scenario, name)], runs=plan.runs, seed=plan.seed,
                             mode="individual")
        results = part if results is None else results.combine(part)
    results.provenance["strategies"] = list(names)
    return results


def cohort_model(model, size: int):
    """``model`` with only a cohort of ``size`` customers in its entry stage at time 0 and no
    acquisition or referrals, for survival curves."""
    from .report.figures import entry_stage

    entry = entry_stage(model)
    initial = np.zeros_like(model.initial)
    initial[:, entry] = np.asarray(model.segment_share, dtype=float) * size
    initial[:, entry] = np.floor(initial[:, entry])
    initial[0, entry] += size - initial[:, entry].sum()
    return dataclasses.replace(model, initial=initial, channels=(), referral=None), entry


def run_survival(plan: DemoPlan, scenario, missing: list[str]):
    """Step 2: surviving share of a cohort, simulated (fast, individual) and exact (analytic)."""
    from .engines import fast
    from .model import compile_model

    model, _ = cohort_model(compile_model(scenario), plan.cohort)
    active = model.active
    runs = max(10, plan.runs // 2)
    res = fast.simulate([model], runs=runs, seed=plan.seed, mode="individual")
    occ = res.occupancy(model.strategy)
    names = [n for n, a in zip(model.stage_names, active) if a]
    t = occ.index.to_numpy()
    simulated = occ[names].sum(axis=1).to_numpy(float) / plan.cohort
    analytic = None
    if plan.analytic:
        try:
            from .engines import analytic as an

            ex = an.simulate([model], runs=1, seed=None)
            analytic = ex.occupancy(model.strategy)[names].sum(axis=1).reindex(t).to_numpy(float) / plan.cohort
        except (ClmsimError, ImportError) as exc:
            missing.append(f"survival: exact curve not drawn ({exc})")
    else:
        missing.append("survival: exact curve not drawn (analytic overlay switched off)")
    return t, simulated, analytic, runs


def _engine_body(plan: DemoPlan, engine: str, runs: int) -> dict:
    if engine == "analytic":
        return {"runs": 1, "seed": plan.seed, "engine": "analytic"}
    return {"runs": runs, "seed": plan.seed, "engine": "fast", "mode": "counts",
            "engine_options": {"het_nodes": plan.het_nodes}}


def with_fallback(plan: DemoPlan, step: Callable[[str], object], missing: list[str], name: str):
    """Run ``step(engine)`` with the exact engine; when it refuses the scenario
    (:class:`UnsupportedFeature`), run it again with the fast engine and say so."""
    from .errors import UnsupportedFeature

    try:
        return step(plan.exact_engine), plan.exact_engine
    except UnsupportedFeature as exc:
        if plan.exact_engine == "fast":
            raise
        missing.append(f"{name}: exact values not available ({exc}); Monte Carlo (fast engine, counts mode) used")
        return step("fast"), "fast"


def run_sweep(plan: DemoPlan, scenario, out: Path, engine: str = "analytic"):
    """Step 3: the lever over its levels (common random numbers for Monte Carlo).

    Returns ``(table, nominal, reference, best)``: per level the NPV gain and ROI versus the
    reference level (0 = program off when 0 is a level, else the value as written), and the
    level with the highest NPV with its gain over the value as written.
    """
    from .analysis.compare import Comparison, add_total_spend
    from .analysis.sweep import sweep

    nominal = _value_at(scenario.data, plan.lever)
    levels = sorted(set(float(v) for v in plan.levels) | {nominal})
    exp = _experiment_file(out / "sweep-experiment.yaml", Path(scenario.source), {
        "name": "demo-sweep", "strategies": ["baseline"], "levers": {plan.lever: levels},
        **_engine_body(plan, engine, plan.sweep_runs)})
    sdir = out / "sweep"
    if (sdir / "manifest.json").exists():  # a previous demo's sweep: start afresh if settings changed
        import json
        import shutil

        old = json.loads((sdir / "manifest.json").read_text())
        if (old.get("runs") != (1 if engine == "analytic" else plan.sweep_runs) or old.get("seed") != plan.seed
                or old.get("points") != len(levels) or old.get("engine") != engine):
            shutil.rmtree(sdir)
    sw = sweep(exp, sdir, backend="serial", command=["clmsim", "demo"])
    mc = engine != "analytic"
    runs = sw.runs.merge(sw.points[["experiment", plan.lever]], on="experiment")
    runs["strategy"] = runs[plan.lever].map(lambda v: f"{v:g}")
    runs = add_total_spend(runs.drop(columns=["experiment", plan.lever]))
    reference = 0.0 if 0.0 in levels else nominal

    def summary(ref: float) -> pd.DataFrame:
        s = Comparison(runs, f"{ref:g}", {"monte_carlo": mc}).summary()
        s["value"] = s["strategy"].astype(float)
        for c in ("d_npv", "d_npv_lo", "d_npv_hi", "roi", "roi_lo", "roi_hi", "win_share"):
            if c not in s.columns:
                s[c] = np.nan
            s.loc[s["value"] == ref, c] = 0.0 if c.startswith("d_npv") else np.nan
        return s.sort_values("value").reset_index(drop=True)

    table = summary(reference)
    if not mc:  # exact values: no interval
        table[["d_npv_lo", "d_npv_hi", "roi_lo", "roi_hi"]] = np.nan
    vs_nominal = summary(nominal)
    vs_nominal["exact"] = not mc
    best = vs_nominal.loc[vs_nominal["d_npv"].idxmax()]
    return table, nominal, reference, best


def run_sensitivity(plan: DemoPlan, scenario, out: Path, engine: str = "analytic"):
    """Step 4: tornado (and Sobol) of baseline NPV over +-spread of each uncertain value."""
    from .analysis.sensitivity import sensitivity

    unc = {}
    for p in plan.uncertain:
        v = _value_at(scenario.data, p)
        lo, hi = sorted((v * (1 - plan.spread), v * (1 + plan.spread)))
        unc[p] = {"dist": "uniform", "low": lo, "high": hi}
    methods = ["tornado", "morris"] + (["sobol"] if plan.sobol_samples else [])
    exp = _experiment_file(out / "sensitivity-experiment.yaml", Path(scenario.source), {
        "name": "demo-sensitivity", "strategies": ["baseline"], "uncertainties": unc,
        **_engine_body(plan, engine, plan.sensitivity_runs),
        "sensitivity": {"methods": methods, "samples": max(plan.sobol_samples, 4),
                        "trajectories": plan.morris_trajectories, "strategy": "baseline", "metric": "npv"}})
    opts = {} if engine == "analytic" else {"het_nodes": plan.het_nodes}
    return sensitivity(exp, methods, samples=max(plan.sobol_samples, 4), trajectories=plan.morris_trajectories,
                       **opts), exp


def headline_table(comp) -> str:
    """The terminal table of the comparison."""
    from .report.build import text_summary

    whole = lambda x: "" if x != x else f"{x:.0%}"  # noqa: E731
    return format_table(text_summary(comp), {"npv": "pm", "d_npv": "pm", "roi": "percent", "win": whole,
                                              "spend": "money", "d_spend": "money"},
                        columns=["strategy", "npv", "d_npv", "roi", "win", "spend", "d_spend"],
                        headers={"npv": "NPV \u00b1 95%", "d_npv": f"NPV vs {comp.baseline} \u00b1 95%",
                                 "roi": "ROI", "win": "wins", "spend": "total spend",
                                 "d_spend": f"spend vs {comp.baseline}"})


def run_demo(plan: DemoPlan = DemoPlan(), echo: Callable[[str], None] | None = None) -> DemoOutcome:
    """Run every step of the demo and write the report (see the module docstring)."""
    from .report import figures
    from .report.build import comparison_of, report_from_results
    from .report.html import write_report
    from .scenario import load_scenario

    echo = echo or (lambda s: print(s, file=sys.stderr, flush=True))
    t_all = time.perf_counter()
    if not Path(plan.scenario).is_file():
        raise ClmsimError(f"scenario file not found: {plan.scenario} (run the demo from the project root)")
    out = Path(plan.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClmsimError(f"cannot create {out}: {exc.strerror}") from None
    scenario = load_scenario(plan.scenario)
    missing: list[str] = []
    seconds: dict[str, float] = {}
    extra: list = []
    sweep_df, nominal = None, None

    with _Step("compare", f"{len(scenario.strategy_names)} strategies x {plan.runs} runs, fast engine "
               "(individual mode), common random numbers", missing, seconds, echo):
        results = run_compare(plan, scenario)
        results.to_parquet(out / "compare")
    if "compare" in seconds and not any(m.startswith("compare:") for m in missing):
        comp = comparison_of(results)
        table = headline_table(comp)
    else:
        raise ClmsimError("the strategy comparison could not run: " + "; ".join(missing))

    with _Step("survival", f"a cohort of {plan.cohort:,} new customers, simulated and exact", missing,
               seconds, echo):
        t, sim, exact, n = run_survival(plan, scenario, missing)
        extra.append(figures.survival_figure(t, sim, exact, plan.cohort, results.provenance.get("period", "period"),
                                             n))
    with _Step("sweep", f"{plan.lever} over {len(plan.levels)} levels ({plan.exact_engine} engine)",
               missing, seconds, echo):
        (sweep_df, nominal, reference, best), sweep_engine = with_fallback(
            plan, lambda e: run_sweep(plan, scenario, out, e), missing, "sweep")
        ref_text = (f"spending nothing on it ({reference:g})" if reference == 0 and reference != nominal
                    else f"the value as written ({nominal:g})")
        extra.append(figures.sweep_figure(sweep_df, _lever_label(plan.lever), nominal,
                                          "no spend" if reference == 0 else f"as written ({nominal:g})", ref_text,
                                          exact=sweep_engine == "analytic"))
    with _Step("sensitivity", f"tornado, Morris{' and Sobol' if plan.sobol_samples else ''} of baseline NPV "
               f"over \u00b1{plan.spread:.0%} of {len(plan.uncertain)} assumptions ({plan.exact_engine} engine)",
               missing, seconds, echo):
        (sens, sens_file), sens_engine = with_fallback(
            plan, lambda e: run_sensitivity(plan, scenario, out, e), missing, "sensitivity")
        tor = sens.tornado.rename(columns={"low": "low_value", "high": "high_value"}).rename(
            columns={"y_low": "low", "y_high": "high"})
        extra.append(figures.tornado_figure(tor, float(sens.tornado["y_nominal"].iloc[0])))
        if len(sens.sobol):
            sob = sens.sobol.copy()
            for k in ("S1", "ST"):
                if f"{k}_conf" not in sob.columns and f"{k}_lo" in sob.columns:
                    sob[f"{k}_conf"] = (sob[f"{k}_hi"] - sob[f"{k}_lo"]) / 2
            extra.append(figures.sobol_figure(sob, n=sens.info.get("evaluations")))
        else:
            d = len(plan.uncertain)
            missing.append(f"Sobol indices: skipped (--sobol 0); run `clmsim sensitivity {sens_file}` for them "
                           f"({d + 2} evaluations per base sample)")
        if len(sens.morris):
            extra.append(figures.morris_figure(sens.morris, n=sens.info.get("evaluations")))

    with _Step("report", f"writing {out / 'report.html'}", missing, seconds, echo):
        rep = report_from_results(results, scenario, title=f"clmsim demo: {scenario.name}", missing=missing,
                                  extra_figures=extra, extra_provenance={
                                      "demo_seconds": {k: round(v, 1) for k, v in seconds.items()},
                                      "command": "clmsim demo " + " ".join(sys.argv[2:]) if len(sys.argv) > 1
                                      else "clmsim demo"})
        rank = {k: i for i, k in enumerate(FIGURE_ORDER)}
        rep.figures.sort(key=lambda f: rank.get(f.key, len(rank)))
        if sweep_df is not None:
            rep.headlines.insert(2, sweep_headline(best, _lever_label(plan.lever), nominal))
        path = write_report(rep, out)
    seconds["total"] = time.perf_counter() - t_all
    return DemoOutcome(path, table, missing, seconds)


FIGURE_ORDER = ("compare_npv", "cumulative", "sweep", "occupancy", "clv", "survival", "tornado", "morris", "sobol",
                "transitions", "flows")
"""Order of the figures in the demo report: the decision first, the mechanics last."""


def sweep_headline(best, label: str, nominal: float):
    """Headline: the lever level with the highest mean NPV and its paired gain over the level as written."""
    from .report.html import Headline

    exact = bool(best.get("exact", False))
    hw = None if exact else (best["d_npv_hi"] - best["d_npv_lo"]) / 2
    if best["value"] == nominal:
        return Headline(f"Best {label}: {nominal:g} (as written)", 0.0, None, "money",
                        "no level of the sweep beats the value as written", exact=exact)
    return Headline(f"Best {label}: {best['value']:g} (as written {nominal:g})", float(best["d_npv"]),
                    hw, "money", "NPV gain vs as written" + ("" if exact else ", paired over runs"), exact=exact)


def _lever_label(path: str) -> str:
    parts = path.split(".")
    if len(parts) >= 4 and parts[0] == "retention":
        return f"{parts[2].replace('_', ' ')} spend per customer"
    return path
