"""``clmsim compile``: compile the fast engine's kernels now (``make install`` runs it)."""

from __future__ import annotations

import argparse
import sys


def add_parsers(sub) -> None:
    p = sub.add_parser("compile", help="compile the fast engine's numba kernels now, so the first run starts at once",
                       description="Compile the fast engine's kernels (both modes, one process each, at once) into "
                                   "numba's cache (NUMBA_CACHE_DIR, else beside the sources). Without this, the first "
                                   "fast-engine run of each mode compiles its kernel and says so on stderr.")
    p.add_argument("--mode", choices=("counts", "individual", "all"), default="all",
                   help="which kernel (default all)")
    p.set_defaults(func=cmd_compile)


def cmd_compile(args: argparse.Namespace) -> int:
    from ..engines.fast.precompile import MODES, precompile

    modes = MODES if args.mode == "all" else (args.mode,)
    precompile(modes, echo=lambda line: print(line, file=sys.stderr, flush=True))
    return 0
