"""Per-segment results (``segment_runs``, ``segment_periods``, the JSON ``segments`` block).

Oracles: the engine's own totals (every segment column sums to the ``runs`` column of the same
run, every segment item to the ``periods`` mean), the analytic engine's per-segment
expectations (Monte Carlo segment means within 4.5 standard errors), and the bits of the run
without fast paths.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from clmsim.engines import load
from clmsim.results import SEGMENT_RUN_COLUMNS, Results

from fast_helpers import Z999, model_from_yaml

TWO_SEGMENTS = """
    schema_version: 1
    name: two-segment-levers
    time: {{period: month, horizon: 12, discount_rate: 0.12}}
    stages:
      trial:   {{kind: active, revenue: {{mean: 20, cv: 0.5}}, margin: 0.6, cost_to_serve: 2}}
      member:  {{kind: active, revenue: 40, margin: 0.5, cost_to_serve: 3}}
      lapsed:  {{kind: churned}}
      gone:    {{kind: lost}}
    transitions:
      trial:  {{member: 0.3, lapsed: 0.15}}
      member: {{lapsed: 0.06}}
      lapsed: {{gone: 0.2{back}}}
    segments:
      bargain:
        share: 0.6
        transitions:
          member: {{lapsed: 0.12}}
        heterogeneity:
          churn_multiplier: {{dist: gamma, mean: 1.0, cv: 0.6}}
      loyal:
        share: 0.4
        stages:
          member: {{revenue: 90}}
    initial_population: {{trial: 150, member: 250}}
    acquisition:
      channels:
        ads:
          spend_per_period: 3000
          response: {{type: linear, cost_per_customer: 60}}
          entry_stage: trial
          segment_mix: {{bargain: 0.8, loyal: 0.2}}
      referrals: {{from: {{member: 0.01}}, entry_stage: trial}}
    retention:
      programs:
        care:
          target: [member]
          spend_per_customer: 2
          {cap}
          effect: {{churn_reduction_max: 0.5, half_saturation_spend: 2}}
    winback:
      policies:
        call:
          eligible_after: 0
          window: 4
          coverage: 0.6
          contact_cost: 5
          {capacity}
          success: {{base: 0.25, decay: 0.8}}
          return_stage: member
          concession: {{discount: 0.1, periods: 2}}
    strategies:
      baseline: {{}}
      more_care: {{retention.programs.care.spend_per_customer: 6}}
    """


def _models(back: str = "", cap: str = "", capacity: str = ""):
    """Both strategies of the two-segment scenario (``back``: a spontaneous return from lapsed, so
    counts mode cannot pool its churned customers; ``cap``/``capacity``: budget and contact limits)."""
    text = TWO_SEGMENTS.format(back=back, cap=cap, capacity=capacity)
    return [model_from_yaml(text, s) for s in ("baseline", "more_care")]


def _assert_segments_add_up(res: Results, rtol: float) -> None:
    sr = res.segment_runs
    assert set(sr["segment"]) == {"bargain", "loyal"}
    tot = sr.groupby(["strategy", "run"])[list(SEGMENT_RUN_COLUMNS)].sum()
    runs = res.runs.set_index(["strategy", "run"]).loc[tot.index, list(SEGMENT_RUN_COLUMNS)]
    scale = runs.abs().max() + 1.0
    assert (((tot - runs).abs() / scale).max() <= rtol).all(), ((tot - runs).abs() / scale).max()
    sp = res.segment_periods.groupby(["strategy", "period", "item"])["mean"].sum()
    p = res.periods.set_index(["strategy", "period", "item"])["mean"].loc[sp.index]
    assert len(sp) == len(res.periods[~res.periods["item"].str.contains("survival|new_customer")])
    assert ((sp - p).abs() / (p.abs().groupby(level="item").transform("max") + 1.0)).max() <= rtol


def test_segments_sum_to_totals_analytic_exactly():
    res = load("analytic").simulate(_models())
    assert (res.segment_runs["run"] == -1).all()
    _assert_segments_add_up(res, 1e-12)


@pytest.mark.parametrize("mode", ["individual", "counts"])
@pytest.mark.parametrize("variant", ["pooled", "returns_and_limits"])
def test_segments_sum_to_totals_per_run_fast(mode, variant):
    kw = {} if variant == "pooled" else dict(back=", trial: 0.05", cap="budget_cap_per_period: 300",
                                             capacity="capacity_per_period: 6")
    res = load("fast").simulate(_models(**kw), runs=12, seed=5, mode=mode)
    _assert_segments_add_up(res, 1e-10)


OPERATIONS = """
    operations:
      teams:
        care_desk: {{serves: care, agents: 2, service_days: {{mean: 0.2, cv: 1}}}}
        call_desk: {{serves: call, agents: 1, service_days: {{mean: 0.5, cv: 1}}, response_delay_days: 3}}
      budgets:
        fund: {{serves: [care], amount: 400, refill: period}}
