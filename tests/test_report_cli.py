"""`clmsim report RUN_DIR` and `clmsim demo`: end to end through the CLI entry point."""

import matplotlib

matplotlib.use("Agg")

from html.parser import HTMLParser  # noqa: E402
from pathlib import Path  # noqa: E402

import pytest  # noqa: E402

from clmsim import api  # noqa: E402
from clmsim.cli import main  # noqa: E402
from clmsim.cli.demo import run_demo, with_fallback  # noqa: E402
from clmsim.scenario.demo_plan import load_demo_plan  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
REF = ROOT / "scenarios" / "reference" / "winback.yaml"


def images(path: Path) -> list[str]:
    found = []

    class P(HTMLParser):
        def handle_starttag(self, tag, attrs):
            if tag == "img":
                found.append(dict(attrs)["src"])

    P().feed(path.read_text(encoding="utf-8"))
    return found


def test_report_command_on_a_run_directory(tmp_path, capsys):
    res = api.simulate(REF, engine="fast", runs=6, seed=3, mode="counts")
    res.to_parquet(tmp_path / "run")
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep")]) == 0
    out = tmp_path / "rep" / "report.html"
    assert capsys.readouterr().out.strip() == f"wrote {out}"
    srcs = images(out)
    assert srcs and all(s.startswith("data:image/png;base64,") for s in srcs)
    html = out.read_text(encoding="utf-8")
    # the path in the provenance is never opened (only files the user names are read)
    assert "reference-winback" in html and "Resolved scenario" not in html
    assert main(["report", str(tmp_path / "run"), "--out", str(tmp_path / "rep2"), "--scenario", str(REF)]) == 0
    assert "Resolved scenario" in (tmp_path / "rep2" / "report.html").read_text(encoding="utf-8")


def test_report_command_bad_directory_is_exit_2_with_message(tmp_path, capsys):
    assert main(["report", str(tmp_path / "nope")]) == 2
    assert "run directory not found" in capsys.readouterr().err
    (tmp_path / "empty").mkdir()
    assert main(["report", str(tmp_path / "empty")]) == 2
    assert "holds no results" in capsys.readouterr().err


def test_report_command_refuses_a_different_scenario(tmp_path, capsys):
    api.simulate(REF, engine="fast", runs=3, seed=3, mode="counts").to_parquet(tmp_path / "run")
    other = ROOT / "scenarios" / "reference" / "geometric.yaml"
    assert main(["report", str(tmp_path / "run"), "--scenario", str(other)]) == 2
    assert "is not the scenario of these results" in capsys.readouterr().err


def test_demo_bad_arguments_are_exit_2(capsys):
    assert main(["demo", "--runs", "1"]) == 2
    assert "--runs must be at least 2" in capsys.readouterr().err
    assert main(["demo", "--scenario", "no/such.yaml"]) == 2
    assert "scenario file not found" in capsys.readouterr().err


@pytest.mark.slow
def test_demo_small_plan_writes_report_with_every_section(tmp_path):
    lines = []
    plan = load_demo_plan(**{"scenario": str(ROOT / "scenarios" / "telecom.yaml"), "out": str(tmp_path / "demo"),
                             "simulate.runs": 2, "simulate.cohort": 300, "sweep.levels": [0.0, 10.0, 20.0],
                             "sensitivity.uncertain": ["transitions.at_risk.churned", "stages.loyal.revenue.mean"],
                             "sensitivity.samples": 4, "sensitivity.sobol_samples": 4})
    outcome = run_demo(plan, echo=lines.append)
    assert outcome.report.exists()
    keys = {p.stem for p in outcome.report.parent.glob("*.png")}
    assert {"compare_npv", "cumulative", "margins", "sweep", "ranking", "tornado", "sobol", "occupancy", "clv",
            "survival", "transitions", "flows"} <= keys
    assert len(images(outcome.report)) == len(keys)
    first = outcome.text.splitlines()
    assert first[0].startswith("What to do: ") and first[1].startswith("The next unit of spend goes to ")
    assert any(line.split()[:3] == ["strategy", "NPV", "spend"] for line in first)
    assert any("save_offer_risk_same_budget against save_offer_all: same spend, NPV" in line for line in first)
    assert "Targeted vs untargeted save offers (against save_offer_all)" in outcome.report.read_text(encoding="utf-8")
    assert all(not m.startswith(("decide", "margins", "simulate", "sweep", "how sure")) for m in outcome.missing)
    assert (tmp_path / "demo" / "sweep-experiment.yaml").exists()
    assert any(line.startswith("[decide] done") for line in lines)


