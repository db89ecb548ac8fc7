"""``clmsim explain``: what a customer is worth in each stage, in plain words (``--math`` adds formulas).

The numbers come from :func:`clmsim.api.explain` (analytic engine, exact); the texts
from :mod:`clmsim.explain` (one place for the words and the formulas).
"""

from __future__ import annotations

import math

from .scenario_cmds import add_set_option


def add_parsers(sub) -> None:
    p = sub.add_parser("explain", help="what a customer is worth in each stage, explained for students",
                       description="For teaching: the exact retention, expected lifetime, margins paid and "
                                   "CLV (both timing forms) of a customer entering each stage, and the "
                                   "long-run mix of the base, each explained in plain words. --math adds "
                                   "the matrix formulas behind every number.")
    p.add_argument("file", help="scenario YAML file")
    p.add_argument("--strategy", default="baseline", metavar="NAME", help="strategy to explain (default baseline)")
    p.add_argument("--math", action="store_true", help="also print the matrix formulas and the expanded chain")
    add_set_option(p)
    p.set_defaults(func=cmd_explain)


def _num(x: float, fmt: str = "{:,.2f}") -> str:
    x = float(x)
    if math.isnan(x):
        return "-"
    if math.isinf(x):
        return "inf" if x > 0 else "-inf"
    return fmt.format(x)


def _plural(period: str) -> str:
    return period + "s"


def stage_table(info: dict, segment: str) -> str:
    """The per-stage table of one segment (CJK-aligned, see :mod:`clmsim.textable`)."""
    from ..textable import format_table

    model = info["model"]
    clv = info["clv"]
    rows = clv[clv["segment"] == segment]
    programmes = bool(model.programs)
    H, per = model.horizon, model.period
    heads = {"stage": "stage", "kind": "kind", "ret": "retention", "ret_p": "w/ programmes",
             "life": "lifetime", "paid": "margins paid",
             "clv_h": f"CLV {H} {_plural(per)}", "clv_inf": "CLV for ever", "clv_0": "CLV + entry margin"}
    if not programmes:
        del heads["ret_p"]
    out = []
    for r in rows.itertuples(index=False):
        ret = info["retention"].get((segment, r.stage))
        ret_p = info["retention_after"].get((segment, r.stage))
        out.append({"stage": r.stage, "kind": r.kind, "ret": "-" if ret is None else f"{ret:.4f}",
                    "ret_p": "-" if ret_p is None else f"{ret_p:.4f}", "life": _num(r.lifetime),
                    "paid": _num(r.margins_paid), "clv_h": _num(r.clv_horizon), "clv_inf": _num(r.clv_infinite),
                    "clv_0": _num(r.clv_entry_margin)})
    same = lambda x: x  # noqa: E731 -- preformatted numbers, right-aligned
    return format_table(out, {k: same for k in heads if k not in ("stage", "kind")}, columns=list(heads),
                        headers=heads)


def _wrap(label: str, text: str, width: int = 100, indent: int = 4) -> list[str]:
    import textwrap

    return textwrap.wrap(text, width=width, initial_indent=f"  {label}: ",
                         subsequent_indent=" " * indent)


def plain_text(info: dict, hint: bool = True) -> str:
    """The default (plain-language) output of ``clmsim explain`` (``hint``: point to ``--math``)."""
    from ..explain import words, worked_example

    model = info["model"]
    w = words(model)
    per, H = model.period, model.horizon
    d = info["discount_rate"]
    lines = [f"scenario {model.name!r}, strategy {model.strategy!r}: exact values (analytic engine)",
             f"One period is a {per}; the plan covers {H} {_plural(per)}; {w['discount']}.",
             f"Expected NPV of the plan {info['npv']:,.2f}; " + (
                 "no new customers are acquired." if math.isnan(info["clv_new_customer"])
                 else f"CLV of a new customer {info['clv_new_customer']:,.2f}.")]
    if any(h.kind != "none" for h in model.heterogeneity):
        lines.append("Customers differ (heterogeneity): retention below is for the row as written; lifetime "
                     "and CLV average over customers. A cohort's retention rises over time because the "
                     "customers most likely to leave go first.")
    clv = info["clv"]
    for seg in dict.fromkeys(clv["segment"]):
        if model.n_segments > 1:
            title = ("all segments (weighted by their shares of new customers)" if seg == "all"
                     else f"segment {seg}")
        else:
            title = "stages"
        lines += ["", f"{title}: a customer entering the stage now", stage_table(info, seg)]
    lines += ["", "What the columns mean"]
    lines += _wrap("retention", w["retention"] if model.programs else w["retention"].split(". ")[0])
    lines += _wrap(f"lifetime ({_plural(per)})", w["lifetime"])
    lines += _wrap("margins paid", w["margins_paid"])
    lines += _wrap(f"CLV {H} {_plural(per)}", w["clv_horizon"])
    lines += _wrap("CLV for ever", w["clv_infinite"])
    lines += _wrap("CLV + entry margin", w["clv_entry_margin"])
    cfs = info["closed_form"]
    if cfs:
        lines += ["", "Worked out by hand (stages whose customers only stay or leave for good):"]
        for (seg, stage), cf in cfs.items():
            label = stage if model.n_segments == 1 else f"{seg} / {stage}"
            lines += ["  " + s for s in worked_example(cf, label, per)]
    lines += ["", "In the long run"] + _wrap("share of base", w["steady_state"])
    lines += _steady_lines(info)
    lines += ["", f"d = {d:.6%} per {per}" + ("; add --math for the matrix formulas behind every number "
                                               "(docs/cli.md)." if hint else ".")]
    return "\n".join(lines)


def _steady_lines(info: dict) -> list[str]:
    from ..textable import format_table

    clv = info["clv"]
    last = clv[clv["segment"] == clv["segment"].iloc[-1]]
    rows = []
    for r in last.itertuples(index=False):
        if not math.isnan(r.steady_share):
            rows.append({"stage": r.stage, "share": f"{r.steady_share:.2%}",
                         "active": "" if math.isnan(r.steady_active_share) else f"{r.steady_active_share:.2%}"})
    if not rows:
        return ["  (no long-run mix: nobody stays)"]
    same = lambda x: x  # noqa: E731
    table = format_table(rows, {"share": same, "active": same}, columns=["stage", "share", "active"],
                         headers={"share": "share of base", "active": "share of active"})
    return ["  " + line for line in table.splitlines()]


def math_text(info: dict) -> str:
    """The ``--math`` block: expanded chain, steady-state method and the matrix formulas."""
    model = info["model"]
    f = info["formulas"]
    lines = ["", "Formulas (v = 1/(1 + d); M: one-period matrix of the expanded chain; nu: net cash "
                 "of a period per starting state)"]
    states = info["states"]
    if len(states) > model.n_stages:
        lines.append(f"  expanded chain ({len(states)} states: churn ages and concessions): {', '.join(states)}")
    lines.append(f"  steady state method: {info['steady_method']}")
    for key in ("lifetime", "margins_paid", "clv_horizon", "clv_infinite", "clv_entry_margin", "steady_state"):
        lines.append(f"  {key}: {f[key]}")
    return "\n".join(lines)


def cmd_explain(args) -> int:
    from ..api import explain
    from ..scenario import load_scenario

    scenario = load_scenario(args.file, args.overrides)
    info = explain(scenario, args.strategy)
    print(plain_text(info, hint=not args.math))
    if args.math:
        print(math_text(info))
    return 0
