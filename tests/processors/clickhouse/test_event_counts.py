"""EventCounts: exact SQL and parameters, parsing, and counts with measure sums from the real table."""

from __future__ import annotations

import pytest

from processors.clickhouse import EventCounts, TypeCount

SQL = """SELECT type, count(), sumMap(measures)
FROM {database:Identifier}.raw_events
GROUP BY type
ORDER BY type"""


@pytest.mark.parametrize(
    ("query", "params"),
    [
        pytest.param(EventCounts("okrstream"), {"database": "okrstream"}, id="default-db"),
        pytest.param(EventCounts("test_abc"), {"database": "test_abc"}, id="test-db"),
    ],
)
def test_to_sql(query: EventCounts, params: dict) -> None:
    assert query.to_sql() == (SQL, params)


def test_parse_makes_ints_and_float_sums() -> None:
    rows = [("deal.closed", 2, {"amount": 7}), ("session.started", "3", {})]
    assert EventCounts.parse(rows) == [
        TypeCount("deal.closed", 2, {"amount": 7.0}),
        TypeCount("session.started", 3, {}),
    ]


def _counts(store, settings) -> list[TypeCount]:
    return EventCounts.parse(store.fetch(EventCounts(settings.clickhouse_database)))


def test_empty_table_has_no_counts(store, settings) -> None:
    assert _counts(store, settings) == []


def test_counts_and_sums_per_type_in_type_order(store, settings, land, make_event) -> None:
    land(
        [
            make_event("o-1", measures={"amount": 10.5, "items": 1}),
            make_event("o-2", measures={"amount": 4.25, "items": 3}),
            make_event("o-3", measures={"amount": 0}),  # no items: sums over the keys present
            make_event("s-1", type="session.started"),
        ]
    )
    land([make_event("d-1", type="deal.closed", measures={"amount": 1000})], first=10)
    assert _counts(store, settings) == [
        TypeCount("deal.closed", 1, {"amount": 1000.0}),
        TypeCount("order.placed", 3, {"amount": 14.75, "items": 4.0}),
        TypeCount("session.started", 1, {}),
    ]


def test_a_retried_block_is_not_counted_twice(store, settings, land, make_event) -> None:
    batch = [make_event("o-1", measures={"amount": 5}), make_event("o-2", measures={"amount": 7})]
    land(batch, first=0)
    land(batch, first=0)
    assert _counts(store, settings) == [TypeCount("order.placed", 2, {"amount": 12.0})]
