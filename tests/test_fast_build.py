"""How the fast engine's kernels are built and run, each checked bit for bit: the switch that
turns off individual mode's fast paths, the safe-views build, plain Python
(NUMBA_DISABLE_JIT), threads, and the stale-cache guard.

Oracle for every switch: the kernel's own default path, over every scenario of the library
and the reference set (horizons cut to 24 periods to keep the suite quick)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clmsim import compile_model, load_scenario
from clmsim.engines import fast
from fast_helpers import digest, from_python, library_scenarios

ROOT = Path(__file__).resolve().parents[1]
SCENARIOS = library_scenarios()
HORIZON = 24


def _models(path):
    sc = load_scenario(path)
    if compile_model(sc).horizon > HORIZON:
        sc = load_scenario(path, [f"time.horizon={HORIZON}"])
    models = [compile_model(sc, s) for s in sc.strategy_names]
    # one fast-engine call takes strategies of one shape (a strategy may change the horizon)
    return [m for m in models if (m.horizon, m.stage_names) == (models[0].horizon, models[0].stage_names)]


def _threads() -> list[int]:
    from clmsim.engines.fast.kernels.runtime import max_threads

    return [1, 2] if max_threads() >= 2 else [1]


@pytest.mark.parametrize("path", SCENARIOS, ids=lambda p: p.stem)
def test_individual_mode_without_fast_paths_gives_the_same_bits(path, monkeypatch):
    """Oracle: the general path. CLMSIM_FAST_PATHS=0 turns off the bare and het paths; every
    scenario, every strategy, 1 and 2 threads."""
    models = _models(path)
    for threads in _threads():
        monkeypatch.delenv("CLMSIM_FAST_PATHS", raising=False)
        on = fast.simulate(models, runs=2, seed=11, mode="individual", threads=threads)
        monkeypatch.setenv("CLMSIM_FAST_PATHS", "0")
        off = fast.simulate(models, runs=2, seed=11, mode="individual", threads=threads)
        assert digest(on) == digest(off), (path.name, threads)


def test_threads_give_the_same_bits_in_both_modes():
    """Oracle: one thread. Runs are spread over a thread pool; every run writes its own rows."""
    if len(_threads()) < 2:
        pytest.skip("one numba thread available")
    models = _models(ROOT / "scenarios" / "telecom.yaml")
    for mode in ("individual", "counts"):
        one = fast.simulate(models, runs=5, seed=2024, mode=mode, threads=1)
        two = fast.simulate(models, runs=5, seed=2024, mode=mode, threads=2)
        assert (one.provenance["threads"], two.provenance["threads"]) == (1, 2)
        assert digest(one) == digest(two), mode


COUNTS_DIGESTS = """
import json, sys
sys.path.insert(0, sys.argv[1])
import test_fast_build as t
from clmsim.engines import fast
from fast_helpers import digest
out = {}
for path in t.SCENARIOS:
    models = t._models(path)
    for threads in t._threads():
        res = fast.simulate(models, runs=2, seed=5, mode="counts", threads=threads)
        out[f"{path.name}/{threads}"] = digest(res)
print(json.dumps(out))
"""

MISUSE = """
import numpy as np
from numba import njit
from clmsim.engines.fast.kernels.samplers import unowned

@njit
def dead_owner():
    a = np.ones(1000)
    v = unowned(a)                 # a is not used again: without safe views it may be freed here
    w = np.full(1000, 7.0)
    return v.sum() + 0.0 * w[0]

print(dead_owner())
"""


def _python(code: str, env: dict, *args: str) -> str:
    out = subprocess.run([sys.executable, "-c", code, *args], cwd=ROOT, env={**os.environ, **env},
                         capture_output=True, text=True)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_safe_views_build_gives_the_same_bits_in_counts_mode():
    """CLMSIM_SAFE_VIEWS=1 compiles ``unowned`` as an ordinary reference-counted identity (a
    separate cached build): counts mode -- the only user of the views -- gives the same bits on
    every scenario, 1 and 2 threads. The view's invariant holds there by construction."""
    safe = json.loads(_python(COUNTS_DIGESTS, {"CLMSIM_SAFE_VIEWS": "1"}, str(ROOT / "tests")))
    plain = {}
    for path in SCENARIOS:
        models = _models(path)
        for threads in _threads():
            plain[f"{path.name}/{threads}"] = digest(fast.simulate(models, runs=2, seed=5, mode="counts",
                                                                   threads=threads))
    assert safe == plain
    assert float(_python(MISUSE, {"CLMSIM_SAFE_VIEWS": "1"})) == 1000.0


