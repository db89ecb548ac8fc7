"""Fast engine, counts mode: discretised heterogeneity, agreement with individual mode,
mode choice, common random numbers. (Closed-form checks of both modes: test_fast.py.)"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import special, stats

from clmsim.engines import fast
from fast_helpers import GAMMA_CV08, Z999, assert_periods_close, model_from_yaml, one_stage

FEATURES = """
schema_version: 1
name: features
time: {period: month, horizon: 24, discount_rate: 0.1}
stages:
  prospect: {kind: prospect}
  new:       {kind: active, revenue: {mean: 45, cv: 0.3}, margin: 0.55, cost_to_serve: 4}
  loyal:     {kind: active, revenue: {mean: 75, cv: 0.25}, margin: 0.62, cost_to_serve: 2}
  declining: {kind: active, revenue: {mean: 40, cv: 0.4}, margin: 0.5, cost_to_serve: 5}
  churned:   {kind: churned}
  lost:      {kind: lost}
transitions:
  prospect:  {new: 0.3, lost: 0.1}
  new:       {loyal: 0.1, declining: 0.04, churned: 0.05}
  loyal:     {declining: 0.03, churned: 0.01}
  declining: {loyal: 0.05, churned: 0.12}
  churned:   {lost: 0.25}
segments:
  small: {share: 0.6, transitions: {new: {churned: 0.08}}}
  big:   {share: 0.4, stages: {loyal: {revenue: {mean: 120, cv: 0.3}}}}
initial_population: {new: 800, loyal: 1500, declining: 400, churned: 200}
acquisition:
  channels:
    search:
      spend_per_period: 20000
      response: {type: saturating, max_customers: 150, half_saturation_spend: 15000}
      entry_stage: new
    events:
      spend_per_period: 5000
      response: {type: linear, cost_per_customer: 100}
      entry_stage: prospect
      segment_mix: {big: 1.0}
  referrals: {from: {loyal: 0.01}, entry_stage: new}
retention:
  programs:
    onboarding:
      target: [new]
      spend_per_customer: 6
      effect: {churn_reduction_max: 0.5, half_saturation_spend: 5, upgrade_lift: 0.3}
    save_desk:
      target: [declining]
      spend_per_customer: 12
      effect: {churn_reduction_max: 0.4, half_saturation_spend: 10}
      budget_cap_per_period: 2500
winback:
  policies:
    offer:
      eligible_after: 1
      window: 4
      coverage: 0.7
      contact_cost: 8
      success: {base: 0.2, decay: 0.75}
      return_stage: new
      concession: {discount: 0.25, periods: 3}
      capacity_per_period: 40
strategies:
  baseline: {}
  no_save_desk: {retention.programs.save_desk.spend_per_customer: 0}
