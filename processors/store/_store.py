"""Opening okrstream's ClickHouse store from Python, with its schema in place."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from clickhouse_connect.driver.client import Client

from schemas import Settings

from ..clickhouse import connect, ensure_schema


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[Client]:
    """A client on the configured store, closed afterwards.

    An embedded chDB store belongs to the one process that opened it: while `okrstream run`
    has it, ask that process over its HTTP API instead.
    """
    client = connect(settings)
    try:
        ensure_schema(client, settings)
        yield client
    finally:
        client.close()
