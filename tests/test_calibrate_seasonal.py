"""Seasonal multipliers of ``fit rfm --seasonal N``.

Oracles: transactions simulated from a stage chain whose purchase probabilities and amounts
carry known monthly factors (the fit recovers every factor within 4.5 of its standard errors);
equal estimates give Cochran's Q = 0 (no seasonality); the emitted ``{base, seasonality}``
entries, read by their documented formula, are the chain the holdout propagation uses, every
period's row sums to at most 1 (capped multipliers named); the rule choice with seasonality
reads nothing after the calibration window; the analytic engine on the emitted scenario equals
the numpy propagation (runs once the scenario language accepts seasonality).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clmsim.calibrate import RFMRules, fit_rfm
from clmsim.calibrate.report import analytic_engine_available, holdout_report
from clmsim.calibrate.rfm import _positions, _tx_per_period, choose_rules
from clmsim.calibrate.seasonal import (Factors, SeasonalFit, _shrunk, block_matrices, cycle_positions,
                                       entry_value, scenario_accepts_seasonality)
from clmsim.cli import main
from clmsim.errors import ClmsimError

ROOT = Path(__file__).parent.parent
DATA = Path(__file__).parent / "data" / "calibration"
CDNOW = ROOT / "data" / "cdnow" / "CDNOW_sample.txt"
CDNOW_ARGS = ["--sep", "whitespace", "--names", "customer_id,sample_id,date,cds,amount", "--date-format", "%Y%m%d"]

BUY = {"new": 0.5, "loyal": 0.45, "lapsing": 0.3, "churned": 0.08}
MONTH = np.arange(12)
TRUE_M = 1 + 0.3 * np.sin(2 * np.pi * (MONTH - 8) / 12)      # purchase factor by month of year (Jan = 0)
TRUE_G = 1 + 0.2 * np.cos(2 * np.pi * MONTH / 12)            # amount factor
AMOUNT_MEAN, AMOUNT_CV = 50.0, 0.5
# every purchase month is 'loyal' (window 1, frequency 1); 1 month without -> lapsing, 2 -> churned
RULES = RFMRules(period="month", churn_after=2, frequency_window=1, loyal_frequency=1)
N_MONTHS = 36


def simulate(n_customers: int, seed: int) -> pd.DataFrame:
    """Customers arrive in months 0..5 (first purchase); afterwards a customer in stage s buys in
    month t with probability BUY[s] * TRUE_M[month of t]; amounts are gamma with mean
    AMOUNT_MEAN * TRUE_G[month of t]. The stages under RULES are then an exact seasonal chain."""
    rng_arr, rng_buy, rng_amt, rng_day = (np.random.default_rng(s) for s in np.random.SeedSequence(seed).spawn(4))
    months = pd.date_range("2020-01-01", periods=N_MONTHS, freq="MS")
    k = 1 / AMOUNT_CV ** 2
    t0 = rng_arr.integers(0, 6, n_customers)
    stage = np.full(n_customers, "", dtype=object)
    recency = np.zeros(n_customers, dtype=int)
    cust, when, amount = [], [], []
    for t in range(N_MONTHS):
        mo = months[t].month - 1
        arriving = t0 == t
        p = np.array([BUY.get(s, 0.0) for s in stage]) * TRUE_M[mo]
        buys = (rng_buy.random(n_customers) < p) & (t0 < t)
        bought = buys | arriving
        idx = np.nonzero(bought)[0]
        cust += [f"c{i}" for i in idx]
        when += list(months[t] + pd.to_timedelta(rng_day.integers(0, 28, len(idx)), unit="D"))
        amount += list(rng_amt.gamma(k, AMOUNT_MEAN * TRUE_G[mo] / k, len(idx)))
        recency = np.where(bought, 0, recency + 1)
        stage = np.where(arriving, "new", np.where(t0 < t, np.where(buys, "loyal", np.where(
            recency < 2, "lapsing", "churned")), stage)).astype(object)
    df = pd.DataFrame({"customer_id": cust, "date": when, "amount": amount})
    df["line"] = np.arange(len(df)) + 2
    return df


END = pd.Timestamp("2022-12-31")


@pytest.fixture(scope="module")
def seasonal_fit():
    return fit_rfm(simulate(3000, seed=17), RULES, end=END, holdout=12, seasonal=12)


def test_known_model_monthly_factors_recovered_within_standard_errors(seasonal_fit):
    """Oracle: the simulation's purchase and amount factors (normalised to mean 1)."""
    sf = seasonal_fit.seasonal
    assert sf.purchase.supported and sf.revenue is not None and sf.revenue.supported
    want_m = TRUE_M / TRUE_M.mean()
    want_g = TRUE_G / TRUE_G.mean()
    assert list(sf.purchase.seen) == [2] + [3] * 11 and np.mean(sf.purchase.multipliers) == pytest.approx(1.0)
    assert np.all(np.abs(sf.purchase.multipliers - want_m) <= 4.5 * sf.purchase.se), (sf.purchase.multipliers, want_m)
    assert np.all(np.abs(sf.revenue.multipliers - want_g) <= 4.5 * sf.revenue.se), (sf.revenue.multipliers, want_g)
    # the bases are the stage purchase probabilities at multiplier 1 (binomial se of the stage's pairs)
    for s in ("loyal", "lapsing", "churned"):
        i = sf.stages.index(s)
        n = seasonal_fit.fit.row_totals[i]
        b = BUY[s] * TRUE_M.mean()
        assert abs(sf.buy_base[i] - b) <= 4.5 * np.sqrt(b * (1 - b) / n) + 0.02 * b, s
    rev = seasonal_fit.scenario["stages"]["loyal"]["revenue"]["mean"]
    assert rev["seasonality"]["period"] == 12
    se_mean = seasonal_fit.fit.revenue.loc["loyal", "se_mean"]
    assert abs(rev["base"] - AMOUNT_MEAN * TRUE_G.mean()) <= 4.5 * se_mean


