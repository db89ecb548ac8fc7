"""Latent classes with dropout (clmsim.calibrate.classes, fit rfm --classes). Oracles: the spell
law's closed form; data simulated from known classes; the numpy propagation of the fitted classes
(the fit report); the classes' own chains (the scenario on the analytic engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clmsim.calibrate import RFMRules, fit_rfm
from clmsim.calibrate.classes import churned_spells, fit_classes, spell_loglik
from clmsim.calibrate.stages import STAGES, panel_codes
from clmsim.errors import ClmsimError

ROOT = Path(__file__).resolve().parents[1]


def test_spell_probabilities_add_up_closed_form():
    """A spell still running after n periods has probability 1 minus the chance it ended by a
    purchase after 0..n-1 periods, and the chance it ever ends so is (1-d) r / (1 - (1-d)(1-r))."""
    n = np.arange(40.0)
    for r, d in ((0.05, 0.2), (0.25, 0.0), (0.6, 0.01)):
        ended = np.exp(spell_loglik(r, d, n, np.ones_like(n, dtype=int)))
        running = np.exp(spell_loglik(r, d, n, np.zeros_like(n, dtype=int)))
        np.testing.assert_allclose(running, 1.0 - np.concatenate([[0.0], np.cumsum(ended)[:-1]]), rtol=1e-12, atol=1e-15)
        q = (1 - d) * (1 - r)
        np.testing.assert_allclose(ended.sum() + q ** 40 * (1 - d) * r / (1 - q), (1 - d) * r / (1 - q), rtol=1e-12)


def test_spells_are_read_off_the_stage_codes():
    churned, buying = 2, (1,)
    code = np.array([[0, 2, 2, 1, 2, 2],       # 1 period churned, then a purchase; 1 period, running
                     [-1, 0, 2, 2, 2, 2],      # running 3 periods
                     [0, 1, 1, 1, 1, 1]])      # never churned
    assert churned_spells(code, 6, churned, buying).tolist() == [[0, 1, 1], [0, 1, 0], [1, 3, 0]]
    assert churned_spells(code, 3, churned, buying).tolist() == [[0, 1, 0], [1, 0, 0]]


def test_m_step_gradient_and_optimum_oracle_finite_differences_and_scipy():
    """The M-step's objective has the gradient of central differences, and its Newton solve
    lands where scipy's L-BFGS-B does on the same objective."""
    from scipy import optimize

    from clmsim.calibrate.classes import maximise_spells, spell_objective

    rng = np.random.default_rng(3)
    n = rng.integers(0, 12, size=40).astype(float)
    ended = rng.integers(0, 2, size=40)
    w = rng.random((3, 40)) * 50
    x = np.array([[-2.0, -1.5], [0.3, -4.0], [-6.0, 2.0]])
    f, g = spell_objective(x, w, n, ended)
    np.testing.assert_allclose(f, -(w * spell_loglik(1 / (1 + np.exp(-x[:, :1])), 1 / (1 + np.exp(-x[:, 1:])),
                                                     n, ended)).sum(axis=1), rtol=1e-14)
    h = 1e-6
    for j in range(2):
        e = np.zeros(2)
        e[j] = h
        num = (spell_objective(x + e, w, n, ended)[0] - spell_objective(x - e, w, n, ended)[0]) / (2 * h)
        np.testing.assert_allclose(g[:, j], num, rtol=1e-6, atol=1e-6)
    best = maximise_spells(np.full((3, 2), -2.0), w, n, ended)
    for k in range(3):
        ref = optimize.minimize(lambda y: spell_objective(y[None], w[k:k + 1], n, ended)[0][0], [-2.0, -2.0],
                                method="L-BFGS-B", bounds=[(-15, 15)] * 2, options={"ftol": 1e-15, "gtol": 1e-10})
        assert spell_objective(best[k:k + 1], w[k:k + 1], n, ended)[0][0] <= ref.fun + 1e-9 * abs(ref.fun)


