"""The fast engine: numba Monte Carlo of many runs, per customer or on stage counts.

``simulate(models, runs=..., seed=...)`` validates the request, chooses the mode,
spawns the per-run seeds (:mod:`clmsim.rng`: run ``r`` uses the same streams for
every strategy -- common random numbers), packs each model into the kernels' argument
bundle and allocates the outputs (:mod:`clmsim.engines.fast.bundle`), runs a
kernel over threads (:mod:`clmsim.engines.fast.kernels.runtime`) (:mod:`clmsim.engines.fast.kernels.individual` for ``individual`` mode, with its bare path
in :mod:`clmsim.engines.fast.kernels.individual_bare` and its heterogeneous path in
:mod:`clmsim.engines.fast.kernels.individual_het`; :mod:`clmsim.engines.fast.kernels.counts` for ``counts``
mode, with the Gauss classes of :mod:`clmsim.engines.fast.het_classes`; shared samplers in
:mod:`clmsim.engines.fast.kernels.samplers`), then summarises the runs into a
:class:`clmsim.results.Results`.

Modes
-----
``individual``
    Every customer is simulated (stage, segment, heterogeneity draw, periods
    since churn, concession left) with per-customer gamma revenue noise; records
    the per-customer CLV histogram. Cost O(customers x periods) per run.
``counts``
    Stage counts (with churn-age and concession sub-states, and acquisition
    cohorts for ``clv_acquired``) evolve by binomial/multinomial draws; revenue of
    ``n`` customers is one Gamma(n k, theta) draw. Exact in distribution for
    homogeneous segments (``clv_acquired``: exact mean, spread matched, see
    :mod:`clmsim.engines.fast.kernels.counts`); cost independent of the population.
    Continuous heterogeneity is discretised (:mod:`clmsim.engines.fast.het_classes`): each
    segment becomes ``het_nodes=K`` classes at the nodes of the ``K``-point Gauss rule
    of the multiplier (or churn probability) law, weighted by the rule's weights -- an
    approximation that matches ``2K - 1`` moments. By default ``K`` is the smallest
    count whose error on the expected occupancy paths is <= 1e-6 (telecom: 8 to 12;
    its expectations then move by < 1e-7 relative, docs/engines.md). The provenance
    records ``het_nodes`` and the estimated error.
``auto``
    ``counts``: its cost does not grow with the population, and on continuous
    heterogeneity its approximation error is orders of magnitude below the Monte
    Carlo error. Ask for ``individual`` for exact per-customer draws and the
    per-customer CLV histogram.

Memory is O(runs x periods x stages) for the outputs plus O(live customers) per
thread in individual mode; never O(customers x periods).
"""

from __future__ import annotations

import os
import time
from typing import Sequence

import numpy as np
import pandas as pd

from ... import rng
from ...errors import ClmsimError
from ...model.compiled import ACTIVE, CONVENTION, CompiledModel
from ...results import Results
from .. import ENGINES
from . import het_classes as classes
from ..segments import periods_table, segment_tables
from .bundle import FLOW_ITEMS, outputs, pack, segment_arrays

NAME = "fast"
CAPABILITIES = ENGINES[NAME].capabilities
"""Declared in the registry (:data:`clmsim.engines.ENGINES`): Monte Carlo, ``first_run``, modes."""
MODES = CAPABILITIES.modes
OPTIONS = {"hist_bins": 200, "het_nodes": 0, "first_run": 0}
"""Engine options with their defaults: ``hist_bins`` fixed bins of the CLV histogram;
``het_nodes`` Gauss classes per segment when counts mode discretises continuous heterogeneity
(0: the smallest count meeting :data:`clmsim.engines.fast.het_classes.TOLERANCE`);
``first_run`` index of the first run simulated (a call with ``runs=n, first_run=r0`` returns
exactly rows ``r0..r0+n-1`` of one call with ``runs=r0+n``: chunks and resumed sweeps)."""
HET_CODES = classes.HET_CODES


def _validate(models, runs, mode, threads, options) -> dict:
    if not models:
        raise ClmsimError("the fast engine needs at least one compiled model (strategy)")
    if isinstance(runs, bool) or not isinstance(runs, (int, np.integer)) or runs < 1:
        raise ClmsimError(f"runs must be a positive integer, got {runs!r}")
    if mode not in MODES:
        raise ClmsimError(f"unknown mode {mode!r}; choose one of {', '.join(MODES)}")
    if threads is not None and (isinstance(threads, bool) or not isinstance(threads, (int, np.integer))
                                or threads < 1):
        raise ClmsimError(f"threads must be a positive integer or None, got {threads!r}")
    unknown = set(options) - set(OPTIONS)
    if unknown:
        raise ClmsimError(f"unknown fast-engine option(s) {', '.join(sorted(unknown))}; "
                          f"known: {', '.join(OPTIONS)}")
    opts = {**OPTIONS, **options}
    for key in OPTIONS:
        val = opts[key]
        if isinstance(val, bool) or not isinstance(val, (int, np.integer)) or val < 0:
            raise ClmsimError(f"option {key} must be a non-negative integer, got {val!r}")
    if opts["hist_bins"] < 1:
        raise ClmsimError("option hist_bins must be at least 1")
    if opts["het_nodes"] > 200:
        raise ClmsimError(f"option het_nodes must be between 0 (automatic) and 200, got {opts['het_nodes']}")
    first = models[0]
    for m in models:
        refuse = getattr(m, "refuse_operations", None)
        if refuse is not None:
            refuse("fast")
        if m.horizon != first.horizon or m.stage_names != first.stage_names:
            raise ClmsimError("all strategies of one fast-engine call must share horizon and stages")
        if m.horizon >= 32000:
            raise ClmsimError(f"horizon {m.horizon} is too long for the fast engine (max 31999 periods)")
        if m.n_stages > 127 or m.n_segments > 127:
            raise ClmsimError("the fast engine supports at most 127 stages and 127 segments")
        if sum(max(w.concession_periods - 1, 0) for w in m.winbacks) >= 32000:
            raise ClmsimError("the fast engine supports at most 32,000 concession periods over all win-back policies")
    return opts


