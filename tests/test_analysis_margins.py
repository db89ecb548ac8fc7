"""Marginal returns (clmsim margins) against closed forms.

Oracle: one active stage with retention r and margin m per period, no discounting (d = 0), horizon
H. A customer acquired in period t earns m in each of the periods t+1..H it survives, so the
customers bought in every period are worth ``m S / H`` each on average, with
``S = sum_{t=1..H} sum_{u=1..H-t} r^u``. A channel buying ``f(x)`` customers per period for spend
``x`` per period gives ``NPV(x) = const + f(x) m S - H x`` and ``PV(spend) = const + H x``, so
``dNPV / dPV(spend) = f'(x) m S / H - 1``: linear response ``f = x / c``, saturating
``f = a x / (x + b)``.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from clmsim import scenario_from_text
from clmsim.analysis.margins import margins
from clmsim.cli import main

H, R, M = 24, 0.9, 10.0
A, B, C = 100.0, 500.0, 20.0
TEXT = f"""
schema_version: 1
name: margins-oracle
time: {{period: month, horizon: {H}, discount_rate: 0}}
stages:
  customer: {{kind: active, revenue: {M}, margin: 1.0}}
  gone: {{kind: lost}}
transitions:
  customer: {{gone: {1 - R}}}
initial_population: {{customer: 100}}
acquisition:
  channels:
    linear: {{spend_per_period: 1000, response: {{type: linear, cost_per_customer: {C}}}, entry_stage: customer}}
    saturating: {{spend_per_period: 300, response: {{type: saturating, max_customers: {A}, half_saturation_spend: {B}}},
                 entry_stage: customer}}
strategies:
  baseline: {{}}
  no_linear: {{acquisition.channels.linear.spend_per_period: 0}}