def test_fit_on_distinct_histories_equals_fit_on_customers_oracle_duplicated_data():
    """EM runs on the distinct histories, weighted: every customer listed twice gives the same
    classes, and each copy the posterior of the customer it copies."""
    rows = [[[0, 0.5, 0.5, 0], [0, 0.6, 0.4, 0], [0, 0.4, 0.3, 0.3]],
            [[0, 0.1, 0.9, 0], [0, 0.2, 0.8, 0], [0, 0.08, 0.3, 0.62]]]
    code, _ = simulate_classes(800, 12, (0.3, 0.7), rows, (0.3, 0.06), (0.02, 0.15), seed=2)
    once = fit_classes(code, 12, 2, churned=3, buying=(1,), starts=1, iters=20000, tol=1e-11)
    twice = fit_classes(np.vstack([code, code]), 12, 2, churned=3, buying=(1,), starts=1, iters=20000, tol=1e-11)
    np.testing.assert_allclose(twice.shares, once.shares, atol=1e-6)
    np.testing.assert_allclose(twice.ret, once.ret, atol=1e-6)
    np.testing.assert_allclose(twice.dropout, once.dropout, atol=1e-6)
    np.testing.assert_allclose(twice.loglik, 2 * once.loglik, rtol=1e-9)
    np.testing.assert_allclose(twice.posterior[:800], once.posterior, atol=1e-5)
    np.testing.assert_allclose(twice.posterior[800:], once.posterior, atol=1e-5)


def simulate_classes(C, T, shares, rows, ret, dropout, seed):
    """Stage codes of C customers over T periods from known classes: codes 0 new, 1 buying,
    2 lapsing, 3 churned, 4 dropped (shown as churned: dropout is not observed)."""
    rng = np.random.default_rng(seed)
    klass = rng.choice(len(shares), size=C, p=shares)
    state = np.zeros(C, dtype=int)
    code = np.zeros((C, T), dtype=int)
    for t in range(1, T):
        u = rng.random(C)
        new = state.copy()
        for k in range(len(shares)):
            for s in (0, 1, 2):
                m = (klass == k) & (state == s)
                new[m] = np.searchsorted(np.cumsum(rows[k][s]), u[m], side="right")
            m = (klass == k) & (state == 3)
            new[m] = np.where(u[m] < dropout[k], 4, np.where(u[m] < dropout[k] + (1 - dropout[k]) * ret[k], 1, 3))
        state = new
        code[:, t] = np.where(state == 4, 3, state)
    return code, klass


def test_fit_recovers_known_classes_oracle_simulated_truth():
    """Data simulated from 2 known classes with dropout: the fit recovers the shares, the return
    and dropout probabilities within 5 binomial standard errors of the class's churned periods."""
    shares = (0.3, 0.7)
    rows = [  # from new, buying, lapsing: to (new, buying, lapsing, churned)
        [[0, 0.5, 0.5, 0], [0, 0.6, 0.4, 0], [0, 0.4, 0.3, 0.3]],
        [[0, 0.1, 0.9, 0], [0, 0.2, 0.8, 0], [0, 0.08, 0.3, 0.62]],
    ]
    ret, dropout = (0.3, 0.06), (0.02, 0.15)
    code, klass = simulate_classes(6000, 24, shares, rows, ret, dropout, seed=5)
    fit = fit_classes(code, 24, 2, churned=3, buying=(1,), starts=4)
    k_heavy = int(np.argmax(fit.ret))
    order = [k_heavy, 1 - k_heavy]
    churned_periods = (code == 3).sum(axis=1)
    for truth, k in enumerate(order):
        n = float(fit.posterior[:, k] @ churned_periods)
        for got, want in ((fit.ret[k], ret[truth]), (fit.dropout[k], dropout[truth])):
            assert abs(got - want) <= 5 * np.sqrt(want * (1 - want) / n) + 1e-3, (truth, got, want)
        assert abs(fit.shares[k] - shares[truth]) <= 5 * np.sqrt(shares[truth] * (1 - shares[truth]) / len(code))
    agree = np.mean(np.argmax(fit.posterior, axis=1) == np.array(order)[klass])
    assert agree > 0.8


