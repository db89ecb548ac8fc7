"""Read scenario YAML into plain data with a source location for every path.

Only data is accepted: the file is *composed* with PyYAML's safe loader and every
node is checked against the core YAML tags (map, seq, str, int, float, bool,
null). Python tags, timestamps, binary blobs and other non-data YAML are
refused, duplicate keys are errors, and mapping keys are taken as written
(``no:`` is the stage "no", not ``False``).

``extends: base.yaml`` (relative to the file) deep-merges this file over the base:
mappings merge key by key, anything else (numbers, lists) is replaced. Chains are
followed; cycles are rejected.

Files are checked before they are read (:mod:`clmsim.safeio`): a directory, FIFO,
device or socket is refused by path, and so is a file larger than the limit
(:data:`clmsim.limits.Limits.file_bytes`). A file reached through ``extends`` (not
named on the command line) is *hidden*: it must look like a scenario (a mapping of
scenario fields) or it is refused in one line, and any problem in it is reported by
path and location only (:class:`~clmsim.scenario.errors.Location`), never with its
keys or values.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from ..limits import current as current_limits
from ..safeio import InputError, read_text
from .errors import Diagnostic, Location, ScenarioError, dotted


Positions = dict[tuple, Location]

_MAP = "tag:yaml.org,2002:map"
_SEQ = "tag:yaml.org,2002:seq"
_SCALAR_TAGS = {
    "tag:yaml.org,2002:str",
    "tag:yaml.org,2002:int",
    "tag:yaml.org,2002:float",
    "tag:yaml.org,2002:bool",
    "tag:yaml.org,2002:null",
}


MAX_VALUES = 200_000
"""Most values (mapping entries, list items, scalars) a file may expand to; aliases count each use."""


class _TooBig(Exception):
    """Raised inside the builder when a file expands beyond :data:`MAX_VALUES`."""


def _loc(name: str, node: yaml.Node, hidden: bool = False) -> Location:
    return Location(name, node.start_mark.line + 1, node.start_mark.column + 1, hidden)


class _Builder:
    """Turns a composed node tree into dicts/lists/scalars, recording positions."""

    def __init__(self, name: str, hidden: bool = False):
        self.name = name
        self.hidden = hidden
        self.positions: Positions = {}
        self.diagnostics: list[Diagnostic] = []
        self._scalar = yaml.SafeLoader("")  # used only for its scalar constructors
        self._open: set[int] = set()  # collections being built: an alias to one is recursive
        self._count = 0

    def _bad(self, node: yaml.Node, path: tuple, message: str) -> None:
        self.diagnostics.append(Diagnostic(_loc(self.name, node, self.hidden), dotted(path), message))

    def build(self, node: yaml.Node, path: tuple) -> Any:
        self._count += 1
        if self._count > MAX_VALUES:
            raise _TooBig
        if isinstance(node, (yaml.MappingNode, yaml.SequenceNode)):
            if id(node) in self._open:
                self._bad(node, path, "recursive YAML alias: a value may not contain itself")
                return None
            self._open.add(id(node))
            try:
                return self._collection(node, path)
            finally:
                self._open.discard(id(node))
        if node.tag not in _SCALAR_TAGS:
            self._bad(node, path, f"YAML tag '{node.tag}' is not allowed: a scenario is plain data")
            return None
        return self._scalar.construct_object(node, deep=True)

    def _collection(self, node: yaml.Node, path: tuple) -> Any:
        if isinstance(node, yaml.MappingNode):
            if node.tag != _MAP:
                self._bad(node, path, f"YAML tag '{node.tag}' is not allowed: a scenario is plain data")
                return None
            out: dict[str, Any] = {}
            for key_node, value_node in node.value:
                if not isinstance(key_node, yaml.ScalarNode):
                    self._bad(key_node, path, "mapping keys must be plain text")
                    continue
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self._bad(key_node, path, "YAML merge keys ('<<') are not supported; use 'extends'")
                    continue
                key = key_node.value
                sub = path + (key,)
                if key in out:
                    first = self.positions.get(sub)
                    self._bad(key_node, sub, f"duplicate key '{key}' (first defined at line {first.line})")
                    continue
                self.positions[sub] = _loc(self.name, key_node, self.hidden)
                out[key] = self.build(value_node, sub)
            return out
        if isinstance(node, yaml.SequenceNode):
            if node.tag != _SEQ:
                self._bad(node, path, f"YAML tag '{node.tag}' is not allowed: a scenario is plain data")
                return None
            items = []
            for i, item in enumerate(node.value):
                self.positions[path + (i,)] = _loc(self.name, item, self.hidden)
                items.append(self.build(item, path + (i,)))
            return items
        raise TypeError(f"not a collection node: {node!r}")


def parse_yaml(text: str, name: str, hidden: bool = False) -> tuple[Any, Positions]:
    """Parse YAML ``text`` (reported as file ``name``) into data and positions.

    ``hidden``: the file was not named by the user; its locations are marked so that
    problems in it are reported by location only.

    Raises
    ------
    ScenarioError
        On a syntax error, a non-data tag or a duplicate key (all of them).
    """
    try:
        node = yaml.compose(text, Loader=yaml.SafeLoader)
    except RecursionError:
        raise ScenarioError([Diagnostic(Location(name, 1, 1, hidden), "", "YAML nested too deeply")]) from None
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        loc = Location(name, mark.line + 1, mark.column + 1, hidden) if mark else Location(name, 1, 1, hidden)
        raise ScenarioError([Diagnostic(loc, "", f"YAML syntax error: {exc.problem or exc}")]) from None
    except yaml.YAMLError as exc:
        raise ScenarioError([Diagnostic(Location(name, 1, 1, hidden), "", f"YAML error: {exc}")]) from None
    if node is None:
        return {}, {(): Location(name, 1, 1, hidden)}
    builder = _Builder(name, hidden)
    try:
        data = builder.build(node, ())
    except _TooBig:
        raise ScenarioError([Diagnostic(Location(name, 1, 1, hidden), "",
                                        f"the file expands to more than {MAX_VALUES:,} values (through YAML "
                                        "aliases?): not a scenario")]) from None
    except RecursionError:
        raise ScenarioError([Diagnostic(Location(name, 1, 1, hidden), "", "YAML nested too deeply")]) from None
    builder.positions[()] = Location(name, 1, 1, hidden)
    if builder.diagnostics:
        raise ScenarioError(builder.diagnostics)
    return data, builder.positions


def deep_merge(base: Any, over: Any) -> Any:
    """Merge ``over`` onto ``base``: mappings key by key, anything else replaced."""
    if isinstance(base, dict) and isinstance(over, dict):
        out = dict(base)
        for key, value in over.items():
            out[key] = deep_merge(base[key], value) if key in base else copy.deepcopy(value)
        return out
    return copy.deepcopy(over)


def _merge_positions(base: Positions, base_data: Any, over: Positions, over_data: Any) -> Positions:
    """Positions after :func:`deep_merge`: a replaced value's old sub-paths are dropped."""
    out = dict(base)

    def walk(b: Any, o: Any, path: tuple) -> None:
        if isinstance(b, dict) and isinstance(o, dict):
            for key, value in o.items():
                if key in b:
                    walk(b[key], value, path + (key,))
        else:
            for p in [p for p in out if p[: len(path)] == path and len(p) > len(path)]:
                del out[p]

    walk(base_data, over_data, ())
    out.update({p: loc for p, loc in over.items() if p != ()})
    return out


