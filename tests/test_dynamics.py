"""Schedules and seasonality on transition probabilities, revenue means and margins.

Oracles: closed forms (survival ``prod (1 - p_t)`` of an alternating churn; the geometric CLV
of a periodic chain by the cycle formula), the analytic engine (exact) for the fast engine in
both modes and the des engine on ``scenarios/reference/seasonal_retailer.yaml``, plain numbers
(a constant written as a schedule gives the same bits) and digests of main's fast results
computed before regimes existed (a scenario without schedules gives the same bits).
"""

from __future__ import annotations

import hashlib
import textwrap
from pathlib import Path

import numpy as np
import pytest

from clmsim import compile_model, load_scenario, scenario_from_text
from clmsim.engines import analytic, des, fast
from clmsim.errors import ClmsimError, UnsupportedFeature
from clmsim.scenario import ScenarioError
from fast_helpers import Z999, digest

ROOT = Path(__file__).resolve().parents[1]
SEASONAL = ROOT / "scenarios" / "reference" / "seasonal_retailer.yaml"

ALTERNATING = """
schema_version: 1
name: alternating
time: {{period: month, horizon: {H}, discount_rate: 0.12}}
stages:
  a: {{kind: active, revenue: 10}}
  gone: {{kind: lost}}
transitions:
  a: {{gone: {churn}}}
initial_population: {{a: 1000}}
"""


def model(text: str, strategy: str = "baseline"):
    return compile_model(scenario_from_text(textwrap.dedent(text)), strategy)


def stage_means(results, stage: str) -> np.ndarray:
    p = results.periods
    return p[p["item"] == f"stage:{stage}"].sort_values("period")["mean"].to_numpy()


# ----------------------------------------------------------------- validation
def test_row_sum_checked_in_every_period_of_the_cycle_with_its_location():
    text = textwrap.dedent("""
        schema_version: 1
        name: bad
        time: {horizon: 6}
        stages:
          a: {kind: active, revenue: 1}
          b: {kind: active, revenue: 1}
          c: {kind: churned}
        transitions:
          a:
            b: 0.4
            c: {base: 0.5, seasonality: {period: 12, multipliers: [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1.36]}}
          b: {c: {values: [0.2, 1.3]}}
        segments:
          x: {share: 0.5, transitions: {a: {c: {base: 0.1, seasonality: {period: 3, multipliers: [1, 1]}}}}}
          y: {share: 0.5, stages: {a: {margin: {ramp: {start: 0.5, end: 1.5, periods: 3}}}}}
        """)
    with pytest.raises(ScenarioError) as exc:
        scenario_from_text(text, "bad.yaml")
    msg = str(exc.value)
    # the period past the horizon counts too (period 12 of a 6-period horizon): values for ever use it
    assert "bad.yaml:10:3: " in msg and "transitions.a: in period 12 the row sums to 1.08 > 1" in msg
    assert "transitions.b.c: in period 2 the probability is 1.3 > 1" in msg
    assert "segments.x.transitions.a.c.seasonality.multipliers: a cycle of period 3 needs exactly 3" in msg
    assert "segments.y.stages.a.margin: in period 3 the margin is 1.5 > 1" in msg


def test_a_strategy_overlay_is_checked_in_every_period():
    text = textwrap.dedent("""
        schema_version: 1
        name: overlay
        time: {horizon: 6}
        stages:
          a: {kind: active, revenue: 1}
          b: {kind: active, revenue: 1}
          gone: {kind: lost}
        transitions:
          a: {gone: {base: 0.5, seasonality: {period: 2, multipliers: [1, 1.2]}}}
        strategies:
          push: {transitions.a.b: {values: [0.4, 0.5], then: repeat}}
        """)
    with pytest.raises(ScenarioError) as exc:
        scenario_from_text(text, "s.yaml")
    msg = str(exc.value)
    assert "s.yaml:12:3: strategies.push.transitions.a:" in msg and "in period 2 the row sums to 1.1 > 1" in msg and "period 1" not in msg


