"""Sweep outputs that draw and join themselves: lever columns in runs, identifier column names,
integer counts, paired differences between points, Latin-hypercube levers, figures.

Oracles: the points table (every runs row carries its point's values), the runs themselves
(a paired difference is the mean of run-by-run differences; its interval is the Student-t one
of clmsim.stats), the exact engine (a difference of expectations has a degenerate interval),
and the design's definition (Latin hypercube: one value per stratum of each lever).
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clmsim.analysis.columns import identifier, identifiers
from clmsim.analysis.sweep import read_sweep, sweep
from clmsim.scenario import ScenarioError
from clmsim.stats import mean_ci

ROOT = Path(__file__).resolve().parents[1]
TELECOM = ROOT / "scenarios" / "telecom.yaml"
COVERAGE = "winback.policies.reactivation_offer.coverage"
WINDOW = "winback.policies.reactivation_offer.window"


def write(tmp_path: Path, body: str, name: str = "exp.yaml") -> Path:
    p = tmp_path / name
    p.write_text(f"name: outputs\nscenario: {TELECOM}\noverrides: {{time.horizon: 6}}\n" + body)
    return p


@pytest.fixture(scope="module")
def grid_sweep(tmp_path_factory):
    d = tmp_path_factory.mktemp("grid")
    exp = write(d, f"""strategies: [baseline, winback_off]
levers:
  {COVERAGE}: [0, 0.5, 1]
  {WINDOW}: [3, 6]
runs: 6
chunk_runs: 6
seed: 5
engine: fast
mode: counts
engine_options: {{het_nodes: 4}}
""")
    return sweep(exp, d / "out", backend="serial", progress=False)


def test_identifier_mapping_rule():
    assert identifier(COVERAGE) == "winback__policies__reactivation_offer__coverage"
    assert identifier("acquired:search") == "acquired__search"
    assert identifier("stages.save-desk.revenue") == "stages__save_desk__revenue"
    assert identifier("transitions.新客.流失") == "transitions__新客__流失"
    assert identifier("9lives") == "_9lives" and identifier("class") == "class_"
    names = identifiers(["a.b", "a:b", "a__b"])
    assert names == {"a.b": "a__b", "a:b": "a__b_2", "a__b": "a__b_3"}
    assert all(v.isidentifier() for v in names.values())


def test_runs_carry_lever_columns_with_identifier_names_and_integer_counts(grid_sweep):
    sw = grid_sweep
    runs, pts = sw.runs, sw.points
    cov, win = identifier(COVERAGE), identifier(WINDOW)
    assert all(str(c).isidentifier() for c in runs.columns) and all(str(c).isidentifier() for c in pts.columns)
    assert sw.paths[cov] == COVERAGE and sw.column(COVERAGE) == cov and sw.path(win) == WINDOW
    assert "acquired__retail_stores" in runs.columns and sw.path("acquired__retail_stores") == "acquired:retail_stores"
    joined = runs[["experiment", cov, win]].drop_duplicates().merge(pts, on="experiment", suffixes=("", "_p"))
    assert (joined[cov] == joined[f"{cov}_p"]).all() and (joined[win] == joined[f"{win}_p"]).all()
    assert pts[win].dtype == np.int64 and pts[cov].dtype == np.float64  # window is an integer field
    for c in ("acquired", "churned", "won_back", "contacts", "active_end", "acquired__retail_stores"):
        assert runs[c].dtype == np.int64, c
    m = json.loads((sw.directory / "manifest.json").read_text())
    assert m["columns"][cov] == COVERAGE
    again = read_sweep(sw.directory)
    pd.testing.assert_frame_equal(again.runs, runs)


def test_diff_is_the_mean_of_run_by_run_differences_with_its_t_interval(grid_sweep):
    sw = grid_sweep
    cov, win = identifier(COVERAGE), identifier(WINDOW)
    d = sw.diff({COVERAGE: 0, WINDOW: 3})
    ref = int(sw.points[(sw.points[cov] == 0) & (sw.points[win] == 3)]["experiment"].iloc[0])
    assert set(d["reference"]) == {"baseline at grid 0", "winback_off at grid 0"}
    e = int(sw.points[(sw.points[cov] == 1) & (sw.points[win] == 6)]["experiment"].iloc[0])
    r = sw.runs[sw.runs.strategy == "baseline"].set_index(["experiment", "run"])["npv"]
    want = mean_ci((r.loc[e] - r.loc[ref]).to_numpy())
    row = d[(d.experiment == e) & (d.strategy == "baseline")].iloc[0]
    assert (row["mean"], row["ci_lo"], row["ci_hi"], row["n"]) == pytest.approx((want[0], want[2], want[3], 6))
    at_ref = d[d.experiment == ref]
    assert (at_ref["mean"] == 0).all()
    # strategy vs the baseline at the reference point; by index too
    d2 = sw.diff(ref, strategy="winback_off")
    assert set(d2["strategy"]) == {"winback_off"} and set(d2["reference"]) == {"baseline at grid 0"}
    with pytest.raises(Exception, match="matches 2 grid points"):
        sw.diff({COVERAGE: 0})


def test_exact_engine_diff_has_degenerate_intervals(tmp_path):
    exp = write(tmp_path, f"""strategies: [baseline]