RUNS_CSV = """
import sys
from clmsim import compile_model, load_scenario
from clmsim.engines import fast
sc = load_scenario(sys.argv[1])
res = fast.simulate([compile_model(sc, s) for s in sc.strategy_names], runs=2, seed=3, mode="counts", threads=1)
print(res.runs.to_csv(float_format="%.17g"))
"""


def test_counts_mode_runs_as_plain_python_with_the_same_bits():
    """NUMBA_DISABLE_JIT=1 runs the counts kernel as Python (views are plain arrays, uint64
    arithmetic wraps): on a small scenario the runs equal the compiled kernel's bit for bit."""
    path = str(ROOT / "scenarios" / "reference" / "winback.yaml")
    plain = _python(RUNS_CSV, {"NUMBA_DISABLE_JIT": "1"}, path)
    compiled = _python(RUNS_CSV, {}, path)
    assert plain == compiled and plain.strip().count("\n") == 2


def test_every_kernel_cache_is_stamped_with_every_kernel_source(tmp_path):
    """The stale-cache guard: each jitted function of the kernels package is cached under the
    SHA-256 of all the kernel sources (derived at import, nothing pasted by hand), so an edit of
    any of them -- the samplers a kernel inlines included -- recompiles every kernel."""
    import clmsim.engines.fast.kernels as kpkg
    from clmsim.engines.fast.kernels import cache, counter_rng, counts, individual, individual_bare, \
        individual_het, samplers

    assert set(cache.SOURCES) == set(Path(kpkg.__file__).parent.glob("*.py")) | {
        Path(fast.__file__).parent / "bundle.py"}
    dispatchers = [f for m in (counter_rng, counts, individual, individual_bare, individual_het, samplers)
                   for f in vars(m).values() if hasattr(f, "py_func") and getattr(f, "_cache", None)]
    assert len(dispatchers) > 20
    for d in dispatchers:
        loc = cache.locator_of(d)
        assert isinstance(loc, cache.LOCATORS), d
        assert loc.get_source_stamp() == ("clmsim-kernels", cache.SOURCES_SHA256, cache.VARIANT)
        assert Path(loc.get_cache_path()).name == "clmsim-" + cache.VARIANT
    copies = []
    for src in cache.SOURCES:
        dst = tmp_path / src.name
        dst.write_bytes(src.read_bytes())
        copies.append(dst)
    assert cache.sources_sha256(copies) == cache.SOURCES_SHA256
    for i, p in enumerate(copies):                # one byte anywhere changes the stamp
        original = p.read_bytes()
        p.write_bytes(original + b"\n")
        assert cache.sources_sha256(copies) != cache.SOURCES_SHA256, p.name
        p.write_bytes(original)


def test_only_the_two_kernels_get_a_python_wrapper_and_a_helper_called_from_python_raises():
    """Every jitted function of the kernels package but the two kernels is compiled for jitted
    callers only (no Python or C wrapper: less to compile cold); calling one from Python is a
    clear TypeError, not a jump to a wrapper that does not exist."""
    import importlib

    import clmsim.engines.fast.kernels as kpkg
    from clmsim.engines.fast.kernels import jit, samplers

    entries, helpers = set(), set()
    for src in sorted(Path(kpkg.__file__).parent.glob("*.py")):
        mod = importlib.import_module(f"clmsim.engines.fast.kernels.{src.stem}")
        for f in vars(mod).values():
            if hasattr(f, "py_func") and f.py_func.__module__ == mod.__name__ and not f.targetoptions.get("inline"):
                (helpers if isinstance(f, jit.JitOnlyDispatcher) else entries).add(f.py_func.__name__)
    assert entries == {"simulate_counts", "simulate_individual"}
    assert len(helpers) > 40
    with pytest.raises(TypeError, match="samplers._fc is compiled for calls from jitted code only"):
        samplers._fc(3)
    assert from_python(samplers._fc)(0) == pytest.approx(1.0 - 0.5 * np.log(2 * np.pi))    # ln 0! - Stirling


def test_a_compiling_kernel_says_so_on_one_stderr_line(capsys):
    from numba import njit

    from clmsim.engines.fast.kernels.runtime import notice_compiles

    @njit
    def toy(x):
        return x + 1

    notice_compiles(toy, "toy", "a moment")
    assert toy(1) == 2 and toy(2) == 3                      # compiles once
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("clmsim: compiling the fast engine's toy kernel (once per numba cache; usually a moment)")
    assert err.rstrip().endswith(" s") and " ... done in " in err


