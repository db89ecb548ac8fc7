"""``clmsim run``: evaluate strategies with an engine (``clmsim explain`` is in :mod:`.explain_cmd`).

The JSON document of ``run --json`` is specified in docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

from ..engines import ENGINE_NAMES, ENGINES
from ..errors import ClmsimError
from .args import positive_int
from .args import seed as seed_arg

ENGINE_CHOICES = ENGINE_NAMES
MODE_CHOICES = ENGINES["fast"].capabilities.modes
DEFAULT_RUNS = 100
CONCENTRATION_BINS = 2000
"""CLV histogram bins ``run --concentration`` asks the fast engine for unless ``--option hist_bins``
is given: narrow bins keep the share of customers with negative CLV tight (docs/metrics.md)."""
ECONOMICS = (  # (metric, header, kind) of the customer-economics table of `run`
    ("clv_acquired", "CLV per acquired customer", "money"),
    ("cac", "CAC", "money"),
    ("clv_net_of_cac", "CLV after CAC", "money"),
    ("ltv_cac", "LTV/CAC", "money"),
    ("cac_payback_periods", "CAC payback", "periods"),
    ("churn_rate", "churn per period", "percent"),
    ("active_end", "active at end", "money"),
)


def _option(text: str) -> tuple[str, object]:
    if "=" not in text:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    key, raw = text.split("=", 1)
    try:
        value = json.loads(raw)
    except json.JSONDecodeError:
        value = raw
    return key.strip(), value


def add_parsers(sub) -> None:
    from .report_cmds import add_report_option
    from .scenario_cmds import add_set_option

    p = sub.add_parser("run", help="evaluate the strategies of a scenario with an engine",
                       description="Evaluate strategies: the decision table (NPV, spend, NPV and spend versus "
                                   "the baseline, ROI or savings, wins, payback of the extra spend) and the "
                                   "customer economics (CLV, CAC, LTV/CAC, CAC payback, churn).")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="analytic",
                   help="; ".join(f"{e.name}: {e.summary}" for e in ENGINES.values()) + " (default analytic)")
    p.add_argument("--strategy", dest="strategies", action="append", metavar="NAME",
                   help="evaluate this strategy (repeatable; default all); baseline is always added "
                        "so ROI versus baseline is defined")
    p.add_argument("--runs", type=positive_int, default=None,
                   help=f"Monte Carlo runs (default {DEFAULT_RUNS}; the analytic engine is exact and ignores it)")
    p.add_argument("--seed", type=seed_arg, default=None, help="root seed (Monte Carlo engines)")
    p.add_argument("--mode", choices=MODE_CHOICES, default=None, help="fast engine mode (default auto)")
    p.add_argument("--option", dest="options", action="append", default=[], type=_option, metavar="KEY=VALUE",
                   help="engine option, e.g. --option nodes=64 (analytic) or --option het_nodes=16 (fast)")
    add_set_option(p)
    p.add_argument("--concentration", action="store_true",
                   help="also value concentration of CLV: top-k%% shares, Gini, share with negative CLV and the "
                        "CLV pyramid (needs --engine fast --mode individual; docs/metrics.md)")
    p.add_argument("--json", action="store_true", help="print one JSON document (docs/cli.md) instead of a table")
    p.add_argument("--out", metavar="DIR", help="write the results tables as Parquet files into DIR")
    add_report_option(p, "run")
    p.set_defaults(func=cmd_run)


# ----------------------------------------------------------------------- run
def economics_text(table, unit: str) -> str:
    """Per strategy: CLV, CAC, LTV/CAC, CAC payback, churn and the active base (``run`` only)."""
    from .. import decision
    from ..textable import format_table

    rows = []
    for s in dict.fromkeys(table["strategy"]):
        sel = table[(table["strategy"] == s) & (table["kind"] == "level")].set_index("metric")
        row = {"strategy": s}
        for metric, _, kind in ECONOMICS:
            if metric not in sel.index:
                row[metric] = "-"
                continue
            r = sel.loc[metric]
            args = (r["mean"], r["ci_lo"], r["ci_hi"])
            if kind == "percent":
                row[metric] = decision.percent(*args)
            elif kind == "periods":
                row[metric] = decision.periods(r["mean"])
            else:  # money and plain ratios: same significant digits, unit suffix when large
                row[metric] = decision.money(*args)
        rows.append(row)
    heads = {m: h + (f" ({unit}s)" if k == "periods" else "") for m, h, k in ECONOMICS}
    right = lambda x: x  # noqa: E731
    return format_table(rows, {m: right for m, _, _ in ECONOMICS}, columns=["strategy", *heads], headers=heads)


def concentration_text(vc) -> str:
    """Top-k% shares, Gini and share negative per strategy, then the baseline's CLV pyramid."""
    from .. import decision
    from ..textable import format_table

    metrics = [m for m in dict.fromkeys(vc.table["metric"]) if m != "mean_clv"]
    heads = {m: m.replace("top_", "top ").replace("pct_share", "%") .replace("share_negative", "CLV < 0")
             .replace("gini", "Gini") for m in metrics}
    rows = []
    for s, t in vc.table.groupby("strategy", sort=False):
        t = t.set_index("metric")
        rows.append({"strategy": s, **{m: decision.money(t.loc[m, "estimate"], t.loc[m, "ci_lo"], t.loc[m, "ci_hi"])
                                       if m == "gini" else decision.percent(t.loc[m, "estimate"], t.loc[m, "ci_lo"],
                                                                            t.loc[m, "ci_hi"]) for m in metrics}})
    right = lambda x: x  # noqa: E731
    out = [f"value concentration of the {vc.table['cohort'].iloc[0]} customers' CLV (share of the total held by "
           "the most valuable k%; docs/metrics.md)",
           format_table(rows, {m: right for m in metrics}, columns=["strategy", *heads], headers=heads)]
    first = vc.table["strategy"].iloc[0]
    b = vc.table[vc.table["strategy"] == first].set_index("metric")
    out.append(f"histogram resolution ({first}): top 20% between {b.loc['top_20pct_share', 'bin_lo']:.1%} and "
               f"{b.loc['top_20pct_share', 'bin_hi']:.1%}, CLV < 0 between {b.loc['share_negative', 'bin_lo']:.1%} "
               f"and {b.loc['share_negative', 'bin_hi']:.1%} whatever the values inside each bin")
    tiers = vc.tiers[vc.tiers["strategy"] == first]
    trow = [{"tier": r.tier, "customers": f"{r.customer_share:.0%}",
             "per run": f"{r.customers_per_run:,.0f}" if math.isfinite(r.customers_per_run) else "-",
             "share of CLV": decision.percent(r.clv_share, r.clv_share_lo, r.clv_share_hi),
             "mean CLV": decision.money(r.mean_clv),
             "CLV range": f"{decision.money(r.clv_to)} to {decision.money(r.clv_from)}"} for r in tiers.itertuples()]
    out += ["", f"CLV pyramid ({first})", format_table(trow)]
    out += [f"note: {n}" for n in vc.notes]
    return "\n".join(out)


