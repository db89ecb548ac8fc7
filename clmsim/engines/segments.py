"""Tables the engines lay out alike: ``periods`` of the Monte Carlo engines (:func:`periods_table`),
and the per-segment tables every engine writes, ``segment_runs`` and ``segment_periods``.

An engine accumulates its flow items per segment where it accumulates the totals (the
customer, group or pool an amount belongs to has one segment) and hands them here as arrays
over runs; this module adds the one item no customer carries -- acquisition spend -- and the
cash items derived from the others, and lays both tables out (columns in
:data:`clmsim.results.SEGMENT_RUN_COLUMNS`; the tables in :mod:`clmsim.results`).

Acquisition spend is allocated to segments by each channel's segment mix (the share of the
channel's customers the segment is expected to receive): segment ``g`` carries
``sum_c spend_{c,t} mix_{c,g} / sum_g' mix_{c,g'}``. Every other item is the segment's own,
so every item, NPV included, sums over segments to the total of ``runs`` and ``periods``.
A scenario without segments gets empty tables: its one segment is the population.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ..results import PERIOD_ITEMS, SEGMENT_RUN_COLUMNS

SEGMENT_FLOWS = ("revenue", "contribution", "retention_spend", "winback_spend", "acquired", "referred",
                 "churned", "won_back", "contacts")
"""Items an engine accumulates per segment itself (the rest are derived here)."""


def run_stats(x: np.ndarray, quantiles: bool = True) -> dict:
    """Mean, sd (ddof 1; NaN for one run) and q05/q50/q95 across runs (axis 0); quantiles NaN
    when ``quantiles`` is False."""
    mean = x.mean(axis=0)
    sd = x.std(axis=0, ddof=1) if x.shape[0] > 1 else np.full(x.shape[1:], np.nan)
    q = np.quantile(x, [0.05, 0.5, 0.95], axis=0) if quantiles else np.full((3,) + x.shape[1:], np.nan)
    return dict(mean=mean, sd=sd, q05=q[0], q50=q[1], q95=q[2])


def periods_table(strategy: str, stage_names, occ: np.ndarray, flows: dict, quantiles: bool = True
                  ) -> pd.DataFrame:
    """The ``periods`` table of one strategy of a Monte Carlo engine, built in one piece.

    Parameters
    ----------
    strategy : str
    stage_names : sequence of str
    occ : ndarray (R, H + 1, S)
        End-of-period occupancy per run and stage (row 0: the initial population).
    flows : dict
        :data:`clmsim.results.PERIOD_ITEMS` item -> array (R, H).
    quantiles : bool
        See :func:`run_stats`.

    Returns
    -------
    DataFrame
        ``strategy, period, item, mean, sd, q05, q50, q95``: the rows of ``stage:<name>``
        (periods 0..H) stage by stage, then the items of ``PERIOD_ITEMS`` (periods 1..H).
    """
    H, S, I = occ.shape[1] - 1, occ.shape[2], len(PERIOD_ITEMS)
    st_occ = run_stats(occ, quantiles)                                              # (H+1, S)
    st_flow = run_stats(np.stack([flows[name] for name in PERIOD_ITEMS], axis=-1), quantiles)   # (H, I)
    stages = np.asarray([f"stage:{n}" for n in stage_names], dtype=object)
    return pd.DataFrame({
        "strategy": strategy,
        "period": np.concatenate([np.tile(np.arange(H + 1), S), np.tile(np.arange(1, H + 1), I)]),
        "item": np.concatenate([np.repeat(stages, H + 1), np.repeat(np.asarray(PERIOD_ITEMS, dtype=object), H)]),
        **{k: np.concatenate([st_occ[k].T.ravel(), st_flow[k].T.ravel()]) for k in st_occ}})


def acquisition_spend_by_segment(model) -> np.ndarray:
    """Channel spend of every period split by the channels' segment mix, shape (H, G)."""
    spend = model.acquisition_spend()                                  # (C, H)
    H, G = model.horizon, model.n_segments
    if not len(model.channels):
        return np.zeros((H, G))
    mix = np.array([c.mix for c in model.channels], dtype=float).reshape(len(model.channels), G)
    tot = mix.sum(axis=1, keepdims=True)
    mix = np.where(tot > 0, mix / np.where(tot > 0, tot, 1.0), model.segment_share[None, :])
    return spend.T @ mix


