"""Throughput report of the fast engine (a report, not a test: nothing is asserted).

Run ``make bench`` or ``.venv/bin/python benchmarks/throughput.py [--quick]``.
Prints customer-periods per second for

(a) a bare six-stage chain with fixed rewards (individual mode, 1 and 2 threads),
(b) ``scenarios/telecom.yaml`` with every feature on (heterogeneity, revenue noise,
    channels, referrals, programs with a budget cap, win-back with capacity and
    concessions), individual mode at 1 and 2 threads; then with targeting on (strategy
    ``save_offer_risk``: a save offer paid per leaver, aimed at the riskiest 30% by the
    heterogeneity draw, with a concession), individual and counts mode at 1 thread,
(c) counts mode on the bare chain at 10^5..10^7 customers (represented
    customer-periods per second) and on telecom (heterogeneity as automatic Gauss classes),
(d) the des engine on telecom (shorter horizon) when ``clmsim.engines.des`` exists, and (with
    ``--against`` only) ``scenarios/textbook.yaml`` in both modes: four segments, the cost of the
    per-segment outputs,
(e) 1,000 runs x 100,000 customers x 60 periods of the bare chain on all threads:
    wall time and peak RSS (skipped with ``--quick``),
(f) warm-start wall time of ``clmsim run scenarios/telecom.yaml --engine fast --runs 100``,
(g) cold start: CPU seconds of ``clmsim run scenarios/telecom.yaml --engine fast --runs 2`` with
    an empty ``NUMBA_CACHE_DIR`` per mode, with the kernel's own compile time, and the wall time
    of ``clmsim validate`` and ``clmsim fit sbg`` (import cost). ``--cold-rounds N`` runs the
    command N times per mode (interleaved; each figure, the median and the largest), and
    ``--cold-only`` prints (g) alone.

``--against TREE`` instead times workloads (a)-(d) of this code and of another checkout
(e.g. ``git worktree add --detach /tmp/base <commit>``) in alternating subprocesses, each
with its own numba cache, ``--rounds`` times, and prints per-core rates and their ratios
(fastest round of each; the median ratio beside it): old and new measured under the same load.

``cpu`` rates divide by the process CPU time of a one-thread run (per-core speed,
robust to other load on the machine); ``wall`` rates divide by wall time. The load
average is printed before and after: on a shared machine wall figures drop.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from clmsim import compile_model, load_scenario, scenario_from_text  # noqa: E402
from clmsim.engines import fast  # noqa: E402

BARE = """
schema_version: 1
name: bare-chain
time: {period: month, horizon: 60, discount_rate: 0.1}
stages:
  s1: {kind: active, revenue: 10, margin: 0.5}
  s2: {kind: active, revenue: 20, margin: 0.5}
  s3: {kind: active, revenue: 30, margin: 0.5}
  s4: {kind: active, revenue: 40, margin: 0.5}
  s5: {kind: active, revenue: 50, margin: 0.5}
  gone: {kind: lost}
transitions:
  s1: {s2: 0.2, gone: 0.01}
  s2: {s3: 0.1, s1: 0.05, gone: 0.01}
  s3: {s4: 0.05, s2: 0.05, gone: 0.01}
  s4: {s5: 0.05, s3: 0.05, gone: 0.01}
  s5: {s4: 0.05, gone: 0.01}
