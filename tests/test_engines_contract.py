"""The engine contract and the one registry (clmsim.engines): every engine satisfies the
contract it declares, every copy of the engine list is the registry's, no import cycle,
and the des engine honours first_run (simulate(seed=s) equals compare(seed=s))."""

from __future__ import annotations

import ast
import inspect
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clmsim import engines
from clmsim.engines import ENGINE_NAMES, ENGINES, Capabilities, Engine

ROOT = Path(__file__).resolve().parents[1]
TEXTBOOK = str(ROOT / "scenarios" / "textbook.yaml")


@pytest.mark.parametrize("name", ENGINE_NAMES)
def test_every_engine_satisfies_the_contract_it_declares(name):
    eng = engines.load(name)
    assert isinstance(eng, Engine)
    assert eng.NAME == name and eng.CAPABILITIES is ENGINES[name].capabilities
    params = inspect.signature(eng.simulate).parameters
    caps = eng.CAPABILITIES
    assert ("first_run" in params) == caps.first_run, name
    assert ("mode" in params) == bool(caps.modes), name
    assert ("trace_runs" in params) == caps.event_log, name
    assert {"runs", "seed"} <= set(params)
    if caps.modes:
        assert tuple(eng.MODES) == caps.modes


def test_every_copy_of_the_engine_list_is_the_registry():
    from clmsim import api
    from clmsim.cli import analysis_cmds, run_cmds
    from clmsim.scenario import experiment

    assert api.ENGINES is ENGINES
    assert run_cmds.ENGINE_CHOICES == ENGINE_NAMES == experiment.EXPERIMENT_ENGINES
    assert run_cmds.MODE_CHOICES == ENGINES["fast"].capabilities.modes
    assert experiment.EngineName.__args__ == ENGINE_NAMES
    src = (ROOT / "clmsim" / "cli" / "analysis_cmds.py").read_text()
    assert "choices=ENGINE_NAMES" in src and analysis_cmds.ENGINE_NAMES is ENGINE_NAMES


def test_an_object_without_the_contract_is_refused_by_name():
    from clmsim.errors import ClmsimError

    class Half:
        NAME = "half"

        def simulate(self, models, *, runs, seed):
            raise AssertionError

    with pytest.raises(ClmsimError, match="missing CAPABILITIES, pin_options"):
        engines.resolve(Half())
    with pytest.raises(ClmsimError, match="unknown engine 'warp'; available: analytic, fast, des"):
        engines.capabilities("warp")
    assert engines.capabilities("analytic") == Capabilities(monte_carlo=False)


def _imports(path: Path, module: str, known: set[str]) -> set[str]:
    """clmsim modules ``path`` imports anywhere (module level or inside functions)."""
    package = module if path.name == "__init__.py" else module.rsplit(".", 1)[0]
    out = set()
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {id(n) for top in ast.walk(tree) if isinstance(top, ast.If)
                   and isinstance(top.test, ast.Name) and top.test.id == "TYPE_CHECKING"
                   for stmt in top.body for n in ast.walk(stmt)}   # annotations only, never run
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            out.update(a.name for a in node.names if a.name in known)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = package.split(".")
                base = base[:len(base) - node.level + 1]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            for a in node.names:
                sub = f"{target}.{a.name}"
                if sub in known:
                    out.add(sub)
                elif target in known:
                    out.add(target)
    out.discard(module)
    return out


def test_no_import_cycle_anywhere():
    """Tarjan's strongly connected components over every import (function-level ones too; imports
    under ``if TYPE_CHECKING:`` are annotations, never executed)."""
    files = {}
    for p in (ROOT / "clmsim").rglob("*.py"):
        parts = p.relative_to(ROOT).with_suffix("").parts
        files[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = p
    graph = {m: _imports(p, m, set(files)) for m, p in files.items()}
    index, low, stack, on, cycles = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph[v]:
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                cycles.append(sorted(comp))

    for v in graph:
        if v not in index:
            visit(v)
    assert graph["clmsim.engines.fast.engine"] and graph["clmsim.report.build"]   # the parser sees imports
    assert not cycles, cycles


def test_des_simulate_and_compare_give_the_same_runs():
    """first_run: compare's batches are the rows of one simulate call with the same seed."""
    from clmsim.analysis import compare
    from clmsim.api import simulate

    one = simulate(TEXTBOOK, engine="des", runs=3, seed=1).runs
    c = compare(TEXTBOOK, runs=3, seed=1, engine="des", batches=3)   # one run per batch
    both = c.runs.merge(one, on=["strategy", "run"], suffixes=("_c", "_s"))
    assert len(both) == len(one) == len(c.runs)
    np.testing.assert_array_equal(both["npv_c"].to_numpy(), both["npv_s"].to_numpy())


def test_des_first_run_returns_the_rows_of_one_call():
    from clmsim.api import simulate

    whole = simulate(TEXTBOOK, engine="des", strategies=["baseline"], runs=4, seed=5).runs
    tail = simulate(TEXTBOOK, engine="des", strategies=["baseline"], runs=2, seed=5, first_run=2)
    assert list(tail.runs["run"]) == [2, 3] and tail.provenance["first_run"] == 2
    pd.testing.assert_frame_equal(whole[whole.run >= 2].reset_index(drop=True), tail.runs.reset_index(drop=True))


def test_docs_state_the_registry_capabilities():
    """docs/engines.md's table of engines and capabilities is the registry's."""
    text = (ROOT / "docs" / "engines.md").read_text(encoding="utf-8")
    rows = {}
    for line in text.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| ") and cells[0] in ENGINES:
            rows[cells[0]] = cells[1:]
    assert set(rows) == set(ENGINE_NAMES)
    yes = {"yes": True, "no": False}
    for name, (mc, first, modes, ops, log, quant) in rows.items():
        caps = ENGINES[name].capabilities
        assert (yes[mc], yes[first], yes[ops], yes[log], yes[quant]) == (
            caps.monte_carlo, caps.first_run, caps.operations, caps.event_log, caps.quantiles), name
        assert tuple(m.strip() for m in modes.split(",")) == (caps.modes or ("—",)), name
