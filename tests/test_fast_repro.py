"""Fast engine reproducibility: identical bits at any thread count (subprocesses with
NUMBA_NUM_THREADS=1 and 2), in both modes."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = """
import hashlib, sys
from clmsim import compile_model, load_scenario
from clmsim.engines import fast
model = compile_model(load_scenario(sys.argv[1]))
opts = {"het_nodes": 5} if sys.argv[2] == "counts" else {}
res = fast.simulate([model], runs=6, seed=2024, mode=sys.argv[2], quantiles=True, **opts)
h = hashlib.sha256()
for df in (res.runs, res.periods, res.clv_hist):
    h.update(df.to_csv(float_format="%.17g").encode())
print(h.hexdigest(), res.provenance["threads"])
"""


def _digest(threads: int, mode: str) -> tuple[str, str]:
    env = dict(os.environ, NUMBA_NUM_THREADS=str(threads))
    out = subprocess.run([sys.executable, "-c", SCRIPT, str(ROOT / "scenarios" / "telecom.yaml"), mode],
                         env=env, capture_output=True, text=True, check=True, cwd=ROOT)
    digest, used = out.stdout.split()
    return digest, used


@pytest.mark.parametrize("mode", ["individual", "counts"])
def test_same_seed_identical_bits_on_one_and_two_threads(mode):
    one, used1 = _digest(1, mode)
    two, used2 = _digest(2, mode)
    assert (used1, used2) == ("1", "2")
    assert one == two


@pytest.mark.parametrize("mode", ["individual", "counts"])
def test_chunk_with_first_run_equals_rows_of_one_big_call(mode):
    """Chunking oracle: runs [r0, r0+n) simulated alone (first_run=r0) are bit-identical to
    those rows of one call with all runs -- what resumable sweeps rely on."""
    from clmsim import compile_model, load_scenario
    from clmsim.engines import fast

    model = compile_model(load_scenario(ROOT / "scenarios" / "reference" / "winback.yaml"))
    whole = fast.simulate([model], runs=5, seed=77, mode=mode).runs
    part = fast.simulate([model], runs=2, seed=77, mode=mode, first_run=3).runs
    assert list(part["run"]) == [3, 4]
    tail = whole[whole["run"] >= 3].reset_index(drop=True)
    assert tail.equals(part.reset_index(drop=True))
