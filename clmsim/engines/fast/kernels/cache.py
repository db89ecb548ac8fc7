"""Where the kernels' compiled code is cached, and when it is stale.

numba's ``cache=True`` keys a function's cache on its own source file and bytecode. A
kernel inlines or links functions of other modules (the samplers, the counter-based
draws, the bare and het paths) and freezes module constants (stream ids, flow items),
so an edit there would leave a stale kernel in the cache. This module registers a cache
locator for every function of :mod:`clmsim.engines.fast.kernels` whose *source stamp*
is :data:`SOURCES_SHA256`, the SHA-256 of every module compiled into the kernels (this
package and :mod:`clmsim.engines.fast.bundle`), computed at import: an edit of any of
them makes every kernel's cache index stale, and numba recompiles (and overwrites it).
Nothing is recorded by hand.

Build variants: compiled code depends on :data:`SAFE_VIEWS` (``CLMSIM_SAFE_VIEWS=1``
makes :func:`clmsim.engines.fast.kernels.samplers.unowned` an identity), so each variant
is cached in its own subdirectory (:data:`VARIANT`) and one is never served for the
other. (``CLMSIM_FAST_PATHS`` is a run-time argument of the kernel, not a build variant.)

The locator is registered when the kernels package is imported, before any kernel is
decorated. It takes the place numba's own locators would (``NUMBA_CACHE_DIR`` if set,
else ``__pycache__`` beside the source, else the user-wide cache directory); setting
``NUMBA_CACHE_LOCATOR_CLASSES`` replaces it and with it this guard.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from numba.core import caching as _caching

PACKAGE = Path(__file__).resolve().parent
SOURCES = tuple(sorted(PACKAGE.glob("*.py"))) + (PACKAGE.parent / "bundle.py",)
"""Modules whose code or constants the kernels are compiled from."""


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no", "off")


SAFE_VIEWS = _flag("CLMSIM_SAFE_VIEWS")
"""``CLMSIM_SAFE_VIEWS=1``: ``unowned`` views are ordinary (reference-counted) arrays. Read once, at import."""
VARIANT = "safe-views" if SAFE_VIEWS else "default"
"""Build variant: the cache subdirectory of this process's kernels."""


def sources_sha256(paths=SOURCES) -> str:
    """SHA-256 over the names and contents of ``paths`` (in order)."""
    h = hashlib.sha256()
    for p in paths:
        h.update(Path(p).name.encode())
        h.update(b"\0")
        h.update(Path(p).read_bytes())
    return h.hexdigest()


SOURCES_SHA256 = sources_sha256()
"""The kernels' source stamp, computed at import (module docstring)."""


def _is_kernel_source(py_file: str) -> bool:
    try:
        return Path(py_file).resolve().parent == PACKAGE
    except OSError:
        return False


class _KernelLocator:
    """Mixin over a numba locator: the source stamp is :data:`SOURCES_SHA256` and the cache
    path gains the :data:`VARIANT` subdirectory."""

    def get_source_stamp(self):
        return ("clmsim-kernels", SOURCES_SHA256, VARIANT)

    def get_cache_path(self):
        return os.path.join(super().get_cache_path(), "clmsim-" + VARIANT)

    @classmethod
    def from_function(cls, py_func, py_file):
        if not _is_kernel_source(py_file):
            return None
        return super().from_function(py_func, py_file)


def _locator(base_name: str, fallback: str):
    base = getattr(_caching, base_name, None) or getattr(_caching, fallback)
    return type("Kernel" + base.__name__.lstrip("_"), (_KernelLocator, base), {"__module__": __name__})


LOCATORS = tuple(_locator(*names) for names in (("UserProvidedCacheLocator", "_UserProvidedCacheLocator"),
                                                ("InTreeCacheLocator", "_InTreeCacheLocator"),
                                                ("UserWideCacheLocator", "_UserWideCacheLocator")))
"""The kernel locators, in numba's own order of preference."""


def register() -> None:
    """Put :data:`LOCATORS` first in numba's locator list (idempotent)."""
    impl = getattr(_caching, "CacheImpl", None) or getattr(_caching, "_CacheImpl")
    current = [c for c in impl._locator_classes if c not in LOCATORS]
    impl._locator_classes[:] = list(LOCATORS) + current


def locator_of(dispatcher):
    """The cache locator numba chose for a jitted function (None when it is not cached)."""
    cache = getattr(dispatcher, "_cache", None)
    impl = getattr(cache, "_impl", None)
    return getattr(impl, "locator", None)