levers:
  {COVERAGE}: [0, 1]
engine: analytic
seed: 1
""")
    sw = sweep(exp, tmp_path / "out", backend="serial", progress=False)
    d = sw.diff(0)
    row = d[d.experiment == 1].iloc[0]
    exact = sw.runs.set_index("experiment")["npv"]
    assert row["mean"] == pytest.approx(exact[1] - exact[0]) and row["ci_lo"] == row["ci_hi"] == row["mean"]


def test_latin_hypercube_levers_put_one_value_in_each_stratum_and_are_validated(tmp_path):
    exp = write(tmp_path, f"""strategies: [baseline]
levers:
  retention.programs.save_desk.spend_per_customer: {{low: 0, high: 20}}
  {WINDOW}: [3, 6, 9]
lever_sampling: {{method: lhs, samples: 8}}
engine: analytic
seed: 4
""")
    sw = sweep(exp, tmp_path / "out", backend="serial", progress=False)
    spend = sw.points[identifier("retention.programs.save_desk.spend_per_customer")].to_numpy()
    assert len(spend) == 8 and sorted(np.floor(spend / 2.5).astype(int)) == list(range(8))
    assert spend.dtype == np.float64 and (spend != np.round(spend)).any()  # sampled values, never rounded
    assert set(sw.points[identifier(WINDOW)]) <= {3, 6, 9}
    bad = write(tmp_path, f"""levers:
  {COVERAGE}: {{low: 0, high: 1}}
seed: 1
""", "bad.yaml")
    with pytest.raises(ScenarioError) as err:
        sweep(bad, tmp_path / "bad", backend="serial")
    assert "bad.yaml:5:3: levers." in str(err.value) and "lever_sampling" in str(err.value)
    bad = write(tmp_path, """levers:
  retention.programs.save_desk.spend_per_customer: {from: 0, to: 10}
