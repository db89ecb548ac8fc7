"""Machine code only for code that runs: a kernel's compile skips its helpers' own machine code.

numba compiles every jitted function into a *code library* and, when the library is
finalized, optimises it and generates its machine code. A kernel calls its helpers (and
numba's own overloads: ``np.zeros``, ``max``, ...) by linking their optimised LLVM IR into
its own module and optimising the whole again, so the machine code each helper library got
of its own is never executed: nothing calls a helper from Python (:func:`.jit.helper`
builds it without a Python wrapper). On a cold compile of either kernel that machine code
was 5-7% of the CPU (docs/engines.md, "No machine code for what only a kernel calls").

:func:`deferring` is the context in which :func:`.runtime.compile_once` compiles a kernel.
A library finalized inside it keeps everything numba does *except* the machine code, which
is generated the first time anything asks for it:

* a pointer to a function the library defines (``get_pointer_to_function``: the kernel's
  Python wrapper, a ``cfunc``; a helper has no wrapper, so numba's request for one returns
  0 as it always did). numba then stores the address of the function's *environment* in a
  global of the machine code; for a library without machine code that global does not exist
  yet, and the store waits until the library gets some;
* its object code (``_get_compiled_object``: inspection of its machine code).

numba's cache stores a library as object code plus linkable IR; a library whose machine code
was never generated is stored as its linkable IR ("bitcode", a form numba's cache reads back:
a helper loaded from it is linked into the next kernel like any other). The kernel itself
gets its machine code as before, when numba asks for its wrapper, and is cached as object code.

Untouched: libraries finalized outside :func:`deferring` (anything compiled by other code
in the process), libraries loaded from object code, and every library while numba's
``NUMBA_DUMP_OPTIMIZED`` or ``NUMBA_DUMP_ASSEMBLY`` is on. The methods replaced are private
to numba. They were read in numba 0.59, 0.60 and 0.68, where they are identical, so the
deferral is installed for the versions from 0.59 to 0.68 and only when every method is
present (:func:`supported`); with any other numba a kernel compiles as numba does by
default, only slower.
"""

from __future__ import annotations

import threading
import weakref
from contextlib import contextmanager

import numba
from numba.core import codegen as _codegen
from numba.core import config as _config
from numba.core import cpu as _cpu

try:
    from numba._dynfunc import make_function as _make_function
except ImportError:  # pragma: no cover - a numba without it: supported() is False
    _make_function = None

CHECKED_VERSIONS = ((0, 59), (0, 68))
"""The numba versions (major, minor), inclusive, whose code library the replaced methods were read from."""
_STATE = threading.local()
_PENDING_ENVS: dict = {}
"""Environments (by global name) numba set while their library had no machine code: set when it gets some."""
_PATCHED = (
    (_codegen.CPUCodeLibrary, ("_finalize_final_module", "_finalize_dynamic_globals",
                               "_verify_declare_only_symbols", "serialize_using_object_code",
                               "_get_compiled_object", "_get_module_for_linking", "_ensure_finalized")),
    (_codegen.JITCodeLibrary, ("get_pointer_to_function", "_finalize_specific")),
    (_cpu.CPUContext, ("get_executable", "get_env_name")),
    (_codegen.JITCPUCodegen, ("set_env", "_add_module")),
)


def supported(version: str = numba.__version__) -> bool:
    """Whether the deferral can be installed on this numba: a version of :data:`CHECKED_VERSIONS`
    that has every method the deferral replaces or calls."""
    try:
        major_minor = tuple(int(x) for x in version.split(".")[:2])
    except ValueError:
        return False
    return (CHECKED_VERSIONS[0] <= major_minor <= CHECKED_VERSIONS[1] and _make_function is not None
            and all(hasattr(cls, name) for cls, names in _PATCHED for name in names))


@contextmanager
def deferring():
    """Libraries finalized in this thread inside the block defer their machine code (module
    docstring). Re-entrant."""
    depth = getattr(_STATE, "depth", 0)
    _STATE.depth = depth + 1
    try:
        yield
    finally:
        _STATE.depth = depth


