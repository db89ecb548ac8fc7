"""Transition-matrix calibration: exact hand counts, round trip from a simulated panel, errors.

Oracles: hand-counted transitions of a tiny panel; a panel simulated from a known
matrix (estimates within 4.5 multinomial standard errors, the truth inside the
Dirichlet interval); the Markov-chain asymptotic standard error for the bootstrap;
gamma moments for the revenue statistics.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from clmsim.calibrate import fit_transitions, fragment, prepare_panel
from clmsim.calibrate.io import PANEL_COLUMNS, read_table, write_yaml
from clmsim.cli import main
from clmsim.errors import ClmsimError
from clmsim.model import compile_model
from clmsim.scenario import load_scenario

DATA = Path(__file__).parent / "data" / "calibration"
ROOT = Path(__file__).parent.parent

STAGES = ("new", "active", "loyal", "churned", "lost")
KINDS = {"new": "active", "active": "active", "loyal": "active", "churned": "churned", "lost": "lost"}
P_TRUE = np.array([
    [0.50, 0.30, 0.00, 0.20, 0.00],
    [0.00, 0.70, 0.15, 0.10, 0.05],
    [0.00, 0.05, 0.90, 0.05, 0.00],
    [0.00, 0.10, 0.00, 0.60, 0.30],
    [0.00, 0.00, 0.00, 0.00, 1.00],
])
REV_MEAN = {"new": 20.0, "active": 40.0, "loyal": 70.0}
REV_CV = {"new": 0.5, "active": 0.4, "loyal": 0.3}


def simulate_panel(P: np.ndarray, stages: tuple[str, ...], n_customers: int, n_periods: int, seed: int,
                   p_missing: float = 0.1, revenue: bool = True) -> pd.DataFrame:
    """Customers start in stage 0 at a random period, follow P; rows are dropped at random (gaps)
    and panels are cut at random ends (different spans). Gamma revenue in the earning stages."""
    ss = np.random.SeedSequence(seed)
    rng_path, rng_obs, rng_rev = (np.random.default_rng(s) for s in ss.spawn(3))
    cdf = np.cumsum(P, axis=1)
    rows = []
    for c in range(n_customers):
        start = int(rng_path.integers(0, n_periods // 2))
        stop = int(rng_path.integers(start + 2, n_periods + 1))
        s = 0
        for t in range(start, stop):
            if t > start:
                s = int(np.searchsorted(cdf[s], rng_path.random(), side="right"))
                s = min(s, len(stages) - 1)
            if rng_obs.random() >= p_missing:
                rows.append((f"c{c}", t, stages[s]))
    df = pd.DataFrame(rows, columns=["customer_id", "period", "stage"])
    if revenue:
        rev = np.full(len(df), np.nan)
        for name, mean in REV_MEAN.items():
            m = (df["stage"] == name).to_numpy()
            k = 1.0 / REV_CV[name] ** 2
            rev[m] = rng_rev.gamma(k, mean / k, size=m.sum())
        df["revenue_value"] = rev
    df["line"] = np.arange(len(df)) + 2
    return df


@pytest.fixture(scope="module")
def panel():
    return simulate_panel(P_TRUE, STAGES, 3000, 12, seed=20240801)


def test_counts_match_hand_count_with_gaps_skipped():
    raw = read_table(DATA / "panel_gap.csv", PANEL_COLUMNS, ("revenue",))
    fit = fit_transitions(prepare_panel(raw), min_pairs=0)
    idx = {s: i for i, s in enumerate(fit.stages)}
    expected = np.zeros((len(fit.stages), len(fit.stages)))
    # A: new->loyal (1->2), loyal->loyal (2->3); B: 1->3 is a gap, new->loyal (3->4); C: new->churned
    expected[idx["new"], idx["loyal"]] = 2
    expected[idx["loyal"], idx["loyal"]] = 1
    expected[idx["new"], idx["churned"]] = 1
    np.testing.assert_array_equal(fit.counts, expected)
    assert fit.n_gaps == 1
    np.testing.assert_allclose(fit.P[idx["new"]], expected[idx["new"]] / 3)
    # revenue: blank cells do not count; loyal = 30, 32, 28
    assert fit.revenue.loc["loyal", "mean"] == pytest.approx(30.0)
    assert fit.revenue.loc["loyal", "sd"] == pytest.approx(2.0)
    assert fit.revenue.loc["loyal", "n"] == 3
    assert "churned" not in fit.revenue.index
    rows = fit.row_totals > 0  # boundary-adjusted Dirichlet intervals always contain the estimate
    assert np.all((fit.lower[rows] <= fit.P[rows]) & (fit.P[rows] <= fit.upper[rows]))


def test_mle_recovers_known_matrix_within_standard_errors(panel):
    fit = fit_transitions(panel, stages=STAGES, kinds=KINDS)
    n_i = fit.row_totals
    for i in range(4):  # lost is absorbing
        se = np.sqrt(P_TRUE[i] * (1 - P_TRUE[i]) / n_i[i])
        ok = np.abs(fit.P[i] - P_TRUE[i]) <= 4.5 * se + 1e-12
        assert ok.all(), (STAGES[i], fit.P[i], P_TRUE[i], se)
    assert fit.n_gaps > 0  # the simulated panel has gaps and they were skipped


def test_dirichlet_interval_contains_true_matrix(panel):
    fit = fit_transitions(panel, stages=STAGES, kinds=KINDS, level=1 - 1e-5)  # ~ +-4.4 sd
    assert np.all((fit.lower <= P_TRUE + 1e-12) & (P_TRUE <= fit.upper + 1e-12))
    fit95 = fit_transitions(panel, stages=STAGES, kinds=KINDS, level=0.95)
    assert np.all(fit95.upper - fit95.lower <= fit.upper - fit.lower + 1e-12)
    assert fit95.lower[4, 4] == fit95.upper[4, 4] == 1.0  # absorbing: certain


def test_bootstrap_width_matches_markov_chain_asymptotic_se(panel):
    fit = fit_transitions(panel, stages=STAGES, kinds=KINDS, interval="bootstrap", n_boot=400, seed=5)
    n_i = fit.row_totals
    for i in range(4):
        for j in range(5):
            if P_TRUE[i, j] < 0.04:
                continue
            se = np.sqrt(P_TRUE[i, j] * (1 - P_TRUE[i, j]) / n_i[i])
            ratio = (fit.upper[i, j] - fit.lower[i, j]) / (2 * 1.959964 * se)
            # 400 replicates: the width's own relative error is ~6%; allow 4.5 of it
            assert 0.73 < ratio < 1.27, (STAGES[i], STAGES[j], ratio)
    again = fit_transitions(panel, stages=STAGES, kinds=KINDS, interval="bootstrap", n_boot=400, seed=5)
    np.testing.assert_array_equal(fit.lower, again.lower)  # seeded: reproducible


def test_revenue_matches_gamma_moments(panel):
    fit = fit_transitions(panel, stages=STAGES, kinds=KINDS)
    for name, mean in REV_MEAN.items():
        r = fit.revenue.loc[name]
        assert abs(r["mean"] - mean) < 4.5 * r["se_mean"]
        k = 1 / REV_CV[name] ** 2
        var = mean ** 2 * REV_CV[name] ** 2
        se_var = var * np.sqrt(2 / (r["n"] - 1) + 6 / (k * r["n"]))  # gamma excess kurtosis 6/k
        assert abs(r["sd"] ** 2 - var) < 4.5 * se_var


def test_fragment_extends_base_and_compiles_to_fitted_matrix(tmp_path):
    base = load_scenario(ROOT / "scenarios" / "telecom.yaml")
    model = compile_model(base)
    stages = model.stage_names
    active = [s for s in stages if s != "prospect"]
    idx = [stages.index(s) for s in active]
    P = model.P[0][np.ix_(idx, idx)]
    df = simulate_panel(P / P.sum(axis=1, keepdims=True), tuple(active), 1500, 10, seed=7, revenue=False)
    csv = tmp_path / "panel.csv"
    df[["customer_id", "period", "stage"]].to_csv(csv, index=False)
    out = tmp_path / "fitted.yaml"
    assert main(["fit", "transitions", str(csv), "--base", str(ROOT / "scenarios" / "telecom.yaml"),
                 "--out", str(out), "--min-pairs", "5"]) == 0
    sc = load_scenario(out)
    fitted = compile_model(sc)
    fit = fit_transitions(df, stages=stages, kinds={n: st.kind for n, st in base.spec.stages.items()},
                          min_pairs=5)
    for s in ("new", "growing", "declining", "churned"):
        i = stages.index(s)
        np.testing.assert_allclose(fitted.P[0, i], fit.P[i], atol=2e-6)
    # the fit put new -> loyal at 0 (telecom has none) but every base entry is overridden, zeros included
    text = out.read_text()
    assert "extends:" in text


def test_fragment_without_base_is_extendable(tmp_path):
    raw = read_table(DATA / "panel_gap.csv", PANEL_COLUMNS, ("revenue",))
    fit = fit_transitions(prepare_panel(raw), kinds={"new": "active", "loyal": "active", "churned": "churned"},
                          min_pairs=0)
    write_yaml(fragment(fit), tmp_path / "fitted.yaml")
    (tmp_path / "mine.yaml").write_text(
        "extends: fitted.yaml\nschema_version: 1\nname: mine\ntime: {horizon: 12}\n"
        "initial_population: {new: 100}\n", encoding="utf-8")
    sc = load_scenario(tmp_path / "mine.yaml")
    assert sc.spec.transitions["new"] == pytest.approx({"loyal": 2 / 3, "churned": 1 / 3}, abs=1e-6)
    assert sc.spec.stages["loyal"].revenue.mean == pytest.approx(30.0)


def test_unknown_stage_names_rows(tmp_path):
    raw = read_table(DATA / "panel_unknown_stage.csv", PANEL_COLUMNS)
    with pytest.raises(ClmsimError, match=r"unknown stages 'growing', 'loyl' in rows 3, 4; known: new, loyal"):
        fit_transitions(prepare_panel(raw), stages=("new", "loyal"), min_pairs=0)


def test_missing_column_is_named(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("customer,period,stage\nA,1,new\n")
    with pytest.raises(ClmsimError, match="lacks column 'customer_id'; it has 'customer', 'period', 'stage'"):
        read_table(f, PANEL_COLUMNS, what="panel")
    assert main(["fit", "transitions", str(f)]) == 2
    assert main(["fit", "transitions", str(f), "--columns", "customer=customer_id", "--min-pairs", "0"]) == 0


def test_bad_period_duplicate_rows_and_lost_leavers_name_rows(tmp_path):
    f = tmp_path / "p.csv"
    f.write_text("customer_id,period,stage\nA,1,new\nA,x,new\n")
    with pytest.raises(ClmsimError, match="column 'period' is not a number in row 3"):
        prepare_panel(read_table(f, PANEL_COLUMNS))
    f.write_text("customer_id,period,stage\nA,1,new\nA,1,lost\nA,2,new\n")
    with pytest.raises(ClmsimError, match="two rows for one period in rows 2, 3"):
        fit_transitions(prepare_panel(read_table(f, PANEL_COLUMNS)), min_pairs=0)
    f.write_text("customer_id,period,stage\nA,1,new\nA,2,lost\nA,3,new\n")
    with pytest.raises(ClmsimError, match=r"leave the absorbing \(kind lost\) stage 'lost' in row 4"):
        fit_transitions(prepare_panel(read_table(f, PANEL_COLUMNS)), kinds={"lost": "lost"}, min_pairs=0)


def test_too_few_observations_names_stage_and_rows():
    raw = read_table(DATA / "panel_gap.csv", PANEL_COLUMNS, ("revenue",))
    with pytest.raises(ClmsimError, match=r"too few observations.*stage 'new' has 3 consecutive-period pairs "
                                          r"\(minimum 20\); it appears in rows 2, 5, 6, 8"):
        fit_transitions(prepare_panel(raw))
    assert main(["fit", "transitions", str(DATA / "panel_gap.csv")]) == 2


def test_cli_writes_table_and_fragment(tmp_path, capsys):
    out, table = tmp_path / "f.yaml", tmp_path / "t.csv"
    assert main(["fit", "transitions", str(DATA / "panel_gap.csv"), "--min-pairs", "0", "--out", str(out),
                 "--table", str(table), "--kind", "churned=churned", "--kind", "new=active",
                 "--kind", "loyal=active"]) == 0
    t = pd.read_csv(table)
    row = t[(t["from"] == "new") & (t["to"] == "loyal")].iloc[0]
    assert row["count"] == 2 and row["p"] == pytest.approx(2 / 3) and row["lower"] < row["p"] < row["upper"]
    assert "transitions:" in out.read_text()
    assert "1 gaps skipped" in capsys.readouterr().out


from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402


@settings(max_examples=60, deadline=None)
@given(st.lists(st.lists(st.integers(0, 50), min_size=4, max_size=4), min_size=4, max_size=4))
def test_written_rows_always_validate_and_keep_the_estimate(counts):
    """Property: for any counts, the written rows are a valid scenario (rounded down, sums <= 1)
    and differ from the MLE by < 1e-6; intervals contain the estimate."""
    from clmsim.calibrate.transitions import TransitionFit, dirichlet_intervals, mle
    from clmsim.scenario import scenario_from_text

    C = np.array(counts, dtype=float)
    stages = ("a", "b", "c", "d")
    P = mle(C)
    lo, hi = dirichlet_intervals(C)
    rows = C.sum(axis=1) > 0
    assert np.all((lo[rows] <= P[rows] + 1e-12) & (P[rows] <= hi[rows] + 1e-12))
    fit = TransitionFit(stages=stages, counts=C, P=P, lower=lo, upper=hi, method="dirichlet", level=0.95,
                        n_customers=1, n_rows=1, n_gaps=0, revenue=pd.DataFrame(),
                        kinds={s: "active" for s in stages})
    block = fit.transitions_block()
    text = ("schema_version: 1\nname: p\ntime: {horizon: 3}\nstages:\n"
            + "".join(f"  {s}: {{kind: active, revenue: 1}}\n" for s in stages)
            + (write_yaml({"transitions": block}, None) if block else ""))
    sc = scenario_from_text(text)
    for src, row in block.items():
        i = stages.index(src)
        for dst, p in row.items():
            # each entry is rounded down to 6 decimals; a row nobody stays in gives
            # the remainder to its largest entry, which absorbs up to len(row) * 1e-6
            assert abs(p - P[i, stages.index(dst)]) <= len(row) * 1e-6 + 1e-12
        assert sum(row.values()) <= 1 + 1e-9
    assert sc.spec.name == "p"
