"""Fast engine reproducibility: chunks of runs equal the rows of one call, in both modes
(identical bits at any thread count: tests/test_fast_build.py)."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
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
