"""``clmsim trace`` for the four-pattern lesson: each customer's segment (relationship pattern),
and newly acquired customers followed from their arrival."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from clmsim.api import as_scenario, compile_strategies
from clmsim.cli import main
from clmsim.engines import des

ROOT = Path(__file__).resolve().parents[1] / "scenarios"
ZH = ROOT / "textbook_zh.yaml"


def test_trace_names_each_customers_pattern_and_follows_new_customers(capsys):
    assert main(["trace", str(ZH), "--customers", "2", "--new", "2", "--seed", "3", "--no-earn"]) == 0
    out = capsys.readouterr().out
    assert "customer 0 (initial, segment 早期流产型)" in out     # the first segment's customers come first
    assert "customer 3599 (initial, segment 长久保持型)" in out  # the last initial customer: the last segment
    blocks = [b for b in out.split("\ncustomer ")[1:]]
    acquired = [b for b in blocks if b.split("\n", 1)[0].split(" (")[1].startswith("acquired")]
    assert len(acquired) == 2 and all("acquired into 考察期" in b for b in acquired)
    assert "2 initial and 2 acquired customer(s)" in out


def test_initial_customers_segments_follow_the_population_split_exactly():
    model = compile_strategies(as_scenario(ZH), "baseline")[0]
    n = int(model.initial.sum())
    ids = list(range(0, n, 97))
    ev = des.simulate_run(model, 0, 5, trace=True, trace_customers=ids).events
    first = ev.groupby("customer").first()
    # oracle: customers are created segment by segment, stage by stage, in file order
    bounds = np.cumsum(model.initial.sum(axis=1))
    for cid, row in first.iterrows():
        assert row["segment"] == model.segment_names[int(np.searchsorted(bounds, cid, side="right"))]


def test_acquired_customers_segment_shares_match_the_mix_within_standard_errors():
    model = compile_strategies(as_scenario(ZH, ["time.horizon=6"]), "baseline")[0]
    n = int(model.initial.sum())
    # every customer acquired in the run (whole periods: ids within a period come segment by segment)
    ids = list(range(n, n + 100_000))
    ev = des.simulate_run(model, 0, 11, trace=True, trace_customers=ids).events
    segs = ev.groupby("customer")["segment"].first()
    assert len(segs) > 3000
    share = dict(zip(model.segment_names, model.segment_share))
    for name, p in share.items():
        got = float((segs == name).mean())
        assert abs(got - p) <= 4 * np.sqrt(p * (1 - p) / len(segs)), (name, got, p)


def test_trace_needs_someone_to_follow(capsys):
    assert main(["trace", str(ZH), "--customers", "0"]) == 2
    assert "nobody to follow" in capsys.readouterr().err
    assert main(["trace", str(ZH), "--customers", "0", "--new", "1", "--seed", "1", "--no-earn"]) == 0
    assert "(acquired, segment" in capsys.readouterr().out


@pytest.mark.parametrize("path", [ROOT / "reference" / "geometric.yaml"])
def test_single_segment_trace_has_no_segment_noise(path, capsys):
    assert main(["trace", str(path), "--customers", "1", "--seed", "1", "--no-earn"]) == 0
    assert "segment" not in capsys.readouterr().out
