"""StoreClock: exact SQL, parsing, and that it is the clock that stamps landed_at."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from processors.clickhouse.store_clock import StoreClock
from tests.conftest import Sql


def test_to_sql() -> None:
    assert StoreClock().to_sql() == ("SELECT now64(6, 'UTC')", {})


def test_parse_gives_an_aware_utc_instant() -> None:
    naive = datetime(2026, 12, 7, 17, 30, 0, 123456)
    assert StoreClock.parse([(naive,)]) == naive.replace(tzinfo=UTC)
    oslo = datetime(2026, 12, 7, 18, 30, tzinfo=timezone(timedelta(hours=1)))
    assert StoreClock.parse([(oslo,)]) == datetime(2026, 12, 7, 17, 30, tzinfo=UTC)


def test_landed_at_falls_between_two_reads_of_the_store_clock(store, settings, land, make_event) -> None:
    before = StoreClock.parse(store.fetch(StoreClock()))
    land([make_event("o-1")])
    after = StoreClock.parse(store.fetch(StoreClock()))
    sql = "SELECT landed_at FROM {db:Identifier}.raw_events"
    landed_at = StoreClock.parse(store.fetch(Sql(sql, db=settings.clickhouse_database)))  # read alike
    assert before.tzinfo is UTC and before <= landed_at <= after
