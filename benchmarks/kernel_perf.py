"""Where a fast-engine kernel's *run* time goes, function by function (a report, not a test).

``perf`` samples jitted code without names: numba's functions live in anonymous memory. This
script runs a workload in a child process that compiles the kernels afresh (a temporary
``NUMBA_CACHE_DIR``: only a fresh compile keeps the LLVM modules that list the functions),
writes ``/tmp/perf-<pid>.map`` -- the address range of every jitted function -- and then
repeats the workload while ``perf record`` samples it; ``perf report`` then names each
kernel function. The compile itself is not sampled.

    .venv/bin/python benchmarks/kernel_perf.py counts telecom
    .venv/bin/python benchmarks/kernel_perf.py individual bare --reps 10 --top 20
    .venv/bin/python benchmarks/kernel_perf.py individual telecom --tree /tmp/old   # another version

Workloads are those of ``benchmarks/throughput.py``: ``bare`` (the six-stage chain; 10^6
customers in counts mode, 10^5 in individual mode), ``telecom`` (every feature on),
``aimed`` (telecom's ``save_offer_risk``) and ``textbook`` (four segments). Percentages are of
all samples of the process (Python's share included); compare versions by the split between
kernel functions, as the machine's speed drifts between runs. Needs Linux ``perf``.
"""

from __future__ import annotations

import argparse
import gc
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WORKLOADS = ("bare", "telecom", "aimed", "textbook")
"""Workload names of :func:`_model` (also used by ``kernel_instructions.py``)."""


def workload_arguments(ap: argparse.ArgumentParser, runs: dict[str, int]) -> None:
    """The arguments this script and ``kernel_instructions.py`` share: the mode, the workload and
    ``--runs`` (default ``runs[mode]``; :func:`runs_of` fills it in after parsing)."""
    ap.add_argument("mode", choices=tuple(runs))
    ap.add_argument("workload", choices=WORKLOADS)
    ap.add_argument("--runs", type=int, default=None,
                    help="runs per call (default: " + ", ".join(f"{n} {m}" for m, n in runs.items()) + ")")
    ap.set_defaults(default_runs=runs)


def runs_of(args) -> int:
    """``--runs``, else the mode's default given to :func:`workload_arguments`."""
    return args.runs or args.default_runs[args.mode]


def _model(name: str, mode: str, tree: Path):
    sys.path.insert(0, str(tree / "benchmarks"))
    import throughput as tp
    if name == "bare":
        return tp.bare(1_000_000 if mode == "counts" else 100_000)
    if name == "telecom":
        return tp.telecom()
    if name == "aimed":
        return tp.telecom(strategy="save_offer_risk")
    return tp.compile_model(tp.load_scenario(tree / "scenarios" / "textbook.yaml"))


def _jitted_functions() -> dict[int, str]:
    """Address -> name of every function in the LLVM modules of the loaded kernel dispatchers."""
    from numba.core.registry import CPUDispatcher
    found: dict[int, str] = {}
    seen: set[int] = set()

    def walk(lib):
        if id(lib) in seen:
            return
        seen.add(id(lib))
        module = getattr(lib, "_final_module", None)
        for fn in (module.functions if module is not None else ()):
            if not fn.is_declaration:
                addr = lib._codegen._engine.get_function_address(fn.name)
                if addr:
                    found[addr] = fn.name
        for sub in getattr(lib, "_linking_libraries", ()):
            walk(sub)

    for modname, mod in list(sys.modules.items()):
        if modname.startswith("clmsim.engines.fast.kernels"):
            for obj in vars(mod).values():
                if isinstance(obj, CPUDispatcher):
                    for cres in obj.overloads.values():
                        walk(cres.library)
    return found


def short_name(mangled: str) -> str:
    """``module.function`` from a numba-mangled name (``..._ZN6clmsim...7kernels6counts15simulate_countsB...``)."""
    m = re.search(r"kernels\d+([A-Za-z_]\w*?)\d+([A-Za-z_]\w*?)B\d", mangled)
    if m:
        return f"{m.group(1)}.{m.group(2)}"
    m = re.search(r"(?:\d+[A-Za-z_]\w*?)+?\d+([A-Za-z_]\w*?)B\d", mangled)
    return m.group(1) if m else mangled[:60]


