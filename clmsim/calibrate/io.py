"""Reading calibration data and writing scenario fragments.

Every reader returns a :class:`pandas.DataFrame` with the canonical column names
and a ``line`` column holding the line number of each row in the source file
(1-based, the header counted), so that every data error can say which rows are
wrong. Problems raise :class:`clmsim.errors.ClmsimError` (the CLI exits 2).

YAML is written only through :func:`clmsim.scenario.dump_yaml`; this package
never touches a YAML library itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

import numpy as np
import pandas as pd

from ..errors import ClmsimError
from ..scenario import dump_yaml

MAX_ROWS_SHOWN = 10
MAX_EXACT_INT = 2**53
"""Largest whole number read from data (float64 counts it exactly; int64 holds it)."""

PANEL_COLUMNS = ("customer_id", "period", "stage")
SURVIVAL_COLUMNS = ("period", "alive")
TRANSACTION_COLUMNS = ("customer_id", "date", "amount")


def rows_text(lines: Iterable[int], limit: int = MAX_ROWS_SHOWN) -> str:
    """``"rows 3, 8, 12 (and 4 more)"`` for file line numbers."""
    lines = sorted({int(x) for x in lines})
    shown = ", ".join(str(x) for x in lines[:limit])
    more = f" (and {len(lines) - limit} more)" if len(lines) > limit else ""
    return f"{'row' if len(lines) == 1 else 'rows'} {shown}{more}"


def read_table(path: str | Path, required: Sequence[str], optional: Sequence[str] = (), *,
               sep: str = ",", names: Sequence[str] | None = None,
               rename: dict[str, str] | None = None, what: str = "data") -> pd.DataFrame:
    """Read a delimited text file and check that the required columns exist.

    Parameters
    ----------
    path : path
        The file. ``sep="whitespace"`` reads whitespace-separated columns.
    required, optional : sequence of str
        Canonical column names that must / may be present.
    names : sequence of str, optional
        Column names for a file without a header line.
    rename : dict, optional
        ``{file column: canonical name}`` for files that use other names.
    what : str
        What the file holds, for messages ("panel", "transaction log", ...).

    Returns
    -------
    DataFrame
        Columns as strings (``dtype=str``) plus ``line``, the 1-based line number in the file.
    """
    from ..limits import current
    from ..safeio import InputError, open_input

    path = Path(path)
    try:
        with open_input(path, what, current().data_bytes):
            pass  # a regular file within the size limit (a FIFO or device is refused, never read)
    except InputError as exc:
        raise ClmsimError(f"{what} file {exc}") from None
    kwargs: dict = {"dtype": str, "keep_default_na": False, "skipinitialspace": True}
    if sep == "whitespace":
        kwargs["sep"] = r"\s+"
        kwargs["engine"] = "python"
    else:
        kwargs["sep"] = sep
    if names is not None:
        kwargs["header"] = None
        kwargs["names"] = list(names)
    try:
        df = pd.read_csv(path, **kwargs)
    except (pd.errors.ParserError, pd.errors.EmptyDataError, UnicodeDecodeError, ValueError) as exc:
        raise ClmsimError(f"cannot read {what} file {path}: {exc}") from None
    df.columns = [str(c).strip() for c in df.columns]
    if rename:
        df = df.rename(columns=rename)
    missing = [c for c in required if c not in df.columns]
    if missing:
        raise ClmsimError(f"{what} file {path} lacks column{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(c) for c in missing)}; it has {', '.join(repr(c) for c in df.columns)}"
                          f" (map names with --columns FILE_NAME=CANONICAL)")
    keep = [c for c in (*required, *optional) if c in df.columns]
    out = df[keep].copy()
    out["line"] = np.arange(len(df)) + (1 if names is not None else 2)
    if len(out) == 0:
        raise ClmsimError(f"{what} file {path} has no data rows")
    empty = np.zeros(len(out), dtype=bool)
    for c in required:
        empty |= out[c].astype(str).str.strip().eq("").to_numpy()
    if empty.any():
        raise ClmsimError(f"{what} file {path}: empty required value in {rows_text(out['line'][empty])}")
    return out


def to_number(df: pd.DataFrame, column: str, *, integer: bool = False, nonnegative: bool = False,
              what: str = "data") -> np.ndarray:
    """Parse a column as numbers; name the rows that fail.

    Raises
    ------
    ClmsimError
        On unparseable values, non-integers (``integer=True``) or negatives (``nonnegative=True``).
    """
    values = pd.to_numeric(df[column].astype(str).str.strip(), errors="coerce").to_numpy(dtype=float)
    bad = ~np.isfinite(values)
    if bad.any():
        raise ClmsimError(f"{what}: column '{column}' is not a number in {rows_text(df['line'][bad])}")
    if integer:
        frac = values != np.round(values)
        if frac.any():
            raise ClmsimError(f"{what}: column '{column}' must be a whole number in {rows_text(df['line'][frac])}")
    if nonnegative:
        neg = values < 0
        if neg.any():
            raise ClmsimError(f"{what}: column '{column}' is negative in {rows_text(df['line'][neg])}")
    if integer:
        huge = np.abs(values) > MAX_EXACT_INT
        if huge.any():
            first = values[huge][0]
            raise ClmsimError(f"{what}: column '{column}' holds {first:.6g} in {rows_text(df['line'][huge])}, beyond "
                              f"{MAX_EXACT_INT:.3g}, the largest whole number counted exactly")
    return values.astype(np.int64) if integer else values


def to_dates(df: pd.DataFrame, column: str, fmt: str | None = None, what: str = "data") -> pd.Series:
    """Parse a date column (``fmt`` as in :func:`datetime.strptime`, else ISO 8601).

    Raises
    ------
    ClmsimError
        Naming the rows whose value is not a date.
    """
    raw = df[column].astype(str).str.strip()
    parsed = pd.to_datetime(raw, format=fmt if fmt else "ISO8601", errors="coerce")
    bad = parsed.isna().to_numpy()
    if bad.any():
        first = raw[bad].iloc[0]
        hint = f" (expected format {fmt})" if fmt else " (expected ISO dates like 2024-03-31, or give --date-format)"
        raise ClmsimError(f"{what}: column '{column}' has unparseable dates, e.g. {first!r}, "
                          f"in {rows_text(df['line'][bad])}{hint}")
    return parsed.dt.normalize()


def parse_mapping(items: Iterable[str], what: str) -> dict[str, str]:
    """``["a=b", "c=d"]`` -> ``{"a": "b", "c": "d"}`` (CLI options)."""
    out = {}
    for item in items:
        if "=" not in item:
            raise ClmsimError(f"{what}: expected NAME=VALUE, got {item!r}")
        key, value = item.split("=", 1)
        out[key.strip()] = value.strip()
    return out


def write_yaml(data: dict, path: str | Path | None, comment: str = "") -> str:
    """Render ``data`` as YAML (via :func:`clmsim.scenario.dump_yaml`) with a leading
    ``#`` comment block; write it to ``path`` when given. Returns the text."""
    head = "".join(f"# {line}\n".replace("# \n", "#\n") for line in comment.splitlines()) if comment else ""
    text = head + dump_yaml(data)
    if path is not None:
        from ..safeio import atomic_write

        atomic_write(path, text)  # a failure (missing directory, full disk) names the path
    return text


def round_row(row: dict[str, float], digits: int = 6) -> dict[str, float]:
    """Round probabilities *down* to ``digits`` decimals so a row sum never exceeds 1."""
    scale = 10.0 ** digits
    return {k: float(np.floor(v * scale + 1e-7) / scale) for k, v in row.items()}


def sig(x: float, digits: int = 6) -> float:
    """``x`` rounded to ``digits`` significant digits (plain float for YAML)."""
    return float(f"{float(x):.{digits}g}")
