"""The explorer's state, without any web library: controls, edits, validation and the numbers.

:class:`Explorer` holds one scenario file, the selected strategy and segment and the
user's edits; :meth:`Explorer.compute` evaluates the current settings with the analytic
engine (:func:`clmsim.api.explain`) and returns everything the page shows. The web app
(:mod:`clmsim.explore.app`) only draws what this returns, so the numbers are tested here
without a browser.

Semantics: the sliders start at the selected strategy's settings; the edits apply on top of
them (as ``--set`` would on a file whose baseline is that strategy). NPV is compared with
the file's baseline (unchanged by edits): ``dNPV = NPV(current settings) - NPV(baseline)``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..model import ACTIVE, PROSPECT
from ..scenario import BASELINE, ScenarioEditor, ScenarioError

Keys = tuple[str, ...]
ALL = "all segments"
"""Segment choice meaning "the scenario's own rows" (what every segment inherits)."""


@dataclass(frozen=True)
class Control:
    """One slider: the scenario value at ``keys`` (a dotted path split into keys)."""

    keys: Keys
    label: str
    group: str
    start: float
    end: float
    step: float
    value: float
    note: str = ""

    @property
    def path(self) -> str:
        return ".".join(self.keys)


def _number(v: Any) -> tuple[float, str]:
    """A slider value for a number or a schedule (first period's value, with a note)."""
    if isinstance(v, dict):
        if v.get("values"):
            return float(v["values"][0]), "a schedule: the slider sets one value for every period"
        if v.get("ramp"):
            return float(v["ramp"]["start"]), "a ramp: the slider sets one value for every period"
        if v.get("seasonality"):
            return float(v.get("base", 0.0)), "a seasonal value: the slider sets one value for every period"
        return 0.0, ""
    return (0.0 if v is None else float(v)), ""


def _money_range(value: float, floor: float) -> tuple[float, float]:
    end = max(3.0 * value, floor)
    mag = 10 ** math.floor(math.log10(end)) if end > 0 else 1.0
    end = math.ceil(end / mag) * mag
    return end, end / 200.0


class Explorer:
    """State of one explorer session.

    Parameters
    ----------
    path : str or Path
        A valid scenario file.
    """

    def __init__(self, path: str | Path):
        from ..api import explain

        self.editor = ScenarioEditor(path)
        self.path = Path(path)
        self.strategy = BASELINE
        self.edits: dict[Keys, float] = {}
        segs = list((self.editor.settings().get("segments") or {}).keys())
        self.segments = [ALL, *segs] if segs else [ALL]
        self.segment = ALL
        self.baseline = explain(self.editor.scenario, BASELINE)
        self.stage = self.baseline["cohort_stage"]
        model = self.baseline["model"]
        # stages a customer can enter: prospects and active stages
        self.stages = [s for s, k in zip(model.stage_names, model.stage_kind) if int(k) in (PROSPECT, ACTIVE)]
        self.last: dict | None = None

    # ------------------------------------------------------------ selection
    def select_strategy(self, name: str) -> None:
        """Start from another strategy's settings (clears the edits)."""
        self.editor.settings(name)
        self.strategy = name
        self.edits = {}

    def select_segment(self, name: str) -> None:
        if name not in self.segments:
            raise KeyError(f"unknown segment {name!r}; segments: {', '.join(self.segments)}")
        self.segment = name

    def select_stage(self, name: str) -> None:
        if name not in self.stages:
            raise KeyError(f"unknown stage {name!r}; stages a customer can enter: {', '.join(self.stages)}")
        self.stage = name

    def reset(self) -> None:
        self.edits = {}

    # ------------------------------------------------------------- controls
    def current_data(self) -> dict:
        """Settings with the edits applied where they apply cleanly (for slider values)."""
        from ..scenario.overrides import OverrideError, apply_override

        data = self.editor.settings(self.strategy)
        for path, value in self.editor.overrides(self.strategy, self.edits):
            try:
                data, _ = apply_override(data, path, value)
            except OverrideError:
                continue
        return data

    def controls(self) -> list[Control]:
        """Every slider of the current strategy and segment, grouped."""
        data = self.current_data()
        out: list[Control] = []
        stages = data["stages"]
        base_rows = data.get("transitions") or {}
        seg = None if self.segment == ALL else (data.get("segments") or {}).get(self.segment) or {}
        seg_rows = (seg or {}).get("transitions") or {}
        where = "" if seg is None else f" (segment {self.segment})"
        for src, st in stages.items():
            if st["kind"] == "lost":
                continue
            row = dict(base_rows.get(src) or {})
            row.update(seg_rows.get(src) or {})
            for dst, p in row.items():
                keys = ("transitions", src, dst) if seg is None else ("segments", self.segment, "transitions", src, dst)
                out.append(Control(keys, f"{src} → {dst}", "transitions" + where, 0.0, 1.0, 0.005, float(p)))
        for name, st in stages.items():
            if st["kind"] != "active":
                continue
            rev = st.get("revenue")
            if isinstance(rev, dict):
                keys, value = ("stages", name, "revenue", "mean"), float(rev.get("mean", 0.0))
            else:
                keys, value = ("stages", name, "revenue"), float(rev or 0.0)
            end, step = _money_range(value, 10.0)
            out.append(Control(keys, f"{name}: revenue", "economics (per customer per period)", 0.0, end, step, value))
            margin = st.get("margin")
            out.append(Control(("stages", name, "margin"), f"{name}: margin", "economics (per customer per period)",
                               0.0, 1.0, 0.005, 1.0 if margin is None else float(margin)))
            cost = float(st.get("cost_to_serve") or 0.0)
            end, step = _money_range(cost, max(value, 10.0))
            out.append(Control(("stages", name, "cost_to_serve"), f"{name}: cost to serve",
                               "economics (per customer per period)", 0.0, end, step, cost))
        out.append(Control(("time", "discount_rate"), "discount rate (per year)", "time", 0.0, 0.5, 0.0025,
                           float(data["time"].get("discount_rate", 0.0))))
        for pname, prog in ((data.get("retention") or {}).get("programs") or {}).items():
            value, note = _number(prog.get("spend_per_customer"))
            end, step = _money_range(value, 10.0)
            out.append(Control(("retention", "programs", pname, "spend_per_customer"), f"{pname}: spend per customer",
                               "programmes (per targeted customer per period)", 0.0, end, step, value, note))
        for cname, ch in ((data.get("acquisition") or {}).get("channels") or {}).items():
            value, note = _number(ch.get("spend_per_period"))
            end, step = _money_range(value, 1000.0)
            out.append(Control(("acquisition", "channels", cname, "spend_per_period"), f"{cname}: spend per period",
                               "acquisition channels", 0.0, end, step, value, note))
        return out

    # --------------------------------------------------------------- edits
    def set(self, keys: Keys, value: float) -> None:
        """Record an edit (validated by :meth:`compute`)."""
        self.edits[tuple(keys)] = float(value)

    def messages(self, error: ScenarioError) -> dict[str, list[str]]:
        """Diagnostics by the control path they belong to (``""``: not tied to one slider).

        A diagnostic belongs to a control when one path is a prefix of the other (a row-sum
        problem at ``transitions.a`` shows beside every slider of row ``a``)."""
        paths = [c.path for c in self.controls()]
        out: dict[str, list[str]] = {}
        for d in error.diagnostics:
            hit = [p for p in paths if p == d.path or p.startswith(d.path + ".") or d.path.startswith(p + ".")]
            for p in hit or [""]:
                out.setdefault(p, []).append(str(d))
        return out

    def compute(self) -> dict:
        """Evaluate the current settings exactly.

        Returns
        -------
        dict
            ``ok`` False with ``messages`` (see :meth:`messages`) and ``errors`` (the lines
            ``clmsim validate`` prints) when the settings are invalid; else ``ok`` True, ``info``
            (:func:`clmsim.api.explain` of the settings), ``segment_row`` (the CLV table's
            segment shown), ``clv`` (CLV for ever of a customer entering :attr:`stage`),
            ``clv_horizon``, ``clv_entry_margin``, ``npv``, ``npv_baseline``, ``d_npv``, ``text``
            (the formulas of the moment in plain words).
        """
        from ..api import explain
        from ..errors import ClmsimError

        try:
            scenario = self.editor.apply(self.strategy, self.edits)
            info = explain(scenario, BASELINE, cohort_stage=self.stage)
        except ScenarioError as exc:
            return {"ok": False, "messages": self.messages(exc), "errors": [str(d) for d in exc.diagnostics]}
        except ClmsimError as exc:
            return {"ok": False, "messages": {"": [str(exc)]}, "errors": [str(exc)]}
        seg = "all" if self.segment == ALL else self.segment
        table = info["clv"]
        rows = table[table["segment"] == seg].set_index("stage")
        row = rows.loc[self.stage]
        out = {
            "ok": True, "info": info, "segment_row": seg, "rows": rows,
            "clv": float(row["clv_infinite"]), "clv_horizon": float(row["clv_horizon"]),
            "clv_entry_margin": float(row["clv_entry_margin"]), "lifetime": float(row["lifetime"]),
            "margins_paid": float(row["margins_paid"]),
            "npv": info["npv"], "npv_baseline": self.baseline["npv"], "d_npv": info["npv"] - self.baseline["npv"],
        }
        out["text"] = moment_text(self, info, out)
        self.last = out
        return out

    def save(self, out: str | Path) -> Path:
        """Write the current settings as scenario YAML (strategy ``explored``) that validate accepts.

        Raises
        ------
        ScenarioError
            When the current settings are invalid (nothing is written).
        """
        self.editor.apply(self.strategy, self.edits)
        sets = " ".join(f"--set {s}" for s in self.editor.set_arguments(self.strategy, self.edits)) or "(none)"
        header = (f"Written by `clmsim explore {self.path}`: the file's scenario plus strategy 'explored' =\n"
                  f"strategy '{self.strategy}' with the explorer's edits: {sets}\n"
                  "Check: clmsim validate THIS_FILE; numbers: clmsim run THIS_FILE --strategy explored")
        return self.editor.write(out, self.strategy, self.edits, "explored", header)


def _fmt(x: float | None) -> str:
    if x is None or not math.isfinite(x):
        return "infinite" if x > 0 else "-"
    return f"{x:,.2f}"


def moment_text(ex: Explorer, info: dict, out: dict) -> list[str]:
    """The formulas of the moment in plain words (one paragraph per item)."""
    model = info["model"]
    per = model.period
    d = info["discount_rate"]
    seg = out["segment_row"]
    stage = ex.stage
    r0 = info["retention"].get((seg, stage), float("nan"))
    r1 = info["retention_after"].get((seg, stage), float("nan"))
    if seg != "all" or model.n_segments == 1:
        contrib = info["contribution"].get((seg, stage), 0.0)
    else:
        contrib = float(sum(model.segment_share[g] * info["contribution"].get((s, stage), 0.0)
                            for g, s in enumerate(model.segment_names)))
    where = "weighted over segments" if seg == "all" else f"segment {seg}"
    who = stage if model.n_segments == 1 else f"{stage} ({where})"
    if (seg, stage) not in info["retention"]:
        lines = [f"A prospect in {who} pays nothing until they become a customer; what they are worth counts "
                 f"the chance that they convert, and when.",
                 f"They are expected to be a paying customer for {_fmt(out['lifetime'])} {per}s in all, "
                 f"so to pay {_fmt(out['margins_paid'])} margins."]
    else:
        lines = [
            f"A customer in {who} is still a customer one {per} later with chance {r1:.3f} "
            f"after the retention programmes ({r0:.3f} as written: retention = 1 − churn).",
            f"They are expected to stay {_fmt(out['lifetime'])} {per}s, counting the {per} they join, and to pay "
            f"{_fmt(out['margins_paid'])} margins after joining; while here each {per} brings a contribution of "
            f"{_fmt(contrib)} (revenue × margin − cost to serve)."]
    lines += [
        f"Discounting at {d:.3%} per {per} (1 paid one {per} from now is worth {1 / (1 + d):.4f} today), "
        f"the customer is worth CLV = {_fmt(out['clv'])} with the first margin one {per} after joining, "
        f"or {_fmt(out['clv_entry_margin'])} if the joining {per}'s margin is paid at once; "
        f"over the plan's {model.horizon} {per}s: {_fmt(out['clv_horizon'])}.",
    ]
    cf = info["closed_form"].get((seg, stage)) if seg != "all" or model.n_segments == 1 else None
    if cf is None and model.n_segments == 1:
        cf = info["closed_form"].get(("all", stage))
    if cf is not None:
        lines.append(f"One stage kept with chance r: CLV = m·r/(1+d−r) = {cf['m']:,.2f} × {cf['r']:.3f} / "
                     f"{1 + d - cf['r']:.4f} = {_fmt(cf['clv'])}; with the first margin at acquisition "
                     f"m(1+d)/(1+d−r) = {_fmt(cf['clv_entry_margin'])}; lifetime 1/(1−r) = {_fmt(cf['lifetime'])}.")
    else:
        lines.append(f"Customers here also move between stages, so CLV adds up every future {per}'s expected "
                     f"contribution, weighted by where the customer will be, and discounted "
                     f"(no one-line formula; clmsim explain --math shows the matrix form).")
    sign = "+" if out["d_npv"] >= 0 else "−"
    lines.append(f"The plan: NPV = every {per}'s net cash (contribution − acquisition, programme and win-back "
                 f"spend) discounted and summed over {model.horizon} {per}s = {_fmt(out['npv'])}; "
                 f"the file's baseline gives {_fmt(out['npv_baseline'])}, so ΔNPV = {sign}{_fmt(abs(out['d_npv']))}.")
    return lines
