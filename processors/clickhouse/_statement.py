"""The one way a statement runs: `execute`, `fetch` or `insert` on a client.

Statements only describe themselves: a query or DDL object gives SQL with bound parameters
(`to_sql()`, never formatted text; several in order from `statements()`), an insert gives its
rows and where they go (`to_insert()`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client


class Statement(Protocol):
    def to_sql(self) -> tuple[str, dict[str, Any]]: ...


class Script(Protocol):
    """DDL that takes several statements, run in order (ClickHouse runs one per request)."""

    def statements(self) -> list[tuple[str, dict[str, Any]]]: ...


@dataclass(frozen=True)
class Rows:
    """What an insert writes: rows in `column_names` order into `database.table`."""

    table: str
    database: str
    rows: Sequence[Sequence[Any]]
    column_names: Sequence[str]
    settings: dict[str, Any] = field(default_factory=dict)  # e.g. the block's deduplication token


class Insert(Protocol):
    def to_insert(self) -> Rows: ...


def execute(client: Client, statement: Statement | Script) -> None:
    if hasattr(statement, "statements"):
        for sql, params in statement.statements():
            client.command(sql, parameters=params)
        return
    sql, params = statement.to_sql()
    client.command(sql, parameters=params)


def insert(client: Client, statement: Insert) -> None:
    """One block, as the statement describes it; nothing is sent for no rows."""
    rows = statement.to_insert()
    if rows.rows:
        client.insert(
            rows.table,
            list(rows.rows),
            column_names=list(rows.column_names),
            database=rows.database,
            settings=rows.settings or None,
        )


def fetch(client: Client, statement: Statement) -> list[tuple[Any, ...]]:
    sql, params = statement.to_sql()
    return [tuple(row) for row in client.query(sql, parameters=params).result_rows]


def stored_utc(at: datetime) -> datetime:
    """A time read back from ClickHouse as aware UTC, whether or not the driver attached the column's zone."""
    return at.replace(tzinfo=UTC) if at.tzinfo is None else at.astimezone(UTC)


@dataclass(frozen=True)
class Identifier:
    """A database or table name bound client-side (`%(name)s`), quoted by the driver.

    ClickHouse takes a plain view whose body holds `{name:Type}` for a parameterized view, read
    with its parameters; so view bodies use `%(name)s` placeholders, which clickhouse-connect
    fills with quoted literals (`format_query_value`) and these quoted names.
    """

    name: str

    def __str__(self) -> str:
        return quote_identifier(self.name)
