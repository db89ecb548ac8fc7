"""The des engine (operations off) against closed forms, the analytic engine and the fast engine.

Statistical checks use tolerances from the standard error across runs:
``|mean - exact| < 4.5 se`` (about 99.9993% two-sided for one check, so the
~100 checks here stay above 99.9% jointly), never a pinned random number.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from scipy import special, stats

from clmsim.engines import des
from clmsim.errors import UnsupportedFeature
from clmsim.model import compile_model
from clmsim.scenario import load_scenario, scenario_from_text

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
REFERENCE = sorted(p for p in (ROOT / "reference").glob("*.yaml") if not p.name.startswith("ops_"))
Z = 4.5
COMPARED = ("npv", "revenue", "contribution", "acquisition_spend", "retention_spend", "winback_spend",
            "acquired", "referred", "churned", "won_back", "contacts", "active_end", "clv_acquired")


def model_of(path, *overrides, strategy="baseline"):
    return compile_model(load_scenario(path, overrides), strategy)


def assert_mean(sample: np.ndarray, exact: float, what: str) -> None:
    sample = np.asarray(sample, dtype=float)
    se = sample.std(ddof=1) / np.sqrt(len(sample))
    tol = Z * se + 1e-9 * max(1.0, abs(exact))
    assert abs(sample.mean() - exact) <= tol, f"{what}: des mean {sample.mean():.6g} vs {exact:.6g} (se {se:.3g})"


# ----------------------------------------------------------------- closed forms
def test_npv_matches_geometric_series_closed_form():
    # E[NPV] = N m sum_t (r v)^t, m = 100*0.3 - 5, r = 0.8, d = 10%/year
    res = des.simulate([model_of(ROOT / "reference" / "geometric.yaml")], runs=40, seed=11)
    N, m, r, d, H = 1000, 25.0, 0.8, 0.10, 30
    assert_mean(res.runs["npv"], N * m * sum((r / (1 + d)) ** t for t in range(1, H + 1)), "npv")
    occ = res.periods[res.periods["item"] == "stage:customer"].set_index("period")
    for t in (1, 5, 10):
        se = occ.loc[t, "sd"] / np.sqrt(40)
        assert abs(occ.loc[t, "mean"] - N * r ** t) <= Z * se


def test_retention_curve_matches_shifted_beta_geometric_closed_form():
    # churn probability theta ~ Beta(a, b) per customer: S(t) = B(a, b + t) / B(a, b)
    text = """
schema_version: 1
name: sbg
time: {period: year, horizon: 8}
stages:
  member: {kind: active, revenue: 1}
  lost: {kind: lost}
transitions:
  member: {lost: 0.5}
heterogeneity:
  churn_probability: {dist: beta, alpha: 0.7, beta: 2.1}
initial_population: {member: 5000}
"""
    res = des.simulate([compile_model(scenario_from_text(text))], runs=20, seed=3)
    occ = res.periods[res.periods["item"] == "stage:member"].set_index("period")
    a, b = 0.7, 2.1
    for t in range(1, 9):
        exact = 5000 * np.exp(special.betaln(a, b + t) - special.betaln(a, b))
        assert abs(occ.loc[t, "mean"] - exact) <= Z * occ.loc[t, "sd"] / np.sqrt(20), t


def test_winback_count_matches_geometric_age_closed_form():
    # N churned customers at age 0, coverage c, success p(k) = base decay^k, drift q to lost:
    # E[won back at age k] = N (1 - c base decay^j)... survivors s_k = prod_{j<k} (1 - c p_j)(1 - q)
    text = """
schema_version: 1
name: winback-ages
time: {period: month, horizon: 6}
stages:
  paying: {kind: active, revenue: 0}
  gone: {kind: churned}
  lost: {kind: lost}
transitions:
  gone: {lost: 0.2}
initial_population: {gone: 20000}
winback:
  policies:
    offer: {window: 4, coverage: 0.6, success: {base: 0.3, decay: 0.5}, return_stage: paying}
