"""KnownIdentities: exact SQL, and which identities the real engine reports as landed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from processors.clickhouse import KnownIdentities

from .conftest import RECEIVED

SQL = """SELECT DISTINCT source, event_id
FROM {database:Identifier}.raw_events
WHERE event_id IN {event_ids:Array(String)}
  AND received_at >= {since:DateTime64(6, 'UTC')}"""


def test_to_sql_binds_each_event_id_once_sorted() -> None:
    since = datetime(2026, 10, 1, tzinfo=UTC)
    query = KnownIdentities("okrstream", {("shop", "e-2"), ("crm", "e-2"), ("shop", "e-1")}, since)
    assert query.to_sql() == (
        SQL,
        {
            "database": "okrstream",
            "event_ids": ["e-1", "e-2"],
            "since": since,
        },
    )


def test_reports_landed_identities_within_the_window_only(store, settings, land, make_event) -> None:
    land([make_event("e-1"), make_event("e-2", source="crm")])
    land([make_event("old")], first=10, received_at=RECEIVED - timedelta(days=40))
    asked = {("shop", "e-1"), ("shop", "e-2"), ("crm", "e-2"), ("shop", "old"), ("shop", "never")}
    query = KnownIdentities(settings.clickhouse_database, asked, RECEIVED - timedelta(days=30))
    assert query.parse(store.fetch(query)) == {("shop", "e-1"), ("crm", "e-2")}
    # another source's event with an id asked about is another event
    only_crm = KnownIdentities(settings.clickhouse_database, {("crm", "e-1")}, RECEIVED - timedelta(days=30))
    assert only_crm.parse(store.fetch(only_crm)) == set()
