"""Scenario diagnostics: every problem carries ``file:line:col`` and a dotted path.

A :class:`ScenarioError` collects *all* problems found in a file so a user fixes
them in one pass. Its ``str`` is one line per problem::

    scenarios/telecom.yaml:14:5: transitions.new.churnd: unknown stage 'churnd' (did you mean 'churned'?)
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Iterable


@dataclass(frozen=True, order=True)
class Location:
    """Where a value came from: a file (or ``<--set>``), 1-based line and column."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where, which dotted path, what is wrong."""

    location: Location
    path: str
    message: str

    def __str__(self) -> str:
        # one problem, one line: line breaks and control characters are shown escaped
        path, message = _printable(self.path), _printable(self.message)
        where = f"{path}: " if path else ""
        return f"{self.location}: {where}{message}"


def _printable(text: str) -> str:
    """``text`` with non-printable characters (line breaks, controls) as escapes like ``\\n``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ScenarioError(ValueError):
    """A scenario file (or override) is not valid. ``diagnostics`` lists every problem."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        self.diagnostics = sorted(set(diagnostics), key=lambda d: (d.location, d.path, d.message))
        super().__init__("\n".join(str(d) for d in self.diagnostics))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``''``."""
    match = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def dotted(path: Iterable[object]) -> str:
    """Render a path tuple as ``a.b.0.c``."""
    return ".".join(str(p) for p in path)
