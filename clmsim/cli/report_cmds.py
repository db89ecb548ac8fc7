"""``clmsim report RUN_DIR``, ``clmsim demo`` and the ``--report`` option of run/compare/sweep."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from .args import nonneg_int, positive_int
from .args import seed as seed_arg

RESULTS_ROOT = "results"
"""Parent of the default output directory ``results/<command>-<scenario name>`` of ``--report``."""


def add_report_option(p, command: str, out_required: bool = False) -> None:
    """Add ``--report`` to the parser of ``command`` (run, compare or sweep)."""
    where = "the --out directory" if out_required else \
        f"the --out directory (default {RESULTS_ROOT}/{command}-<scenario name>)"
    p.add_argument("--report", action="store_true",
                   help=f"also write a self-contained HTML report (report.html, PNGs, CSVs) into {where} "
                        "and print its path")


def default_out(command: str, name: str) -> str:
    """``results/<command>-<name>``, the name reduced to letters, digits, ``.``, ``_`` and ``-``."""
    slug = re.sub(r"[^\w.-]+", "-", str(name)).strip("-.") or "scenario"
    return str(Path(RESULTS_ROOT) / f"{command}-{slug}")


def save_scenario(scenario, out_dir: str | Path) -> Path:
    """Write the resolved scenario as ``scenario.yaml`` into ``out_dir``, where the report finds it
    (its hash equals the results' hash, overrides included)."""
    from ..safeio import atomic_write, ensure_dir
    from ..scenario import dump_yaml

    return atomic_write(ensure_dir(out_dir) / "scenario.yaml", dump_yaml(scenario.data))


def write_report(out_dir: str | Path, stream=None) -> Path:
    """Write the HTML report of an output directory (run, compare or sweep) and print
    ``report: PATH`` on ``stream`` (default stdout)."""
    from ..report.build import report_run_dir

    path = report_run_dir(out_dir)
    print(f"report: {path}", file=stream or sys.stdout)
    return path


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
    p.add_argument("--runs", type=positive_int, default=None, metavar="N",
                   help="Monte Carlo runs per strategy in the comparison (default 30)")
    p.add_argument("--seed", type=seed_arg, default=None, metavar="S", help="seed of every step (default 2026)")
    p.add_argument("--scenario", metavar="FILE", default=None,
                   help="scenario file (default scenarios/telecom.yaml; the sweep and sensitivity paths "
                        "are telecom's)")
    p.add_argument("--sobol", type=nonneg_int, default=None, metavar="N",
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
