"""The decision table: the summary of :func:`clmsim.metrics.summary_table` as a strategist reads it.

One rendering for every front end -- ``clmsim run``, ``clmsim compare``, the HTML report,
the demo -- and one JSON document shape for ``run --json`` and ``compare --json``
(docs/cli.md). Per strategy: NPV, present value of spend, the NPV difference versus the
baseline, the spend difference, the return on the change (ROI when the strategy spends
more, what it saves and what that costs or gains when it spends less, "same spend"
otherwise), the share of runs it wins and the payback period of the extra spend.

Number format (everywhere): money with a unit suffix (k, M, B); a Monte Carlo value is
written to the precision of its 95% half-width (``155.29M ± 0.05M``), an exact value with
4 significant digits; percentages likewise (``-61.2% ± 0.2%``); a half-width that rounds
to nothing is left out rather than printed as ``± 0``.
"""

from __future__ import annotations

import math

import pandas as pd

from .metrics import EQUAL_SPEND, spend_case
from .textable import SUFFIXES, human_pm

SIGNIFICANT = 4
"""Significant digits of an exact value (trailing zeros kept, so columns line up)."""


def _exact(x: float, scale: float = 1.0, tail: str = "") -> str:
    """``x`` with :data:`SIGNIFICANT` digits and a k/M/B/T suffix: ``152.0M``, ``-744.8k``, ``1.419``."""
    if math.isinf(x):
        return ("inf" if x > 0 else "-inf") + tail
    v = x * scale
    div, suffix = next(((d, sfx) for d, sfx in SUFFIXES if abs(v) >= d * (1 - 0.5 * 10.0 ** -SIGNIFICANT)),
                       (1.0, ""))
    v /= div
    if v == 0:
        return "0" + suffix + tail
    decimals = max(0, SIGNIFICANT - 1 - int(math.floor(math.log10(abs(v)))))
    return f"{v:,.{decimals}f}{suffix}{tail}"

VS_KEYS = ("npv_diff", "spend_diff", "roi", "npv_per_unit_saved", "payback_periods", "win_share")


def _nan(x) -> bool:
    try:
        return x is None or math.isnan(float(x))
    except (TypeError, ValueError):
        return True


def _finite(x) -> float | None:
    return None if _nan(x) or math.isinf(float(x)) else float(x)


def money(mean: float, lo: float = float("nan"), hi: float = float("nan"), sign: bool = False) -> str:
    """``155.29M ± 0.05M`` (the value to its half-width's precision) or ``155.3M`` without interval."""
    if _nan(mean):
        return "-"
    plus = "+" if sign and mean > 0 else ""
    if _nan(lo) or _nan(hi) or hi <= lo:
        return plus + _exact(float(mean))
    a, b = human_pm(float(mean), (float(hi) - float(lo)) / 2)
    return f"{plus}{a} \u00b1 {b}" if b else plus + a


def percent(mean: float, lo: float = float("nan"), hi: float = float("nan")) -> str:
    """A fraction as a percentage: ``-61.2% ± 0.2%``, or ``-61.09%`` (4 significant digits) exact."""
    if _nan(mean):
        return "-"
    if _nan(lo) or _nan(hi) or hi <= lo:
        return _exact(float(mean), 100.0, "%")
    a, b = human_pm(100 * float(mean), 50 * (float(hi) - float(lo)))
    return f"{a}% \u00b1 {b}%" if b else f"{a}%"


def count(mean: float, lo: float = float("nan"), hi: float = float("nan")) -> str:
    """A number of customers: ``3,439 ± 7`` (whole customers), ``3,439`` exact or without interval."""
    if _nan(mean):
        return "-"
    hw = (float(hi) - float(lo)) / 2 if not (_nan(lo) or _nan(hi)) else 0.0
    return f"{float(mean):,.0f}" + (f" \u00b1 {hw:,.0f}" if hw >= 0.5 else "")


def periods(mean: float, lo: float = float("nan"), hi: float = float("nan")) -> str:
    """A payback period in whole periods: ``14``, ``14 [12, 17]``, ``never``, or ``-``."""
    def one(x: float) -> str:
        return "never" if math.isinf(x) else f"{x:.0f}"
    if _nan(mean):
        return "-"
    if _nan(lo) or _nan(hi) or (lo == mean == hi):
        return one(float(mean))
    return f"{one(float(mean))} [{one(float(lo))}, {one(float(hi))}]"


