"""Latent classes with dropout (clmsim.calibrate.classes, fit rfm --classes). Oracles: the spell
law's closed form; data simulated from known classes; the numpy propagation of the fitted classes
(the fit report); the classes' own chains (the scenario on the analytic engine)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim.calibrate import RFMRules, fit_rfm
from clmsim.calibrate.classes import churned_spells, fit_classes, spell_loglik
from clmsim.calibrate.rfm import STAGES, panel_codes
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


@pytest.fixture(scope="module")
def cdnow_classes():
    from test_calibrate_rfm import cdnow_log

    tx = cdnow_log()
    return tx, fit_rfm(tx, holdout=9, classes=2)


def test_cdnow_classes_holdout_is_the_classes_propagated_oracle_numpy(cdnow_classes):
    """The fit report's holdout (analytic engine on the classes' scenario, whole customers) is the
    numpy propagation of the classes fitted on the calibration months from each customer's
    posterior occupancy, up to the rounding to whole customers; and it is the benchmark's
    prototype (docs/calibration.md quotes both: tracking 11.4%, total -11.8%)."""
    _, res = cdnow_classes
    rep, cls = res.report, res.holdout_classes
    assert rep.engine == "analytic" and rep.classes == 2
    code = panel_codes(res.stages)
    Tc, T = rep.calibration_periods, res.stages.n_periods
    x = cls.occupancy(code[:, Tc - 1], res.stages.first_period < Tc)
    rate = np.zeros(len(STAGES) + 1)
    cal = res.stages.panel[res.stages.panel["period"] < Tc]
    for s in ("repeat", "loyal"):
        rate[STAGES.index(s)] = cal.loc[cal["stage"] == s, "transactions"].mean()
    want = np.zeros(T - Tc)
    for k in range(cls.K):
        y = x[k]
        for h in range(T - Tc):
            y = y @ cls.matrix(k)
            want[h] += y @ rate
    got = rep.holdout["expected_transactions"].to_numpy()
    np.testing.assert_allclose(got, want, rtol=2e-3)   # whole customers: at most a few of ~2,400 moved
    assert f"{rep.tracking_error:.1%}" == "11.4%" and f"{rep.holdout_error:+.1%}" == "-11.8%"


def test_classes_scenario_writes_the_classes_chains_oracle_analytic_engine(cdnow_classes):
    """The scenario's segments are the classes: the analytic engine's occupancy after one period
    is each segment's initial population moved by its class's matrix (entries rounded down to 6
    decimals), and the populations are the alive customers of each class, in whole customers."""
    from clmsim.api import simulate
    from clmsim.calibrate.io import write_yaml
    from clmsim.scenario import scenario_from_text

    _, res = cdnow_classes
    sc, cls = res.scenario, res.classes
    assert sc["stages"]["dropped"] == {"kind": "lost"} and "initial_population" not in sc
    segs = sc["segments"]
    assert list(segs) == ["class_1", "class_2"] and sum(s["share"] for s in segs.values()) == pytest.approx(1, abs=1e-12)
    order = np.argsort(-cls.ret)
    code = panel_codes(res.stages)
    alive = cls.occupancy(code[:, -1], code[:, -1] >= 0)[:, :-1].sum()
    total = sum(sum(s["initial_population"].values()) for s in segs.values())
    assert total == round(alive)
    # docs/calibration.md: "669 of the 2,057 customers churned at the end of the data are still alive"
    still = sum(s["initial_population"].get("churned", 0) for s in segs.values())
    assert (still, int((code[:, -1] == STAGES.index("churned")).sum())) == (669, 2057)
    docs = " ".join((ROOT / "docs" / "calibration.md").read_text(encoding="utf-8").split())
    assert "669 of the 2,057 customers churned" in docs
    # and the classes it quotes ("Fitted on all 18 months (the scenario's segments)")
    (hi, lo) = order
    assert (f"`class_1` is {cls.shares[hi]:.1%} of the customers, coming back at {cls.ret[hi]:.3f} a month and "
            f"dropping out at {cls.dropout[hi]:.3f}, and `class_2` {cls.shares[lo]:.1%}, at {cls.ret[lo]:.3f} and "
            f"{cls.dropout[lo]:.3f}") in docs
    stages = res.stages.stages
    per = simulate(scenario_from_text(write_yaml(sc, None), "<classes>"), engine="analytic").periods
    got = np.array([per[(per["item"] == f"stage:{s}") & (per["period"] == 1)]["mean"].iloc[0] for s in stages])
    want = np.zeros(len(stages))
    for i, k in enumerate(order):
        x = np.zeros(len(STAGES) + 1)
        for s, n in segs[f"class_{i + 1}"]["initial_population"].items():
            x[STAGES.index(s)] = n
        want += (x @ cls.matrix(int(k)))[[STAGES.index(s) for s in stages]]
    np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-6)   # entries rounded down to 6 decimals


@pytest.mark.parametrize("options, message", [
    ({"classes": 0}, "whole number from 1 to 10"),
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
        code = main(args + ["--classes", "0"])
    except SystemExit as exc:   # argparse's usage error
        code = exc.code
    assert code == 2 and "Traceback" not in capsys.readouterr().err
    assert main(args + ["--classes", "2", "--seasonal", "12"]) == 2
    assert "cannot be combined" in capsys.readouterr().err
