"""When the first event landed (and when the first by a given instant): what an as-of read explains."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any


@dataclass(frozen=True)
class FirstLanded:
    """The landing time of the first event in the store, and how many had landed by `by`.

    An as-of read counts events by when they landed; before the first landed it has nothing to
    show, and says so instead of returning an empty answer without a word.
    """

    database: str
    by: datetime

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = (
            "SELECT min(landed_at), countIf(landed_at <= {by:DateTime64(6, 'UTC')}), count()\n"
            "FROM {database:Identifier}.raw_events"
        )
        return sql, {"database": self.database, "by": self.by.astimezone(UTC)}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> tuple[datetime | None, int]:
        """(first landing time, or None when nothing landed; events landed by `by`)."""
        first, landed_by, total = rows[0]
        if not int(total):
            return None, 0
        return first.replace(tzinfo=UTC) if first.tzinfo is None else first.astimezone(UTC), int(landed_by)
