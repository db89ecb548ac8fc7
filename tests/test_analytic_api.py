"""``clmsim.api``: engine registry, strategy selection, option checks, explain data."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clmsim import load_scenario
from clmsim.api import ENGINES, engine_module, explain, simulate
from clmsim.errors import ClmsimError

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = ROOT / "scenarios" / "reference" / "segments.yaml"


def test_unknown_engine_names_the_available_ones():
    with pytest.raises(ClmsimError, match="unknown engine 'quantum'; available: analytic, fast, des"):
        engine_module("quantum")
    assert set(ENGINES) == {"analytic", "fast", "des"}


def test_importing_the_api_imports_no_engine():
    code = ("import sys, clmsim.api; "
            "print(any(m.startswith('clmsim.engines.') for m in sys.modules), 'numba' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.split() == ["False", "False"]


def test_all_strategies_baseline_first_or_as_asked():
    assert simulate(SEGMENTS).strategies == ["baseline", "no_program", "more_ads"]
    assert simulate(SEGMENTS, strategies=["more_ads", "baseline"]).strategies == ["more_ads", "baseline"]
    assert simulate(SEGMENTS, strategies="no_program").strategies == ["no_program"]


def test_scenario_object_and_path_give_the_same_numbers():
    a = simulate(SEGMENTS)
    b = simulate(load_scenario(SEGMENTS))
    assert np.array_equal(a.runs["npv"].to_numpy(), b.runs["npv"].to_numpy())


@pytest.mark.parametrize("kwargs, message", [
    ({"strategies": ["nope"]}, "unknown strategy 'nope'"),
    ({"runs": 0}, "runs must be a positive integer"),
    ({"seed": -1}, "seed must be a non-negative integer"),
    ({"nodes": 0}, "nodes must be an integer"),
    ({"mode": "counts"}, "no option 'mode'"),
])
def test_bad_requests_raise_clmsim_error(kwargs, message):
    with pytest.raises(ClmsimError, match=message):
        simulate(SEGMENTS, **kwargs)


def test_overrides_apply_to_files():
    res = simulate(SEGMENTS, strategies="baseline", overrides=["time.horizon=4"])
    assert res.provenance["horizon"] == 4
    assert res.series("baseline", "revenue").index.max() == 4


def test_explain_returns_clv_table_states_and_formulas():
    info = explain(ROOT / "scenarios" / "reference" / "winback.yaml")
    assert info["states"][0] == "member" and "lapsed[k=3+]" in info["states"]
    assert info["retention"][("all", "member")] == pytest.approx(0.8)
    assert {"lifetime", "clv_horizon", "clv_infinite", "steady_state"} <= set(info["formulas"])
    member = info["clv"].set_index("stage").loc["member"]
    assert member["clv_infinite"] > member["clv_horizon"] > 0
