"""api_keys: exact DDL and query SQL, the rows written, parsing, and versions read back under FINAL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.clickhouse import (
    API_KEY_COLUMN_NAMES,
    API_KEYS_COLUMNS,
    ApiKeys,
    CreateApiKeysTable,
    Statement,
    WriteApiKey,
    api_key_row,
    key_version,
)
from schemas import ApiKey, new_api_key

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
NOW_MICROS = 1_790_856_000_000_000

DDL = """CREATE TABLE IF NOT EXISTS {database:Identifier}.api_keys (
    key_id String,
    name String,
    access LowCardinality(String),
    sources Array(String),
    types Array(String),
    secret_hash String,
    created_at DateTime64(6, 'UTC'),
    revoked_at Nullable(DateTime64(6, 'UTC')),
    version UInt64
) ENGINE = ReplacingMergeTree(version)
ORDER BY key_id"""

SELECT = (
    "SELECT key_id, name, access, sources, types, secret_hash, created_at, revoked_at\n"
    "FROM {database:Identifier}.api_keys FINAL\n"
)


@pytest.mark.parametrize(
    ("statement", "sql", "params"),
    [
        pytest.param(CreateApiKeysTable("okrstream"), DDL, {"database": "okrstream"}, id="create"),
        pytest.param(
            ApiKeys("okrstream"),
            SELECT + "ORDER BY created_at, key_id",
            {"database": "okrstream"},
            id="every-key",
        ),
        pytest.param(
            ApiKeys("db2", "abcdef012345"),
            SELECT + "WHERE key_id = {key_id:String}\nORDER BY created_at, key_id",
            {"database": "db2", "key_id": "abcdef012345"},
            id="one-key",
        ),
        pytest.param(
            ApiKeys("db2", "x' OR 1=1 --"),
            SELECT + "WHERE key_id = {key_id:String}\nORDER BY created_at, key_id",
            {"database": "db2", "key_id": "x' OR 1=1 --"},
            id="id-bound-not-spliced",
        ),
    ],
)
def test_to_sql(statement: Statement, sql: str, params: dict[str, Any]) -> None:
    assert statement.to_sql() == (sql, params)


def test_insert_columns_are_the_table_columns() -> None:
    assert tuple(name for name, _ in API_KEYS_COLUMNS) == API_KEY_COLUMN_NAMES


def _key(**fields: Any) -> ApiKey:
    _, key = new_api_key("ci", "write", ["shop"], ["order.*"], now=NOW)
    return key.model_copy(update=fields)


def test_api_key_row_follows_the_column_names() -> None:
    key = _key()
    row = api_key_row(key, 7)
    assert dict(zip(API_KEY_COLUMN_NAMES, row, strict=True)) == {
        "key_id": key.key_id,
        "name": "ci",
        "access": "write",
        "sources": ("shop",),
        "types": ("order.*",),
        "secret_hash": key.secret_hash,
        "created_at": NOW,
        "revoked_at": None,
        "version": 7,
    }


@pytest.mark.parametrize(
    ("revoked_at", "version"),
    [
        pytest.param(None, NOW_MICROS, id="created"),
        pytest.param(NOW + timedelta(seconds=1), NOW_MICROS + 1_000_000, id="revoked-later"),
        pytest.param(NOW, NOW_MICROS + 1, id="revoked-same-microsecond"),
        pytest.param(NOW - timedelta(days=1), NOW_MICROS + 1, id="revoked-with-a-clock-behind"),
    ],
)
def test_a_revocation_always_outranks_the_creation(revoked_at: datetime | None, version: int) -> None:
    assert key_version(_key(revoked_at=revoked_at)) == version


def test_parse_reads_naive_driver_times_as_utc() -> None:
    key = _key()
    row = (key.key_id, "ci", "write", ["shop"], ["order.*"], key.secret_hash, NOW.replace(tzinfo=None), None)
    assert ApiKeys.parse([row]) == [key]
    assert ApiKeys.parse([]) == []


def test_newest_version_wins_before_any_merge(store, settings) -> None:
    db = settings.clickhouse_database
    store.execute(_Stop(db))
    first, second = _key(), _key(key_id="0123456789ab", created_at=NOW + timedelta(minutes=1))
    revoked = first.revoked(NOW + timedelta(minutes=5))
    for key in (revoked, first, second):  # inserted out of order, one part each
        store.insert(WriteApiKey(db, key))
    [(rows,)] = store.fetch(_Count(db))
    assert rows == 3  # nothing merged: FINAL does the work
    assert ApiKeys.parse(store.fetch(ApiKeys(db))) == [revoked, second]
    assert ApiKeys.parse(store.fetch(ApiKeys(db, second.key_id))) == [second]
    assert ApiKeys.parse(store.fetch(ApiKeys(db, "ffffffffffff"))) == []


class _Stop:
    def __init__(self, db: str) -> None:
        self.db = db

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return "SYSTEM STOP MERGES {db:Identifier}.api_keys", {"db": self.db}


class _Count:
    def __init__(self, db: str) -> None:
        self.db = db

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return "SELECT count() FROM {db:Identifier}.api_keys", {"db": self.db}
