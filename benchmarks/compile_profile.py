"""Where a fast-engine kernel's compile time goes (a report, not a test: nothing is asserted).

Compiles one kernel with an empty numba cache (a fresh temporary ``NUMBA_CACHE_DIR`` unless one
is set) on a tiny scenario -- the kernels' argument types do not depend on the scenario, so this
is the compile every first run pays -- and lists, from numba's compile events, the CPU seconds
spent compiling each jitted function: *exclusive* (its own typing, lowering and LLVM work,
its callees' compiles subtracted) and *inclusive*, with how many signatures were compiled and
which function first asked for it. Functions with ``inline="always"`` never appear: their
cost is inside every caller that inlines them.

    .venv/bin/python benchmarks/compile_profile.py individual   # or counts
    .venv/bin/python benchmarks/compile_profile.py counts --top 40

Run it twice on two versions to see what a change costs; CPU time on a shared machine varies
by up to 20% between runs, so compare versions interleaved. It also prints the LLVM IR
instructions numba generated (before optimisation), in total and for the largest functions:
that count is exact and repeatable, and the compile time follows it.
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("mode", choices=("counts", "individual"))
    ap.add_argument("--top", type=int, default=25, help="functions listed (default 25)")
    args = ap.parse_args(argv)
    os.environ.setdefault("NUMBA_CACHE_DIR", tempfile.mkdtemp(prefix="clmsim-compile-profile-"))
    os.environ["CLMSIM_COMPILE_NOTICE"] = "0"
    sys.path.insert(0, str(ROOT))

    from numba.core import event

    excl, incl, count = collections.defaultdict(float), collections.defaultdict(float), collections.Counter()
    first_caller: dict[str, str] = {}
    stack: list[list] = []

    def name(dispatcher) -> str:
        f = dispatcher.py_func
        return f"{f.__module__.rsplit('.', 1)[-1]}.{f.__name__}"

    class Listener(event.Listener):
        def on_start(self, ev):
            stack.append([name(ev.data["dispatcher"]), time.process_time(), 0.0])

        def on_end(self, ev):
            fn, t0, child = stack.pop()
            d = time.process_time() - t0
            excl[fn] += d - child
            incl[fn] += d
            count[fn] += 1
            if stack:
                stack[-1][2] += d
                first_caller.setdefault(fn, stack[-1][0])

    event.register("numba:compile", Listener())
    ir_size = _count_ir()
    from clmsim import compile_model, scenario_from_text
    from clmsim.engines import fast
    from clmsim.engines.fast.precompile import TINY

    t = time.process_time()
    fast.simulate([compile_model(scenario_from_text(TINY))], runs=1, seed=0, mode=args.mode, threads=1)
    total = time.process_time() - t
    print(f"{args.mode}-mode kernel: {total:.1f} s CPU to compile and run once "
          f"(NUMBA_CACHE_DIR={os.environ['NUMBA_CACHE_DIR']})")
    print(f"  {'exclusive':>9} {'inclusive':>9} {'sigs':>4}  function  (first asked for by)")
    for fn, v in sorted(excl.items(), key=lambda kv: -kv[1])[:args.top]:
        print(f"  {v:9.2f} {incl[fn]:9.2f} {count[fn]:4d}  {fn}  ({first_caller.get(fn, '-')})")
    print(f"LLVM IR before optimisation: {sum(ir_size.values()):,} instructions; largest libraries:")
    for lib, n in ir_size.most_common(5):
        print(f"  {n:9,d}  {lib}")
    return 0


def _count_ir() -> collections.Counter:
    """Count the instructions of every LLVM IR module numba adds to a code library (its functions
    and their wrappers, before optimisation), by library name. Patches numba's
    ``CPUCodeLibrary.add_ir_module`` for this process (a benchmark, not the library)."""
    from numba.core import codegen

    size = collections.Counter()
    add = codegen.CPUCodeLibrary.add_ir_module

    def counting(self, ir_module):
        size[self.name] += sum(len(block.instructions) for fn in ir_module.functions for block in fn.blocks)
        return add(self, ir_module)

    codegen.CPUCodeLibrary.add_ir_module = counting
    return size


if __name__ == "__main__":
    raise SystemExit(main())