def child(args) -> None:
    from clmsim.engines import fast
    model = _model(args.workload, args.mode, Path(args.tree))
    fast.simulate([model], runs=1, seed=1, mode=args.mode, threads=1, quantiles=False)     # compiles
    funcs = _jitted_functions()
    gc.collect()
    gc.freeze()             # the compile's garbage out of the sampled collections (it took a third)
    addrs = sorted(funcs)
    with open(f"/tmp/perf-{os.getpid()}.map", "w") as f:
        for i, a in enumerate(addrs):
            size = addrs[i + 1] - a if i + 1 < len(addrs) else 0x10000
            f.write(f"{a:x} {size:x} {short_name(funcs[a])}\n")
    Path(args.ready).write_text(str(os.getpid()))
    time.sleep(1.0)                                        # perf attaches
    t = time.process_time()
    for _ in range(args.reps):
        fast.simulate([model], runs=args.runs, seed=2, mode=args.mode, threads=1, quantiles=False)
    print(f"{args.reps} x {args.runs} runs: {time.process_time() - t:.2f} s CPU", file=sys.stderr)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    workload_arguments(ap, {"counts": 50, "individual": 4})
    ap.add_argument("--reps", type=int, default=8, help="calls sampled (default 8)")
    ap.add_argument("--top", type=int, default=20, help="rows listed (default 20)")
    ap.add_argument("--tree", default=str(ROOT), help="checkout whose clmsim is profiled (default: this one; "
                    "e.g. a `git worktree add --detach /tmp/old <commit>`)")
    ap.add_argument("--child", metavar="READY", dest="ready", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    args.runs = runs_of(args)
    if args.ready:
        child(args)
        return 0
    if shutil.which("perf") is None:
        print("kernel_perf: needs Linux perf (e.g. apt install linux-perf)", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="clmsim-kernel-perf-") as tmp:
        ready, data = Path(tmp) / "ready", Path(tmp) / "perf.data"
        env = dict(os.environ, NUMBA_CACHE_DIR=str(Path(tmp) / "cache"), CLMSIM_COMPILE_NOTICE="0",
                   PYTHONPATH=str(Path(args.tree).resolve()))
        proc = subprocess.Popen([sys.executable, __file__, args.mode, args.workload, "--runs", str(args.runs),
                                 "--reps", str(args.reps), "--tree", str(Path(args.tree).resolve()),
                                 "--child", str(ready)], env=env, cwd=args.tree)
        while not ready.exists():
            if proc.poll() is not None:
                return proc.returncode or 1
            time.sleep(0.2)
        rec = subprocess.Popen(["perf", "record", "-F", "1999", "-p", str(proc.pid), "-o", str(data)],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        code = proc.wait()
        rec.send_signal(2)
        rec.wait()
        if code:
            return code
        report = subprocess.run(["perf", "report", "-i", str(data), "--no-children", "--sort", "sym", "-n",
                                 "--stdio"], capture_output=True, text=True).stdout
        perf_map = Path(f"/tmp/perf-{proc.pid}.map")                  # read by perf report
        jitted = {line.split(" ", 2)[2] for line in perf_map.read_text().splitlines()}
        perf_map.unlink()
    rows = []
    for line in report.splitlines():
        m = re.match(r"\s*([\d.]+)%\s+(\d+)\s+\[[.k]\]\s+(.+)", line)
        if m:
            rows.append((float(m.group(1)), int(m.group(2)), m.group(3).strip()))
    kernel = sum(n for _, n, name in rows if name in jitted)
    print(f"{args.mode} mode, {args.workload}: {args.reps} calls x {args.runs} runs sampled; "
          f"{sum(n for _, n, _ in rows)} samples, {kernel} in kernel functions")
    print(f"  {'share':>7} {'samples':>8}  function")
    for pct, n, name in rows[:args.top]:
        print(f"  {pct:6.2f}% {n:8d}  {name[:90]}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