SCENARIO_KEYS = frozenset({"schema_version", "name", "description", "time", "stages", "transitions",
                           "heterogeneity", "segments", "initial_population", "acquisition", "retention",
                           "winback", "operations", "strategies", "extends"})
"""Top-level keys of a scenario file (tests/test_scenario_docs.py checks them against the schema)."""

NOT_A_MAPPING = "not a scenario: a scenario file is a YAML mapping that starts with 'schema_version: 1'"


def read_file(path: str | Path, what: str = "scenario", hidden: bool = False) -> str:
    """The text of a YAML input file, checked first (:func:`clmsim.safeio.read_text`: a
    regular file within the size limit, UTF-8). Problems raise :class:`ScenarioError` at
    ``path:1:1``."""
    try:
        return read_text(path, what, current_limits().file_bytes)
    except InputError as exc:
        raise ScenarioError([Diagnostic(Location(str(path), 1, 1), "", exc.reason)]) from None


def load_file(path: str | Path, _chain: tuple[Path, ...] = (), *, hidden: bool = False) -> tuple[dict, Positions]:
    """Read a scenario file and everything it ``extends``, merged.

    Returns the merged data (``extends`` removed) and the location of every path.
    ``hidden``: the file was not named by the user (see the module docstring); files
    reached through ``extends`` always are.
    """
    path = Path(path)
    resolved = path.resolve()
    name = str(path)
    if resolved in _chain:
        cycle = " -> ".join(str(p) for p in _chain + (resolved,))
        raise ScenarioError([Diagnostic(Location(name, 1, 1), "extends", f"cycle in extends: {cycle}")])
    text = read_file(path)
    data, positions = parse_yaml(text, name, hidden)
    if not isinstance(data, dict):
        raise ScenarioError([Diagnostic(Location(name, 1, 1), "", NOT_A_MAPPING)])
    if hidden and (not data or not set(data) <= SCENARIO_KEYS):
        # say nothing of what the file holds: it may be any file the user can read
        raise ScenarioError([Diagnostic(Location(name, 1, 1), "", "not a scenario file: its top-level keys are "
                                        "not scenario fields (its content is not shown: the file was not named "
                                        "on the command line)")])
    if "extends" not in data:
        return data, positions
    parent = data.pop("extends")
    where = positions.get(("extends",), Location(name, 1, 1))
    if not isinstance(parent, str) or not parent:
        raise ScenarioError([Diagnostic(where, "extends", "must be the path of a scenario file")])
    base_path = path.parent / parent
    if not base_path.exists():
        raise ScenarioError([Diagnostic(where, "extends", f"file not found: {base_path}")])
    base_data, base_pos = load_file(base_path, _chain + (resolved,), hidden=True)
    child_pos = {p: loc for p, loc in positions.items() if p[:1] != ("extends",)}
    merged_pos = _merge_positions(base_pos, base_data, child_pos, data)
    merged_pos[()] = Location(name, 1, 1, hidden)
    return deep_merge(base_data, data), merged_pos


def locate(positions: Positions, path: tuple, default: Location) -> Location:
    """Location of ``path`` or of its nearest ancestor that has one."""
    path = tuple(path)
    while path:
        if path in positions:
            return positions[path]
        path = path[:-1]
    return positions.get((), default)


def dump_yaml(data: dict) -> str:
    """Plain-data YAML (Unicode kept, key order kept)."""
    return yaml.safe_dump(data, allow_unicode=True, sort_keys=False, default_flow_style=None, width=100)