initial_population: {s1: POP}
"""
TELECOM = ROOT / "scenarios" / "telecom.yaml"
ALL_FEATURES = ["retention.programs.save_desk.budget_cap_per_period=120000",
                "winback.policies.reactivation_offer.capacity_per_period=3000"]


def bare(pop: int = 100_000):
    return compile_model(scenario_from_text(BARE.replace("POP", str(pop)), name="bare-chain"))


def telecom(overrides=(), strategy: str = "baseline"):
    return compile_model(load_scenario(TELECOM, overrides=ALL_FEATURES + list(overrides)), strategy)


def measure(model, runs: int, threads: int | None, mode: str = "individual", repeat: int = 3,
            **options) -> dict:
    """Warm the kernel, then time ``runs`` runs ``repeat`` times and keep the fastest (least
    disturbed by other load); rates in customer-periods per second."""
    fast.simulate([model], runs=1, seed=1, mode=mode, threads=threads, **options)
    best = None
    for _ in range(repeat):
        cpu, wall = time.process_time(), time.perf_counter()
        res = fast.simulate([model], runs=runs, seed=2, mode=mode, threads=threads, quantiles=False, **options)
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        work = res.provenance["customer_periods"]
        m = {"work": work, "wall": wall, "cpu": cpu, "wall_rate": work / wall, "cpu_rate": work / cpu,
             "het_nodes": res.provenance.get("het_nodes")}
        if best is None or m["wall"] < best["wall"]:
            best = m
    return best


def line(label: str, m: dict, cpu: bool = True) -> None:
    extra = f"   cpu {m['cpu_rate']:.3g}/s per core" if cpu else ""
    print(f"  {label:<44} {m['work']:.3g} customer-periods in {m['wall']:.2f} s: "
          f"wall {m['wall_rate']:.3g}/s{extra}")


def warm_cli(extra: list[str]) -> float:
    cmd = [str(ROOT / ".venv" / "bin" / "clmsim"), "run", str(TELECOM), "--engine", "fast", "--seed", "1"] + extra
    subprocess.run(cmd + ["--runs", "2"], check=True, capture_output=True, cwd=ROOT)   # numba cache is warm
    t = time.perf_counter()
    subprocess.run(cmd + ["--runs", "100"], check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


_TEXTBOOK = "tp.compile_model(tp.load_scenario(tp.ROOT / 'scenarios' / 'textbook.yaml'))"   # four segments
WORKLOADS = {
    "bare chain, individual": "measure(bare(), 8, 1)",
    "telecom every feature, individual": "measure(telecom(), 2, 1)",
    "bare chain 10^6, counts": "measure(bare(1_000_000), 50, 1, mode='counts')",
    "telecom, counts": "measure(telecom(), 50, 1, mode='counts')",
    "des, telecom 12 months": "des_rate()",
    "textbook 4 segments, individual": f"measure({_TEXTBOOK}, 60, 1)",
    "textbook 4 segments, counts": f"measure({_TEXTBOOK}, 400, 1, mode='counts')",
}
"""Workloads of ``--against``: expressions over this module's functions, in both trees."""

CHILD = """
import json, sys, time
sys.path.insert(0, sys.argv[1] + "/benchmarks")
import throughput as tp
from throughput import bare, measure, telecom

def des_rate():
    from clmsim.engines import des
    short = telecom(["time.horizon=12"])
    best = None
    for _ in range(2):
        c = time.process_time()
        d = des.simulate([short], runs=1, seed=1)
        m = d.provenance["customer_periods"] / (time.process_time() - c)
        best = m if best is None or m > best else best
    return {"cpu_rate": best}

print(json.dumps({k: eval(v)["cpu_rate"] for k, v in json.loads(sys.argv[2]).items()}))
"""