def test_choose_classes_by_bic_oracle_simulated_truth():
    """BIC chooses 2 classes on data simulated from 2 classes with dropout and one chain (0) on data
    simulated from one chain without dropout. The chain's log-likelihood is the sum of log P over
    every observed move (P the pooled maximum-likelihood rows) less the split of returns between
    the buying stages, which no K models differently; one class with dropout nests it."""
    from clmsim.calibrate.classes import choose_classes

    rows = [[[0, 0.5, 0.5, 0], [0, 0.6, 0.4, 0], [0, 0.4, 0.3, 0.3]],
            [[0, 0.1, 0.9, 0], [0, 0.2, 0.8, 0], [0, 0.08, 0.3, 0.62]]]
    two, _ = simulate_classes(3000, 18, (0.3, 0.7), rows, (0.3, 0.06), (0.02, 0.15), seed=7)
    assert choose_classes(two, 18, churned=3, buying=(1,), starts=3).classes == 2
    one, _ = simulate_classes(3000, 18, (1.0,), rows[:1], (0.2,), (0.0,), seed=7)
    choice = choose_classes(one, 18, churned=3, buying=(1,), starts=3)
    assert choice.classes == 0 and [r[0] for r in choice.rows] == [0, 1]
    moves = np.zeros((4, 4))
    for a, b in zip(one[:, :-1].ravel(), one[:, 1:].ravel()):
        moves[a, b] += 1
    P = moves / moves.sum(axis=1, keepdims=True)
    chain = sum(moves[a, b] * np.log(P[a, b]) for a in range(4) for b in range(4) if moves[a, b] > 0)
    # (one buying stage here, so the split of returns adds nothing to take away)
    (k0, ll0, p0, bic0), (k1, ll1, p1, bic1) = choice.rows
    assert ll0 == pytest.approx(chain, rel=1e-12) and ll1 >= ll0 - 1e-6 and p1 == p0 + 1
    assert bic0 == pytest.approx(-2 * ll0 + p0 * np.log(3000))
    assert "one chain without dropout" in choice.describe("the 18 months") and "<- chosen" in choice.describe("x")


def test_classes_auto_on_a_tiny_log_keeps_one_chain(capsys):
    from clmsim.cli import main

    from test_calibrate_rfm import DATA

    assert main(["fit", "rfm", str(DATA / "transactions_small.csv"), "--min-pairs", "0", "--classes", "auto"]) == 0
    out = capsys.readouterr().out
    assert "the BIC prefers one chain without dropout; the scenario has no classes" in out
    assert "\nsegments:" not in out and "kind: lost" not in out
    # forced to one class, the log still has nobody churned at its end: no note about churned customers
    assert main(["fit", "rfm", str(DATA / "transactions_small.csv"), "--min-pairs", "0", "--classes", "1"]) == 0
    out = capsys.readouterr().out
    assert "\nsegments:" in out and "dropped: {kind: churned}" in out and "customers churned at the end" not in out


@pytest.fixture(scope="module")
def cdnow_classes():
    from test_calibrate_rfm import cdnow_log

    tx = cdnow_log()
    return tx, fit_rfm(tx, holdout=9, classes=2)