def _cells(table: pd.DataFrame, strategy: str) -> dict:
    sel = table[table["strategy"] == strategy]
    return {(r.kind, r.metric): r for r in sel.itertuples(index=False)}


def decision_rows(table: pd.DataFrame, baseline: str) -> list[dict]:
    """Formatted cells per strategy: ``strategy, npv, pv_spend, npv_diff, spend_diff, return,
    wins, payback`` (see the module docstring for the format)."""
    rows = []
    base = _cells(table, baseline)
    base_spend = base[("level", "pv_spend")].mean if ("level", "pv_spend") in base else float("nan")
    for s in dict.fromkeys(table["strategy"]):
        c = _cells(table, s)
        lv = lambda m: c.get(("level", m))  # noqa: E731
        row = {"strategy": s, "npv": money(*_mlh(lv("npv"))), "pv_spend": money(*_mlh(lv("pv_spend")))}
        if s == baseline:
            row.update(npv_diff="(baseline)", spend_diff="", ret="", wins="", payback="")
            rows.append(row)
            continue
        vs = {k: c.get(("vs_baseline", k)) for k in VS_KEYS}
        dn = _mlh(vs["npv_diff"])
        ds = _mlh(vs["spend_diff"])
        row["npv_diff"] = money(*dn, sign=True)
        row["spend_diff"] = money(*ds, sign=True)
        case = spend_case(ds[0], base_spend)
        if case == "more":
            row["ret"] = "ROI " + percent(*_mlh(vs["roi"]))
        elif case == "less":
            row["ret"] = f"saves {money(-ds[0])}, NPV {money(dn[0], sign=True)}"
        elif case == "same":
            row["ret"] = f"same spend, NPV {money(dn[0], sign=True)}"
        else:
            row["ret"] = "-"
        w = vs["win_share"]
        row["wins"] = "" if w is None or _nan(w.mean) else f"{w.mean:.0%}"
        row["payback"] = periods(*_mlh(vs["payback_periods"]))
        rows.append(row)
    return rows


def _mlh(r) -> tuple[float, float, float]:
    if r is None:
        return float("nan"), float("nan"), float("nan")
    return r.mean, r.ci_lo, r.ci_hi


HEADERS = {"strategy": "strategy", "npv": "NPV", "pv_spend": "spend (PV)", "npv_diff": "NPV vs {b}",
           "spend_diff": "spend vs {b}", "ret": "return on the change", "wins": "wins", "payback": "payback"}


def headers(baseline: str, unit: str = "period") -> dict:
    """Column headers of :func:`decision_rows` (``payback`` in ``unit`` s)."""
    out = {k: v.format(b=baseline) for k, v in HEADERS.items()}
    out["payback"] = f"payback ({unit}s)"
    return out


def notes(monte_carlo: bool, n_runs: int, batches: int, horizon: int | None, unit: str = "period",
          has_spend: bool = True) -> list[str]:
    """The footnotes that go with the table: how to read each column, stated once."""
    out = []
    if monte_carlo:
        out.append(f"\u00b1 = half-width of the 95% interval; NPV differences and wins are paired over {n_runs} runs "
                   "(common random numbers)" + (f", spend, ROI and payback over {batches} batches of runs"
                                                 if batches > 1 else "; spend, ROI and payback come from one "
                                                 "batch and carry no interval") + ".")
    else:
        out.append("Exact expectations (analytic engine): no intervals; 'wins' needs Monte Carlo runs.")
    if has_spend:
        out.append("spend (PV) = present value of acquisition + retention + win-back spend, discounted like NPV. "
                   "ROI = (NPV difference) / (spend difference) when the strategy spends more; the NPV difference "
                   "is net of the extra spend, so ROI 0% is break-even. A strategy that spends less shows what it "
                   f"saves and what that does to NPV; spends within {EQUAL_SPEND:.1%} count as the same.")
    else:
        out.append("spend (PV), ROI and payback need per-period spend, which these results do not hold.")
    h = f" within the {horizon}-{unit} horizon" if horizon else " within the horizon"
    out.append(f"payback = first {unit} from which the cumulative discounted NPV difference stays positive; "
               f"never = not{h}. Definitions: docs/metrics.md.")
    return out


