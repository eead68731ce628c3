"""One way to reach ClickHouse: a server named by CLICKHOUSE_URL, else embedded chDB in the data dir.

Both go through clickhouse-connect, so every statement is written once. chDB allows one data
path per process: in embedded mode the `okrstream run` process owns the store and other
commands read through its HTTP API (or open the store themselves when nothing runs). The
first time a process opens the embedded store, it forgets the insert tokens that a killed
owner left without their parts (see lost_tokens).
"""

from __future__ import annotations

import logging
from pathlib import Path
from urllib.parse import urlsplit

import clickhouse_connect
from clickhouse_connect.driver.client import Client

from schemas import Settings

from .lost_tokens import forget_lost_tokens

log = logging.getLogger(__name__)
_opened: set[Path] = set()  # the chDB paths this process has opened


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
    if path.resolve() not in _opened:  # then chDB has loaded nothing of it in this process
        _forget_lost_tokens(path)
    client = clickhouse_connect.get_client(interface="chdb", path=str(path))
    _opened.add(path.resolve())
    return client


def _forget_lost_tokens(path: Path) -> None:
    lost = forget_lost_tokens(path)
    if lost is None:
        log.warning("%s is open in another process: not checked for lost insert tokens", path)
    for token in lost or ():
        log.warning(
            "%s remembered insert token %s for part %s, which never landed (the store was"
            " killed inside that insert): forgotten, so the block's replay lands",
            token.table,
            token.token,
            token.part,
        )


def describe(settings: Settings) -> str:
    """Where the data lives, for people: a password in CLICKHOUSE_URL is shown as `***`."""
    if not settings.clickhouse_url:
        return f"embedded chDB at {chdb_path(settings)}"
    url = urlsplit(settings.clickhouse_url)
    userinfo, at, host = url.netloc.rpartition("@")
    if not at or ":" not in userinfo:
        return settings.clickhouse_url
    return url._replace(netloc=f"{userinfo.partition(':')[0]}:***@{host}").geturl()
