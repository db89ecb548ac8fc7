"""Shifted-beta-geometric calibration.

Oracles: Fader & Hardie (2007), Table 1 data and published estimates
(regular alpha=0.704, beta=1.182; high end alpha=0.668, beta=3.806); the numerical
Hessian for the analytic information; a direct sum for the hypergeometric DERL;
S(t)/S(t-1) for the retention formula; a simulated cohort with known parameters;
the analytic engine's survival under the fitted heterogeneity block.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim.calibrate import cohorts_from_table, fit_sbg
from clmsim.calibrate.io import SURVIVAL_COLUMNS, read_table, write_yaml
from clmsim.calibrate.sbg import (churn_pmf, derl, derl_sum, information, loglik, numerical_hessian, retention,
                                  survival)
from clmsim.cli import main
from clmsim.errors import ClmsimError
from clmsim.scenario import scenario_from_text

DATA = Path(__file__).parent / "data" / "calibration"
REGULAR = np.array([1000, 631, 468, 382, 326, 289, 262, 241])
HIGH_END = np.array([1000, 869, 743, 653, 593, 551, 517, 491])


def test_fit_matches_fader_hardie_2007_regular_and_high_end():
    reg = fit_sbg(REGULAR)
    assert reg.alpha == pytest.approx(0.704, abs=5e-4)
    assert reg.beta == pytest.approx(1.182, abs=5e-4)
    high = fit_sbg(HIGH_END)
    assert high.alpha == pytest.approx(0.668, abs=5e-4)
    assert high.beta == pytest.approx(3.806, abs=5e-4)
    # a maximum: the score is zero (central differences of the log-likelihood)
    h = 1e-6
    for f, data in ((reg, REGULAR), (high, HIGH_END)):
        da = (loglik(f.alpha + h, f.beta, [data]) - loglik(f.alpha - h, f.beta, [data])) / (2 * h)
        db = (loglik(f.alpha, f.beta + h, [data]) - loglik(f.alpha, f.beta - h, [data])) / (2 * h)
        assert abs(da) < 1e-3 and abs(db) < 1e-3


def test_two_cohorts_from_file_fit_jointly_and_separately():
    cohorts = cohorts_from_table(read_table(DATA / "survival_fh2007.csv", SURVIVAL_COLUMNS, ("cohort",)))
    assert list(cohorts) == ["regular", "high_end"]
    joint = fit_sbg(cohorts)
    sep = fit_sbg(cohorts["regular"]).loglik + fit_sbg(cohorts["high_end"]).loglik
    assert joint.loglik < sep  # one (alpha, beta) for both segments fits worse than two
    assert joint.loglik == pytest.approx(loglik(joint.alpha, joint.beta, list(cohorts.values())))


def test_information_matches_numerical_hessian():
    f = fit_sbg(REGULAR)
    num = numerical_hessian(lambda x: -loglik(x[0], x[1], [REGULAR]), np.array([f.alpha, f.beta]))
    np.testing.assert_allclose(information(f.alpha, f.beta, [REGULAR]), num, rtol=1e-5)
    assert f.se_alpha == pytest.approx(np.sqrt(np.linalg.inv(num)[0, 0]), rel=1e-4)


@pytest.mark.parametrize("alpha,beta,d,renewals", [(0.704, 1.182, 0.10, 0), (0.704, 1.182, 0.10, 4),
                                                   (0.668, 3.806, 0.05, 0), (2.0, 0.5, 0.2, 10)])
def test_derl_hypergeometric_matches_direct_sum(alpha, beta, d, renewals):
    assert derl(alpha, beta, d, renewals) == pytest.approx(derl_sum(alpha, beta, d, renewals), rel=1e-10)


def test_derl_homogeneous_limit_is_geometric_annuity():
    # theta ~ Beta concentrated at 0.2 (alpha/(alpha+beta) = 0.2, alpha+beta -> inf): DERL -> 1/(1 - r x) * r
    r, x = 0.8, 1 / 1.1
    errors = [abs(derl(0.2 * s, 0.8 * s, 0.1) / (r / (1 - r * x)) - 1) for s in (10, 100, 1e4, 1e6)]
    assert errors == sorted(errors, reverse=True) and errors[-1] < 1e-5  # (2F1 for 10, 100; the sum beyond)


def test_retention_is_survival_ratio_and_probabilities_sum_to_one():
    a, b = 0.704, 1.182
    t = np.arange(1, 30)
    np.testing.assert_allclose(retention(a, b, t), survival(a, b, t) / survival(a, b, t - 1), rtol=1e-12)
    T = 12
    assert churn_pmf(a, b, np.arange(1, T + 1)).sum() + survival(a, b, T) == pytest.approx(1.0, abs=1e-12)
    assert np.all(np.diff(retention(a, b, t)) > 0)  # heterogeneity: retention rises with tenure


def simulate_cohort(alpha, beta, size, periods, rng):
    theta = rng.beta(alpha, beta, size)
    life = rng.geometric(theta)  # period of churn, 1, 2, ...
    return np.array([(life > t).sum() for t in range(periods + 1)])


def test_round_trip_recovers_parameters_within_standard_errors():
    alpha, beta = 0.8, 2.5
    rngs = [np.random.default_rng(s) for s in np.random.SeedSequence(2007).spawn(3)]
    cohorts = {f"c{i}": simulate_cohort(alpha, beta, 4000, T, r) for i, (T, r) in enumerate(zip((8, 6, 10), rngs))}
    f = fit_sbg(cohorts)
    assert abs(f.alpha - alpha) < 4.5 * f.se_alpha
    assert abs(f.beta - beta) < 4.5 * f.se_beta


def test_heterogeneity_block_is_a_valid_scenario_block():
    f = fit_sbg(REGULAR)
    text = ("schema_version: 1\nname: renewals\ntime: {period: year, horizon: 8}\n"
            "stages:\n  member: {kind: active, revenue: 1}\n  gone: {kind: lost}\n"
            "transitions:\n  member: {gone: 0.3}\ninitial_population: {member: 1000}\n")
    sc = scenario_from_text(text + write_yaml(f.heterogeneity_block(), None))
    het = sc.spec.heterogeneity.churn_probability
    assert (het.alpha, het.beta) == (pytest.approx(f.alpha, rel=1e-5), pytest.approx(f.beta, rel=1e-5))


def test_analytic_engine_survival_equals_sbg_survival():
    pytest.importorskip("clmsim.engines.analytic")
    from clmsim.api import simulate

    f = fit_sbg(REGULAR)
    text = ("schema_version: 1\nname: renewals\ntime: {period: year, horizon: 10}\n"
            "stages:\n  member: {kind: active, revenue: 1}\n  gone: {kind: lost}\n"
            "transitions:\n  member: {gone: 0.3}\ninitial_population: {member: 1000}\n")
    res = simulate(scenario_from_text(text + write_yaml(f.heterogeneity_block(), None)), engine="analytic")
    per = res.periods
    occ = per[per["item"] == "stage:member"].sort_values("period")
    t = occ["period"].to_numpy()
    block = f.heterogeneity_block()["heterogeneity"]["churn_probability"]  # 6 significant digits
    np.testing.assert_allclose(occ["mean"].to_numpy(), 1000 * survival(block["alpha"], block["beta"], t), rtol=1e-8)


def test_bad_survival_data_names_rows(tmp_path):
    with pytest.raises(ClmsimError, match="cohort 'all': alive counts rise in row 4"):
        cohorts_from_table(read_table(DATA / "survival_rising.csv", SURVIVAL_COLUMNS))
    f = tmp_path / "s.csv"
    f.write_text("period,alive\n0,100\n2,80\n")
    with pytest.raises(ClmsimError, match="periods 0, 1, ..., T without gaps; it has 0, 2"):
        cohorts_from_table(read_table(f, SURVIVAL_COLUMNS))
    f.write_text("period,alive\n0,100\n1,80\n")
    with pytest.raises(ClmsimError, match="too few observations"):
        fit_sbg(cohorts_from_table(read_table(f, SURVIVAL_COLUMNS)))
    f.write_text("period,alive\n0,100\n1,-3\n")
    with pytest.raises(ClmsimError, match="column 'alive' is negative in row 3"):
        cohorts_from_table(read_table(f, SURVIVAL_COLUMNS))
    with pytest.raises(ClmsimError, match="no customer churned"):
        fit_sbg(np.array([50, 50, 50]))


def test_cli_fit_sbg(tmp_path, capsys):
    out = tmp_path / "het.yaml"
    assert main(["fit", "sbg", str(DATA / "survival_fh2007.csv"), "--out", str(out)]) == 0
    text = out.read_text()
    assert "churn_probability: {dist: beta, alpha:" in text
    printed = capsys.readouterr().out
    assert "alpha =" in printed and "DERL" in printed
    assert main(["fit", "sbg", str(DATA / "survival_rising.csv")]) == 2
    assert main(["fit", "sbg", str(DATA / "survival_fh2007.csv"), "--cohort", "regular", "--out", str(out)]) == 0
    assert "alpha: 0.704" in out.read_text()
    assert main(["fit", "sbg", str(DATA / "survival_fh2007.csv"), "--cohort", "premium"]) == 2


def test_read_columns_without_pandas_agrees_with_read_table(tmp_path):
    from clmsim.calibrate.io import read_columns

    for path, kw in ((DATA / "survival_fh2007.csv", {}), (DATA / "survival_rising.csv", {})):
        light, full = read_columns(path, SURVIVAL_COLUMNS, ("cohort",), **kw), read_table(path, SURVIVAL_COLUMNS, ("cohort",))
        assert list(light) == list(full.columns)
        for c in light:
            assert [str(x).strip() for x in light[c]] == [str(x).strip() for x in full[c]]
    f = tmp_path / "ws.txt"
    f.write_text("0 100 a\n1  80 a\n\n2 70 a\n")
    light = read_columns(f, SURVIVAL_COLUMNS, ("cohort",), sep="whitespace", names=["period", "alive", "cohort"])
    assert light["line"].tolist() == [1, 2, 4]          # the blank line is skipped, line numbers stay the file's
    assert cohorts_from_table(light)["a"].tolist() == [100.0, 80.0, 70.0]
    f.write_text("period,alive\n0,100\n1,80,7\n")
    with pytest.raises(ClmsimError, match="line 3 has 3 fields, the header 2"):
        read_columns(f, SURVIVAL_COLUMNS)
    f.write_text("period,alive\n0,100\n1,\n")
    with pytest.raises(ClmsimError, match="empty required value in row 3"):
        read_columns(f, SURVIVAL_COLUMNS)
    f.write_text("period,alive\n0,100\n1,eighty\n")
    with pytest.raises(ClmsimError, match="column 'alive' is not a number in row 3"):
        cohorts_from_table(read_columns(f, SURVIVAL_COLUMNS))
