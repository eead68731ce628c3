"""FirstLanded: exact SQL and parameters, parsing, and the real table before and after a landing."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from processors.clickhouse import FirstLanded

SQL = """SELECT min(landed_at), countIf(landed_at <= {by:DateTime64(6, 'UTC')}), count()
FROM {database:Identifier}.raw_events"""

LONG_AGO, FAR_AHEAD = datetime(2001, 1, 1, tzinfo=UTC), datetime(2199, 1, 1, tzinfo=UTC)


def test_to_sql_binds_the_instant_in_utc() -> None:
    oslo_noon = datetime(2026, 10, 15, 12, tzinfo=timezone(timedelta(hours=2)))
    assert FirstLanded("okrstream", oslo_noon).to_sql() == (
        SQL,
        {"database": "okrstream", "by": datetime(2026, 10, 15, 10, tzinfo=UTC)},
    )


def test_parse() -> None:
    first = datetime(2026, 10, 1, 12)
    assert FirstLanded.parse([(first, 3, 5)]) == (first.replace(tzinfo=UTC), 3)
    assert FirstLanded.parse([(datetime(1970, 1, 1), 0, 0)]) == (None, 0)  # min() of no rows


def test_an_empty_store_has_nothing_landed(store, settings) -> None:
    query = FirstLanded(settings.clickhouse_database, FAR_AHEAD)
    assert query.parse(store.fetch(query)) == (None, 0)


def test_events_count_by_when_they_landed(store, settings, land, make_event) -> None:
    land([make_event("o-1"), make_event("o-2")])
    before = FirstLanded(settings.clickhouse_database, LONG_AGO)
    first, landed = before.parse(store.fetch(before))
    assert first is not None and first.tzinfo is UTC and first > LONG_AGO
    assert landed == 0  # nothing had landed by 2001
    after = FirstLanded(settings.clickhouse_database, FAR_AHEAD)
    assert after.parse(store.fetch(after)) == (first, 2)