"""

METRICS = ("npv", "revenue", "contribution", "retention_spend", "winback_spend", "churned", "won_back",
           "contacts", "active_end", "clv_acquired", "referred")


def test_modes_agree_in_mean_and_run_to_run_sd_on_every_feature():
    model = model_from_yaml(FEATURES)
    R = 300
    ind = fast.simulate([model], runs=R, seed=5, mode="individual").runs
    cnt = fast.simulate([model], runs=R, seed=6, mode="counts").runs
    assert_same_law(ind, cnt)


def assert_same_law(x, y):
    """Means within Z999 standard errors and run-to-run sd within Z999 se of the log sd ratio
    (two samples of R: se ~ sqrt(1/(R-1)) for near-normal totals), for every metric."""
    R = len(x)
    for col in METRICS:
        a, b = x[col].to_numpy(), y[col].to_numpy()
        se = np.sqrt(a.var(ddof=1) / R + b.var(ddof=1) / R)
        assert abs(a.mean() - b.mean()) < Z999 * se + 1e-9, col
        if a.std() > 0:
            assert abs(np.log(a.std(ddof=1) / b.std(ddof=1))) < Z999 * np.sqrt(1.0 / (R - 1)), col


def test_modes_agree_per_period_occupancy():
    model = model_from_yaml(FEATURES)
    R = 200
    ind = fast.simulate([model], runs=R, seed=8, mode="individual")
    cnt = fast.simulate([model], runs=R, seed=9, mode="counts")
    for name in model.stage_names:
        a, b = ind.periods, cnt.periods
        a = a[(a["item"] == f"stage:{name}") & (a["strategy"] == "baseline")].sort_values("period")
        b = b[(b["item"] == f"stage:{name}") & (b["strategy"] == "baseline")].sort_values("period")
        se = np.sqrt((a["sd"].to_numpy() ** 2 + b["sd"].to_numpy() ** 2) / R)
        diff = np.abs(a["mean"].to_numpy() - b["mean"].to_numpy())
        assert np.all(diff[1:] < Z999 * se[1:] + 1e-9), name


def test_discretised_gamma_heterogeneity_matches_node_mixture_closed_form():
    m = one_stage(0.2, GAMMA_CV08, horizon=10, population=3000, name="gm")
    K = 7
    res = fast.simulate([m], runs=200, seed=3, mode="counts", het_nodes=K)
    # oracle: the K-point generalized Gauss-Laguerre rule of Gamma(k = 1/cv^2, scale cv^2)
    # (scipy), survival sum_i w_i (1 - min(0.2 x_i, 1))^t
    k = 1 / 0.64
    y, w = special.roots_genlaguerre(K, k - 1)
    nodes, w = 0.64 * y, w / w.sum()
    t = np.arange(11)[:, None]
    survival = ((1 - np.minimum(0.2 * nodes, 1.0)) ** t) @ w
    assert_periods_close(res, "stage:a", 3000 * survival)
    assert res.provenance["het_nodes"] == K and res.provenance["mode"] == "counts"


def test_auto_mode_picks_counts():
    homo = model_from_yaml(FEATURES)
    het = model_from_yaml(FEATURES.replace("segments:", "heterogeneity:\n  churn_multiplier: {dist: gamma, "
                                           "cv: 0.5}\nsegments:"))
    assert fast.choose_mode([homo], "auto") == "counts"
    assert fast.choose_mode([het], "auto") == "counts"
    assert fast.choose_mode([het], "individual") == "individual"
    assert fast.simulate([homo], runs=2, seed=1).provenance["mode"] == "counts"


def test_concession_states_chain_down_to_none():
    m = model_from_yaml(FEATURES)
    disc, nxt, ret = fast.concession_states(m)
    # periods 3: return period, then 2 more: states (w, 2) -> (w, 1) -> none
    assert list(disc) == [0.25, 0.25] and list(nxt) == [-1, 0] and list(ret) == [1]


@pytest.mark.parametrize("mode", ["individual", "counts"])
def test_common_random_numbers_cut_paired_difference_variance(mode):
    """CRN: run r of every strategy uses the same streams; the paired difference of NPV
    between two strategies varies far less than with independent seeds."""
    model_a = model_from_yaml(FEATURES)
    model_b = model_from_yaml(FEATURES, "no_save_desk")
    R = 120
    crn = fast.simulate([model_a, model_b], runs=R, seed=21, mode=mode).runs
    ind_b = fast.simulate([model_b], runs=R, seed=22, mode=mode).runs
    a = crn[crn["strategy"] == "baseline"]["npv"].to_numpy()
    b = crn[crn["strategy"] == "no_save_desk"]["npv"].to_numpy()
    var_crn = np.var(a - b, ddof=1)
    var_ind = np.var(a - ind_b["npv"].to_numpy(), ddof=1)
    # measured var_ind / var_crn at R=400: ~110 (individual, counter-based draws per customer and
    # period) and ~150 (counts, per-group sub-streams); the F spread at R=120 is within a factor 2
    assert var_ind / var_crn > 10.0, (var_ind, var_crn)


@pytest.mark.parametrize("mode", ["individual", "counts"])
def test_two_policies_with_capacities_keep_their_own_contacts(mode):
    """Two policies on two churned stages with overlapping ages, each with a binding
    capacity: contacts per period equal the sum of the two capacities exactly."""
    m = model_from_yaml("""
        schema_version: 1
        name: two
        time: {period: month, horizon: 3}
        stages:
          a: {kind: active, revenue: 10, margin: 0.5}
          lapsed: {kind: churned}
          dormant: {kind: churned}
        transitions:
          lapsed: {dormant: 0.2}
        initial_population: {lapsed: 5000, dormant: 5000}
        winback:
          policies:
            p1: {from_stages: [lapsed], window: 5, coverage: 1, success: {base: 0.1}, return_stage: a,
                 capacity_per_period: 300}
            p2: {from_stages: [dormant], window: 5, coverage: 1, success: {base: 0.1}, return_stage: a,
                 capacity_per_period: 200}
        """)
    res = fast.simulate([m], runs=20, seed=4, mode=mode)
    assert np.all(res.series("baseline", "contacts").to_numpy() == 500)
    assert np.all(res.series("baseline", "contacts", "sd").to_numpy() == 0)


def test_churn_pools_equal_per_group_churn_tracking_in_distribution(monkeypatch):
    # oracle: the general per-group path (every churned customer keeps its type and cohort
    # class) -- pooling churned customers and typing only the returning ones by sampling the
    # pool's composition must give the same law (means and run-to-run sd of every metric)
    model = model_from_yaml(FEATURES)
    assert fast.pooled_churn(model)
    R = 300
    pooled = fast.simulate([model], runs=R, seed=21, mode="counts").runs
    from clmsim.engines.fast import bundle

    monkeypatch.setattr(bundle, "pooled_churn", lambda m: False)
    general = fast.simulate([model], runs=R, seed=22, mode="counts").runs
    assert_same_law(pooled, general)


def test_churn_pools_only_when_churned_rows_lead_to_lost_or_stay():
    assert fast.pooled_churn(model_from_yaml(FEATURES))
    back = FEATURES.replace("churned:   {lost: 0.25}", "churned:   {lost: 0.25, new: 0.02}")
    assert not fast.pooled_churn(model_from_yaml(back))


def test_class_count_error_matches_quadrature_oracle_on_one_stage_gamma():
    # oracle: scipy.integrate.quad of the surviving share E[(1 - min(0.15 X, 1))^t], X ~ Gamma
    # (mean 1, cv 0.8): the error het_classes.py reports for K Gauss classes is the largest gap of the
    # K-class mixture to it over t = 1..H, and the automatic count meets the 1e-6 tolerance
    from scipy import integrate

    from clmsim.engines.fast import het_classes as classes

    m = one_stage(0.15, GAMMA_CV08, horizon=48, population=100, name="g1")
    k, scale = 1 / 0.64, 0.64
    law = stats.gamma(k, scale=scale)
    t = np.arange(1, 49)
    # beyond the clip point x = 1/0.15 nobody survives: integrate [0, 1/0.15] only
    exact = np.array([integrate.quad(lambda x: (1 - 0.15 * x) ** n * law.pdf(x), 0, 1 / 0.15, limit=200,
                                     epsabs=1e-14)[0] for n in t])
    y, w = special.roots_genlaguerre(8, k - 1)
    mix = ((1 - np.minimum(0.15 * scale * y, 1.0)) ** t[:, None]) @ (w / w.sum())
    assert classes.discretisation_error(m, 8) == pytest.approx(np.max(np.abs(mix - exact)), rel=1e-6, abs=1e-12)
    K, err = classes.nodes_for(m)
    assert err <= classes.TOLERANCE and classes.discretisation_error(m, K) == pytest.approx(err)
    assert K > 8


def test_remembered_class_errors_tell_models_apart(monkeypatch):
    # the class-count error is remembered per model content: models that differ only in a
    # program's spend (other program factors) or in the heterogeneity law must not share it;
    # oracle: the same computation with an empty memo
    from clmsim.engines.fast import het_classes as classes

    base = FEATURES.replace("segments:", "heterogeneity:\n  churn_multiplier: {dist: gamma, cv: 0.5}\nsegments:")
    spend = base.replace("spend_per_customer: 12", "spend_per_customer: 40")
    law = base.replace("gamma, cv: 0.5}", "gamma, cv: 0.9}")
    assert len({base, spend, law}) == 3
    models = [model_from_yaml(text) for text in (base, spend, law)]
    remembered = [classes.discretisation_error(m, 6) for m in models]
    monkeypatch.setattr(classes, "_MEMO", {})
    fresh = [classes.discretisation_error(m, 6) for m in models]
    assert remembered == fresh
    assert len(set(fresh)) == 3
