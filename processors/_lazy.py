"""Names a package imports from its modules on first use (PEP 562), not when it is imported.

A package's `__init__` that imported every module at once made each CLI command load faust, chDB
and FastAPI before it did anything (well over a second); a command now loads what it uses.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Collection, Mapping


def lazy_names(package: str, listed: Collection[str], homes: Mapping[str, str]) -> Callable[[str], object]:
    """The package's `__getattr__`: a name of `listed`, from the module `homes` gives it (relative)."""

    def __getattr__(name: str) -> object:
        home = homes.get(name) if name in listed else None
        if home is None:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        module = importlib.import_module(home, package)
        value = getattr(module, name)
        setattr(importlib.import_module(package), name, value)  # found once: a plain attribute now
        return value

    return __getattr__
