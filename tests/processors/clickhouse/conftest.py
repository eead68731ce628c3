"""Fixtures for the ClickHouse query tests: canonical events, landed at a chosen log position."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from processors import Store
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from schemas import Settings

RECEIVED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def make_event() -> Callable[..., dict[str, Any]]:
    """`make_event("e-1", type=..., measures=...)`: a canonical event dict with sensible defaults."""

    def make(event_id: str, **fields: Any) -> dict[str, Any]:
        return {
            "event_id": event_id,
            "type": "order.placed",
            "source": "shop",
            "occurred_at": "2026-10-01T11:00:00Z",
            **fields,
        }

    return make


@pytest.fixture
def land(store: Store, settings: Settings) -> Callable[..., BatchPosition]:
    """Insert events as one block at a log position (one event per offset from `first`); returns it."""

    def land(
        events: list[dict[str, Any]],
        *,
        log: str = "log-a",
        partition: int = 0,
        first: int = 0,
        last: int | None = None,
        received_at: datetime = RECEIVED,
    ) -> BatchPosition:
        position = BatchPosition(log, partition, first, first + len(events) - 1 if last is None else last)
        rows = [event_row(e, first + i, received_at, position) for i, e in enumerate(events)]
        store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))
        return position

    return land
