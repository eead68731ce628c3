"""DDL of the database and of `raw_events`, the landed copy of the event log."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ._cluster import dedup_window_setting, distributed, engine, local_name, on_cluster

RAW_EVENTS_COLUMNS = (
    ("event_id", "String"),
    ("source", "LowCardinality(String)"),
    ("type", "LowCardinality(String)"),
    ("occurred_at", "DateTime64(6, 'UTC')"),
    ("received_at", "DateTime64(6, 'UTC')"),
    ("subject", "String"),  # '' when the event has none
    ("dimensions", "Map(LowCardinality(String), String)"),
    ("measures", "Map(LowCardinality(String), Float64)"),
    ("payload", "String"),  # the original JSON, '' when none was kept
    # Where the row came from, so a restarted sink can tell what already landed.
    ("kafka_log", "LowCardinality(String)"),
    ("kafka_partition", "UInt32"),
    ("kafka_offset", "UInt64"),
    ("batch_first_offset", "UInt64"),
    ("batch_last_offset", "UInt64"),
    ("batch_epoch", "UInt64"),  # which sink run first wrote the batch: part of its insert token
)
# The order `event_row` builds rows in and every insert names: one list, so nothing can drift.
RAW_EVENTS_COLUMN_NAMES = tuple(name for name, _ in RAW_EVENTS_COLUMNS)
# Set by ClickHouse when a row lands, never by the sink: a KPI's view takes the rows landed after
# its cutoff and its backfill the rows before, so each row is counted by exactly one of them.
LANDED_AT_COLUMN = "landed_at DateTime64(6, 'UTC') MATERIALIZED now64(6)"
# The HTTP service asks whether an event_id landed before: a bloom filter skips most granules.
EVENT_ID_INDEX = "event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4"


@dataclass(frozen=True)
class CreateDatabase:
    database: str
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        sql = "CREATE DATABASE IF NOT EXISTS {database:Identifier}" + on_cluster(self.cluster)
        return sql, {"database": self.database}


@dataclass(frozen=True)
class CreateRawEvents:
    """Partitioned by month, ordered for time-range scans by type.

    `non_replicated_deduplication_window` keeps the last N insert tokens, so a block the sink
    retries after a crash is dropped here and still reaches any view that missed it.

    On a cluster this is `raw_events_local`, a ReplicatedMergeTree per shard (its replicas share
    the tokens through Keeper: `replicated_deduplication_window`); `raw_events` is then the
    Distributed table over it (CreateRawEventsDistributed).
    """

    database: str
    dedup_window: int
    cluster: str | None = None

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        columns = ",\n    ".join(f"{name} {kind}" for name, kind in RAW_EVENTS_COLUMNS)
        table_engine = engine("MergeTree", self.cluster, sharded=True, path="raw_events")
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}."
            + local_name("raw_events", self.cluster)
            + on_cluster(self.cluster)
            + " (\n    "
            + columns
            + ",\n    "
            + LANDED_AT_COLUMN
            + ",\n    "
            + "INDEX "
            + EVENT_ID_INDEX
            + f"\n) ENGINE = {table_engine}\n"
            "PARTITION BY toYYYYMM(occurred_at)\nORDER BY (type, occurred_at)\n"
            f"SETTINGS {dedup_window_setting(self.cluster)} = {{dedup_window:UInt64}}"
        )
        return sql, {"database": self.database, "dedup_window": self.dedup_window}


@dataclass(frozen=True)
class CreateRawEventsDistributed:
    """On a cluster, `raw_events`: the Distributed table over every shard's `raw_events_local`.

    Rows are sharded by Kafka partition, so one partition's block goes whole to one shard, whose
    replicas hold its insert tokens: a retried block is dropped there, whichever replica takes
    it. `landed_at` is MATERIALIZED here too, so an insert never carries it: the shard sets it.
    """

    database: str
    cluster: str

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        columns = ",\n    ".join(f"{name} {kind}" for name, kind in RAW_EVENTS_COLUMNS)
        sql = (
            "CREATE TABLE IF NOT EXISTS {database:Identifier}.raw_events"
            + on_cluster(self.cluster)
            + " (\n    "
            + columns
            + ",\n    "
            + LANDED_AT_COLUMN
            + "\n) ENGINE = "
            + distributed("raw_events_local", "kafka_partition")
        )
        return sql, {"database": self.database, "cluster": self.cluster}


@dataclass(frozen=True)
class AddEventIdIndex:
    """The event_id index on a `raw_events` created before it existed; new parts get it, old ones not."""

    database: str
    cluster: str | None = None  # on a cluster the index is on the shards' `raw_events_local`

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        table = local_name("raw_events", self.cluster) + on_cluster(self.cluster)
        sql = "ALTER TABLE {database:Identifier}." + table + " ADD INDEX IF NOT EXISTS " + EVENT_ID_INDEX
        return sql, {"database": self.database}
