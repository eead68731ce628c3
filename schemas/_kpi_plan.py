"""What applying a KPI catalog will do, decided from fingerprints alone: pure, so --dry-run is exact."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from ._kpi import KpiCatalog, KpiDefinition


@dataclass(frozen=True)
class KpiPlan:
    created: tuple[KpiDefinition, ...]
    changed: tuple[KpiDefinition, ...]  # its numbers change: rebuilt
    relabelled: tuple[KpiDefinition, ...]  # title, description, unit or health only: recorded
    removed: tuple[str, ...]
    unchanged: tuple[str, ...]

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
        return "; ".join(parts) if parts else "nothing to do: every KPI is applied as defined"


def plan_kpis(catalog: KpiCatalog, applied: Mapping[str, KpiDefinition]) -> KpiPlan:
    """Compare the catalog with the applied definitions.

    A change of title, description, unit or health band does not change a KPI's numbers, so it is
    recorded but rebuilds nothing; the fingerprint covers what does.
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
    removed = sorted(set(applied) - set(catalog.kpis))
    return KpiPlan(tuple(created), tuple(changed), tuple(relabelled), tuple(removed), tuple(unchanged))
