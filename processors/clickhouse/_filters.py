"""Filter fragments shared by the queries on raw_events; each binds its values as parameters."""

from __future__ import annotations

from typing import Any


def log_partition(log: str, partition: int) -> tuple[str, dict[str, Any]]:
    """Rows landed from one partition of one log incarnation (topic id)."""
    return (
        "kafka_log = {log:String} AND kafka_partition = {partition:UInt32}",
        {"log": log, "partition": partition},
    )


def identity_partition(partition: int, partitions: int) -> tuple[str, dict[str, Any]]:
    """Rows whose identity routes to `partition`: the same rule as schemas.partition_for."""
    return (
        "CRC32(concat(source, '\\0', event_id)) % {partitions:UInt32} = {partition:UInt32}",
        {"partition": partition, "partitions": partitions},
    )