seed: 1
""", "bad2.yaml")
    with pytest.raises(ScenarioError) as err:
        sweep(bad, tmp_path / "bad", backend="serial")
    msg = str(err.value)  # a grid range: only the range's own problem, not the sampling bounds'
    assert "missing required field 'step'" in msg and "low" not in msg and len(msg.splitlines()) == 1


def test_sweep_written_before_identifier_columns_stays_readable(grid_sweep, tmp_path):
    old = tmp_path / "old"
    shutil.copytree(grid_sweep.directory, old)
    m = json.loads((old / "manifest.json").read_text())
    inv = m.pop("columns")  # identifier -> dotted path
    m.pop("checksum")
    (old / "manifest.json").write_text(json.dumps(m))  # an old manifest: no checksum, no columns
    pts = pd.read_parquet(old / "points.parquet").rename(columns=inv)
    pts[WINDOW] = pts[WINDOW].astype(float)  # dotted names, floats: as written before
    pts.to_parquet(old / "points.parquet", index=False)
    runs = pd.read_parquet(old / "runs.parquet")
    runs = runs.drop(columns=["grid", "sample", identifier(COVERAGE), identifier(WINDOW)]).rename(columns=inv)
    runs.astype({c: float for c in ("acquired", "churned")}).to_parquet(old / "runs.parquet", index=False)
    sw = read_sweep(old)
    assert identifier(COVERAGE) in sw.runs.columns and sw.runs["acquired"].dtype == np.int64
    pd.testing.assert_frame_equal(sw.runs[grid_sweep.runs.columns], grid_sweep.runs, check_dtype=False)
    assert sw.diff(0)["mean"].notna().all()


def test_reports_draw_heatmaps_for_two_levers_and_dependence_for_sampled_designs(grid_sweep, tmp_path):
    from clmsim.report.sweep import report_from_sweep

    rep = report_from_sweep(grid_sweep.directory)
    names = [f.key for f in rep.figures]
    assert names == ["sweep_npv_heatmap", "sweep_diff_heatmap"]
    ax = rep.figures[0].figure.axes[0]
    assert ax.get_xlabel() and "coverage" in ax.get_xlabel() and "window" in ax.get_ylabel()
    exp = write(tmp_path, f"""strategies: [baseline, winback_off]
levers:
  {COVERAGE}: {{low: 0, high: 1}}
lever_sampling: {{method: lhs, samples: 6}}
uncertainties:
  transitions.at_risk.churned: {{dist: uniform, low: 0.12, high: 0.18}}
sampling: {{samples: 2}}
engine: analytic
seed: 2
""")
    sw = sweep(exp, tmp_path / "lhs", backend="serial", progress=False)
    rep = report_from_sweep(sw.directory)
    assert [f.key for f in rep.figures] == ["sweep_dependence", "sweep_diff_dependence"]
    axes = rep.figures[0].figure.axes
    assert len(axes) == 2 and "coverage" in axes[0].get_xlabel()
    assert len(axes[0].collections[0].get_offsets()) == 12  # one dot per design point


def test_experiment_parameter_uncertainty_is_sampled_jointly_and_refused_by_sensitivity(tmp_path):
    from clmsim.analysis.sensitivity import sensitivity
    from clmsim.errors import ClmsimError

    exp = write(tmp_path, """strategies: [baseline]
uncertainties:
  stages.loyal.revenue.mean: {dist: normal, mean: 75, sd: 5}
parameter_uncertainty:
  - {dist: dirichlet, row: at_risk, alpha: {declining: 12, at_risk: 73, churned: 15}}
sampling: {method: lhs, samples: 5}
engine: analytic
seed: 8
""")
    sw = sweep(exp, tmp_path / "out", backend="serial", progress=False)
    p = sw.points
    rows = p["transitions__at_risk__declining"] + p["transitions__at_risk__churned"]
    assert len(p) == 5 and (rows < 1).all() and p["transitions__at_risk__churned"].nunique() == 5
    assert p["stages__loyal__revenue__mean"].nunique() == 5
    with pytest.raises(ClmsimError, match="need independent inputs"):
        sensitivity(exp)
    bad = write(tmp_path, """parameter_uncertainty:
  - {dist: beta, path: transitions.at_risk.churnd, a: 1, b: 2}
seed: 1
""", "bad.yaml")
    with pytest.raises(ScenarioError) as err:
        sweep(bad, tmp_path / "bad", backend="serial")
    assert "bad.yaml:5:" in str(err.value) and "parameter_uncertainty.0.path: 'transitions.at_risk.churnd'" in \
        str(err.value) and "did you mean 'transitions.at_risk.churned'" in str(err.value)
