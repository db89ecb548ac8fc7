"""``clmsim fit transitions | sbg | rfm``: calibrate scenario parts from data.

Each command prints a summary and writes YAML with ``--out`` (without it the
YAML follows the summary on standard output). Bad data exits with status 2 and
a message naming the rows.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from ..errors import ClmsimError
from ..safeio import atomic_path, atomic_write
from .args import classes_arg, nonneg_float, nonneg_int, open_fraction, positive_float, positive_int
from .args import seed as seed_arg

# Defaults of clmsim.calibrate.RFMRules, repeated here so that building the parser does not import
# clmsim.calibrate (pandas, scipy.stats); tests/test_cli_polish.py checks they match the dataclass.
RFM_DEFAULTS = {"period": "month", "churn_after": 3, "frequency_window": 3, "loyal_frequency": 2,
                "loyal_monetary": 0.0}


def _input_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--sep", default=",", help="column separator (default ','; 'whitespace' for blank-separated files)")
    p.add_argument("--names", default=None,
                   help="comma-separated column names for a file without a header line")
    p.add_argument("--columns", action="append", default=[], metavar="FILE_NAME=CANONICAL",
                   help="map a file column to a canonical one, e.g. --columns cust=customer_id (repeatable)")
    p.add_argument("--out", default=None, metavar="FILE", help="write the YAML here")


def _interval_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--interval", choices=("dirichlet", "bootstrap"), default="dirichlet",
                   help="interval method for transition probabilities (default dirichlet)")
    p.add_argument("--level", type=open_fraction, default=0.95, help="interval coverage (default 0.95)")
    p.add_argument("--prior", type=nonneg_float, default=0.5,
                   help="Dirichlet prior concentration per reachable stage (default 0.5, Jeffreys)")
    p.add_argument("--n-boot", type=positive_int, default=500, help="bootstrap replicates (default 500)")
    p.add_argument("--seed", type=seed_arg, default=None, help="bootstrap seed (numpy SeedSequence)")
    p.add_argument("--min-pairs", type=nonneg_int, default=20,
                   help="minimum consecutive-period pairs out of each stage (default 20; 0 disables)")
    p.add_argument("--uncertainty", action="store_true",
                   help="also write a parameter_uncertainty section: the Dirichlet(counts + prior) posterior of "
                        "every row, for compare --parameter-samples")


def add_parsers(sub) -> None:
    fit = sub.add_parser("fit", help="calibrate scenario parts from data (transitions, sbg, rfm)")
    fsub = fit.add_subparsers(dest="fit_command", metavar="WHAT")
    fsub.required = True

    p = fsub.add_parser("transitions", help="panel (customer_id, period, stage[, revenue]) -> transition matrix",
                        description="Maximum-likelihood per-period transition matrix with intervals from a "
                                    "panel; only pairs of rows in consecutive periods count (gaps are skipped).")
    p.add_argument("file", help="panel CSV: customer_id, period (integer), stage, optional revenue")
    _input_options(p)
    _interval_options(p)
    p.add_argument("--base", default=None, metavar="SCENARIO",
                   help="scenario the fragment extends: stage names and kinds come from it, and the result "
                        "(written with --out) is validated as a whole scenario")
    p.add_argument("--kind", action="append", default=[], metavar="STAGE=KIND",
                   help="kind of a stage (prospect/active/churned/lost) when there is no --base (repeatable)")
    p.add_argument("--table", default=None, metavar="CSV", help="also write the estimates and intervals as CSV")
    p.set_defaults(func=cmd_transitions)

    p = fsub.add_parser("sbg", help="alive counts per cohort -> shifted-beta-geometric heterogeneity",
                        description="Shifted-beta-geometric (Fader & Hardie 2007) maximum-likelihood fit of "
                                    "alive counts t = 0..T of one or several cohorts.")
    p.add_argument("file", help="CSV: period (0, 1, ...), alive, optional cohort")
    _input_options(p)
    p.add_argument("--discount-rate", type=positive_float, default=0.10,
                   help="per-PERIOD discount rate for the DERL (default 0.10)")
    p.add_argument("--periods", type=positive_int, default=12, help="periods of the printed projection (default 12)")
    p.add_argument("--cohort", action="append", default=[], metavar="NAME",
                   help="fit only these cohorts (repeatable; default: all cohorts jointly)")
    p.add_argument("--uncertainty", action="store_true",
                   help="also write a parameter_uncertainty section: (ln alpha, ln beta) jointly normal with the "
                        "estimates' covariance, for compare --parameter-samples")
    p.set_defaults(func=cmd_sbg)

    p = fsub.add_parser("rfm", help="transaction log (customer_id, date, amount) -> complete scenario",
                        description="Stages from recency/frequency/monetary rules (see docs/calibration.md), "
                                    "then the chain, revenue and a runnable scenario; --holdout adds a fit report.")
    p.add_argument("file", help="transaction CSV: customer_id, date, amount")
    _input_options(p)
    _interval_options(p)
    d = RFM_DEFAULTS
    auto = " (default: chosen on the data before the holdout, with the other rules; docs/calibration.md)"
    p.add_argument("--period", choices=("week", "month", "quarter", "year"), default=d["period"])
    p.add_argument("--churn-after", type=positive_int, default=None,
                   help="recency (periods) from which a customer is churned" + auto)
    p.add_argument("--dormant-after", type=positive_int, default=None,
                   help="recency from which a churned customer is dormant (default: no dormant stage)")
    p.add_argument("--frequency-window", type=positive_int, default=None,
                   help="periods over which frequency and spend are counted" + auto)
    p.add_argument("--loyal-frequency", type=positive_int, default=None,
                   help="purchase periods in the window for 'loyal'" + auto)
    p.add_argument("--loyal-monetary", type=nonneg_float, default=None,
                   help="spend over the window for 'loyal' (default 0)")
    p.add_argument("--date-format", default=None, help="strptime format of dates, e.g. %%Y%%m%%d (default ISO)")
    p.add_argument("--start", default=None, help="first day of the data window (default: first date)")
    p.add_argument("--end", default=None, help="last day of the data window (default: last date)")
    p.add_argument("--holdout", type=nonneg_int, default=0,
                   help="periods held out at the end for the fit report (default 0: no report)")
    p.add_argument("--report", default=None, metavar="FILE.md", help="write the fit report (Markdown) here")
    p.add_argument("--panel-out", default=None, metavar="CSV", help="write the derived stage panel here")
    p.add_argument("--horizon", type=positive_int, default=24, help="scenario horizon in periods (default 24)")
    p.add_argument("--discount-rate", type=nonneg_float, default=0.10, help="annual discount rate (default 0.10)")
    p.add_argument("--margin", type=nonneg_float, default=None, help="margin of every active stage (default: none = 1)")
    p.add_argument("--cost-to-serve", type=nonneg_float, default=None, help="cost to serve per active customer-period")
    p.add_argument("--name", default=None, help="scenario name (default: from the file name)")
    p.add_argument("--seasonal", type=cycle_length, default=None, metavar="N",
                   help="fit multiplicative seasonal factors per position in a cycle of N periods (12 with monthly "
                        "periods: month of year) on the purchase probabilities and, when the data support it, "
                        "revenue per purchase; the rule choice and the holdout report use them "
                        "(default: none, a constant chain)")
    p.add_argument("--classes", type=classes_arg, default=None, metavar="K|auto",
                   help="K latent classes of chains in which a churned customer can drop out for good (EM, after "
                        "the rules are chosen); the scenario gets one segment per class (its own rows and revenue) and a "
                        "stage 'dropped' (churned, never returning by itself, contacted by win-back), "
                        "the holdout report forecasts with them; 'auto': the number (or none) chosen by BIC on the "
                        "calibration periods; 0: one chain without dropout (default: auto, or 0 with --seasonal, "
                        "--uncertainty or --dormant-after, which the classes do not combine with yet)")
    p.set_defaults(func=cmd_rfm)


def cycle_length(text: str) -> int:
    """``--seasonal N``: a whole number of periods >= 2 (the upper bound is checked by the fit)."""
    try:
        value = positive_int(text)
    except argparse.ArgumentTypeError:
        value = 0
    if value < 2:
        raise argparse.ArgumentTypeError(f"expected a whole number of periods >= 2 (12 for month of year), "
                                         f"got {text!r}")
    return value


def _check_outputs(*paths: str | None) -> None:
    """Refuse, before any work, an output whose directory does not exist or is not writable."""
    from ..safeio import WriteError

    for p in paths:
        if not p:
            continue
        parent = Path(p).resolve().parent
        if not parent.is_dir():
            raise WriteError(p, f"the directory {parent} does not exist")
        if not os.access(parent, os.W_OK):
            raise WriteError(p, f"the directory {parent} is not writable")
        if Path(p).is_dir():
            raise WriteError(p, "it is a directory")


def _read(args, required, optional, what, light: bool = False):
    """The input table with canonical column names: a pandas DataFrame, or with ``light`` a dict of
    arrays read without pandas (:func:`~clmsim.calibrate.io.read_columns`, for small files)."""
    _check_outputs(args.out, getattr(args, "table", None), getattr(args, "panel_out", None),
                   getattr(args, "report", None))
    from ..calibrate.io import parse_mapping, read_columns, read_table

    names = [n.strip() for n in args.names.split(",")] if args.names else None
    rename = parse_mapping(args.columns, "--columns")
    return (read_columns if light else read_table)(args.file, required, optional, sep=args.sep, names=names, rename=rename, what=what)


def _emit(args, text: str, summary: str) -> None:
    print(summary)
    if args.out:
        print(f"wrote {args.out}")
    else:
        print("# ---")
        print(text, end="")


def cmd_transitions(args) -> int:
    from ..calibrate import fit_transitions, fragment, prepare_panel
    from ..calibrate.io import PANEL_COLUMNS, parse_mapping, write_yaml
    from ..scenario import load_scenario

    raw = _read(args, PANEL_COLUMNS, ("revenue",), "panel")
    kinds = parse_mapping(args.kind, "--kind")
    stages = None
    base_rel = None
    base_rows = None
    if args.base:
        if kinds:
            raise ClmsimError("give stage kinds either with --base or with --kind, not both")
        base = load_scenario(args.base)
        spec = base.spec
        stages = tuple(spec.stages)
        kinds = {n: st.kind for n, st in spec.stages.items()}
        base_rows = {k: dict(v) for k, v in spec.transitions.items()}
        out_dir = Path(args.out).resolve().parent if args.out else Path.cwd()
        base_rel = os.path.relpath(Path(args.base).resolve(), out_dir)
    panel = prepare_panel(raw)
    fit = fit_transitions(panel, stages=stages, kinds=kinds, interval=args.interval, level=args.level,
                          prior=args.prior, n_boot=args.n_boot, seed=args.seed, min_pairs=args.min_pairs)
    data = fragment(fit, base_rel, base_rows, args.prior if args.uncertainty else None)
    comment = (f"Fitted by clmsim fit transitions from {args.file}: {fit.n_customers} customers, "
               f"{int(fit.counts.sum())} consecutive-period pairs ({fit.n_gaps} gaps skipped).\n"
               f"Maximum-likelihood p_ij = n_ij / n_i; {fit.method} {fit.level:.0%} intervals in the summary / --table.")
    text = write_yaml(data, None, comment)
    table = fit.table().to_csv(index=False) if args.table else None
    if args.out:
        with atomic_path(args.out) as tmp:  # validated under a temporary name: no invalid file is left
            tmp.write_text(text, encoding="utf-8")
            if args.base:
                load_scenario(tmp)  # the merged result must be a valid scenario
    if table is not None:
        atomic_write(args.table, table)
    _emit(args, text, fit.summary())
    return 0


def cmd_sbg(args) -> int:
    from ..calibrate import cohorts_from_table, fit_sbg
    from ..calibrate.io import SURVIVAL_COLUMNS, write_yaml

    raw = _read(args, SURVIVAL_COLUMNS, ("cohort",), "survival data", light=True)  # alive counts: a few rows
    cohorts = cohorts_from_table(raw)
    if args.cohort:
        unknown = [c for c in args.cohort if c not in cohorts]
        if unknown:
            raise ClmsimError(f"--cohort: unknown cohort {', '.join(map(repr, unknown))}; "
                              f"the file has {', '.join(map(repr, cohorts))}")
        cohorts = {c: cohorts[c] for c in args.cohort}
    fit = fit_sbg(cohorts)
    comment = (f"Fitted by clmsim fit sbg from {args.file} (shifted-beta-geometric, Fader & Hardie 2007):\n"
               f"alpha = {fit.alpha:.6g} (se {fit.se_alpha:.3g}), beta = {fit.beta:.6g} (se {fit.se_beta:.3g}), "
               f"log-likelihood {fit.loglik:.4f}.")
    block = fit.heterogeneity_block()
    if args.uncertainty:
        block["parameter_uncertainty"] = fit.uncertainty_blocks()
    text = write_yaml(block, args.out, comment)
    _emit(args, text, fit.summary(args.discount_rate, args.periods))
    return 0


def cmd_rfm(args) -> int:
    from ..calibrate import RFMRules, fit_rfm
    from ..calibrate.io import TRANSACTION_COLUMNS, write_yaml
    from ..calibrate.rfm import resolve_classes
    from ..calibrate.stages import prepare_transactions

    raw = _read(args, TRANSACTION_COLUMNS, (), "transaction log")
    given = {k: getattr(args, k) for k in ("churn_after", "dormant_after", "frequency_window", "loyal_frequency",
                                           "loyal_monetary") if getattr(args, k) is not None}
    rules = None
    if all(k in given for k in ("churn_after", "frequency_window", "loyal_frequency")):  # the user fixed them
        rules = RFMRules(period=args.period, **given)
    _check_date_format(args.date_format)
    tx = prepare_transactions(raw, args.date_format)
    start = _date(args.start, "--start")
    end = _date(args.end, "--end")
    name = args.name or Path(args.file).stem.replace("_", "-").lower() or "calibrated"
    uncertainty = args.prior if args.uncertainty else None
    fixed = {"period": args.period, **given}
    classes, _ = resolve_classes(args.classes, seasonal=args.seasonal, uncertainty=uncertainty, rules=rules,
                                 fixed=fixed)
    if classes and len(tx):     # EM takes seconds: say so
        how = "as many as the BIC supports" if classes == "auto" else f"{classes}"
        sys.stderr.write(f"clmsim: fitting the stages, then latent classes of customers by EM ({how}; --classes 0: "
                         f"one chain) ...\n")
    res = fit_rfm(tx, rules, holdout=args.holdout, horizon=args.horizon, discount_rate=args.discount_rate,
                  margin=args.margin, cost_to_serve=args.cost_to_serve, name=name, source=Path(args.file).name,
                  start=start, end=end, interval=args.interval, level=args.level, n_boot=args.n_boot,
                  seed=args.seed, min_pairs=args.min_pairs,
                  uncertainty=uncertainty, fixed=fixed,
                  seasonal=args.seasonal, classes=args.classes)
    rules = res.rules
    if args.panel_out:
        atomic_write(args.panel_out, res.stages.panel.to_csv(index=False))
    comment = (f"Calibrated by clmsim fit rfm from {args.file}.\nStage rules: {rules.describe()}.\n"
               f"Validated as a complete scenario; add programs, win-back, acquisition and strategies in a file "
               f"that extends this one.")
    text = write_yaml(res.scenario, args.out, comment)
    summary = [f"{len(res.stages.customers):,} customers, {res.stages.n_periods} {rules.period}s from "
               f"{res.stages.starts[0]:%Y-%m-%d}; {res.stages.dropped} transactions outside whole periods dropped",
               res.fit.summary()]
    if res.classes is not None:
        summary.insert(1, "one chain (the scenario's top-level transitions and revenue; the segments of the latent "
                          "classes below replace them):")
    if res.choice is not None:
        summary.insert(1, res.choice.describe())
        summary.insert(2, f"rules: {rules.describe()}")
    if res.seasonal is not None:
        summary.append(res.seasonal.describe(f"all {res.stages.n_periods} {rules.period}s (the scenario's)"))
    if res.class_choice is not None:
        summary.append(res.class_choice.describe(
            f"the {res.class_choice.periods} {'calibration ' if args.holdout else ''}{rules.period}s"))
    if res.classes is not None:
        summary.append(res.classes.describe(f"all {res.stages.n_periods} {rules.period}s (the scenario's segments)"))
    summary += [f"note: {n}" for n in res.notes]
    if res.report is not None:
        md = res.report.to_markdown(rules.period)
        if res.holdout_classes is not None:
            md += "\n\n```\n" + res.holdout_classes.describe(
                f"the {res.report.calibration_periods} calibration {rules.period}s only (the holdout forecast's)") \
                + "\n```"
        if res.holdout_seasonal is not None:
            md += "\n\n```\n" + res.holdout_seasonal.describe(
                f"the {res.report.calibration_periods} calibration {rules.period}s only (the holdout forecast's)") \
                + "\n```"
        summary += ["", "fit report (holdout)", md]
        if args.report:
            atomic_write(args.report, md + "\n")
    _emit(args, text, "\n".join(summary))
    return 0


def _check_date_format(fmt: str | None) -> None:
    """Refuse a strptime format with an unknown directive (``%Q``) before reading any data."""
    import time

    if fmt is None:
        return
    try:
        time.strptime("", fmt)
    except ValueError as exc:
        if "does not match" not in str(exc) and "unconverted data" not in str(exc):
            raise ClmsimError(f"--date-format {fmt!r}: {exc}; use strptime directives such as %Y%m%d "
                              "or %d/%m/%Y") from None


def _date(value: str | None, option: str):
    import pandas as pd

    if value is None:
        return None
    try:
        return pd.Timestamp(value)
    except ValueError:
        raise ClmsimError(f"{option}: not a date: {value!r} (use YYYY-MM-DD)") from None