def against(other: str, rounds: int) -> None:
    """Time :data:`WORKLOADS` in this tree and ``other`` in alternating subprocesses."""
    import json
    import tempfile

    trees = {"new": str(ROOT), "old": str(Path(other).resolve())}
    caches = {k: tempfile.mkdtemp(prefix=f"clmsim-bench-{k}-") for k in trees}
    rates = {k: {w: [] for w in WORKLOADS} for k in trees}
    print(f"interleaved: new = {trees['new']}, old = {trees['old']}, {rounds} rounds; "
          f"load average {os.getloadavg()[0]:.2f}")
    for r in range(rounds + 1):                        # round 0 compiles (both caches start empty)
        for k, tree in (list(trees.items()) if r % 2 else list(trees.items())[::-1]):   # alternate the order
            env = dict(os.environ, PYTHONPATH=tree, NUMBA_CACHE_DIR=caches[k], CLMSIM_COMPILE_NOTICE="0")
            out = subprocess.run([sys.executable, "-c", CHILD, tree, json.dumps(WORKLOADS)], cwd=tree, env=env,
                                 capture_output=True, text=True, check=True)
            if r:
                for w, v in json.loads(out.stdout.strip().splitlines()[-1]).items():
                    rates[k][w].append(v)
    print(f"  {'workload (1 thread, per-core rate)':<36} {'old':>10} {'new':>10} {'new/old':>8} {'median':>8}")
    for w in WORKLOADS:
        old, new = max(rates["old"][w]), max(rates["new"][w])
        med = statistics.median(n / o for n, o in zip(rates["new"][w], rates["old"][w]))
        print(f"  {w:<36} {old:10.3g} {new:10.3g} {new / old:8.3f} {med:8.3f}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


COLD = """
import resource, sys, time
t0 = time.process_time()
from clmsim.api import simulate
t1 = time.process_time()
simulate(sys.argv[1], engine="fast", runs=2, seed=1, mode=sys.argv[2], threads=1)
print(time.process_time() - t1)
"""


def cold_start(rounds: int = 1) -> None:
    """(g): cold-cache command CPU, kernel compile CPU, and command import costs. With
    ``rounds`` > 1 the command is run that many times per mode, the modes interleaved, and
    every figure is printed with the median and the largest: on a shared machine the CPU
    seconds of identical cold runs vary by up to 20%."""
    import tempfile

    print("(g) cold start (empty NUMBA_CACHE_DIR) and import cost")
    env0 = dict(os.environ, CLMSIM_COMPILE_NOTICE="0")
    cpu: dict[str, list[float]] = {"counts": [], "individual": []}
    for _ in range(rounds):
        for mode in cpu:
            with tempfile.TemporaryDirectory(prefix="clmsim-cold-") as d:
                env = dict(env0, NUMBA_CACHE_DIR=d)
                before = resource.getrusage(resource.RUSAGE_CHILDREN)
                subprocess.run([str(ROOT / ".venv" / "bin" / "clmsim"), "run", str(TELECOM), "--engine", "fast",
                                "--runs", "2", "--mode", mode], check=True, capture_output=True, cwd=ROOT, env=env)
                after = resource.getrusage(resource.RUSAGE_CHILDREN)
                cpu[mode].append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    for mode, values in cpu.items():
        with tempfile.TemporaryDirectory(prefix="clmsim-cold-") as d:
            out = subprocess.run([sys.executable, "-c", COLD, str(TELECOM), mode], check=True, capture_output=True,
                                 text=True, cwd=ROOT, env=dict(env0, NUMBA_CACHE_DIR=d))
        runs = (f"{values[0]:.1f} s CPU" if rounds == 1 else
                f"{', '.join(f'{v:.1f}' for v in values)} s CPU (median {statistics.median(values):.1f}, "
                f"largest {max(values):.1f})")
        print(f"  {mode:<10} empty cache: clmsim run --runs 2 {runs} (user+sys); "
              f"the kernel's compile {float(out.stdout.split()[-1]):.1f} s CPU")
    sbg = ROOT / "tests" / "data" / "calibration" / "survival_fh2007.csv"
    for label, cmd in (("clmsim validate scenarios/telecom.yaml", ["validate", str(TELECOM)]),
                       ("clmsim fit sbg (Fader-Hardie data)", ["fit", "sbg", str(sbg), "--cohort", "regular"])):
        best = min(_wall([str(ROOT / ".venv" / "bin" / "clmsim")] + cmd) for _ in range(3))
        print(f"  {label:<40} {best:.2f} s wall (best of 3)")


def _wall(cmd) -> float:
    t = time.perf_counter()
    subprocess.run(cmd, check=True, capture_output=True, cwd=ROOT)
    return time.perf_counter() - t


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--quick", action="store_true", help="skip the 1,000-run study (e)")
    ap.add_argument("--against", metavar="TREE", help="time (a)-(d) here and in TREE, interleaved")
    ap.add_argument("--rounds", type=int, default=5, help="rounds of --against (default 5)")
    ap.add_argument("--cold-rounds", type=int, default=1, help="cold-start runs per mode in (g) (default 1)")
    ap.add_argument("--cold-only", action="store_true", help="print (g) only")
    args = ap.parse_args(argv)
    if args.against:
        against(args.against, args.rounds)
        return 0
    if args.cold_only:
        cold_start(args.cold_rounds)
        return 0
    import numba
    ncpu = numba.config.NUMBA_NUM_THREADS
    print(f"clmsim fast-engine throughput; numba threads available: {ncpu}; "
          f"load average {os.getloadavg()[0]:.2f} (1 min)")

    print("(a) bare six-stage chain, fixed rewards, 100,000 customers, 60 periods, individual mode")
    a1 = measure(bare(), 8, 1)
    line("1 thread", a1)
    a2 = measure(bare(), 8, min(2, ncpu))
    line(f"{min(2, ncpu)} threads", a2, cpu=False)
    print(f"  speed-up 2 vs 1 thread (wall): {a2['wall_rate'] / a1['wall_rate']:.2f}x")

    print("(b) telecom, every feature on (budget cap and win-back capacity added), individual mode")
    b1 = measure(telecom(), 2, 1)
    line("1 thread", b1)
    b2 = measure(telecom(), 4, min(2, ncpu))
    line(f"{min(2, ncpu)} threads", b2, cpu=False)
    print(f"  speed-up 2 vs 1 thread (wall): {b2['wall_rate'] / b1['wall_rate']:.2f}x")
    aimed = telecom(strategy="save_offer_risk")
    b3 = measure(aimed, 2, 1)
    line("targeting on (save_offer_risk), 1 thread", b3)
    b4 = measure(aimed, 50, 1, mode="counts")
    line(f"targeting on, counts, {b4['het_nodes']} classes per piece", b4)
    print(f"  targeting on vs off, individual 1 thread (cpu): {b3['cpu_rate'] / b1['cpu_rate']:.2f}x")

    print("(c) counts mode (represented customer-periods)")
    counts = {}
    for pop in (100_000, 1_000_000, 10_000_000):
        counts[pop] = measure(bare(pop), 50, 1, mode="counts")
        line(f"bare chain, {pop:,} customers, 1 thread", counts[pop])
    ct = measure(telecom(), 50, 1, mode="counts")
    line(f"telecom, {ct['het_nodes']} Gauss classes (automatic), 1 thread", ct)
    print(f"  telecom counts: {1000 * ct['wall'] / 50:.2f} ms per run")
    print(f"  counts vs individual on the bare chain (1 thread, 100,000 customers): "
          f"{counts[100_000]['wall_rate'] / a1['wall_rate']:.1f}x; at 10^7 customers: "
          f"{counts[10_000_000]['wall_rate'] / a1['wall_rate']:.0f}x")

    try:
        from clmsim.engines import des
    except ImportError:
        des = None
    if des is not None:
        print("(d) des engine vs fast on telecom with a 12-month horizon, 1 run")
        short = telecom(["time.horizon=12"])
        t = time.perf_counter()
        d = des.simulate([short], runs=1, seed=1)
        dt = time.perf_counter() - t
        drate = d.provenance["customer_periods"] / dt
        f = measure(short, 4, 1)
        print(f"  des {d.provenance['customer_periods']:.3g} customer-periods in {dt:.2f} s: {drate:.3g}/s; "
              f"fast individual 1 thread {f['wall_rate']:.3g}/s: fast/des = {f['wall_rate'] / drate:.0f}x")
    else:
        print("(d) des engine not available")

    if not args.quick:
        print("(e) 1,000 runs x 100,000 customers x 60 periods, bare chain, all threads")
        model = bare()
        fast.simulate([model], runs=1, seed=1, mode="individual")
        t = time.perf_counter()
        res = fast.simulate([model], runs=1000, seed=3, mode="individual")
        wall = time.perf_counter() - t
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"  {res.provenance['customer_periods']:.3g} customer-periods in {wall:.1f} s wall "
              f"({res.provenance['customer_periods'] / wall:.3g}/s); peak RSS of this process {rss:.0f} MB")

    print("(f) warm start: clmsim run scenarios/telecom.yaml --engine fast --runs 100 (every strategy)")
    print(f"  --mode auto (= counts, automatic Gauss classes): {warm_cli([]):.2f} s wall")
    cold_start(args.cold_rounds)
    print(f"load average {os.getloadavg()[0]:.2f} (1 min) at the end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
