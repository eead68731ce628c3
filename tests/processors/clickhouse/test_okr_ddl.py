"""OKR DDL: exact text and parameters, the current views bound client-side, and what ensure_schema builds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from clickhouse_connect.driver.binding import bind_query

from processors.clickhouse import (
    KEY_RESULT_SCORES_COLUMNS,
    OBJECTIVE_SCORES_COLUMNS,
    OKR_DEFINITIONS_COLUMNS,
    CopyLatestScores,
    CreateCurrentScoreViews,
    CreateKeyResultScores,
    CreateLatestScores,
    CreateLatestScoresView,
    CreateObjectiveScores,
    CreateOkrDefinitions,
    Identifier,
    InsertKeyResultScores,
    Statement,
)
from processors.clickhouse.okr_ddl import LatestScoresExist
from schemas import Grade, KeyResultScore, Status

OKR_DEFINITIONS = """CREATE TABLE IF NOT EXISTS {database:Identifier}.okr_definitions (
    objective String,
    version UInt32,
    fingerprint String,
    effective_from DateTime64(6, 'UTC'),
    removed Bool,
    definition String,
    applied_by String
) ENGINE = MergeTree
ORDER BY (objective, version)
SETTINGS non_replicated_deduplication_window = {dedup_window:UInt64}"""

KEY_RESULT_SCORES = """CREATE TABLE IF NOT EXISTS {database:Identifier}.key_result_scores (
    key_result String,
    objective String,
    version UInt32,
    as_of DateTime64(6, 'UTC'),
    scored_at DateTime64(6, 'UTC'),
    value Nullable(Float64),
    start Nullable(Float64),
    target Nullable(Float64),
    progress Float64,
    attainment Nullable(Float64),
    expected Float64,
    status LowCardinality(String),
    grade LowCardinality(String),
    falls_short Bool,
    cause LowCardinality(String),
    period_start DateTime64(6, 'UTC'),
    period_end DateTime64(6, 'UTC')
) ENGINE = MergeTree
ORDER BY (key_result, as_of, scored_at)"""

OBJECTIVE_SCORES = """CREATE TABLE IF NOT EXISTS {database:Identifier}.objective_scores (
    objective String,
    version UInt32,
    as_of DateTime64(6, 'UTC'),
    scored_at DateTime64(6, 'UTC'),
    score Float64,
    expected Float64,
    status LowCardinality(String),
    grade LowCardinality(String),
    falls_short Bool,
    cause LowCardinality(String)
) ENGINE = MergeTree
ORDER BY (objective, as_of, scored_at)"""

KEY_RESULT_CURRENT = """CREATE OR REPLACE VIEW %(database)s.key_result_current AS
SELECT key_result, objective, version, as_of, scored_at, value, start, target, progress, attainment, \
expected, status, grade, falls_short, cause, period_start, period_end
FROM %(database)s.key_result_latest
ORDER BY key_result, as_of DESC, scored_at DESC
LIMIT 1 BY key_result"""

OBJECTIVE_CURRENT = """CREATE OR REPLACE VIEW %(database)s.objective_current AS
SELECT objective, version, as_of, scored_at, score, expected, status, grade, falls_short, cause
FROM %(database)s.objective_latest
ORDER BY objective, as_of DESC, scored_at DESC
LIMIT 1 BY objective"""


OBJECTIVE_LATEST = """CREATE TABLE IF NOT EXISTS {database:Identifier}.objective_latest (
    objective String,
    version UInt32,
    as_of DateTime64(6, 'UTC'),
    scored_at DateTime64(6, 'UTC'),
    score Float64,
    expected Float64,
    status LowCardinality(String),
    grade LowCardinality(String),
    falls_short Bool,
    cause LowCardinality(String)
) ENGINE = ReplacingMergeTree(as_of)
ORDER BY objective"""

KEY_RESULT_LATEST_MV = """CREATE MATERIALIZED VIEW IF NOT EXISTS {database:Identifier}.key_result_latest_mv \
TO {database:Identifier}.key_result_latest AS
SELECT key_result, objective, version, as_of, scored_at, value, start, target, progress, attainment, \
expected, status, grade, falls_short, cause, period_start, period_end
FROM {database:Identifier}.key_result_scores"""

COPY_OBJECTIVE_LATEST = """INSERT INTO {database:Identifier}.objective_latest
SELECT objective, version, as_of, scored_at, score, expected, status, grade, falls_short, cause
FROM {database:Identifier}.objective_scores
ORDER BY objective, as_of DESC, scored_at DESC
LIMIT 1 BY objective"""


@pytest.mark.parametrize(
    ("statement", "sql", "params"),
    [
        pytest.param(
            CreateLatestScores("okrstream", "objective"),
            OBJECTIVE_LATEST,
            {"database": "okrstream"},
            id="objective-latest",
        ),
        pytest.param(
            CreateLatestScoresView("okrstream", "key_result"),
            KEY_RESULT_LATEST_MV,
            {"database": "okrstream"},
            id="key-result-latest-view",
        ),
        pytest.param(
            LatestScoresExist("okrstream", "objective"),
            "EXISTS TABLE {database:Identifier}.{table:Identifier}",
            {"database": "okrstream", "table": "objective_latest"},
            id="latest-scores-exist",
        ),
        pytest.param(
            CopyLatestScores("okrstream", "objective"),
            COPY_OBJECTIVE_LATEST,
            {"database": "okrstream"},
            id="copy-objective-latest",
        ),
        pytest.param(
            CreateOkrDefinitions("okrstream", 1000),
            OKR_DEFINITIONS,
            {"database": "okrstream", "dedup_window": 1000},
            id="okr-definitions",
        ),
        pytest.param(
            CreateKeyResultScores("okrstream"),
            KEY_RESULT_SCORES,
            {"database": "okrstream"},
            id="key-result-scores",
        ),
        pytest.param(
            CreateObjectiveScores("analytics"),
            OBJECTIVE_SCORES,
            {"database": "analytics"},
            id="objective-scores",
        ),
    ],
)
def test_to_sql(statement: Statement, sql: str, params: dict[str, Any]) -> None:
    assert statement.to_sql() == (sql, params)


def test_current_views_are_plain_views_bound_client_side() -> None:
    params = {"database": Identifier("okrstream")}
    assert CreateCurrentScoreViews("okrstream").statements() == [
        (KEY_RESULT_CURRENT, params),
        (OBJECTIVE_CURRENT, params),
    ]
    sql, server_params = bind_query(OBJECTIVE_CURRENT, {"database": Identifier("odd`db")})
    assert sql.startswith("CREATE OR REPLACE VIEW `odd\\`db`.objective_current AS\n") and server_params == {}


class _Query:
    def __init__(self, sql: str, **params: Any) -> None:
        self.sql, self.params = sql, params

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return self.sql, self.params


@pytest.mark.parametrize(
    ("table", "columns"),
    [
        ("okr_definitions", OKR_DEFINITIONS_COLUMNS),
        ("key_result_scores", KEY_RESULT_SCORES_COLUMNS),
        ("objective_scores", OBJECTIVE_SCORES_COLUMNS),
        ("key_result_current", KEY_RESULT_SCORES_COLUMNS),
        ("key_result_latest", KEY_RESULT_SCORES_COLUMNS),
        ("objective_latest", OBJECTIVE_SCORES_COLUMNS),
        ("objective_current", OBJECTIVE_SCORES_COLUMNS),
    ],
)
def test_ensure_schema_builds_the_declared_columns(store, settings, table: str, columns) -> None:
    db = settings.clickhouse_database
    rows = store.fetch(_Query("DESCRIBE TABLE {db:Identifier}.{t:Identifier}", db=db, t=table))
    assert [(name, kind) for name, kind, *_ in rows] == list(columns)


def test_ensure_schema_keeps_insert_tokens_of_definitions_and_is_idempotent(store, settings) -> None:
    db = settings.clickhouse_database
    store.ensure_schema(settings)  # again: tables kept, views replaced
    [(ddl,)] = store.fetch(_Query("SHOW CREATE TABLE {db:Identifier}.okr_definitions", db=db))
    assert f"non_replicated_deduplication_window = {settings.dedup_block_window}" in ddl
    [(names,)] = store.fetch(
        _Query("SELECT groupArray(name) FROM system.tables WHERE database = {db:String}", db=db)
    )
    tables = {"okr_definitions", "key_result_scores", "objective_scores"}
    assert tables | {"key_result_current", "objective_current"} <= set(names)


def _score(key_result: str, as_of: datetime, progress: float) -> KeyResultScore:
    period = (datetime(2026, 10, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC))
    return KeyResultScore(
        key_result, "sell", 1, as_of, progress, 0.0, 1.0, progress, progress, 0.5,
        Status.ON_TRACK, Grade.YELLOW, False, *period,
    )  # fmt: skip


def test_latest_scores_keep_one_row_per_id_and_a_store_from_before_them_is_copied_in(store, settings) -> None:
    db = settings.clickhouse_database
    t0 = datetime(2026, 11, 1, tzinfo=UTC)
    history = [_score(k, t0 + timedelta(hours=h), h / 10) for h in range(5) for k in ("kr-a", "kr-b")]
    for score in history:  # one insert each, as the scorer writes them
        store.insert(InsertKeyResultScores(db, [score], score.as_of, "events"))

    def rows(table: str) -> list[tuple]:
        sql = "SELECT key_result, progress FROM {db:Identifier}.{t:Identifier} ORDER BY key_result"
        return store.fetch(_Query(sql, db=db, t=table))

    store.execute(_Query("OPTIMIZE TABLE {db:Identifier}.key_result_latest FINAL", db=db))
    assert rows("key_result_latest") == [("kr-a", 0.4), ("kr-b", 0.4)]  # merged: the newest of each
    assert rows("key_result_current") == [("kr-a", 0.4), ("kr-b", 0.4)]
    # a store made before the latest-score tables: its history is copied in when they are made
    for name in ("key_result_latest_mv", "key_result_latest"):
        store.execute(_Query("DROP TABLE {db:Identifier}.{t:Identifier}", db=db, t=name))
    store.ensure_schema(settings)
    assert rows("key_result_latest") == [("kr-a", 0.4), ("kr-b", 0.4)]
    # parts stay apart from here on, so every row written shows
    store.execute(_Query("SYSTEM STOP MERGES {db:Identifier}.key_result_latest", db=db))
    later = _score("kr-a", t0 + timedelta(days=1), 0.9)
    store.insert(InsertKeyResultScores(db, [later], later.as_of, "events"))
    assert rows("key_result_current") == [("kr-a", 0.9), ("kr-b", 0.4)]
    store.ensure_schema(settings)  # again: the table exists, nothing is copied
    assert sorted(rows("key_result_latest")) == [("kr-a", 0.4), ("kr-a", 0.9), ("kr-b", 0.4)]
    assert rows("key_result_current") == [("kr-a", 0.9), ("kr-b", 0.4)]