def segment_tables(model, flows: dict, occ: np.ndarray, run_index, *, quantiles: bool = True,
                   exact: bool = False) -> dict:
    """``segment_runs`` and ``segment_periods`` of one strategy.

    Parameters
    ----------
    model : CompiledModel
    flows : dict
        :data:`SEGMENT_FLOWS` item -> array (R, H, G): the item per run, period and segment.
    occ : ndarray (R, H + 1, G, S)
        End-of-period occupancy per segment and stage (row 0: the initial population).
    run_index : array (R,)
        The ``run`` column (``[-1]`` for an exact engine).
    exact : bool
        An exact engine's expectation (``R = 1``): ``sd`` and quantiles NaN.

    Returns
    -------
    dict
        ``segment_runs``: one row per run and segment, columns ``strategy, run, segment`` and
        :data:`clmsim.results.SEGMENT_RUN_COLUMNS`; ``segment_periods``: ``strategy, segment,
        period, item, mean, sd, q05, q50, q95`` with the items of ``periods``
        (:data:`clmsim.results.PERIOD_ITEMS` and ``stage:<name>``). Both are empty for a
        scenario without segments (its one segment is the population: ``runs`` and ``periods``).
    """
    if model.n_segments == 1:
        return {"segment_runs": pd.DataFrame(), "segment_periods": pd.DataFrame()}
    R, H, G = occ.shape[0], model.horizon, model.n_segments
    S = model.n_stages
    v = model.discount_factors()
    per = {k: np.asarray(flows[k], dtype=float) for k in SEGMENT_FLOWS}
    per["acquisition_spend"] = np.broadcast_to(acquisition_spend_by_segment(model), (R, H, G))
    per["net_cash"] = per["contribution"] - per["acquisition_spend"] - per["retention_spend"] - per["winback_spend"]
    per["discounted_net_cash"] = per["net_cash"] * v[1:, None]
    names = np.asarray(model.segment_names, dtype=object)
    run_index = np.asarray(run_index)
    runs = {"strategy": model.strategy, "run": np.repeat(run_index, G), "segment": np.tile(names, R)}
    runs["npv"] = per["discounted_net_cash"].sum(axis=1).reshape(-1)
    for name in SEGMENT_RUN_COLUMNS:
        if name in per:
            runs[name] = per[name].sum(axis=1).reshape(-1)
    runs["active_end"] = occ[:, H][:, :, model.active].sum(axis=2).reshape(-1)
    runs_df = pd.DataFrame(runs)[["strategy", "run", "segment", *SEGMENT_RUN_COLUMNS]]

    def stats(x):
        if exact:
            nan = np.full(x.shape[1:], np.nan)
            return dict(mean=x[0], sd=nan, q05=nan, q50=nan, q95=nan)
        return run_stats(np.ascontiguousarray(x), quantiles)

    # long layout, one block per table part: segment-major, then item, then period
    st_occ = {k: a.transpose(1, 2, 0).ravel() for k, a in stats(occ).items()}                # (G, S, H+1)
    flow = np.stack([per[name] for name in PERIOD_ITEMS], axis=-1)                         # (R, H, G, I)
    st_flow = {k: a.transpose(1, 2, 0).ravel() for k, a in stats(flow).items()}            # (G, I, H)
    stages = np.asarray([f"stage:{n}" for n in model.stage_names], dtype=object)
    items = np.asarray(PERIOD_ITEMS, dtype=object)
    I = len(items)
    occ_df = pd.DataFrame({"strategy": model.strategy, "segment": np.repeat(names, S * (H + 1)),
                           "period": np.tile(np.arange(H + 1), G * S),
                           "item": np.tile(np.repeat(stages, H + 1), G), **st_occ})
    flow_df = pd.DataFrame({"strategy": model.strategy, "segment": np.repeat(names, I * H),
                            "period": np.tile(np.arange(1, H + 1), G * I),
                            "item": np.tile(np.repeat(items, H), G), **st_flow})
    return {"segment_runs": runs_df, "segment_periods": pd.concat([occ_df, flow_df], ignore_index=True)}
