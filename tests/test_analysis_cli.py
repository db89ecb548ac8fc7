"""``clmsim compare/sweep/sensitivity/optimize`` end to end, and experiment-file errors."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clmsim.analysis import load_experiment
from clmsim.cli import main
from clmsim.scenario import ScenarioError

ROOT = Path(__file__).resolve().parents[1]
TELECOM = str(ROOT / "scenarios" / "telecom.yaml")


def test_compare_analytic_prints_exact_differences(capsys):
    assert main(["compare", TELECOM, "--engine", "analytic", "--strategies", "save_desk_x2"]) == 0
    out = capsys.readouterr().out
    assert "exact expectations" in out and "save_desk_x2" in out and "ROI" in out


def test_compare_json_is_one_document_with_paired_rows(capsys):
    assert main(["compare", TELECOM, "--engine", "analytic", "--json", "--strategies", "winback_off"]) == 0
    doc = json.loads(capsys.readouterr().out)
    vs = doc["strategies"]["winback_off"]["vs_baseline"]
    assert {"npv_diff", "spend_diff", "roi", "npv_per_unit_saved", "payback_periods", "win_share"} <= set(vs)
    assert vs["spend_case"] == "less" and vs["roi"] is None and vs["npv_per_unit_saved"]["mean"] < 0
    assert doc["engine"] == "analytic" and doc["strategies"]["baseline"]["vs_baseline"] is None


def test_compare_fast_with_precision_reports_outcome(capsys):
    code = main(["compare", TELECOM, "--strategies", "save_desk_x2", "--runs", "4", "--seed", "1",
                 "--set", "time.horizon=6", "--mode", "counts", "--engine-option", "het_nodes=2",
                 "--precision", "0.05", "--max-runs", "8"])
    assert code == 0
    out = capsys.readouterr().out
    assert "precision 0.05" in out and ("met" in out)


@pytest.mark.parametrize("argv, message", [
    (["compare", "nope.yaml"], "not found"),
    (["compare", TELECOM, "--strategies", "bogus", "--engine", "analytic"], "unknown strategy"),
    (["compare", TELECOM, "--engine", "analytic", "--precision", "2"], "precision"),
    (["compare", TELECOM, "--engine", "analytic", "--engine-option", "oops"], "KEY=VALUE"),
    (["sweep", "missing.yaml", "--out", "x"], "not found"),
])
def test_bad_input_exits_2_with_a_message(argv, message, capsys):
    try:
        code = main(argv)
    except SystemExit as exc:  # a bad option value is refused by the argument parser
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def _write(tmp_path: Path, body: str) -> Path:
    p = tmp_path / "e.yaml"
    p.write_text(f"name: t\nscenario: {TELECOM}\nseed: 1\n" + body)
    return p


def test_experiment_errors_are_located_in_the_file(tmp_path):
    p = _write(tmp_path, "levers:\n  retention.programs.save_desk.spend_per_custmer: [1, 2]\n")
    with pytest.raises(ScenarioError, match=r"e\.yaml:5:\d+: levers\..*not a field"):
        load_experiment(p)
    p = _write(tmp_path, "uncertainties:\n  time.horizon: {dist: uniform, low: 1}\n")
    with pytest.raises(ScenarioError, match="high"):
        load_experiment(p)
    p = _write(tmp_path, "strategies: [nope]\n")
    with pytest.raises(ScenarioError, match="unknown strategy 'nope'"):
        load_experiment(p)
    p = _write(tmp_path, "levers:\n  name: [1]\n")
    with pytest.raises(ScenarioError, match="not a number"):
        load_experiment(p)


def test_sweep_and_optimize_commands_on_analytic_engine(tmp_path, capsys):
    p = _write(tmp_path, """engine: analytic
overrides: {time.horizon: 12}
strategies: [baseline, winback_off]
levers:
  retention.programs.save_desk.spend_per_customer: [0, 12]
uncertainties:
  transitions.at_risk.churned: {dist: uniform, low: 0.16, high: 0.24}
sampling: {method: sobol, samples: 2}
periods: true
roi_target: 0
optimize:
  levers:
    acquisition.channels.search.spend_per_period: {low: 0, high: 600000}
  budget: 500000
  grid: 5
  rounds: 2
""")
    assert main(["sweep", str(p), "--out", str(tmp_path / "out"), "--backend", "serial"]) == 0
    out = capsys.readouterr().out
    assert "complete" in out and "robustness" in out and "p_best" in out and "roi_share" in out
    assert (tmp_path / "out" / "summary.csv").exists()
    assert main(["optimize", str(p), "--json", "--backend", "serial"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["info"]["budget"] == 500000
    assert main(["sensitivity", str(p), "--method", "tornado", "--json", "--backend", "serial"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert {r["index"] for r in doc["table"]} == {"y_low", "y_high", "swing"}
