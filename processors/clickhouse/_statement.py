"""The shape every query and DDL object shares: SQL with bound parameters, never formatted text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from clickhouse_connect.driver.binding import quote_identifier
from clickhouse_connect.driver.client import Client


class Statement(Protocol):
    def to_sql(self) -> tuple[str, dict[str, Any]]: ...


def execute(client: Client, statement: Statement) -> None:
    sql, params = statement.to_sql()
    client.command(sql, parameters=params)


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
