"""Reading calibration data and writing scenario fragments.

:func:`read_table` returns a :class:`pandas.DataFrame` and :func:`read_columns` (no pandas,
for small files) a dict of arrays, both with the canonical column names and a ``line`` column holding the line number of each row in the source file
(1-based, the header counted), so that every data error can say which rows are
wrong. Problems raise :class:`clmsim.errors.ClmsimError` (the CLI exits 2).

YAML is written only through :func:`clmsim.scenario.dump_yaml`; this package
never touches a YAML library itself.
"""

from __future__ import annotations

from pathlib import Path
from typing import Iterable, Sequence

from typing import TYPE_CHECKING

import numpy as np

from ..errors import ClmsimError
from ..scenario import dump_yaml

if TYPE_CHECKING:
    import pandas as pd

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
    """Read a delimited text file (pandas' C parser) and check that the required columns exist.

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
        :func:`read_columns` gives the same columns without pandas (small files).
    """
    import pandas as pd

    path = _checked_input(path, what)
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
    columns = {str(c).strip(): df[c].to_numpy() for c in df.columns}
    lines = np.arange(len(df)) + (1 if names is not None else 2)
    return pd.DataFrame(_select(columns, lines, path, required, optional, rename, what))


def read_columns(path: str | Path, required: Sequence[str], optional: Sequence[str] = (), *,
                 sep: str = ",", names: Sequence[str] | None = None,
                 rename: dict[str, str] | None = None, what: str = "data") -> dict[str, np.ndarray]:
    """:func:`read_table` without pandas (Python's :mod:`csv` reader): ``{column: array of str}``
    plus ``line`` (the file's line number of each row; blank lines are skipped). For small files
    such as alive counts per cohort, where importing pandas would cost more than the work.

    Raises
    ------
    ClmsimError
        An unreadable file, a row with more fields than the header, a missing column or an empty
        required value (naming the rows).
    """
    import csv
    import re

    path = _checked_input(path, what)
    header = list(names) if names is not None else None
    rows: list[list[str]] = []
    lines: list[int] = []
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            if sep == "whitespace" or len(sep) != 1:   # pandas reads a longer separator as a regular expression
                pattern = re.compile(r"\s+" if sep == "whitespace" else sep)
                records = ((n, pattern.split(text.strip())) for n, text in enumerate(fh, 1) if text.strip())
            else:
                reader = csv.reader(fh, delimiter=sep, skipinitialspace=True)
                records = ((reader.line_num, row) for row in reader if any(f.strip() for f in row))
            for n, row in records:
                if header is None:
                    header = [f.strip() for f in row]
                    continue
                if len(row) > len(header):
                    raise ClmsimError(f"cannot read {what} file {path}: line {n} has {len(row)} fields, "
                                      f"the header {len(header)}")
                rows.append(row + [""] * (len(header) - len(row)))
                lines.append(n)
    except (csv.Error, UnicodeDecodeError) as exc:
        raise ClmsimError(f"cannot read {what} file {path}: {exc}") from None
    if header is None:
        raise ClmsimError(f"cannot read {what} file {path}: no columns to parse from file")
    table = np.array(rows, dtype=object).reshape(len(rows), len(header))
    columns = {str(c).strip(): table[:, j] for j, c in enumerate(header)}
    return _select(columns, np.asarray(lines, dtype=np.int64), path, required, optional, rename, what)


def _checked_input(path: str | Path, what: str) -> Path:
    """``path`` if it is a regular file within the size limit (a FIFO or device is refused, never read)."""
    from ..limits import current
    from ..safeio import InputError, open_input

    path = Path(path)
    try:
        with open_input(path, what, current().data_bytes):
            pass
    except InputError as exc:
        raise ClmsimError(f"{what} file {exc}") from None
    return path


def _select(columns: dict[str, np.ndarray], lines: np.ndarray, path: Path, required: Sequence[str],
            optional: Sequence[str], rename: dict[str, str] | None, what: str) -> dict[str, np.ndarray]:
    """The required and optional columns (renamed to canonical names) plus ``line``; refuses a
    missing column or an empty required value, naming the rows."""
    if rename:
        columns = {rename.get(c, c): v for c, v in columns.items()}
    missing = [c for c in required if c not in columns]
    if missing:
        raise ClmsimError(f"{what} file {path} lacks column{'s' if len(missing) > 1 else ''} "
                          f"{', '.join(repr(c) for c in missing)}; it has {', '.join(repr(c) for c in columns)}"
                          f" (map names with --columns FILE_NAME=CANONICAL)")
    out = {c: columns[c] for c in (*required, *optional) if c in columns}
    out["line"] = lines
    if len(lines) == 0:
        raise ClmsimError(f"{what} file {path} has no data rows")
    empty = np.zeros(len(lines), dtype=bool)
    for c in required:
        empty |= _stripped(out[c]) == ""
    if empty.any():
        raise ClmsimError(f"{what} file {path}: empty required value in {rows_text(lines[empty])}")
    return out


def _stripped(values) -> np.ndarray:
    """A column (array, Series or list) as stripped strings."""
    return np.char.strip(np.asarray(values).astype(str))


def _floats(text: np.ndarray) -> np.ndarray:
    """Stripped strings -> float64, NaN where a value is not a number."""
    try:
        return text.astype(float)
    except ValueError:
        out = np.empty(len(text))
        for i, x in enumerate(text.tolist()):
            try:
                out[i] = float(x)
            except ValueError:
                out[i] = np.nan
        return out


def to_number(table, column: str, *, integer: bool = False, nonnegative: bool = False,
              what: str = "data") -> np.ndarray:
    """Parse a column as numbers; name the rows that fail.

    ``table`` is a DataFrame (:func:`read_table`) or a dict of arrays (:func:`read_columns`),
    both with a ``line`` column.

    Raises
    ------
    ClmsimError
        On unparseable values, non-integers (``integer=True``) or negatives (``nonnegative=True``).
    """
    values = _floats(_stripped(table[column]))
    lines = np.asarray(table["line"])
    bad = ~np.isfinite(values)
    if bad.any():
        raise ClmsimError(f"{what}: column '{column}' is not a number in {rows_text(lines[bad])}")
    if integer:
        frac = values != np.round(values)
        if frac.any():
            raise ClmsimError(f"{what}: column '{column}' must be a whole number in {rows_text(lines[frac])}")
    if nonnegative:
        neg = values < 0
        if neg.any():
            raise ClmsimError(f"{what}: column '{column}' is negative in {rows_text(lines[neg])}")
    if integer:
        huge = np.abs(values) > MAX_EXACT_INT
        if huge.any():
            first = values[huge][0]
            raise ClmsimError(f"{what}: column '{column}' holds {first:.6g} in {rows_text(lines[huge])}, beyond "
                              f"{MAX_EXACT_INT:.3g}, the largest whole number counted exactly")
    return values.astype(np.int64) if integer else values


def to_dates(df: pd.DataFrame, column: str, fmt: str | None = None, what: str = "data") -> pd.Series:
    """Parse a date column (``fmt`` as in :func:`datetime.strptime`, else ISO 8601).

    Raises
    ------
    ClmsimError
        Naming the rows whose value is not a date.
    """
    import pandas as pd

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
