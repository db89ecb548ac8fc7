"""Argument types of the command line: every number is checked where it is parsed.

A bad value is an argparse usage error (one line naming the option, exit status 2).
Whole numbers may be written as ``1000``, ``1e6`` or ``1_000_000``; they must be exact
integers of at most 18 digits (``--runs 1e300`` is refused here, a large but
representable request is left to the resource model, :mod:`clmsim.limits`).
"""

from __future__ import annotations

import argparse
import math
import re

MAX_INT = 10**18
"""Largest whole number accepted on the command line (fits an int64 with room)."""
_INT = re.compile(r"^[+-]?(\d[\d_]*|\d+(\.\d*)?[eE]\+?\d+)$")


def _whole(text: str, what: str) -> int:
    t = text.strip()
    if not _INT.match(t):
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}")
    try:
        value = int(t.replace("_", "")) if "e" not in t.lower() else float(t)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected {what}, got {text!r}") from None
    if isinstance(value, float):
        if not math.isfinite(value) or value != math.floor(value) or abs(value) > MAX_INT:
            raise argparse.ArgumentTypeError(f"expected {what} of at most {MAX_INT:.0e}, got {text!r}")
        value = int(value)
    if abs(value) > MAX_INT:
        raise argparse.ArgumentTypeError(f"expected {what} of at most {MAX_INT:.0e}, got {text!r}")
    return value


def positive_int(text: str) -> int:
    """A whole number >= 1."""
    value = _whole(text, "a positive integer")
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def classes_arg(text: str) -> int | str:
    """``auto`` or a whole number >= 0 (``fit rfm --classes``; 0: one chain)."""
    if text.strip().lower() == "auto":
        return "auto"
    try:
        return nonneg_int(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer or 'auto', got {text!r}") from None


def nonneg_int(text: str) -> int:
    """A whole number >= 0."""
    value = _whole(text, "a non-negative integer")
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer, got {text!r}")
    return value


def seed(text: str) -> int:
    """A seed: a whole number in [0, 2**63)."""
    value = _whole(text, "a non-negative integer seed")
    if not 0 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"expected a non-negative integer seed below 2**63, got {text!r}")
    return value


def _number(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def positive_float(text: str) -> float:
    """A finite number > 0."""
    value = _number(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"expected a positive number, got {text!r}")
    return value


def nonneg_float(text: str) -> float:
    """A finite number >= 0."""
    value = _number(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected a non-negative number, got {text!r}")
    return value


def open_fraction(text: str) -> float:
    """A number strictly between 0 and 1 (a level, a relative precision)."""
    value = _number(text)
    if not 0 < value < 1:
        raise argparse.ArgumentTypeError(f"expected a number between 0 and 1 (exclusive), got {text!r}")
    return value


def add_quiet(p: argparse.ArgumentParser) -> None:
    """``--quiet``: no progress bar (it is shown only on a terminal anyway)."""
    p.add_argument("--quiet", "-q", action="store_true", help="no progress bar on standard error")
