"""Landed events per type, with the sum of every measure: what `okrstream status` shows."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class TypeCount:
    type: str
    events: int
    measures: dict[str, float]


@dataclass(frozen=True)
class EventCounts:
    database: str

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "SELECT type, count(), sumMap(measures)\n"
            "FROM {database:Identifier}.raw_events\n"
            "GROUP BY type\n"
            "ORDER BY type"
        )
        return sql, {"database": self.database}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[TypeCount]:
        return [TypeCount(t, int(n), {k: float(v) for k, v in sums.items()}) for t, n, sums in rows]