def continuous_heterogeneity(models: Sequence[CompiledModel]) -> list[str]:
    """Kinds of the continuous heterogeneity draws (gamma, beta) of any model's segments."""
    return sorted({h.kind for m in models for h in m.heterogeneity if h.kind != "none"})


def approximation(models: Sequence[CompiledModel], mode: str = "auto", het_nodes: int = 0) -> dict:
    """What counts mode approximates for these models: ``{}`` when exact, else
    ``het_nodes`` (classes per heterogeneous segment), ``het_error`` (worst error of the
    expected occupancy paths, :mod:`clmsim.engines.fast.het_classes`) and a sentence ``approximation``."""
    continuous = continuous_heterogeneity(models)
    if choose_mode(models, mode) != "counts" or not continuous:
        return {}
    nodes, err = classes.choose(models, het_nodes)
    return {"het_nodes": nodes, "het_error": err,
            "approximation": f"{' and '.join(continuous)} heterogeneity discretised into {nodes} Gauss classes "
                             f"per segment (het_nodes; occupancy error <= {err:.1e} of a cohort); "
                             "mode='individual' draws it per customer"}


def pin_options(models: Sequence[CompiledModel], options: dict) -> dict:
    """``options`` with the automatic ``het_nodes`` resolved on ``models``, for a study that
    calls the engine on many variants (sweep points, optimiser steps): every call then
    uses the same classes, so grid points share their random inputs (common random
    numbers) and the class count does not jump between neighbouring points."""
    out = dict(options)
    if (out.get("het_nodes", 0) == 0 and choose_mode(models, out.get("mode") or "auto") == "counts"
            and continuous_heterogeneity(models)):
        out["het_nodes"] = classes.choose(models)[0]
    return out


def choose_mode(models: Sequence[CompiledModel], mode: str) -> str:
    """Resolve ``mode``: ``auto`` is ``counts`` (see the module docstring)."""
    return "counts" if mode == "auto" else mode


def simulate(models: Sequence[CompiledModel], *, runs: int, seed: int | None, mode: str = "auto",
             threads: int | None = None, quantiles: bool = True, first_run: int = 0, **options) -> Results:
    """Monte Carlo of ``runs`` runs of every model (strategy) with common random numbers.

    Parameters
    ----------
    models : sequence of CompiledModel
        One per strategy, from :func:`clmsim.model.compile_model`.
    runs : int
        Runs per strategy; run ``r`` draws from the streams ``(seed, r, purpose)``.
    seed : int or None
        Root seed; None draws OS entropy (recorded in the provenance as ``seed``).
    mode : {"auto", "individual", "counts"}
        See the module docstring.
    threads : int, optional
        Threads the runs are spread over (default: numba's ``NUMBA_NUM_THREADS``, the
        CPUs unless set). Results are bit-identical for any value.
    quantiles : bool
        Compute q05/q50/q95 across runs in ``periods`` (NaN when False).
    **options
        ``hist_bins`` (default 200), ``het_nodes`` (default 0: automatic), ``first_run``
        (default 0; see :data:`OPTIONS`).

    Returns
    -------
    Results
        ``runs`` (one row per strategy x run), ``periods`` (mean, sd, quantiles
        across runs), ``clv_hist`` (individual mode), provenance with
        ``customer_periods`` and ``seconds``.
    """
    t0 = time.perf_counter()
    models = list(models)
    opts = _validate(models, runs, mode, threads, {**options, "first_run": first_run})
    chosen = choose_mode(models, mode)
    root = rng.root_sequence(seed)
    seeds = rng.kernel_seeds(root.entropy, int(runs), opts["first_run"])
    tables = []
    work = 0
    approx = approximation(models, chosen, opts["het_nodes"])
    nodes = approx.get("het_nodes", 1)
    from .kernels.runtime import threads_for
    nthreads = threads_for(threads)
    for model in models:
        if chosen == "individual":
            out = _run_individual(model, seeds, opts["hist_bins"], nthreads)
        else:
            out = _run_counts(model, seeds, nodes, nthreads)
        work += int(out["work"].sum())
        tables.append(_tables(model, out, quantiles, opts["first_run"]))
    prov = dict(scenario=models[0].name, scenario_hash=models[0].scenario_hash, engine="fast",
                seed=root.entropy, runs=int(runs), mode=chosen, period=models[0].period,
                horizon=models[0].horizon, convention=CONVENTION, customer_periods=work,
                strategies=[m.strategy for m in models], threads=nthreads,
                active_stages=[n for n, k in zip(models[0].stage_names, models[0].stage_kind) if k == ACTIVE],
                seconds=time.perf_counter() - t0)
    prov.update(approx)
    cat = lambda k: pd.concat([t[k] for t in tables], ignore_index=True)  # noqa: E731
    return Results(prov, cat("runs"), cat("periods"), pd.DataFrame(), cat("clv_hist"),
                   segment_runs=cat("segment_runs"), segment_periods=cat("segment_periods"))


