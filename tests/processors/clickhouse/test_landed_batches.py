"""LandedBatches: exact SQL and parameters, parsing, and which landed ranges a restart must replay."""

from __future__ import annotations

import pytest

from processors.clickhouse import LandedBatch, LandedBatches

SQL = (
    "SELECT DISTINCT batch_first_offset, batch_last_offset, batch_epoch\n"
    "FROM {database:Identifier}.raw_events\n"
    "WHERE kafka_log = {log:String} AND kafka_partition = {partition:UInt32}"
    " AND batch_last_offset >= {from_offset:UInt64}\n"
    "ORDER BY batch_first_offset"
)


@pytest.mark.parametrize(
    ("query", "params"),
    [
        pytest.param(
            LandedBatches("okrstream", "log-a", 0, 0),
            {"database": "okrstream", "log": "log-a", "partition": 0, "from_offset": 0},
            id="from-start",
        ),
        pytest.param(
            LandedBatches("db2", "Zx9-topic-id", 7, 123_456),
            {"database": "db2", "log": "Zx9-topic-id", "partition": 7, "from_offset": 123_456},
            id="resume-offset",
        ),
    ],
)
def test_to_sql(query: LandedBatches, params: dict) -> None:
    assert query.to_sql() == (SQL, params)


def test_parse_makes_int_ranges() -> None:
    assert LandedBatches.parse([(0, 4, 7), ("5", 9.0, "8")]) == [LandedBatch(0, 4, 7), LandedBatch(5, 9, 8)]
    assert LandedBatches.parse([]) == []


@pytest.fixture
def landed(land, make_event) -> None:
    """log-a partition 0: ranges 0-4, 5-9, 10-14 (one row per range is enough); decoys elsewhere."""
    for first in (0, 5, 10):
        land([make_event(f"a0-{first}"), make_event(f"a0-{first}-b")], first=first, last=first + 4)
    land([make_event("a1")], partition=1, first=20, last=24)
    land([make_event("b0")], log="log-b", first=30, last=34)


@pytest.mark.parametrize(
    ("from_offset", "expected"),
    [
        pytest.param(0, [(0, 4), (5, 9), (10, 14)], id="all"),
        pytest.param(5, [(5, 9), (10, 14)], id="at-a-batch-start"),
        pytest.param(7, [(5, 9), (10, 14)], id="inside-a-batch-keeps-it"),
        pytest.param(14, [(10, 14)], id="at-the-last-offset"),
        pytest.param(15, [], id="past-everything"),
    ],
)
def test_ranges_at_or_after_the_resume_offset(store, settings, landed, from_offset, expected) -> None:
    query = LandedBatches(settings.clickhouse_database, "log-a", 0, from_offset)
    assert LandedBatches.parse(store.fetch(query)) == [LandedBatch(*r) for r in expected]


@pytest.mark.parametrize(
    ("log", "partition", "expected"),
    [
        pytest.param("log-a", 1, [(20, 24)], id="other-partition"),
        pytest.param("log-b", 0, [(30, 34)], id="other-log"),
        pytest.param("log-c", 0, [], id="unknown-log"),
    ],
)
def test_only_the_asked_log_and_partition(store, settings, landed, log, partition, expected) -> None:
    query = LandedBatches(settings.clickhouse_database, log, partition, 0)
    assert LandedBatches.parse(store.fetch(query)) == [LandedBatch(*r) for r in expected]
