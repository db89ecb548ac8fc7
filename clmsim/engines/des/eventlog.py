"""Per-customer event log of the des engine: events of traced customers collected as arrays
during a run and turned into one tidy table (one row per event, sorted by customer, then time).

The columns are :data:`EVENT_COLUMNS`; the events and what ``amount`` means for each are listed
in the docstring of :mod:`clmsim.engines.des.engine`.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

__all__ = ["EVENT_COLUMNS", "EventLog"]

EVENT_COLUMNS = ("strategy", "run", "customer", "segment", "time", "event", "from_stage", "to_stage", "amount")


class EventLog:
    """Collects events of traced customers as arrays; :meth:`frame` makes the tidy table."""

    def __init__(self, enabled: bool, traced: np.ndarray | None):
        self.enabled = enabled
        self.traced = None if traced is None else np.unique(np.asarray(traced, dtype=np.int64))
        self.chunks: list[tuple] = []
        self.seg_ids: list[np.ndarray] = []
        self.seg_of: list[np.ndarray] = []

    def segments(self, cids: np.ndarray, seg: np.ndarray) -> None:
        """Remember the segment of new customers (kept for traced customers only)."""
        if not self.enabled:
            return
        keep = slice(None) if self.traced is None else np.isin(cids, self.traced)
        self.seg_ids.append(np.asarray(cids)[keep])
        self.seg_of.append(np.asarray(seg)[keep])

    def many(self, time, cids, event: str, from_stage, to_stage, amount) -> None:
        """Record one event per customer in ``cids`` (arrays or scalars broadcast)."""
        if not self.enabled or len(cids) == 0:
            return
        cids = np.asarray(cids, dtype=np.int64)
        n = len(cids)
        cols = [np.broadcast_to(np.asarray(x, dtype=float if i in (0, 3) else np.int64), (n,))
                for i, x in enumerate((time, from_stage, to_stage, amount))]
        if self.traced is not None:
            keep = np.isin(cids, self.traced)
            if not keep.any():
                return
            cids = cids[keep]
            cols = [c[keep] for c in cols]
        self.chunks.append((cids, cols[0].copy(), event, cols[1].copy(), cols[2].copy(), cols[3].copy()))

    def one(self, time: float, cid: int, event: str, from_stage: int, to_stage: int, amount: float) -> None:
        if self.enabled:
            self.many(time, np.array([cid]), event, from_stage, to_stage, amount)

    def frame(self, strategy: str, run: int, stage_names: tuple[str, ...],
              segment_names: tuple[str, ...] = ()) -> pd.DataFrame:
        """Events sorted by customer, then time (ties in the order they happened); ``segment``
        names the customer's segment (relationship pattern)."""
        if not self.chunks:
            return pd.DataFrame({c: [] for c in EVENT_COLUMNS})
        cid = np.concatenate([c[0] for c in self.chunks])
        tm = np.concatenate([c[1] for c in self.chunks])
        ev = np.concatenate([np.full(len(c[0]), c[2], dtype=object) for c in self.chunks])
        names = np.array(("",) + tuple(stage_names), dtype=object)
        fr = names[np.concatenate([c[3] for c in self.chunks]) + 1]
        to = names[np.concatenate([c[4] for c in self.chunks]) + 1]
        amt = np.concatenate([c[5] for c in self.chunks])
        order = np.lexsort((np.arange(len(cid)), tm, cid))
        seg = np.full(len(cid), "", dtype=object)
        if self.seg_ids and segment_names:
            ids, of = np.concatenate(self.seg_ids), np.concatenate(self.seg_of)
            pos = np.searchsorted(ids, cid)  # ids grow with arrival: sorted
            found = (pos < len(ids)) & (ids[np.minimum(pos, len(ids) - 1)] == cid)
            seg[found] = np.asarray(segment_names, dtype=object)[of[pos[found]]]
        return pd.DataFrame({"strategy": strategy, "run": run, "customer": cid[order], "segment": seg[order],
                             "time": tm[order],
                             "event": ev[order], "from_stage": fr[order], "to_stage": to[order],
                             "amount": amt[order]})