def test_bad_shapes_are_refused_with_exit_code_2(tmp_path, capsys):
    from clmsim.cli import main

    path = tmp_path / "s.yaml"
    path.write_text(textwrap.dedent("""
        schema_version: 1
        name: shapes
        time: {horizon: 6}
        stages:
          a: {kind: active, revenue: {mean: {base: 10, seasonality: {period: 2, multipliers: [1, -1]}}}}
          c: {kind: churned}
        transitions:
          a: {c: {base: 0.1, seasonality: {period: 2, multipliers: [1, 1], phase: 3}}}
        """))
    assert main(["validate", str(path)]) == 2
    err = capsys.readouterr().err
    assert "s.yaml:6:" in err and "stages.a.revenue.mean.seasonality.multipliers.1" in err
    assert "transitions.a.c.seasonality.phase: phase is the index of period 1's multiplier, 1..2, got 3" in err


# ---------------------------------------------------------------- closed forms
def test_alternating_churn_survival_is_the_product_in_the_analytic_engine():
    p = np.array([0.1, 0.3])
    m = model(ALTERNATING.format(H=7, churn="{values: [0.1, 0.3], then: repeat}"))
    res = analytic.simulate([m], runs=1, seed=None)
    survival = np.cumprod(np.concatenate([[1.0], 1 - p[np.arange(7) % 2]]))
    np.testing.assert_allclose(stage_means(res, "a"), 1000 * survival, rtol=1e-13)


@pytest.mark.parametrize("H", [5, 6])
def test_clv_of_a_periodic_chain_by_the_cycle_formula(H):
    """CLV for ever from time 0: W = b / (1 - v^2 (1-p1)(1-p2)), b the discounted cash of one
    cycle; the horizon's parity shifts the phase at which the tail starts, not the value."""
    m = model(ALTERNATING.format(H=H, churn="{values: [0.1, 0.3], then: repeat}"))
    clv = analytic.simulate([m], runs=1, seed=None).clv
    row = clv[clv["stage"] == "a"].iloc[0]
    v = 1 / (1 + m.discount_rate)
    s1, s2 = 0.9, 0.9 * 0.7
    b = 10 * (v * s1 + v ** 2 * s2)
    assert row["clv_infinite"] == pytest.approx(b / (1 - v ** 2 * s2), rel=1e-12)
    assert row["lifetime"] == pytest.approx(1 + (s1 + s2) / (1 - s2), rel=1e-12)
    assert np.isnan(row["steady_share"])   # a cycling mix has no single steady state


def test_ramp_past_the_horizon_continues_then_holds():
    """A ramp from 0.1 to 0.4 over 10 periods, horizon 3: the value for ever follows the ramp
    to its end and holds 0.4 (geometric tail), not period 3's value."""
    m = model(ALTERNATING.format(H=3, churn="{ramp: {start: 0.1, end: 0.4, periods: 10}}"))
    row = analytic.simulate([m], runs=1, seed=None).clv.query("stage == 'a'").iloc[0]
    v = 1 / (1 + m.discount_rate)
    p = np.linspace(0.1, 0.4, 10)
    surv = np.cumprod(1 - p)
    value = 10 * (np.sum(v ** np.arange(1, 11) * surv) + v ** 10 * surv[-1] * v * 0.6 / (1 - v * 0.6))
    assert row["clv_infinite"] == pytest.approx(value, rel=1e-12)


def test_explain_refuses_scheduled_dynamics_naming_the_field():
    m = model(ALTERNATING.format(H=4, churn="{values: [0.1, 0.3], then: repeat}"))
    from clmsim.explain import explain_model

    with pytest.raises(UnsupportedFeature, match="transitions.a.gone"):
        explain_model(m)


# ------------------------------------------------------------ bits unchanged
CONSTANT_FORMS = ["{values: [0.2]}", "{ramp: {start: 0.2, end: 0.2, periods: 5}}",
                  "{base: 0.2, seasonality: {period: 3, multipliers: [1, 1, 1]}}"]
PLAIN = """
schema_version: 1
name: plain
time: {{period: month, horizon: 12, discount_rate: 0.1}}
stages:
  new: {{kind: active, revenue: {{mean: {rev}, cv: 0.4}}, margin: {margin}}}
  loyal: {{kind: active, revenue: 30, margin: 0.5}}
  lapsed: {{kind: churned}}
  gone: {{kind: lost}}
transitions:
  new: {{loyal: 0.3, lapsed: {churn}}}
  loyal: {{lapsed: 0.05}}
  lapsed: {{new: 0.1, gone: 0.2}}
heterogeneity: {het}
initial_population: {{new: 400, loyal: 300}}
"""


