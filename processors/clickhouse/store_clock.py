"""The store's clock: the one that stamps `raw_events.landed_at`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from ._statement import stored_utc


@dataclass(frozen=True)
class StoreClock:
    """Now, as the store reads it.

    An as-of read by landing time compares the store's `landed_at` stamps with a score's instant,
    so the scorer takes that instant from the store: a worker's clock may be apart from a
    server's by more than the time between two inserts.
    """

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return "SELECT now64(6, 'UTC')", {}

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> datetime:
        (now,) = rows[0]
        return stored_utc(now)
