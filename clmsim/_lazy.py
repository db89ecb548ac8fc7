"""Lazy package exports: a package names what it offers, and a name's module is imported only
when the name is first asked for (``clmsim --help`` must not pay for pydantic, pandas or scipy).

Usage in a package's ``__init__.py``::

    __getattr__, __dir__, __all__ = lazy_exports(__name__, {"sbg": ("fit_sbg", "SBGFit")})
"""

from __future__ import annotations

import importlib
import sys
from typing import Callable, Mapping, Sequence


def lazy_exports(package: str, exports: Mapping[str, Sequence[str]],
                 eager: Sequence[str] = ()) -> tuple[Callable, Callable, list[str]]:
    """Module-level ``__getattr__`` and ``__dir__`` for ``package``, and its ``__all__``.

    Parameters
    ----------
    package : str
        The package's ``__name__``.
    exports : mapping
        ``{submodule (relative to the package): names it defines}``.
    eager : sequence of str
        Names the package defines itself (listed in ``__all__`` as well).

    Returns
    -------
    (__getattr__, __dir__, __all__)
        ``__all__`` holds the public names (a leading underscore keeps a name out of it).
    """
    module_of = {name: module for module, names in exports.items() for name in names}

    def __getattr__(name: str):
        module = module_of.get(name)
        if module is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(f"{package}.{module}"), name)
        setattr(sys.modules[package], name, value)     # later lookups are plain attribute reads
        return value

    def __dir__():
        return sorted(set(vars(sys.modules[package])) | set(module_of) | set(eager))

    return __getattr__, __dir__, [*eager, *sorted(n for n in module_of if not n.startswith("_"))]