"""
    res = des.simulate([compile_model(scenario_from_text(text))], runs=10, seed=5)
    N, c, q = 20000, 0.6, 0.2
    alive, won = float(N), 0.0
    # initial churned customers count as churned at time 0: in period t their age is k = t - 1
    for k in range(4):
        p = 0.3 * 0.5 ** k
        won += alive * c * p
        alive *= (1 - c * p) * (1 - q)
    assert_mean(res.runs["won_back"], won, "won_back")
    assert_mean(res.runs["contacts"], N * c * sum(
        np.prod([(1 - c * 0.3 * 0.5 ** j) * (1 - q) for j in range(k)]) for k in range(4)), "contacts")


# --------------------------------------------------------- against the analytic engine
@pytest.mark.slow
@pytest.mark.parametrize("path", REFERENCE, ids=lambda p: p.stem)
def test_means_agree_with_analytic_engine_on_reference_scenarios(path):
    analytic = pytest.importorskip("clmsim.engines.analytic")
    model = model_of(path)
    try:
        exact = analytic.simulate([model], runs=1, seed=None).runs.iloc[0]
    except UnsupportedFeature:
        pytest.skip("the analytic engine refuses this scenario")
    runs = 40
    res = des.simulate([model], runs=runs, seed=2024)
    for col in COMPARED:
        if col == "clv_acquired" and not np.isfinite(exact[col]):
            continue
        assert_mean(res.runs[col], float(exact[col]), f"{path.stem}.{col}")
    # per-period occupancy at the horizon
    H = model.horizon
    exact_occ = analytic.simulate([model], runs=1, seed=None).periods
    for name in model.stage_names:
        e = exact_occ[(exact_occ["item"] == f"stage:{name}") & (exact_occ["period"] == H)]["mean"].iloc[0]
        d = res.periods[(res.periods["item"] == f"stage:{name}") & (res.periods["period"] == H)].iloc[0]
        sd = 0.0 if np.isnan(d["sd"]) else d["sd"]
        assert abs(d["mean"] - e) <= Z * sd / np.sqrt(runs) + 1e-9 * max(1.0, abs(e)), name


@pytest.fixture(scope="module")
def telecom12():
    """scenarios/telecom.yaml cut to 12 months (the test budget): 25 des runs."""
    model = model_of(ROOT / "telecom.yaml", "time.horizon=12")
    return model, des.simulate([model], runs=25, seed=77).runs


@pytest.mark.slow
def test_telecom_means_agree_with_analytic_engine(telecom12):
    analytic = pytest.importorskip("clmsim.engines.analytic")
    model, runs = telecom12
    exact = analytic.simulate([model], runs=1, seed=None).runs.iloc[0]
    for col in COMPARED:
        assert_mean(runs[col], float(exact[col]), f"telecom.{col}")


@pytest.mark.slow
def test_npv_distribution_matches_fast_engine_two_sample_ks_and_anderson_darling(telecom12):
    """Per-run NPV on scenarios/telecom.yaml (12 months): 25 des runs against 60 fast runs,
    two-sample Kolmogorov-Smirnov and k-sample Anderson-Darling, each at significance 0.001."""
    fast = pytest.importorskip("clmsim.engines.fast")
    model, runs = telecom12
    d = runs["npv"].to_numpy()
    f = fast.simulate([model], runs=60, seed=202, mode="individual").runs["npv"].to_numpy()
    assert stats.ks_2samp(d, f).pvalue > 0.001
    ad = stats.anderson_ksamp([d, f], variant="midrank",
                              method=stats.PermutationMethod(n_resamples=999, random_state=1))
    assert ad.pvalue > 0.001
    # the spread agrees too: variance ratio inside the F distribution's 99.9% band
    ratio = d.var(ddof=1) / f.var(ddof=1)
    lo, hi = stats.f.ppf([0.0005, 0.9995], len(d) - 1, len(f) - 1)
    assert lo < ratio < hi


# ------------------------------------------------------------------ reproducibility
SMALL = ROOT / "reference" / "winback.yaml"


def test_workers_give_bit_identical_results():
    model = model_of(SMALL)
    serial = des.simulate([model], runs=4, seed=9)
    parallel = des.simulate([model], runs=4, seed=9, workers=2)
    assert serial.runs.equals(parallel.runs)
    assert serial.periods.equals(parallel.periods)


def test_run_r_is_the_same_whatever_the_number_of_runs_and_strategies():
    base = model_of(SMALL)
    two = des.simulate([base], runs=2, seed=4).runs
    three = des.simulate([base, base], runs=3, seed=4).runs
    assert two.equals(three.iloc[:2].reset_index(drop=True))
    assert three.iloc[:3].drop(columns="strategy").reset_index(drop=True).equals(
        three.iloc[3:].drop(columns="strategy").reset_index(drop=True))


def test_common_random_numbers_make_strategy_differences_less_noisy():
    path = ROOT / "telecom.yaml"
    sc = load_scenario(path, ["time.horizon=6", "initial_population.loyal=6000",
                              "initial_population.growing=4000", "initial_population.new=2000",
                              "initial_population.declining=1500"])
    base, alt = compile_model(sc, "baseline"), compile_model(sc, "save_desk_x2")
    res = des.simulate([base, alt], runs=8, seed=12).runs
    a = res[res.strategy == "baseline"]["npv"].to_numpy()
    b = res[res.strategy == "save_desk_x2"]["npv"].to_numpy()
    assert np.std(a - b, ddof=1) < 0.5 * np.sqrt(np.var(a, ddof=1) + np.var(b, ddof=1))


@pytest.mark.slow
def test_capacity_and_budget_cap_means_agree_with_fast_engine():
    """Features the analytic engine refuses (win-back capacity, program budget cap): des and fast
    means agree within 4.5 standard errors of the difference (independent samples)."""
    fast = pytest.importorskip("clmsim.engines.fast")
    text = (ROOT / "reference" / "winback.yaml").read_text() + """
