"""Text that is safe to show: on a terminal, and in a matplotlib figure.

Names in scenarios (stages, strategies, channels) are user data and may hold control
characters: an ESC sequence printed raw could recolour, move or clear the user's
terminal. :func:`printable` shows every non-printable character as an escape
(``\\x1b``, ``\\n``); :class:`SafeStream` applies it to everything written to a stream
(the CLI wraps standard output and error in one for the duration of a command),
keeping line breaks, tabs and carriage returns (progress bars).

matplotlib reads ``$...$`` in any label as mathtext (a strategy named ``$x$`` would
be typeset, and a lone ``$`` or ``$\\frac`` breaks the figure): :func:`plain_label`
escapes it so a label always shows as written.
"""

from __future__ import annotations

import contextlib
import sys
from typing import Iterator, TextIO

__all__ = ["printable", "SafeStream", "safe_streams", "plain_label"]


def printable(text: str, keep: str = "") -> str:
    """``text`` with every non-printable character except those in ``keep`` shown as an
    escape: ``'a\\x1b[31m' -> 'a\\\\x1b[31m'``, ``'a\\nb' -> 'a\\\\nb'``."""
    text = str(text)
    if text.isprintable():
        return text
    return "".join(c if (c.isprintable() or c in keep) else c.encode("unicode_escape").decode("ascii")
                   for c in text)


class SafeStream:
    """A text stream wrapper that escapes control characters (except ``\\n``, ``\\t``, ``\\r``)."""

    KEEP = "\n\t\r"

    def __init__(self, stream: TextIO):
        self._stream = stream

    def write(self, text: str) -> int:
        self._stream.write(printable(text, self.KEEP))
        return len(text)

    def __getattr__(self, name: str):  # flush, isatty, fileno, encoding, buffer, ...
        return getattr(self._stream, name)


@contextlib.contextmanager
def safe_streams() -> Iterator[None]:
    """Wrap ``sys.stdout`` and ``sys.stderr`` in :class:`SafeStream` inside the block."""
    out, err = sys.stdout, sys.stderr
    sys.stdout = SafeStream(out) if not isinstance(out, SafeStream) else out
    sys.stderr = SafeStream(err) if not isinstance(err, SafeStream) else err
    try:
        yield
    finally:
        sys.stdout, sys.stderr = out, err


def plain_label(text: object) -> str:
    """``text`` for a matplotlib label, shown literally: ``$`` escaped (never mathtext)."""
    return str(text).replace("$", r"\$")
