"""Create what okrstream needs in ClickHouse; safe to run at every start."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from schemas import Settings

from ._statement import execute, fetch
from .api_keys_ddl import CreateApiKeysTable
from .okr_ddl import (
    CopyLatestScores,
    CreateCurrentScoreViews,
    CreateKeyResultScores,
    CreateLatestScores,
    CreateLatestScoresView,
    CreateObjectiveScores,
    CreateOkrDefinitions,
    LatestScoresExist,
)
from .raw_events_ddl import AddEventIdIndex, CreateDatabase, CreateRawEvents


def ensure_schema(client: Client, settings: Settings) -> None:
    execute(client, CreateDatabase(settings.clickhouse_database))
    execute(client, CreateRawEvents(settings.clickhouse_database, settings.dedup_block_window))
    execute(client, AddEventIdIndex(settings.clickhouse_database))
    execute(client, CreateApiKeysTable(settings.clickhouse_database))
    execute(client, CreateOkrDefinitions(settings.clickhouse_database, settings.dedup_block_window))
    execute(client, CreateKeyResultScores(settings.clickhouse_database))
    execute(client, CreateObjectiveScores(settings.clickhouse_database))
    for kind in ("key_result", "objective"):
        _ensure_latest_scores(client, settings.clickhouse_database, kind)
    execute(client, CreateCurrentScoreViews(settings.clickhouse_database))


def _ensure_latest_scores(client: Client, database: str, kind: str) -> None:
    """The latest-score table and its view; a table made now is filled from the history kept so far.

    The copy runs after the view exists, so a row landing meanwhile is in the table once or twice
    (readers take the newest per id), never missing.
    """
    existed = LatestScoresExist.parse(fetch(client, LatestScoresExist(database, kind)))
    execute(client, CreateLatestScores(database, kind))
    execute(client, CreateLatestScoresView(database, kind))
    if not existed:
        execute(client, CopyLatestScores(database, kind))
