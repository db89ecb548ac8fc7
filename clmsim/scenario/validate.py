"""Validation of merged scenario data: schema (pydantic), then semantics.

Both layers report every problem they find as a :class:`Diagnostic` with the
dotted path and the source location of the offending key, with "did you mean"
hints for misspelled field, stage, segment and channel names.
"""

from __future__ import annotations

import typing
from typing import Any, Iterable

from pydantic import BaseModel, ValidationError

from .errors import Diagnostic, Location, did_you_mean, dotted
from .loader import Positions, locate
from .schema import ScenarioSpec, ScheduleSpec

_TOL = 1e-9


# ------------------------------------------------------------------ schema layer
def _models_in(annotation: Any) -> list[type[BaseModel]]:
    """Pydantic model classes reachable in a type annotation (through unions, Annotated)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    found: list[type[BaseModel]] = []
    for arg in typing.get_args(annotation):
        found += _models_in(arg)
    return found


def _is_dict(annotation: Any) -> Any:
    """Value type if ``annotation`` is (an optional / annotated) ``dict[str, V]``, else None."""
    if typing.get_origin(annotation) is dict:
        return typing.get_args(annotation)[1]
    for arg in typing.get_args(annotation):
        inner = _is_dict(arg)
        if inner is not None:
            return inner
    return None


def _field_names(path: tuple) -> list[str]:
    """Field names allowed by the model(s) at ``path`` (for did-you-mean hints)."""
    candidates: list[Any] = [ScenarioSpec]
    for key in path:
        nxt: list[Any] = []
        for cand in candidates:
            if isinstance(cand, type) and issubclass(cand, BaseModel):
                for fname, field in cand.model_fields.items():
                    if key in (fname, field.alias):
                        nxt.append(field.annotation)
            else:  # a dict value type: the key was a free name
                nxt.append(cand)
        resolved: list[Any] = []
        for ann in nxt:
            value_type = _is_dict(ann)
            if value_type is not None and not _models_in(ann):
                resolved.append(value_type)
            elif value_type is not None:
                resolved.append(value_type)
            else:
                resolved += _models_in(ann)
        candidates = resolved
        if not candidates:
            return []
    names: list[str] = []
    for cand in candidates:
        if isinstance(cand, type) and issubclass(cand, BaseModel):
            names += [f.alias or n for n, f in cand.model_fields.items()]
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


def schema_diagnostics(exc: ValidationError, data: dict, positions: Positions, default: Location,
                       prefix: str = "", at: Location | None = None) -> list[Diagnostic]:
    """Translate a pydantic ``ValidationError`` into located diagnostics.

    ``prefix``/``at`` report strategy-resolved scenarios at the strategy's key.
    """
    out: list[Diagnostic] = []
    errors = exc.errors(include_url=False)
    kept = []
    for err in errors:
        path, tag, tag_at = _clean_loc(tuple(err["loc"]), data, err["type"] in ("missing", "extra_forbidden"))
        if tag is not None and not tag.startswith("function"):
            # a union branch: keep the branch that matches the kind of value written
            branch_is_model = tag[:1].isupper() or tag in {"linear", "saturating"}
            written_mapping = isinstance(_value_at(data, path[:tag_at]), dict)
            if branch_is_model != written_mapping and len(errors) > 1:
                continue
        kept.append((err, path))
    if not kept:
        kept = [(e, _clean_loc(tuple(e["loc"]), data)[0]) for e in errors]
    for err, path in kept:
        kind = err["type"]
        if kind == "extra_forbidden":
            key = path[-1]
            hint = did_you_mean(key, _field_names(path[:-1]))
            message = f"unknown field '{key}'{hint}"
        elif kind == "missing":
            message = f"missing required field '{path[-1]}'"
        elif kind == "literal_error":
            message = f"{err['msg']}, got {err.get('input')!r}"
        else:
            message = err["msg"]
            if "input" in err and not isinstance(err["input"], (dict, list)):
                message += f", got {err['input']!r}"
        where = at or locate(positions, path, default)
        out.append(Diagnostic(where, prefix + dotted(path), message))
    return out


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
        self.kinds = {name: st.kind for name, st in spec.stages.items()}

    def bad(self, path: Iterable, message: str) -> None:
        path = tuple(path)
        where = self.at or locate(self.positions, path, self.default)
        self.out.append(Diagnostic(where, self.prefix + dotted(path), message))

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

    def schedule(self, path: tuple, value: Any) -> None:
        if isinstance(value, ScheduleSpec):
            if (value.values is None) == (value.ramp is None):
                self.bad(path, "a schedule gives exactly one of 'values' or 'ramp'")

    def rows(self, path: tuple, rows: dict[str, dict[str, float]]) -> None:
        for src, row in rows.items():
            if not self.stage(path + (src,), src):
                continue
            if self.kinds[src] == "lost" and any(p > 0 for p in row.values()):
                self.bad(path + (src,), f"stage '{src}' is of kind lost, which is absorbing: it cannot have transitions")
                continue
            for dst in row:
                if dst == src:
                    self.bad(path + (src, dst), "a row lists moves only; staying is 1 minus the row sum")
                else:
                    self.stage(path + (src, dst), dst)
            total = sum(row.values())
            if total > 1 + _TOL:
                self.bad(path + (src,), f"transition probabilities sum to {total:.6g} > 1")

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
                self.rows(base + ("transitions",), {k: merged[k] for k in seg.transitions})
                for sname in seg.stages:
                    self.stage(base + ("stages", sname), sname, ("active",))
                for sname in seg.initial_population or {}:
                    self.stage(base + ("initial_population", sname), sname, ("prospect", "active", "churned"))
                self.heterogeneity(base + ("heterogeneity",), seg.heterogeneity or het, merged)
        acq = s.acquisition
        for cname, ch in acq.channels.items():
            base = ("acquisition", "channels", cname)
            self.schedule(base + ("spend_per_period",), ch.spend_per_period)
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
            self.schedule(base + ("spend_per_customer",), prog.spend_per_customer)
            if prog.budget_cap_per_period is not None:
                self.schedule(base + ("budget_cap_per_period",), prog.budget_cap_per_period)
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
                if not any(self.kinds.get(d) in ("churned", "lost") and p > 0 for d, p in row.items()):
                    self.bad(path + ("churn_probability",),
                             f"active stage '{name}' has no churn transition for the per-customer churn probability to split over")


def semantic_diagnostics(spec: ScenarioSpec, positions: Positions, default: Location,
                         prefix: str = "", at: Location | None = None) -> list[Diagnostic]:
    """Cross-field checks of a schema-valid scenario (references, kinds, sums)."""
    return _Checker(spec, positions, default, prefix, at).run()