def test_cdnow_classes_holdout_is_the_classes_propagated_oracle_numpy(cdnow_classes):
    """The fit report's holdout (analytic engine on the classes' scenario, whole customers) is the
    numpy propagation of the classes fitted on the calibration months from each customer's
    posterior occupancy, up to the rounding to whole customers, each class buying its own
    posterior-weighted mean transactions per calibration month in a buying stage (pandas,
    customer-months weighted by the posterior); and it is the benchmark's prototype
    (docs/calibration.md quotes both: tracking 11.4%, total -7.9%)."""
    _, res = cdnow_classes
    rep, cls = res.report, res.holdout_classes
    assert rep.engine == "analytic" and rep.classes == 2
    code = panel_codes(res.stages)
    Tc, T = rep.calibration_periods, res.stages.n_periods
    x = cls.occupancy(code[:, Tc - 1], res.stages.first_period < Tc)
    cal = res.stages.panel[res.stages.panel["period"] < Tc]
    weight = cal["customer_id"].map(dict(zip(res.stages.customers, range(len(code))))).to_numpy()
    want = np.zeros(T - Tc)
    for k in range(cls.K):
        w = cls.posterior[weight, k]
        rate = np.zeros(len(STAGES) + 1)
        for s in ("repeat", "loyal"):
            m = (cal["stage"] == s).to_numpy()
            rate[STAGES.index(s)] = np.sum(w[m] * cal["transactions"].to_numpy()[m]) / np.sum(w[m])
        y = x[k]
        for h in range(T - Tc):
            y = y @ cls.matrix(k)
            want[h] += y @ rate
    got = rep.holdout["expected_transactions"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=2e-3)   # whole customers: at most a few of ~2,400 moved
    assert f"{rep.tracking_error:.1%}" == "11.4%" and f"{rep.holdout_error:+.1%}" == "-7.9%"


def test_class_occupancy_without_the_engine_is_the_engines_oracle_analytic_engine(cdnow_classes, monkeypatch):
    """Without the analytic engine the classes' holdout occupancy is the numpy propagation, class by
    class (K, T, S): summed over the classes, its buyers are the report's (the analytic engine on
    the classes' scenario) up to whole customers, and the calibration periods are identical."""
    from clmsim.calibrate import report
    from clmsim.calibrate.classes import class_occupancy

    _, res = cdnow_classes
    rep, cls, sp = res.report, res.holdout_classes, res.stages
    monkeypatch.setattr(report, "analytic_engine_available", lambda: False)
    Tc, T = rep.calibration_periods, sp.n_periods
    stages = tuple(s for s in sp.stages if s != "dropped")
    occ, engine = class_occupancy(cls, STAGES, sp.first_period, panel_codes(sp), Tc, T, stages, None)
    assert engine == "numpy" and occ.shape == (cls.K, T, len(stages))
    buyers = occ[:, :, [stages.index("repeat"), stages.index("loyal")]].sum(axis=(0, 2))
    np.testing.assert_allclose(buyers[:Tc], rep.table["expected_buyers"].to_numpy()[:Tc], rtol=1e-12)
    np.testing.assert_allclose(buyers[Tc:], rep.holdout["expected_buyers"].to_numpy(), rtol=2e-3)


