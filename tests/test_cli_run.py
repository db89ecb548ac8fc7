"""``clmsim run`` and ``clmsim explain``: output, JSON schema, errors (exit 2, no traceback)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from clmsim.cli import main
from clmsim.results import Results

ROOT = Path(__file__).resolve().parents[1]
TELECOM = str(ROOT / "scenarios" / "telecom.yaml")
SEGMENTS = str(ROOT / "scenarios" / "reference" / "segments.yaml")

JSON_METRICS = {"npv", "clv_new_customer", "cac", "ltv_cac", "roi_vs_baseline", "payback_periods"}


def run_json(capsys, *args) -> dict:
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_document_matches_documented_schema(capsys):
    doc = run_json(capsys, SEGMENTS)
    assert set(doc) >= {"scenario", "engine", "seed", "runs", "convention", "strategies", "work"}
    assert doc["engine"] == "analytic" and doc["scenario"] == "reference-segments"
    assert list(doc["strategies"]) == ["baseline", "no_program", "more_ads"]
    assert set(doc["work"]) == {"customer_periods", "seconds"}
    for name, metrics in doc["strategies"].items():
        assert JSON_METRICS <= set(metrics)
        for metric, stats in metrics.items():
            assert metric.split(":")[0].islower() and " " not in metric
            assert set(stats) == {"mean", "sd", "n", "ci95"}
            assert stats["sd"] is None and stats["ci95"] is None and stats["n"] is None
    assert doc["strategies"]["baseline"]["roi_vs_baseline"]["mean"] is None
    assert isinstance(doc["strategies"]["more_ads"]["roi_vs_baseline"]["mean"], float)


def test_json_numbers_equal_the_api(capsys):
    from clmsim.api import simulate

    doc = run_json(capsys, SEGMENTS, "--strategy", "more_ads")
    assert list(doc["strategies"]) == ["baseline", "more_ads"]  # baseline always added
    res = simulate(SEGMENTS, strategies=["more_ads"])
    assert doc["strategies"]["more_ads"]["npv"]["mean"] == pytest.approx(res.runs.loc[0, "npv"], rel=1e-12)


def test_table_lists_every_strategy_with_headers(capsys):
    assert main(["run", TELECOM, "--engine", "analytic"]) == 0
    out = capsys.readouterr().out
    for word in ("NPV", "CLV new cust.", "CAC", "LTV/CAC", "ROI vs base", "payback", "baseline",
                 "save_desk_x2", "convention"):
        assert word in out


def test_out_writes_parquet_that_reads_back(tmp_path, capsys):
    assert main(["run", SEGMENTS, "--out", str(tmp_path / "res")]) == 0
    back = Results.read_parquet(tmp_path / "res")
    assert back.provenance["engine"] == "analytic"
    assert back.strategies == ["baseline", "no_program", "more_ads"]


@pytest.mark.parametrize("args, message", [
    (["--option", "bogus=1"], "no option 'bogus'"),
    (["--option", "nodes=0"], "nodes must be"),
    (["--strategy", "nope"], "unknown strategy 'nope'"),
    (["--mode", "counts"], "no option 'mode'"),
    (["--set", "retention.programs.success_team.budget_cap_per_period=10"], "fast or des engine"),
])
def test_bad_requests_exit_2_with_a_message(capsys, args, message):
    assert main(["run", SEGMENTS, *args]) == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_bad_argument_values_exit_2(capsys):
    with pytest.raises(SystemExit) as exc:
        main(["run", SEGMENTS, "--runs", "0"])
    assert exc.value.code == 2
    with pytest.raises(SystemExit) as exc:
        main(["run", SEGMENTS, "--engine", "quantum"])
    assert exc.value.code == 2


def test_explain_prints_lifetime_clv_and_steady_state_with_formulas(capsys):
    assert main(["explain", str(ROOT / "scenarios" / "reference" / "geometric.yaml"), "--math"]) == 0
    out = capsys.readouterr().out
    assert "N = (I - Q)^-1" in out and "m r / (1 + d - r)" in out and "steady state" in out
    assert "5.00" in out        # lifetime 1/(1 - 0.8)
    assert "66.67" in out       # CLV = 25 x 0.8 / 0.3


def test_explain_unknown_strategy_exits_2(capsys):
    assert main(["explain", SEGMENTS, "--strategy", "nope"]) == 2
    assert "unknown strategy" in capsys.readouterr().err


def test_json_document_of_monte_carlo_results_has_intervals():
    import numpy as np
    import pandas as pd

    from clmsim.cli.run_cmds import summary_document
    from clmsim.metrics import summarize
    from clmsim.results import RUN_COLUMNS

    rng = np.random.default_rng(5)
    rows = []
    for strategy in ("baseline", "promo"):
        for r in range(20):
            row = {c: float(rng.uniform(1, 2)) for c in RUN_COLUMNS}
            row.update(strategy=strategy, run=r)
            rows.append(row)
    periods = pd.DataFrame({"strategy": ["baseline", "promo"], "period": [1, 1], "item": ["churned"] * 2,
                            "mean": [1.0, 1.0]})
    clv = pd.DataFrame({"strategy": ["baseline", "promo"], "stage": ["a", "a"], "kind": ["active"] * 2})
    res = Results({"engine": "fast", "seed": 9, "runs": 20, "scenario": "x", "customer_periods": 10.0,
                   "seconds": 0.5}, pd.DataFrame(rows), periods, clv)
    doc = json.loads(json.dumps(summary_document(res, summarize(res))))
    npv = doc["strategies"]["promo"]["npv"]
    assert npv["n"] == 20 and isinstance(npv["sd"], float) and len(npv["ci95"]) == 2
    assert npv["ci95"][0] < npv["mean"] < npv["ci95"][1]
    roi = doc["strategies"]["promo"]["roi_vs_baseline"]
    assert roi["n"] == 20 and (roi["ci95"] is None or roi["ci95"][0] <= roi["mean"] <= roi["ci95"][1])
    assert doc["work"] == {"customer_periods": 10.0, "seconds": 0.5} and doc["seed"] == 9
