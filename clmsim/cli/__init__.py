"""The ``clmsim`` command: a thin shell over the same API a notebook uses.

Each sub-command lives in its own module and registers itself through
``add_parser(subparsers)``; this module wires them up and is the one place where
errors become what a user sees -- never a traceback:

* a user error (:class:`~clmsim.scenario.ScenarioError`, :class:`~clmsim.errors.ClmsimError`)
  prints its message and exits with status 2;
* running out of memory prints one line that says so (status 3); Ctrl-C prints
  ``clmsim: interrupted`` (status 130);
* any other exception is a bug: one line names it and the path of a crash report
  holding the traceback (status 70); ``clmsim --debug ...`` (or ``CLMSIM_DEBUG=1``)
  prints the traceback instead.

Terminal output escapes control characters (:mod:`clmsim.terminal`): names from a
scenario cannot send escape sequences to the terminal.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
import warnings
from typing import Sequence

from .._version import __version__
from ..errors import ClmsimError
from ..scenario.errors import ScenarioError
from . import (analysis_cmds, compile_cmd, explain_cmd, explore_cmd, fit_cmds, report_cmds, run_cmds, scenario_cmds,
               trace_cmd)

COMMANDS = [scenario_cmds, fit_cmds, trace_cmd, analysis_cmds, run_cmds, explain_cmd, explore_cmd, report_cmds,
            compile_cmd]

EXIT_USAGE = 2
EXIT_MEMORY = 3
EXIT_BUG = 70
EXIT_INTERRUPTED = 130


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="clmsim",
        description="Simulate customer lifecycles and evaluate acquisition, retention and win-back strategies.",
    )
    parser.add_argument("--version", action="version", version=f"clmsim {__version__}")
    parser.add_argument("--allow-large", action="store_true",
                        help="raise every resource limit (docs/cli.md#limits) by 1000x; "
                             "also CLMSIM_ALLOW_LARGE=1")
    parser.add_argument("--strict", action="store_true",
                        help="treat scenario warnings (e.g. a discount rate above 1) as errors")
    parser.add_argument("--debug", action="store_true",
                        help="show the traceback of an unexpected error instead of saving a crash report")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module in COMMANDS:
        module.add_parsers(sub)
    return parser


def crash_dir() -> str:
    """Where crash reports go: ``$CLMSIM_CRASH_DIR``, else ``$XDG_CACHE_HOME/clmsim/crash``
    (``~/.cache/clmsim/crash``), else the system temporary directory."""
    env = os.environ.get("CLMSIM_CRASH_DIR")
    if env:
        return env
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "clmsim", "crash")


def save_crash_report(exc: BaseException, argv: Sequence[str]) -> str | None:
    """Write the traceback of ``exc`` with versions and the command line; return the path."""
    import datetime
    import platform
    import tempfile
    import traceback

    text = (f"clmsim {__version__} crash report\n"
            f"time: {datetime.datetime.now().isoformat(timespec='seconds')}\n"
            f"python: {platform.python_version()} on {platform.platform()}\n"
            f"command: clmsim {' '.join(argv)}\n\n"
            + "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    for folder in (crash_dir(), tempfile.gettempdir()):
        try:
            os.makedirs(folder, exist_ok=True)
            path = os.path.join(folder, f"crash-{stamp}-{os.getpid()}.txt")
            with open(path, "w", encoding="utf-8") as fh:
                fh.write(text)
            return path
        except OSError:
            continue
    return None


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:300] + ("..." if len(text) > 300 else "")


_SHOW_WARNING = warnings.showwarning


def _print_warning(message, category, filename, lineno, file=None, line=None) -> None:
    """Scenario warnings as one ``clmsim: warning:`` line; any other warning as Python shows it."""
    from ..scenario.errors import ScenarioWarning

    if issubclass(category, ScenarioWarning):
        print(f"clmsim: warning: {message}", file=sys.stderr)
    else:
        _SHOW_WARNING(message, category, filename, lineno, file, line)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; returns the exit status (0 ok, 2 bad input, 3 out of memory, 70 bug, 130 Ctrl-C)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    with contextlib.ExitStack() as stack:
        from ..terminal import safe_streams

        stack.enter_context(safe_streams())
        args = build_parser().parse_args(argv)  # usage errors: argparse exits with status 2
        debug = args.debug or os.environ.get("CLMSIM_DEBUG", "").strip() not in ("", "0")
        if args.allow_large:
            from .. import limits

            stack.enter_context(limits.raised())
        stack.enter_context(warnings.catch_warnings())
        from ..scenario.errors import ScenarioWarning, strict

        warnings.simplefilter("default", ScenarioWarning)
        warnings.showwarning = _print_warning
        if args.strict:
            stack.enter_context(strict())
        if getattr(args, "quiet", False):
            from ..analysis.backends import quiet

            stack.enter_context(quiet())
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
            return EXIT_INTERRUPTED
        except BrokenPipeError:
            # the reader (e.g. `| head`) went away: stop quietly, as Unix tools do
            devnull = os.open(os.devnull, os.O_WRONLY)
            os.dup2(devnull, sys.stdout.fileno())
            return 141
        except MemoryError:
            print("clmsim: error: out of memory: the request needs more memory than this machine has; "
                  "ask for fewer runs, customers, periods or points", file=sys.stderr)
            return EXIT_MEMORY
        except OSError as exc:
            from ..safeio import os_reason

            if exc.filename is None or debug:
                raise_or_report = exc
            else:
                print(f"clmsim: error: {exc.filename}: {os_reason(exc)}", file=sys.stderr)
                return EXIT_USAGE
            return _bug(raise_or_report, argv, debug)
        except Exception as exc:  # noqa: BLE001 -- the one place a bug becomes a message
            return _bug(exc, argv, debug)


def _bug(exc: BaseException, argv: Sequence[str], debug: bool) -> int:
    if debug:
        import traceback

        traceback.print_exception(type(exc), exc, exc.__traceback__, file=sys.stderr)
        return EXIT_BUG
    path = save_crash_report(exc, argv)
    where = f"; crash report: {path}" if path else ""
    print(f"clmsim: internal error ({type(exc).__name__}: {_one_line(exc)}){where}. "
          "This is a bug in clmsim; rerun with --debug to see the traceback", file=sys.stderr)
    return EXIT_BUG
