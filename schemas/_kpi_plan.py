"""What applying a KPI catalog will do, decided from fingerprints alone: pure, so --dry-run is exact."""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass

from ._errors import ConfigError, FieldError
from ._kpi import KpiCatalog, KpiDefinition


@dataclass(frozen=True)
class KpiPlan:
    created: tuple[KpiDefinition, ...]
    changed: tuple[KpiDefinition, ...]  # its numbers change: rebuilt
    relabelled: tuple[KpiDefinition, ...]  # title, description, unit or health only: recorded
    removed: tuple[str, ...]  # in force, not in the catalog, and pruned
    unchanged: tuple[str, ...]
    kept: tuple[str, ...] = ()  # in force, not in the catalog, and left in force: what pruning would remove

    @property
    def empty(self) -> bool:
        return not (self.created or self.changed or self.relabelled or self.removed)

    def summary(self) -> str:
        parts = [
            f"{label}: {', '.join(names)}"
            for label, names in (
                ("create", [k.name for k in self.created]),
                ("change and rebuild", [k.name for k in self.changed]),
                ("relabel", [k.name for k in self.relabelled]),
                ("remove", list(self.removed)),
            )
            if names
        ]
        if not parts:
            parts = [f"nothing to do: every KPI{' in the file' if self.kept else ''} is applied as defined"]
        if self.kept:
            parts.append(f"would remove with --prune: {', '.join(self.kept)}")
        return "; ".join(parts)


def plan_kpis(
    catalog: KpiCatalog,
    applied: Mapping[str, KpiDefinition],
    prune: bool = False,
    read_by: Mapping[str, Collection[str]] | None = None,
) -> KpiPlan:
    """Compare the catalog with the applied definitions.

    A change of title, description, unit or health band does not change a KPI's numbers, so it is
    recorded but rebuilds nothing; the fingerprint covers what does. A KPI in force that the
    catalog omits is removed only when pruning; else it stays in force, and must still hold
    beside the catalog (raises ConfigError naming it when it would not). `read_by` names the
    key results in force that read each KPI: pruning one of those is refused, since they would
    go on scoring with nothing to read.
    """
    created, changed, relabelled, unchanged = [], [], [], []
    for kpi in catalog.ordered():
        before = applied.get(kpi.name)
        if before is None:
            created.append(kpi)
        elif before.fingerprint() != kpi.fingerprint():
            changed.append(kpi)
        elif before != kpi:
            relabelled.append(kpi)
        else:
            unchanged.append(kpi.name)
    omitted = tuple(sorted(set(applied) - set(catalog.kpis)))
    removed, kept = (omitted, ()) if prune else ((), omitted)
    problems = catalog.problems_beside({name: applied[name] for name in kept})
    readers = read_by or {}
    problems += [_still_read(name, sorted(readers[name])) for name in removed if readers.get(name)]
    if problems:
        raise ConfigError(problems)
    return KpiPlan(tuple(created), tuple(changed), tuple(relabelled), removed, tuple(unchanged), kept)


def _still_read(name: str, key_results: list[str]) -> FieldError:
    return FieldError(
        f"kpis.{name}",
        f"key results in force read it ({', '.join(key_results)}): link them to another KPI, or"
        " remove their objectives (okr apply --prune), before pruning it",
        "kpi_in_use",
    )