def evaluate(scenario, engine: str, strategies, runs: int, seed, options: dict):
    """``(results, table, paths)``: one engine's Results, the summary of :func:`clmsim.metrics.summary_table`.

    Monte Carlo engines run in batches (:func:`clmsim.analysis.compare.simulate_in_batches`) so the
    present values of spend, ROI and payback get intervals; ``paths`` are the batches' paths."""
    from ..analysis.compare import simulate_in_batches
    from ..api import compile_strategies, simulate
    from ..metrics import BASELINE, paths_from_periods, results_discount_factors, summary_table

    if engine == "analytic":
        results = simulate(scenario, engine=engine, strategies=strategies, runs=1, seed=seed, **options)
        paths = paths_from_periods(results.periods, results_discount_factors(results))
    else:
        results, paths = simulate_in_batches(compile_strategies(scenario, strategies), engine, runs, seed, **options)
        results.provenance.setdefault("scenario_source", scenario.source)
    baseline = BASELINE if BASELINE in results.strategies else None
    prov = results.provenance
    table = summary_table(results.runs, paths, results.periods, baseline=baseline,
                          discount=prov.get("discount_rate"), clv=results.clv, provenance=prov)
    return results, table, paths


def cmd_run(args) -> int:
    from .. import decision
    from ..api import engine_module
    from ..metrics import PATHS_FILE, segment_table
    from ..scenario import load_scenario
    from .report_cmds import default_out, save_scenario, write_report

    engine_module(args.engine)  # unknown/unavailable engine -> clear error before loading
    options = dict(args.options)
    if args.mode is not None:
        options["mode"] = args.mode
    if args.concentration:
        if args.engine != "fast" or args.mode != "individual":
            raise ClmsimError("--concentration needs the CLV of every customer, which only the fast engine's "
                              "individual mode records: add --engine fast --mode individual")
        options.setdefault("hist_bins", CONCENTRATION_BINS)
    scenario = load_scenario(args.file, args.overrides)
    strategies = None
    if args.strategies:
        strategies = list(dict.fromkeys(["baseline", *args.strategies]))
    runs = 1 if args.engine == "analytic" else (args.runs or DEFAULT_RUNS)
    t0 = time.perf_counter()
    try:
        results, table, paths = evaluate(scenario, args.engine, strategies, runs, args.seed, options)
    except TypeError as exc:  # an engine signature rejecting an option
        raise ClmsimError(f"bad option for the {args.engine} engine: {exc}") from None
    prov = results.provenance
    baseline = "baseline" if "baseline" in results.strategies else None
    segments = segment_table(results.segment_runs, baseline)
    doc = decision.document(table, prov, baseline, seconds=prov.get("seconds") or time.perf_counter() - t0,
                            segments=segments)
    vc = None
    if args.concentration:
        from ..metrics import value_concentration

        vc = value_concentration(results)
        doc["concentration"] = vc.to_dict()
    if args.report and not args.out:
        args.out = default_out("run", scenario.name)
    if args.out:
        results.to_parquet(args.out)
        from ..safeio import atomic_path

        with atomic_path(Path(args.out) / PATHS_FILE) as tmp:
            paths.to_parquet(tmp, index=False)
        save_scenario(scenario, args.out)  # `clmsim report DIR` finds it there (never via a recorded path)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        if args.report:  # stdout holds exactly one JSON document
            write_report(args.out, sys.stderr)
        return 0
    what = "exact expectations" if doc["engine"] == "analytic" else \
        f"{doc['runs']} runs, seed {doc['seed']}, mode {doc['mode']}"
    unit = prov.get("period") or "period"
    print(f"scenario {doc['scenario']!r} ({prov.get('horizon')} {unit}s), engine {doc['engine']}: {what}")
    print(decision.decision_text(table, prov, baseline, runs))
    by_segment = decision.segment_text(segments, baseline, doc["engine"] != "analytic", runs)
    if by_segment:
        print()
        print(by_segment)
    print()
    print(economics_text(table, unit))
    if vc is not None:
        print()
        print(concentration_text(vc))
    if prov.get("approximation"):
        print(f"approximation: {prov['approximation']}")
    print(f"convention: {doc['convention']}")
    print("CLV per acquired customer = discounted net cash of a customer acquired in the horizon, before "
          "acquisition cost; CAC = acquisition spend / customers the channels bought (docs/metrics.md)")
    if args.out:
        print(f"wrote {args.out}")
    if args.report:
        write_report(args.out)
    return 0
