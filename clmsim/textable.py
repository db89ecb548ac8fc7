"""Aligned plain-text tables for the terminal (used by every CLI command).

    >>> print(format_table([{"strategy": "baseline", "npv": 1.5e6}], {"npv": "money"}))
    strategy    npv
    --------  -----
    baseline  1.50M

Text columns are left-aligned, numbers right-aligned; a column's format is one of
the names in :data:`FORMATS` or a callable ``value -> str``. Widths count East Asian
wide characters (Chinese stage names) as two columns so tables stay aligned.
"""

from __future__ import annotations

import math
import unicodedata
from typing import Callable, Iterable, Mapping, Sequence


def _sig(v: float, digits: int) -> str:
    """``v`` with ``digits`` significant digits, never in exponent notation."""
    if v == 0:
        return "0"
    decimals = max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))
    s = f"{v:.{decimals}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


SUFFIXES = ((1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "k"))


def human(x: float, digits: int = 3) -> str:
    """Short number with a k/M/B suffix: ``1234567 -> '1.23M'``, ``-350 -> '-350'``."""
    if x != x:  # NaN
        return "n/a"
    if x in (float("inf"), float("-inf")):
        return "inf" if x > 0 else "-inf"
    ax = abs(x)
    for div, suffix in SUFFIXES:
        if ax >= div * (1 - 0.5 * 10.0 ** -digits):  # 999,999 -> '1M', not '1000k'
            return f"{_sig(x / div, digits)}{suffix}"
    if ax >= 10 ** digits or x == int(x):
        return f"{x:,.0f}"
    return _sig(x, digits)


def human_pm(x: float, half_width: float, digits: int = 2) -> tuple[str, str]:
    """A value and its half-width in the same unit, the value to the half-width's precision:
    ``human_pm(169.7e6, 2.4e5) -> ('169.7M', '0.24M')``."""
    if x != x:
        return "n/a", ""
    if half_width != half_width or half_width <= 0:
        return human(x, 4), ""
    div, suffix = next(((d, s) for d, s in SUFFIXES if max(abs(x), half_width) >= d), (1.0, ""))
    hw = half_width / div
    decimals = max(0, digits - 1 - int(math.floor(math.log10(hw))))
    return f"{x / div:,.{decimals}f}{suffix}", f"{hw:.{decimals}f}{suffix}"


def _num(x) -> float | None:
    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v


def _fmt_money(x) -> str:
    v = _num(x)
    return "" if v is None or math.isnan(v) else human(v)


def _fmt_pm(x) -> str:
    """A ``(value, half_width)`` pair as ``value ± hw`` (``value`` alone when hw is NaN/None)."""
    v, hw = x if isinstance(x, (tuple, list)) else (x, None)
    v, h = _num(v), _num(hw)
    if v is None or math.isnan(v):
        return ""
    if h is None or math.isnan(h):
        return human(v, 4)
    a, b = human_pm(v, h)
    return f"{a} \u00b1 {b}" if b else a


FORMATS: dict[str, Callable[[object], str]] = {
    "money": _fmt_money,
    "pm": _fmt_pm,
    "int": lambda x: "" if _num(x) is None or math.isnan(_num(x)) else f"{_num(x):,.0f}",
    "float": lambda x: "" if _num(x) is None or math.isnan(_num(x)) else f"{_num(x):,.3g}",
    "percent": lambda x: "" if _num(x) is None or math.isnan(_num(x)) else f"{_num(x):.1%}",
    "text": lambda x: "" if x is None else str(x),
}
"""Named column formats."""


def display_width(text: str) -> int:
    """Terminal columns taken by ``text``: wide and full-width characters (Chinese, Japanese,
    Korean, full-width punctuation) count 2, combining marks 0, everything else 1."""
    return sum(0 if unicodedata.combining(ch) else 2 if unicodedata.east_asian_width(ch) in "WF" else 1
               for ch in text)


def pad(text: str, width: int, right: bool = False) -> str:
    """``text`` padded with spaces to ``width`` terminal columns (see :func:`display_width`),
    on the left when ``right`` (numbers), else on the right: ``str.ljust``/``rjust`` for CJK."""
    gap = " " * max(0, width - display_width(text))
    return gap + text if right else text + gap


_pad = pad


def format_table(rows: Iterable[Mapping] | "object", formats: Mapping[str, str | Callable] | None = None,
                 columns: Sequence[str] | None = None, headers: Mapping[str, str] | None = None,
                 title: str | None = None, sep: str = "  ") -> str:
    """Render rows as an aligned text table.

    Parameters
    ----------
    rows : iterable of mappings, or a pandas DataFrame
        One mapping per row.
    formats : mapping, optional
        Column -> format name in :data:`FORMATS` or a callable. Unformatted numbers use ``float``
        (3 significant digits with thousands separators), other values ``str``.
    columns : sequence of str, optional
        Columns to show, in order (default: keys of the first row).
    headers : mapping, optional
        Column -> header text (default: the column name).
    title : str, optional
        A line printed above the table.
    """
    if hasattr(rows, "to_dict") and hasattr(rows, "columns"):
        rows = rows.to_dict("records")  # DataFrame
    rows = list(rows)
    formats = dict(formats or {})
    headers = dict(headers or {})
    if columns is None:
        columns = list(rows[0].keys()) if rows else []
    cells: list[list[str]] = []
    numeric = {c: True for c in columns}
    for row in rows:
        line = []
        for c in columns:
            v = row.get(c)
            f = formats.get(c)
            if callable(f):
                s = f(v)
            elif f is not None:
                if f not in FORMATS:
                    raise ValueError(f"unknown column format {f!r}; use one of {', '.join(FORMATS)}")
                s = FORMATS[f](v)
            elif isinstance(v, (int, float)) and not isinstance(v, bool):
                s = FORMATS["float"](v)
            else:
                s = "" if v is None else str(v)
            if f == "text" or (f is None and not (isinstance(v, (int, float)) and not isinstance(v, bool))
                               and v is not None):
                numeric[c] = False
            line.append(s)
        cells.append(line)
    head = [headers.get(c, c) for c in columns]
    widths = [max([display_width(h)] + [display_width(r[i]) for r in cells]) for i, h in enumerate(head)]
    right = [numeric[c] and bool(rows) for c in columns]
    out = []
    if title:
        out.append(title)
    out.append(sep.join(_pad(h, w, r) for h, w, r in zip(head, widths, right)).rstrip())
    out.append(sep.join("-" * w for w in widths))
    for line in cells:
        out.append(sep.join(_pad(s, w, r) for s, w, r in zip(line, widths, right)).rstrip())
    return "\n".join(out)
