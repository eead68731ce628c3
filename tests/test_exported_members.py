"""Each package's public surface is its `__all__`, nothing more and nothing less (ruff's RUF022
keeps it sorted).

A name imported into a package's `__init__` without being listed, or listed without being there,
fails here; so does a module-level helper that leaks out. Sub-packages and private modules are
attributes of their parent once imported, and are not part of the surface.
"""

from __future__ import annotations

import ast
import importlib
import inspect
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


# packages that import their names on first use (PEP 562), each with a `_HOMES` map
LAZY_PACKAGES = ["processors", "processors.api", "processors.runtime", "processors.store"]


def type_checking_imports(name: str) -> dict[str, str]:
    """A package's imports under `if typing.TYPE_CHECKING:`, name -> module as written."""
    tree = ast.parse(inspect.getsource(importlib.import_module(name)))
    guarded = [n for n in tree.body if isinstance(n, ast.If) and "TYPE_CHECKING" in ast.unparse(n.test)]
    return {
        alias.asname or alias.name: "." * statement.level + (statement.module or "")
        for block in guarded
        for statement in block.body
        if isinstance(statement, ast.ImportFrom)
        for alias in statement.names
    }


@pytest.mark.parametrize("name", LAZY_PACKAGES)
def test_a_lazy_package_names_the_same_home_for_type_checkers_and_at_run_time(name: str) -> None:
    """Type checkers read a lazy package's names from its `TYPE_CHECKING` imports, the run time from
    `_HOMES`: one name in two places, so a name moved in one and not the other fails here."""
    package = importlib.import_module(name)
    imports = type_checking_imports(name)
    assert imports == package._HOMES
    assert sorted(imports) == sorted(package.__all__)
