"""``clmsim run``: evaluate strategies with an engine (``clmsim explain`` is in :mod:`.explain_cmd`).

The JSON document of ``run --json`` is specified in docs/cli.md.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

from ..errors import ClmsimError
from ..textable import display_width, pad
from .args import positive_int
from .args import seed as seed_arg

ENGINE_CHOICES = ("analytic", "fast", "des")
MODE_CHOICES = ("auto", "individual", "counts")
DEFAULT_RUNS = 100
TABLE = (  # (metric, header, format)
    ("npv", "NPV", "{:,.0f}"),
    ("clv_new_customer", "CLV new cust.", "{:,.2f}"),
    ("cac", "CAC", "{:,.2f}"),
    ("ltv_cac", "LTV/CAC", "{:.3f}"),
    ("roi_vs_baseline", "ROI vs base", "{:.3f}"),
    ("payback_periods", "payback", "{:.0f}"),
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
                       description="Evaluate strategies and print NPV, CLV of a new customer, CAC, "
                                   "LTV/CAC, ROI versus baseline and CAC payback per strategy.")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--engine", choices=ENGINE_CHOICES, default="analytic",
                   help="analytic (exact expectations, default), fast (numba Monte Carlo) or des")
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
    p.add_argument("--json", action="store_true", help="print one JSON document (docs/cli.md) instead of a table")
    p.add_argument("--out", metavar="DIR", help="write the results tables as Parquet files into DIR")
    add_report_option(p, "run")
    p.set_defaults(func=cmd_run)


# ----------------------------------------------------------------------- run
def _finite(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def summary_document(results, summary) -> dict:
    """The ``run --json`` document (see docs/cli.md)."""
    prov = results.provenance
    strategies: dict[str, dict] = {}
    for row in summary.itertuples(index=False):
        n = None if math.isnan(row.n) else int(row.n)
        lo, hi = _finite(row.ci_lo), _finite(row.ci_hi)
        strategies.setdefault(row.strategy, {})[row.metric] = {
            "mean": _finite(row.mean), "sd": _finite(row.sd), "n": n,
            "ci95": [lo, hi] if lo is not None and hi is not None else None,
        }
    return {
        "scenario": prov.get("scenario"),
        "scenario_hash": prov.get("scenario_hash"),
        "engine": prov.get("engine"),
        "seed": prov.get("seed"),
        "runs": prov.get("runs"),
        "mode": prov.get("mode"),
        "convention": prov.get("convention"),
        "clmsim_version": prov.get("clmsim_version"),
        "strategies": strategies,
        "work": {"customer_periods": _finite(prov.get("customer_periods")), "seconds": _finite(prov.get("seconds"))},
    }


def _cell(stats: dict, fmt: str) -> str:
    mean = stats["mean"]
    if mean is None:
        return "-"
    text = fmt.format(mean)
    if stats["ci95"] is not None:
        half = (stats["ci95"][1] - stats["ci95"][0]) / 2
        text += " ± " + fmt.format(half)
    return text


def format_table(doc: dict) -> str:
    """Aligned summary table, one row per strategy."""
    header = ["strategy"] + [h for _, h, _ in TABLE]
    rows = [header]
    for name, metrics in doc["strategies"].items():
        rows.append([name] + [_cell(metrics[m], f) for m, _, f in TABLE])
    widths = [max(display_width(r[i]) for r in rows) for i in range(len(header))]
    lines = []
    for k, r in enumerate(rows):
        cells = [pad(r[0], widths[0])] + [pad(c, w, right=True) for c, w in zip(r[1:], widths[1:])]
        lines.append("  ".join(cells))
        if k == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)


def cmd_run(args) -> int:
    from ..api import engine_module, simulate
    from ..metrics import summarize
    from ..scenario import load_scenario
    from .report_cmds import default_out, save_scenario, write_report

    engine_module(args.engine)  # unknown/unavailable engine -> clear error before loading
    options = dict(args.options)
    if args.mode is not None:
        options["mode"] = args.mode
    scenario = load_scenario(args.file, args.overrides)
    strategies = None
    if args.strategies:
        strategies = list(dict.fromkeys(["baseline", *args.strategies]))
    runs = 1 if args.engine == "analytic" else (args.runs or DEFAULT_RUNS)
    t0 = time.perf_counter()
    try:
        results = simulate(scenario, engine=args.engine, strategies=strategies, runs=runs, seed=args.seed,
                           **options)
    except TypeError as exc:  # an engine signature rejecting an option
        raise ClmsimError(f"bad option for the {args.engine} engine: {exc}") from None
    doc = summary_document(results, summarize(results))
    doc["work"].setdefault("seconds", time.perf_counter() - t0)
    if args.report and not args.out:
        args.out = default_out("run", scenario.name)
    if args.out:
        results.to_parquet(args.out)
        save_scenario(scenario, args.out)  # `clmsim report DIR` finds it there (never via a recorded path)
    if args.json:
        json.dump(doc, sys.stdout, indent=2, ensure_ascii=False)
        sys.stdout.write("\n")
        if args.report:  # stdout holds exactly one JSON document
            write_report(args.out, sys.stderr)
        return 0
    prov = results.provenance
    what = "exact expectations" if doc["engine"] == "analytic" else \
        f"{doc['runs']} runs, seed {doc['seed']}, mode {doc['mode']}, ± = 95% CI half-width"
    print(f"scenario {doc['scenario']!r} ({prov.get('horizon')} {prov.get('period')}s), "
          f"engine {doc['engine']}: {what}")
    print(format_table(doc))
    if prov.get("approximation"):
        print(f"approximation: {prov['approximation']}")
    print(f"convention: {doc['convention']}")
    print("CLV new cust. = mean discounted net cash per customer acquired in the horizon (before "
          "acquisition cost); payback in periods; ROI = dNPV/dSpend vs baseline (docs/metrics.md)")
    if args.out:
        print(f"wrote {args.out}")
    if args.report:
        write_report(args.out)
    return 0
