"""The shape every query and DDL object shares: SQL with bound parameters, never formatted text."""

from __future__ import annotations

from typing import Any, Protocol

from clickhouse_connect.driver.client import Client


class Statement(Protocol):
    def to_sql(self) -> tuple[str, dict[str, Any]]: ...


def execute(client: Client, statement: Statement) -> None:
    sql, params = statement.to_sql()
    client.command(sql, parameters=params)


def fetch(client: Client, statement: Statement) -> list[tuple[Any, ...]]:
    sql, params = statement.to_sql()
    return client.query(sql, parameters=params).result_rows