@pytest.mark.parametrize("form", CONSTANT_FORMS)
@pytest.mark.parametrize("het", ["null", "{churn_multiplier: {dist: gamma, mean: 1.0, cv: 0.5}}"])
def test_a_constant_schedule_gives_the_bits_of_the_plain_number(form, het):
    plain = model(PLAIN.format(rev=20, margin=0.4, churn=0.2, het=het))
    sched = model(PLAIN.format(rev=form.replace("0.2", "20"), margin=form.replace("0.2", "0.4"), churn=form,
                               het=het))
    assert sched.dynamics is None and sched.n_regimes == 1
    for mode in ("individual", "counts"):
        a = fast.simulate([plain], runs=3, seed=5, mode=mode, threads=1)
        b = fast.simulate([sched], runs=3, seed=5, mode=mode, threads=1)
        assert digest(a) == digest(b), mode
    assert digest(analytic.simulate([plain], runs=1, seed=None)) == digest(analytic.simulate([sched], runs=1,
                                                                                               seed=None))


MAIN_DIGESTS = {
    ("scenarios/telecom.yaml", "individual"): "f30319707c1adb82fd42335b6835661b",
    ("scenarios/telecom.yaml", "counts"): "a3e0d71d81966b28d39d48a1a587f8ca",
    ("scenarios/textbook.yaml", "individual"): "aedc39d6f829748ccdb885d873a12b76",
    ("scenarios/textbook.yaml", "counts"): "a1ea616637a705f2f0db3e24a68faab3",
}
"""Fast results (first two strategies, 12 months, 3 runs, seed 20261202, one thread) computed
with the code of main before scheduled dynamics existed (commit 47c9def), by :func:`main_digest`."""


def main_digest(path: str, mode: str) -> str:
    sc = load_scenario(ROOT / path, overrides=["time.horizon=12"])
    models = [compile_model(sc, s) for s in sc.strategy_names[:2]]
    res = fast.simulate(models, runs=3, seed=20261202, mode=mode, threads=1)
    h = hashlib.sha256()
    for df in (res.runs, res.periods):
        num = df.select_dtypes(include=[np.number])
        h.update(",".join(num.columns).encode())
        h.update(np.ascontiguousarray(num.to_numpy(dtype=float)).tobytes())
    return h.hexdigest()[:32]


@pytest.mark.parametrize("path,mode", list(MAIN_DIGESTS))
def test_library_scenario_fast_results_equal_mains_bit_for_bit(path, mode):
    assert main_digest(path, mode) == MAIN_DIGESTS[(path, mode)]


# ------------------------------------------------------- engines on the seasonal scenario
@pytest.fixture(scope="module")
def seasonal_exact():
    return analytic.simulate([compile_model(load_scenario(SEASONAL))], runs=1, seed=None)


def _agree(exact, res, runs: int, label: str):
    H = 24
    npv = res.runs["npv"].to_numpy()
    target = float(exact.runs["npv"].iloc[0])
    assert abs(npv.mean() - target) <= Z999 * npv.std(ddof=1) / np.sqrt(runs), (label, npv.mean(), target)
    ep = exact.periods.set_index(["item", "period"])["mean"]
    mp = res.periods.set_index(["item", "period"])
    for item in ("stage:new", "stage:regular", "stage:lapsed", "revenue", "contribution"):
        for t in range(1, H + 1):
            row = mp.loc[(item, t)]
            bound = Z999 * row["sd"] / np.sqrt(runs) + 1e-9 * max(1.0, abs(ep.loc[(item, t)]))
            assert abs(row["mean"] - ep.loc[(item, t)]) <= bound, (label, item, t, row["mean"], ep.loc[(item, t)])


@pytest.mark.parametrize("mode", ["individual", "counts"])
def test_seasonal_retailer_fast_within_999_interval_of_analytic(seasonal_exact, mode):
    m = compile_model(load_scenario(SEASONAL))
    assert m.dynamics is not None and m.dynamics.cycle == 12
    runs = 200
    _agree(seasonal_exact, fast.simulate([m], runs=runs, seed=17, mode=mode), runs, mode)


