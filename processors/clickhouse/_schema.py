"""Create what okrstream needs in ClickHouse; safe to run at every start."""

from __future__ import annotations

from clickhouse_connect.driver.client import Client

from schemas import Settings

from ._statement import execute
from .raw_events_ddl import CreateDatabase, CreateRawEvents


def ensure_schema(client: Client, settings: Settings) -> None:
    execute(client, CreateDatabase(settings.clickhouse_database))
    execute(client, CreateRawEvents(settings.clickhouse_database, settings.dedup_block_window))
