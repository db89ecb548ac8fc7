"""The :class:`Scenario` object and how YAML (files, text, ``--set`` overrides) becomes one."""

from __future__ import annotations

import hashlib
import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Iterable

from .errors import Diagnostic, Location, ScenarioError, ScenarioWarning, is_strict, strict
from .loader import Positions, dump_yaml, load_file, locate, parse_yaml
from .plausible import plausibility
from .overrides import OverrideError, apply_override, parse_assignment
from .schema import SCHEMA_VERSION, ScenarioSpec, json_schema
from .validate import validate_data

BASELINE = "baseline"


@dataclass(frozen=True)
class Scenario:
    """A validated scenario and its strategies.

    Attributes
    ----------
    source : str
        File the scenario came from (``<string>`` for text).
    data : dict
        The merged, overridden scenario as plain data (``extends`` resolved).
    specs : dict[str, ScenarioSpec]
        One validated spec per strategy; ``baseline`` is the scenario as written.
    resolved : dict[str, dict]
        Plain data per strategy, with the strategy's overrides applied.
    """

    source: str
    data: dict
    specs: dict[str, ScenarioSpec]
    resolved: dict[str, dict] = field(repr=False)

    @property
    def spec(self) -> ScenarioSpec:
        """The baseline spec."""
        return self.specs[BASELINE]

    @property
    def name(self) -> str:
        return self.spec.name

    @property
    def strategy_names(self) -> tuple[str, ...]:
        return tuple(self.specs)

    def spec_for(self, strategy: str = BASELINE) -> ScenarioSpec:
        """The validated spec of one strategy (``KeyError`` with hint if unknown)."""
        if strategy not in self.specs:
            from .errors import did_you_mean

            raise KeyError(f"unknown strategy '{strategy}'{did_you_mean(strategy, self.specs)}; "
                           f"known: {', '.join(self.specs)}")
        return self.specs[strategy]

    @property
    def hash(self) -> str:
        """SHA-256 (first 16 hex digits) of the canonical JSON of the merged scenario."""
        blob = json.dumps(self.data, sort_keys=True, ensure_ascii=False, default=str)
        return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:16]


def _build(data: dict, positions: Positions, source: str, overrides: Iterable[str]) -> Scenario:
    """Apply ``--set`` overrides, validate the baseline and every strategy; report all problems.

    Strategies are checked even when the baseline has problems; a strategy's finding
    that only repeats a baseline finding is not reported again.
    """
    default = positions.get((), Location(source, 1, 1))
    diags: list[Diagnostic] = []
    if "schema_version" not in data and data:
        raise ScenarioError([Diagnostic(Location(default.file, 1, 1), "schema_version",
                                        "not a clmsim scenario: no schema_version (a scenario file starts "
                                        "with 'schema_version: 1')")])
    version = data.get("schema_version")
    if isinstance(version, int) and not isinstance(version, bool) and version != SCHEMA_VERSION:
        raise ScenarioError([Diagnostic(locate(positions, ("schema_version",), default), "schema_version",
                                        f"this clmsim reads schema_version {SCHEMA_VERSION}, "
                                        f"the file says {version}")])
    for i, text in enumerate(overrides, start=1):
        where = Location("--set", i, 1)
        try:
            path, value = parse_assignment(text)
            data, keys = apply_override(data, path, value)
            positions = {p: loc for p, loc in positions.items() if p[: len(keys)] != keys}
            positions[keys] = where
        except OverrideError as exc:
            diags.append(Diagnostic(where, text.split("=", 1)[0].strip(), str(exc)))
    spec, base_diags = validate_data(data, positions, default)
    diags += base_diags
    if spec is not None and spec.parameter_uncertainty:
        from .uncertainty import check_blocks

        diags += check_blocks(spec.parameter_uncertainty, data, positions, default, Path(source).parent)[1]
    seen = {(d.path, d.message) for d in base_diags}
    specs = {BASELINE: spec}
    resolved = {BASELINE: data}
    base_data = {k: v for k, v in data.items() if k != "strategies"}
    strategies = data.get("strategies")
    if not isinstance(strategies, dict):
        strategies = {}  # a malformed section is already reported by the schema
    for sname, overlay in strategies.items():
        if not isinstance(overlay, dict):
            continue
        if sname == BASELINE:
            if overlay:
                diags.append(Diagnostic(locate(positions, ("strategies", sname), default), f"strategies.{sname}",
                                        "'baseline' is the scenario as written and takes no overrides"))
            continue
        sdata = base_data
        bad = False
        for path, value in overlay.items():
            at = locate(positions, ("strategies", sname, path), default)
            try:
                sdata, _ = apply_override(sdata, path, value)
            except OverrideError as exc:
                diags.append(Diagnostic(at, f"strategies.{sname}.{path}", str(exc)))
                bad = True
        if bad:
            continue
        at = locate(positions, ("strategies", sname), default)
        prefix = f"strategies.{sname}."
        sspec, sdiags = validate_data(sdata, positions, default, prefix=prefix, at=at)
        fresh = []
        for d in sdiags:
            if (d.path[len(prefix):], d.message) in seen:
                continue  # the baseline has the same problem: reported once, there
            for path in overlay:  # point at the override line when the problem is under one
                if d.path == prefix + path or d.path.startswith(prefix + path + "."):
                    d = Diagnostic(locate(positions, ("strategies", sname, path), default), d.path, d.message)
            fresh.append(d)
        diags += fresh
        if sspec is not None and not sdiags:
            specs[sname] = sspec
            resolved[sname] = sdata
    if spec is not None:
        advice = plausibility(spec, positions, default)
        if is_strict():
            diags += advice
        else:
            for d in advice:
                warnings.warn(ScenarioWarning(str(d)), stacklevel=3)
    if diags or spec is None:
        raise ScenarioError(diags)
    return Scenario(source=source, data=data, specs=specs, resolved=resolved)


def load_scenario(path: str | Path, overrides: Iterable[str] = (), *, hidden: bool = False) -> Scenario:
    """Load, merge (``extends``), override (``path=value`` strings) and validate a scenario file.

    ``hidden``: the file was not named by the user (an experiment's ``scenario``): problems
    in it are reported by location only (see :mod:`clmsim.scenario.loader`).

    Raises
    ------
    ScenarioError
        With every problem found, each as ``file:line:col: dotted.path: message``.
    """
    data, positions = load_file(path, hidden=hidden)
    return _build(data, positions, str(path), overrides)


def scenario_from_text(text: str, name: str = "<string>", overrides: Iterable[str] = ()) -> Scenario:
    """Like :func:`load_scenario` for YAML text (no ``extends``)."""
    data, positions = parse_yaml(text, name)
    if not isinstance(data, dict):
        raise ScenarioError([Diagnostic(Location(name, 1, 1), "", "a scenario must be a YAML mapping")])
    return _build(data, positions, name, overrides)


