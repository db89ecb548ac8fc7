"""Fast engine, individual mode: every statistical check names its closed-form oracle.

Tolerances come from the standard error across runs (|mean - exact| < 4.5 se, ~99.9%);
nothing pins a seeded number.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, special, stats

from clmsim.engines import fast
from clmsim.errors import ClmsimError
from clmsim.model import effective_matrix
from fast_helpers import (GAMMA_CV08, assert_mean_close, assert_periods_close, from_python, model_from_yaml,
                          one_stage)

MODES = ["individual", "counts"]

GEO = """
schema_version: 1
name: geo
time: {period: month, horizon: 12, discount_rate: 0.1}
stages:
  a: {kind: active, revenue: 10, margin: 0.5, cost_to_serve: 1}
  gone: {kind: lost}
transitions:
  a: {gone: 0.1}
initial_population: {a: 2000}
"""


def run(model, runs=200, seed=7, mode="individual", **kw):
    return fast.simulate([model], runs=runs, seed=seed, mode=mode, **kw)


def test_kernel_row_matches_effective_matrix():
    from clmsim.engines.fast.kernels import individual_rows
    effective_row = from_python(individual_rows.effective_row)
    rng = np.random.default_rng(3)
    kind = np.array([1, 1, 1, 2, 3])
    churn_mask = (kind[:, None] == 1) & np.isin(kind, (2, 3))[None, :]
    for trial in range(60):
        P = rng.uniform(0, 1, (5, 5)) * (rng.uniform(size=(5, 5)) < 0.7)
        P[4] = 0
        P /= np.maximum(P.sum(axis=1, keepdims=True), 1.0) * rng.uniform(1.0, 2.0)
        P[np.arange(5), np.arange(5)] = 0
        P[:3, 3] += 0.05                                 # every active row can churn
        P[np.arange(5), np.arange(5)] = 1 - P.sum(axis=1)
        upgrade = rng.uniform(1, 4, (5, 5))
        cf = rng.uniform(0.3, 1.5, 5)
        mult = rng.uniform(0, 6)
        theta = rng.uniform(0, 1)
        for het, value, kw in ((0, 1.0, {}), (1, mult, {"multiplier": mult}), (2, theta, {"theta": theta})):
            exact = effective_matrix(P, churn_mask, cf, upgrade, **kw)
            for s in range(5):
                row = effective_row(P[None], churn_mask, upgrade, cf, 0, s, het, value)
                np.testing.assert_allclose(row, exact[s], atol=1e-12, err_msg=f"trial {trial} het {het} row {s}")


@pytest.mark.parametrize("mode", MODES)
def test_survival_and_npv_match_geometric_closed_form(mode):
    m = model_from_yaml(GEO)
    res = run(m, mode=mode)
    t = np.arange(13)
    occupancy = 2000 * 0.9 ** t
    assert_periods_close(res, "stage:a", occupancy)
    assert_periods_close(res, "contribution", 4.0 * occupancy[1:])
    v = m.discount_factors()
    assert_mean_close(res.runs["npv"], (4.0 * occupancy[1:] * v[1:]).sum(), "npv")
    assert_mean_close(res.runs["churned"], 2000 * (1 - 0.9 ** 12), "churned")
    assert res.provenance["engine"] == "fast" and res.provenance["mode"] == mode


CHAIN = """
schema_version: 1
name: chain
time: {period: month, horizon: 40}
stages:
  x: {kind: active, revenue: 1, margin: 1}
  y: {kind: active, revenue: 1, margin: 1}
  z: {kind: active, revenue: 1, margin: 1}
  gone: {kind: lost}
transitions:
  x: {y: 0.2, gone: 0.05}
  y: {z: 0.1, x: 0.05, gone: 0.1}
  z: {y: 0.02, gone: 0.03}
initial_population: {x: 600, y: 300, z: 100}
"""


@pytest.mark.parametrize("mode", MODES)
def test_lifetimes_match_fundamental_matrix(mode):
    m = model_from_yaml(CHAIN)
    res = run(m, runs=150, mode=mode)
    P = m.P[0]
    x0 = m.initial[0].astype(float)
    occ = [x0]
    for _ in range(m.horizon):
        occ.append(occ[-1] @ P)
    occ = np.array(occ)
    for s, name in enumerate(m.stage_names):
        assert_periods_close(res, f"stage:{name}", occ[:, s])
    # expected active customer-periods up to H: x0 Q (I - Q^H) (I - Q)^-1 1 (fundamental matrix N)
    Q = P[:3, :3]
    N = np.linalg.inv(np.eye(3) - Q)
    exact = x0[:3] @ Q @ (np.eye(3) - np.linalg.matrix_power(Q, m.horizon)) @ N @ np.ones(3)
    assert_mean_close(res.runs["contribution"], exact, "active customer-periods")


ACQ = """
schema_version: 1
name: acq
time: {period: month, horizon: 24, discount_rate: 0.12}
stages:
  a: {kind: active, revenue: 20, margin: 0.5, cost_to_serve: 2}
  gone: {kind: lost}
transitions:
  a: {gone: 0.1}
