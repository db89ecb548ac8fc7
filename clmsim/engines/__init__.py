"""The engines behind one contract, and the one registry of them.

Three engines evaluate the same compiled model (:mod:`clmsim.model`):

* ``analytic`` (:mod:`clmsim.engines.analytic`): exact expectations;
* ``fast`` (:mod:`clmsim.engines.fast`): numba Monte Carlo, individual or counts mode;
* ``des`` (:mod:`clmsim.engines.des`): discrete-event simulation on simpy (operations,
  event logs).

The contract
------------
An engine is a module (or any object) with

``NAME`` : str
    Its name in :data:`ENGINES`.
``CAPABILITIES`` : :class:`Capabilities`
    What it can do, declared here in the registry: callers (the runner of
    :mod:`clmsim.analysis.runner`, the CLI, the experiment schema) read these flags and
    never inspect signatures.
``simulate(models, *, runs, seed, **options) -> Results``
    Every strategy in ``models`` on the same random inputs (common random numbers). With
    ``first_run`` declared, ``simulate(models, runs=n, seed=s, first_run=r0)`` returns exactly
    the rows ``r0 .. r0 + n - 1`` (numbered so) of ``simulate(models, runs=r0 + n, seed=s)``.
    With ``modes`` declared, the ``mode`` option takes one of them. Options the engine does
    not know raise :class:`~clmsim.errors.ClmsimError`.
``pin_options(models, options) -> dict``
    The options with everything the engine would choose per call fixed once on ``models``
    (e.g. the fast engine's automatic class count), so every point and chunk of a study
    uses the same ones.

Importing this package imports no engine (the registry is data); :func:`load` imports one
when it is asked for.
"""

from __future__ import annotations

import importlib
import importlib.util
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol, Sequence, runtime_checkable

from ..errors import ClmsimError

POOL_WORKER_ENV = "CLMSIM_POOL_WORKER"
"""Environment variable set to 1 in the worker processes clmsim starts for a study
(:mod:`clmsim.analysis.backends`): an engine keeps quiet there about what a sibling worker
already says on the same terminal (the fast engine: waiting for a sibling's kernel compile)."""

if TYPE_CHECKING:  # pragma: no cover
    from ..model import CompiledModel
    from ..results import Results


@dataclass(frozen=True)
class Capabilities:
    """What an engine declares it can do.

    Attributes
    ----------
    monte_carlo : bool
        It samples ``runs`` runs (rows ``run = 0, 1, ...``); False: it returns exact
        expectations (one ``run = -1`` row per strategy) and ignores ``runs`` and ``seed``.
    first_run : bool
        ``simulate`` takes ``first_run=r0`` and returns rows ``r0 ..`` of the one-call
        result (chunks, resumed sweeps, ``compare(seed=s)`` equal to ``simulate(seed=s)``).
    modes : tuple of str
        Values of its ``mode`` option, default first (empty: no ``mode`` option).
    operations : bool
        It simulates a scenario's ``operations`` block (agent pools, budget calendars,
        response delays); the others refuse such models.
    event_log : bool
        ``simulate(..., trace_runs=[...])`` fills ``Results.events``.
    quantiles : bool
        ``simulate`` takes ``quantiles=False`` to skip the per-period quantiles across runs
        (callers that pool several calls, whose quantiles cannot be combined).
    """

    monte_carlo: bool
    first_run: bool = False
    modes: tuple[str, ...] = ()
    operations: bool = False
    event_log: bool = False
    quantiles: bool = False


@dataclass(frozen=True)
class EngineSpec:
    """One entry of the registry: name, module, one-line summary and capabilities."""

    name: str
    module: str
    summary: str
    capabilities: Capabilities


ENGINES: dict[str, EngineSpec] = {spec.name: spec for spec in (
    EngineSpec("analytic", "clmsim.engines.analytic", "exact expectations of the Markov reward process",
               Capabilities(monte_carlo=False)),
    EngineSpec("fast", "clmsim.engines.fast", "numba Monte Carlo, per customer or on stage counts",
               Capabilities(monte_carlo=True, first_run=True, modes=("auto", "individual", "counts"),
                            quantiles=True)),
    EngineSpec("des", "clmsim.engines.des", "discrete-event simulation on simpy: operations, event logs",
               Capabilities(monte_carlo=True, first_run=True, operations=True, event_log=True,
                            quantiles=True)),
)}
"""The registry: engine name -> :class:`EngineSpec` (a closed list: no module paths from user input)."""

ENGINE_NAMES: tuple[str, ...] = tuple(ENGINES)
"""Engine names in registry order (the CLI's choices, the experiment schema's literal)."""


@runtime_checkable
class Engine(Protocol):
    """The engine contract (see the module docstring); engine packages satisfy it as modules."""

    NAME: str
    CAPABILITIES: Capabilities

    def simulate(self, models: Sequence[CompiledModel], *, runs: int, seed: int | None,
                 **options: Any) -> Results: ...

    def pin_options(self, models: Sequence[CompiledModel], options: dict) -> dict: ...


def spec(name: str) -> EngineSpec:
    """The registry entry of ``name``; :class:`ClmsimError` naming the engines when unknown."""
    try:
        return ENGINES[name]
    except (KeyError, TypeError):
        raise ClmsimError(f"unknown engine {name!r}; available: {', '.join(ENGINE_NAMES)}") from None


def load(name: str) -> Engine:
    """Import the engine ``name`` (its package satisfies :class:`Engine`).

    Raises
    ------
    ClmsimError
        Unknown engine, or an engine whose package is not available in this installation.
    """
    entry = spec(name)
    try:
        return importlib.import_module(entry.module)
    except ModuleNotFoundError as exc:
        if exc.name != entry.module:
            raise
        have = [n for n, e in ENGINES.items() if n != name and importlib.util.find_spec(e.module) is not None]
        raise ClmsimError(f"the {name} engine is not available in this installation; "
                          f"available: {', '.join(have) or 'none'}") from None


def resolve(engine: str | Engine) -> Engine:
    """The engine for a registry name, or ``engine`` itself when it satisfies the contract
    (tests drive the analysis layer with engines whose answers are known)."""
    if isinstance(engine, str):
        return load(engine)
    if not isinstance(engine, Engine) or not isinstance(engine.CAPABILITIES, Capabilities):
        missing = [a for a in ("NAME", "CAPABILITIES", "simulate", "pin_options") if not hasattr(engine, a)]
        raise ClmsimError(f"{engine!r} does not satisfy the engine contract (clmsim.engines.Engine)"
                          + (f": missing {', '.join(missing)}" if missing else ""))
    return engine


def capabilities(engine: str | Engine) -> Capabilities:
    """Declared capabilities of an engine given by name (no import) or object."""
    return spec(engine).capabilities if isinstance(engine, str) else resolve(engine).CAPABILITIES


def engine_name(engine: str | Engine) -> str:
    """Name of an engine given by name or object."""
    return spec(engine).name if isinstance(engine, str) else resolve(engine).NAME
