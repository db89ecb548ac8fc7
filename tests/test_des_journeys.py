"""Exact event logs of the des engine on tiny deterministic scenarios (probabilities 0/1, cv 0).

The oracle is the model written out by hand: each test states the journey the
timing convention implies (move at the start of period t = time t-1, earn at
its end = time t; with agent pools, days / days_per_period).
"""

from __future__ import annotations

import numpy as np
import pytest

from clmsim.engines import des
from clmsim.errors import ClmsimError
from clmsim.model import compile_model
from clmsim.scenario import scenario_from_text

WINBACK = """
schema_version: 1
name: tiny
time: {period: month, horizon: 4, discount_rate: 0}
stages:
  new: {kind: active, revenue: 10, margin: 1.0, cost_to_serve: 0}
  churned: {kind: churned}
  lost: {kind: lost}
transitions:
  new: {churned: 1.0}
initial_population: {new: 1}
winback:
  policies:
    callback:
      window: 2
      coverage: 1
      contact_cost: 2
      success: {base: 1}
      return_stage: new
      concession: {discount: 0.5, periods: 1}
"""

OPS = """
schema_version: 1
name: tiny-ops
time: {period: month, horizon: 3, discount_rate: 0}
stages:
  new: {kind: active, revenue: 10, margin: 1.0, cost_to_serve: 0}
  churned: {kind: churned}
  lost: {kind: lost}
transitions:
  new: {churned: 1.0}
initial_population: {new: 2}
winback:
  policies:
    callback: {window: 1, coverage: 1, contact_cost: 2, success: {base: 1}, return_stage: new}
operations:
  days_per_period: 10
  teams:
    desk: {serves: callback, agents: 1, service_days: {mean: 1, cv: 0}, arrivals: start,
           response_delay_days: 2}
"""


def journey(text: str, overrides=(), **options) -> list[tuple]:
    model = compile_model(scenario_from_text(text, overrides=overrides))
    res = des.simulate([model], runs=1, seed=0, trace_runs=[0], **options)
    ev = res.events
    return [(int(r.customer), round(float(r.time), 9), r.event, r.from_stage, r.to_stage, float(r.amount))
            for r in ev.itertuples(index=False)], res


def test_winback_journey_matches_hand_written_timeline():
    log, res = journey(WINBACK)
    assert log == [
        (0, 0.0, "start", "", "new", 0.0),
        (0, 0.0, "move", "new", "churned", 0.0),        # period 1: churns (p = 1)
        (0, 1.0, "contact", "churned", "churned", 2.0),  # period 2: age k = 0, contacted first
        (0, 1.0, "won_back", "churned", "new", 0.0),     # success 1 * 1^0
        (0, 2.0, "earn", "new", "new", 5.0),             # concession: 10 * (1 - 0.5)
        (0, 2.0, "move", "new", "churned", 0.0),         # period 3
        (0, 3.0, "contact", "churned", "churned", 2.0),
        (0, 3.0, "won_back", "churned", "new", 0.0),
        (0, 4.0, "earn", "new", "new", 5.0),
    ]
    row = res.runs.iloc[0]
    assert (row.revenue, row.contribution, row.winback_spend, row.npv) == (20.0, 10.0, 4.0, 6.0)
    assert (row.churned, row.won_back, row.contacts, row.active_end) == (2, 2, 2, 1)


def test_journey_without_winback_ends_lost_after_drift():
    text = WINBACK.replace("coverage: 1", "coverage: 0").replace("  new: {churned: 1.0}",
                                                                 "  new: {churned: 1.0}\n  churned: {lost: 1.0}")
    log, res = journey(text)
    assert log == [
        (0, 0.0, "start", "", "new", 0.0),
        (0, 0.0, "move", "new", "churned", 0.0),
        (0, 1.0, "move", "churned", "lost", 0.0),
    ]
    occ = res.occupancy("baseline")
    assert occ["lost"].tolist() == [0, 0, 1, 1, 1]


def test_acquired_customer_joins_at_end_of_period_and_first_moves_next_period():
    text = """
schema_version: 1
name: tiny-acq
time: {period: month, horizon: 2, discount_rate: 0}
stages:
  new: {kind: active, revenue: 7, margin: 1.0, cost_to_serve: 1}
  loyal: {kind: active, revenue: 20, margin: 0.5, cost_to_serve: 0}
transitions:
  new: {loyal: 1.0}
acquisition:
  channels:
    shop: {spend_per_period: {values: [3], then: zero}, response: {type: linear, cost_per_customer: 1},
           entry_stage: new}
"""
    # Poisson(3) customers arrive in period 1; each journey is deterministic
    model = compile_model(scenario_from_text(text))
    res = des.simulate([model], runs=1, seed=0, trace_runs=[0])
    ev = res.events
    arrivals = ev[ev.event == "arrive"]
    n = len(arrivals)
    assert n == res.runs.iloc[0]["acquired"]
    assert (arrivals.time == 1.0).all() and (arrivals.to_stage == "new").all()
    for cid in arrivals.customer:
        mine = ev[ev.customer == cid]
        assert [(r.time, r.event, r.from_stage, r.to_stage, r.amount) for r in mine.itertuples()] == [
            (1.0, "arrive", "", "new", 0.0),
            (1.0, "move", "new", "loyal", 0.0),   # first move: period 2 (time 1)
            (2.0, "earn", "loyal", "loyal", 10.0),
        ]
    assert res.runs.iloc[0]["clv_acquired"] == pytest.approx(10.0 if n else np.nan, nan_ok=True)


