"""Small helpers shared by the plot modules: accept a Results object or its tables."""

from __future__ import annotations

import pandas as pd

from ..errors import ClmsimError


def periods_table(data) -> pd.DataFrame:
    """The tidy ``periods`` table of a :class:`~clmsim.results.Results` (or the table itself)."""
    df = getattr(data, "periods", data)
    if not isinstance(df, pd.DataFrame):
        raise ClmsimError(f"expected Results or a periods DataFrame, got {type(data).__name__}")
    need = {"strategy", "period", "item", "mean"}
    if not need <= set(df.columns):
        raise ClmsimError(f"periods table lacks columns {sorted(need - set(df.columns))}")
    return df


def runs_table(data) -> pd.DataFrame:
    """The ``runs`` table of a Results object (or the table itself)."""
    df = getattr(data, "runs", data)
    if not isinstance(df, pd.DataFrame) or not {"strategy", "run"} <= set(df.columns):
        raise ClmsimError("expected Results or a runs DataFrame with 'strategy' and 'run' columns")
    return df


def period_unit(data, default: str = "period") -> str:
    """The period unit (``month``...) from a Results' provenance, else ``default``."""
    prov = getattr(data, "provenance", None) or {}
    return str(prov.get("period") or default)


def require_columns(df: pd.DataFrame, columns, what: str) -> None:
    """Raise a clear :class:`ClmsimError` when ``df`` lacks any of ``columns``."""
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise ClmsimError(f"{what}: missing column(s) {', '.join(missing)}; "
                          f"have {', '.join(map(str, df.columns))}")


def has_band(df: pd.DataFrame, lo: str = "q05", hi: str = "q95") -> bool:
    """True when ``df`` holds finite band columns (Monte Carlo results)."""
    return lo in df.columns and hi in df.columns and bool(df[[lo, hi]].notna().any().all())
