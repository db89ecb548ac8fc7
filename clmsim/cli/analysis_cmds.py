"""``clmsim compare``, ``clmsim sweep``, ``clmsim sensitivity`` and ``clmsim optimize``.

Thin wrappers over :mod:`clmsim.analysis`; every option maps to an argument of
the Python API of the same name.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..engines import ENGINE_NAMES
from ..errors import ClmsimError
from .args import add_quiet, open_fraction, positive_float, positive_int
from .args import seed as seed_arg


def _num(text: str):
    try:
        return int(text)
    except ValueError:
        try:
            return float(text)
        except ValueError:
            return text


def _engine_options(pairs: list[str]) -> dict:
    out = {}
    for p in pairs:
        if "=" not in p:
            raise ClmsimError(f"--engine-option expects KEY=VALUE, got '{p}'")
        k, v = p.split("=", 1)
        out[k.strip().replace("-", "_")] = _num(v.strip())
    return out


def _add_backend(p: argparse.ArgumentParser, default: str) -> None:
    g = p.add_argument_group("execution (results are identical for every choice)")
    g.add_argument("--workers", type=positive_int, default=None, metavar="N",
                   help="start a Dask LocalCluster with N worker processes")
    g.add_argument("--scheduler", default=None, metavar="tcp://HOST:PORT",
                   help="use an existing Dask distributed scheduler")
    g.add_argument("--backend", choices=("serial", "processes", "dask"), default=None,
                   help=f"where chunks run (default: {default}; dask when --workers/--scheduler is given)")
    add_quiet(p)


def _backend(args, default: str) -> dict:
    kind = args.backend or ("dask" if (args.workers or args.scheduler) else default)
    return {"backend": kind, "workers": args.workers, "scheduler": args.scheduler}


def _add_engine(p: argparse.ArgumentParser, engine_default: str | None) -> None:
    p.add_argument("--engine", choices=ENGINE_NAMES, default=engine_default,
                   help="engine" + (f" (default {engine_default})" if engine_default else " (default: the file's)"))
    p.add_argument("--mode", default=None, choices=("auto", "counts", "individual"),
                   help="Monte Carlo mode: auto, counts, individual")
    p.add_argument("--engine-option", action="append", default=[], metavar="KEY=VALUE",
                   help="extra engine option, e.g. het_nodes=8 (repeatable)")


def add_parsers(sub) -> None:
    from .report_cmds import add_report_option

    p = sub.add_parser("compare", help="paired comparison of strategies on common random numbers")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--strategies", nargs="+", default=None, metavar="NAME", help="strategies (default: all)")
    p.add_argument("--baseline", default="baseline", help="strategy differences are taken against")
    p.add_argument("--runs", type=positive_int, default=1000, help="runs per strategy (first batch with --precision)")
    p.add_argument("--seed", type=seed_arg, default=None, help="seed (default: a fresh short one, printed)")
    p.add_argument("--precision", type=open_fraction, default=None, metavar="P",
                   help="add runs until the NPV difference's 95%% half-width is <= P x |difference|")
    p.add_argument("--max-runs", type=positive_int, default=None, help="cap on runs with --precision (default 64 x --runs)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario field (repeatable)")
    p.add_argument("--parameter-samples", type=positive_int, default=None, metavar="K",
                   help="K draws of the scenario's parameter_uncertainty x --runs runs each: intervals split into "
                        "parameter and process parts, and P(beats baseline) across draws")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.add_argument("--out", default=None, metavar="DIR", help="also write runs.parquet and table.csv")
    add_report_option(p, "compare")
    _add_engine(p, "fast")
    _add_backend(p, "serial")
    p.set_defaults(func=cmd_compare)

    p = sub.add_parser("sweep", help="run an experiment file into a resumable run directory")
    p.add_argument("experiment", help="experiment YAML file (see experiments/)")
    p.add_argument("--out", required=True, metavar="DIR", help="run directory (rerun the command to resume)")
    p.add_argument("--runs", type=positive_int, default=None, help="override the experiment's runs")
    p.add_argument("--seed", type=seed_arg, default=None, help="override the experiment's seed")
    add_report_option(p, "sweep", out_required=True)
    _add_engine(p, None)
    _add_backend(p, "processes")
    p.set_defaults(func=cmd_sweep)

    p = sub.add_parser("sensitivity", help="Sobol, Morris and tornado analysis of an experiment's uncertainties")
    p.add_argument("experiment", help="experiment YAML file with 'uncertainties'")
    p.add_argument("--method", nargs="+", choices=("sobol", "morris", "tornado"), default=None)
    p.add_argument("--samples", type=positive_int, default=None, help="Sobol base sample size N (at least 4)")
    p.add_argument("--trajectories", type=positive_int, default=None, help="Morris trajectories (at least 2)")
    p.add_argument("--runs", type=positive_int, default=None, help="runs per evaluation (Monte Carlo engines)")
    p.add_argument("--strategy", default=None, metavar="NAME",
                   help="strategy analysed (default: the experiment's sensitivity.strategy)")
    p.add_argument("--metric", default=None, metavar="NAME",
                   help="npv, another column of the runs table, or npv_diff: the strategy's NPV minus the "
                        "baseline's (what the choice between them depends on)")
    p.add_argument("--ranking", action="store_true",
                   help="also: probability that each strategy is best over the uncertainty sample, and which "
                        "input flips the ranking of the two best")
    p.add_argument("--out", default=None, metavar="DIR", help="write sobol/morris/tornado CSV files")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    _add_engine(p, None)
    _add_backend(p, "processes")
    p.set_defaults(func=cmd_sensitivity)

    p = sub.add_parser("margins", help="marginal return of every spend lever: where the next unit of spend goes",
                       description="For every spend lever of the plan (each program's spend, each channel's "
                                   "spend, each win-back coverage), the marginal return dNPV / dPV(spend) in the "
                                   "unit of ROI, exact (analytic engine, finite differences with their error), "
                                   "ranked.")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--strategy", default="baseline", metavar="NAME", help="the plan (default baseline)")
    p.add_argument("--step", type=positive_float, default=None, metavar="H",
                   help="relative step of the finite differences (default 0.01)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                   help="override a scenario field (repeatable)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    p.set_defaults(func=cmd_margins)

    p = sub.add_parser("optimize", help="allocate a budget over levers to maximise NPV (an experiment's 'optimize')")
    p.add_argument("experiment", help="experiment YAML file with an 'optimize' section")
    p.add_argument("--budget", type=positive_float, default=None,
                   help="maximum spend per period, in present value: PV of all spend / sum of the discount factors "
                        "(docs/analysis.md)")
    p.add_argument("--objective", choices=("mean", "p10"), default=None)
    p.add_argument("--frontier", nargs="+", type=positive_float, default=None, metavar="BUDGET",
                   help="also optimise at these budgets and print the NPV frontier")
    p.add_argument("--runs", type=positive_int, default=None, help="runs per evaluation (Monte Carlo engines)")
    p.add_argument("--json", action="store_true", help="print one JSON document")
    _add_engine(p, None)
    _add_backend(p, "processes")
    p.set_defaults(func=cmd_optimize)


def _isnan(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return False


def _interval(m, lo, hi) -> str:
    """``mean ± half-width`` of a 95% interval in short units (``169.9M ± 0.07M``); ``mean [lo, hi]``
    when the interval is not symmetric about the mean; the mean alone when there is no interval."""
    from ..textable import human, human_pm

    if _isnan(m):
        return "-"
    if _isnan(lo) or _isnan(hi) or lo == hi:
        return human(float(m), 4)
    hw = (float(hi) - float(lo)) / 2
    if abs((float(lo) + float(hi)) / 2 - float(m)) <= 0.05 * hw:
        a, b = human_pm(float(m), hw)
        return f"{a} \u00b1 {b}" if b else a
    return f"{human(float(m), 4)} [{human(float(lo), 4)}, {human(float(hi), 4)}]"


def _auto_formats(df, formats: dict | None = None) -> dict:
    """Column formats for :func:`clmsim.textable.format_table`: given ones, then ``int`` for integer
    columns and short numbers (k/M/B suffixes, never exponents) for the other numeric columns."""
    from ..textable import human

    out = {}
    for c in df.columns:
        kind = df[c].dtype.kind
        if kind in "iu":
            out[c] = "int"
        elif kind == "f":
            out[c] = lambda x: "" if _isnan(x) else human(float(x), 4)
        elif kind == "b":
            out[c] = "text"
    out.update(formats or {})
    return out


def _table(df, formats: dict | None = None, **kw) -> str:
    """A DataFrame as an aligned text table (see :func:`_auto_formats`)."""
    from ..textable import format_table

    return format_table(df.to_dict("records"), _auto_formats(df, formats), columns=list(df.columns), **kw)


def cmd_compare(args) -> int:
    from .. import decision
    from ..analysis import compare
    from ..metrics import PATHS_FILE
    from .report_cmds import default_out, save_scenario, write_report
    from ..decision import decision_text

    opts = _engine_options(args.engine_option)
    c = compare(args.file, args.strategies, runs=args.runs, seed=args.seed, engine=args.engine,
                mode=args.mode or "auto", baseline=args.baseline, precision=args.precision,
                max_runs=args.max_runs, overrides=args.overrides, parameter_samples=args.parameter_samples,
                **_backend(args, "serial"), **opts)
    if args.parameter_samples:
        return _print_parameter_comparison(c, args)
    table = c.table()
    segments = c.segment_table()
    if args.report and not args.out:
        args.out = default_out("compare", c.provenance.get("scenario") or Path(args.file).stem)
    if args.out:
        from ..safeio import atomic_path, atomic_write, ensure_dir

        out = ensure_dir(args.out)
        with atomic_path(out / "runs.parquet") as tmp:
            c.runs.to_parquet(tmp, index=False)
        if c.periods is not None and len(c.periods):
            with atomic_path(out / "periods.parquet") as tmp:
                c.periods.to_parquet(tmp, index=False)
        if c.paths is not None and len(c.paths):
            with atomic_path(out / PATHS_FILE) as tmp:
                c.paths.to_parquet(tmp, index=False)
        if c.segment_runs is not None and len(c.segment_runs):
            with atomic_path(out / "segment_runs.parquet") as tmp:
                c.segment_runs.to_parquet(tmp, index=False)
        atomic_write(out / "table.csv", table.to_csv(index=False))
        atomic_write(out / "provenance.json", json.dumps(c.provenance, indent=2, default=str))
        from ..scenario import load_scenario

        save_scenario(load_scenario(args.file, args.overrides), out)  # where `clmsim report` finds it
    if args.json:
        print(json.dumps(decision.document(table, c.provenance, c.baseline, segments=segments), indent=2,
                         default=str, ensure_ascii=False))
        if args.report:  # stdout holds exactly one JSON document
            write_report(args.out, sys.stderr)
        return 0
    pv = c.provenance
    print(f"{pv['scenario']}: {pv['engine']} engine, "
          + (f"seed {pv['seed']}, {c.n_runs} runs per strategy, mode {pv['mode']} (common random numbers)"
             if pv["monte_carlo"] else "exact expectations"))
    print(decision_text(table, pv, c.baseline, c.n_runs))
    by_segment = decision.segment_text(segments, c.baseline, pv["monte_carlo"], c.n_runs)
    if by_segment:
        print()
        print(by_segment)
    if pv.get("approximation"):
        print(f"approximation: {pv['approximation']}")
    if c.precision:
        p = c.precision
        state = "met" if p["met"] else f"NOT met: stopped at the maximum of {p['max_runs']} runs"
        print(f"precision {p['target']:g} (relative 95% half-width of NPV differences): {state}; "
              f"worst {p['worst_relative_half_width']:.3g} after {p['runs']} runs")
    if args.report:
        write_report(args.out)
    return 0


def _print_parameter_comparison(c, args) -> int:
    """``compare --parameter-samples K``: NPV and NPV difference intervals split into parameter and
    process parts, and P(beats baseline) across parameter draws."""
    import pandas as pd

    u = c.uncertainty()
    pv = c.provenance
    if args.out:
        from ..safeio import atomic_path, atomic_write, ensure_dir

        out = ensure_dir(args.out)
        with atomic_path(out / "runs.parquet") as tmp:
            c.runs.to_parquet(tmp, index=False)
        with atomic_path(out / "parameter_draws.parquet") as tmp:
            c.parameter_draws.to_parquet(tmp, index=False)
        atomic_write(out / "table.csv", u.to_csv(index=False))
        atomic_write(out / "provenance.json", json.dumps(pv, indent=2, default=str))
    if args.json:
        print(json.dumps({"provenance": pv, "table": u.to_dict("records")}, indent=2, default=str,
                         ensure_ascii=False))
        return 0
    reps = f"{pv['runs']} runs per draw, seed {pv['seed']}" if pv["monte_carlo"] else f"exact per draw, seed {pv['seed']}"
    print(f"{pv['scenario']}: {pv['engine']} engine, {pv['parameter_samples']} parameter draws x {reps} "
          f"({len(pv['parameter_paths'])} uncertain parameters; common random numbers within each draw)")
    rows = []
    for r in u.to_dict("records"):
        d = r["kind"] == "vs_baseline"
        rows.append({"strategy": r["strategy"], "quantity": f"NPV - {c.baseline}" if d else "NPV",
                     "mean [95% interval]": _interval(r["mean"], r["ci_lo"], r["ci_hi"]),
                     "\u00b1 parameters": _interval(r["parameter_half_width"], float("nan"), float("nan")),
                     "\u00b1 process": _interval(r["process_half_width"], float("nan"), float("nan")),
                     "parameter share": r["parameter_share"],
                     "P(beats baseline)": r.get("p_beats_baseline", float("nan")) if d else float("nan")})
    df = pd.DataFrame(rows)
    print(_table(df, {"mean [95% interval]": lambda x: x, "\u00b1 parameters": lambda x: x,
                      "\u00b1 process": lambda x: x, "parameter share": "percent", "P(beats baseline)": "percent"}))
    print("interval: for the expected value at the true parameters (predictive over the parameter draws); its "
          "parameter and process (Monte Carlo) half-widths add in quadrature. P(beats baseline): share of draws "
          "whose mean NPV difference is positive.")
    return 0


def cmd_sweep(args) -> int:
    import pandas as pd

    from ..analysis.robustness import robustness
    from ..analysis.sweep import sweep
    from .report_cmds import write_report

    opts = _engine_options(args.engine_option)
    if args.mode:
        opts["mode"] = args.mode
    res = sweep(args.experiment, args.out, runs=args.runs, seed=args.seed, engine=args.engine,
                command=["clmsim", *sys.argv[1:]], **_backend(args, "processes"), **opts)
    m = res.manifest
    resume = m.get("resume", {})
    for note in resume.get("notes", []):
        print(f"clmsim: {note}", file=sys.stderr)
    if resume.get("reused"):
        print(f"resumed: {resume['reused']} of {m['tasks']} chunks reused, {resume['computed']} computed now")
    reps = "exact expectations" if m["engine"] == "analytic" else f"{m['runs']} runs"
    print(f"{m['experiment']}: {m['points']} experiment points x {len(m['strategies'])} strategies x "
          f"{reps}, {m['engine']} engine, seed {m['seed']} -> {args.out} ({m['status']}, "
          f"{m['tasks_done']}/{m['tasks']} chunks; this call {m['seconds_last']:.1f} s)")
    if m["status"] != "complete":
        print("rerun the same command to finish" + (" (the report is written when the sweep is complete)"
                                                     if args.report else ""))
        return 0
    t = res.table("npv")
    params = [c for c in res.points.columns if c not in ("experiment", "grid", "sample")]
    exact = m["engine"] == "analytic"
    rows = []
    for r in t.to_dict("records"):
        row = {"experiment": r["experiment"], "strategy": r["strategy"]}
        row.update({_short(res.path(p)): r[p] for p in params})
        row["npv"] = _interval(r["mean"], float("nan"), float("nan")) if exact else \
            _interval(r["mean"], r["ci_lo"], r["ci_hi"])
        rows.append(row)
    shown = pd.DataFrame(rows[:30])
    print(_table(shown, {"npv": lambda x: x}, headers={"npv": "NPV" if exact else "NPV (\u00b1 95% CI)"}))
    if len(rows) > 30:
        print(f"... {len(rows) - 30} more rows in {Path(args.out) / 'summary.csv'}")
    if res.points["sample"].nunique() > 1:
        from ..analysis.experiment import load_experiment

        target = load_experiment(args.experiment).spec.roi_target
        rob = robustness(res.runs, res.points, roi_target=target, baseline=m["baseline"], periods=res.periods)
        rob = rob.rename(columns={p: _short(res.path(p)) for p in params})
        print("\nrobustness across uncertainty samples (NPV; p_best: share of samples where the alternative is "
              "best; p_beats_reference: share where it beats the baseline"
              + (f"; roi_share: share with dNPV >= {target:g} x dPV(spend) vs baseline"
                 if target is not None else "") + "):")
        print(_table(rob.head(15), {c: "percent" for c in rob.columns
                                    if c.endswith("_share") or c in ("p_best", "p_beats_reference")}))
        if len(rob) > 15:
            print(f"... {len(rob) - 15} more rows")
    if args.report:
        write_report(args.out)
    return 0


def _short(path: str) -> str:
    """Last two components of a dotted path, for narrow tables."""
    return ".".join(path.split(".")[-2:])


def cmd_sensitivity(args) -> int:
    from ..analysis.sensitivity import ranking, sensitivity

    opts = _engine_options(args.engine_option)
    if args.mode:
        opts["mode"] = args.mode
    be = _backend(args, "processes")
    res = sensitivity(args.experiment, args.method, samples=args.samples, trajectories=args.trajectories,
                      engine=args.engine, runs=args.runs, strategy=args.strategy, metric=args.metric, **be, **opts)
    rank = ranking(args.experiment, engine=args.engine, runs=args.runs, **be, **opts) if args.ranking else None
    if args.out:
        from ..safeio import atomic_write, ensure_dir

        out = ensure_dir(args.out)
        for name in ("sobol", "morris", "tornado"):
            df = getattr(res, name)
            if len(df):
                atomic_write(out / f"{name}.csv", df.to_csv(index=False))
        atomic_write(out / "sensitivity.csv", res.table().to_csv(index=False))
        if rank is not None:
            atomic_write(out / "ranking.csv", rank.table.to_csv(index=False))
            atomic_write(out / "flips.csv", rank.flips.to_csv(index=False))
    if args.json:
        doc = {"info": res.info, "table": json.loads(res.table().to_json(orient="records"))}
        if rank is not None:
            doc["ranking"] = {"info": rank.info, "table": json.loads(rank.table.to_json(orient="records")),
                              "flips": json.loads(rank.flips.to_json(orient="records"))}
        print(json.dumps(doc, indent=2, default=str))
        return 0
    i = res.info
    what = (f"{i['metric']} = NPV of {i['strategy']} minus NPV of {i['versus']}" if i.get("versus")
            else f"mean {i['metric']} ({i['strategy']})")
    print(f"{i['experiment']}: sensitivity of {what}, {i['engine']} engine, {i['evaluations']} evaluations")
    for name in ("sobol", "morris", "tornado"):
        df = getattr(res, name)
        if len(df):
            print(f"\n{name}:")
            print(_table(df))
    for w in i.get("warnings", []):
        print(f"warning: {w}", file=sys.stderr)
    if rank is not None:
        r = rank.info
        print(f"\nranking over {r['samples']} sampled states of the world ({r['evaluations']} evaluations): "
              "p_best = share of samples where the strategy has the highest NPV (Wilson 95% interval)")
        shown = rank.table.assign(p_best=[f"{p:.0%} [{lo:.0%}, {hi:.0%}]" for p, lo, hi in
                                          rank.table[["p_best", "p_best_lo", "p_best_hi"]].to_numpy()])
        print(_table(shown[["strategy", "nominal", "mean", "p10", "p_best"]], {"p_best": "text"}))
        print(f"\nwhat flips {r['leader']} versus {r['runner_up']} (NPV difference with one input at its low / "
              "high value, the others as written):")
        fl = rank.flips.assign(parameter=[_short(x) for x in rank.flips["parameter"]])
        print(_table(fl[["parameter", "nominal", "low", "high", "diff_low", "diff_high", "flips", "flip_value"]]))
    return 0


def cmd_margins(args) -> int:
    from ..analysis.margins import DEFAULT_STEP, margins
    from ..decision import margin_advice, money, percent, room_text
    from ..textable import format_table, human

    m = margins(args.file, args.strategy, rel_step=args.step or DEFAULT_STEP, overrides=args.overrides)
    if args.json:
        print(json.dumps({"info": m.info, "levers": json.loads(m.table.to_json(orient="records"))}, indent=2,
                         default=str))
        return 0
    i = m.info
    print(f"{i['scenario']}, strategy {i['strategy']}: marginal return of each spend lever, exact (analytic "
          f"engine), finite differences of {i['rel_step']:.0%} of each lever")
    print(f"plan: NPV {money(i['npv'])}, spend {money(i['pv_spend'])} (present value)")
    rows = [{"lever": r.lever, "value": human(r.value, 4), "spend (PV)": money(r.pv_spend),
             "marginal return": percent(r.marginal_return),
             "error": "< 0.01%" if r.error < 1e-4 else percent(r.error), "room (PV)": room_text(r)}
            for r in m.table.itertuples()]
    right = lambda x: x  # noqa: E731
    print(format_table(rows, {"value": right, "spend (PV)": right, "marginal return": right, "error": right,
                              "room (PV)": right}))
    print("\n" + "\n".join(margin_advice(m.table)))
    print("marginal return = dNPV / dPV(spend) for a small change of one lever, in the unit of ROI (0% = break-even; "
          "NPV is net of spend; it holds for the next units only); error = |m(h) - m(h/2)|; room = extra spend "
          "(present value) a lever can take before its cap (a win-back coverage of 1); docs/analysis.md")
    return 0


def cmd_optimize(args) -> int:
    import pandas as pd

    from ..analysis.experiment import load_experiment
    from ..analysis.optimize import frontier, optimize
    from ..decision import percent
    from ..textable import format_table, human

    exp = load_experiment(args.experiment)
    o = exp.spec.optimize
    if o is None:
        raise ClmsimError(f"{args.experiment} has no 'optimize' section (levers with low/high, budget)")
    engine = args.engine or exp.spec.engine
    opts = {**(exp.spec.engine_options if engine != "analytic" else {}), **_engine_options(args.engine_option)}
    kw = dict(objective=args.objective or o.objective, strategy=o.strategy, engine=engine,
              runs=args.runs or exp.spec.runs, seed=exp.spec.seed, mode=args.mode or exp.spec.mode,
              grid=o.grid, rounds=o.rounds, **_backend(args, "processes"), **opts)
    levers = {p: (b.low, b.high) for p, b in o.levers.items()}
    budget = args.budget if args.budget is not None else o.budget
    kw["cache"] = {}   # one memo of evaluations for the optimum and the frontier
    best = optimize(exp.scenario, levers, budget, **kw)
    budgets = args.frontier if args.frontier is not None else o.frontier
    front = frontier(exp.scenario, levers, budgets, **kw) if budgets else pd.DataFrame()
    if args.json:
        print(json.dumps({"optimum": json.loads(best.table().to_json(orient="records")), "info": best.info,
                          "marginal": json.loads(best.marginal.to_json(orient="records")),
                          "frontier": json.loads(front.to_json(orient="records")) if len(front) else []},
                         indent=2, default=str))
        return 0
    print(f"{exp.spec.name}: maximise {best.objective} NPV"
          + (f" subject to spend <= {human(budget, 4)} per period" if budget else " (no budget)")
          + f"; {best.info['engine']} engine, {best.info['evaluations']} evaluations")
    print(f"NPV {_interval(best.npv, best.npv_lo, best.npv_hi)}; spend {human(best.spend, 4)} per period; "
          f"gain over current {_interval(best.gain, best.gain_lo, best.gain_hi)}")
    marginal = {r.lever: r for r in best.marginal.itertuples()}
    rows = []
    for p, v in best.levers.items():
        m = marginal.get(p)
        rows.append({"lever": p, "optimum": v, "current": best.info["current"][p],
                     "marginal": float("nan") if m is None else m.marginal_return,
                     "at bound": "yes" if m is not None and m.at_bound else ""})
    num = lambda x: "" if _isnan(x) else human(float(x), 4)  # noqa: E731
    print(format_table(rows, {"optimum": num, "current": num, "marginal": lambda x: percent(x)},
                       headers={"marginal": "marginal return"}))
    print("\nmarginal return = dNPV / dPV(spend) of each lever at the optimum, in the unit of ROI (0% = break-even; "
          "with the budget binding, equal across levers at an interior optimum: the budget's shadow price)")
    if len(front):
        levers_cols = [c for c in front.columns if c in best.levers]
        shown = front.assign(npv=[_interval(r.npv, r.npv_lo, r.npv_hi) for r in front.itertuples()])
        shown = shown[["budget", "npv", "spend", *levers_cols]].rename(columns={p: _short(p) for p in levers_cols})
        print("\nfrontier:")
        print(_table(shown, {"npv": lambda x: x}, headers={"npv": "NPV"}))
    return 0
