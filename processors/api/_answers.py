"""The store's answers that the API serves and the CLI reads itself when nothing runs.

Apart from the routes, so that a command reading them (`okrstream status`, `okrstream ingest`)
does not load FastAPI.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Collection
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from schemas import Settings

from ..clickhouse import EventCounts, KnownIdentities

if TYPE_CHECKING:
    from ..store import Store


def event_counts(store: Store, database: str) -> dict[str, Any]:
    """Landed events per type with measure sums: the body of GET /v1/counts (and `okrstream status`)."""
    types = EventCounts.parse(store.fetch(EventCounts(database)))
    return {
        "total_events": sum(t.events for t in types),
        "types": [dataclasses.asdict(t) for t in types],
    }


def landed_identities(
    store: Store, settings: Settings, identities: Collection[tuple[str, str]], now: datetime | None = None
) -> set[tuple[str, str]]:
    """Which of these (source, event_id) identities landed in the store within the dedup window.

    The sink drops a copy of exactly these, so this is the store's word on duplicates: what the
    ingest API answers `duplicate` and `okrstream ingest` counts as already stored.
    """
    if not identities:
        return set()
    since = (now or datetime.now(UTC)) - timedelta(days=settings.dedup_window_days)
    query = KnownIdentities(settings.clickhouse_database, identities, since)
    return query.parse(store.fetch(query))


def landed_events(
    store: Store, settings: Settings, identities: Collection[tuple[str, str]]
) -> dict[str, Any]:
    """The body of POST /v1/events/landed: those of the identities asked about that landed."""
    found = landed_identities(store, settings, identities)
    return {
        "landed": [{"source": source, "event_id": event_id} for source, event_id in sorted(found)],
        "dedup_window_days": settings.dedup_window_days,
    }