def test_classes_scenario_writes_the_classes_chains_oracle_analytic_engine(cdnow_classes):
    """The scenario's segments are the classes: the analytic engine's occupancy after one period
    is each segment's initial population moved by its class's matrix (entries rounded down to 6
    decimals), each segment earns its class's revenue in a stage (period 1's revenue), and the
    populations are every customer of each class, those who dropped out in ``dropped``, in whole
    customers."""
    from clmsim.api import simulate
    from clmsim.calibrate.io import write_yaml
    from clmsim.scenario import scenario_from_text

    _, res = cdnow_classes
    sc, cls = res.scenario, res.classes
    assert sc["stages"]["dropped"] == {"kind": "churned"} and "initial_population" not in sc
    assert "dropped" not in sc["transitions"]
    segs = sc["segments"]
    assert list(segs) == ["class_1", "class_2"] and sum(s["share"] for s in segs.values()) == pytest.approx(1, abs=1e-12)
    order = np.argsort(-cls.ret)
    code = panel_codes(res.stages)
    seen = code[:, -1] >= 0
    occ = cls.occupancy(code[:, -1], seen)
    total = sum(sum(s["initial_population"].values()) for s in segs.values())
    assert total == int(seen.sum()) == 2357                     # every customer, the dropped ones too
    pop = {s: sum(seg["initial_population"].get(s, 0) for seg in segs.values()) for s in ("churned", "dropped")}
    for s in res.stages.stages:                                  # each stage keeps its count in the data
        observed = int((code[:, -1] == STAGES.index(s)).sum())
        held = sum(seg["initial_population"].get(s, 0) for seg in segs.values())
        assert held + (pop["dropped"] if s == "churned" else 0) == observed
    alive = occ[:, STAGES.index("churned")].sum()
    assert abs(pop["churned"] - alive) < cls.K
    # docs/calibration.md: "669.5 of the 2,057 customers churned ... 670 start in `churned` and 1,387 in `dropped`"
    assert (round(alive, 1), pop["churned"], pop["dropped"], pop["churned"] + pop["dropped"]) == (669.5, 670, 1387, 2057)
    assert any(n.startswith("of the 2,057 customers churned at the end of the data, 670 start in 'churned' and "
                            "1,387 in 'dropped'") and "success 0" in n for n in res.notes)
    docs = " ".join((ROOT / "docs" / "calibration.md").read_text(encoding="utf-8").split())
    assert ("669.5 of the 2,057 customers churned at the end of the data are expected still alive by the classes' "
            "posterior: 670 start in `churned` and 1,387 in `dropped`") in docs
    # and the classes it quotes ("Fitted on all 18 months (the scenario's segments)")
    (hi, lo) = order
    assert (f"`class_1` is {cls.shares[hi]:.1%} of the customers, coming back at {cls.ret[hi]:.3f} a month and "
            f"dropping out at {cls.dropout[hi]:.3f}, and `class_2` {cls.shares[lo]:.1%}, at {cls.ret[lo]:.3f} and "
            f"{cls.dropout[lo]:.3f}") in docs
    stages = res.stages.stages
    per = simulate(scenario_from_text(write_yaml(sc, None), "<classes>"), engine="analytic").periods
    got = np.array([per[(per["item"] == f"stage:{s}") & (per["period"] == 1)]["mean"].iloc[0] for s in stages])
    want = np.zeros(len(stages))
    want_revenue = 0.0
    for i, k in enumerate(order):
        seg = segs[f"class_{i + 1}"]
        x, mean = np.zeros(len(STAGES) + 1), np.zeros(len(STAGES) + 1)
        for s, n in seg["initial_population"].items():
            x[STAGES.index(s) if s != "dropped" else -1] = n        # the class's dropped state is last
        for s, entry in seg["stages"].items():        # each class earns its own revenue in a stage
            mean[STAGES.index(s)] = entry["revenue"]["mean"]
        y = x @ cls.matrix(int(k))
        want += y[[STAGES.index(s) for s in stages]]
        want_revenue += y @ mean                      # period 1's revenue: the stages it ends in
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)   # entries rounded down to 6 decimals
    revenue = per[(per["item"] == "revenue") & (per["period"] == 1)]["mean"].iloc[0]
    assert revenue == pytest.approx(want_revenue, rel=1e-5)
    assert segs["class_1"]["stages"]["loyal"]["revenue"]["mean"] != segs["class_2"]["stages"]["loyal"]["revenue"]["mean"]


def _winback_period_one(scenario: dict, base: float, stages: tuple[str, ...]) -> tuple[float, dict]:
    """Period 1 of ``scenario`` with one win-back policy mailing every churned customer of age 0
    (coverage 1, contact cost 1, success ``base``), by the analytic engine: win-back spend and
    the stages' occupancy."""
    import copy

    from clmsim.api import simulate
    from clmsim.calibrate.io import write_yaml
    from clmsim.scenario import scenario_from_text

    sc = copy.deepcopy(scenario)
    sc["winback"] = {"policies": {"mail_all": {"eligible_after": 0, "window": 1, "coverage": 1, "contact_cost": 1,
                                               "success": {"base": base}, "return_stage": "repeat"}}}
    per = simulate(scenario_from_text(write_yaml(sc, None), "<winback>"), engine="analytic").periods
    one = per[per["period"] == 1].set_index("item")["mean"]
    return float(one["winback_spend"]), {s: float(one[f"stage:{s}"]) for s in stages}