# ----------------------------------------------------------------------- JSON
def _stat(r) -> dict | None:
    """``{mean, sd, n, ci95}``; None when undefined; an infinite value (a payback never reached,
    a lifetime without churn) has ``mean`` null and ``"infinite": true``."""
    if r is None or _nan(r.mean):
        return None
    ci = None if _nan(r.ci_lo) or _nan(r.ci_hi) else [_finite(r.ci_lo), _finite(r.ci_hi)]
    out = {"mean": _finite(r.mean), "sd": _finite(r.sd), "n": None if _nan(r.n) else int(r.n), "ci95": ci}
    if math.isinf(float(r.mean)):
        out["infinite"] = True
    return out


def segments_document(segments: pd.DataFrame, strategy: str) -> dict:
    """``{segment: {metric: {mean, sd, n, ci95}, ..., "vs_baseline": {"npv_diff": {...}} | null}}``
    of one strategy from :func:`clmsim.metrics.segment_table`."""
    sel = segments[segments["strategy"] == strategy]
    out: dict[str, dict] = {}
    for g in dict.fromkeys(sel["segment"]):
        one = sel[sel["segment"] == g]
        doc = {r.metric: _stat(r) for r in one.itertuples(index=False) if r.kind == "level"}
        vs = [r for r in one.itertuples(index=False) if r.kind == "vs_baseline"]
        doc["vs_baseline"] = {r.metric: _stat(r) for r in vs} if vs else None
        out[str(g)] = doc
    return out


def strategies_document(table: pd.DataFrame, baseline: str | None, segments: pd.DataFrame | None = None) -> dict:
    """``{strategy: {metric: {mean, sd, n, ci95}, ..., "vs_baseline": {...} | null, "segments": {...}}}``.

    ``segments`` (when a per-segment table is given) holds :func:`segments_document`: per segment
    of the scenario the per-segment metrics and the NPV difference versus the baseline's same
    segment; null for a scenario without segments. ``vs_baseline`` holds :data:`VS_KEYS` and ``spend_case``
    (``more``, ``less``, ``same``);
    ``roi`` is null unless the strategy spends more, ``npv_per_unit_saved`` null unless it
    spends less; a payback never reached has ``mean`` null and ``"infinite": true``; an interval
    bound that is never (payback) is null. Undefined values are null."""
    out: dict[str, dict] = {}
    base_spend = float("nan")
    if baseline is not None:
        sel = table[(table["strategy"] == baseline) & (table["metric"] == "pv_spend")]
        base_spend = float(sel["mean"].iloc[0]) if len(sel) else float("nan")
    for s in dict.fromkeys(table["strategy"]):
        c = _cells(table, s)
        doc = {m: _stat(r) for (k, m), r in c.items() if k == "level"}
        if baseline is None or s == baseline or ("vs_baseline", "npv_diff") not in c:
            doc["vs_baseline"] = None
        else:
            vs = {m: _stat(c.get(("vs_baseline", m))) for m in VS_KEYS}
            vs["spend_case"] = spend_case(c[("vs_baseline", "spend_diff")].mean, base_spend)
            doc["vs_baseline"] = vs
        if segments is not None:
            doc["segments"] = segments_document(segments, s) if len(segments) else None
        out[s] = doc
    return out


def document(table: pd.DataFrame, provenance: dict, baseline: str | None, seconds: float | None = None,
             segments: pd.DataFrame | None = None) -> dict:
    """The one JSON document of ``run --json`` and ``compare --json`` (docs/cli.md); ``segments``
    is the per-segment table of :func:`clmsim.metrics.segment_table`."""
    p = provenance
    keys = ("scenario", "scenario_hash", "engine", "seed", "runs", "batches", "mode", "convention",
            "clmsim_version", "approximation")
    doc = {k: p.get(k) for k in keys}
    doc["baseline"] = baseline
    doc["strategies"] = strategies_document(table, baseline, segments)
    doc["provenance"] = {k: v for k, v in p.items() if k not in keys}
    doc["work"] = {"customer_periods": _finite(p.get("customer_periods")),
                   "seconds": _finite(p.get("seconds") if seconds is None else seconds)}
    return doc


