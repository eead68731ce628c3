"""Which of some (source, event_id) identities already landed: the HTTP service's duplicate answer."""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from datetime import datetime
from typing import Any


@dataclass(frozen=True)
class KnownIdentities:
    """Identities among `identities` received since `since` (the sink's dedup window)."""

    database: str
    identities: Collection[tuple[str, str]]
    since: datetime

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "SELECT DISTINCT source, event_id\n"
            "FROM {database:Identifier}.raw_events\n"
            "WHERE event_id IN {event_ids:Array(String)}\n"  # served by the event_id bloom filter
            "  AND (source, event_id) IN {identities:Array(Tuple(String, String))}\n"
            "  AND received_at >= {since:DateTime64(6, 'UTC')}"
        )
        identities = sorted(self.identities)
        return sql, {
            "database": self.database,
            "event_ids": sorted({event_id for _, event_id in identities}),
            "identities": identities,
            "since": self.since,
        }

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> set[tuple[str, str]]:
        return {(source, event_id) for source, event_id in rows}