def test_calibration_factors_ignore_the_holdout(seasonal_fit):
    """The report's factors come from the 24 calibration months (no move into the first January)."""
    hs = seasonal_fit.holdout_seasonal
    assert list(hs.purchase.seen) == [1] + [2] * 11
    cut = simulate(3000, seed=17)
    cut = cut[cut["date"] <= pd.Timestamp("2021-12-31")]
    alone = fit_rfm(cut, RULES, end=pd.Timestamp("2021-12-31"), seasonal=12).seasonal
    np.testing.assert_allclose(hs.purchase.multipliers, alone.purchase.multipliers, rtol=1e-12)


def test_emitted_entries_follow_the_documented_formula_and_phase(seasonal_fit):
    """value(t) = base * multipliers[(t - 1 + phase - 1) mod period], phase = the month after the data."""
    res = seasonal_fit
    sc = res.scenario
    entry = sc["transitions"]["churned"]["loyal"]
    assert set(entry) == {"base", "seasonality"}
    season = entry["seasonality"]
    assert season["period"] == 12 and len(season["multipliers"]) == 12
    assert season["phase"] == 1  # the data end in December 2022: the scenario starts in January
    assert entry_value(entry, 1) == pytest.approx(entry["base"] * season["multipliers"][0])
    assert entry_value(entry, 14) == pytest.approx(entry["base"] * season["multipliers"][1])
    H = 24
    from_block = block_matrices(sc["transitions"], res.fit.stages, np.arange(1, H + 1))
    pos = _positions(res.stages, "month", 12, res.stages.n_periods + H)[-H:]
    direct = res.seasonal.matrices(res.fit.transitions_block(), pos)
    np.testing.assert_allclose(from_block, direct, atol=1e-12)
    assert np.all(from_block >= -1e-12) and np.all(from_block.sum(axis=2) <= 1 + 1e-12)


def test_holdout_uses_the_calibration_seasonal_chain(seasonal_fit):
    res = seasonal_fit
    rep = res.report
    Tc = rep.calibration_periods
    sp = res.stages
    cal = sp.panel[sp.panel["period"] < Tc]
    pos = _positions(sp, "month", 12, sp.n_periods)
    from clmsim.calibrate.rfm import _fit_panel

    cal_fit = _fit_panel(cal.reset_index(drop=True), res.holdout_seasonal.stages)
    P = res.holdout_seasonal.matrices(cal_fit.transitions_block(), pos)
    numpy_rep = holdout_report(sp.panel, sp.first_period, sp.customers, sp.starts, cal_fit.stages, P,
                               _tx_per_period(cal), Tc)
    np.testing.assert_allclose(rep.holdout["expected_transactions"], numpy_rep.holdout["expected_transactions"],
                               rtol=1e-9)
    # on data with real seasonality the seasonal forecast tracks the holdout months better than the constant one
    constant = fit_rfm(simulate(3000, seed=17), RULES, end=END, holdout=12).report
    assert rep.tracking_error < constant.tracking_error