def test_classes_winback_mails_the_dropped_customers_too_oracle_stage_counts(cdnow_classes):
    """Dropout is hidden in the data, so a win-back campaign mails every churned customer, dropped
    or not: on the classes' scenario a policy mailing every churned customer pays for as many
    contacts as there are churned customers at the end of the data (2,057 on CDNOW, as on the
    plain chain's scenario), and with success 1 it wins every one of them back, the dropped
    ones included (nobody is left in ``dropped`` after period 1)."""
    _, res = cdnow_classes
    churned = int((panel_codes(res.stages)[:, -1] == STAGES.index("churned")).sum())
    stages = tuple(res.scenario["stages"])
    spend, _ = _winback_period_one(res.scenario, 0.0, stages)
    assert spend == pytest.approx(churned, rel=1e-12) and churned == 2057
    spend, occ = _winback_period_one(res.scenario, 1.0, stages)
    assert spend == pytest.approx(churned, rel=1e-12)
    assert occ["dropped"] == pytest.approx(0.0, abs=1e-9)
    without = res.scenario | {"segments": None}
    without.pop("segments")
    without["stages"] = {s: e for s, e in res.scenario["stages"].items() if s != "dropped"}
    without["initial_population"] = {s: sum(seg["initial_population"].get(s, 0) + (
        seg["initial_population"].get("dropped", 0) if s == "churned" else 0) for seg in res.scenario["segments"].values())
        for s in without["stages"]}
    chain_spend, _ = _winback_period_one(without, 0.0, tuple(without["stages"]))
    assert chain_spend == pytest.approx(spend, rel=1e-12)


def test_docs_section_4_email_on_the_classes_scenario_with_and_without_dropped_responses(cdnow_classes, tmp_path,
                                                                                         capsys):
    """docs/calibration.md ("Win-back reaches the dropped customers too"): section 4's levers on the
    classes' scenario (margin 0.3, 24 months): the e-mail to every churned customer gains 8.23k
    for 2.77k when the dropped customers respond at the policy's rate, and -18 for 2.67k when a
    policy of their own never wins them back."""
    import copy

    from clmsim.calibrate.io import write_yaml
    from clmsim.cli import main

    sc = copy.deepcopy(cdnow_classes[1].scenario)
    sc["time"]["horizon"] = 24
    for entry in sc["stages"].values():
        if entry["kind"] == "active":
            entry["margin"] = 0.3
    (tmp_path / "cdnow.yaml").write_text(write_yaml(sc, None), encoding="utf-8")
    levers = (ROOT / "tests" / "data" / "calibration" / "cdnow_strategies.yaml").read_text(encoding="utf-8")
    (tmp_path / "both.yaml").write_text(levers, encoding="utf-8")
    alive_only = levers.replace("      return_stage: repeat\n", """      return_stage: repeat
      from_stages: [churned]
    reactivation_email_dropped:
      from_stages: [dropped]
      eligible_after: 0
      window: 12
      coverage: 0
      contact_cost: 0.1
      success: {base: 0}
      return_stage: repeat
""").replace("email_all: {winback.policies.reactivation_email.coverage: 1}",
             "email_all: {winback.policies.reactivation_email.coverage: 1, "
             "winback.policies.reactivation_email_dropped.coverage: 1}")
    assert alive_only.count("reactivation_email_dropped") == 2    # the policy and email_all
    (tmp_path / "alive.yaml").write_text(alive_only, encoding="utf-8")
    lines = {}
    for name in ("both", "alive"):
        capsys.readouterr()
        assert main(["compare", str(tmp_path / f"{name}.yaml"), "--engine", "analytic"]) == 0
        lines[name] = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("email_all")).split()
    assert lines["both"][3:5] == ["+8.232k", "+2.772k"]
    assert lines["alive"][3:5] == ["-17.78", "+2.666k"]
    docs = " ".join((ROOT / "docs" / "calibration.md").read_text(encoding="utf-8").split())
    assert ("gains 8.23k NPV for 2.77k spend when every contact responds at 3% (one chain, `--classes 0`: 8.07k "
            "for 3.11k) and −18 for 2.67k when the dropped never respond") in docs