# ----------------------------------------------------------------------- what to do
def recommendation(table: pd.DataFrame, baseline: str) -> dict:
    """What to do and what it costs, from a summary table.

    The strategy with the highest mean NPV is the recommendation (the baseline when nothing beats
    it). Returns ``strategy``, ``change`` (False when it is the baseline), ``npv_diff``,
    ``spend_diff`` (each ``(mean, lo, hi)``; for the baseline: those of the closest alternative,
    named in ``closest``), ``case`` (more/less/same) and ``text``: one sentence for a headline.
    """
    npv = table[(table["kind"] == "level") & (table["metric"] == "npv")].set_index("strategy")["mean"]
    base_spend = table[(table["strategy"] == baseline) & (table["metric"] == "pv_spend")]["mean"]
    base_spend = float(base_spend.iloc[0]) if len(base_spend) else float("nan")
    order = npv.sort_values(ascending=False, kind="stable").index.tolist()
    best = order[0]
    other = best if best != baseline else next((s for s in order if s != baseline), None)
    out = {"strategy": best, "change": best != baseline, "closest": None if best != baseline else other}
    if other is None:
        out.update(npv_diff=(float("nan"),) * 3, spend_diff=(float("nan"),) * 3, case="unknown",
                   text=f"{baseline} is the only strategy")
        return out
    c = _cells(table, other)
    dn, ds = _mlh(c.get(("vs_baseline", "npv_diff"))), _mlh(c.get(("vs_baseline", "spend_diff")))
    case = spend_case(ds[0], base_spend)
    out.update(npv_diff=dn, spend_diff=ds, case=case)
    if best == baseline:
        cost = {"more": f"for {money(ds[0])} more spend", "less": f"while saving {money(-ds[0])} of spend",
                "same": "at the same spend"}.get(case, "")
        out["text"] = (f"Keep {baseline}: no alternative raises NPV; the closest, {other}, changes NPV by "
                       f"{money(*dn, sign=True)} {cost}".rstrip() + ".")
        return out
    if case == "more":
        roi = _mlh(c.get(("vs_baseline", "roi")))
        cost = f"for {money(*ds)} more spend (present value): ROI {percent(*roi)}"
    elif case == "less":
        cost = f"and saves {money(-ds[0], -ds[2], -ds[1])} of spend (present value)"
    else:
        cost = "at the same spend"
    out["text"] = f"Switch to {best}: NPV {money(*dn, sign=True)} {cost}."
    return out


def room_text(r) -> str:
    """How much more a spend lever can take (a row of :class:`clmsim.analysis.margins.Margins`'s
    table): ``no cap``, or the present value of the extra spend up to its cap (coverage 1)."""
    if math.isinf(r.room):
        return "no cap"
    return "0 (at coverage 1)" if r.room <= 0 else f"{money(r.room, sign=True)} to coverage 1"


def room_clause(r) -> str:
    """What a capped lever (a margins table row with a finite room) can still take and what that
    whole step is worth."""
    return (f"it can take {money(r.room)} more spend (present value) before its coverage reaches 1, "
            f"which changes NPV by {money(r.room_dnpv, sign=True)}")


def with_room(table: pd.DataFrame) -> pd.DataFrame:
    """The levers of a margins table (best first) where the next unit of spend can go: a positive
    marginal return and room to spend more."""
    return table[(table["marginal_return"] > 0) & (table["room"] > 0)]


def margin_advice(table: pd.DataFrame, label=lambda path: path) -> list[str]:
    """Where the next unit of spend goes, as sentences, from a margins table (best first; see
    :func:`clmsim.analysis.margins.margins`).

    The next unit goes to the lever with the highest positive marginal return that still has
    room; a capped lever says how much more it can take and what that whole step is worth (exact,
    not the margin extrapolated), and the runner-up is named. Levers that lose at the margin are
    split into those spending now ("spending less pays on") and those at 0 ("not worth starting":
    there is nothing to cut). ``label`` shortens a lever's dotted path."""
    m = table["marginal_return"]
    out = []
    go = with_room(table)
    if len(go):
        best = go.iloc[0]
        text = (f"the next unit of spend goes to {label(best.lever)}: each 1 more returns itself and "
                f"{_exact(float(best.marginal_return))} of NPV (marginal return {percent(best.marginal_return)})")
        if math.isfinite(best.room):
            text += "; " + room_clause(best)
            if len(go) > 1:
                text += f"; after that, {label(go.iloc[1].lever)} ({percent(go.iloc[1].marginal_return)})"
        out.append(text)
    else:
        out.append("no lever with room to spend returns its cost at the margin: the next unit is better not spent")
    full = table[(m > 0) & (table["room"] <= 0)]
    if len(full):
        out.append("at coverage 1 already: " + ", ".join(
            f"{label(r.lever)} ({percent(r.marginal_return)})" for r in full.itertuples()))
    cut = table[(m < 0) & (table["value"] > 0)]
    if len(cut):
        out.append("spending less pays on: " + ", ".join(
            f"{label(r.lever)} ({percent(r.marginal_return)})" for r in cut.itertuples()))
    idle = table[(m < 0) & (table["value"] <= 0)]
    if len(idle):
        out.append("not worth starting: " + ", ".join(
            f"{label(r.lever)} (its first units return {percent(r.marginal_return)})" for r in idle.itertuples()))
    return out


