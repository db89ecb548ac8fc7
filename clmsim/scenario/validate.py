"""Validation of merged scenario data: schema (pydantic), then semantics.

Both layers report every problem they find as a :class:`Diagnostic` with the
dotted path and the source location of the offending key, with "did you mean"
hints for misspelled field, stage, segment and channel names.
"""

from __future__ import annotations

import copy
import math
import typing
from typing import Any, Iterable

import numpy as np
from pydantic import BaseModel, ValidationError

from .errors import Diagnostic, Location, did_you_mean, dotted
from .loader import Positions, locate
from .schedules import distinct_periods, expand, is_schedule
from .schema import MAX_COUNT, MAX_NUMBER, ScenarioSpec, ScheduleSpec, SeasonalSpec

_TOL = 1e-9


# ------------------------------------------------------------------ schema layer
def _resolve(annotation: Any) -> list[tuple[str, Any]]:
    """What a value of type ``annotation`` can be, as tagged nodes.

    ``("model", cls)`` for a pydantic model, ``("dict", value_type)`` for a mapping of
    free names (stages, channels, ...), ``("list", item_type)`` for a list. Unions,
    ``Optional`` and ``Annotated`` are looked through; scalars give nothing.
    """
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [("model", annotation)]
    origin = typing.get_origin(annotation)
    if origin is dict:
        return [("dict", typing.get_args(annotation)[1])]
    if origin is list:
        return [("list", typing.get_args(annotation)[0])]
    found: list[tuple[str, Any]] = []
    for arg in typing.get_args(annotation):
        found += _resolve(arg)
    return found


def _step(nodes: list[tuple[str, Any]], key: Any) -> list[tuple[str, Any]]:
    """Nodes one key further down, each as ``(role, annotation)``.

    ``role`` is ``"free"`` (a key of a mapping of names), ``"optional"`` or
    ``"required"`` (a model field) or ``"index"`` (a list item).
    """
    out: list[tuple[str, Any]] = []
    for tag, what in nodes:
        if tag == "model":
            for fname, field in what.model_fields.items():
                if key in (fname, field.alias):
                    out.append(("required" if field.is_required() else "optional", field.annotation))
        elif tag == "dict":
            out.append(("free", what))
        elif tag == "list" and isinstance(key, int):
            out.append(("index", what))
    return out


def _walk(path: tuple) -> tuple[list[tuple[str, Any]], set[str]]:
    """Nodes reachable at ``path`` from the top and the roles its last key can play."""
    nodes = _resolve(ScenarioSpec)
    roles: set[str] = set()
    for key in path:
        stepped = _step(nodes, key)
        roles = {role for role, _ in stepped}
        nodes = [node for _, ann in stepped for node in _resolve(ann)]
        if not nodes and not stepped:
            break
    return nodes, roles


def _field_names(path: tuple) -> list[str]:
    """Field names allowed by the model(s) at ``path`` (for did-you-mean hints)."""
    names: list[str] = []
    for tag, what in _walk(tuple(path))[0]:
        if tag == "model":
            names += [f.alias or n for n, f in what.model_fields.items()]
    return names


