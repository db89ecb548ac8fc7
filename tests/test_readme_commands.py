"""Every command of the README works as written.

Oracle: the README itself. Its fenced code blocks are parsed; every line that starts with
``.venv/bin/clmsim`` (continuation lines joined, ``#`` comments dropped) is run in process
through :func:`clmsim.cli.main` from a scratch directory that links the repository's
``scenarios``, ``experiments``, ``data`` and ``docs`` (so relative paths resolve as in a
clone, and outputs land in the scratch directory). Each must exit with status 0, and the
files it names with ``--out`` must exist.

Reduced sizes (the commands are otherwise run as written). The Monte Carlo commands ask for
up to 1,000 runs, the sweeps for up to 30 points x 100 runs on a process pool, the sensitivity
analysis for 1,177 exact evaluations and the optimisation for 5 rounds of a 7 x 7 grid at 5
budgets: several minutes together, beyond the suite's time budget. So (1) the options of
:data:`REDUCED` are appended (fewer runs; ``--backend serial``: the pools and Dask clusters
are tested in tests/test_sweep.py and tests/test_dask_cluster.py), and (2) the scratch
directory's ``experiments/`` holds copies of the shipped experiments with the sizes of
:data:`SMALL` (samples, runs, grid, rounds, frontier). Everything else about each command --
files, options, outputs -- is as written.

Not run here, with the reason: ``make demo``/``make test``/``make bench*`` (the demo's plan is
run by tests/test_report_cli.py, the suite is this suite, benchmarks report and take minutes)
and ``clmsim explore`` (a server that runs until stopped; tests/test_explore*.py drive it).
"""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest
import yaml

from clmsim.cli import main

ROOT = Path(__file__).resolve().parents[1]

REDUCED = {
    "compare": ["--runs", "8", "--max-runs", "16"],
    "run": ["--runs", "8"],
    "sweep": ["--runs", "2", "--backend", "serial", "--quiet"],
    "sensitivity": ["--samples", "4", "--trajectories", "2", "--backend", "serial", "--quiet"],
}
"""Options appended (the last occurrence of an option wins in argparse) -- only when the command
is a Monte Carlo or multi-point study; see the module docstring for why."""

SMALL = {("runs",): 2, ("sampling", "samples"): 4, ("sensitivity", "samples"): 4,
         ("sensitivity", "trajectories"): 2, ("optimize", "grid"): 3, ("optimize", "rounds"): 1,
         ("optimize", "frontier"): [400000, 450000]}
"""Sizes set in the scratch copies of experiments/*.yaml (where the file has the section)."""

NOT_RUN = {"explore": "a server that runs until stopped (tested in tests/test_explore*.py)"}


def readme_commands() -> list[str]:
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    out = []
    for block in re.findall(r"```[a-z]*\n(.*?)```", text, flags=re.S):
        joined = re.sub(r"\\\n\s*", " ", block)
        for line in joined.splitlines():
            line = line.split("#", 1)[0].strip() if " #" in line or line.startswith("#") else line.strip()
            if line.startswith(".venv/bin/clmsim "):
                out.append(line[len(".venv/bin/clmsim "):])
    return out


def _argv(command: str) -> list[str]:
    argv = shlex.split(command)
    sub = argv[0]
    if ">" in argv:
        return argv
    extra = list(REDUCED.get(sub, []))
    if sub == "run" and "--engine" not in argv:
        extra = []  # the analytic engine: exact and cheap, as written
    if sub == "compare" and "--precision" in argv:
        extra = ["--max-runs", "200"]  # --precision adds runs until met: cap them
    return argv + extra


def test_readme_lists_the_calibration_samples_and_they_exist():
    cmds = readme_commands()
    assert any("fit transitions docs/data/panel.csv" in c for c in cmds)
    assert any("fit sbg docs/data/renewals.csv" in c for c in cmds)
    assert (ROOT / "docs" / "data" / "panel.csv").is_file() and (ROOT / "docs" / "data" / "renewals.csv").is_file()


@pytest.fixture(scope="module")
def workdir(tmp_path_factory):
    d = tmp_path_factory.mktemp("readme")
    for name in ("scenarios", "data", "docs"):
        (d / name).symlink_to(ROOT / name, target_is_directory=True)
    (d / "experiments").mkdir()
    for f in (ROOT / "experiments").glob("*.yaml"):
        data = yaml.safe_load(f.read_text(encoding="utf-8"))
        for keys, value in SMALL.items():
            node = data
            for k in keys[:-1]:
                node = node.get(k) if isinstance(node, dict) else None
            if isinstance(node, dict) and (keys[-1] in node or keys == ("runs",)):
                node[keys[-1]] = value
        (d / "experiments" / f.name).write_text(yaml.safe_dump(data, sort_keys=False), encoding="utf-8")
    (d / "runs").mkdir()
    return d


@pytest.mark.parametrize("command", readme_commands())
def test_readme_command_runs_as_written(command, workdir, monkeypatch, capsys):
    argv = _argv(command)
    if argv[0] in NOT_RUN:
        pytest.skip(NOT_RUN[argv[0]])
    redirect = None
    if ">" in argv:  # shell redirection of standard output
        redirect = argv[argv.index(">") + 1]
        argv = argv[:argv.index(">")]
    monkeypatch.chdir(workdir)
    code = main(argv)
    out = capsys.readouterr()
    assert code == 0, f"clmsim {command}: exit {code}\n{out.err[-2000:]}"
    if redirect:
        (workdir / redirect).write_text(out.out, encoding="utf-8")
        assert out.out.strip()
    if "--out" in argv:
        assert (workdir / argv[argv.index("--out") + 1]).exists()
