"""InsertRawEvents, BatchPosition.token, event_row and parse_time; round trip and block dedup by token."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from processors.clickhouse import BatchPosition, InsertRawEvents, event_row, parse_time
from schemas import InvalidFieldsError
from tests.conftest import Sql

POSITION = BatchPosition("log-a", 3, 100, 104, 9)
RECEIVED = datetime(2026, 10, 1, 12, 0, 0, 250_000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("position", "token"),
    [
        pytest.param(BatchPosition("log-a", 0, 0, 0), "log-a:0:0-0:0", id="single-record"),
        pytest.param(BatchPosition("log-a", 3, 100, 104, 17), "log-a:3:100-104:17", id="range"),
        pytest.param(
            BatchPosition("Zx9_q-1AbCdEfGhIjKlMnO", 11, 7, 2**40, 2**50),
            f"Zx9_q-1AbCdEfGhIjKlMnO:11:7-{2**40}:{2**50}",
            id="topic-id-and-large-offset",
        ),
    ],
)
def test_token_names_log_partition_and_offsets(position: BatchPosition, token: str) -> None:
    assert position.token == token


def test_tokens_differ_whenever_any_part_of_the_position_differs() -> None:
    variants = [
        POSITION,
        BatchPosition("log-b", 3, 100, 104),
        BatchPosition("log-a", 4, 100, 104),
        BatchPosition("log-a", 3, 101, 104),
        BatchPosition("log-a", 3, 100, 105),
    ]
    assert len({p.token for p in variants}) == len(variants)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        pytest.param("2026-10-01T12:00:00Z", datetime(2026, 10, 1, 12, tzinfo=UTC), id="zulu"),
        pytest.param("2026-10-01T14:30:00+02:30", datetime(2026, 10, 1, 12, tzinfo=UTC), id="offset"),
        pytest.param(
            "2026-10-01T12:00:00.123456Z", datetime(2026, 10, 1, 12, 0, 0, 123456, tzinfo=UTC), id="micros"
        ),
    ],
)
def test_parse_time_returns_aware_utc(text: str, expected: datetime) -> None:
    parsed = parse_time(text)
    assert parsed == expected
    assert parsed.tzinfo is UTC


def test_parse_time_rejects_a_time_without_offset() -> None:
    with pytest.raises(ValueError, match="no UTC offset"):
        parse_time("2026-10-01T12:00:00")


def test_event_row_carries_every_column_in_order() -> None:
    event = {
        "event_id": "ord-1",
        "source": "shop",
        "type": "order.placed",
        "occurred_at": "2026-10-01T13:00:00+01:00",
        "received_at": "2026-10-01T12:00:05Z",
        "subject": "customer-7",
        "dimensions": {"region": "EU"},
        "measures": {"amount": 12, "items": 2.0},
        "payload": {"cart": [1, 2]},
    }
    assert event_row(event, 102, RECEIVED, POSITION) == (
        "ord-1",
        "shop",
        "order.placed",
        datetime(2026, 10, 1, 12, tzinfo=UTC),
        datetime(2026, 10, 1, 12, 0, 5, tzinfo=UTC),
        "customer-7",
        {"region": "EU"},
        {"amount": 12.0, "items": 2.0},
        '{"cart":[1,2]}',
        "log-a",
        3,
        102,
        100,
        104,
        9,
    )


def test_event_row_defaults_optional_fields_and_falls_back_to_the_record_time() -> None:
    event = {"event_id": "e", "source": "s", "type": "t.x", "occurred_at": "2026-10-01T12:00:00Z"}
    row = event_row(event, 100, RECEIVED, POSITION)
    assert row[4:9] == (RECEIVED, "", {}, {}, "")


@pytest.mark.parametrize(
    ("changes", "path", "message"),
    [
        pytest.param({"event_id": None}, "event_id", "must be a non-empty string", id="no-event-id"),
        pytest.param({"event_id": 7}, "event_id", "must be a non-empty string, got 7", id="number-id"),
        pytest.param({"occurred_at": "2026-10-01T12:00:00"}, "occurred_at", "no UTC offset", id="naive-time"),
        pytest.param({"occurred_at": "yesterday"}, "occurred_at", "Invalid isoformat", id="garbage-time"),
        pytest.param({"occurred_at": "0001-01-01T00:00:00Z"}, "occurred_at", "outside the", id="year-1"),
        pytest.param({"occurred_at": 5}, "occurred_at", "must be an ISO 8601 string", id="number-time"),
        pytest.param({"measures": {"amount": "lots"}}, "measures.amount", "finite number", id="text-measure"),
        pytest.param({"measures": {"amount": float("nan")}}, "measures.amount", "got nan", id="nan-measure"),
        pytest.param({"measures": {"amount": True}}, "measures.amount", "got True", id="bool-measure"),
        pytest.param({"measures": ["amount"]}, "measures", "must be an object", id="measures-not-object"),
        pytest.param({"dimensions": {"region": 1}}, "dimensions.region", "must be a string", id="number-dim"),
    ],
)
def test_event_row_rejects_malformed_events_naming_the_field(changes: dict, path: str, message: str):
    event = {"event_id": "e", "source": "s", "type": "t.x", "occurred_at": "2026-10-01T12:00:00Z"}
    event = {k: v for k, v in (event | changes).items() if v is not None}  # None: leave the field out
    with pytest.raises(InvalidFieldsError) as raised:
        event_row(event, 100, RECEIVED, POSITION)
    [error] = raised.value.errors
    assert (error.path, error.rule) == (path, "malformed_record")
    assert message in error.message


@pytest.mark.parametrize(
    ("rows", "block_size"),
    [pytest.param([], 1, id="empty"), pytest.param([()] * 3, 3, id="three-rows")],
)
def test_insert_settings_make_one_deduplicated_block_under_the_token(rows: list, block_size: int) -> None:
    assert InsertRawEvents("db", POSITION, rows).settings() == {
        "insert_deduplicate": 1,
        "insert_deduplication_token": "log-a:3:100-104:9",
        "deduplicate_blocks_in_dependent_materialized_views": 1,
        "max_insert_block_size": block_size,
        "min_insert_block_size_rows": 0,
        "min_insert_block_size_bytes": 0,
    }


def _all_rows(store, settings) -> list[tuple]:
    sql = "SELECT * FROM {db:Identifier}.raw_events ORDER BY kafka_log, kafka_offset, event_id"
    return store.fetch(Sql(sql, db=settings.clickhouse_database))


def test_rows_read_back_as_inserted(store, settings, land, make_event) -> None:
    events = [
        make_event(
            "ord-1",
            occurred_at="2026-09-30T23:59:59.999999-02:00",
            subject="customer-7",
            dimensions={"region": "EU", "channel": "web"},
            measures={"amount": 49.9, "items": 2},
            payload={"note": "ünïcode"},
        ),
        make_event("ord-2", type="deal.closed", source="crm"),
    ]
    land(events, log="log-a", partition=2, first=40)
    naive = datetime(2026, 10, 1, 12)  # clickhouse-connect returns UTC times without tzinfo
    assert _all_rows(store, settings) == [
        (
            "ord-1",
            "shop",
            "order.placed",
            datetime(2026, 10, 1, 1, 59, 59, 999999),
            naive,
            "customer-7",
            {"region": "EU", "channel": "web"},
            {"amount": 49.9, "items": 2.0},
            '{"note":"ünïcode"}',
            "log-a",
            2,
            40,
            40,
            41,
            0,
        ),
        (
            "ord-2",
            "crm",
            "deal.closed",
            naive - timedelta(hours=1),
            naive,
            "",
            {},
            {},
            "",
            "log-a",
            2,
            41,
            40,
            41,
            0,
        ),
    ]


def test_the_same_token_inserted_twice_keeps_the_rows_once(store, settings, land, make_event) -> None:
    events = [make_event("e-1"), make_event("e-2"), make_event("e-3")]
    land(events, first=0)
    land(events, first=0)  # a retry after a crash: same position, same token
    assert [row[0] for row in _all_rows(store, settings)] == ["e-1", "e-2", "e-3"]


def test_the_token_alone_decides_so_a_retry_with_other_rows_is_dropped_too(
    store, settings, land, make_event
) -> None:
    land([make_event("e-1")], first=0, last=5)
    land([make_event("e-9")], first=0, last=5)
    assert [row[0] for row in _all_rows(store, settings)] == ["e-1"]


def test_the_same_rows_under_another_token_land_again(store, settings, land, make_event) -> None:
    events = [make_event("e-1")]
    land(events, log="log-a", first=0)
    land(events, log="log-b", first=0)  # same offsets in another log incarnation
    land(events, log="log-a", partition=1, first=0)
    assert sorted((row[0], row[9], row[10]) for row in _all_rows(store, settings)) == [
        ("e-1", "log-a", 0),
        ("e-1", "log-a", 1),
        ("e-1", "log-b", 0),
    ]


def test_times_land_in_utc_whatever_their_offset(store, settings, land, make_event) -> None:
    pacific = RECEIVED.astimezone(timezone(timedelta(hours=-7)))
    land([make_event("e-1", occurred_at="2026-10-01T00:30:00+05:30")], received_at=pacific)
    [row] = _all_rows(store, settings)
    assert row[3] == datetime(2026, 9, 30, 19, 0)
    assert row[4] == datetime(2026, 10, 1, 12, 0, 0, 250_000)
