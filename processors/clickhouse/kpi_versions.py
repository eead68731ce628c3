"""The audit trail of applied KPI definitions: who applied what, when, and what changed.

The latest row per KPI is its current definition, so reading a KPI never needs the YAML file.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._cluster import engine, on_cluster
from ._statement import Identifier, Rows


@dataclass(frozen=True)
class CreateKpiVersions:
    """On a cluster every node holds the whole history (a Replicated table without `{shard}`)."""

    database: str
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.kpi_versions"
            + on_cluster(self.cluster)
            + " (\n"
            "    name String,\n"
            "    change LowCardinality(String),\n"  # created, changed or removed
            "    fingerprint String,\n"
            "    rollup String,\n"  # the rollup table, '' for a ratio
            "    definition String,\n"  # the definition as JSON
            "    applied_at DateTime64(6, 'UTC'),\n"
            "    applied_by String\n"
            f") ENGINE = {engine('MergeTree', self.cluster, sharded=False)}\n"
            "ORDER BY (name, applied_at)"
        )
        return sql, {"database": self.database}


@dataclass(frozen=True)
class KpiVersion:
    name: str
    change: str
    fingerprint: str
    rollup: str
    definition: str
    applied_at: datetime
    applied_by: str


COLUMNS = tuple(KpiVersion.__dataclass_fields__)


@dataclass(frozen=True)
class RecordKpiVersions:
    database: str
    versions: list[KpiVersion]

    def to_insert(self) -> Rows:
        return Rows("kpi_versions", self.database, [list(vars(v).values()) for v in self.versions], COLUMNS)


@dataclass(frozen=True)
class KpiHistory:
    """Every applied version, oldest first; `name` narrows it to one KPI."""

    database: str
    name: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        columns = ", ".join(COLUMNS)
        where = "WHERE name = {name:String}\n" if self.name is not None else ""
        sql = f"SELECT {columns}\nFROM {{database:Identifier}}.kpi_versions\n{where}ORDER BY applied_at, name"
        return sql, {"database": self.database} | ({"name": self.name} if self.name is not None else {})

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[KpiVersion]:
        return [KpiVersion(*row) for row in rows]


def current_versions(history: list[KpiVersion]) -> dict[str, KpiVersion]:
    """The applied definition of every KPI not removed, from its history."""
    current: dict[str, KpiVersion] = {}
    for version in history:
        current[version.name] = version
    return {name: v for name, v in current.items() if v.change != "removed"}


@dataclass(frozen=True)
class CreateKpiDefinitionsView:
    """`kpi_definitions`: the KPIs in force, one row each, for BI tools to label `kpi_values` with."""

    database: str
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            f"CREATE OR REPLACE VIEW %(database)s.kpi_definitions{on_cluster(self.cluster)} AS\n"
            "SELECT\n"
            "    name,\n"
            "    JSONExtractString(definition, 'title') AS title,\n"
            "    JSONExtractString(definition, 'description') AS description,\n"
            "    JSONExtractString(definition, 'unit') AS unit,\n"
            "    JSONExtractString(definition, 'aggregation') AS aggregation,\n"
            "    JSONExtract(definition, 'dimensions', 'Array(String)') AS dimensions,\n"
            "    JSONExtractRaw(definition, 'health') AS health,\n"
            "    fingerprint,\n"
            "    applied_at,\n"
            "    applied_by\n"
            "FROM %(database)s.kpi_versions\n"
            "WHERE (name, applied_at) IN (\n"
            "    SELECT name, max(applied_at) FROM %(database)s.kpi_versions GROUP BY name\n"
            ")\n"
            "  AND change != 'removed'"
        )
        return sql, {"database": Identifier(self.database)}  # a view: bound client-side