def _clean_loc(loc: tuple, data: Any, key_last: bool = True) -> tuple[tuple, str | None, int]:
    """Drop pydantic's union-branch tags from ``loc``.

    Returns the data path, the first branch tag met (or None) and the length of
    the path at which that tag stood (where the union value is).
    """
    path: list = []
    node = data
    tag, tag_at = None, 0
    for i, part in enumerate(loc):
        last = i == len(loc) - 1
        if isinstance(node, dict) and part in node:
            path.append(part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and part < len(node):
            path.append(part)
            node = node[part]
        elif last and key_last:
            path.append(part)
        elif tag is None:
            tag, tag_at = str(part), len(path)
    return tuple(path), tag, tag_at


def _value_at(data: Any, path: tuple) -> Any:
    for part in path:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def _message(err: dict, path: tuple) -> str:
    """A readable message for one pydantic error at data ``path``."""
    kind = err["type"]
    value = err.get("input")
    if kind == "extra_forbidden":
        key = path[-1]
        return f"unknown field '{key}'{did_you_mean(key, _field_names(path[:-1]))}"
    if kind == "missing":
        return f"missing required field '{path[-1]}'"
    if kind == "literal_error":
        return f"{err['msg']}, got {value!r}"
    if kind == "value_error":
        return str(err["msg"]).removeprefix("Value error, ")
    if kind == "less_than_equal" and err.get("ctx", {}).get("le") == MAX_NUMBER:
        return (f"{value!r} is beyond {MAX_NUMBER:.0e}, the largest amount clmsim computes exactly "
                "(sums over customers and periods in float64)")
    if isinstance(value, float) and not math.isfinite(value):
        return f"expected a finite number, got {value}"
    if kind == "string_pattern_mismatch" and err.get("_key"):
        return f"name {value!r} may not be empty, contain '.' or '=', or start with a space"
    message = str(err["msg"])
    if "input" in err and not isinstance(value, (dict, list)):
        message += f", got {value!r}"
    return message


def schema_diagnostics(exc: ValidationError, data: dict, positions: Positions, default: Location,
                       prefix: str = "", at: Location | None = None) -> list[Diagnostic]:
    """Translate a pydantic ``ValidationError`` into located diagnostics.

    ``prefix``/``at`` report strategy-resolved scenarios at the strategy's key.
    """
    return [d for d, _ in _schema_problems(exc, data, positions, default, prefix, at)]


def _schema_problems(exc: ValidationError, data: dict, positions: Positions, default: Location,
                     prefix: str = "", at: Location | None = None) -> list[tuple[Diagnostic, tuple]]:
    """Diagnostics of a ``ValidationError``, each with its data path and error type."""
    errors = exc.errors(include_url=False)
    kept = []
    for err in errors:
        loc = tuple(err["loc"])
        is_key = bool(loc) and loc[-1] == "[key]"
        if is_key:  # an invalid name used as a mapping key: report it at the key
            err = dict(err, _key=True)
            loc = loc[:-1]
        path, tag, tag_at = _clean_loc(loc, data, is_key or err["type"] in ("missing", "extra_forbidden"))
        if tag is not None and tag.startswith("function-") and "," in tag:
            tag = tag[tag.rfind(",") + 1:].rstrip("]").strip()  # a validated branch: its type
        if tag is not None and not tag.startswith("function"):
            # a union branch: keep the branch that matches the kind of value written
            branch_is_model = tag[:1].isupper() or tag in {"linear", "saturating"}
            written_mapping = isinstance(_value_at(data, path[:tag_at]), dict)
            if branch_is_model != written_mapping and len(errors) > 1:
                continue
        kept.append((err, path))
    if not kept:
        kept = [(e, _clean_loc(tuple(e["loc"]), data)[0]) for e in errors]
    out = []
    for err, path in kept:
        where = at or locate(positions, path, default)
        out.append((Diagnostic(where, prefix + dotted(path), _message(err, path)), (path, err["type"])))
    return out


# ------------------------------------------------ semantic checks despite schema errors
_PLACEHOLDERS = {"schema_version": 1, "name": "scenario", "time": {"horizon": 1}}
"""Stand-ins for broken required top-level fields that no semantic check reads."""


def _prune(data: dict, problems: list[tuple[tuple, str]]) -> tuple[dict | None, list[tuple]]:
    """Remove what the schema refused, so the semantic checks can run on the rest.

    Each refused value is removed at the nearest enclosing key that may be absent: an
    optional field or an entry of a mapping of names (a stage, a channel, a transition
    entry ...). Broken required top-level fields get harmless placeholders. Returns the
    pruned copy and the pruned paths, or ``None`` when nothing useful is left (e.g.
    ``stages`` itself is unusable).
    """
    out = copy.deepcopy(data)
    pruned: list[tuple] = []
    for path, kind in problems:
        start = path[:-1] if kind == "missing" else path
        if kind == "extra_forbidden" and _value_at(out, path[:-1]) is not None:
            parent = _value_at(out, path[:-1])
            if isinstance(parent, dict):
                parent.pop(path[-1], None)
            continue
        q = start
        while q:
            roles = _walk(q)[1]
            if roles and roles <= {"free", "optional"}:
                parent = _value_at(out, q[:-1])
                if isinstance(parent, dict):
                    parent.pop(q[-1], None)
                    pruned.append(q)
                break
            if len(q) == 1:
                if q[0] not in _PLACEHOLDERS:
                    return None, pruned
                out[q[0]] = copy.deepcopy(_PLACEHOLDERS[q[0]])
                break
            q = q[:-1]
        if not q and start == ():
            return None, pruned
    return out, pruned


def _related(diag_path: tuple, message: str, pruned: list[tuple]) -> bool:
    """True if a semantic finding may only be an echo of something pruned."""
    for q in pruned:
        n = min(len(q), len(diag_path))
        if diag_path[:n] == q[:n]:
            return True
        if f"'{q[-1]}'" in message:
            return True
    return False


def _schedule_max(value: Any) -> float:
    """Largest value a schedule (or number) takes."""
    if isinstance(value, ScheduleSpec):
        vals = list(value.values or [])
        if value.ramp is not None:
            vals += [value.ramp.start, value.ramp.end]
        return max(vals, default=0.0)
    return float(value)


def _sound(value: Any) -> bool:
    """A schedule whose shape can be expanded (see ``_Checker.dynamic``; numbers are sound)."""
    if isinstance(value, ScheduleSpec):
        return (value.values is None) != (value.ramp is None)
    if isinstance(value, SeasonalSpec):
        s = value.seasonality
        return len(s.multipliers) == s.period and s.phase <= s.period
    return True


# --------------------------------------------------------------- semantic layer
class _Checker:
    def __init__(self, spec: ScenarioSpec, positions: Positions, default: Location,
                 prefix: str = "", at: Location | None = None):
        self.spec = spec
        self.positions = positions
        self.default = default
        self.prefix = prefix
        self.at = at
        self.out: list[Diagnostic] = []
        self.raw: list[tuple] = []
        self.kinds = {name: st.kind for name, st in spec.stages.items()}

    def bad(self, path: Iterable, message: str) -> None:
        path = tuple(path)
        where = self.at or locate(self.positions, path, self.default)
        self.out.append(Diagnostic(where, self.prefix + dotted(path), message))
        self.raw.append(path)

    def stage(self, path: tuple, name: str, kinds: tuple[str, ...] | None = None, what: str = "stage") -> bool:
        if name not in self.kinds:
            self.bad(path, f"unknown {what} '{name}'{did_you_mean(name, self.kinds)}")
            return False
        if kinds and self.kinds[name] not in kinds:
            self.bad(path, f"{what} '{name}' is of kind {self.kinds[name]}; expected {' or '.join(kinds)}")
            return False
        return True

    def segment(self, path: tuple, name: str) -> bool:
        segments = self.spec.segments or {}
        if name not in segments:
            if not segments:
                self.bad(path, f"segment '{name}' named but the scenario defines no segments")
            else:
                self.bad(path, f"unknown segment '{name}'{did_you_mean(name, segments)}")
            return False
        return True

    def targeting(self, base: tuple, segments: list[str] | None, overrides: dict, field: str) -> None:
        """``target_segments`` and per-segment overrides name known segments; an override
        names a targeted segment."""
        for i, gname in enumerate(segments or []):
            self.segment(base + ("target_segments", i), gname)
        for gname in overrides:
            if self.segment(base + (field, gname), gname) and segments is not None and gname not in segments:
                self.bad(base + (field, gname), f"segment '{gname}' is not in target_segments "
                         f"({', '.join(segments)}): its override would never apply")

    def intercept(self, base: tuple, prog: Any) -> None:
        """Fields of an intercept (save) offer, refused on care programs and vice versa."""
        if prog.kind != "intercept":
            for key in ("save_to", "concession"):
                if getattr(prog, key) is not None:
                    self.bad(base + (key,), f"'{key}' belongs to save offers: give the program 'kind: intercept'")
            self.risk_target(base, prog)
            if prog.target_risk is not None:
                lifts = prog.effect.upgrade_lift > 0 or any(o.upgrade_lift for o in prog.effect_by_segment.values())
                if lifts or prog.effect.upgrade_to is not None:
                    self.bad(base + ("target_risk",), "a care program aimed at the riskiest customers lowers their "
                             "churn only: leave out upgrade_lift and upgrade_to (or aim a second program at the stage)")
                if prog.budget_cap_per_period is not None:
                    self.bad(base + ("target_risk",), "a care program aimed at the riskiest customers spends "
                             "spend_per_customer on each of them: give no budget_cap_per_period")
            return
        self.risk_target(base, prog)
        if prog.effect.upgrade_lift > 0 or prog.effect.upgrade_to is not None:
            self.bad(base + ("effect",), "a save offer (kind intercept) saves customers who try to leave: "
                     "it lifts no upgrade (leave out upgrade_lift and upgrade_to)")
        for gname, over in prog.effect_by_segment.items():
            if over.upgrade_lift is not None:
                self.bad(base + ("effect_by_segment", gname, "upgrade_lift"),
                         "a save offer (kind intercept) lifts no upgrade")
        if prog.budget_cap_per_period is not None:
            self.bad(base + ("budget_cap_per_period",), "a save offer is paid per customer who tries to leave: "
                     "give no budget cap")
        if prog.save_to is not None:
            self.stage(base + ("save_to",), prog.save_to, ("active",))
        for i, gname in enumerate((prog.concession.target_segments or []) if prog.concession else []):
            self.segment(base + ("concession", "target_segments", i), gname)

    def risk_target(self, base: tuple, prog: Any) -> None:
        """``target_risk`` (save offers and care programs): every targeted segment has a
        heterogeneity draw to rank its customers by."""
        if prog.target_risk is None:
            return
        segments = self.spec.segments or {}
        for gname in (prog.target_segments or list(segments) or [None]):
            seg = segments.get(gname) if gname is not None else None
            het = seg.heterogeneity if seg is not None and seg.heterogeneity is not None else self.spec.heterogeneity
            if het is None or (het.churn_multiplier is None and het.churn_probability is None):
                who = f"segment '{gname}'" if gname is not None else "the scenario"
                self.bad(base + ("target_risk",), f"{who} has no heterogeneity: every customer has the same "
                         "churn propensity, so there is no riskiest share to aim at")

    def one_intercept_per_cell(self) -> None:
        """At most one save offer reaches a customer (segment, stage) cell."""
        seen: dict[tuple, str] = {}
        segments = list(self.spec.segments or {}) or ["all"]
        for pname, prog in self.spec.retention.programs.items():
            if prog.kind != "intercept":
                continue
            for g in prog.target_segments or segments:
                for sname in prog.target:
                    if (g, sname) in seen and seen[(g, sname)] != pname:
                        where = f"stage '{sname}'" + ("" if g == "all" else f" of segment '{g}'")
                        self.bad(("retention", "programs", pname, "target"),
                                 f"{where} already has the save offer '{seen[(g, sname)]}': one save offer per customer")
                        return
                    seen[(g, sname)] = pname

    def schedule(self, path: tuple, value: Any) -> None:
        if isinstance(value, ScheduleSpec):
            if (value.values is None) == (value.ramp is None):
                self.bad(path, "a schedule gives exactly one of 'values' or 'ramp'")

    def dynamic(self, path: tuple, value: Any, what: str = "probability", upper: float | None = 1.0) -> bool:
        """Check a value that may be a schedule: its shape, then every distinct period's value
        in ``[0, upper]``. True when it can be expanded (its shape is sound)."""
        if isinstance(value, ScheduleSpec):
            if (value.values is None) == (value.ramp is None):
                self.bad(path, "a schedule gives exactly one of 'values' or 'ramp'")
                return False
        elif isinstance(value, SeasonalSpec):
            s = value.seasonality
            if len(s.multipliers) != s.period:
                self.bad(path + ("seasonality", "multipliers"),
                         f"a cycle of period {s.period} needs exactly {s.period} multipliers, got {len(s.multipliers)}")
                return False
            if s.phase > s.period:
                self.bad(path + ("seasonality", "phase"), f"phase is the index of period 1's multiplier, "
                         f"1..{s.period}, got {s.phase}")
                return False
        else:
            return True
        if upper is not None:
            vals = expand(value, distinct_periods([value]))
            over = np.flatnonzero(vals > upper + _TOL)
            if over.size:
                t = int(over[0])
                more = f" (and in {over.size - 1} more of its first {vals.size} periods)" if over.size > 1 else ""
                self.bad(path, f"in period {t + 1} the {what} is {vals[t]:.6g} > {upper:g}{more}")
                return False
        return True

    def rows(self, path: tuple, rows: dict[str, dict[str, Any]],
             merged: dict[str, dict[str, Any]] | None = None) -> None:
        """Check rows as written; row sums use ``merged`` rows (a segment's rows over the base).

        A row with schedules is summed in every distinct period (until its schedules only
        repeat: a seasonal cycle, a values list, a ramp's length)."""
        for src, row in rows.items():
            if not self.stage(path + (src,), src):
                continue
            if self.kinds[src] == "lost" and any(is_schedule(p) or p > 0 for p in row.values()):
                self.bad(path + (src,), f"stage '{src}' is of kind lost, which is absorbing: it cannot have transitions")
                continue
            sound = True
            for dst, p in row.items():
                if dst == src:
                    self.bad(path + (src, dst), "a row lists moves only; staying is 1 minus the row sum")
                else:
                    self.stage(path + (src, dst), dst)
                sound = self.dynamic(path + (src, dst), p) and sound
            full = (merged or rows)[src]
            if not sound or not all(_sound(p) for p in full.values()):
                continue
            if not any(is_schedule(p) for p in full.values()):
                total = sum(full.values())
                if total > 1 + _TOL:
                    self.bad(path + (src,), f"transition probabilities sum to {total:.6g} > 1")
                continue
            n = distinct_periods(full.values())
            totals = np.sum([expand(p, n) for p in full.values()], axis=0)
            over = np.flatnonzero(totals > 1 + _TOL)
            if over.size:
                t = int(over[0])
                more = f" (and in {over.size - 1} more of its first {n} periods)" if over.size > 1 else ""
                self.bad(path + (src,), f"in period {t + 1} the row sums to {totals[t]:.6g} > 1{more}")

    def economics(self, path: tuple, st: Any) -> None:
        """Schedules of a stage's revenue mean and margin (shapes; margins in [0, 1])."""
        rev = st.revenue
        if rev is not None and hasattr(rev, "cv"):
            self.dynamic(path + ("revenue", "mean"), rev.mean, "revenue mean", None)
        elif rev is not None:
            self.dynamic(path + ("revenue",), rev, "revenue mean", None)
        if st.margin is not None:
            self.dynamic(path + ("margin",), st.margin, "margin")

    def mix(self, path: tuple, mix: dict[str, float] | None) -> None:
        if mix is None:
            return
        for name in mix:
            self.segment(path + (name,), name)
        total = sum(mix.values())
        if abs(total - 1) > 1e-6:
            self.bad(path, f"segment shares sum to {total:.6g}, not 1")

    def run(self) -> list[Diagnostic]:
        s = self.spec
        if not any(k == "active" for k in self.kinds.values()):
            self.bad(("stages",), "the scenario needs at least one stage of kind active")
        for name, st in s.stages.items():
            econ = st.revenue is not None or st.margin is not None or st.cost_to_serve is not None
            if st.kind != "active" and econ:
                self.bad(("stages", name), f"stage '{name}' is of kind {st.kind}: economics apply to active stages only")
            if st.kind == "active" and st.revenue is None:
                self.bad(("stages", name), f"active stage '{name}' needs 'revenue' (per customer per period)")
            self.economics(("stages", name), st)
        self.rows(("transitions",), s.transitions)
        het = s.heterogeneity
        self.heterogeneity(("heterogeneity",), het, s.transitions)
        for name, n in s.initial_population.items():
            if self.stage(("initial_population", name), name) and self.kinds[name] == "lost":
                self.bad(("initial_population", name), "customers in a lost stage never count: leave them out")
        if s.segments:
            total = sum(seg.share for seg in s.segments.values())
            if abs(total - 1) > 1e-6:
                self.bad(("segments",), f"segment shares sum to {total:.6g}, not 1")
            per_segment_pop = [seg.initial_population is not None for seg in s.segments.values()]
            if any(per_segment_pop) and s.initial_population:
                self.bad(("initial_population",), "give the initial population either here or in every segment, not both")
            elif any(per_segment_pop) and not all(per_segment_pop):
                self.bad(("segments",), "when one segment gives initial_population, every segment must")
            for gname, seg in s.segments.items():
                base = ("segments", gname)
                merged = {k: dict(v) for k, v in s.transitions.items()}
                for src, row in seg.transitions.items():
                    merged.setdefault(src, {}).update(row)
                self.rows(base + ("transitions",), seg.transitions, merged)
                for sname, over in seg.stages.items():
                    if self.stage(base + ("stages", sname), sname, ("active",)):
                        self.economics(base + ("stages", sname), over)
                for sname in seg.initial_population or {}:
                    self.stage(base + ("initial_population", sname), sname, ("prospect", "active", "churned"))
                self.heterogeneity(base + ("heterogeneity",), seg.heterogeneity or het, merged)
        acq = s.acquisition
        for cname, ch in acq.channels.items():
            base = ("acquisition", "channels", cname)
            self.schedule(base + ("spend_per_period",), ch.spend_per_period)
            top = _schedule_max(ch.spend_per_period)
            r = ch.response
            bought = top / r.cost_per_customer if r.type == "linear" else r.max_customers
            if bought > MAX_COUNT:
                self.bad(base + ("spend_per_period",), f"spend {top:g} buys {bought:.3g} customers per period, more "
                         f"than {MAX_COUNT:.0e}, the most the engines count exactly")
            self.stage(base + ("entry_stage",), ch.entry_stage, ("prospect", "active"))
            self.mix(base + ("segment_mix",), ch.segment_mix)
        if acq.referrals is not None:
            base = ("acquisition", "referrals")
            for sname in acq.referrals.from_:
                self.stage(base + ("from", sname), sname, ("active",))
            self.stage(base + ("entry_stage",), acq.referrals.entry_stage, ("prospect", "active"))
            self.mix(base + ("segment_mix",), acq.referrals.segment_mix)
        for pname, prog in s.retention.programs.items():
            base = ("retention", "programs", pname)
            for i, sname in enumerate(prog.target):
                self.stage(base + ("target", i), sname, ("active",))
            for i, sname in enumerate(prog.effect.upgrade_to or []):
                self.stage(base + ("effect", "upgrade_to", i), sname, ("active",))
            self.targeting(base, prog.target_segments, prog.effect_by_segment, "effect_by_segment")
            self.schedule(base + ("spend_per_customer",), prog.spend_per_customer)
            if prog.budget_cap_per_period is not None:
                self.schedule(base + ("budget_cap_per_period",), prog.budget_cap_per_period)
            self.intercept(base, prog)
        self.one_intercept_per_cell()
        churned = [n for n, k in self.kinds.items() if k == "churned"]
        claimed: dict[str, str] = {}
        for wname, pol in s.winback.policies.items():
            base = ("winback", "policies", wname)
            stages = pol.from_stages if pol.from_stages is not None else churned
            if not stages:
                self.bad(base, "win-back needs a stage of kind churned to draw from")
            for i, sname in enumerate(stages):
                if self.stage(base + ("from_stages", i), sname, ("churned",)):
                    if sname in claimed:
                        self.bad(base + ("from_stages",), f"churned stage '{sname}' is already served by policy '{claimed[sname]}'")
                    claimed[sname] = wname
            self.stage(base + ("return_stage",), pol.return_stage, ("active",))
            self.targeting(base, pol.target_segments, pol.success_by_segment, "success_by_segment")
            for i, gname in enumerate(pol.concession.target_segments or []):
                self.segment(base + ("concession", "target_segments", i), gname)
            self.schedule(base + ("coverage",), pol.coverage)
            if pol.capacity_per_period is not None:
                self.schedule(base + ("capacity_per_period",), pol.capacity_per_period)
            if isinstance(pol.coverage, (int, float)) and pol.coverage > 1:
                self.bad(base + ("coverage",), f"coverage is a share of eligible customers, got {pol.coverage} > 1")
            elif isinstance(pol.coverage, ScheduleSpec):
                values = pol.coverage.values or []
                ramp = pol.coverage.ramp
                if any(v > 1 for v in values) or (ramp and max(ramp.start, ramp.end) > 1):
                    self.bad(base + ("coverage",), "coverage is a share of eligible customers: every value must be <= 1")
        _check_operations(self)
        return self.out

    def heterogeneity(self, path: tuple, het: Any, rows: dict[str, dict[str, float]]) -> None:
        if het is None:
            return
        if het.churn_multiplier is not None and het.churn_probability is not None:
            self.bad(path, "give one of churn_multiplier or churn_probability, not both")
        if het.churn_probability is not None:
            for name, kind in self.kinds.items():
                if kind != "active":
                    continue
                row = rows.get(name, {})
                if not any(self.kinds.get(d) in ("churned", "lost") and (is_schedule(p) or p > 0)
                           for d, p in row.items()):
                    self.bad(path + ("churn_probability",),
                             f"active stage '{name}' has no churn transition for the per-customer churn probability to split over")


def _check_operations(c: _Checker) -> None:
    """Semantic checks of the ``operations`` block (agent pools, budgets; des engine only)."""
    ops = c.spec.operations
    if ops is None:
        return
    policies, programs = c.spec.winback.policies, c.spec.retention.programs
    known = list(policies) + list(programs)
    served: dict[str, str] = {}
    for tname, team in ops.teams.items():
        base = ("operations", "teams", tname)
        if team.serves not in known:
            c.bad(base + ("serves",), f"'{team.serves}' is neither a win-back policy nor a retention program"
                  f"{did_you_mean(team.serves, known)}")
            continue
        if team.serves in served:
            c.bad(base + ("serves",), f"'{team.serves}' is already served by team '{served[team.serves]}'")
        served[team.serves] = tname
        if team.serves in policies and policies[team.serves].capacity_per_period is not None:
            c.bad(base + ("serves",), f"win-back policy '{team.serves}' has capacity_per_period and a team: "
                  "the team's agents are its capacity, give one or the other")
        if team.serves in programs and team.discipline == "recent_first":
            c.bad(base + ("discipline",), "recent_first orders churners by time since churn: "
                  "it applies to win-back teams only")
    funded: dict[str, str] = {}
    for bname, budget in ops.budgets.items():
        base = ("operations", "budgets", bname)
        for i, name in enumerate(budget.serves):
            if name not in known:
                c.bad(base + ("serves", i), f"'{name}' is neither a win-back policy nor a retention program"
                      f"{did_you_mean(name, known)}")
            elif name in programs and programs[name].kind == "intercept":
                c.bad(base + ("serves", i), f"'{name}' is a save offer (kind intercept): budgets pay care "
                      "programs and win-back policies only")
            elif name in funded:
                c.bad(base + ("serves", i), f"'{name}' is already paid from budget '{funded[name]}'")
            else:
                funded[name] = bname


def semantic_diagnostics(spec: ScenarioSpec, positions: Positions, default: Location,
                         prefix: str = "", at: Location | None = None) -> list[Diagnostic]:
    """Cross-field checks of a schema-valid scenario (references, kinds, sums)."""
    return _Checker(spec, positions, default, prefix, at).run()


def validate_data(data: dict, positions: Positions, default: Location, prefix: str = "",
                  at: Location | None = None) -> tuple[ScenarioSpec | None, list[Diagnostic]]:
    """Schema and semantic checks of merged scenario data, every problem at once.

    When the schema refuses part of the file, the refused parts are pruned (see
    :func:`_prune`) and the semantic checks still run on the rest; findings that
    could be echoes of a pruned part are left out, so no error is reported twice.

    Returns
    -------
    spec : ScenarioSpec or None
        The validated spec, or None when the schema refused the data.
    diagnostics : list of Diagnostic
        Every problem found (empty when the scenario is valid).
    """
    try:
        spec = ScenarioSpec.model_validate(data)
    except ValidationError as exc:
        problems = _schema_problems(exc, data, positions, default, prefix, at)
        diags = [d for d, _ in problems]
        pruned_data, pruned = _prune(data, [p for _, p in problems])
        if pruned_data is None:
            return None, diags
        try:
            partial = ScenarioSpec.model_validate(pruned_data)
        except ValidationError:
            return None, diags
        checker = _Checker(partial, positions, default, prefix, at)
        checker.run()
        diags += [d for d, raw in zip(checker.out, checker.raw) if not _related(raw, d.message, pruned)]
        return None, diags
    return spec, semantic_diagnostics(spec, positions, default, prefix, at)
