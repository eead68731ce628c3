"""Fill a new KPI rollup with the events that landed before its view's cutoff, one month at a time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from schemas import KpiDefinition

from ._filters import landed_before
from .kpi_rollup_ddl import kpi_select, rollup_table


@dataclass(frozen=True)
class BackfillMonths:
    """The months (YYYYMM of occurred_at) holding events a backfill must read."""

    database: str
    kpi: KpiDefinition
    cutoff: datetime

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = landed_before(self.cutoff)
        sql = (
            "SELECT toYYYYMM(occurred_at) AS month, count()\n"
            "FROM {database:Identifier}.raw_events\n"
            f"WHERE type IN {{types:Array(String)}} AND {where}\n"
            "GROUP BY month\n"
            "ORDER BY month"
        )
        return sql, {**params, "database": self.database, "types": list(self.kpi.events)}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[tuple[int, int]]:
        """(month, raw events of the KPI's types) pairs, oldest first."""
        return [(int(month), int(events)) for month, events in rows]


@dataclass(frozen=True)
class BackfillKpiRollup:
    """INSERT the rollup rows of one month of events that landed before the cutoff.

    The view takes every row that lands at or after the cutoff, so the two never overlap.
    """

    database: str
    kpi: KpiDefinition
    cutoff: datetime
    month: int

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        where, params = landed_before(self.cutoff)
        landed = (f"{where} AND toYYYYMM(occurred_at) = {{month:UInt32}}", {**params, "month": self.month})
        select, params = kpi_select(self.kpi, self.database, landed)
        sql = "INSERT INTO {database:Identifier}.{table:Identifier}\n" + select
        return sql, {**params, "table": rollup_table(self.kpi)}