def test_rows_stay_probabilities_in_every_period_and_caps_are_named():
    stages = ("lapsing", "loyal", "churned")
    P = np.array([[0.2, 0.7, 0.1], [0.3, 0.7, 0.0], [0.0, 0.05, 0.95]])
    f = Factors(multipliers=np.array([0.2, 1.8]), se=np.zeros(2), raw=np.array([0.2, 1.8]), raw_se=np.zeros(2),
                seen=np.ones(2, int), q=50.0, p_value=1e-9, tau=0.5)
    sf = SeasonalFit(cycle=2, period="month", stages=stages, buying=("loyal",), P=P, purchase=f,
                     buy_base=np.array([0.7, 0.7, 0.05]), revenue=None, revenue_base={})
    assert ("lapsing", 1) in sf.capped() and ("loyal", 1) in sf.capped() and ("churned", 1) not in sf.capped()
    assert "capped at 1 / base" in sf.describe()
    M = sf.matrices({"lapsing": {"loyal": 0.7, "churned": 0.1}, "loyal": {"lapsing": 0.3},
                     "churned": {"loyal": 0.05}}, np.array([0, 1]))
    assert np.all(M >= -1e-12) and np.all(M.sum(axis=2) == pytest.approx(1.0))
    assert M[1, 0, 1] == pytest.approx(1.0) and M[1, 1, 1] == pytest.approx(1.0)   # capped: buys for sure
    assert M[0, 0, 1] == pytest.approx(0.14) and M[1, 2, 1] == pytest.approx(0.09)  # 0.7 x 0.2, 0.05 x 1.8


def test_equal_estimates_are_not_seasonal():
    est = np.array([1.0, 1.0, 1.0, 1.0])
    log_m, sd, q, p, tau = _shrunk(est, np.full(4, 0.05), np.ones(4, bool))
    assert q == 0 and p == pytest.approx(1.0) and tau == 0 and np.all(log_m == 0)
    f = Factors(multipliers=np.ones(4), se=sd, raw=est, raw_se=np.full(4, 0.05), seen=np.ones(4, int), q=q,
                p_value=p, tau=tau)
    sf = SeasonalFit(cycle=4, period="quarter", stages=("a", "b"), buying=("b",), P=np.array([[0.5, 0.5], [0.5, 0.5]]),
                     purchase=f, buy_base=np.array([0.5, 0.5]), revenue=None, revenue_base={})
    assert sf.rows() == {} and sf.transitions_block({"a": {"b": 0.5}}, phase=3) == {"a": {"b": 0.5}}


def test_cycle_positions_are_calendar_positions():
    starts = pd.date_range("1997-11-01", periods=4, freq="MS")
    assert list(cycle_positions(starts, "month", 12)) == [10, 11, 0, 1]
    assert list(cycle_positions(pd.date_range("2020-07-01", periods=3, freq="QS"), "quarter", 4)) == [2, 3, 0]


# ------------------------------------------------------------------ CDNOW and the CLI
def cdnow_log():
    from clmsim.calibrate import prepare_transactions
    from clmsim.calibrate.io import TRANSACTION_COLUMNS, read_table

    raw = read_table(CDNOW, TRANSACTION_COLUMNS, sep="whitespace",
                     names=["customer_id", "sample_id", "date", "cds", "amount"])
    return prepare_transactions(raw, "%Y%m%d")


def test_cdnow_seasonal_cli_choice_without_the_holdout_and_docs_figures(tmp_path, capsys):
    out, report = tmp_path / "cdnow.yaml", tmp_path / "report.md"
    assert main(["fit", "rfm", str(CDNOW), *CDNOW_ARGS, "--holdout", "9", "--seasonal", "12",
                 "--out", str(out), "--report", str(report)]) == 0
    printed = capsys.readouterr().out
    assert "seasonal multipliers (12 months per cycle, fitted on all 18 months" in printed
    md = report.read_text(encoding="utf-8")
    assert "seasonal multipliers (12 months per cycle, fitted on the 9 calibration months only" in md
    assert "with seasonal multipliers (cycle of 12 months, fitted on the calibration months)" in md
    assert re.search(r"^\s+Oct\s+0\s+-\s+", md, re.M)  # never seen before the holdout
    assert re.search(r"^\s+Nov\s+1\s+1\.\d{3} \(0\.\d{3}\)", printed, re.M)  # the factor table
    assert "the chosen rules without them: tracking" in printed
    # the default classes (auto) step aside for seasonality, and say so
    assert "note: no latent classes (the default is --classes auto): they do not combine with --seasonal yet" \
        in printed
    # the choice with seasonal multipliers reads nothing after the calibration window
    tx = cdnow_log()
    cut = tx[tx["date"] < pd.Timestamp("1997-10-01")]
    alone = choose_rules(cut, {}, end=pd.Timestamp("1997-09-30"), seasonal=12)
    full = fit_rfm(tx, holdout=9, seasonal=12)
    pd.testing.assert_frame_equal(full.choice.table, alone.table)
    assert full.choice.constant == alone.constant


