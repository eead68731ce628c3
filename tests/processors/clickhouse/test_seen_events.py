"""SeenEvents: exact SQL and parameters, parsing, and the identities a partition's dedup starts from."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from processors.clickhouse import SeenEvents
from schemas import partition_for

SQL = """SELECT source, event_id, toUnixTimestamp64Micro(min(received_at))
FROM {database:Identifier}.raw_events
WHERE CRC32(concat(source, '\\0', event_id)) % {partitions:UInt32} = {partition:UInt32}
  AND received_at >= {since:DateTime64(6, 'UTC')}
  AND NOT (kafka_log = {log:String} AND batch_first_offset >= {replay_from:UInt64})
GROUP BY source, event_id"""
T0 = datetime(2026, 10, 1, 12, tzinfo=UTC)
T0_MICROS = int(T0.timestamp()) * 1_000_000


@pytest.mark.parametrize(
    ("query", "params"),
    [
        pytest.param(
            SeenEvents("okrstream", "log-a", 1, 4, 0, T0),
            {
                "partition": 1,
                "partitions": 4,
                "database": "okrstream",
                "log": "log-a",
                "replay_from": 0,
                "since": T0,
            },
            id="fresh-partition",
        ),
        pytest.param(
            SeenEvents("db2", "Zx9", 0, 1, 500, T0 - timedelta(days=30)),
            {
                "partition": 0,
                "partitions": 1,
                "database": "db2",
                "log": "Zx9",
                "replay_from": 500,
                "since": T0 - timedelta(days=30),
            },
            id="resume-with-window",
        ),
    ],
)
def test_to_sql(query: SeenEvents, params: dict) -> None:
    assert query.to_sql() == (SQL, params)


def test_parse_maps_identity_to_micros() -> None:
    rows = [("shop", "e-1", T0_MICROS), ("crm", "e-1", str(T0_MICROS + 1))]
    assert SeenEvents.parse(rows) == {("shop", "e-1"): T0_MICROS, ("crm", "e-1"): T0_MICROS + 1}


def _seen(store, settings, *, partition=0, partitions=1, replay_from=10**9, since=T0 - timedelta(days=1)):
    query = SeenEvents(settings.clickhouse_database, "log-a", partition, partitions, replay_from, since)
    return SeenEvents.parse(store.fetch(query))


def test_finds_each_landed_identity_with_its_first_receipt(store, settings, land, make_event) -> None:
    land([make_event("e-1"), make_event("e-2", source="crm")], received_at=T0)
    land([make_event("e-1")], log="log-old", received_at=T0 - timedelta(seconds=5))  # an earlier copy
    land([make_event("e-1")], first=7, received_at=T0 + timedelta(seconds=5))  # a later copy
    assert _seen(store, settings) == {
        ("shop", "e-1"): T0_MICROS - 5_000_000,
        ("crm", "e-2"): T0_MICROS,
    }


def test_only_identities_routed_to_the_partition(store, settings, land, make_event) -> None:
    events = [make_event(f"e-{i}") for i in range(40)]
    land(events, received_at=T0)
    for partition in range(4):
        expected = {
            ("shop", e["event_id"]) for e in events if partition_for("shop", e["event_id"], 4) == partition
        }
        assert set(_seen(store, settings, partition=partition, partitions=4)) == expected


def test_identities_received_before_the_window_are_left_out(store, settings, land, make_event) -> None:
    land([make_event("old")], first=0, received_at=T0 - timedelta(microseconds=1))
    land([make_event("edge")], first=1, received_at=T0)
    land([make_event("new")], first=2, received_at=T0 + timedelta(days=1))
    assert set(_seen(store, settings, since=T0)) == {("shop", "edge"), ("shop", "new")}


def test_batches_to_be_replayed_are_left_out_but_only_in_this_log(store, settings, land, make_event) -> None:
    land([make_event("before")], first=0, last=4)
    land([make_event("straddles")], first=5, last=9)  # first offset before replay_from: not replayed
    land([make_event("replayed")], first=10, last=14)
    land([make_event("other-log")], log="log-b", first=20, last=24)
    assert set(_seen(store, settings, replay_from=6)) == {
        ("shop", "before"),
        ("shop", "straddles"),
        ("shop", "other-log"),
    }