"""


@pytest.mark.parametrize("operations", [False, True])
def test_segments_sum_to_totals_per_run_des(operations):
    """Also with a care team, a win-back desk and a budget (contacts and care delivered by agents
    are attributed through the customer's id)."""
    text = TWO_SEGMENTS.format(back=", trial: 0.05", cap="", capacity="" if operations else "capacity_per_period: 6")
    if operations:
        text = text.replace("    strategies:", OPERATIONS.format() + "    strategies:")
        text = text.replace("horizon: 12", "horizon: 4")
    models = [model_from_yaml(text, s) for s in ("baseline", "more_care")]
    res = load("des").simulate(models, runs=2, seed=5)
    _assert_segments_add_up(res, 1e-10)
    assert (res.segment_runs.groupby("segment")["retention_spend"].sum() > 0).all()


@pytest.mark.parametrize("mode", ["individual", "counts"])
def test_fast_segment_means_match_analytic_within_4_5_se(mode):
    """Each segment's mean NPV, revenue, program and win-back spend, churn and end count agree with
    the analytic engine's per-segment expectation (the attribution is right, not just the sum)."""
    models = _models()
    exact = load("analytic").simulate(models).segment_runs.set_index(["strategy", "segment"])
    R = 300
    sr = load("fast").simulate(models, runs=R, seed=11, mode=mode).segment_runs
    for (s, g), one in sr.groupby(["strategy", "segment"]):
        for col in ("npv", "revenue", "contribution", "retention_spend", "winback_spend", "acquired",
                    "churned", "active_end"):
            x = one[col].to_numpy(float)
            se = x.std(ddof=1) / np.sqrt(R)
            assert abs(x.mean() - exact.loc[(s, g), col]) <= Z999 * se + 1e-9 * abs(exact.loc[(s, g), col]), \
                (s, g, col, x.mean(), exact.loc[(s, g), col], se)


@pytest.mark.parametrize("het", [False, True])
def test_fast_paths_keep_segment_bits(monkeypatch, het):
    """Oracle: the general path (CLMSIM_FAST_PATHS=0) gives the same per-segment bits as the bare
    path (no heterogeneity) and the het path."""
    text = TWO_SEGMENTS.format(back="", cap="", capacity="")
    if not het:
        text = text.replace("heterogeneity:\n          churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.6}", "")
        text = text.replace("revenue: {mean: 20, cv: 0.5}", "revenue: 20")
    models = [model_from_yaml(text, s) for s in ("baseline", "more_care")]
    fast = load("fast")
    a = fast.simulate(models, runs=3, seed=2, mode="individual")
    monkeypatch.setenv("CLMSIM_FAST_PATHS", "0")
    b = fast.simulate(models, runs=3, seed=2, mode="individual")
    pd.testing.assert_frame_equal(a.segment_runs, b.segment_runs)
    pd.testing.assert_frame_equal(a.segment_periods, b.segment_periods)


@pytest.mark.parametrize("engine", ["analytic", "fast", "des"])
def test_unsegmented_scenario_writes_empty_segment_tables_and_json_null(engine, tmp_path, capsys):
    """Without segments the population is the one segment: no per-segment tables, no per-segment
    work, and ``segments: null`` in the JSON document."""
    from clmsim.cli import main

    text = """
        schema_version: 1
        name: plain
        time: {period: month, horizon: 6}
        stages:
          a: {kind: active, revenue: 10, margin: 1}
          gone: {kind: lost}
        transitions:
          a: {gone: 0.1}
        initial_population: {a: 50}
        strategies: {baseline: {}, cheap: {}}
        """
    import textwrap
    m = model_from_yaml(text)
    res = load(engine).simulate([m], runs=3, seed=1)
    assert res.segment_runs.empty and res.segment_periods.empty
    path = tmp_path / "plain.yaml"
    path.write_text(textwrap.dedent(text))
    assert main(["run", str(path), "--engine", engine, "--runs", "4", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert all(d["segments"] is None for d in doc["strategies"].values())


def test_segment_tables_survive_parquet_and_combine(tmp_path):
    res = load("analytic").simulate(_models())
    back = Results.read_parquet(res.to_parquet(tmp_path / "r"))
    pd.testing.assert_frame_equal(back.segment_runs, res.segment_runs, check_dtype=False)
    both = res.combine(res)
    assert len(both.segment_periods) == 2 * len(res.segment_periods)


def test_compare_json_carries_segments_and_paired_npv_differences(tmp_path, capsys):
    """``compare --json``: ``strategies.<s>.segments.<segment>`` with mean/sd/n/ci95, and the
    per-segment NPV differences versus the baseline add up to the total difference in every run
    (so their means do too)."""
    from clmsim.analysis import compare
    from clmsim.cli import main

    path = tmp_path / "two.yaml"
    import textwrap
    path.write_text(textwrap.dedent(TWO_SEGMENTS.format(back="", cap="", capacity="")))
    c = compare(str(path), runs=40, seed=3, batches=2)
    seg = c.segment_table()
    diff = seg[(seg["kind"] == "vs_baseline") & (seg["strategy"] == "more_care")].set_index("segment")
    total = c.table()
    total = total[(total["strategy"] == "more_care") & (total["metric"] == "npv_diff")]
    assert diff["mean"].sum() == pytest.approx(float(total["mean"].iloc[0]), rel=1e-9)
    assert (diff["ci_lo"] < diff["mean"]).all() and (diff["n"] == 40).all()
    assert main(["compare", str(path), "--runs", "40", "--seed", "3", "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    g = doc["strategies"]["more_care"]["segments"]["loyal"]
    assert set(g) >= set(SEGMENT_RUN_COLUMNS) | {"vs_baseline"}
    assert set(g["npv"]) >= {"mean", "sd", "n", "ci95"} and g["npv"]["n"] == 40
    assert g["vs_baseline"]["npv_diff"]["mean"] == pytest.approx(diff.loc["loyal", "mean"])
    assert doc["strategies"]["baseline"]["segments"]["loyal"]["vs_baseline"] is None
    assert main(["compare", str(path), "--runs", "40", "--seed", "3"]) == 0
    text = capsys.readouterr().out
    assert "NPV by segment" in text and "loyal" in text


def test_run_json_segments_analytic_exact(tmp_path, capsys):
    from clmsim.cli import main
    import textwrap

    path = tmp_path / "two.yaml"
    path.write_text(textwrap.dedent(TWO_SEGMENTS.format(back="", cap="", capacity="")))
    assert main(["run", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    segs = doc["strategies"]["baseline"]["segments"]
    total = doc["strategies"]["baseline"]["npv"]["mean"]
    assert sum(segs[g]["npv"]["mean"] for g in ("bargain", "loyal")) == pytest.approx(total, rel=1e-12)
    assert segs["loyal"]["npv"]["ci95"] is None


def test_docs_name_every_segment_column():
    """Oracle: clmsim.results.SEGMENT_RUN_COLUMNS; docs/metrics.md ("Per-segment results") and the
    JSON key table of docs/cli.md list exactly those columns."""
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    metrics = (root / "docs" / "metrics.md").read_text()
    section = metrics.split("## Per-segment results", 1)[1].split("\n## ", 1)[0]
    listed = re.search(r"`clmsim\.results\.SEGMENT_RUN_COLUMNS` -- (.*?)\)", section, re.S).group(1)
    assert re.findall(r"`(\w+)`", listed) == list(SEGMENT_RUN_COLUMNS)
    cli = (root / "docs" / "cli.md").read_text()
    row = next(line for line in cli.splitlines() if line.startswith("| `strategies.<s>.segments.<g>.<metric>`"))
    columns = row.split("|")[2].split("): ", 1)[1].split("(`clmsim")[0]
    assert re.findall(r"`(\w+)`", columns) == list(SEGMENT_RUN_COLUMNS)


def test_segmented_report_figures_show_each_segment_or_the_weighted_cohort():
    """textbook_zh: the heatmap has one panel per segment (never the first segment alone), the stage
    flows are the population-weighted cohort. Oracle: ``sum_g mix_g (P_g^m)[entry, lost]`` per
    segment matrix, by hand."""
    from pathlib import Path

    from clmsim import compile_model, load_scenario
    from clmsim.model import LOST
    from clmsim.report import figures

    root = Path(__file__).resolve().parents[1]
    m = compile_model(load_scenario(root / "scenarios" / "textbook_zh.yaml"), "baseline")
    heat = figures.heatmap_figure(m)
    titles = [ax.get_title() for ax in heat.figure.axes if ax.images]
    assert len(titles) == m.n_segments == 4
    assert all(g in t for g, t in zip(m.segment_names, titles))
    assert set(heat.data["segment"]) == set(m.segment_names)
    flows = figures.flows_figure(m)
    assert "weighted" in flows.title and "weighted" in flows.figure.axes[0].get_title()
    entry, lost = figures.entry_stage(m), int(np.flatnonzero(m.stage_kind == LOST)[0])
    mix = np.asarray(m.channels[0].mix) / np.sum(m.channels[0].mix)
    step = int(flows.data["to_snapshot"].iloc[0].split()[0])
    expected = 10_000 * sum(mix[g] * np.linalg.matrix_power(figures.baseline_matrix(m, g), step)[entry, lost]
                            for g in range(m.n_segments))
    d = flows.data
    first = d[(d["from_snapshot"] == "joined") & (d["to"] == m.stage_names[lost])]["customers"].sum()
    assert first == pytest.approx(expected, rel=1e-12)