"""
S = sum(R ** u for t in range(1, H + 1) for u in range(1, H - t + 1))


def test_channel_marginal_returns_match_closed_form():
    m = margins(scenario_from_text(TEXT)).table.set_index("lever")
    lin = m.loc["acquisition.channels.linear.spend_per_period"]
    sat = m.loc["acquisition.channels.saturating.spend_per_period"]
    assert lin["marginal_return"] == pytest.approx(M * S / (C * H) - 1.0, rel=1e-9)
    exact = A * B / (300.0 + B) ** 2 * M * S / H - 1.0
    assert sat["marginal_return"] == pytest.approx(exact, rel=1e-7)
    assert sat["error"] < 1e-3 * abs(exact) and lin["central"] and sat["central"]
    # the levers' present value of spend now: H x with d = 0
    assert lin["pv_spend"] == pytest.approx(H * 1000.0) and sat["pv_spend"] == pytest.approx(H * 300.0)
    assert list(m["marginal_return"]) == sorted(m["marginal_return"], reverse=True)   # best first


def test_lever_at_zero_moves_up_one_sided_and_still_matches_closed_form():
    m = margins(scenario_from_text(TEXT), "no_linear").table.set_index("lever")
    lin = m.loc["acquisition.channels.linear.spend_per_period"]
    assert not lin["central"] and lin["value"] == 0.0
    assert lin["marginal_return"] == pytest.approx(M * S / (C * H) - 1.0, rel=1e-9)  # linear: any step is exact


def test_margins_command_ranks_levers_and_names_where_the_next_unit_goes(tmp_path, capsys):
    path = tmp_path / "m.yaml"
    path.write_text(TEXT, encoding="utf-8")
    assert main(["margins", str(path)]) == 0
    out = capsys.readouterr().out
    best = "acquisition.channels.saturating.spend_per_period"   # closed forms: 3.34 against 1.77 (linear)
    assert f"goes to {best}" in out and "marginal return" in out
    assert main(["margins", str(path), "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["levers"][0]["lever"] == best and doc["info"]["engine"] == "analytic"
    assert main(["margins", str(path), "--strategy", "nope"]) == 2


def test_lever_losing_at_the_margin_is_cut_when_spending_and_not_started_at_zero(tmp_path, capsys):
    """A linear channel at 1,000 per customer loses (closed form ``m S / (C H) - 1 < 0``): where it
    spends (baseline) the advice is to spend less on it; at 0 (``no_linear``) there is nothing to
    cut, so it is "not worth starting". A spend lever has no cap."""
    text = TEXT.replace(f"cost_per_customer: {C}", "cost_per_customer: 1000")
    for strategy in ("baseline", "no_linear"):
        t = margins(scenario_from_text(text), strategy).table.set_index("lever")
        lin = t.loc["acquisition.channels.linear.spend_per_period"]
        assert lin["marginal_return"] == pytest.approx(M * S / (1000 * H) - 1.0, rel=1e-9)
        assert M * S / (1000 * H) - 1.0 < 0
        assert np.isinf(lin["room"]) and np.isnan(lin["room_dnpv"])
    path = tmp_path / "m.yaml"
    path.write_text(text, encoding="utf-8")
    assert main(["margins", str(path)]) == 0
    out = capsys.readouterr().out
    assert "spending less pays on: acquisition.channels.linear.spend_per_period" in out and "not worth" not in out
    assert main(["margins", str(path), "--strategy", "no_linear"]) == 0
    out = capsys.readouterr().out
    assert "not worth starting: acquisition.channels.linear.spend_per_period" in out and "spending less" not in out
    assert "no cap" in out


def test_winback_coverage_room_is_the_plan_written_at_coverage_one_oracle_analytic_engine(capsys):
    """A marginal return holds for the next units only, and a coverage stops at 1: the room of
    telecom's win-back coverage (0.7) is the extra present value of spend, and room_dnpv the NPV
    change, of the same scenario written with coverage 1 (the analytic engine); there its room is
    0, the advice names the next lever, and the next unit goes to the runner-up."""
    from pathlib import Path

    path = Path(__file__).resolve().parents[1] / "scenarios" / "telecom.yaml"
    lever = "winback.policies.reactivation_offer.coverage"
    m = margins(path)
    full = margins(path, overrides=[f"{lever}=1"])
    row, at_one = m.table.set_index("lever").loc[lever], full.table.set_index("lever").loc[lever]
    assert row["room"] == pytest.approx(full.info["pv_spend"] - m.info["pv_spend"], rel=1e-9)
    assert row["room_dnpv"] == pytest.approx(full.info["npv"] - m.info["npv"], rel=1e-9)
    assert row["room"] > 0 and at_one["room"] == 0 and at_one["room_dnpv"] == 0
    assert main(["margins", str(path)]) == 0
    out = capsys.readouterr().out
    assert f"the next unit of spend goes to {lever}" in out and "before its coverage reaches 1" in out
    assert "after that, acquisition.channels.retail_stores.spend_per_period" in out
    assert main(["margins", str(path), "--set", f"{lever}=1"]) == 0
    out = capsys.readouterr().out
    assert f"at coverage 1 already: {lever}" in out
    assert "the next unit of spend goes to acquisition.channels.retail_stores.spend_per_period" in out


def test_docs_margins_output_is_the_commands(capsys):
    """docs/analysis.md shows `clmsim margins scenarios/telecom.yaml` as it prints (the closing
    definitions line left out)."""
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    docs = (root / "docs" / "analysis.md").read_text(encoding="utf-8")
    head = "```\n$ clmsim margins scenarios/telecom.yaml\n"
    start = docs.index(head) + len(head)
    shown = docs[start:docs.index("```", start)].rstrip("\n")
    assert main(["margins", str(root / "scenarios" / "telecom.yaml")]) == 0
    printed = [line for line in capsys.readouterr().out.rstrip("\n").split("\n")
               if not line.startswith("marginal return = ")]
    assert shown == "\n".join(printed)


def test_telecom_margins_cover_every_spend_lever_with_small_error():
    from pathlib import Path

    m = margins(Path(__file__).resolve().parents[1] / "scenarios" / "telecom.yaml")
    t = m.table
    assert set(t["kind"]) == {"program", "channel", "winback"} and len(t) == 5   # the baseline has no save offer
    assert np.all(t["error"] < 1e-3 * np.maximum(np.abs(t["marginal_return"]), 1e-3))


def test_save_offer_spend_per_offer_is_a_lever_matching_a_finite_difference_of_the_analytic_npv():
    """Oracle: central differences of the analytic NPV and present value of spend of scenarios
    written with the save offer's spend per offer at 60 x (1 -+ 1%) (YAML text, no margins code),
    and the offer's spend recovered from retention spend less the onboarding program's."""
    from pathlib import Path

    from clmsim.api import simulate
    from clmsim.metrics import summarize

    path = Path(__file__).resolve().parents[1] / "scenarios" / "telecom.yaml"
    m = margins(path, "save_offer_all")
    t = m.table.set_index("lever")
    row = t.loc["retention.programs.save_offer.spend_per_customer"]
    assert row["kind"] == "intercept" and row["value"] == 60.0
    text = path.read_text(encoding="utf-8")
    head, tail = text.split("  save_offer_all:\n", 1)
    assert tail.count("spend_per_customer: 60\n", 0, tail.index("save_offer_risk:")) == 1

    def at(spend: float) -> tuple[float, float, float]:
        body = tail.replace("spend_per_customer: 60\n", f"spend_per_customer: {spend!r}\n", 1)
        res = simulate(scenario_from_text(head + "  save_offer_all:\n" + body, "telecom.yaml"),
                       strategies=["save_offer_all"])
        s = summarize(res).set_index(["strategy", "metric"])["mean"]
        return s[("save_offer_all", "npv")], s[("save_offer_all", "pv_spend")], s[("save_offer_all", "retention_spend")]

    (n0, s0, _), (n1, s1, _) = at(60 * 0.99), at(60 * 1.01)
    fd = (n1 - n0) / (s1 - s0)
    assert row["marginal_return"] == pytest.approx(fd, abs=2e-4 * max(1.0, abs(fd)))
    assert row["error"] < 1e-3 * max(abs(fd), 1e-3)
    # what the offer spends now: the retention spend less the onboarding program's
    onboarding = t.loc["retention.programs.onboarding_30d.spend_per_customer", "pv_spend"]
    pv_retention = paths_pv_retention(path)
    assert row["pv_spend"] == pytest.approx(pv_retention - onboarding, rel=1e-10)
    assert 0 < row["pv_spend"] < pv_retention


def paths_pv_retention(path) -> float:
    """Present value of save_offer_all's retention spend (programs and the save offer)."""
    from clmsim import compile_model, load_scenario
    from clmsim.api import simulate

    model = compile_model(load_scenario(path), "save_offer_all")
    res = simulate(path, strategies=["save_offer_all"])
    r = res.series("save_offer_all", "retention_spend").reindex(range(1, model.horizon + 1)).to_numpy(float)
    return float((r * model.discount_factors()[1:]).sum())
