"""``clmsim trace FILE --customers 5 [--new 3] --seed S [--strategy S]``: readable customer journeys.

Runs the des engine for one run of one strategy with the event log on for a few
customers (spread evenly over the initial population, plus the first customers
acquired with ``--new``) and prints each journey, event by event, with the
customer's segment (relationship pattern), the period, the day and the money involved.
"""

from __future__ import annotations

from ..errors import ClmsimError
from .args import nonneg_int
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
    p.add_argument("--customers", type=nonneg_int, default=5, metavar="N",
                   help="customers to follow, spread over the initial population (default 5; 0 with --new)")
    p.add_argument("--new", type=nonneg_int, default=0, metavar="N",
                   help="also follow N customers acquired in the first period, spread over its "
                        "channels and segments (default 0)")
    p.add_argument("--seed", type=seed_arg, default=0, help="random seed (default 0)")
    p.add_argument("--strategy", default="baseline", help="strategy to simulate (default baseline)")
    p.add_argument("--run", type=nonneg_int, default=0, help="which run of the seed to trace (default 0)")
    p.add_argument("--no-earn", action="store_true", help="leave out the per-period earn events")
    add_set_option(p)
    p.set_defaults(func=cmd_trace)


def journeys(events: "pd.DataFrame", period: str, days_per_period: float | None, earn: bool = True,
             segments: bool = False) -> str:
    """Readable text of an event log (one block per customer; ``segments``: name each one's segment)."""
    lines = []
    for cid, ev in events.groupby("customer", sort=True):
        first = ev.iloc[0]
        how = "acquired" if first["event"] == "arrive" else "initial"
        seg = f", segment {first['segment']}" if segments and "segment" in ev and first["segment"] else ""
        lines.append(f"customer {cid} ({how}{seg})")
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


def new_customer_ids(model, n_init: int, n: int) -> list[int]:
    """Ids of ``n`` customers acquired in period 1, spread over its expected channel arrivals.

    Ids count arrivals (``n_init``, ``n_init + 1``, ... in order), and within a period the des
    engine adds each channel's customers segment by segment: spreading the ids over the
    period's expected arrivals follows customers of every channel and segment, not just the
    first segment of the first channel."""
    import numpy as np

    if n <= 0:
        return []
    expected = float(model.expected_acquisitions()[:, 0].sum()) if model.channels else 0.0
    span = max(int(0.95 * expected), n)
    return sorted(set(np.round(np.linspace(n_init, n_init + span - 1, n)).astype(int).tolist()))


def cmd_trace(args) -> int:
    import numpy as np

    from ..api import as_scenario, compile_strategies
    from ..engines import des
    from ..model import LOST

    from ..limits import check, current

    if args.customers < 0 or args.new < 0:
        raise ClmsimError(f"--customers and --new must be non-negative, got {args.customers} and {args.new}")
    if args.customers + args.new < 1:
        raise ClmsimError("nobody to follow: give --customers N or --new N (at least 1 in all)")
    check("trace --customers", args.customers + args.new, current().trace_customers, "customers")
    if args.seed < 0:
        raise ClmsimError(f"--seed must be a non-negative integer, got {args.seed}")
    if args.run < 0:
        raise ClmsimError(f"--run must be a non-negative integer, got {args.run}")
    scenario = as_scenario(args.file, args.overrides)
    model = compile_strategies(scenario, args.strategy)[0]
    n_init = int(model.initial[:, model.stage_kind != LOST].sum())
    k = min(args.customers, n_init)
    ids = sorted(set(np.round(np.linspace(0, max(n_init - 1, 0), k)).astype(int).tolist())) if k else []
    ids += new_customer_ids(model, n_init, args.new)
    record = des.simulate_run(model, args.run, args.seed, trace=True, trace_customers=ids)
    ops = model.operations
    days = ops.days_per_period if ops is not None and ops.active else None
    seen = set(record.events["customer"]) if len(record.events) else set()
    missing = [i for i in ids if i >= n_init and i not in seen]
    print(f"scenario {model.name!r}, strategy {model.strategy}, seed {args.seed}, run {args.run}: "
          f"{k} initial and {args.new - len(missing)} acquired customer(s), time in {model.period}s"
          + (f"; segments: {', '.join(model.segment_names)}" if model.n_segments > 1 else ""))
    if missing:
        print(f"(only {args.new - len(missing)} customers were acquired in this run)")
    print(journeys(record.events, model.period, days, earn=not args.no_earn, segments=model.n_segments > 1))
    return 0