def test_class_means_oracle_pandas_groupby():
    """One class with weight 1 everywhere is the pooled per-stage mean and ddof-1 cv (pandas
    groupby); 0/1 posteriors are the same per group of customers; stages without customers and
    the periods before a customer's first one (code -1) count nothing."""
    import pandas as pd

    from clmsim.calibrate.classes import class_means

    rng = np.random.default_rng(3)
    C, T, S = 300, 7, 5
    code = rng.integers(0, S - 1, size=(C, T))          # stage S-1 never occupied
    code[:40, :3] = -1
    values = rng.gamma(2.0, 10.0, size=(C, T)) * (rng.random((C, T)) < 0.8)
    group = rng.integers(0, 2, size=C)
    df = pd.DataFrame({"code": code[:, :6].ravel(), "x": values[:, :6].ravel(), "g": np.repeat(group, 6)})
    df = df[df["code"] >= 0]
    for posterior, groups in ((np.ones((C, 1)), [np.ones(C, bool)]),
                              (np.eye(2)[group], [group == 0, group == 1])):
        mean, cv = class_means(posterior, code, values, 6, S)
        assert mean.shape == cv.shape == (posterior.shape[1], S)
        for k, who in enumerate(groups):
            g = df[np.repeat(who, 6)[df.index]].groupby("code")["x"]
            np.testing.assert_allclose(mean[k, :S - 1], g.mean().to_numpy(), rtol=1e-12)
            np.testing.assert_allclose(cv[k, :S - 1], (g.std(ddof=1) / g.mean()).to_numpy(), rtol=1e-10)
            assert mean[k, S - 1] == cv[k, S - 1] == 0.0


def test_classes_auto_on_cdnow_chooses_two_on_the_calibration_months(cdnow_classes):
    """--classes auto (the default) with a holdout chooses on the 9 calibration months (2 classes;
    BIC figures quoted in docs/calibration.md) and then is --classes 2: the same report and
    scenario."""
    tx, two = cdnow_classes
    auto = fit_rfm(tx, holdout=9, classes="auto")
    default = fit_rfm(tx, holdout=9)                  # the default is auto
    pd.testing.assert_frame_equal(default.report.table, auto.report.table)
    assert default.scenario == auto.scenario and default.class_choice.rows == auto.class_choice.rows
    choice = auto.class_choice
    assert choice.classes == 2 and choice.periods == 9 and choice.customers == 2357
    assert [r[0] for r in choice.rows] == [0, 1, 2, 3]
    pd.testing.assert_frame_equal(auto.report.table, two.report.table)
    assert "2 latent classes (chosen by BIC on the first 9 months, before the holdout)" in auto.scenario["description"]
    assert {k: v for k, v in auto.scenario.items() if k != "description"} == \
        {k: v for k, v in two.scenario.items() if k != "description"}
    docs = " ".join((ROOT / "docs" / "calibration.md").read_text(encoding="utf-8").split())
    bic = {k: f"{b:,.1f}" for k, _, _, b in choice.rows}
    assert (f"BIC {bic[0]} for one chain without dropout, {bic[1]} for one class with dropout, {bic[2]} for 2 and "
            f"{bic[3]} for 3") in docs


