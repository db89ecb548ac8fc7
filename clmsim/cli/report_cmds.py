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

    p = sub.add_parser("demo", help="the main job on the bundled telecom scenario: what to do and what it costs, "
                                    "marginal returns, a budget sweep, how sure the choice is; HTML report",
                       description="Run the demo plan (clmsim/data/demo.yaml, or --plan FILE merged over it) and "
                                   "write OUT/report.html. Options override the plan.")
    p.add_argument("--plan", metavar="FILE", default=None, help="a demo plan YAML merged over the shipped one")
    p.add_argument("--out", metavar="DIR", default=None, help="output directory (plan default results/demo)")
    p.add_argument("--runs", type=positive_int, default=None, metavar="N",
                   help="Monte Carlo runs of the simulate step (plan default 30)")
    p.add_argument("--seed", type=seed_arg, default=None, metavar="S", help="seed of every step (plan default 2026)")
    p.add_argument("--scenario", metavar="FILE", default=None,
                   help="scenario file (plan default scenarios/telecom.yaml; the plan's lever and uncertain inputs "
                        "must exist in it)")
    p.add_argument("--samples", type=positive_int, default=None, metavar="N",
                   help="sampled states of the world for the probability of being best (plan default 32)")
    p.add_argument("--sobol", type=nonneg_int, default=None, metavar="N",
                   help="Sobol base sample N for the NPV difference of the two best strategies (N x (inputs + 2) "
                        "exact evaluations of each; plan default 0 = not run)")
    p.set_defaults(func=cmd_demo)


def cmd_report(args) -> int:
    from ..report.build import report_run_dir

    path = report_run_dir(args.run_dir, args.out, args.scenario)
    print(f"wrote {path}")
    return 0


def cmd_demo(args) -> int:
    from ..errors import ClmsimError
    from ..scenario.demo_plan import load_demo_plan
    from .demo import run_demo

    if args.runs is not None and args.runs < 2:
        raise ClmsimError(f"--runs must be at least 2 (the spread over runs needs two), got {args.runs}")
    if args.seed is not None and args.seed < 0:
        raise ClmsimError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.samples is not None and args.samples < 4:
        raise ClmsimError(f"--samples needs at least 4 sampled states of the world, got {args.samples}")
    if args.sobol is not None and args.sobol != 0 and args.sobol < 4:
        raise ClmsimError(f"--sobol needs a base sample of at least 4 (or 0 to skip Sobol), got {args.sobol}")
    changes = {k: v for k, v in (("out", args.out), ("seed", args.seed), ("scenario", args.scenario),
                                 ("simulate.runs", args.runs), ("sensitivity.samples", args.samples),
                                 ("sensitivity.sobol_samples", args.sobol)) if v is not None}
    outcome = run_demo(load_demo_plan(args.plan, **changes))
    print(outcome.text)
    if outcome.missing:
        print("\nnot in this report:")
        for m in outcome.missing:
            print(f"  - {m}")
    print(f"\nreport: {outcome.report}  ({outcome.seconds['total']:.0f} s)")
    sys.stdout.flush()
    return 0
