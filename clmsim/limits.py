"""The resource model: what a request will cost, estimated and checked before any work.

Every command estimates the work and memory a request implies *before* it allocates or
loops, and refuses a request beyond a limit with a message that names the input, the
estimate and the limit (exit status 2). The limits are sized for a laptop (a few GiB of
memory, about an hour of one core); they are stated once, here, and documented in
docs/cli.md (a test checks the two agree).

How the work is counted depends on the engine and mode:

* **fast, individual mode** and **des** simulate every customer: work =
  runs x strategies x customers x periods (``customer_periods``), where customers =
  initial population + expected acquisitions over the horizon (channels, and referrals
  by the expected-count recursion);
* **fast, counts mode** evolves stage counts: work = runs x strategies x periods x
  groups (``count_steps``; groups = segments x heterogeneity classes), whatever the
  population;
* **analytic**: one exact evaluation per strategy (its size is the expanded chain).

Memory counts the arrays an engine allocates per run (occupancy and flows over periods)
and the result tables.

Raising the limits: ``clmsim --allow-large COMMAND ...`` (or ``CLMSIM_ALLOW_LARGE=1``)
multiplies every limit by :data:`ALLOW_LARGE_FACTOR`; ``CLMSIM_LIMITS="name=value,..."``
sets single limits (names of :class:`Limits`). From Python: ``with limits.raised(): ...``.
Hard bounds of the number formats (see :mod:`clmsim.scenario.schema`) are not limits and
cannot be raised.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
import os
from dataclasses import dataclass, fields, replace
from typing import Iterator, Sequence

from .errors import ClmsimError

ALLOW_LARGE_FACTOR = 1000
"""``--allow-large`` multiplies every limit by this factor."""
ALLOW_HINT = "clmsim --allow-large raises the limit"


@dataclass(frozen=True)
class Limits:
    """Default limits (one fact, one place; docs/cli.md lists them)."""

    file_bytes: int = 1 * 2**20
    """Largest scenario or experiment YAML file (1 MiB; the bundled scenarios are ~10 KiB)."""
    data_bytes: int = 1 * 2**30
    """Largest CSV/text data file of ``clmsim fit`` (1 GiB)."""
    memory_bytes: int = 4 * 2**30
    """Largest estimated memory of one engine call or study (4 GiB)."""
    customer_periods: float = 2e10
    """Most customer-periods simulated by a request in individual mode or the des engine
    (about an hour of one core: measured 7e6/s individual, 3e6/s des on telecom)."""
    count_steps: float = 5e9
    """Most run x strategy x period x group steps of a counts-mode request (about an hour of
    one core: measured 1.3e6 steps/s on telecom)."""
    points: int = 1_000_000
    """Most experiment points of a sweep (grid points x uncertainty samples)."""
    evaluations: int = 1_000_000
    """Most model evaluations of a sensitivity analysis or an optimisation."""
    trace_customers: int = 10_000
    """Most customers whose journeys ``clmsim trace`` prints."""

    def scaled(self, factor: float) -> "Limits":
        return replace(self, **{f.name: type(getattr(self, f.name))(getattr(self, f.name) * factor)
                                for f in fields(self)})


DEFAULT = Limits()
_override: contextvars.ContextVar[Limits | None] = contextvars.ContextVar("clmsim_limits", default=None)


class LimitExceeded(ClmsimError):
    """A request beyond a resource limit: ``what`` (the input), ``estimate``, ``limit``."""

    def __init__(self, what: str, estimate: str, limit: str, hint: str = ""):
        self.what = what
        super().__init__(f"{what}: {estimate} exceeds the limit of {limit}"
                         + (f"; {hint}" if hint else "") + f" ({ALLOW_HINT})")


def _from_env() -> Limits:
    lim = DEFAULT
    if os.environ.get("CLMSIM_ALLOW_LARGE", "").strip() not in ("", "0"):
        lim = lim.scaled(ALLOW_LARGE_FACTOR)
    spec = os.environ.get("CLMSIM_LIMITS", "").strip()
    if spec:
        names = {f.name: f for f in fields(Limits)}
        changes = {}
        for item in spec.split(","):
            key, _, val = item.partition("=")
            key = key.strip()
            if key not in names:
                raise ClmsimError(f"CLMSIM_LIMITS: unknown limit {key!r}; known: {', '.join(names)}")
            try:
                num = float(val)
            except ValueError:
                raise ClmsimError(f"CLMSIM_LIMITS: {key} must be a number, got {val.strip()!r}") from None
            if not math.isfinite(num) or num <= 0:
                raise ClmsimError(f"CLMSIM_LIMITS: {key} must be a positive finite number, got {val.strip()!r}")
            changes[key] = type(getattr(DEFAULT, key))(num)
        lim = replace(lim, **changes)
    return lim


def current() -> Limits:
    """The limits in force: :func:`raised` inside its block, else the defaults as changed by
    ``CLMSIM_ALLOW_LARGE`` / ``CLMSIM_LIMITS``."""
    return _override.get() or _from_env()


@contextlib.contextmanager
def raised(factor: float = ALLOW_LARGE_FACTOR) -> Iterator[Limits]:
    """Limits multiplied by ``factor`` inside the block (what ``--allow-large`` does)."""
    token = _override.set(_from_env().scaled(factor))
    try:
        yield _override.get()
    finally:
        _override.reset(token)


# ------------------------------------------------------------------ formatting
def count(x: float) -> str:
    """``1.2e+12`` style for big numbers, digits with separators for small ones."""
    if not math.isfinite(x):
        return "unbounded"
    return f"{x:,.0f}" if abs(x) < 1e7 else f"{x:.3g}"


def nbytes(x: float) -> str:
    if not math.isfinite(x):
        return "unbounded memory"
    for unit in ("bytes", "KiB", "MiB", "GiB", "TiB", "PiB"):
        if x < 1024 or unit == "PiB":
            return f"{x:,.0f} bytes" if unit == "bytes" else f"{x:,.1f} {unit}"
        x /= 1024
    return f"{x:.3g} EiB"  # pragma: no cover


def check(what: str, value: float, limit: float, unit: str = "", hint: str = "") -> None:
    """Refuse ``value > limit`` (or a non-finite value) with a message naming ``what``."""
    if not math.isfinite(value) or value > limit:
        fmt = nbytes if unit == "bytes" else count
        u = f" {unit}" if unit and unit != "bytes" else ""
        raise LimitExceeded(what, f"{fmt(value)}{u}", f"{fmt(limit)}{u}", hint)


# ------------------------------------------------------------------ estimates
def expected_customers(model) -> float:
    """Customers a model's run handles: initial population plus expected acquisitions over
    the horizon (channels, and referrals through the expected stage counts under the
    scenario's transition rows). ``inf`` when the population grows beyond float range."""
    import hashlib

    import numpy as np

    ref = model.referral
    parts = [model.initial, model.regime_arrays()[0], model.regime_of(), np.array([model.horizon])] + [
        np.asarray(ch.expected_customers(ch.spend)) for ch in model.channels]
    if ref is not None:
        parts += [ref.rate, ref.mix, np.array([ref.entry_stage])]
    key = hashlib.sha1(b"".join(np.ascontiguousarray(p, dtype=float).tobytes() for p in parts)).hexdigest()
    if key not in _CUSTOMERS:
        if len(_CUSTOMERS) > 64:
            _CUSTOMERS.clear()
        _CUSTOMERS[key] = _expected_customers(model)
    return _CUSTOMERS[key]


_CUSTOMERS: dict[str, float] = {}


def _expected_customers(model) -> float:
    import numpy as np

    with np.errstate(all="ignore"):
        total = float(np.sum(model.initial))
        chan = np.zeros((model.horizon, model.n_segments, model.n_stages))
        for ch in model.channels:
            per = np.asarray(ch.expected_customers(ch.spend), dtype=float)
            total += float(per.sum())
            chan[:, :, ch.entry_stage] += np.outer(per, ch.mix)
        ref = model.referral
        if ref is None or not np.any(ref.rate > 0):
            return total if math.isfinite(total) else math.inf
        x = np.asarray(model.initial, dtype=float)[:, None, :].copy()   # (G, 1, S)
        P_r = np.asarray(model.regime_arrays()[0], dtype=float)   # (regimes, G, S, S)
        regime = model.regime_of()
        rate, mix, entry = ref.rate, ref.mix, ref.entry_stage
        for t in range(model.horizon):
            P = P_r[regime[t]]
            born = float((x[:, 0, :] @ rate).sum())
            total += born
            if not math.isfinite(total) or total > 1e300:
                return math.inf
            x = np.matmul(x, P)
            x[:, 0, :] += chan[t]
            x[:, 0, entry] += born * mix
    return total if math.isfinite(total) else math.inf


def analytic_size(model, nodes: int | None = None) -> tuple[int, int, int]:
    """``(Q, E, R)`` of the analytic engine on ``model``, estimated without building it: mixture
    nodes per segment (pieces x nodes per piece, with the engine's default of
    ``max(16, (H + 2) // 2)`` nodes per piece under heterogeneity), expanded states (stages,
    churn ages, concession states) and regimes (distinct program spends and coverages)."""
    import numpy as np

    H = model.horizon
    het = any(h.kind != "none" for h in model.heterogeneity)
    ok = isinstance(nodes, int) and not isinstance(nodes, bool) and nodes > 0
    per_piece = nodes if ok else max(16, (H + 2) // 2)
    Q = per_piece * 40 if het else 1
    max_age = max((w.max_age for w in model.winbacks), default=0)
    churned = int(np.sum(np.asarray(model.stage_kind) == 2))
    active = int(np.sum(np.asarray(model.stage_kind) == 1))
    conc = sum(w.concession_periods for w in model.winbacks if w.discount > 0)
    E = model.n_stages + churned * max_age + active * conc
    cols = [p.spend for p in model.programs] + [w.coverage for w in model.winbacks]
    R = len(np.unique(np.stack(cols, axis=1), axis=0)) if cols else 1
    return Q, E, R


MAX_BETA_CONCENTRATION = 1000.0
"""Largest alpha + beta of a Beta churn draw the analytic engine integrates (beyond it the Gauss-
Jacobi weights underflow). An engine bound, not a limit: ``--allow-large`` does not lift it."""


def _beta_bound(models, who: str, use: str) -> None:
    """Refuse Beta churn draws tighter than :data:`MAX_BETA_CONCENTRATION` for quadrature-based
    engines (the analytic engine; counts mode's Gauss classes)."""
    for m in models:
        for g, h in zip(m.segment_names, m.heterogeneity):
            if h.kind == "beta" and h.alpha + h.beta > MAX_BETA_CONCENTRATION:
                mean = h.alpha / (h.alpha + h.beta)
                sd = math.sqrt(mean * (1 - mean) / (h.alpha + h.beta + 1))
                raise ClmsimError(f"{who} integrates Beta churn draws with alpha + beta up to "
                                  f"{MAX_BETA_CONCENTRATION:g}; segment '{g}' has {h.alpha + h.beta:g} (a draw "
                                  f"this tight, mean {mean:.4g} and sd {sd:.2g}, is nearly constant): use {use}, "
                                  "or a constant churn probability")


def check_analytic(models, nodes: int | None = None, what: str = "analytic engine",
                   repeat: int = 1, lim: Limits | None = None) -> float:
    """Refuse an analytic evaluation whose arrays would exceed the memory limit; returns the
    estimate in bytes (arrays over periods x mixture nodes x expanded states, and the
    transition matrices per regime)."""
    lim = lim or current()
    _beta_bound(models, "the analytic engine", "the des engine, the fast engine's individual mode")
    worst, m0 = 0.0, None
    for m in models:
        Q, E, R = analytic_size(m, nodes)
        size = 8.0 * m.n_segments * Q * E * (3.0 * m.horizon + R * E)
        if size > worst:
            worst, m0 = size, (m, Q, E, R)
    if m0 is not None:
        m, Q, E, R = m0
        check(f"{what} (periods {m.horizon} x mixture nodes ~{count(Q)} x states {E}"
              + (f" x regimes {R}" if R > 1 else "") + ")", worst, lim.memory_bytes, "bytes",
              "a shorter horizon" + (", or fewer quadrature nodes (--option nodes=16)" if Q > 1 else ""))
    return worst


def _groups(models, options: dict) -> int:
    """Segments x heterogeneity classes of the counts mode (an upper estimate)."""
    het = any(h.kind != "none" for m in models for h in m.heterogeneity)
    given = options.get("het_nodes")
    nodes = given if isinstance(given, int) and not isinstance(given, bool) and 0 < given <= 200 else 24
    nodes = nodes if het else 1
    return max(m.n_segments for m in models) * (nodes if het else 1)


def _per_run_bytes(models, options: dict, engine: str) -> float:
    """Bytes a Monte Carlo engine keeps per run: occupancy and flows over periods (each
    strategy's), the per-run totals and the statistics over runs."""
    m = models[0]
    H, S, C = m.horizon, m.n_stages, len(m.channels)
    per_strategy = 8.0 * ((H + 1) * S + H * 12 + C + 8)
    return len(models) * (3 * per_strategy + 8.0 * (30 + 2 * C))


_ROW_BYTES = 8.0 * 40
"""Bytes of one row of a per-run table (about 30 columns, with pandas overhead)."""


def check_simulation(models: Sequence, engine: str, runs: int, mode: str | None = None,
                     options: dict | None = None, what: str = "this request",
                     repeat: int = 1, memory_runs: int | None = None, table_runs: int | None = None,
                     lim: Limits | None = None) -> dict:
    """Estimate and check one engine call (``repeat`` times, e.g. a study's evaluations;
    ``memory_runs``: runs computed in memory at once, default ``runs``; ``table_runs``: rows
    per strategy of the per-run table kept, default ``runs x repeat``).

    Returns the estimates (``customers``, ``work``, ``work_kind``, ``memory_bytes``).
    Raises :class:`LimitExceeded` naming the input behind the biggest factor.
    """
    lim = lim or current()
    options = dict(options or {})
    models = list(models)
    if not models:
        return {}
    k = len(models)
    H = models[0].horizon
    customers = max(expected_customers(m) for m in models)
    out = {"customers": customers}
    if engine == "analytic":
        out["memory_bytes"] = check_analytic(models, options.get("nodes"), what, repeat=repeat, lim=lim)
        return out
    mode = mode or options.get("mode") or "auto"
    per_customer = engine == "des" or (engine == "fast" and mode == "individual")
    if per_customer:
        work = float(runs) * k * customers * H * repeat
        out.update(work=work, work_kind="customer_periods")
        check(f"{what} ({engine}{' individual' if engine == 'fast' else ''}: runs {count(runs)} x strategies "
              f"{k} x customers {count(customers)} x periods {H}"
              + (f" x evaluations {count(repeat)}" if repeat > 1 else "") + ")",
              work, lim.customer_periods, "customer-periods",
              "fewer runs, a smaller population or horizon, or --mode counts (its cost does not grow "
              "with the population)" if engine == "fast" else "fewer runs, a smaller population or horizon")
        live = customers * (400.0 if engine == "des" else 48.0)
    else:
        _beta_bound(models, "the fast engine's counts mode", "mode individual or the des engine")
        groups = _groups(models, options)
        work = float(runs) * k * H * groups * repeat
        out.update(work=work, work_kind="count_steps")
        check(f"{what} (counts mode: runs {count(runs)} x strategies {k} x periods {H} x groups {groups}"
              + (f" x evaluations {count(repeat)}" if repeat > 1 else "") + ")",
              work, lim.count_steps, "steps", "fewer runs or a shorter horizon")
        live = 0.0
    held = runs if memory_runs is None else memory_runs
    rows = float(runs) * repeat if table_runs is None else float(table_runs)
    memory = float(held) * _per_run_bytes(models, options, engine) + min(live, 1e30) + rows * k * _ROW_BYTES
    out["memory_bytes"] = memory
    check(f"{what} (memory of {count(held)} runs x {k} strategies x {H} periods"
          + (f", {count(customers)} customers held at once" if live else "") + ")",
          memory, lim.memory_bytes, "bytes", "fewer runs (results of many runs: a sweep writes them in chunks)")
    return out
