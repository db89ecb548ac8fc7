"""``clmsim trace``: readable journeys; bad input is a clean error with exit status 2."""

from __future__ import annotations

from pathlib import Path

import pytest

from clmsim.cli import main

ROOT = Path(__file__).resolve().parents[1] / "scenarios"


def test_trace_prints_one_block_per_customer(capsys):
    path = ROOT / "reference" / "winback.yaml"
    assert main(["trace", str(path), "--customers", "3", "--seed", "5", "--no-earn"]) == 0
    out = capsys.readouterr().out
    assert out.count("\ncustomer ") == 3
    assert "starts in" in out and "earns" not in out


def test_trace_shows_days_with_agent_pools(capsys):
    path = ROOT / "reference" / "ops_winback_desk.yaml"
    assert main(["trace", str(path), "--customers", "2", "--seed", "1", "--set", "time.horizon=3"]) == 0
    out = capsys.readouterr().out
    assert "(day " in out and "customer 0" in out


def test_trace_same_seed_same_journeys(capsys):
    path = str(ROOT / "reference" / "winback.yaml")
    main(["trace", path, "--customers", "2", "--seed", "8"])
    first = capsys.readouterr().out
    main(["trace", path, "--customers", "2", "--seed", "8"])
    assert capsys.readouterr().out == first


def test_trace_bad_input_exits_2(capsys):
    path = str(ROOT / "telecom.yaml")
    assert main(["trace", path, "--customers", "0"]) == 2
    assert "nobody to follow" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exc:  # refused by the argument parser
        main(["trace", path, "--customers", "-1"])
    assert exc.value.code == 2
    assert "--customers: expected a non-negative integer" in capsys.readouterr().err
    assert main(["trace", path, "--strategy", "no_such"]) == 2
    assert "no_such" in capsys.readouterr().err
