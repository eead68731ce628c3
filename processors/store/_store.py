"""okrstream's ClickHouse store behind one facade, so no code outside the store handles a driver client."""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterator
from typing import Any

from clickhouse_connect.driver.client import Client

from schemas import Settings

from ..clickhouse import Insert, Script, Statement, connect, ensure_schema, execute, fetch, insert
from ..metrics import STORE_STATEMENT_SECONDS


class Store:
    """One connection to the store: statements from `processors.clickhouse` run here, one way each.

    It owns its client; the rest of okrstream asks it for the operations it needs and never
    learns which driver, server or embedded chDB answers.
    """

    def __init__(self, client: Client) -> None:
        self._client = client

    @classmethod
    def connect(cls, settings: Settings) -> Store:
        """A connection to the configured store, its schema as found; the caller closes it."""
        return cls(connect(settings))

    def ensure_schema(self, settings: Settings) -> None:
        """Create what okrstream needs; safe at every start."""
        ensure_schema(self._client, settings)

    def execute(self, statement: Statement | Script) -> None:
        with _timed(statement):
            execute(self._client, statement)

    def fetch(self, statement: Statement) -> list[tuple[Any, ...]]:
        with _timed(statement):
            return fetch(self._client, statement)

    def insert(self, statement: Insert) -> None:
        """One block, as the statement describes it; nothing is sent for no rows."""
        with _timed(statement):
            insert(self._client, statement)

    def ping(self) -> None:
        """Raises when the store does not answer, with the driver's reason (for readiness)."""
        self._client.command("SELECT 1")

    def close(self) -> None:
        self._client.close()


@contextlib.contextmanager
def _timed(statement: object) -> Iterator[None]:
    """Observe the statement's time under its class's name, failures included."""
    started = time.perf_counter()
    try:
        yield
    finally:
        elapsed = time.perf_counter() - started
        STORE_STATEMENT_SECONDS.labels(statement=type(statement).__name__).observe(elapsed)


@contextlib.contextmanager
def open_store(settings: Settings) -> Iterator[Store]:
    """The configured store with its schema in place, closed afterwards.

    An embedded chDB store belongs to the one process that opened it: while `okrstream run`
    has it, ask that process over its HTTP API instead.
    """
    store = Store.connect(settings)
    try:
        store.ensure_schema(settings)
        yield store
    finally:
        store.close()
