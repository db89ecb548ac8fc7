"""Property test: random mutations of valid experiment files run or fail cleanly.

Oracle: the CLI contract, as for scenarios (tests/test_scenario_fuzz.py). ``clmsim sweep
EXP --out DIR`` returns 0, or returns 2 with every problem either on its own
``file:line:col: ...`` line followed by a count, or as one ``clmsim: error: ...`` line;
no exception escapes ``main``, no traceback is printed, and a refused sweep leaves no
output directory. The limits are lowered for the test (``CLMSIM_LIMITS``) so that a
mutation that asks for a big design is refused instead of computed.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
import shutil
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clmsim.cli import main

from fuzz_helpers import parent as parent_of
from fuzz_helpers import paths as all_paths

DATA = Path(__file__).resolve().parent / "data"
LINE = re.compile(r"^.+:\d+:\d+: ")
COUNT = re.compile(r"^\d+ problems? found$")
LEVER = "retention.programs.care.spend_per_customer"
BASES = [
    {"name": "e", "scenario": "small.yaml", "seed": 1, "engine": "analytic",
     "levers": {LEVER: {"from": 0, "to": 10, "step": 5}}},
    {"name": "e", "scenario": "small.yaml", "seed": 3, "engine": "fast", "runs": 2, "mode": "counts",
     "chunk_runs": 1, "strategies": ["baseline", "more_care"],
     "levers": {"winback.policies.call.coverage": [0.2, 0.8]},
     "uncertainties": {"transitions.new.loyal": {"dist": "uniform", "low": 0.05, "high": 0.15}},
     "sampling": {"method": "lhs", "samples": 2}},
    {"name": "e", "scenario": "small.yaml", "seed": 2, "engine": "analytic",
     "uncertainties": {"stages.loyal.revenue": {"dist": "normal", "mean": 60, "sd": 5, "low": 40}},
     "sensitivity": {"methods": ["tornado"]},
     "optimize": {"levers": {LEVER: {"low": 0, "high": 10}}, "grid": 3, "rounds": 1}},
]
JUNK = st.one_of(
    st.integers(min_value=-10**13, max_value=10**13),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-1, 0, 1e-12, 1e300, 0.5, 2, "abc", "", True, None, [], {}, [1, "x"], {"dist": "beta"},
                     {"from": 0, "to": 1, "step": 0}, {"from": 0, "to": 1e9, "step": 1}, "lhs", "fast",
                     "small.yaml", "../nope.yaml", "/dev/zero", "新客户", [0, 1, 2]]),
    st.text(max_size=6),
)
KEYS = st.one_of(st.text(min_size=1, max_size=8),
                 st.sampled_from(["runs", "seed", "levers", "uncertainties", "sampling", "chunk_run", "engine",
                                  "mode", "scenario", "dist", "from", "to", "step", "samples", LEVER,
                                  "stages.loyal.revenue", "time.horizon", "nope.x"]))


@st.composite
def mutated(draw):
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=3))):
        paths = all_paths(data)
        path = draw(st.sampled_from(paths))
        parent = parent_of(data, path)
        op = draw(st.sampled_from(["delete", "replace", "replace", "rename", "insert"]))
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = copy.deepcopy(draw(JUNK))  # never mutate the strategy's constants
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(key)
        elif op == "insert" and isinstance(parent, dict):
            parent[draw(KEYS)] = copy.deepcopy(draw(JUNK))
        elif isinstance(parent, list):
            parent.insert(0, copy.deepcopy(draw(JUNK)))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if draw(st.integers(0, 9)) == 0:  # sometimes break the YAML itself
        lines = text.splitlines()
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["  - [", ": :", "\tx: 1", "}{"])))
        text = "\n".join(lines)
    return text


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("expfuzz")
    shutil.copy(DATA / "small.yaml", d / "small.yaml")
    return d


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow,
                                                                  HealthCheck.function_scoped_fixture])
@given(text=mutated())
def test_mutated_experiment_runs_or_fails_cleanly_never_raises(workdir, monkeypatch, text):
    monkeypatch.setenv("CLMSIM_LIMITS", "points=50,count_steps=1e6,customer_periods=1e7,evaluations=200")
    path = workdir / "mutant.yaml"
    path.write_text(text, encoding="utf-8")
    out_dir = workdir / "out"
    shutil.rmtree(out_dir, ignore_errors=True)
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(["sweep", str(path), "--out", str(out_dir), "--backend", "serial"])
    e = err.getvalue()
    assert "Traceback" not in e + out.getvalue()
    if code == 0:
        assert (out_dir / "runs.parquet").exists()
        return
    assert code == 2, e
    lines = [x for x in e.splitlines() if not x.startswith("clmsim: warning:")]
    assert lines, e
    if lines[0].startswith("clmsim: error: "):
        assert len(lines) == 1, e
    else:
        assert COUNT.match(lines[-1]), lines
        assert int(lines[-1].split()[0]) == len(lines) - 1
        for line in lines[:-1]:
            assert LINE.match(line), line
    assert not out_dir.exists() or not any(out_dir.iterdir()), f"partial output after a refusal: {e}"