initial_population: {a: 500}
acquisition:
  channels:
    shop: {spend_per_period: 1000, response: {type: linear, cost_per_customer: 10}, entry_stage: a}
  referrals: {from: {a: 0.01}, entry_stage: a}
"""


@pytest.mark.parametrize("mode", MODES)
def test_clv_acquired_matches_geometric_closed_form(mode):
    m = model_from_yaml(ACQ.replace("  referrals: {from: {a: 0.01}, entry_stage: a}\n", ""))
    res = run(m, runs=200, mode=mode)
    H, r, margin = m.horizon, 0.9, 20 * 0.5 - 2
    v = m.discount_factors()
    # customer acquired at end of t earns from t+1 while it survives: CLV_t = sum_{k=1}^{H-t} v^k r^k m;
    # acquisitions are exchangeable over periods, so the mean per acquired customer is the average of CLV_t
    clv_t = np.array([sum(v[k] * r ** k * margin for k in range(1, H - t + 1)) for t in range(1, H + 1)])
    assert_mean_close(res.runs["clv_acquired"], clv_t.mean(), "clv_acquired")
    assert_mean_close(res.runs["acquired"], 100 * H, "acquired")
    assert_mean_close(res.runs["acquired:shop"], 100 * H, "acquired:shop")
    assert np.all(res.runs["acquisition_spend:shop"] == 1000 * H)


@pytest.mark.parametrize("mode", MODES)
def test_referrals_match_rate_times_start_occupancy(mode):
    m = model_from_yaml(ACQ)
    res = run(m, runs=200, mode=mode)
    # x_t = 0.9 x_{t-1} + 100 + 0.01 x_{t-1}; referrals of period t: 0.01 x_{t-1}
    x = [500.0]
    for _ in range(m.horizon):
        x.append(0.91 * x[-1] + 100)
    x = np.array(x)
    assert_periods_close(res, "referred", 0.01 * x[:-1])
    assert_periods_close(res, "stage:a", x)


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("cv", [0.4, 1.5])
def test_revenue_noise_matches_gamma_sum_moments(cv, mode):
    m = model_from_yaml(f"""
        schema_version: 1
        name: rev
        time: {{period: month, horizon: 1}}
        stages:
          a: {{kind: active, revenue: {{mean: 50, cv: {cv}}}, margin: 1}}
        initial_population: {{a: 400}}
        """)
    res = run(m, runs=400, mode=mode)
    rev = res.runs["revenue"].to_numpy()
    assert_mean_close(rev, 400 * 50, "revenue")
    sd_exact = np.sqrt(400) * 50 * cv
    # sample sd of 400 near-normal values: relative se ~ 1/sqrt(2 (n - 1))
    assert abs(rev.std(ddof=1) / sd_exact - 1) < 4.5 / np.sqrt(2 * 399)


def test_beta_heterogeneity_matches_shifted_beta_geometric():
    m = one_stage(0.1, "churn_probability: {dist: beta, alpha: 2, beta: 8}", horizon=15, population=3000,
                  name="sbg")
    res = run(m, runs=150)
    t = np.arange(16)
    survival = np.exp(special.betaln(2, 8 + t) - special.betaln(2, 8))
    assert_periods_close(res, "stage:a", 3000 * survival)


def test_gamma_multiplier_matches_mixture_integral():
    m = one_stage(0.2, GAMMA_CV08, horizon=10, population=3000, name="gm")
    res = run(m, runs=150)
    law = stats.gamma(1 / 0.64, scale=0.64)
    survival = [integrate.quad(lambda x: (1 - min(0.2 * x, 1.0)) ** t * law.pdf(x), 0, np.inf)[0]
                for t in range(11)]
    assert_periods_close(res, "stage:a", 3000 * np.array(survival))


WINBACK = """
schema_version: 1
name: wb
time: {period: month, horizon: 8}
stages:
  a: {kind: active, revenue: 10, margin: 0.6, cost_to_serve: 1}
  ch: {kind: churned}
  gone: {kind: lost}
transitions:
  ch: {gone: 0.3}
initial_population: {ch: 10000}
winback:
  policies:
    w:
      eligible_after: 0
      window: 3
      coverage: 0.5
      contact_cost: 2
      success: {base: 0.2, decay: 0.5}
      return_stage: a
      concession: {discount: 0.25, periods: 2}