SEGMENT_HEADERS = {"strategy": "strategy", "segment": "segment", "npv": "NPV", "npv_diff": "NPV vs {b}",
                   "active_end": "active at end"}


def segment_rows(segments: pd.DataFrame, baseline: str | None) -> list[dict]:
    """Formatted cells per strategy and segment from :func:`clmsim.metrics.segment_table`:
    ``strategy, segment, npv, npv_diff`` (versus the baseline's same segment), ``active_end``."""
    rows = []
    for s in dict.fromkeys(segments["strategy"]):
        for g in dict.fromkeys(segments["segment"]):
            c = {(r.kind, r.metric): r for r in segments[(segments["strategy"] == s)
                                                         & (segments["segment"] == g)].itertuples(index=False)}
            diff = "(baseline)" if s == baseline else money(*_mlh(c.get(("vs_baseline", "npv_diff"))), sign=True)
            rows.append({"strategy": s, "segment": str(g), "npv": money(*_mlh(c.get(("level", "npv")))),
                         "npv_diff": diff if baseline is not None else "",
                         "active_end": count(*_mlh(c.get(("level", "active_end"))))})
    return rows


def segment_note(monte_carlo: bool, n_runs: int) -> str:
    """The footnote of the per-segment table."""
    foot = ("Per segment: each segment's own cash, acquisition spend split by the channels' segment mix; "
            "the segments add up to the totals.")
    if monte_carlo:
        foot += f" \u00b1 = 95% half-width; differences paired over {n_runs} runs (common random numbers)."
    return foot


def segment_text(segments: pd.DataFrame, baseline: str | None, monte_carlo: bool, n_runs: int) -> str:
    """:func:`segment_rows` as text with its footnote; empty without segments (one segment, whose
    rows are the totals)."""
    from .textable import format_table

    if segments is None or not len(segments) or segments["segment"].nunique() < 2:
        return ""
    cols = ["strategy", "segment", "npv"] + (["npv_diff"] if baseline is not None else []) + ["active_end"]
    right = lambda x: x  # noqa: E731
    heads = {k: v.format(b=baseline) for k, v in SEGMENT_HEADERS.items()}
    text = format_table(segment_rows(segments, baseline), {c: right for c in ("npv", "npv_diff", "active_end")},
                        columns=cols, headers=heads)
    return "NPV by segment\n" + text + "\n\n" + segment_note(monte_carlo, n_runs)


def decision_text(table, provenance: dict, baseline: str | None, n_runs: int) -> str:
    """The decision table of ``run``, ``compare`` and the demo as text, with its footnotes."""
    from .textable import format_table

    rows = decision_rows(table, baseline or "")
    cols = ["strategy", "npv", "pv_spend"]
    if baseline is not None:
        cols += ["npv_diff", "spend_diff", "ret", "wins", "payback"]
    unit = provenance.get("period") or "period"
    mc = provenance.get("engine") != "analytic" and bool(provenance.get("monte_carlo", True))
    if not mc or baseline is None:
        cols = [c for c in cols if c != "wins"]
    right = lambda x: x  # noqa: E731 -- preformatted cells, right-aligned as numbers
    text = format_table(rows, {c: right for c in cols if c not in ("strategy", "ret")}, columns=cols,
                        headers=headers(baseline or "baseline", unit))
    spend = table[table["metric"] == "pv_spend"]["mean"]
    foot = notes(mc, n_runs, int(provenance.get("batches") or 1), provenance.get("horizon"), unit,
                 has_spend=bool(spend.notna().any()))
    return text + "\n\n" + "\n".join(foot)
