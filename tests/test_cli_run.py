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

JSON_METRICS = {"npv", "pv_spend", "clv_acquired", "cac", "ltv_cac", "cac_payback_periods"}
VS_KEYS = {"npv_diff", "spend_diff", "roi", "npv_per_unit_saved", "payback_periods", "win_share", "spend_case"}


def run_json(capsys, *args) -> dict:
    assert main(["run", *args, "--json"]) == 0
    return json.loads(capsys.readouterr().out)


def test_json_document_matches_documented_schema(capsys):
    doc = run_json(capsys, SEGMENTS)
    assert set(doc) >= {"scenario", "engine", "seed", "runs", "convention", "baseline", "strategies", "work"}
    assert doc["engine"] == "analytic" and doc["scenario"] == "reference-segments"
    assert list(doc["strategies"]) == ["baseline", "no_program", "more_ads"]
    assert set(doc["work"]) == {"customer_periods", "seconds"}
    for name, metrics in doc["strategies"].items():
        assert JSON_METRICS <= set(metrics)
        for metric, stats in metrics.items():
            assert metric.split(":")[0].islower() and " " not in metric
            if metric in ("vs_baseline", "segments") or stats is None:
                continue
            assert set(stats) <= {"mean", "sd", "n", "ci95", "infinite"}
            assert stats["sd"] is None and stats["ci95"] is None and stats["n"] is None
    assert doc["strategies"]["baseline"]["vs_baseline"] is None
    assert set(doc["strategies"]["baseline"]["segments"]) == {"smb", "enterprise"}
    vs = doc["strategies"]["more_ads"]["vs_baseline"]
    assert set(vs) == VS_KEYS and vs["spend_case"] == "more"
    assert isinstance(vs["roi"]["mean"], float) and vs["npv_per_unit_saved"] is None
    assert isinstance(vs["npv_diff"]["mean"], float) and isinstance(vs["spend_diff"]["mean"], float)


def test_run_and_compare_json_share_one_document_shape(capsys):
    run = run_json(capsys, SEGMENTS)
    assert main(["compare", SEGMENTS, "--engine", "analytic", "--json"]) == 0
    cmp_ = json.loads(capsys.readouterr().out)
    assert set(run) == set(cmp_)
    for s in run["strategies"]:
        assert set(run["strategies"][s]) == set(cmp_["strategies"][s])
        if run["strategies"][s]["vs_baseline"] is not None:
            for k in ("npv_diff", "spend_diff", "roi"):
                a, b = run["strategies"][s]["vs_baseline"][k], cmp_["strategies"][s]["vs_baseline"][k]
                assert (a is None) == (b is None)
                if a is not None:
                    assert a["mean"] == pytest.approx(b["mean"], rel=1e-12)


def test_json_numbers_equal_the_api(capsys):
    from clmsim.api import simulate

    doc = run_json(capsys, SEGMENTS, "--strategy", "more_ads")
    assert list(doc["strategies"]) == ["baseline", "more_ads"]  # baseline always added
    res = simulate(SEGMENTS, strategies=["more_ads"])
    assert doc["strategies"]["more_ads"]["npv"]["mean"] == pytest.approx(res.runs.loc[0, "npv"], rel=1e-12)


def test_table_lists_every_strategy_with_headers(capsys):
    assert main(["run", TELECOM, "--engine", "analytic"]) == 0
    out = capsys.readouterr().out
    for word in ("NPV", "spend (PV)", "NPV vs baseline", "return on the change", "payback (months)",
                 "CLV per acquired customer", "CAC", "LTV/CAC", "baseline", "save_desk_x2", "convention"):
        assert word in out
    assert "ROI " in out and "saves " in out and "same spend" in out  # telecom has all three cases
    assert "\u00b1 0.0" not in out


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


def test_json_document_of_monte_carlo_run_has_intervals(capsys):
    doc = run_json(capsys, SEGMENTS, "--engine", "fast", "--runs", "20", "--seed", "9", "--mode", "counts")
    assert doc["runs"] == 20 and doc["batches"] == 10 and doc["seed"] == 9
    npv = doc["strategies"]["more_ads"]["npv"]
    assert npv["n"] == 20 and isinstance(npv["sd"], float) and len(npv["ci95"]) == 2
    assert npv["ci95"][0] < npv["mean"] < npv["ci95"][1]
    vs = doc["strategies"]["more_ads"]["vs_baseline"]
    for k in ("npv_diff", "spend_diff", "roi", "win_share"):
        assert vs[k]["ci95"][0] <= vs[k]["mean"] <= vs[k]["ci95"][1], k
    assert vs["payback_periods"] is None or vs["payback_periods"]["ci95"] is not None