RULE_ROW = re.compile(r"^\| (monthly|quarterly|weekly), (.*?) \| (\d+) (?:months|quarters|weeks) \| (.*?) \| (.*?) \| (.*?) \|$",
                      re.M)


def test_docs_rule_by_rule_table_is_what_the_code_gives(capsys):
    """docs/calibration.md, CDNOW: every line of the rule-by-rule table, re-run through the CLI."""
    import shlex

    docs = (ROOT / "docs" / "calibration.md").read_text(encoding="utf-8")
    rows = RULE_ROW.findall(docs)
    assert len(rows) >= 12 and any("--seasonal 12" in r[1] for r in rows)
    for period, rules, holdout, total, tracking, buyers in rows:
        args = ["fit", "rfm", str(CDNOW), *CDNOW_ARGS, "--holdout", holdout,
                "--period", {"monthly": "month", "quarterly": "quarter", "weekly": "week"}[period]]
        for opt in re.findall(r"`([^`]*)`", rules):
            args += shlex.split(opt)
        assert main(args) == 0
        m = re.search(r"\(([+-][\d.]+%)\); tracking error .*? of repeat transactions ([\d.]+%), "
                      r"of repeat purchasers ([\d.]+%)", capsys.readouterr().out)
        assert (m.group(1).replace("-", "\u2212"), m.group(2), m.group(3)) == (total, tracking, buyers), (rules, m.groups())


@pytest.mark.parametrize("value, message", [
    ("0", "expected a whole number of periods >= 2"), ("1", "expected a whole number of periods >= 2"),
    ("twelve", "expected a whole number of periods >= 2"), ("2.5", "expected a whole number of periods >= 2"),
    ("5000", "from 2 to 1000"),
])
def test_cli_refuses_a_bad_cycle_length(value, message, capsys):
    try:  # a usage error exits from argparse, a fit error returns: both exit status 2
        code = main(["fit", "rfm", str(DATA / "transactions_small.csv"), "--min-pairs", "0", "--seasonal", value])
    except SystemExit as exc:
        code = exc.code
    assert code == 2
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err
    with pytest.raises(ClmsimError, match="from 2 to 1000"):
        fit_rfm(cdnow_log().head(0), seasonal=1)


def test_seasonal_with_parameter_uncertainty_is_refused(capsys):
    assert main(["fit", "rfm", str(DATA / "transactions_small.csv"), "--min-pairs", "0", "--seasonal", "12",
                 "--uncertainty"]) == 2
    assert "cannot be combined yet" in capsys.readouterr().err


@pytest.mark.skipif(not scenario_accepts_seasonality(),
                    reason="the scenario language does not accept {base, seasonality} entries yet")
def test_emitted_seasonal_scenario_validates_and_analytic_equals_numpy(seasonal_fit, tmp_path):
    """Oracle: the analytic engine on the holdout scenario = the numpy propagation of the
    seasonal chain; the scenario written by --out validates and runs."""
    pytest.importorskip("clmsim.engines.analytic")
    from clmsim.api import simulate as run
    from clmsim.calibrate.io import write_yaml
    from clmsim.scenario import load_scenario

    res = seasonal_fit
    assert res.report.engine == "analytic"
    sp = res.stages
    Tc = res.report.calibration_periods
    cal = sp.panel[sp.panel["period"] < Tc]
    from clmsim.calibrate.rfm import _fit_panel

    cal_fit = _fit_panel(cal.reset_index(drop=True), res.holdout_seasonal.stages)
    P = res.holdout_seasonal.matrices(cal_fit.transitions_block(), _positions(sp, "month", 12, sp.n_periods))
    numpy_rep = holdout_report(sp.panel, sp.first_period, sp.customers, sp.starts, cal_fit.stages, P,
                               _tx_per_period(cal), Tc)
    assert numpy_rep.engine == "numpy"
    np.testing.assert_allclose(res.report.holdout["expected_transactions"],
                               numpy_rep.holdout["expected_transactions"], rtol=1e-9)
    out = tmp_path / "seasonal.yaml"
    write_yaml(res.scenario, out)
    assert main(["validate", str(out)]) == 0
    assert run(load_scenario(out), engine="analytic").provenance["engine"] == "analytic"