def test_report_of_a_compare_directory_says_what_is_missing(tmp_path, capsys):
    assert main(["compare", str(REF), "--runs", "5", "--seed", "2", "--mode", "counts",
                 "--out", str(tmp_path / "cmp")]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "cmp")]) == 0
    html = (tmp_path / "cmp" / "report.html").read_text(encoding="utf-8")
    assert "Headline numbers" in html and "Customers by stage" in html  # compare --out keeps the periods
    assert "spend, ROI and payback over 5 batches of runs" in html      # ... and the batch paths


def test_report_of_a_sweep_directory_plots_npv_along_the_lever(tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    exp.write_text(f"name: small\nscenario: {REF}\nstrategies: [baseline]\n"
                   "levers:\n  winback.policies.offer.coverage: [0, 0.5, 1]\n"
                   "runs: 4\nseed: 1\nengine: fast\nmode: counts\n")
    assert main(["sweep", str(exp), "--out", str(tmp_path / "sw"), "--backend", "serial"]) == 0
    capsys.readouterr()
    assert main(["report", str(tmp_path / "sw")]) == 0
    table = __import__("pandas").read_csv(tmp_path / "sw" / "sweep_table.csv")
    assert list(table["winback__policies__offer__coverage"]) == [0, 0.5, 1]  # identifier column (docs/analysis.md)
    html = (tmp_path / "sw" / "report.html").read_text(encoding="utf-8")
    assert "NPV along offer: coverage" in html and len(images(tmp_path / "sw" / "report.html")) == 1


def test_demo_falls_back_to_monte_carlo_when_the_exact_engine_refuses():
    from clmsim.errors import UnsupportedFeature

    def step(engine):
        if engine == "analytic":
            raise UnsupportedFeature("analytic", "program budget caps", "the fast or des engine")
        return engine

    missing = []
    assert with_fallback(step, missing, "sweep") == ("fast", "fast")
    assert missing and "program budget caps" in missing[0] and "Monte Carlo" in missing[0]


def test_report_of_analytic_results_shows_exact_survival_and_no_win_shares(tmp_path, capsys):
    api.simulate(REF, engine="analytic").to_parquet(tmp_path / "an")
    assert main(["report", str(tmp_path / "an"), "--scenario", str(REF)]) == 0
    surv = __import__("pandas").read_csv(tmp_path / "an" / "survival.csv")
    # oracle: one active stage, churn 0.2, win-back returns -> survival(1) = 0.8 (no contact before age 1)
    assert surv["analytic"].iloc[0] == 1.0 and abs(surv["analytic"].iloc[1] - 0.8) < 1e-12
    table = (tmp_path / "an" / "report.html").read_text(encoding="utf-8")
    assert "exact" in table


def test_chinese_stage_names_render_with_an_installed_cjk_font(tmp_path, recwarn):
    from clmsim.plots.style import find_cjk_font

    if find_cjk_font() is None:
        pytest.skip("no CJK font installed (Debian: apt-get install fonts-noto-cjk); clmsim warns once instead")
    zh = ROOT / "scenarios" / "textbook_zh.yaml"
    api.simulate(zh, engine="fast", runs=3, seed=1, mode="counts").to_parquet(tmp_path / "zh")
    assert main(["report", str(tmp_path / "zh"), "--scenario", str(zh)]) == 0
    glyphs = [w for w in recwarn if "missing from" in str(w.message) or "Glyph" in str(w.message)]
    assert glyphs == []  # matplotlib warns "Glyph ... missing from font(s)" when a character has no font
    assert "考察期" in (tmp_path / "zh" / "report.html").read_text(encoding="utf-8")


def test_demo_plan_is_package_data_read_by_the_scenario_package(tmp_path):
    import tomllib
    from importlib import resources

    from clmsim.scenario import ScenarioError

    shipped = resources.files("clmsim").joinpath("data", "demo.yaml")
    assert shipped.is_file()
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert "data/*.yaml" in pyproject["tool"]["setuptools"]["package-data"]["clmsim"]  # non-editable installs
    plan = load_demo_plan()
    assert plan.scenario == "scenarios/telecom.yaml" and plan.sweep.lever and plan.sensitivity.uncertain
    # the demo's code holds no scenario specifics: they are in the plan
    code = (ROOT / "clmsim" / "cli" / "demo.py").read_text(encoding="utf-8")
    for word in ("telecom", "save_desk", "at_risk", "declining", "search"):
        assert word not in code, word
    # a user plan is merged over the shipped one; its problems are located in its file
    user = tmp_path / "plan.yaml"
    user.write_text("simulate:\n  runs: 5\nsweep:\n  levels: [1]\n", encoding="utf-8")
    with pytest.raises(ScenarioError, match=r"plan\.yaml:4:\d+: sweep\.levels"):
        load_demo_plan(user)
    user.write_text("simulate:\n  runs: 5\n", encoding="utf-8")
    merged = load_demo_plan(user)
    assert merged.simulate.runs == 5 and merged.simulate.mode == "individual" and merged.seed == 2026


def test_report_of_a_sweep_with_periods_draws_the_difference_and_the_return_of_each_step(tmp_path, capsys):
    exp = tmp_path / "exp.yaml"
    seg = ROOT / "scenarios" / "reference" / "segments.yaml"
    exp.write_text(f"name: steps\nscenario: {seg}\nstrategies: [baseline, no_program]\n"
                   "levers:\n  acquisition.channels.partners.spend_per_period: [0, 20000, 40000, 60000]\n"
                   "runs: 1\nseed: 1\nengine: analytic\nperiods: true\n")
    assert main(["sweep", str(exp), "--out", str(tmp_path / "sw"), "--backend", "serial", "--report"]) == 0
    capsys.readouterr()
    keys = {p.stem for p in (tmp_path / "sw").glob("*.png")}
    assert {"sweep_npv", "sweep_diff", "sweep_steps"} <= keys
    steps = __import__("pandas").read_csv(tmp_path / "sw" / "sweep_steps.csv")
    assert list(steps["x_hi"]) == [20000, 40000, 60000]    # one return per step between neighbouring levels
    assert (steps["roi"].diff().dropna() < 0).all()        # a saturating channel: each step returns less


def test_demo_sweep_step_starts_afresh_when_the_scenario_changed_and_resumes_otherwise(tmp_path):
    """The demo owns results/demo/sweep: rerunning it after an edit of the scenario must not
    refuse ("holds a different sweep") nor reuse old chunks; an unchanged rerun resumes."""
    from clmsim.cli.demo import sweep_levels
    from clmsim.scenario import load_scenario

    plan = load_demo_plan()
    path = tmp_path / "telecom.yaml"
    text = (ROOT / "scenarios" / "telecom.yaml").read_text(encoding="utf-8")
    path.write_text(text, encoding="utf-8")
    base = load_scenario(path)
    first, _ = sweep_levels(plan, base, tmp_path, "analytic")
    chunk = next((tmp_path / "sweep" / "chunks").iterdir())
    stamp = chunk.stat().st_mtime_ns
    again, _ = sweep_levels(plan, base, tmp_path, "analytic")           # unchanged: chunks reused
    assert chunk.exists() and chunk.stat().st_mtime_ns == stamp
    assert again["npv"].tolist() == first["npv"].tolist()
    marker = "margin: 0.62"                                              # the loyal stage's margin
    assert text.count(marker) == 1
    path.write_text(text.replace(marker, "margin: 0.5"), encoding="utf-8")   # the user edits the file
    changed, _ = sweep_levels(plan, load_scenario(path), tmp_path, "analytic")   # recomputed
    assert (changed["npv"] < first["npv"]).all()
