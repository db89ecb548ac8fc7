"""The ``clmsim`` command: a thin shell over the same API a notebook uses.

Each sub-command lives in its own module and registers itself through
``add_parser(subparsers)``; this module wires them up and turns user errors
into a clean message and exit status 2 (never a traceback).
"""

from __future__ import annotations

import argparse
import sys
from typing import Sequence

from .._version import __version__
from ..errors import ClmsimError
from ..scenario import ScenarioError
from . import analysis_cmds, explain_cmd, explore_cmd, fit_cmds, report_cmds, run_cmds, scenario_cmds, trace_cmd

COMMANDS = [scenario_cmds, fit_cmds, trace_cmd, analysis_cmds, run_cmds, explain_cmd, explore_cmd, report_cmds]

EXIT_USAGE = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clmsim",
        description="Simulate customer lifecycles and evaluate acquisition, retention and win-back strategies.",
    )
    parser.add_argument("--version", action="version", version=f"clmsim {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.add_parsers(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or 0)
    except ScenarioError as exc:
        n = len(exc.diagnostics)
        print(str(exc), file=sys.stderr)
        print(f"{n} problem{'s' if n != 1 else ''} found", file=sys.stderr)
        return EXIT_USAGE
    except ClmsimError as exc:
        print(f"clmsim: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeyboardInterrupt:
        print("clmsim: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        # the reader (e.g. `| head`) went away: stop quietly, as Unix tools do
        import os

        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 141
