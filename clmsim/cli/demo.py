"""The demo (``make demo`` = ``clmsim demo``): the main job, run from the plan in
``clmsim/data/demo.yaml`` (:mod:`clmsim.scenario.demo_plan`; nothing about the scenario is
written here). Steps, each on one seed (common random numbers):

1. **decide** -- every strategy against the baseline, exact (analytic engine): the decision
   table and the headline "what to do and what it costs";
1b. **head to head** -- strategies against another strategy than the baseline (the plan's
   ``head_to_head``, e.g. a risk-targeted save offer against the untargeted one at the same
   budget), from step 1's results: "same spend, NPV +/-..." when the two spend the same;
2. **margins** -- the marginal return of every spend lever at the plan, exact: where the next
   unit of spend goes;
3. **simulate** -- Monte Carlo (fast engine): the spread of the customer base over runs, the
   value of individual customers, and a cohort of new customers against its exact survival.
   These are quantities the exact engine does not give; no number of the decision table is
   repeated as a second, Monte Carlo answer;
4. **sweep** -- one budget lever over levels, exact: NPV and the return of each step of spend;
5. **how sure** -- the plan's uncertain inputs varied together: the probability that each
   strategy is best, which input flips the ranking of the two best, and optionally Sobol
   indices of their NPV difference.

Exact steps fall back to the fast engine's counts mode when the analytic engine refuses the
scenario, and the report says so. The demo prints the headline and the decision table and
writes ``OUT/report.html`` with its figures and CSVs, the exact results (``OUT/decide/``) and
the experiment files it ran (``OUT/sweep-experiment.yaml``, ``OUT/sensitivity-experiment.yaml``),
so every number can be reproduced with the ordinary commands. A step that cannot run in this
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

from ..errors import ClmsimError, UnsupportedFeature


@dataclass
class DemoOutcome:
    """What the demo produced: the report path, the printed text and what was skipped."""

    report: Path
    text: str
    missing: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)


class _Step:
    """Times a step, prints its start and end, turns an unavailable feature into a 'missing' line."""

    def __init__(self, name: str, what: str, missing: list[str], seconds: dict, echo, required: bool = False):
        self.name, self.what, self.missing, self.seconds, self.echo = name, what, missing, seconds, echo
        self.required = required

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
        if issubclass(exc_type, (ClmsimError, ImportError)) and not self.required:
            self.missing.append(f"{self.name}: {exc}")
            self.echo(f"[{self.name}] skipped: {exc}")
            return True
        return False


def _experiment_file(path: Path, scenario, body: dict) -> Path:
    from ..scenario import dump_yaml

    data = {"scenario": str(Path(scenario.source).resolve()), **body}
    path.write_text("# written by `clmsim demo`; rerun with the clmsim sweep/sensitivity commands\n"
                    + dump_yaml(data), encoding="utf-8")
    return path


def value_at(data: dict, path: str) -> float:
    """The number at a dotted path of the scenario (the mean of a ``{mean, cv}`` field)."""
    node = data
    for key in path.split("."):
        if not isinstance(node, dict) or key not in node:
            raise ClmsimError(f"the demo's scenario has no field '{path}' (the demo plan names it)")
        node = node[key]
    if isinstance(node, dict) and "mean" in node:
        node = node["mean"]
    if not isinstance(node, (int, float)) or isinstance(node, bool):
        raise ClmsimError(f"'{path}' is not a number in the demo's scenario")
    return float(node)


def cohort_model(model, size: int):
    """``model`` with only a cohort of ``size`` customers in its entry stage at time 0 and no
    acquisition or referrals, for survival curves."""
    from ..report.figures import entry_stage

    entry = entry_stage(model)
    initial = np.zeros_like(model.initial)
    initial[:, entry] = np.floor(np.asarray(model.segment_share, dtype=float) * size)
    initial[0, entry] += size - initial[:, entry].sum()
    return dataclasses.replace(model, initial=initial, channels=(), referral=None), entry


def with_fallback(step: Callable[[str], object], missing: list[str], name: str):
    """``step("analytic")``; when the analytic engine refuses the scenario, ``step("fast")`` and a note."""
    try:
        return step("analytic"), "analytic"
    except UnsupportedFeature as exc:
        missing.append(f"{name}: exact values not available ({exc}); Monte Carlo means (fast engine, counts "
                       "mode) used instead")
        return step("fast"), "fast"


# ---------------------------------------------------------------------------- steps
def decide(plan, scenario, engine: str):
    """Step 1: every strategy, ``(results, paths)`` of the decision (exact, or Monte Carlo in batches)."""
    from ..analysis.compare import simulate_in_batches
    from ..api import compile_strategies
    from ..metrics import paths_from_periods, results_discount_factors

    models = compile_strategies(scenario)
    if plan.baseline not in scenario.strategy_names:
        raise ClmsimError(f"the demo plan's baseline '{plan.baseline}' is not a strategy of the scenario")
    if engine == "analytic":
        from ..analysis import runner

        res = runner.engine_module("analytic").simulate(models, runs=1, seed=None)
        return res, paths_from_periods(res.periods, results_discount_factors(res))
    return simulate_in_batches(models, "fast", plan.fallback_runs, plan.seed, mode="counts")


def head_to_head(results, paths, entry, scenario) -> tuple[str, list[str], pd.DataFrame, pd.DataFrame]:
    """Step 1b: ``entry.strategies`` against ``entry.against`` on step 1's results: the decision
    table with ``entry.against`` as the reference (text), one headline line per strategy ("same
    spend, NPV -5.84M" when the present values of spend agree within :data:`clmsim.metrics.EQUAL_SPEND`),
    and the rows as display and raw tables."""
    from ..decision import decision_rows, decision_text, headers
    from ..report.build import comparison_of

    names = [entry.against, *entry.strategies]
    unknown = [n for n in names if n not in scenario.strategy_names]
    if unknown:
        raise ClmsimError(f"head to head '{entry.title}': no strategy {', '.join(map(repr, unknown))} in the "
                          f"scenario (have: {', '.join(scenario.strategy_names)})")
    comp = comparison_of(results, entry.against, paths)
    table = comp.table()
    table = table[table["strategy"].isin(names)]
    text = f"{entry.title} (against {entry.against}):\n" + decision_text(table, comp.provenance, entry.against,
                                                                        comp.n_runs)
    rows = decision_rows(table, entry.against)
    lines = [f"{entry.title}: {r['strategy']} against {entry.against}: {r['ret']}." for r in rows
             if r["strategy"] != entry.against]
    head = headers(entry.against, results.provenance.get("period", "period"))
    cols = ["strategy", "npv", "pv_spend", "npv_diff", "spend_diff", "ret"]
    display = pd.DataFrame([{head[c]: r[c] for c in cols} for r in rows])
    return text, lines, display, table


def simulate(plan, scenario, strategies: list[str], missing: list[str]):
    """Step 3: Monte Carlo of ``strategies`` and a cohort against its exact survival."""
    from ..api import compile_strategies
    from ..engines import fast

    sim = plan.simulate
    results = fast.simulate(compile_strategies(scenario, strategies), runs=sim.runs, seed=plan.seed, mode=sim.mode)
    model, _ = cohort_model(compile_strategies(scenario, [plan.baseline])[0], sim.cohort)
    runs = max(10, sim.runs // 2)
    res = fast.simulate([model], runs=runs, seed=plan.seed, mode=sim.mode)
    names = [n for n, a in zip(model.stage_names, model.active) if a]
    occ = res.occupancy(model.strategy)
    t = occ.index.to_numpy()
    simulated = occ[names].sum(axis=1).to_numpy(float) / sim.cohort
    exact = None
    try:
        from ..engines import analytic

        ex = analytic.simulate([model], runs=1, seed=None)
        exact = ex.occupancy(model.strategy)[names].sum(axis=1).reindex(t).to_numpy(float) / sim.cohort
    except (ClmsimError, ImportError) as exc:
        missing.append(f"survival: exact curve not drawn ({exc})")
    return results, (t, simulated, exact, runs)


def sweep_levels(plan, scenario, out: Path, engine: str) -> tuple[pd.DataFrame, float]:
    """Step 4: the plan's lever over its levels; per level ``value``, ``npv``, ``pv_spend``
    (the value as written is added when missing). Returns ``(levels, value as written)``."""
    import json
    import shutil

    from ..analysis.robustness import pv_spend_by_point
    from ..analysis.sweep import sweep
    from ..scenario.experiment import load_experiment

    lever = plan.sweep.lever
    nominal = value_at(scenario.data, lever)
    levels = sorted(set(float(v) for v in plan.sweep.levels) | {nominal})
    body = {"name": "demo-sweep", "strategies": [plan.baseline], "baseline": plan.baseline,
            "levers": {lever: levels}, "seed": plan.seed, "periods": True}
    body.update({"runs": 1, "engine": "analytic"} if engine == "analytic" else
                {"runs": plan.fallback_runs, "engine": "fast", "mode": "counts"})
    exp = _experiment_file(out / "sweep-experiment.yaml", scenario, body)
    sdir = out / "sweep"
    if (sdir / "manifest.json").exists():  # a previous demo's sweep: start afresh if anything changed
        try:
            old = json.loads((sdir / "manifest.json").read_text())
        except (OSError, ValueError):
            old = {}
        parts = old.get("fingerprint_parts") or {}
        spec = load_experiment(exp)
        if (old.get("runs") != body["runs"] or old.get("seed") != plan.seed or old.get("points") != len(levels)
                or old.get("engine") != engine or parts.get("scenario_hash") != spec.scenario.hash
                or parts.get("experiment") != json.loads(json.dumps(spec.plain(), default=str))):
            shutil.rmtree(sdir)   # the demo's own output (results/demo/sweep), rebuilt from the plan
    sw = sweep(exp, sdir, backend="serial", command=["clmsim", "demo"])
    npv = sw.runs.groupby("experiment")["npv"].mean().rename("npv").reset_index()
    pv = pv_spend_by_point(sw.periods)[["experiment", "pv_spend"]]
    df = sw.points[["experiment", sw.column(lever)]].rename(columns={sw.column(lever): "value"}).merge(npv).merge(pv)
    return df.sort_values("value").reset_index(drop=True), nominal


def how_sure(plan, scenario, out: Path, engine: str, lead: str, second: str):
    """Step 5: ranking of the strategies over sampled inputs (and, optionally, Sobol indices of the
    NPV difference of the two best). Returns ``(ranking, sobol or None, experiment file)``."""
    from ..analysis.sensitivity import ranking, sensitivity

    sens = plan.sensitivity
    unc = {}
    for p in sens.uncertain:
        v = value_at(scenario.data, p)
        lo, hi = sorted((v * (1 - sens.spread), v * (1 + sens.spread)))
        unc[p] = {"dist": "uniform", "low": lo, "high": hi}
    # the experiment's baseline is the runner-up, so npv_diff = NPV(leader) - NPV(runner-up)
    body = {"name": "demo-sensitivity", "baseline": second, "uncertainties": unc,
            "sampling": {"method": "lhs", "samples": sens.samples}, "seed": plan.seed}
    body.update({"runs": 1, "engine": "analytic"} if engine == "analytic" else
                {"runs": plan.fallback_runs, "engine": "fast", "mode": "counts"})
    if sens.sobol_samples:
        body["sensitivity"] = {"methods": ["sobol"], "samples": sens.sobol_samples, "strategy": lead,
                               "metric": "npv_diff"}
    exp = _experiment_file(out / "sensitivity-experiment.yaml", scenario, body)
    rank = ranking(exp)
    sob = sensitivity(exp, ["sobol"]) if sens.sobol_samples else None
    return rank, sob, exp


# ---------------------------------------------------------------------------- text
def headline_text(table: pd.DataFrame, baseline: str, margins=None, rank=None, unit: str = "period") -> list[str]:
    """The demo's headline lines: what to do and what it costs, where the next unit of spend goes,
    how sure the choice is."""
    from ..decision import margin_advice, recommendation

    lines = ["What to do: " + recommendation(table, baseline)["text"]]
    if margins is not None and len(margins.table):
        advice = margin_advice(margins.table, lambda path: path.split(".")[-2])
        lines.append(advice[0][0].upper() + advice[0][1:] + "".join(f"; {a}" for a in advice[1:]) + ".")
    if rank is not None:
        top = rank.table.iloc[0]
        info = rank.info
        text = (f"How sure: {top['strategy']} is best in {top['p_best']:.0%} of {info['samples']} sampled states of "
                "the world")
        flips = rank.flips[rank.flips["flips"]]
        if len(flips):
            f = flips.iloc[0]
            text += (f"; {f['parameter']} at {f['flip_value']:.3g} (as written {f['nominal']:.3g}) alone flips "
                     f"{info['leader']} and {info['runner_up']}")
        else:
            text += f"; no input alone flips {info['leader']} and {info['runner_up']} within its range"
        lines.append(text + ".")
    return lines


def run_demo(plan, echo: Callable[[str], None] | None = None) -> DemoOutcome:
    """Run every step of the demo and write the report (see the module docstring)."""
    from .. import decision
    from ..plots.budget import incremental_returns, stops_paying
    from ..report import figures
    from ..report.build import comparison_of, report_from_results
    from ..report.html import Headline, ReportTable, write_report
    from ..scenario import load_scenario
    from ..decision import decision_text

    echo = echo or (lambda s: print(s, file=sys.stderr, flush=True))
    t_all = time.perf_counter()
    if not Path(plan.scenario).is_file():
        raise ClmsimError(f"scenario file not found: {plan.scenario} (run the demo from the project root, or "
                          "give --scenario)")
    out = Path(plan.out)
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ClmsimError(f"cannot create {out}: {exc.strerror}") from None
    scenario = load_scenario(plan.scenario)
    missing: list[str] = []
    seconds: dict[str, float] = {}
    extra: list = []
    tables: list = []
    marg = rank = levels = None
    nominal = float("nan")

    with _Step("decide", f"{len(scenario.strategy_names)} strategies against {plan.baseline}, exact (analytic "
               "engine)", missing, seconds, echo, required=True):
        (results, paths), _ = with_fallback(lambda e: decide(plan, scenario, e), missing, "decide")
        results.to_parquet(out / "decide")
    comp = comparison_of(results, plan.baseline, paths)
    table = comp.table()
    unit = results.provenance.get("period", "period")
    rec = decision.recommendation(table, plan.baseline)
    npv = table[(table["kind"] == "level") & (table["metric"] == "npv")].set_index("strategy")["mean"]
    order = npv.sort_values(ascending=False, kind="stable").index.tolist()
    h2h_text, h2h_lines = [], []
    for entry in plan.head_to_head:
        with _Step("head to head", f"{entry.title}: {', '.join(entry.strategies)} against {entry.against}", missing,
                   seconds, echo):
            text, found, display, raw = head_to_head(results, paths, entry, scenario)
            h2h_text.append(text)
            h2h_lines += found
            tables.append(ReportTable(f"head_to_head_{len(h2h_text)}", f"{entry.title} (against {entry.against})",
                                      display, raw, f"each strategy against {entry.against} instead of "
                                      f"{plan.baseline}; 'same spend' when the present values of spend differ by "
                                      "at most 0.5% of the larger."))

    with _Step("margins", f"marginal return of every spend lever of {plan.margins.strategy}, exact", missing,
               seconds, echo):
        from ..analysis.margins import margins

        marg = margins(scenario, plan.margins.strategy, rel_step=plan.margins.rel_step)
        extra.append(figures.margins_figure(marg.table))
        tables.append(ReportTable("margins_table", f"Marginal returns at the plan ({plan.margins.strategy})",
                                  _margins_display(marg.table), marg.table,
                                  "marginal return = extra NPV per extra 1 of spend (present value) for a 1% change "
                                  "of one lever, exact; 0% is break-even; it holds for the next units only; error = "
                                  "finite-difference error; room = extra spend (present value) the lever can take "
                                  "before its cap (a win-back coverage of 1)."))

    strategies = plan.simulate.strategies or list(dict.fromkeys([plan.baseline, rec["strategy"]]))
    with _Step("simulate", f"{len(strategies)} strateg{'y' if len(strategies) == 1 else 'ies'} x "
               f"{plan.simulate.runs} runs, fast engine ({plan.simulate.mode} mode), and a cohort of "
               f"{plan.simulate.cohort:,} new customers", missing, seconds, echo):
        mc, (t, sim, exact, n) = simulate(plan, scenario, strategies, missing)
        from ..model import compile_model

        model = compile_model(scenario, plan.baseline)
        extra.append(figures.occupancy_figure(mc, strategies, figures.active_stages(model),
                                              figures.model_colors(model)))
        try:
            exact_clv = table[(table["strategy"] == strategies[0]) & (table["metric"] == "clv_acquired")]["mean"]
            extra.append(figures.clv_figure(mc, strategies[:1], exact=float(exact_clv.iloc[0])))
        except ClmsimError as exc:
            missing.append(f"CLV distribution: {exc}")
        extra.append(figures.survival_figure(t, sim, exact, plan.simulate.cohort, unit, n))
        from ..report.concentration import concentration_section

        conc, gaps = concentration_section(mc, None, strategies[:1])  # Lorenz curve, CLV pyramid
        extra += conc
        missing += gaps

    lever = figures.path_label(plan.sweep.lever)
    with _Step("sweep", f"{plan.sweep.lever} over {len(plan.sweep.levels)} levels, exact", missing, seconds, echo):
        (levels, nominal), sweep_engine = with_fallback(lambda e: sweep_levels(plan, scenario, out, e), missing,
                                                        "sweep")
        extra.append(figures.sweep_figure(levels, lever, nominal, exact=sweep_engine == "analytic"))
    with _Step("how sure", f"{len(plan.sensitivity.uncertain)} inputs +-{plan.sensitivity.spread:.0%} over "
               f"{plan.sensitivity.samples} sampled states of the world, exact", missing, seconds, echo):
        (rank, sob, sens_file), _ = with_fallback(
            lambda e: how_sure(plan, scenario, out, e, order[0], order[1]), missing, "how sure")
        spread = f"each uniform on \u00b1{plan.sensitivity.spread:.0%} of its value as written"
        extra.append(figures.ranking_figure(rank.table, rank.info["samples"], spread))
        fl = rank.flips.rename(columns={"diff_low": "y_low", "diff_high": "y_high", "low": "low_value",
                                        "high": "high_value"}).rename(columns={"y_low": "low", "y_high": "high"})
        extra.append(figures.tornado_figure(fl, float(rank.flips["diff_nominal"].iloc[0]), "NPV difference",
                                            decision=f"{rank.info['leader']} and {rank.info['runner_up']}"))
        tables.append(ReportTable("ranking_table", "How sure is the choice?", _ranking_display(rank.table), rank.table,
                                  f"Over {rank.info['samples']} sampled states of the world ({spread}); p_best = "
                                  "share in which the strategy has the highest NPV, with its Wilson 95% interval."))
        if sob is not None:
            sobol = sob.sobol.assign(S1_conf=(sob.sobol["S1_hi"] - sob.sobol["S1_lo"]) / 2,
                                     ST_conf=(sob.sobol["ST_hi"] - sob.sobol["ST_lo"]) / 2)
            extra.append(figures.sobol_figure(sobol, "the NPV difference", n=sob.info.get("evaluations"),
                                              warnings=sob.info.get("warnings", ())))
            missing += [f"Sobol: {w}" for w in sob.info.get("warnings", [])]
        else:
            missing.append(f"Sobol indices of the NPV difference of the two best strategies: not run (demo plan "
                           f"sensitivity.sobol_samples = 0); `clmsim sensitivity {sens_file} --method sobol "
                           f"--samples 256 --strategy {order[0]} --metric npv_diff` computes them")

    lines = headline_text(table, plan.baseline, marg, rank, unit) + h2h_lines
    best_level = None
    if levels is not None:
        best_level = levels.loc[levels["npv"].idxmax()]
        gain = float(best_level["npv"] - levels.loc[levels["value"] == nominal, "npv"].iloc[0])
        beyond = stops_paying(incremental_returns(levels["value"], levels["npv"], levels["pv_spend"]))
        steps = (f"steps of spend pay up to {beyond:g} and lose beyond it" if beyond is not None else
                 "no step of spend changes from paying to losing")
        change = rec["npv_diff"][0] if rec["change"] else 0.0
        if best_level["value"] != nominal and gain > change:
            lines.append(f"Better than any strategy compared: {lever} at {best_level['value']:g} instead of "
                         f"{nominal:g} adds {decision.money(gain, sign=True)} of NPV ({steps}).")
        elif best_level["value"] != nominal:
            lines.append(f"Sweep of {lever}: {steps}; the best level, {best_level['value']:g}, adds "
                         f"{decision.money(gain, sign=True)} of NPV over the {nominal:g} as written.")
        else:
            lines.append(f"Sweep of {lever}: {steps}; the level as written, {nominal:g}, is the best tried.")
    with _Step("report", f"writing {out / 'report.html'}", missing, seconds, echo, required=True):
        rep = report_from_results(results, scenario, baseline=plan.baseline,
                                  title=f"clmsim demo: {scenario.name}", missing=missing, extra_figures=extra,
                                  paths=paths, extra_provenance={
                                      "demo_seconds": {k: round(v, 1) for k, v in seconds.items()},
                                      "monte_carlo_step": f"fast engine, {plan.simulate.mode} mode, "
                                                          f"{plan.simulate.runs} runs, seed {plan.seed}",
                                      "command": "clmsim demo " + " ".join(sys.argv[2:]) if len(sys.argv) > 1
                                      else "clmsim demo"})
        rep.tables += tables
        if best_level is not None:
            rep.headlines.insert(3, Headline(f"Best {lever}: {best_level['value']:g} (as written {nominal:g})",
                                             gain, None, "money", "NPV gain over the level as written", exact=True))
        if marg is not None:
            advice = decision.margin_advice(marg.table, lambda path: figures.path_label(path).split(":")[0])
            go = decision.with_room(marg.table)
            best = go.iloc[0] if len(go) else marg.best()
            note = "marginal return: NPV on top of each extra 1 spent there"
            if len(go) and np.isfinite(best["room"]):
                note += "; " + decision.room_clause(best)
            rep.headlines.insert(1, Headline(f"Next unit of spend: {figures.path_label(best['lever'])}",
                                             float(best["marginal_return"]), None, "percent",
                                             note + ". " + "; ".join(advice[1:] if len(go) else advice), exact=True))
        if rank is not None:
            top = rank.table.iloc[0]
            rep.headlines.insert(2, Headline(f"How sure: {top['strategy']} is best in", float(top["p_best"]), None,
                                             "percent", f"of {rank.info['samples']} sampled states of the world "
                                             f"(95% interval {top['p_best_lo']:.0%} to {top['p_best_hi']:.0%})"))
        rank_order = {k: i for i, k in enumerate(FIGURE_ORDER)}
        rep.figures.sort(key=lambda f: rank_order.get(f.key, len(rank_order)))
        path = write_report(rep, out)
    seconds["total"] = time.perf_counter() - t_all
    text = "\n\n".join(["\n".join(lines), decision_text(table, comp.provenance, plan.baseline, comp.n_runs),
                        *h2h_text])
    return DemoOutcome(path, text, missing, seconds)


FIGURE_ORDER = ("compare_npv", "cumulative", "margins", "sweep", "ranking", "tornado", "sobol", "occupancy", "clv",
                "lorenz", "pyramid", "survival", "cohorts", "transitions", "flows")
"""Order of the figures in the demo report: the decision first, the mechanics last."""


def _margins_display(table: pd.DataFrame) -> pd.DataFrame:
    from ..decision import money, percent, room_text
    from ..report.figures import path_label

    return pd.DataFrame([{"lever": path_label(r.lever), "spend now (PV)": money(r.pv_spend),
                          "marginal return": percent(r.marginal_return),
                          "error": "< 0.01%" if r.error < 1e-4 else percent(r.error), "room (PV)": room_text(r)}
                         for r in table.itertuples()])


def _ranking_display(table: pd.DataFrame) -> pd.DataFrame:
    from ..decision import money

    return pd.DataFrame([{"strategy": r.strategy, "NPV as written": money(r.nominal), "mean NPV": money(r.mean),
                          "P10 NPV": money(r.p10), "p_best": f"{r.p_best:.0%} [{r.p_best_lo:.0%}, {r.p_best_hi:.0%}]"}
                         for r in table.itertuples()])
