"""Property test: random mutations of valid scenarios validate or fail cleanly.

Oracle: the CLI contract. ``clmsim.cli.main(["validate", FILE])`` returns 0, or returns 2
with every problem on its own ``file:line:col: ...`` line and a closing count; no exception
ever escapes ``main``.
"""

from __future__ import annotations

import contextlib
import copy
import io
import re
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from clmsim.cli import main

from fuzz_helpers import parent as parent_of
from fuzz_helpers import paths as all_paths

SCENARIOS = Path(__file__).resolve().parent.parent / "scenarios"
# telecom.yaml is the demo default; the others add segments, Beta heterogeneity, Unicode names
BASES = [yaml.safe_load((SCENARIOS / f"{n}.yaml").read_text(encoding="utf-8"))
         for n in ("telecom", "telecom", "ecommerce", "subscription", "textbook_zh")]
LINE = re.compile(r"^(--set|.+\.yaml):\d+:\d+: ")
COUNT = re.compile(r"^\d+ problems? found$")


JUNK = st.one_of(
    st.integers(min_value=-10**15, max_value=10**15),
    st.floats(allow_nan=True, allow_infinity=True),
    st.sampled_from([-1, -0.5, 0, 1e300, 2, 1.5, 10**20, "abc", "", "0.5", True, False, None,
                     [], {}, [1, "x"], {"kind": "active"}, "churned", "lost", "prospect", "新客户"]),
    st.text(max_size=8),
)
KEYS = st.one_of(st.text(min_size=1, max_size=10),
                 st.sampled_from(["kind", "revenue", "extends", "strategies", "from", "share", "segments",
                                  "heterogeneity", "a.b", "=", " x", "考察期", "stages", "churnd", "nwe"]))


@st.composite
def mutated(draw):
    data = copy.deepcopy(draw(st.sampled_from(BASES)))
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        paths = all_paths(data)
        if not paths:
            break
        path = draw(st.sampled_from(paths))
        parent = parent_of(data, path)
        op = draw(st.sampled_from(["delete", "replace", "rename", "insert", "typo"]))
        key = path[-1]
        if op == "delete":
            del parent[key]
        elif op == "replace":
            parent[key] = draw(JUNK)
        elif op == "rename" and isinstance(parent, dict):
            parent[draw(KEYS)] = parent.pop(key)
        elif op == "typo" and isinstance(parent, dict) and len(str(key)) > 2:
            parent[str(key)[:-1] + str(key)[-1] * 2] = parent.pop(key)
        elif op == "insert" and isinstance(parent, dict):
            parent[draw(KEYS)] = draw(JUNK)
        elif isinstance(parent, list):
            parent.insert(0, draw(JUNK))
    text = yaml.safe_dump(data, allow_unicode=True, sort_keys=False)
    if draw(st.booleans()) and draw(st.integers(0, 9)) == 0:   # sometimes break the YAML itself
        lines = text.splitlines()
        lines.insert(draw(st.integers(0, len(lines))), draw(st.sampled_from(["  - [", ": :", "\tx: 1", "}{", "a: &x *y"])))
        text = "\n".join(lines)
    sets = draw(st.lists(st.tuples(st.sampled_from(["time.horizon", "stages.new.margin", "transitions.new.churned",
                                                     "retention.programs.save_desk.spend_per_customer",
                                                     "nope.x", "strategies.z", "stages", "time.horizon.x"]),
                                   st.sampled_from(["3", "-1", "abc", "[1, 2]", "{a: 1}", "", "null", "0.5", ": :"])),
                         max_size=2))
    return text, [f"{p}={v}" for p, v in sets]


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("fuzz")


@pytest.mark.slow
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(case=mutated())
def test_mutated_scenario_validates_or_fails_cleanly_never_raises(workdir, case):
    text, sets = case
    path = workdir / "mutant.yaml"
    path.write_text(text, encoding="utf-8")
    argv = ["validate", str(path)] + [a for s in sets for a in ("--set", s)]
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = main(argv)   # any exception escaping main fails the test
    if code == 0:
        assert out.getvalue().rstrip().endswith("valid")
        return
    assert code == 2, err.getvalue()
    lines = err.getvalue().splitlines()
    assert lines and COUNT.match(lines[-1]), lines
    assert int(lines[-1].split()[0]) == len(lines) - 1
    for line in lines[:-1]:
        assert LINE.match(line), line
    assert "Traceback" not in err.getvalue()