def fast_paths() -> bool:
    """Whether individual mode takes its bare and het fast paths: yes unless the environment
    sets ``CLMSIM_FAST_PATHS=0`` (every customer then runs the general path; results are
    bit-identical, which the tests check on every scenario). Read at every call."""
    return os.environ.get("CLMSIM_FAST_PATHS", "1").strip() not in ("0", "false", "no", "off")


def _run_individual(model: CompiledModel, seeds: np.ndarray, bins: int, threads: int) -> dict:
    from .kernels.individual import simulate_individual
    from .kernels.runtime import run_split
    km = pack(model, hist_bins=bins)
    out = outputs(model, seeds.shape[0], bins)
    run_split(simulate_individual, seeds.shape[0], threads, seeds, km, out, fast_paths())
    return {**out._asdict(), "hist_edges": km.hist_lo + km.hist_width * np.arange(bins + 1)}


def _run_counts(model: CompiledModel, seeds: np.ndarray, nodes: int, threads: int) -> dict:
    from .kernels.counts import simulate_counts
    from .kernels.runtime import run_split
    km = pack(model, het_nodes=nodes)
    out = outputs(model, seeds.shape[0])
    run_split(simulate_counts, seeds.shape[0], threads, seeds, km, out)
    res = out._asdict()
    del res["hist"]
    return res


def _tables(model: CompiledModel, out: dict, quantiles: bool, first_run: int = 0) -> dict:
    """Per-run totals, per-period summaries and the CLV histogram of one strategy."""
    R, H = out["occ"].shape[0], model.horizon
    v = model.discount_factors()
    flows = out["flows"]
    fi = {name: j for j, name in enumerate(FLOW_ITEMS)}
    acq_spend = model.acquisition_spend()                    # (C, H)
    per = {name: flows[:, :, fi[name]] for name in FLOW_ITEMS}
    per["acquisition_spend"] = np.broadcast_to(acq_spend.sum(axis=0), (R, H))
    per["net_cash"] = per["contribution"] - per["acquisition_spend"] - per["retention_spend"] \
        - per["winback_spend"]
    per["discounted_net_cash"] = per["net_cash"] * v[1:]
    runs = {"strategy": model.strategy, "run": first_run + np.arange(R)}
    runs["npv"] = per["discounted_net_cash"].sum(axis=1)
    for name in ("revenue", "contribution", "acquisition_spend", "retention_spend", "winback_spend",
                 "acquired", "referred", "churned"):
        runs[name] = per[name].sum(axis=1)
    runs["won_back"] = per["won_back"].sum(axis=1)
    runs["contacts"] = per["contacts"].sum(axis=1)
    runs["active_end"] = out["occ"][:, H, model.active].sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        runs["clv_acquired"] = np.where(out["clv_n"] > 0, out["clv_sum"] / np.maximum(out["clv_n"], 1), np.nan)
    for c, ch in enumerate(model.channels):
        runs[f"acquired:{ch.name}"] = out["chan_acq"][:, c]
        runs[f"acquisition_spend:{ch.name}"] = np.full(R, acq_spend[c].sum())
    runs_df = pd.DataFrame(runs)

    periods_df = periods_table(model.strategy, model.stage_names, out["occ"], per, quantiles)

    hist_df = pd.DataFrame()
    if "hist" in out:
        counts = out["hist"].sum(axis=0)                     # (2, B+2)
        edges = out["hist_edges"]
        lo = np.concatenate([[-np.inf], edges])
        hi = np.concatenate([edges, [np.inf]])
        rows = []
        for coh, label in enumerate(("initial", "acquired")):
            rows.append(pd.DataFrame({"strategy": model.strategy, "cohort": label, "lo": lo, "hi": hi,
                                      "count": counts[coh]}))
        hist_df = pd.concat(rows, ignore_index=True)
    seg_flows, seg_occ = segment_arrays(out)
    seg = segment_tables(model, {name: seg_flows[:, :, :, j] for j, name in enumerate(FLOW_ITEMS)}, seg_occ,
                         runs["run"], quantiles=quantiles)
    return {"runs": runs_df, "periods": periods_df, "clv_hist": hist_df, **seg}

