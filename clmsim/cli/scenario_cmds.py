"""``clmsim validate`` and ``clmsim schema``."""

from __future__ import annotations

import argparse
import json

from ..textable import pad as _pad


def add_set_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="PATH=VALUE",
                        help="override a scenario field, e.g. --set time.horizon=36 (repeatable)")


def add_parsers(sub) -> None:
    p = sub.add_parser("validate", help="check a scenario file and summarise it")
    p.add_argument("file", help="scenario YAML file")
    add_set_option(p)
    p.add_argument("--print-resolved", action="store_true",
                   help="print the merged scenario and every strategy with its overrides applied")
    p.set_defaults(func=cmd_validate)
    p = sub.add_parser("schema", help="print the JSON Schema of scenario files (for editors)")
    p.set_defaults(func=cmd_schema)


def _fmt(value, spec: str = "g") -> str:
    """A number, or a short description of a schedule (values, ramp, seasonal)."""
    if isinstance(value, (int, float)):
        return format(value, spec)
    if getattr(value, "seasonality", None) is not None:
        return f"{value.base:{spec}} x seasonality (cycle {value.seasonality.period})"
    if getattr(value, "ramp", None) is not None:
        return f"ramp {value.ramp.start:{spec}} -> {value.ramp.end:{spec}} over {value.ramp.periods}"
    return f"schedule {', '.join(format(v, spec) for v in value.values[:4])}{', ...' if len(value.values) > 4 else ''}"


def _positive(value) -> bool:
    return not isinstance(value, (int, float)) or value > 0


def _econ(econ) -> str:
    """``revenue 60 (cv 0.9), margin 0.22`` for the fields a segment overrides."""
    parts = []
    if econ.revenue is not None:
        mean, cv = (econ.revenue.mean, econ.revenue.cv) if hasattr(econ.revenue, "mean") else (econ.revenue, 0.0)
        parts.append(f"revenue {_fmt(mean)} (cv {cv:g})")
    if econ.margin is not None:
        parts.append(f"margin {_fmt(econ.margin)}")
    if econ.cost_to_serve is not None:
        parts.append(f"cost to serve {econ.cost_to_serve:g}")
    return ", ".join(parts)


def describe(scenario) -> str:
    """A readable summary of a validated scenario."""
    import numpy as np

    from ..model import compile_model

    spec = scenario.spec
    model = compile_model(scenario)
    lines = [f"scenario {spec.name!r} ({scenario.source}, hash {scenario.hash})"]
    if spec.description:
        lines.append(f"  {spec.description}")
    t = spec.time
    lines.append(f"time: {t.horizon} {t.period}s, discount {t.discount_rate:.2%}/year "
                 f"= {model.discount_rate:.4%}/{t.period}")
    lines.append("stages:" + (" (rows and economics before segment overrides)" if spec.segments else ""))
    init = model.initial.sum(axis=0)
    for s, name in enumerate(model.stage_names):
        stage = spec.stages[name]
        extra = ""
        if stage.kind == "active":
            mean, cv = (stage.revenue.mean, stage.revenue.cv) if hasattr(stage.revenue, "mean") \
                else (stage.revenue or 0.0, 0.0)
            margin = 1.0 if stage.margin is None else stage.margin
            extra = (f"  revenue {_fmt(mean)} (cv {cv:g}), margin {_fmt(margin)}, "
                     f"cost to serve {stage.cost_to_serve or 0.0:g}")
        row = ", ".join(f"{dst} {_fmt(p, '.3g')}" for dst, p in spec.transitions.get(name, {}).items()
                        if _positive(p))
        lines.append(f"  {_pad(name, 12)} {stage.kind:<8} initial {int(init[s]):>9,d}{extra}")
        if row:
            lines.append(f"  {'':<12} -> {row}")
    if spec.segments:
        lines.append("segments (share of new customers; what each changes):")
        for g, sg in spec.segments.items():
            lines.append(f"  {_pad(g, 12)} {sg.share:>4.0%}")
            for src, row in sg.transitions.items():
                lines.append(f"  {'':<12} {src} -> " + ", ".join(f"{dst} {_fmt(p, '.3g')}" for dst, p in row.items()))
            for name, econ in sg.stages.items():
                lines.append(f"  {'':<12} {name}: {_econ(econ)}")
            if sg.heterogeneity is not None:
                lines.append(f"  {'':<12} own heterogeneity")
    if model.channels:
        lines.append("acquisition channels:")
        for ch in model.channels:
            lines.append(f"  {ch.name}: spend {ch.spend.sum():,.0f} over the horizon, "
                         f"{ch.expected_customers(ch.spend).sum():,.0f} expected customers "
                         f"-> {model.stage_names[ch.entry_stage]}")
    if model.referral is not None:
        src = ", ".join(f"{model.stage_names[s]} {r:g}" for s, r in enumerate(model.referral.rate) if r > 0)
        lines.append(f"referrals: {src} per customer per {t.period}")
    def reached(lever) -> str:
        text = ", ".join(np.asarray(model.stage_names)[lever.target])
        if lever.segments is not None:
            text += " in segments " + ", ".join(np.asarray(model.segment_names)[lever.segments])
        return text

    for prog in model.programs:
        tg = reached(prog)
        cap = "" if prog.cap is None else f", cap {prog.cap[0]:,.0f}/{t.period}"
        lines.append(f"retention program {prog.name}: {tg}, {prog.spend[0]:g} per customer per {t.period}{cap}")
    for ic in model.intercepts:
        tg = reached(ic)
        risk = "" if ic.risk_share is None else f", riskiest {ic.risk_share:.0%}"
        lines.append(f"save offer {ic.name}: leavers of {tg}{risk}, {ic.spend[0]:g} per offer")
    for wb in model.winbacks:
        lines.append(f"win-back {wb.name}: ages {wb.eligible_after}..{wb.max_age - 1}, coverage {wb.coverage[0]:g}, "
                     f"success {wb.base:g}*{wb.decay:g}^k -> {model.stage_names[wb.return_stage]}"
                     + ("" if wb.segments is None else
                        " (segments " + ", ".join(np.asarray(model.segment_names)[wb.segments]) + ")"))
    lines.append("strategies: " + ", ".join(scenario.strategy_names))
    return "\n".join(lines)


def cmd_validate(args) -> int:
    from ..scenario import dump_yaml, load_scenario

    scenario = load_scenario(args.file, args.overrides)
    if args.print_resolved:
        for name, data in scenario.resolved.items():
            print(f"# --- strategy: {name}")
            print(dump_yaml({k: v for k, v in data.items() if k != "strategies"}))
    print(describe(scenario))
    print("valid")
    return 0


def cmd_schema(args) -> int:
    from ..scenario import json_schema

    print(json.dumps(json_schema(), indent=2, ensure_ascii=False))
    return 0