def test_classes_auto_without_a_holdout_chooses_on_all_periods():
    """Without a holdout the default chooses rules and classes on all 18 months: 3 classes on
    CDNOW, with the BIC figures and shares docs/calibration.md quotes."""
    from test_calibrate_rfm import cdnow_log

    fit = fit_rfm(cdnow_log())
    choice = fit.class_choice
    assert choice.classes == 3 and choice.periods == 18
    docs = " ".join((ROOT / "docs" / "calibration.md").read_text(encoding="utf-8").split())
    bic = {k: f"{b:,.1f}" for k, _, _, b in choice.rows}
    shares = ", ".join(f"{w:.1%}" for w in sorted(fit.classes.shares))
    assert f"3 classes there, of {shares.replace(', 70', ' and 70')} of the customers" in docs
    assert f"(BIC {bic[2]} for 2, {bic[3]} for 3, {bic[4]} for 4)" in docs


def test_em_first_start_reaches_the_best_of_8_on_cdnow():
    """docs/calibration.md ("EM has local optima"): on CDNOW's calibration months the first EM
    start reaches the best fit of 8, with the chosen rules and with churn after 4 and a window
    of 4, whose classes the docs quote (9.7% coming back the month after they churn, never
    dropping out; the others dropping out at 0.157 a month)."""
    from clmsim.calibrate.stages import build_stage_panel
    from test_calibrate_rfm import cdnow_log

    tx = cdnow_log()
    docs = " ".join((ROOT / "docs" / "calibration.md").read_text(encoding="utf-8").split())
    codes = dict(churned=STAGES.index("churned"), buying=(STAGES.index("repeat"), STAGES.index("loyal")),
                 n_stages=len(STAGES))
    for rules in (RFMRules(churn_after=3, frequency_window=6, loyal_frequency=2),
                  RFMRules(churn_after=4, frequency_window=4, loyal_frequency=2)):
        code = panel_codes(build_stage_panel(tx, rules))
        first = fit_classes(code, 9, 2, starts=1, **codes)
        best = fit_classes(code, 9, 2, **codes)
        assert first.loglik == pytest.approx(best.loglik, abs=1e-6)
    back = int(np.argmax(best.ret))
    assert best.ret[back] > 0.999 and best.dropout[back] < 1e-3
    assert f"{best.shares[back]:.1%} of the customers come back the month after they churn" in docs
    assert f"drop out at {best.dropout[1 - back]:.3f} a month" in docs


@pytest.mark.parametrize("options, message", [
    ({"classes": -1}, "whole number from 0 to 10"),
    ({"classes": 11}, "whole number from 0 to 10"),
    ({"classes": "two"}, "or 'auto'"),
    ({"classes": "auto", "seasonal": 12}, "cannot be combined"),
    ({"classes": 2, "seasonal": 12}, "cannot be combined"),
    ({"classes": 2, "rules": RFMRules(churn_after=3, dormant_after=6)}, "dormant"),
])
def test_classes_refuse_what_they_cannot_model(options, message):
    from test_calibrate_rfm import cdnow_log

    with pytest.raises(ClmsimError, match=message):
        fit_rfm(cdnow_log(), holdout=9, **options)


def test_cli_classes_refusals_exit_2_without_traceback(capsys):
    from clmsim.cli import main

    from test_calibrate_rfm import CDNOW

    args = ["fit", "rfm", str(CDNOW), "--sep", "whitespace", "--names", "customer_id,sample_id,date,cds,amount",
            "--date-format", "%Y%m%d"]
    try:
        code = main(args + ["--classes", "-1"])
    except SystemExit as exc:   # argparse's usage error
        code = exc.code
    assert code == 2 and "Traceback" not in capsys.readouterr().err
    try:
        code = main(args + ["--classes", "two"])
    except SystemExit as exc:
        code = exc.code
    assert code == 2 and "expected a non-negative integer or 'auto'" in capsys.readouterr().err
    assert main(args + ["--classes", "2", "--seasonal", "12"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
