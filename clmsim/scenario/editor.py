"""A scenario file opened for interactive edits: the explorer's model of "the current settings".

The explorer starts from one strategy of a file (its resolved data) and changes single
values -- a transition probability, a revenue, a programme's spend. :class:`ScenarioEditor`
turns those leaf edits into dotted-path overrides (creating a segment's row when the segment
did not override it yet), validates exactly as ``clmsim validate FILE --set PATH=VALUE`` does
(same :class:`~clmsim.scenario.errors.Diagnostic` messages, with the file's line numbers), and
writes the settings back as scenario YAML that ``clmsim validate`` accepts: the file as
merged, plus one strategy holding the selected strategy's overrides and the edits.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Mapping

import yaml

from .core import BASELINE, Scenario, _build, dump_yaml
from .loader import load_file

Keys = tuple[str, ...]


def _get(data: Any, keys: Keys) -> Any:
    node = data
    for k in keys:
        if not isinstance(node, dict) or k not in node:
            raise KeyError(".".join(keys))
        node = node[k]
    return node


def _with(data: dict, keys: Keys, value: Any) -> dict:
    """``data`` with ``data[k0][k1]...[kn] = value``: a new mapping on each level of the path, every
    other branch shared (``data`` is not changed; the parents must be mappings)."""
    out = dict(data)
    node = out
    for k in keys[:-1]:
        node[k] = dict(node[k])
        node = node[k]
    node[keys[-1]] = value
    return out


def _yaml_value(value: Any) -> str:
    """``value`` as the YAML text of a ``--set`` assignment (flow style, one line)."""
    return yaml.safe_dump(value, default_flow_style=True, allow_unicode=True, width=10**9).strip() \
        .removesuffix("...").strip()


class ScenarioEditor:
    """Edits of one strategy's settings of a scenario file.

    Parameters
    ----------
    path : str or Path
        Scenario file; it must be valid (:class:`~clmsim.scenario.ScenarioError` otherwise).

    Attributes
    ----------
    scenario : Scenario
        The file as loaded (every strategy validated).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.source = str(path)
        self.data, self.positions = load_file(path)
        self.scenario: Scenario = _build(self.data, self.positions, self.source, ())
        self._last_sets: tuple | None = None

    @property
    def strategy_names(self) -> tuple[str, ...]:
        return self.scenario.strategy_names

    def settings(self, strategy: str = BASELINE) -> dict:
        """The resolved data of ``strategy`` without the ``strategies`` section."""
        self.scenario.spec_for(strategy)  # KeyError with a hint for an unknown name
        return {k: v for k, v in self.scenario.resolved[strategy].items() if k != "strategies"}

    def overrides(self, strategy: str, edits: Mapping[Keys, Any]) -> list[tuple[str, Any]]:
        """Leaf edits as dotted-path overrides applicable to :meth:`settings`, in order.

        A leaf whose parent mapping does not exist yet (a segment that does not override
        that row) becomes an override of its deepest existing ancestor with the missing
        levels as a mapping, so the override machinery's rule "every parent must exist" holds.
        """
        data = self.settings(strategy)
        out = []
        for keys, value in edits.items():
            keys = tuple(keys)
            depth = len(keys) - 1
            while depth > 0:
                try:
                    parent = _get(data, keys[:depth])
                except KeyError:
                    depth -= 1
                    continue
                if isinstance(parent, dict):
                    break
                depth -= 1
            nested: Any = value
            for k in reversed(keys[depth + 1:]):
                nested = {k: nested}
            data = _with(data, keys[:depth + 1], nested)
            out.append((".".join(keys[:depth + 1]), nested))
        return out

    def apply(self, strategy: str, edits: Mapping[Keys, Any]) -> Scenario:
        """The scenario whose baseline is ``strategy``'s settings with ``edits``.

        Raises
        ------
        ScenarioError
            With the diagnostics ``clmsim validate FILE --set PATH=VALUE`` prints for the same
            overrides (for ``strategy = "baseline"`` literally the same lines).
        """
        return _build(self.settings(strategy), self.positions, self.source, self.set_arguments(strategy, edits))

    def set_arguments(self, strategy: str, edits: Mapping[Keys, Any]) -> list[str]:
        """The ``--set PATH=VALUE`` arguments of ``edits`` (for ``clmsim ... --set``).

        The last answer is kept: the explorer asks twice per redraw (to validate, to show)."""
        key = (strategy, tuple((tuple(k), v) for k, v in edits.items()))
        if self._last_sets is None or self._last_sets[0] != key:
            self._last_sets = (key, tuple(f"{p}={_yaml_value(v)}" for p, v in self.overrides(strategy, edits)))
        return list(self._last_sets[1])

    def to_yaml(self, strategy: str, edits: Mapping[Keys, Any], name: str = "explored",
                header: str | None = None) -> str:
        """Scenario YAML: the file (``extends`` merged) plus strategy ``name`` = ``strategy``'s
        overrides followed by ``edits``. ``clmsim run OUT --strategy NAME`` reproduces the
        explorer's numbers; the file's other strategies are kept."""
        data = copy.deepcopy(self.data)
        strategies = dict(data.get("strategies") or {})
        overlay = dict(strategies.get(strategy) or {}) if strategy != BASELINE else {}
        for path, value in self.overrides(strategy, edits):
            overlay.pop(path, None)
            overlay[path] = value
        base = name
        k = 2
        while name in strategies:
            name = f"{base}_{k}"
            k += 1
        strategies[name] = overlay
        data["strategies"] = strategies
        lines = [f"# {ln}" if ln else "#" for ln in (header or "").splitlines()]
        return ("\n".join(lines) + "\n" if lines else "") + dump_yaml(data)

    def write(self, out: str | Path, strategy: str, edits: Mapping[Keys, Any], name: str = "explored",
              header: str | None = None) -> Path:
        """Write :meth:`to_yaml` to ``out`` atomically (a temporary file renamed into place)."""
        out = Path(out)
        text = self.to_yaml(strategy, edits, name, header)
        tmp = out.with_name(f".{out.name}.tmp")
        tmp.write_text(text, encoding="utf-8")
        tmp.replace(out)
        return out
