"""One way to reach ClickHouse: a server named by CLICKHOUSE_URL, else embedded chDB in the data dir.

Both go through clickhouse-connect, so every statement is written once. chDB allows one data
path per process: in embedded mode the `okrstream run` process owns the store and other
commands read through its HTTP API (or open the store themselves when nothing runs).
"""

from __future__ import annotations

from pathlib import Path

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from schemas import Settings


def chdb_path(settings: Settings) -> Path:
    return settings.data_dir / "chdb"


def connect(settings: Settings) -> Client:
    """A clickhouse-connect client for the configured backend (a `chdb://` URL also works)."""
    if settings.clickhouse_url:
        # No HTTP session: okrstream keeps no session state (no temporary tables, no SET), and a
        # session admits one query at a time, while the API's threads, the sink and the scorer
        # share one store.
        return clickhouse_connect.get_client(dsn=settings.clickhouse_url, autogenerate_session_id=False)
    path = chdb_path(settings)
    path.mkdir(parents=True, exist_ok=True)
    return clickhouse_connect.get_client(interface="chdb", path=str(path))


def describe(settings: Settings) -> str:
    """Where the data lives, for people."""
    return settings.clickhouse_url or f"embedded chDB at {chdb_path(settings)}"
