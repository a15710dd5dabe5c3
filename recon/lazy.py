"""Lazy exports for package ``__init__`` modules: a name is imported when it is first used.

``import recon.money`` must not load SQLAlchemy, Alembic, bcrypt or openpyxl, and ``recon --help`` must
not load a database driver; so packages list what they export and where it lives instead of importing
it all up front (PEP 562 module ``__getattr__``).
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any

Getattr = Callable[[str], Any]


def exports(namespace: dict[str, Any], table: Mapping[str, str]) -> tuple[Getattr, Callable[[], list[str]]]:
    """``(__getattr__, __dir__)`` for a package whose ``namespace`` (its ``globals()``) exports each name
    of ``table`` from the module it maps to. A name is imported once, then kept in the namespace."""

    def __getattr__(name: str) -> Any:  # noqa: N807 (PEP 562 names it so)
        module = table.get(name)
        if module is None:
            raise AttributeError(f"module {namespace['__name__']!r} has no attribute {name!r}")
        value = getattr(importlib.import_module(module), name)
        namespace[name] = value
        return value

    def __dir__() -> list[str]:  # noqa: N807
        return sorted({*namespace, *table})

    return __getattr__, __dir__
