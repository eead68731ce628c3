"""Each package's public surface is its `__all__`, nothing more and nothing less (ruff's RUF022
keeps it sorted).

A name imported into a package's `__init__` without being listed, or listed without being there,
fails here; so does a module-level helper that leaks out. Sub-packages and private modules are
attributes of their parent once imported, and are not part of the surface.
"""

from __future__ import annotations

import importlib
import types

import pytest

PACKAGES = [
    "schemas",
    "ingest",
    "processors",
    "processors.api",
    "processors.board",
    "processors.clickhouse",
    "processors.cli",
    "processors.kpi",
    "processors.okr",
    "processors.runtime",
    "processors.sink",
    "processors.store",
]


@pytest.mark.parametrize("name", PACKAGES)
def test_all_is_exactly_the_public_members(name: str) -> None:
    package = importlib.import_module(name)
    for member in package.__all__:  # a package that imports its names on first use (PEP 562) has them now
        getattr(package, member, None)
    public = {
        member
        for member, value in vars(package).items()
        if not member.startswith("_") and not isinstance(value, types.ModuleType) and member != "annotations"
    }
    assert sorted(package.__all__) == sorted(public)


@pytest.mark.parametrize("name", PACKAGES)
def test_every_listed_name_is_defined_in_the_package(name: str) -> None:
    package = importlib.import_module(name)
    missing = [member for member in package.__all__ if not hasattr(package, member)]
    assert missing == []
