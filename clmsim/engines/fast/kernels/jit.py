"""How the kernel functions are compiled: the three decorators every kernel module uses.

* :func:`entry` -- a kernel the engine calls from Python (``simulate_individual``,
  ``simulate_counts``): cached, releases the GIL (:func:`.runtime.run_split` runs it on
  threads), and without the C-callable wrapper numba would otherwise build for it.
* :func:`helper` -- a function only other kernel functions call. numba builds no Python
  wrapper for it (the code that unboxes each argument from a Python object: on functions
  that take a dozen arrays it was about a quarter of their LLVM IR) and no C wrapper; the
  two wrappers made 14% of the IR the two kernels compile with an empty cache. Compiled for a
  kernel, it gets no machine code of its own either: the kernel links its IR
  (:mod:`.deferred_codegen`).
  Called from Python, it raises :class:`TypeError` instead of jumping to the missing wrapper
  (which would crash the interpreter); tests call one through a jitted shim.
* :func:`inlined` -- copied into each caller by numba (``inline="always"``): stream access
  inside the uniform draw, the samplers inlined into their one hot caller. Each copy is paid at
  every call site (numba copies the callee's IR and runs its untyped passes again), so a
  function called from several places is a :func:`helper`: LLVM inlines the small ones anyway
  (the uniform draw: a tenth of a cold compile), and calling the others can cost less than the
  copies (individual mode's row sampler, docs/engines.md "Less to compile").

Every one uses ``error_model="numpy"`` (a division by zero gives inf or nan, no exception
check on the hot path) and ``cache=True`` (:mod:`.cache` says where and when it is stale).
``NUMBA_DISABLE_JIT=1`` leaves every function plain Python.
"""

from __future__ import annotations

from numba import config, njit
from numba.core.registry import CPUDispatcher

ERROR_MODEL = "numpy"
"""numba's error model of every kernel function."""

entry = njit(cache=True, nogil=True, error_model=ERROR_MODEL, no_cfunc_wrapper=True)
"""Decorator of a kernel called from Python (module docstring)."""

inlined = njit(cache=True, inline="always", error_model=ERROR_MODEL)
"""Decorator of a function numba inlines into every caller."""


class JitOnlyDispatcher(CPUDispatcher):
    """A numba dispatcher compiled without the Python and C wrappers: callable from jitted
    code only. A call from Python raises instead of calling a wrapper that does not exist."""

    def __call__(self, *args, **kwargs):
        raise TypeError(f"{self.py_func.__module__}.{self.py_func.__qualname__} is compiled for "
                        "calls from jitted code only (no Python wrapper); call it from an @njit function")


def helper(fn):
    """Decorator of a function only kernel functions call (module docstring): what ``njit``
    builds, as a :class:`JitOnlyDispatcher` without the two wrappers, cached."""
    if config.DISABLE_JIT:
        return fn
    dispatcher = JitOnlyDispatcher(fn, targetoptions={"nopython": True, "error_model": ERROR_MODEL,
                                                      "no_cpython_wrapper": True, "no_cfunc_wrapper": True})
    dispatcher.enable_caching()
    return dispatcher
