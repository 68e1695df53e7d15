"""Lazy public names for packages: import a name's module only when the name is first used.

Keeps ``import perfmodel`` (and its sub-packages) fast: statsmodels, matplotlib and
the rest load only when a function that needs them is touched (PEP 562).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any


def lazy_exports(
    package: str,
    exports: Mapping[str, str],
    namespace: dict[str, Any],
    fallback: Callable[[str], Any] | None = None,
    extra_names: Callable[[], set[str]] | None = None,
) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """``__getattr__`` and ``__dir__`` for a package whose names live in its modules.

    Parameters
    ----------
    package
        The package's ``__name__``.
    exports
        Public name → module (relative to ``package``) that defines it.
    namespace
        The package's ``globals()``; a name is cached there after its first use.
    fallback
        Called with a name that is not in ``exports``; returns the value or raises
        :class:`AttributeError` (default: always raises).
    extra_names
        Further names to list in ``dir()`` (e.g. sub-modules).
    """

    def __getattr__(name: str) -> Any:
        if name in exports:
            value = getattr(importlib.import_module(f"{package}.{exports[name]}"), name)
        elif fallback is not None:
            value = fallback(name)
        else:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        namespace[name] = value
        return value

    def __dir__() -> list[str]:
        return sorted({*namespace, *exports, *(extra_names() if extra_names else ())})

    return __getattr__, __dir__
