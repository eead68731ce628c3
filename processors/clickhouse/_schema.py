"""Create what okrstream needs in ClickHouse; safe to run at every start."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from schemas import Settings

from ._statement import execute
from .api_keys_ddl import CreateApiKeysTable
from .okr_ddl import (
    CreateCurrentScoreViews,
    CreateKeyResultScores,
    CreateObjectiveScores,
    CreateOkrDefinitions,
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
    for sql, params in CreateCurrentScoreViews(settings.clickhouse_database).statements():
        client.command(sql, parameters=params)
