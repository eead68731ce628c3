"""KnownIdentities: exact SQL, and which identities the real engine reports as landed."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from processors.clickhouse import KnownIdentities

from .conftest import RECEIVED

SQL = """SELECT DISTINCT source, event_id
FROM {database:Identifier}.raw_events
WHERE event_id IN (SELECT arrayJoin(splitByChar('\\n', {event_ids:String})))
  AND received_at >= {since:DateTime64(6, 'UTC')}"""


def test_to_sql_binds_each_event_id_once_sorted_a_line_each() -> None:
    since = datetime(2026, 10, 1, tzinfo=UTC)
    query = KnownIdentities("okrstream", {("shop", "e-2"), ("crm", "e-2"), ("shop", "e-1")}, since)
    assert query.to_sql() == (
        SQL,
        {
            "database": "okrstream",
            "event_ids": "e-1\ne-2",
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


def test_an_asked_id_holding_a_line_break_matches_nothing(store, settings, land, make_event) -> None:
    """Split in SQL, its pieces would find e-1 and e-2; neither was asked about, so neither is answered."""
    land([make_event("e-1"), make_event("e-2")])
    asked = {("shop", "e-1\ne-2"), ("shop", "never")}
    query = KnownIdentities(settings.clickhouse_database, asked, RECEIVED - timedelta(days=30))
    assert query.parse(store.fetch(query)) == set()
    both = KnownIdentities(
        settings.clickhouse_database, asked | {("shop", "e-2")}, RECEIVED - timedelta(days=30)
    )
    assert both.parse(store.fetch(both)) == {("shop", "e-2")}
