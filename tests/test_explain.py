"""``clmsim explain`` for students: plain words by default, both CLV timing forms, margins paid
beside lifetime, retention before and after programmes, the matrix formulas behind ``--math``."""

from __future__ import annotations

from pathlib import Path

import pytest

from clmsim.api import explain
from clmsim.cli import main
from clmsim.explain import closed_form

ROOT = Path(__file__).resolve().parent.parent
GEOMETRIC = str(ROOT / "scenarios" / "reference" / "geometric.yaml")
TEXTBOOK = str(ROOT / "scenarios" / "textbook.yaml")


def test_explain_matches_geometric_closed_forms_m_r_over_1_plus_d_minus_r_and_m_1_plus_d():
    # m = 25, r = 0.8, d = 0.10: CLV = 25 x 0.8 / 0.3, first margin at acquisition 25 x 1.1 / 0.3
    info = explain(GEOMETRIC)
    row = info["clv"].set_index("stage").loc["customer"]
    assert row["clv_infinite"] == pytest.approx(25 * 0.8 / 0.3, rel=1e-9)
    assert row["clv_entry_margin"] == pytest.approx(25 * 1.1 / 0.3, rel=1e-9)
    assert row["lifetime"] == pytest.approx(1 / 0.2, rel=1e-9)
    assert row["margins_paid"] == pytest.approx(0.8 / 0.2, rel=1e-9)
    cf = info["closed_form"][("all", "customer")]
    assert cf == pytest.approx(closed_form(25.0, 0.8, 0.10))
    assert info["retention_after"] == info["retention"] == {("all", "customer"): pytest.approx(0.8)}


def test_explain_plain_by_default_math_behind_flag(capsys):
    assert main(["explain", GEOMETRIC]) == 0
    plain = capsys.readouterr().out
    assert "(I - Q)^-1" not in plain and "Perron" not in plain
    for words in ("margins paid", "lifetime", "CLV for ever", "CLV + entry margin", "What the columns mean",
                  "66.67", "91.67", "m r / (1 + d - r)", "m (1 + d) / (1 + d - r)"):
        assert words in plain, words
    assert main(["explain", GEOMETRIC, "--math"]) == 0
    full = capsys.readouterr().out
    assert full.startswith(plain.rsplit("\n", 2)[0]) and "add --math" not in full
    assert "N = (I - Q)^-1" in full and "W_{t-1} = v (nu_t + M_t W_t)" in full


def test_explain_at_zero_discount_clv_is_margins_paid_times_margin_not_lifetime_closed_form(capsys):
    # d = 0: lifetime 1/(1-r) = 5 periods, but CLV = m r/(1-r) = 4 m = 100 (the entry period pays nothing)
    assert main(["explain", GEOMETRIC, "--set", "time.discount_rate=0"]) == 0
    out = capsys.readouterr().out
    assert "5.00" in out and "4.00" in out and "100.00" in out
    assert "CLV = 4.00 x m = 100.00, not 5.00 x m" in out
    info = explain(GEOMETRIC, overrides=["time.discount_rate=0"])
    row = info["clv"].set_index("stage").loc["customer"]
    assert row["clv_infinite"] == pytest.approx(row["margins_paid"] * 25, rel=1e-9)
    assert row["clv_entry_margin"] == pytest.approx(row["lifetime"] * 25, rel=1e-9)


def test_retention_after_programmes_matches_saturating_effect_closed_form():
    # early_abort / exploration: churn 0.50; development spends 20 with half-saturation 20 and
    # churn_reduction_max 0.3: churn x (1 - 0.3 x 20/40) = 0.425, retention 0.575
    info = explain(TEXTBOOK)
    assert info["retention"][("early_abort", "exploration")] == pytest.approx(0.5)
    assert info["retention_after"][("early_abort", "exploration")] == pytest.approx(1 - 0.5 * (1 - 0.3 * 0.5))
    # decline has the save offer (0.4, half 25, spend 30): churn 0.30 x (1 - 0.4 x 30/55)
    assert info["retention_after"][("long_term", "decline")] == pytest.approx(1 - 0.30 * (1 - 0.4 * 30 / 55))
    # the "all" row weights segments by their shares
    shares = {"early_abort": 0.30, "midway_abort": 0.25, "early_exit": 0.15, "long_term": 0.30}
    assert info["retention"][("all", "stability")] == pytest.approx(
        sum(w * info["retention"][(g, "stability")] for g, w in shares.items()))


def test_explain_prints_retention_with_programmes_and_no_worked_example_for_moving_stages(capsys):
    assert main(["explain", TEXTBOOK]) == 0
    out = capsys.readouterr().out
    assert "w/ programmes" in out and "0.5750" in out
    assert "Worked out by hand" not in out  # every textbook stage moves on: no one-line formula applies
    info = explain(TEXTBOOK)
    assert info["closed_form"] == {}


def test_explain_cohort_and_survival_are_probabilities():
    info = explain(TEXTBOOK)
    assert info["cohort_stage"] == "exploration"
    occ = info["cohort"]
    assert occ.shape == (21, 5)
    assert occ.sum(axis=1).to_numpy() == pytest.approx(1.0)
    assert occ.iloc[0]["exploration"] == pytest.approx(1.0)
    surv = info["survival"]["exploration"]
    assert surv.iloc[0] == pytest.approx(1.0) and (surv.diff().dropna() <= 1e-12).all()
    active = [s for s in occ.columns if s != "terminated"]
    assert occ[active].sum(axis=1).to_numpy() == pytest.approx(surv.to_numpy())