def test_clmsim_compile_reports_each_kernel(capsys):
    from clmsim.cli import main
    from clmsim.engines.fast.precompile import precompile
    from clmsim.errors import ClmsimError

    assert main(["compile", "--mode", "counts"]) == 0
    err = capsys.readouterr().err
    assert "counts-mode kernel" in err and ("compiled in" in err or "already compiled" in err)
    with pytest.raises(ClmsimError, match="unknown mode"):
        precompile(["warp"])


TOY_MODULE = '''
from numba import njit


@njit(cache=True)
def toy(x):
    s = 0.0
    for i in range(10):
        s += (x + i) ** 0.5 * (1.0 if i % 2 else -1.0)
    return s
'''

TOY_CHILD = '''
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
import toymod
from clmsim.engines.fast.kernels.runtime import compile_lock_path, compile_once, notice_compiles
notice_compiles(toymod.toy, "toy", "a moment")
if sys.argv[2] == "path":
    print(compile_lock_path(toymod.toy))
    raise SystemExit
open(sys.argv[2] + f".ready-{os.getpid()}", "w").close()
while not os.path.exists(sys.argv[2]):
    time.sleep(0.001)
compile_once(toymod.toy, (1.0,))
assert toymod.toy(1.0) == toymod.toy.py_func(1.0) and len(toymod.toy.signatures) == 1
print(json.dumps(sum(toymod.toy.stats.cache_hits.values())))
'''


def _toy_children(tmp_path, n, go, worker=False):
    from clmsim.engines import POOL_WORKER_ENV

    (tmp_path / "toymod.py").write_text(TOY_MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), CLMSIM_COMPILE_NOTICE="1")
    env.pop(POOL_WORKER_ENV, None)
    if worker:
        env[POOL_WORKER_ENV] = "1"
    return [subprocess.Popen([sys.executable, "-c", TOY_CHILD, str(tmp_path), str(go)], env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True) for _ in range(n)]


needs_flock = pytest.mark.skipif(sys.platform == "win32", reason="the compile lock uses fcntl (POSIX)")


@needs_flock
@pytest.mark.parametrize("worker", [False, True])
def test_processes_sharing_a_cache_compile_a_kernel_once(tmp_path, worker):
    """Two processes that need a kernel the shared numba cache lacks, at the same moment (the
    workers of a sweep with a cold cache): one compiles it, on one stderr line; the other waits
    for it and loads it from the cache, saying so in one line unless it is one of clmsim's pool
    workers (whose sibling's line is on the same terminal)."""
    import time

    go = tmp_path / "go"
    procs = _toy_children(tmp_path, 2, go, worker)
    t0 = time.monotonic()
    while len(list(tmp_path.glob("go.ready-*"))) < 2 and time.monotonic() - t0 < 60:
        time.sleep(0.01)
    go.write_text("")                                    # both ready: they start at the same moment
    outs = [p.communicate(timeout=120) for p in procs]
    assert all(p.returncode == 0 for p in procs), outs
    assert sorted(int(out.strip()) for out, _ in outs) == [0, 1]      # one compiled, one loaded
    err = "".join(e for _, e in outs)
    assert err.count("clmsim: compiling the fast engine's toy kernel") == 1
    assert err.count("another process is compiling") <= (0 if worker else 1)
    for _, e in outs:                                    # whole lines, none written into another
        assert all(line.startswith("clmsim: ") and " ... done in " in line for line in e.splitlines())


@needs_flock
def test_a_process_waits_for_the_compile_lock_and_then_compiles(tmp_path):
    """Oracle for the lock itself: while another process holds the kernel's compile lock, a
    process that needs the kernel waits (and says so); once it is released, it compiles."""
    import fcntl
    import time

    (tmp_path / "toymod.py").write_text(TOY_MODULE)
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"))
    path = subprocess.run([sys.executable, "-c", TOY_CHILD, str(tmp_path), "path"], env=env, check=True,
                          capture_output=True, text=True).stdout.strip()
    assert Path(path).name == "toy.compile-lock" and Path(path).parent.is_dir()
    go = tmp_path / "go"
    go.write_text("")
    fd = os.open(path, os.O_RDWR | os.O_CREAT)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        (child,) = _toy_children(tmp_path, 1, go)
        waiting = "clmsim: another process is compiling the fast engine's toy kernel into the same cache; " \
                  "waiting for it (usually a moment) ..."
        assert child.stderr.read(len(waiting)) == waiting    # said before it blocks on the lock
        time.sleep(1.0)
        assert child.poll() is None                          # still waiting
        fcntl.flock(fd, fcntl.LOCK_UN)
        out, err = child.communicate(timeout=120)
    finally:
        os.close(fd)
    assert child.returncode == 0 and int(out.strip()) == 0              # nothing in the cache: compiled
    assert err.startswith(" done in ")
    assert err.count("clmsim: compiling the fast engine's toy kernel") == 1


