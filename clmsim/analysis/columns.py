"""Column names and types of a sweep's tables (``runs.parquet``, ``points.parquet``).

A sweep's inputs are dotted scenario paths (``retention.programs.save_desk.spend_per_customer``)
and some engine outputs carry a channel after a colon (``acquired:search``). In the written
tables every column name is a valid Python identifier, so ``df.retention__programs__...`` and
``df.query(...)`` work, by one rule (:func:`identifier`):

* ``.`` and ``:`` become ``__`` (two underscores);
* any other character that cannot appear in an identifier becomes ``_``;
* a name starting with a digit gets a leading ``_``; a Python keyword a trailing ``_``;
* if two names still collide, the later one gets ``_2``, ``_3``, ...

The mapping (identifier -> original name) is stored in ``manifest.json`` (``columns``) and
offered by :attr:`clmsim.analysis.sweep.Sweep.paths` and :meth:`~clmsim.analysis.sweep.Sweep.column`.
Counts of customers and contacts (:data:`COUNT_COLUMNS`) are integers when every value is a
whole number (Monte Carlo engines); the analytic engine's counts are expectations and stay
floating point.
"""

from __future__ import annotations

import keyword
import re
from typing import Iterable

import numpy as np
import pandas as pd

COUNT_COLUMNS = ("acquired", "referred", "churned", "won_back", "contacts", "active_end")
"""Runs columns that count customers or contacts (and ``acquired:<channel>``)."""

POINT_KEYS = ("experiment", "grid", "sample")


def identifier(name: str) -> str:
    """The identifier of a column name by the rule of the module docstring (without the
    collision suffix)."""
    s = name.replace(".", "__").replace(":", "__")
    s = "".join(ch if ("a" + ch).isidentifier() else "_" for ch in s)
    if not s or not s[0].isidentifier():
        s = "_" + s
    if keyword.iskeyword(s):
        s += "_"
    return s


def identifiers(names: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """``{name: identifier}`` for ``names``, unique among themselves and ``taken``."""
    used = set(taken)
    out: dict[str, str] = {}
    for n in names:
        base = n if n.isidentifier() and not keyword.iskeyword(n) else identifier(n)
        ident, k = base, 2
        while ident in used:
            ident, k = f"{base}_{k}", k + 1
        used.add(ident)
        out[n] = ident
    return out


def is_count(column: str) -> bool:
    return column in COUNT_COLUMNS or column.split(":", 1)[0] in COUNT_COLUMNS and ":" in column


def integer_counts(df: pd.DataFrame) -> pd.DataFrame:
    """Count columns as int64 where every value is a finite whole number."""
    df = df.copy()
    for c in df.columns:
        if is_count(str(c)) and df[c].dtype.kind == "f":
            x = df[c].to_numpy()
            if len(x) and np.isfinite(x).all() and (x == np.round(x)).all() and np.abs(x).max() < 2**62:
                df[c] = x.astype(np.int64)
    return df


def tidy_points(points: pd.DataFrame, integer_inputs: Iterable[str], names: dict[str, str]) -> pd.DataFrame:
    """Points with identifier column names; inputs on integer scenario fields whose values are all
    whole numbers (a window of 3, 6 or 9 periods) as int64 -- never rounded: a spend written as
    ``10`` in the scenario and sampled at 17.3 stays 17.3."""
    df = points.copy()
    for c in integer_inputs:
        if c in df.columns:
            x = df[c].to_numpy(dtype=float)
            if np.isfinite(x).all() and (x == np.round(x)).all():
                df[c] = x.astype(np.int64)
    return df.rename(columns=names)


def tidy_runs(runs: pd.DataFrame, points: pd.DataFrame, names: dict[str, str]) -> pd.DataFrame:
    """Runs with the point inputs joined as columns (after ``experiment``), whole-number counts
    as integers and identifier column names. ``points`` has identifier names already."""
    runs = integer_counts(runs).rename(columns=names)
    inputs = [c for c in points.columns if c not in POINT_KEYS]
    lead = ["experiment", "grid", "sample"] + inputs
    joined = runs.merge(points[lead], on="experiment", how="left", validate="many_to_one")
    rest = [c for c in runs.columns if c != "experiment"]
    return joined[lead + rest]


def sweep_names(points: pd.DataFrame, runs: pd.DataFrame) -> dict[str, str]:
    """``{original: identifier}`` for every point input and runs column of a sweep."""
    inputs = [c for c in points.columns if c not in POINT_KEYS]
    names = identifiers(inputs, taken=POINT_KEYS)
    names.update(identifiers([c for c in runs.columns if c not in names and c not in POINT_KEYS],
                             taken=set(names.values()) | set(POINT_KEYS)))
    return names


def needs_renaming(columns: Iterable[str]) -> bool:
    return any(not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", str(c)) and not str(c).isidentifier() for c in columns)


__all__ = ["COUNT_COLUMNS", "identifier", "identifiers", "integer_counts", "sweep_names", "tidy_points",
           "tidy_runs"]
