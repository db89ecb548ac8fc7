"""The results object every engine returns: tidy DataFrames with provenance.

Tables (all long/tidy, one row per observation; ``strategy`` is always a column):

``runs``
    One row per strategy and run with the per-run totals (columns in
    :data:`RUN_COLUMNS`). The analytic engine writes one row per strategy with
    ``run = -1``: the exact expectation, not a sample.
``periods``
    One row per strategy, period (1..H; period 0 = initial state for
    occupancy items) and ``item``: stage occupancy items are ``stage:<name>``
    (customers at the end of the period), flow and cash items are the names in
    :data:`PERIOD_ITEMS`. Columns ``mean`` and, for Monte Carlo engines, ``sd``,
    ``q05``, ``q50``, ``q95`` across runs (NaN for the analytic engine). The
    analytic engine adds ``survival:<stage>`` (P(active at the end of period t |
    entered the stage at time 0), t = 0..H) and ``new_customer_net_cash``
    (expected net cash in period u of a customer acquired through the channels
    at time 0), which :mod:`clmsim.metrics` uses for the cohort survival curve and
    the CAC payback; other engines may write them too.
``clv``
    Per strategy, ``segment`` and ``stage`` (with its ``kind``) for a customer
    entering the stage at time 0: ``clv_horizon``, ``clv_infinite``,
    ``lifetime`` (expected active periods, entry period included),
    ``steady_share`` and ``steady_active_share`` (long-run mix) -- analytic, see
    docs/engines.md; Monte Carlo engines may add a histogram table ``clv_hist``
    (strategy, cohort, lo, hi, count; results simulated in batches keep one histogram per
    ``batch``), the source of :func:`clmsim.metrics.value_concentration`.
``segment_runs``
    Per strategy, run and ``segment`` (empty when the scenario has no segments: its one
    segment is the population, ``runs`` and ``periods``):
    the columns :data:`SEGMENT_RUN_COLUMNS` for the segment's customers. Acquisition spend is
    allocated by each channel's segment mix (:mod:`clmsim.engines.segments`); every other
    amount is the segment's own, so each column summed over the segments of a run equals that
    run's column in ``runs``. The analytic engine writes ``run = -1``.
``segment_periods``
    Per strategy, ``segment``, period and item: the items of ``periods`` (``stage:<name>``
    and :data:`PERIOD_ITEMS`) for the segment's customers, with the same ``mean``, ``sd``,
    ``q05``, ``q50``, ``q95`` columns; summed over segments they give ``periods``' means.
``events``
    The des engine's event log for the runs asked to be traced: one row per
    event (strategy, run, customer, time in periods, event, from_stage,
    to_stage, amount); see :mod:`clmsim.engines.des`.

Provenance (``Results.provenance``) records scenario name and hash, engine,
seed, runs, mode, clmsim version and the timing convention, and travels with
the tables into Parquet metadata.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from ._version import __version__

RUN_COLUMNS = (
    "npv",                 # discounted net cash flow over the horizon
    "revenue",             # undiscounted revenue over the horizon
    "contribution",        # undiscounted revenue*margin - discount concessions - cost to serve
    "acquisition_spend",   # undiscounted channel spend
    "retention_spend",     # undiscounted program spend (care programs and save offers)
    "winback_spend",       # undiscounted contact cost
    "acquired",            # customers acquired by channels (per channel: extra columns acquired:<channel>)
    "referred",            # customers acquired by referrals
    "churned",             # moves from an active stage to a churned or lost stage
    "won_back",            # successful win-back contacts
    "contacts",            # win-back contacts made
    "active_end",          # customers in active stages at the end of the horizon
    "clv_acquired",        # mean per acquired customer (channels and referrals) of its discounted
                           # contribution minus retention and win-back spend on it, discounted to its
                           # acquisition time, up to the horizon (acquisition cost not subtracted)
)
"""Columns every engine writes in ``runs`` (besides ``strategy`` and ``run``). Engines may add
``acquired:<channel>`` and ``acquisition_spend:<channel>`` columns for per-channel CAC."""

SEGMENT_RUN_COLUMNS = (
    "npv", "revenue", "contribution", "acquisition_spend", "retention_spend", "winback_spend", "acquired",
    "referred", "churned", "won_back", "contacts", "active_end",
)
"""Columns of ``segment_runs`` (besides ``strategy``, ``run`` and ``segment``): the
:data:`RUN_COLUMNS` that add up over segments (``clv_acquired``, a mean, does not)."""

PERIOD_ITEMS = (
    "revenue", "contribution", "acquisition_spend", "retention_spend", "winback_spend", "net_cash",
    "discounted_net_cash", "acquired", "referred", "churned", "won_back", "contacts",
)
"""Per-period items besides ``stage:<name>``; cash items are undiscounted except
``discounted_net_cash``; ``net_cash = contribution - acquisition - retention - winback spend``."""

TABLES = ("runs", "periods", "clv", "clv_hist", "events", "segment_runs", "segment_periods")


@dataclass
class Results:
    """Output of one engine call for one or more strategies.

    Attributes
    ----------
    provenance : dict
        ``scenario``, ``scenario_hash``, ``engine``, ``seed``, ``runs``, ``mode``,
        ``clmsim_version``, ``convention``, ``period``, ``horizon`` and
        ``customer_periods`` (work done), ``seconds`` (wall time).
    runs, periods, clv, clv_hist, events, segment_runs, segment_periods : pandas.DataFrame
        See the module docstring.
    """

    provenance: dict
    runs: pd.DataFrame
    periods: pd.DataFrame
    clv: pd.DataFrame = field(default_factory=pd.DataFrame)
    clv_hist: pd.DataFrame = field(default_factory=pd.DataFrame)
    events: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment_runs: pd.DataFrame = field(default_factory=pd.DataFrame)
    segment_periods: pd.DataFrame = field(default_factory=pd.DataFrame)

    def __post_init__(self) -> None:
        self.provenance.setdefault("clmsim_version", __version__)

    @property
    def engine(self) -> str:
        return self.provenance.get("engine", "")

    @property
    def strategies(self) -> list[str]:
        return list(dict.fromkeys(self.runs["strategy"])) if len(self.runs) else []

    def occupancy(self, strategy: str) -> pd.DataFrame:
        """Wide table (period x stage) of mean occupancy for one strategy."""
        p = self.periods
        p = p[(p["strategy"] == strategy) & p["item"].str.startswith("stage:")]
        wide = p.pivot(index="period", columns="item", values="mean")
        wide.columns = [c[len("stage:"):] for c in wide.columns]
        return wide

    def series(self, strategy: str, item: str, stat: str = "mean") -> pd.Series:
        """One per-period item (e.g. ``revenue``) for one strategy, indexed by period."""
        p = self.periods
        p = p[(p["strategy"] == strategy) & (p["item"] == item)]
        return p.set_index("period")[stat]

    def combine(self, other: "Results") -> "Results":
        """Concatenate the tables of two results of the same scenario, engine and seed."""
        for key in ("scenario_hash", "engine", "seed"):
            if self.provenance.get(key) != other.provenance.get(key):
                raise ValueError(f"cannot combine results with different {key}")
        prov = dict(self.provenance)
        for key in ("customer_periods", "seconds"):
            if key in other.provenance:
                prov[key] = prov.get(key, 0) + other.provenance[key]
        cat = lambda a, b: pd.concat([a, b], ignore_index=True) if len(b) else a  # noqa: E731
        return Results(prov, *(cat(getattr(self, name), getattr(other, name)) for name in TABLES))

    # ------------------------------------------------------------------ I/O
    def to_parquet(self, directory: str | Path) -> Path:
        """Write every non-empty table as ``<table>.parquet`` with provenance in its
        metadata, plus ``provenance.json``. Files are written atomically; a failed write
        (read-only directory, full disk) raises :class:`clmsim.safeio.WriteError` naming the
        file and leaves no partial or temporary file."""
        from .safeio import atomic_path, atomic_write, ensure_dir

        directory = ensure_dir(directory)
        import pyarrow as pa
        import pyarrow.parquet as pq

        meta = json.dumps(self.provenance, sort_keys=True, default=str).encode()
        for name in TABLES:
            df = getattr(self, name)
            if df is None or not len(df):
                continue
            table = pa.Table.from_pandas(df, preserve_index=False)
            table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"clmsim": meta})
            with atomic_path(directory / f"{name}.parquet") as tmp:
                pq.write_table(table, tmp)
        atomic_write(directory / "provenance.json", json.dumps(self.provenance, indent=2, sort_keys=True, default=str))
        return directory

    @classmethod
    def read_parquet(cls, directory: str | Path) -> "Results":
        """Read what :meth:`to_parquet` wrote."""
        directory = Path(directory)
        prov = json.loads((directory / "provenance.json").read_text())
        tables = {}
        for name in TABLES:
            path = directory / f"{name}.parquet"
            tables[name] = pd.read_parquet(path) if path.exists() else pd.DataFrame()
        return cls(prov, **tables)
