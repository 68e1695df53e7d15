"""Lazy public names for packages, declared once: in the package's ``__init__.pyi`` stub.

A package's public names are the ``from .module import name as name`` lines of
its ``__init__.pyi`` (the Scientific Python SPEC 1 layout). Type checkers and
IDEs read the stub; at run time :func:`lazy_loader.attach_stub` reads the same
stub, so ``__all__`` comes from it and a name's module is imported only when the
name is first used (PEP 562). That keeps ``import perfmodel`` (and its
sub-packages) fast: pandas, statsmodels, matplotlib and the rest load only when
a function that needs them is touched.

To export a name, add (or move) its line in the stub; nothing else lists it.
"""

from __future__ import annotations

import importlib
import pkgutil
import sys
from collections.abc import Callable
from typing import Any

import lazy_loader


def attach_stub(
    package: str, file: str, *, submodules: bool = False
) -> tuple[Callable[[str], Any], Callable[[], list[str]], list[str]]:
    """``__getattr__``, ``__dir__`` and ``__all__`` of a package from its ``__init__.pyi``.

    Parameters
    ----------
    package
        The package's ``__name__``.
    file
        The package's ``__file__`` (its ``__init__.py``; the stub sits beside it).
    submodules
        Also make the package's public modules and sub-packages (found on disk,
        nothing imported) attributes, imported on first access. They are listed by
        ``dir()`` but not in ``__all__``, so ``from package import *`` does not
        import them.

    Returns
    -------
    tuple
        ``(__getattr__, __dir__, __all__)`` for the package's namespace. An
        unknown name raises :class:`AttributeError` with Python's usual message.
    """
    lazy_getattr, _, names = lazy_loader.attach_stub(package, file)
    exported = frozenset(names)

    def modules() -> set[str]:
        if not submodules:
            return set()
        path = sys.modules[package].__path__
        return {m.name for m in pkgutil.iter_modules(path) if not m.name.startswith("_")}

    def __getattr__(name: str) -> Any:
        if name in exported:
            value = lazy_getattr(name)
            vars(sys.modules[package])[name] = value  # resolved once (lazy_loader < 0.6 does not cache)
            return value
        if name in modules():
            return importlib.import_module(f"{package}.{name}")
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exported, *modules()})

    return __getattr__, __dir__, list(names)


def stub_exports(file: str) -> dict[str, str]:
    """Public name → module (relative to the package) as declared in the ``__init__.pyi`` beside ``file``.

    What :func:`attach_stub` resolves names with; for tests and tools.
    """
    import ast
    from pathlib import Path

    stub = Path(file).with_suffix(".pyi")
    out: dict[str, str] = {}
    for node in ast.parse(stub.read_text(encoding="utf-8")).body:
        if isinstance(node, ast.ImportFrom) and node.level == 1 and node.module:
            out.update({alias.name: node.module for alias in node.names})
    return out
