"""Scenario diagnostics: every problem carries ``file:line:col`` and a dotted path.

A :class:`ScenarioError` collects *all* problems found in a file so a user fixes
them in one pass. Its ``str`` is one line per problem::

    scenarios/telecom.yaml:14:5: transitions.new.churnd: unknown stage 'churnd' (did you mean 'churned'?)
"""

from __future__ import annotations

import contextlib
import contextvars
import difflib
import unicodedata
from dataclasses import dataclass
from typing import Iterable, Iterator


@dataclass(frozen=True, order=True)
class Location:
    """Where a value came from: a file (or ``<--set>``), 1-based line and column.

    ``hidden``: the file was not named on the command line (it was reached through
    ``extends`` or an experiment's ``scenario``), so a problem there is reported by
    path and location only, never with the file's keys or values.
    """

    file: str
    line: int
    col: int
    hidden: bool = False

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class Diagnostic:
    """One problem: where, which dotted path, what is wrong."""

    location: Location
    path: str
    message: str

    def __str__(self) -> str:
        if self.location.hidden:
            return f"{_printable(str(self.location))}: {WITHHELD}"
        # one problem, one line: line breaks and control characters are shown escaped
        path, message = _printable(self.path), _printable(self.message)
        where = f"{path}: " if path else ""
        return f"{self.location}: {where}{message}"


WITHHELD = ("problem in a file that was not named on the command line (reached through 'extends' or an "
            "experiment's 'scenario'); its content is not shown: run 'clmsim validate' on that file to see "
            "the details")
"""The message of any problem located in a hidden file (see :class:`Location`)."""


def _printable(text: str) -> str:
    """``text`` with non-printable characters (line breaks, controls) as escapes like ``\\n``."""
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class ScenarioError(ValueError):
    """A scenario file (or override) is not valid. ``diagnostics`` lists every problem."""

    def __init__(self, diagnostics: Iterable[Diagnostic]):
        unique: dict[str, Diagnostic] = {}
        for d in sorted(set(diagnostics), key=lambda d: (d.location, d.path, d.message)):
            unique.setdefault(str(d), d)  # withheld problems at one location show once
        self.diagnostics = list(unique.values())
        super().__init__("\n".join(unique))


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean 'x'?)`` when a close match exists, else ``''``.

    A word that differs from a choice only in Unicode normalisation (``café`` typed as
    ``e`` + combining accent) gets a hint that says so instead of suggesting the same-looking name.
    """
    choices = [str(c) for c in choices]
    word = str(word)
    nfc = unicodedata.normalize("NFC", word)
    for c in choices:
        if c != word and unicodedata.normalize("NFC", c) == nfc:
            return (f" (it looks like '{c}' but is written with different Unicode code points: "
                    "retype it, or save both files in the same normalisation form, NFC)")
    match = difflib.get_close_matches(word, choices, n=1, cutoff=0.6)
    return f" (did you mean '{match[0]}'?)" if match else ""


def dotted(path: Iterable[object]) -> str:
    """Render a path tuple as ``a.b.0.c``."""
    return ".".join(str(p) for p in path)


class ScenarioWarning(UserWarning):
    """A scenario value that is valid but probably not what was meant (e.g. a discount rate of
    8 meaning 8 %). Shown as ``file:line:col: path: warning: ...``; an error in strict mode."""


_STRICT: contextvars.ContextVar[bool] = contextvars.ContextVar("clmsim_strict", default=False)


def is_strict() -> bool:
    """True inside :func:`strict`: scenario warnings are errors."""
    return _STRICT.get()


@contextlib.contextmanager
def strict(on: bool = True) -> Iterator[None]:
    """Treat scenario warnings as errors inside the block (``clmsim --strict``)."""
    token = _STRICT.set(on)
    try:
        yield
    finally:
        _STRICT.reset(token)
