"""Instructions a fast-engine kernel executes on a workload, per version (a report, not a test).

Timings on a shared 2-core machine drift by 10-20% between runs, which hides the few per cent a
kernel change is worth. Instruction counts do not drift: this script runs the workload under
valgrind's callgrind with instrumentation switched off, compiles or loads the kernel, then
switches it on around the kernel calls only (``callgrind_control -i on``), so the count is the
kernel's own work (plus the few Python instructions of the call). Each version gets its own
numba cache, compiled outside valgrind first.

    .venv/bin/python benchmarks/kernel_instructions.py counts telecom
    .venv/bin/python benchmarks/kernel_instructions.py counts telecom --tree . --tree /tmp/old

Workloads as ``benchmarks/kernel_perf.py``. One call of 20 runs (counts) or 1 run
(individual) takes about 3 minutes per version, most of it Python's imports under valgrind.
The same seed gives the same draws, so the counts repeat to the last digit on a version.
Instructions are not time (a call, a cache miss, a division cost more than an add), but a
change that executes more of them rarely runs faster. Needs valgrind.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from kernel_perf import _model, runs_of, workload_arguments       # (this script runs from benchmarks/)

ROOT = Path(__file__).resolve().parents[1]


def child(args) -> None:
    from clmsim.engines import fast
    from clmsim.engines.fast.kernels import runtime

    model = _model(args.workload, args.mode, Path(args.tree))
    fast.simulate([model], runs=1, seed=1, mode=args.mode, threads=1, quantiles=False)    # loads the kernel
    if not args.measure:
        return
    inner = runtime.run_split

    def instrumented(*a, **k):
        _switch("on")
        try:
            return inner(*a, **k)
        finally:
            _switch("off")

    runtime.run_split = instrumented
    for _ in range(args.reps):
        fast.simulate([model], runs=args.runs, seed=2, mode=args.mode, threads=1, quantiles=False)


def _switch(state: str) -> None:
    subprocess.run(["callgrind_control", "-i", state, str(os.getpid())], stdout=subprocess.DEVNULL, check=True)
    time.sleep(0.2)


def count(tree: Path, args, tmp: Path, i: int) -> int:
    """Instructions of ``args.reps`` kernel calls in ``tree``."""
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp / f"cache{i}"), CLMSIM_COMPILE_NOTICE="0", PYTHONPATH=str(tree))
    base = [sys.executable, __file__, args.mode, args.workload, "--runs", str(args.runs), "--reps", str(args.reps),
            "--child", str(tree)]
    subprocess.run(base, env=env, cwd=tree, check=True)                            # compile outside valgrind
    out = tmp / f"callgrind{i}.out"
    res = subprocess.run(["valgrind", "--tool=callgrind", "--instr-atstart=no", f"--callgrind-out-file={out}",
                          *base, "--measure"], env=env, cwd=tree, capture_output=True, text=True)
    m = re.search(r"Collected\s*:\s*(\d+)", res.stderr)
    if res.returncode or not m:
        raise SystemExit(f"kernel_instructions: valgrind failed in {tree}:\n{res.stderr[-1500:]}")
    return int(m.group(1))


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    workload_arguments(ap, {"counts": 20, "individual": 1})
    ap.add_argument("--reps", type=int, default=1, help="calls counted (default 1)")
    ap.add_argument("--tree", action="append", help="checkout to count (repeatable; default: this one)")
    ap.add_argument("--child", metavar="TREE", help=argparse.SUPPRESS)
    ap.add_argument("--measure", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.runs = runs_of(args)
    if args.child:
        args.tree = args.child
        child(args)
        return 0
    if shutil.which("valgrind") is None or shutil.which("callgrind_control") is None:
        print("kernel_instructions: needs valgrind (e.g. apt install valgrind)", file=sys.stderr)
        return 2
    trees = [Path(t).resolve() for t in (args.tree or [str(ROOT)])]
    print(f"{args.mode} mode, {args.workload}: {args.reps} call(s) x {args.runs} runs, instructions (callgrind)")
    first = None
    with tempfile.TemporaryDirectory(prefix="clmsim-kernel-instructions-") as tmp:
        for i, tree in enumerate(trees):
            n = count(tree, args, Path(tmp), i)
            first = first or n
            print(f"  {n:>15,d}  {n / first:6.3f}  {tree}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