"""


@pytest.mark.parametrize("mode", MODES)
def test_winback_matches_age_recursion_closed_form(mode):
    m = model_from_yaml(WINBACK)
    res = run(m, runs=150, mode=mode)
    H, c, q = m.horizon, 0.5, 0.3
    M, won, contacts = 10000.0, [], []
    for t in range(1, H + 1):
        k = t - 1                                   # initial churners have age 0 in period 1
        p = 0.2 * 0.5 ** k if k < 3 else 0.0
        cont = M * c if k < 3 else 0.0
        contacts.append(cont)
        won.append(cont * p)
        M = (M - cont * p) * (1 - q)
    won, contacts = np.array(won), np.array(contacts)
    active = np.cumsum(won)
    concession = won + np.concatenate([[0.0], won[:-1]])      # period of return and the next one
    assert_periods_close(res, "won_back", won)
    assert_periods_close(res, "contacts", contacts)
    assert_periods_close(res, "winback_spend", 2 * contacts)
    assert_periods_close(res, "contribution", active * (10 * 0.6 - 1) - 10 * 0.25 * concession)


@pytest.mark.parametrize("mode", MODES)
def test_winback_capacity_contacts_most_recent_churners_first(mode):
    m = model_from_yaml("""
        schema_version: 1
        name: cap
        time: {period: month, horizon: 2}
        stages:
          a: {kind: active, revenue: 10, margin: 0.6}
          b: {kind: active, revenue: 10, margin: 0.6}
          ch: {kind: churned}
        transitions:
          b: {ch: 0.5}
        initial_population: {ch: 1000, b: 1000}
        winback:
          policies:
            w:
              window: 5
              coverage: 1
              success: {base: 0.5, decay: 0.1}
              return_stage: a
              capacity_per_period: 300
        """)
    res = run(m, runs=200, mode=mode)
    contacts = res.series("baseline", "contacts").to_numpy()
    assert np.all(contacts == 300) and np.all(res.series("baseline", "contacts", "sd") == 0)
    # period 1: only the initial churners (age 0): success 0.5; period 2: ~500 fresh churners (age 0)
    # outnumber the capacity, so all 300 contacts have success 0.5 (older ones would have 0.05)
    assert_periods_close(res, "won_back", [150.0, 150.0])


@pytest.mark.parametrize("mode", MODES)
def test_budget_cap_spread_evenly_matches_saturating_effect(mode):
    m = model_from_yaml("""
        schema_version: 1
        name: capped
        time: {period: month, horizon: 1}
        stages:
          a: {kind: active, revenue: 1, margin: 1}
          gone: {kind: lost}
        transitions:
          a: {gone: 0.2}
        initial_population: {a: 2000}
        retention:
          programs:
            p:
              target: [a]
              spend_per_customer: 10
              effect: {churn_reduction_max: 0.5, half_saturation_spend: 10}
              budget_cap_per_period: 5000
        """)
    res = run(m, runs=300, mode=mode)
    # spend per customer min(10, 5000/2000) = 2.5: f = 2.5/12.5, churn 0.2 (1 - 0.5 f) = 0.18
    assert np.all(res.series("baseline", "retention_spend").to_numpy() == 5000)
    assert_periods_close(res, "stage:a", [2000, 2000 * 0.82])


@pytest.mark.parametrize("mode", MODES)
def test_same_seed_same_bits_and_common_random_numbers(mode):
    m = model_from_yaml(ACQ)
    a = run(m, runs=6, seed=11, mode=mode)
    b = run(m, runs=6, seed=11, mode=mode)
    pd_equal = a.runs.equals(b.runs) and a.periods.equals(b.periods) and a.clv_hist.equals(b.clv_hist)
    assert pd_equal
    c = run(m, runs=6, seed=12, mode=mode)
    assert not np.array_equal(a.runs["npv"], c.runs["npv"])
    # run r draws the same streams whatever the number of runs
    d = run(m, runs=3, seed=11, mode=mode)
    assert np.array_equal(a.runs["npv"].to_numpy()[:3], d.runs["npv"].to_numpy())


def test_clv_histogram_counts_every_customer():
    m = model_from_yaml(ACQ)
    res = run(m, runs=5)
    h = res.clv_hist
    initial = h[h["cohort"] == "initial"]["count"].sum()
    acquired = h[h["cohort"] == "acquired"]["count"].sum()
    assert initial == 5 * 500
    assert acquired == (res.runs["acquired"] + res.runs["referred"]).sum()
    assert set(h.columns) >= {"strategy", "lo", "hi", "count"}


def test_bad_requests_raise_clear_errors():
    m = model_from_yaml(GEO)
    with pytest.raises(ClmsimError, match="runs"):
        fast.simulate([m], runs=0, seed=1)
    with pytest.raises(ClmsimError, match="mode"):
        fast.simulate([m], runs=1, seed=1, mode="fastest")
    with pytest.raises(ClmsimError, match="option"):
        fast.simulate([m], runs=1, seed=1, bins=3)
    with pytest.raises(ClmsimError, match="seed"):
        fast.simulate([m], runs=1, seed=-4)
    with pytest.raises(ClmsimError, match="threads"):
        fast.simulate([m], runs=1, seed=1, threads=10_000)
    het = model_from_yaml(GEO + "heterogeneity:\n  churn_multiplier: {dist: gamma, cv: 0.5}\n")
    with pytest.raises(ClmsimError, match="het_nodes"):
        fast.simulate([het], runs=1, seed=1, mode="counts", het_nodes=500)
    # counts mode discretises continuous heterogeneity and says so in the provenance
    prov = fast.simulate([het], runs=1, seed=1, mode="counts").provenance
    assert prov["het_nodes"] >= 4 and prov["het_error"] <= 1e-6 and "Gauss classes" in prov["approximation"]