DEFERRED_MODULE = '''
from clmsim.engines.fast.kernels.jit import entry, helper


@helper
def twice(x):
    return 2.0 * x


@entry
def total(x):
    s = 0.0
    for i in range(10):
        s += twice(x + i)
    return s


@entry
def total_sq(x):
    s = 0.0
    for i in range(10):
        s += twice(x + i) ** 2
    return s
'''

DEFERRED_CHILD = '''
import json, sys
sys.path.insert(0, sys.argv[1])
import defmod
from clmsim.engines.fast.kernels import deferred_codegen
from clmsim.engines.fast.kernels.runtime import compile_once
kernel = getattr(defmod, sys.argv[2])
if sys.argv[3] == "deferred":
    compile_once(kernel, (1.0,))
else:
    kernel.compile((kernel.typeof_pyval(1.0),))
machine_code = lambda d: [not deferred_codegen.is_deferred(c.library) for c in d.overloads.values()]
print(json.dumps({"value": kernel(1.0), "hits": sum(kernel.stats.cache_hits.values()),
                  "helper_hits": sum(defmod.twice.stats.cache_hits.values()),
                  "helper_machine_code": machine_code(defmod.twice), "kernel_machine_code": machine_code(kernel)}))
'''


def _deferred_child(tmp_path, kernel, how):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path / "cache"), CLMSIM_COMPILE_NOTICE="0")
    out = subprocess.run([sys.executable, "-c", DEFERRED_CHILD, str(tmp_path), kernel, how], env=env,
                         capture_output=True, text=True, timeout=300)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_a_kernel_compile_generates_no_machine_code_for_its_helpers_and_the_cache_still_serves_them(tmp_path):
    """Oracle: the sums written out, sum_i 2 (1 + i) = 110 and sum_i (2 (1 + i))^2 = 1540. A kernel
    compiled by compile_once links its helper's IR and gets machine code; the helper gets none of its
    own (deferred_codegen). The cache then serves the kernel (a load), and the helper, cached as
    linkable IR, is linked into a second kernel compiled by a later process. Outside compile_once
    numba's own finalization is untouched."""
    from clmsim.engines.fast.kernels import deferred_codegen

    assert deferred_codegen.INSTALLED                    # the numba this project pins has every method
    (tmp_path / "defmod.py").write_text(DEFERRED_MODULE)
    first = _deferred_child(tmp_path, "total", "deferred")
    assert first == {"value": 110.0, "hits": 0, "helper_hits": 0, "helper_machine_code": [False],
                     "kernel_machine_code": [True]}
    again = _deferred_child(tmp_path, "total", "deferred")           # the kernel, loaded as object code
    assert again == {"value": 110.0, "hits": 1, "helper_hits": 0, "helper_machine_code": [],
                     "kernel_machine_code": [True]}
    second = _deferred_child(tmp_path, "total_sq", "deferred")       # the helper, loaded as IR and linked
    assert second == {"value": 1540.0, "hits": 0, "helper_hits": 1, "helper_machine_code": [False],
                      "kernel_machine_code": [True]}
    shutil.rmtree(tmp_path / "cache")
    plain = _deferred_child(tmp_path, "total", "plain")
    assert plain == {"value": 110.0, "hits": 0, "helper_hits": 0, "helper_machine_code": [True],
                     "kernel_machine_code": [True]}


def test_the_deferral_is_installed_only_on_the_numba_versions_whose_code_was_read():
    """deferred_codegen replaces private numba methods, so it is installed only for the versions
    they were read in (and docs/engines.md states the same range)."""
    from clmsim.engines.fast.kernels import deferred_codegen as dc

    (lo, hi) = dc.CHECKED_VERSIONS
    assert dc.supported(f"{lo[0]}.{lo[1]}.0") and dc.supported(f"{hi[0]}.{hi[1]}.1")
    assert not dc.supported(f"{lo[0]}.{lo[1] - 1}.1") and not dc.supported(f"{hi[0]}.{hi[1] + 1}.0")
    assert not dc.supported("nightly")
    docs = " ".join((ROOT / "docs" / "engines.md").read_text().split())
    assert f"the deferral is installed only for {lo[0]}.{lo[1]} to {hi[0]}.{hi[1]}" in docs