retention:
  programs:
    care:
      target: [member]
      spend_per_customer: 3
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 2}
      budget_cap_per_period: 1500
"""
    model = compile_model(scenario_from_text(text, overrides=["winback.policies.offer.capacity_per_period=20",
                                                              "time.horizon=24"]))
    d = des.simulate([model], runs=60, seed=5).runs
    f = fast.simulate([model], runs=300, seed=6, mode="individual").runs
    for col in ("npv", "retention_spend", "contacts", "won_back", "churned", "active_end"):
        se = np.sqrt(d[col].var(ddof=1) / len(d) + f[col].var(ddof=1) / len(f))
        assert abs(d[col].mean() - f[col].mean()) <= Z * se + 1e-9 * abs(f[col].mean()), col
    assert d["contacts"].max() <= 20 * 24


LIBRARY = sorted(ROOT.glob("*.yaml")) + sorted((ROOT / "reference").glob("*.yaml"))


@pytest.mark.parametrize("path", LIBRARY, ids=lambda p: p.stem)
def test_customers_are_conserved_exactly_on_every_scenario(path):
    """Oracle: bookkeeping. Customers at the end of period t = initial + everyone acquired or
    referred up to t (lost customers still count in their lost stage); won back <= contacts."""
    model = model_of(path, "time.horizon=4")
    res = des.simulate([model], runs=1, seed=3)
    p = res.periods
    occ = p[p["item"].str.startswith("stage:")].groupby("period")["mean"].sum()
    joined = (p[p["item"].isin(["acquired", "referred"])].groupby("period")["mean"].sum()
              .reindex(occ.index, fill_value=0).cumsum())
    np.testing.assert_array_equal(occ.to_numpy(), occ.iloc[0] + joined.to_numpy())
    row = res.runs.iloc[0]
    assert row["won_back"] <= row["contacts"] and row["churned"] >= 0
    assert row["npv"] == pytest.approx(
        (p[p["item"] == "discounted_net_cash"]["mean"]).sum(), rel=1e-12, abs=1e-6)