def test_seasonal_retailer_des_within_999_interval_of_analytic(seasonal_exact):
    runs = 40
    _agree(seasonal_exact, des.simulate([compile_model(load_scenario(SEASONAL))], runs=runs, seed=29), runs, "des")


def test_seasonal_retailer_peaks_in_november_december(seasonal_exact):
    rev = seasonal_exact.periods.query("item == 'revenue'").sort_values("period")["mean"].to_numpy()
    # phase 7: period 1 is July, so November-December are periods 5-6 and 17-18
    assert rev[[4, 5]].min() > 1.3 * rev[[2, 3]].max()
    assert rev[[16, 17]].min() > 1.3 * rev[[14, 15]].max()


# ------------------------------------------------------------ heterogeneity rule
BETA = """
schema_version: 1
name: beta-seasonal
time: {{period: quarter, horizon: 8, discount_rate: 0.08}}
stages:
  a: {{kind: active, revenue: {{base: 100, seasonality: {{period: 4, multipliers: [1, 1, 1, 1.5]}}}}}}
  gone: {{kind: lost}}
transitions:
  a: {{gone: {churn}}}
heterogeneity:
  churn_probability: {{dist: beta, alpha: 2.0, beta: 6.0}}
initial_population: {{a: 2000}}
"""


def test_beta_draw_follows_the_churn_schedule_relative_to_its_base():
    """A customer's churn probability theta ~ Beta(2, 6) is scaled by p_t / base (here 1, 1,
    2, 0.5 per quarter): survival ``E[prod (1 - min(theta f_t, 1))]`` -- exact by quadrature in the
    analytic engine (checked against a fine midpoint rule), matched by fast (both modes) and des."""
    from scipy import stats

    m = model(BETA.format(churn="{base: 0.25, seasonality: {period: 4, multipliers: [1, 1, 2, 0.5]}}"))
    ex = analytic.simulate([m], runs=1, seed=None)
    f = np.array([1, 1, 2, 0.5] * 2)
    x = (np.arange(200_000) + 0.5) / 200_000
    w = stats.beta(2, 6).pdf(x) / 200_000
    surv = [(w * np.prod(1 - np.minimum(x[:, None] * f[None, :t], 1.0), axis=1)).sum() for t in range(9)]
    np.testing.assert_allclose(stage_means(ex, "a"), 2000 * np.array(surv), rtol=1e-7)
    for engine, runs, kw in (("fast", 300, {"mode": "individual"}), ("fast", 300, {"mode": "counts"}),
                             ("des", 60, {})):
        res = (fast if engine == "fast" else des).simulate([m], runs=runs, seed=3, **kw)
        mp = res.periods.set_index(["item", "period"])
        for t in range(1, 9):
            row = mp.loc[("stage:a", t)]
            assert abs(row["mean"] - 2000 * surv[t]) <= Z999 * row["sd"] / np.sqrt(runs) + 1e-9, (engine, kw, t)


def test_beta_heterogeneity_refuses_a_schedule_with_zero_base():
    with pytest.raises(ClmsimError, match="positive base"):
        model(BETA.format(churn="{values: [0, 0.2]}"))


# ---------------------------------------------------------- overlays and --set
def test_strategy_overlay_and_set_path_reach_into_a_schedule():
    """Strategies and ``--set`` address a schedule as any value: a dotted path replaces what it
    names -- one field of the schedule, or the whole value."""
    text = ALTERNATING.format(H=6, churn="{base: 0.1, seasonality: {period: 2, multipliers: [1, 3]}}") + \
        "strategies:\n  calmer: {transitions.a.gone.base: 0.05}\n  flat: {transitions.a.gone: 0.2}\n"
    sc = scenario_from_text(textwrap.dedent(text))
    calmer = compile_model(sc, "calmer")
    np.testing.assert_allclose(calmer.dynamics.P[calmer.regime_of()[:2], 0, 0, 1], [0.05, 0.15])
    assert compile_model(sc, "flat").dynamics is None      # a number replaces the schedule
    over = scenario_from_text(textwrap.dedent(text), overrides=["transitions.a.gone.seasonality.multipliers=[2, 1]"])
    m = compile_model(over)
    np.testing.assert_allclose(m.dynamics.P[m.regime_of()[:2], 0, 0, 1], [0.2, 0.1])
