"""CreateDatabase and CreateRawEvents: exact DDL text and parameters, and what ensure_schema builds."""

from __future__ import annotations

from typing import Any

import pytest

from processors.clickhouse import (
    RAW_EVENTS_COLUMNS,
    AddEventIdIndex,
    CreateDatabase,
    CreateRawEvents,
    Statement,
)

RAW_EVENTS_DDL = """CREATE TABLE IF NOT EXISTS {database:Identifier}.raw_events (
    event_id String,
    source LowCardinality(String),
    type LowCardinality(String),
    occurred_at DateTime64(6, 'UTC'),
    received_at DateTime64(6, 'UTC'),
    subject String,
    dimensions Map(LowCardinality(String), String),
    measures Map(LowCardinality(String), Float64),
    payload String,
    kafka_log LowCardinality(String),
    kafka_partition UInt32,
    kafka_offset UInt64,
    batch_first_offset UInt64,
    batch_last_offset UInt64,
    batch_epoch UInt64,
    landed_at DateTime64(6, 'UTC') MATERIALIZED now64(6),
    INDEX event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4
) ENGINE = MergeTree
PARTITION BY toYYYYMM(occurred_at)
ORDER BY (type, occurred_at)
SETTINGS non_replicated_deduplication_window = {dedup_window:UInt64}"""


@pytest.mark.parametrize(
    ("statement", "sql", "params"),
    [
        pytest.param(
            CreateDatabase("okrstream"),
            "CREATE DATABASE IF NOT EXISTS {database:Identifier}",
            {"database": "okrstream"},
            id="create-database",
        ),
        pytest.param(
            CreateRawEvents("okrstream", 1000),
            RAW_EVENTS_DDL,
            {"database": "okrstream", "dedup_window": 1000},
            id="create-raw-events-default-window",
        ),
        pytest.param(
            CreateRawEvents("analytics", 5),
            RAW_EVENTS_DDL,
            {"database": "analytics", "dedup_window": 5},
            id="create-raw-events-small-window",
        ),
        pytest.param(
            AddEventIdIndex("okrstream"),
            "ALTER TABLE {database:Identifier}.raw_events ADD INDEX IF NOT EXISTS"
            " event_id_bloom event_id TYPE bloom_filter(0.01) GRANULARITY 4",
            {"database": "okrstream"},
            id="add-event-id-index",
        ),
    ],
)
def test_to_sql(statement: Statement, sql: str, params: dict[str, Any]) -> None:
    assert statement.to_sql() == (sql, params)


def test_ensure_schema_builds_raw_events_with_the_declared_columns(store, settings) -> None:
    rows = store.fetch(_Query("DESCRIBE TABLE {db:Identifier}.raw_events", settings.clickhouse_database))
    landed_at = ("landed_at", "DateTime64(6, 'UTC')")  # set by ClickHouse, not inserted by the sink
    assert [(name, kind) for name, kind, *_ in rows] == [*RAW_EVENTS_COLUMNS, landed_at]


def test_ensure_schema_applies_the_dedup_window_and_ordering(store, settings) -> None:
    [(ddl,)] = store.fetch(
        _Query("SHOW CREATE TABLE {db:Identifier}.raw_events", settings.clickhouse_database)
    )
    assert f"non_replicated_deduplication_window = {settings.dedup_block_window}" in ddl
    assert "PARTITION BY toYYYYMM(occurred_at)" in ddl
    assert "ORDER BY (type, occurred_at)" in ddl


def test_ensure_schema_indexes_event_ids_also_on_a_table_made_without_the_index(store, settings) -> None:
    db = settings.clickhouse_database
    store.execute(_Query("DROP INDEX event_id_bloom ON {db:Identifier}.raw_events", db))
    store.ensure_schema(settings)
    [(indexes,)] = store.fetch(
        _Query("SELECT groupArray(name) FROM system.data_skipping_indices WHERE database = {db:String}", db),
    )
    assert indexes == ["event_id_bloom"]


def test_ensure_schema_is_idempotent_and_keeps_rows(store, settings, land, make_event) -> None:
    land([make_event("e-1"), make_event("e-2")])
    store.ensure_schema(settings)
    [(count,)] = store.fetch(
        _Query("SELECT count() FROM {db:Identifier}.raw_events", settings.clickhouse_database)
    )
    assert count == 2


def test_database_name_is_bound_as_an_identifier_not_spliced_into_the_text(store) -> None:
    odd = "odd-name; DROP"  # would be a syntax error (or worse) if formatted into the SQL text
    store.execute(CreateDatabase(odd))
    store.execute(CreateRawEvents(odd, 10))
    [(tables,)] = store.fetch(_Query("SELECT count() FROM system.tables WHERE database = {db:String}", odd))
    assert tables == 1


class _Query:
    """An ad-hoc read with one bound parameter `db`, in the Statement shape."""

    def __init__(self, sql: str, db: str) -> None:
        self.sql, self.db = sql, db

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return self.sql, {"db": self.db}
