"""``clmsim report RUN_DIR`` and ``clmsim demo``."""

from __future__ import annotations

import sys


def add_parsers(sub) -> None:
    p = sub.add_parser("report", help="write a self-contained HTML report of a run directory")
    p.add_argument("run_dir", metavar="RUN_DIR", help="directory written by `clmsim run ... --out DIR`")
    p.add_argument("--out", metavar="DIR", default=None,
                   help="where to write report.html, PNGs and CSVs (default: RUN_DIR)")
    p.add_argument("--scenario", metavar="FILE", default=None,
                   help="the scenario file, when it is not beside the results or at its recorded path")
    p.set_defaults(func=cmd_report)

    p = sub.add_parser("demo", help="the main job on the bundled telecom scenario: compare strategies, sweep "
                                    "the save-desk budget, sensitivity, HTML report")
    p.add_argument("--out", metavar="DIR", default="results/demo", help="output directory (default results/demo)")
    p.add_argument("--runs", type=int, default=None, metavar="N",
                   help="Monte Carlo runs per strategy in the comparison (default 30)")
    p.add_argument("--seed", type=int, default=None, metavar="S", help="seed of every step (default 2026)")
    p.add_argument("--scenario", metavar="FILE", default=None,
                   help="scenario file (default scenarios/telecom.yaml; the sweep and sensitivity paths "
                        "are telecom's)")
    p.add_argument("--sobol", type=int, default=None, metavar="N",
                   help="Sobol base sample N (N x 7 exact evaluations; default 32, 0 = skip Sobol)")
    p.set_defaults(func=cmd_demo)


def cmd_report(args) -> int:
    from ..report.build import report_run_dir

    path = report_run_dir(args.run_dir, args.out, args.scenario)
    print(f"wrote {path}")
    return 0


def cmd_demo(args) -> int:
    from ..demo import DemoPlan, run_demo
    from ..errors import ClmsimError

    plan = DemoPlan()
    changes = {"out": args.out}
    if args.runs is not None:
        if args.runs < 2:
            raise ClmsimError(f"--runs must be at least 2 (paired intervals need two runs), got {args.runs}")
        changes["runs"] = args.runs
    if args.seed is not None:
        if args.seed < 0:
            raise ClmsimError(f"--seed must be a non-negative integer, got {args.seed}")
        changes["seed"] = args.seed
    if args.scenario:
        changes["scenario"] = args.scenario
    if args.sobol is not None:
        if args.sobol != 0 and args.sobol < 4:
            raise ClmsimError(f"--sobol needs a base sample of at least 4 (or 0 to skip Sobol), got {args.sobol}")
        changes["sobol_samples"] = args.sobol
    import dataclasses

    outcome = run_demo(dataclasses.replace(plan, **changes))
    print(outcome.table)
    if outcome.missing:
        print("\nnot in this report:")
        for m in outcome.missing:
            print(f"  - {m}")
    print(f"\nreport: {outcome.report}  ({outcome.seconds['total']:.0f} s)")
    sys.stdout.flush()
    return 0
