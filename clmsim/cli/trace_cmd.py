"""``clmsim trace FILE --customers 5 --seed S [--strategy S]``: readable customer journeys.

Runs the des engine for one run of one strategy with the event log on for a few
customers (spread evenly over the initial population) and prints each journey,
event by event, with the period, the day and the money involved.
"""

from __future__ import annotations

from ..errors import ClmsimError
from .args import nonneg_int, positive_int
from .args import seed as seed_arg
from .scenario_cmds import add_set_option

DESCRIBE = {
    "start": "starts in {to}",
    "arrive": "acquired into {to}",
    "move": "{frm} -> {to}",
    "retention": "retention spend {amount:,.2f} in {frm}",
    "care": "care contact, spend {amount:,.2f}",
    "queue": "queues for a win-back agent",
    "renege": "leaves the queue (eligibility expired)",
    "contact": "win-back contact, cost {amount:,.2f}",
    "declined": "declines the offer",
    "won_back": "won back: {frm} -> {to}",
    "earn": "earns, contribution {amount:,.2f} in {frm}",
}


def add_parsers(sub) -> None:
    p = sub.add_parser("trace", help="print customer journeys event by event (des engine)")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--customers", type=positive_int, default=5, metavar="N",
                   help="customers to follow, spread over the initial population (default 5)")
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    p.add_argument("--strategy", default="baseline", help="strategy to simulate (default baseline)")
    p.add_argument("--run", type=nonneg_int, default=0, help="which run of the seed to trace (default 0)")
    p.add_argument("--no-earn", action="store_true", help="leave out the per-period earn events")
    add_set_option(p)
    p.set_defaults(func=cmd_trace)


def journeys(events: "pd.DataFrame", period: str, days_per_period: float | None, earn: bool = True) -> str:
    """Readable text of an event log (one block per customer)."""
    lines = []
    for cid, ev in events.groupby("customer", sort=True):
        lines.append(f"customer {cid}")
        for row in ev.itertuples(index=False):
            if row.event == "earn" and not earn:
                continue
            text = DESCRIBE.get(row.event, row.event).format(frm=row.from_stage, to=row.to_stage,
                                                            amount=row.amount)
            when = f"{period} {row.time:7.3f}"
            if days_per_period is not None:
                when += f" (day {row.time * days_per_period:8.2f})"
            lines.append(f"  {when}  {text}")
    return "\n".join(lines)


def cmd_trace(args) -> int:
    from ..api import as_scenario, compile_strategies
    from ..engines import des

    from ..limits import check, current

    if args.customers < 1:
        raise ClmsimError(f"--customers must be at least 1, got {args.customers}")
    check("trace --customers", args.customers, current().trace_customers, "customers")
    if args.seed < 0:
        raise ClmsimError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.run < 0:
        raise ClmsimError(f"--run must be a non-negative integer, got {args.run}")
    scenario = as_scenario(args.file, args.overrides)
    model = compile_strategies(scenario, args.strategy)[0]
    record = des.simulate_run(model, args.run, args.seed, trace=True, trace_customers=args.customers)
    ops = model.operations
    days = ops.days_per_period if ops is not None and ops.active else None
    print(f"scenario {model.name!r}, strategy {model.strategy}, seed {args.seed}, run {args.run}: "
          f"{args.customers} customer(s), time in {model.period}s")
    print(journeys(record.events, model.period, days, earn=not args.no_earn))
    return 0
