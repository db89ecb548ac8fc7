"""CLI polish: ``--report`` on run/compare/sweep, cheap ``import clmsim.cli``, aligned summary tables.

Oracles: the report's HTML is parsed and every ``<img>`` must be an embedded PNG (a ``data:`` URI,
nothing external); the scenario written beside the results must hash to the results' scenario hash;
the lazily-repeated RFM defaults must equal the :class:`clmsim.calibrate.RFMRules` dataclass; the
import test inspects ``sys.modules`` of a fresh interpreter.
"""

from __future__ import annotations

import dataclasses
import json
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import pytest  # noqa: E402

from clmsim.cli import main  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
SEGMENTS = ROOT / "scenarios" / "reference" / "segments.yaml"
WINBACK = ROOT / "scenarios" / "reference" / "winback.yaml"
TELECOM = ROOT / "scenarios" / "telecom.yaml"
EXPONENT = re.compile(r"\d[eE][+-]?\d")


def images(path: Path) -> list[str]:
    found = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                found.append(dict(attrs)["src"])

    P().feed(path.read_text(encoding="utf-8"))
    return found


def assert_self_contained_report(path: Path, min_images: int = 1) -> None:
    assert path.name == "report.html" and path.is_file()
    srcs = images(path)
    assert len(srcs) >= min_images
    assert all(s.startswith("data:image/png;base64,") for s in srcs)


def reported_path(text: str) -> Path:
    m = re.search(r"^report: (.+)$", text, re.MULTILINE)
    assert m, text
    return Path(m.group(1).strip())


def test_run_report_embeds_images_and_finds_the_overridden_scenario(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["run", str(SEGMENTS), "--engine", "fast", "--mode", "counts", "--runs", "4", "--seed", "1",
                 "--set", "time.horizon=12", "--out", str(out), "--report"]) == 0
    path = reported_path(capsys.readouterr().out)
    assert path == out / "report.html"
    assert_self_contained_report(path, min_images=3)
    # oracle: the scenario saved beside the results is the one simulated (--set included)
    from clmsim.scenario import load_scenario

    prov = json.loads((out / "provenance.json").read_text())
    assert load_scenario(out / "scenario.yaml").hash == prov["scenario_hash"]
    assert "the scenario file was not found" not in path.read_text(encoding="utf-8")


def test_run_report_defaults_to_results_dir_and_keeps_json_on_stdout(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["run", str(SEGMENTS), "--json", "--report"]) == 0
    io = capsys.readouterr()
    doc = json.loads(io.out)  # stdout is exactly one JSON document
    assert doc["engine"] == "analytic"
    path = reported_path(io.err)
    assert path == Path("results") / "run-reference-segments" / "report.html"
    assert_self_contained_report(tmp_path / path)


def test_compare_report_embeds_images(tmp_path, capsys):
    out = tmp_path / "cmp"
    assert main(["compare", str(SEGMENTS), "--runs", "4", "--seed", "2", "--mode", "counts",
                 "--out", str(out), "--report"]) == 0
    text = capsys.readouterr().out
    assert reported_path(text) == out / "report.html"
    assert_self_contained_report(out / "report.html", min_images=2)
    assert "Headline numbers" in (out / "report.html").read_text(encoding="utf-8")


def test_compare_report_default_dir_is_named_after_the_scenario(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    assert main(["compare", str(SEGMENTS), "--engine", "analytic", "--report"]) == 0
    assert reported_path(capsys.readouterr().out) == Path("results") / "compare-reference-segments" / "report.html"
    assert_self_contained_report(tmp_path / "results" / "compare-reference-segments" / "report.html")


def test_sweep_report_embeds_the_lever_figure(tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"name: small\nscenario: {WINBACK}\nstrategies: [baseline]\n"
                   "levers:\n  winback.policies.offer.coverage: [0, 0.5, 1]\n"
                   "runs: 4\nseed: 1\nengine: fast\nmode: counts\n")
    out = tmp_path / "sw"
    assert main(["sweep", str(exp), "--out", str(out), "--backend", "serial", "--report"]) == 0
    text = capsys.readouterr().out
    assert reported_path(text) == out / "report.html"
    assert_self_contained_report(out / "report.html")
    assert "NPV along offer: coverage" in (out / "report.html").read_text(encoding="utf-8")


def test_import_clmsim_cli_loads_no_heavy_packages():
    # clmsim.engines (the registry: names and capabilities) is light; the engine packages are not
    code = ("import sys, clmsim.cli; clmsim.cli.build_parser(); "
            "print(sorted({m.split('.')[0] if not m.startswith('clmsim.') else "
            "'.'.join(m.split('.')[:3 if m.startswith('clmsim.engines.') else 2]) for m in sys.modules}))")
    mods = set(json.loads(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                                         check=True).stdout.replace("'", '"')))
    heavy = {"pandas", "scipy", "matplotlib", "numba", "pyarrow", "SALib", "simpy", "clmsim.calibrate",
             "clmsim.analysis", "clmsim.report", "clmsim.engines.analytic", "clmsim.engines.fast",
             "clmsim.engines.des", "clmsim.metrics"}
    assert not mods & heavy, mods & heavy