def is_deferred(library) -> bool:
    """Whether ``library``'s machine code has not been generated (it was deferred and nothing
    asked for it yet)."""
    return library.__dict__.get("_clmsim_deferred", False)


def _defines(library, name: str) -> bool:
    try:
        fn = library._final_module.get_function(name)
    except NameError:
        return False
    return not fn.is_declaration


def _materialize(library) -> None:
    """Generate the deferred machine code now: what numba's finalization would have done."""
    if not library.__dict__.pop("_clmsim_deferred", False):
        return
    cleanup = library._codegen._add_module(library._final_module)
    if cleanup:
        weakref.finalize(library, cleanup)
    library._finalize_specific()
    for env_name in [n for n in _PENDING_ENVS if library._codegen._engine.get_global_value_address(n)]:
        library._codegen.set_env(env_name, _PENDING_ENVS.pop(env_name))


def _install() -> None:
    lib_cls, jit_cls, ctx_cls = _codegen.CPUCodeLibrary, _codegen.JITCodeLibrary, _cpu.CPUContext
    finalize_final_module = lib_cls._finalize_final_module
    serialize = lib_cls.serialize_using_object_code
    compiled_object = lib_cls._get_compiled_object
    pointer_to_function = jit_cls.get_pointer_to_function
    get_executable = ctx_cls.get_executable
    cg_cls = _codegen.JITCPUCodegen
    codegen_set_env = cg_cls.set_env

    def _finalize_final_module(self):
        if (getattr(_STATE, "depth", 0) == 0 or getattr(self, "_compiled_object", None) is not None
                or _config.DUMP_OPTIMIZED or _config.DUMP_ASSEMBLY):
            # outside a kernel compile, loaded as object code, or numba asked to print it all
            return finalize_final_module(self)
        # numba's _finalize_final_module without adding the module to the engine (its machine code)
        self._finalize_dynamic_globals()
        self._verify_declare_only_symbols()
        setattr(self._final_module, "_CPUCodeLibrary__library", weakref.proxy(self))   # numba's object hooks
        self.__dict__["_clmsim_deferred"] = True
        self._finalized = True

    def get_pointer_to_function(self, name):
        self._ensure_finalized()
        if is_deferred(self):
            if not _defines(self, name):
                return 0                                 # as numba answers for a symbol nobody defined
            _materialize(self)
        return pointer_to_function(self, name)

    def serialize_using_object_code(self):
        if is_deferred(self):                            # no object code: cache the linkable IR
            return (self.name, "bitcode", self._get_module_for_linking().as_bitcode())
        return serialize(self)

    def _get_compiled_object(self):
        _materialize(self)
        return compiled_object(self)

    def executable(self, library, fndesc, env):
        library._ensure_finalized()
        if is_deferred(library) and not _defines(library, fndesc.llvm_cpython_wrapper_name):
            # numba's get_executable with the null wrapper pointer it would get
            cfunc = _make_function(fndesc.lookup_module(), fndesc.qualname.split(".")[-1],
                                   f"compiled wrapper for {fndesc.qualname!r}", 0, env, (library,))
            library.codegen.set_env(self.get_env_name(fndesc), env)
            return cfunc
        return get_executable(self, library, fndesc, env)

    def set_env(self, env_name, env):
        if not self._engine.get_global_value_address(env_name):
            _PENDING_ENVS[env_name] = env                # its library has no machine code yet
            return
        return codegen_set_env(self, env_name, env)

    lib_cls._finalize_final_module = _finalize_final_module
    cg_cls.set_env = set_env
    lib_cls.serialize_using_object_code = serialize_using_object_code
    lib_cls._get_compiled_object = _get_compiled_object
    jit_cls.get_pointer_to_function = get_pointer_to_function
    ctx_cls.get_executable = executable


INSTALLED = supported()
"""Whether the deferral is installed (at import, once; :func:`supported`)."""
if INSTALLED:
    _install()
