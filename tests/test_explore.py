"""The explorer's state (no browser): controls, edits, validation messages, numbers, YAML writer."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from clmsim.api import explain
from clmsim.cli import main
from clmsim.explore.state import ALL, Explorer
from clmsim.scenario import ScenarioEditor, ScenarioError, load_scenario

ROOT = Path(__file__).resolve().parent.parent
GEOMETRIC = ROOT / "scenarios" / "reference" / "geometric.yaml"
TEXTBOOK = ROOT / "scenarios" / "textbook.yaml"


def test_explorer_clv_equals_closed_form_m_r_over_1_plus_d_minus_r_after_an_edit():
    ex = Explorer(GEOMETRIC)
    out = ex.compute()
    assert out["ok"] and out["clv"] == pytest.approx(25 * 0.8 / 0.3) and out["d_npv"] == 0
    ex.set(("transitions", "customer", "lost"), 0.3)  # r = 0.7: 25 x 0.7 / 0.4 = 43.75
    out = ex.compute()
    assert out["clv"] == pytest.approx(43.75) and out["clv_entry_margin"] == pytest.approx(25 * 1.1 / 0.4)
    assert out["lifetime"] == pytest.approx(1 / 0.3) and out["d_npv"] < 0
    assert any("43.75" in line for line in out["text"])


def test_every_control_has_a_slider_range_holding_its_value():
    for name in ("telecom", "textbook_zh", "subscription", "ecommerce", "property"):
        ex = Explorer(ROOT / "scenarios" / f"{name}.yaml")
        controls = ex.controls()
        paths = {c.path for c in controls}
        assert "time.discount_rate" in paths
        assert any(p.startswith("transitions.") for p in paths)
        for c in controls:
            assert c.start <= c.value <= max(c.end, c.value) and c.step > 0, c


def test_controls_cover_the_selected_segments_rows_and_every_programme():
    ex = Explorer(TEXTBOOK)
    assert ex.segments[0] == ALL and "early_abort" in ex.segments
    base = {c.path: c.value for c in ex.controls()}
    assert base["transitions.exploration.terminated"] == 0.10
    assert {"retention.programs.development.spend_per_customer", "retention.programs.loyalty_care.spend_per_customer",
            "retention.programs.save_offer.spend_per_customer"} <= set(base)
    ex.select_segment("early_abort")
    seg = {c.path: c.value for c in ex.controls()}
    # the segment's merged row: its own entries over the base row
    assert seg["segments.early_abort.transitions.exploration.terminated"] == 0.50
    assert seg["segments.early_abort.transitions.formation.stability"] == 0.30


def test_a_row_above_one_gives_validates_message_beside_its_sliders_and_no_crash(capsys):
    ex = Explorer(TEXTBOOK)
    ex.set(("transitions", "exploration", "formation"), 0.95)
    out = ex.compute()
    assert not out["ok"]
    assert main(["validate", str(TEXTBOOK), "--set", "transitions.exploration.formation=0.95"]) == 2
    expected = capsys.readouterr().err.splitlines()[0]
    assert out["errors"] == [expected]
    assert out["messages"]["transitions.exploration.formation"] == [expected]
    assert out["messages"]["transitions.exploration.terminated"] == [expected]
    ex.set(("transitions", "exploration", "formation"), 0.40)
    assert ex.compute()["ok"]


def test_segment_edit_creates_the_row_and_matches_the_set_equivalent():
    ex = Explorer(TEXTBOOK)
    ex.select_segment("early_abort")
    ex.set(("segments", "early_abort", "transitions", "formation", "terminated"), 0.2)
    ex.set(("segments", "early_abort", "transitions", "formation", "stability"), 0.1)
    out = ex.compute()
    sets = ex.editor.set_arguments("baseline", ex.edits)
    assert sets[0] == "segments.early_abort.transitions.formation={terminated: 0.2}"
    ref = explain(TEXTBOOK, overrides=sets)
    row = ref["clv"].set_index(["segment", "stage"]).loc[("early_abort", "exploration")]
    assert out["clv"] == pytest.approx(row["clv_infinite"], rel=1e-12)
    assert out["npv"] == pytest.approx(ref["npv"], rel=1e-12)


def test_strategy_start_and_saved_yaml_validates_and_reproduces_the_numbers(tmp_path, capsys):
    ex = Explorer(TEXTBOOK)
    ex.select_strategy("development_x2")
    ctrl = {c.path: c.value for c in ex.controls()}
    assert ctrl["retention.programs.development.spend_per_customer"] == 40  # the strategy's setting
    ex.set(("time", "discount_rate"), 0.12)
    out = ex.compute()
    path = ex.save(tmp_path / "saved.yaml")
    assert main(["validate", str(path)]) == 0
    assert capsys.readouterr().out.rstrip().endswith("valid")
    saved = load_scenario(path)
    assert saved.spec_for("explored").time.discount_rate == 0.12
    again = explain(saved, "explored", cohort_stage="exploration")
    assert again["npv"] == pytest.approx(out["npv"], rel=1e-12)
    assert path.read_text(encoding="utf-8").startswith("# Written by `clmsim explore")


def test_invalid_settings_are_never_written(tmp_path):
    ex = Explorer(GEOMETRIC)
    ex.set(("transitions", "customer", "lost"), 1.5)
    with pytest.raises(ScenarioError):
        ex.save(tmp_path / "bad.yaml")
    assert not (tmp_path / "bad.yaml").exists()


def test_editor_keeps_other_strategies_and_names_the_new_one_uniquely():
    ed = ScenarioEditor(TEXTBOOK)
    text = ed.to_yaml("no_programs", {("time", "horizon"): 8}, name="no_programs")
    sc = __import__("clmsim.scenario", fromlist=["scenario_from_text"]).scenario_from_text(text)
    assert "no_programs_2" in sc.strategy_names and "development_x2" in sc.strategy_names
    assert sc.spec_for("no_programs_2").time.horizon == 8
    assert sc.spec_for("no_programs_2").retention.programs["development"].spend_per_customer == 0


def test_validate_does_not_import_the_web_library():
    code = ("import sys; from clmsim.cli import main; main(['validate', %r]); "
            "sys.exit(3 if any(m.split('.')[0] in ('bokeh', 'tornado', 'playwright') for m in sys.modules) else 0)"
            % str(GEOMETRIC))
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert res.returncode == 0, res.stderr


def test_explore_refuses_a_bad_file_with_exit_2(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("schema_version: 1\nname: x\n", encoding="utf-8")
    assert main(["explore", str(bad), "--no-browser"]) == 2
    assert "time" in capsys.readouterr().err


def test_explore_on_a_busy_port_is_a_clean_error(capsys):
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen()
        port = s.getsockname()[1]
        assert main(["explore", str(GEOMETRIC), "--no-browser", "--port", str(port)]) == 2
    assert f"cannot listen on 127.0.0.1:{port}" in capsys.readouterr().err


def test_explore_refuses_operations_it_cannot_compute_exactly(capsys):
    ops = ROOT / "scenarios" / "reference" / "ops_winback_desk.yaml"
    assert main(["explore", str(ops), "--no-browser"]) == 2
    assert "des engine" in capsys.readouterr().err
