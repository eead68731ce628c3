"""The embedded store's ClickHouse HTTP interface served by uvicorn on a loopback port of the test process."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import clickhouse_connect
import pytest
import uvicorn
from clickhouse_connect.driver.client import Client
from pydantic import SecretStr

from processors.store import StoreHttp
from schemas import Settings

PASSWORD, BI_PASSWORD = "s3cret pass:word", "bi-pass"


@dataclass
class ServedStore:
    """The interface on a test's embedded store, with `default` (PASSWORD) and `bi` (BI_PASSWORD)."""

    http: StoreHttp
    settings: Settings  # the embedded store's settings (no CLICKHOUSE_URL)
    port: int
    clients: list[Client]

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def client(self, username: str = "default", password: str = PASSWORD, **kwargs: Any) -> Client:
        client = clickhouse_connect.get_client(
            host="127.0.0.1", port=self.port, username=username, password=password, **kwargs
        )
        self.clients.append(client)
        return client


@pytest.fixture
def serve_store(settings: Settings) -> Iterator[Callable[..., ServedStore]]:
    """`serve_store(**setting_overrides)`: the interface on this test's embedded store (its data dir)."""
    started: list[tuple[ServedStore, uvicorn.Server, threading.Thread]] = []

    def serve(**overrides: Any) -> ServedStore:
        embedded = settings.model_copy(
            update={
                "clickhouse_url": None,
                "store_password": SecretStr(PASSWORD),
                "store_bi_password": SecretStr(BI_PASSWORD),
                **overrides,
            }
        )
        http = StoreHttp.for_settings(embedded)
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        server = uvicorn.Server(uvicorn.Config(http.app, log_level="warning", lifespan="off"))
        thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
        thread.start()
        deadline = time.monotonic() + 20
        while not server.started:
            assert time.monotonic() < deadline, "the store's HTTP interface did not start"
            time.sleep(0.02)
        served = ServedStore(http, embedded, sock.getsockname()[1], [])
        started.append((served, server, thread))
        return served

    yield serve
    for served, server, thread in started:
        for client in served.clients:
            client.close()
        server.should_exit = True
        thread.join(timeout=20)
        served.http.close()


@pytest.fixture
def store_http(serve_store) -> ServedStore:
    """The interface on this test's embedded store, its users with passwords."""
    return serve_store()
