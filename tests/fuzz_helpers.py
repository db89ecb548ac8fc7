"""Helpers of the property tests that mutate YAML documents (scenarios, experiments)."""

from __future__ import annotations


def paths(node, prefix=()):
    """Every path into the data (mapping keys and list indices)."""
    out = [prefix] if prefix else []
    if isinstance(node, dict):
        for k, v in node.items():
            out += paths(v, prefix + (k,))
    elif isinstance(node, list):
        for i, v in enumerate(node):
            out += paths(v, prefix + (i,))
    return out


def parent(data, path):
    """The container holding the last key of ``path``."""
    for key in path[:-1]:
        data = data[key]
    return data
