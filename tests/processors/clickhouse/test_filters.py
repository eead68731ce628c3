"""The shared WHERE fragments: exact text and parameters, and that ClickHouse routes like partition_for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from processors.clickhouse import identity_partition, log_partition
from schemas import partition_for
from tests.conftest import Sql


@pytest.mark.parametrize(
    ("fragment", "args", "sql", "params"),
    [
        pytest.param(
            log_partition,
            ("log-a", 3),
            "kafka_log = {log:String} AND kafka_partition = {partition:UInt32}",
            {"log": "log-a", "partition": 3},
            id="log-partition",
        ),
        pytest.param(
            identity_partition,
            (1, 4),
            "CRC32(concat(source, '\\0', event_id)) % {partitions:UInt32} = {partition:UInt32}",
            {"partition": 1, "partitions": 4},
            id="identity-partition",
        ),
        pytest.param(
            identity_partition,
            (0, 1),
            "CRC32(concat(source, '\\0', event_id)) % {partitions:UInt32} = {partition:UInt32}",
            {"partition": 0, "partitions": 1},
            id="identity-single-partition",
        ),
    ],
)
def test_fragment(fragment: Callable, args: tuple, sql: str, params: dict[str, Any]) -> None:
    assert fragment(*args) == (sql, params)


def test_identity_fragment_escapes_a_nul_byte_not_a_backslash_zero() -> None:
    sql, _ = identity_partition(0, 4)
    assert "'\\0'" in sql and "\0" not in sql  # ClickHouse reads the escape as the NUL partition_for uses


@pytest.mark.parametrize("partitions", [1, 3, 4, 12])
def test_clickhouse_routes_every_identity_to_the_partition_python_names(
    store, settings, land, make_event, partitions: int
) -> None:
    events = [make_event(f"evt-{i}", source=("shop", "crm/eu", "a:b")[i % 3]) for i in range(60)]
    land(events)
    for partition in range(partitions):
        where, params = identity_partition(partition, partitions)
        sql = f"SELECT source, event_id FROM {{database:Identifier}}.raw_events WHERE {where}"
        rows = store.fetch(Sql(sql, **params, database=settings.clickhouse_database))
        expected = {
            (e["source"], e["event_id"])
            for e in events
            if partition_for(e["source"], e["event_id"], partitions) == partition
        }
        assert set(rows) == expected