def test_rfm_parser_defaults_match_the_rfmrules_dataclass():
    from clmsim.calibrate import RFMRules
    from clmsim.cli.fit_cmds import RFM_DEFAULTS

    fields = {f.name: f.default for f in dataclasses.fields(RFMRules)}
    assert RFM_DEFAULTS == {k: fields[k] for k in RFM_DEFAULTS}
    assert set(fields) - set(RFM_DEFAULTS) == {"dormant_after"}  # its CLI default is None, like the field
    assert fields["dormant_after"] is None


def test_interval_cells_use_half_width_when_symmetric_and_brackets_otherwise():
    from clmsim.cli.analysis_cmds import _interval

    assert _interval(169.9e6, 169.8e6, 170.0e6) == "169.90M \u00b1 0.10M"
    assert _interval(1.0, 0.5, 3.0) == "1 [0.5, 3]"
    assert _interval(15460.0, float("nan"), float("nan")) == "15.46k"
    assert _interval(float("nan"), 0, 1) == "-"


def table_lines(text: str) -> list[list[str]]:
    """Blocks of lines made of a header, a dashes line and rows (aligned tables)."""
    lines = text.splitlines()
    blocks = []
    for i, line in enumerate(lines):
        if line and set(line) <= {"-", " "} and i > 0:
            block = [lines[i - 1], line]
            for row in lines[i + 1:]:
                if not row.strip() or row.startswith("... "):
                    break
                block.append(row)
            blocks.append(block)
    return blocks


def assert_aligned(block: list[str]) -> None:
    """The blanks between the dash runs (column separators) are blank in the header and every row,
    and no row is wider than the dashes: no cell spills into its neighbour."""
    dashes = block[1]
    gaps = [i for i, ch in enumerate(dashes) if ch == " "]
    for row in block[:1] + block[2:]:
        assert len(row) <= len(dashes), (row, dashes)
        assert all(row[i] == " " for i in gaps if i < len(row)), (row, dashes)


EXPERIMENT = f"""name: t
scenario: {TELECOM}
seed: 1
engine: analytic
overrides: {{time.horizon: 12}}
strategies: [baseline, winback_off]
levers:
  retention.programs.save_desk.spend_per_customer: [0, 12]
uncertainties:
  transitions.at_risk.churned: {{dist: uniform, low: 0.16, high: 0.24}}
sampling: {{method: sobol, samples: 2}}
periods: true
roi_target: 0
optimize:
  levers:
    acquisition.channels.search.spend_per_period: {{low: 0, high: 600000}}
  budget: 500000
  grid: 5
  rounds: 2
  frontier: [500000, 700000]
"""


@pytest.mark.parametrize("command", ["compare", "sweep", "sensitivity", "optimize"])
def test_summary_tables_are_aligned_without_exponents(command, tmp_path, capsys):
    exp = tmp_path / "e.yaml"
    exp.write_text(EXPERIMENT)
    argv = {"compare": ["compare", str(TELECOM), "--engine", "analytic", "--set", "time.horizon=12"],
            "sweep": ["sweep", str(exp), "--out", str(tmp_path / "sw"), "--backend", "serial"],
            "sensitivity": ["sensitivity", str(exp), "--method", "tornado", "morris", "--backend", "serial"],
            "optimize": ["optimize", str(exp), "--backend", "serial"]}[command]
    assert main(argv) == 0
    out = capsys.readouterr().out
    assert not EXPONENT.search(out), out
    blocks = table_lines(out)
    assert blocks, out
    for block in blocks:
        assert len(block) >= 3
        assert_aligned(block)