def test_agent_pool_journey_with_queue_delay_and_renege():
    text = OPS.replace("initial_population: {new: 2}", "initial_population: {new: 2}") + """
  budgets:
    fund: {serves: [callback], amount: 3, refill: period}
"""
    log, res = journey(text)
    assert log == [
        (0, 0.0, "start", "", "new", 0.0),
        (0, 0.0, "move", "new", "churned", 0.0),
        (0, 1.0, "queue", "churned", "churned", 0.0),     # day 10: period 2 starts, k = 0
        (0, 1.0, "contact", "churned", "churned", 2.0),   # agent free, budget 3 >= 2
        (0, 1.3, "won_back", "churned", "new", 0.0),      # day 10 + 1 (service) + 2 (delay)
        (0, 2.0, "earn", "new", "new", 10.0),
        (0, 2.0, "move", "new", "churned", 0.0),
        (1, 0.0, "start", "", "new", 0.0),
        (1, 0.0, "move", "new", "churned", 0.0),
        (1, 1.0, "queue", "churned", "churned", 0.0),
        (1, 2.0, "renege", "churned", "churned", 0.0),    # budget left 1 < 2; window ends day 20
    ]
    row = res.runs.iloc[0]
    assert (row.contacts, row.won_back, row.reneged) == (1, 1, 1)


def test_agent_pool_serves_second_customer_after_first_call():
    log, res = journey(OPS)
    c1 = [e for e in log if e[0] == 1]
    assert c1[:5] == [
        (1, 0.0, "start", "", "new", 0.0),
        (1, 0.0, "move", "new", "churned", 0.0),
        (1, 1.0, "queue", "churned", "churned", 0.0),
        (1, 1.1, "contact", "churned", "churned", 2.0),   # waits 1 day for the only agent
        (1, 1.4, "won_back", "churned", "new", 0.0),      # day 11 + 1 + 2
    ]
    assert res.runs.iloc[0]["contact_wait_days"] == pytest.approx(0.5)   # waits 0 and 1 day


def test_trace_customers_limits_the_log():
    text = WINBACK.replace("initial_population: {new: 1}", "initial_population: {new: 10}")
    log, _ = journey(text, trace_customers=3)
    assert sorted({e[0] for e in log}) == [0, 4, 9]
    with pytest.raises(ClmsimError, match="unknown des-engine option"):
        journey(text, trace_customer=3)


def test_untraced_runs_have_an_empty_event_table():
    model = compile_model(scenario_from_text(WINBACK))
    res = des.simulate([model], runs=2, seed=1, trace_runs=[1])
    assert set(res.events["run"]) == {1}
    with pytest.raises(ClmsimError, match="trace_runs"):
        des.simulate([model], runs=2, seed=1, trace_runs=[2])


QUEUE = """
schema_version: 1
name: tiny-queue
time: {period: month, horizon: 4, discount_rate: 0}
stages:
  new: {kind: active, revenue: 10, margin: 1.0}
  churned: {kind: churned}
  lost: {kind: lost}
transitions:
  new: {churned: 1.0}
initial_population: {new: 1, churned: 2}
winback:
  policies:
    callback: {window: 3, coverage: 1, success: {base: 0}, return_stage: new}
operations:
  days_per_period: 10
  teams:
    desk: {serves: callback, agents: 1, service_days: {mean: 12, cv: 0}, arrivals: start,
           discipline: DISCIPLINE}
"""


@pytest.mark.parametrize("discipline, second, third", [("fifo", 2, 0), ("recent_first", 0, 2)])
def test_queue_discipline_orders_calls(discipline, second, third):
    # ids follow stage order: 0 is the 'new' customer (churns in period 1, queues at day 10),
    # 1 and 2 churned at time 0 (queue at day 0). One agent, 12-day calls, no success.
    log, _ = journey(QUEUE.replace("DISCIPLINE", discipline))
    contacts = [(t, c) for c, t, e, *_ in log if e == "contact"]
    # the agent frees at day 12: fifo serves customer 2 (waiting since day 0), recent_first
    # customer 0 (churned in period 1, more recent than time 0); the other follows at day 24
    assert sorted(contacts)[:3] == [(0.0, 1), (1.2, second), (2.4, third)]


def test_queued_customer_moving_between_stages_of_its_policy_keeps_its_place():
    text = """
schema_version: 1
name: ping-pong
time: {period: month, horizon: 2}
stages:
  paying: {kind: active, revenue: 1}
  lapsed_a: {kind: churned}
  lapsed_b: {kind: churned}
transitions:
  lapsed_a: {lapsed_b: 1.0}
  lapsed_b: {lapsed_a: 1.0}
initial_population: {lapsed_a: 2}
winback:
  policies:
    offer: {window: 3, coverage: 1, success: {base: 0}, return_stage: paying}
operations:
  days_per_period: 10
  teams:
    desk: {serves: offer, agents: 1, service_days: {mean: 15, cv: 0}, arrivals: start}
"""
    log, res = journey(text)
    assert [e for e in log if e[0] == 1] == [
        (1, 0.0, "start", "", "lapsed_a", 0.0),
        (1, 0.0, "move", "lapsed_a", "lapsed_b", 0.0),      # moves, then queues (day 0)
        (1, 0.0, "queue", "lapsed_b", "lapsed_b", 0.0),
        (1, 1.0, "move", "lapsed_b", "lapsed_a", 0.0),      # still the same policy: stays queued
        (1, 1.5, "contact", "lapsed_a", "lapsed_a", 0.0),   # agent frees at day 15
    ]
    assert res.runs.iloc[0]["reneged"] == 0
    assert (0, 1.5, "declined", "lapsed_a", "lapsed_a", 0.0) in log   # the first call ends at day 15
