"""Dotted-path overrides: strategies and ``--set path=value``.

A path names nested mapping keys (and list indices) joined by dots, e.g.
``retention.programs.save_desk.spend_per_customer``. Every parent must exist;
the last key may be new (the schema then decides whether it is allowed).
"""

from __future__ import annotations

import copy
from typing import Any

import yaml

from .errors import did_you_mean


class OverrideError(ValueError):
    """An override names a path that does not exist. ``path`` is the deepest valid prefix."""


def split_path(path: str) -> tuple:
    if not isinstance(path, str) or not path or any(part == "" for part in path.split(".")):
        raise OverrideError(f"'{path}' is not a dotted path like 'a.b.c'")
    return tuple(path.split("."))


def apply_override(data: dict, path: str, value: Any) -> tuple[dict, tuple]:
    """Return a copy of ``data`` with ``path`` set to ``value`` and the key tuple it set.

    Raises
    ------
    OverrideError
        If a parent of ``path`` does not exist or is not a container.
    """
    keys = split_path(path)
    out = copy.deepcopy(data)
    node: Any = out
    walked: list = []
    for i, key in enumerate(keys):
        last = i == len(keys) - 1
        if isinstance(node, dict):
            if last:
                node[key] = copy.deepcopy(value)
                walked.append(key)
                break
            if key not in node:
                where = ".".join(map(str, walked)) or "the scenario"
                raise OverrideError(f"no '{key}' in {where}{did_you_mean(key, node)}")
            node = node[key]
            walked.append(key)
        elif isinstance(node, list):
            if not key.isdigit() or int(key) >= len(node):
                raise OverrideError(f"'{key}' is not an index of the list {'.'.join(map(str, walked))}")
            if last:
                node[int(key)] = copy.deepcopy(value)
            else:
                node = node[int(key)]
            walked.append(int(key))
        else:
            raise OverrideError(f"'{'.'.join(map(str, walked))}' is a value, not a mapping: cannot set '{key}'")
    return out, tuple(walked)


def parse_assignment(text: str) -> tuple[str, Any]:
    """Split ``path=value`` and read the value as YAML data (``3``, ``0.5``, ``[a, b]``, ``{x: 1}``)."""
    if "=" not in text:
        raise OverrideError(f"'{text}' is not of the form dotted.path=value")
    path, raw = text.split("=", 1)
    split_path(path.strip())
    try:
        value = yaml.safe_load(raw) if raw.strip() else None
    except yaml.MarkedYAMLError as exc:
        raise OverrideError(f"cannot read the value '{raw}': {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise OverrideError(f"cannot read the value '{raw}': {exc}") from None
    return path.strip(), value


def numeric_paths(data: Any, prefix: str = "") -> list[str]:
    """Dotted paths of every number in plain data (for did-you-mean on levers)."""
    out: list[str] = []
    if isinstance(data, dict):
        for k, v in data.items():
            out += numeric_paths(v, f"{prefix}{k}.")
    elif isinstance(data, list):
        for i, v in enumerate(data):
            out += numeric_paths(v, f"{prefix}{i}.")
    elif isinstance(data, (int, float)) and not isinstance(data, bool):
        out.append(prefix[:-1])
    return out
