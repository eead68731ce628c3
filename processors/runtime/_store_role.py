"""The embedded store's ClickHouse HTTP interface, served by the process that owns chDB.

`okrstream run` serves it beside the pipeline (the supervisor binds its socket, as the API's, so
a pipeline restart keeps it); `okrstream store` opens the embedded store and serves only this,
for workers and BI tools on other machines (CLICKHOUSE_URL, a ClickHouse data source).
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import socket
import sys
from collections.abc import Iterator
from typing import Any

import uvicorn
from mode import Service

from schemas import Settings

from ..clickhouse import describe
from ..metrics import serve_metrics
from ..store import StoreHttp, bind_store_http, open_store, store_http_url, store_users
from ._filesystem import slow_disk_warning


class _QuietSignals(uvicorn.Server):
    """uvicorn inside the faust worker, which handles the signals itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class _StopOnSignal(uvicorn.Server):
    """uvicorn that a signal stops, then returns (uvicorn itself raises the signal again on its way out,
    which would end the process before the store is closed)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        handlers = {sig: signal.signal(sig, self.handle_exit) for sig in (signal.SIGINT, signal.SIGTERM)}
        try:
            yield
        finally:
            for sig, handler in handlers.items():
                signal.signal(sig, handler)


class StoreHttpService(Service):
    """The interface as a service of the faust worker: started with it, stopped with it."""

    def __init__(self, settings: Settings, sock: socket.socket, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._settings = settings
        self._sock = sock
        self._http: StoreHttp | None = None
        self._server: _QuietSignals | None = None
        self._serving: asyncio.Future[None] | None = None

    async def on_start(self) -> None:
        self._http = await asyncio.to_thread(StoreHttp.for_settings, self._settings)
        self._server = _QuietSignals(self._http.server_config())
        self._serving = self.add_future(self._server.serve(sockets=[self._sock]))
        while not self._server.started and not self._serving.done():
            await asyncio.sleep(0.02)

    async def on_stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._serving), 10)
        if self._http is not None:
            await asyncio.to_thread(self._http.close)


def users_line(settings: Settings) -> str:
    """Who may connect, for people (never a password)."""
    users = store_users(settings)
    default = users["default"]
    line = (
        "default ("
        + ("password: OKRSTREAM_STORE_PASSWORD" if default.password else "this machine only")
        + ")"
    )
    if "bi" in users:
        line += ", bi (read-only, password: OKRSTREAM_STORE_BI_PASSWORD)"
    return line


def store(settings: Settings) -> int:
    """`okrstream store`: the embedded store alone, served over ClickHouse's HTTP interface until a signal."""
    from ._run_file import read_run_file, read_store_file, store_file, write_store_file

    if settings.clickhouse_url:
        print(
            "okrstream store: CLICKHOUSE_URL names a ClickHouse server; `okrstream store` serves the"
            " embedded one (unset CLICKHOUSE_URL)",
            file=sys.stderr,
        )
        return 2
    if settings.store_http_port is None:
        print("okrstream store: OKRSTREAM_STORE_HTTP_PORT is off: nothing to serve", file=sys.stderr)
        return 2
    if running := read_run_file(settings):
        where = running.get("store_http_url") or "its own process only"
        print(
            f"okrstream store: okrstream runs (pid {running['pid']}) and owns the embedded store;"
            f" its ClickHouse HTTP interface: {where}",
            file=sys.stderr,
        )
        return 2
    if served := read_store_file(settings):
        print(
            f"okrstream store: `okrstream store` (pid {served['pid']}) already serves this data dir"
            f" at {served['store_http_url']}",
            file=sys.stderr,
        )
        return 2
    try:
        sock = bind_store_http(settings)
    except OSError as e:
        print(
            f"okrstream store: cannot listen on {settings.store_http_host}:{settings.store_http_port}"
            f" (OKRSTREAM_STORE_HTTP_HOST, OKRSTREAM_STORE_HTTP_PORT): {e}",
            file=sys.stderr,
        )
        return 2
    try:
        metrics_port = serve_metrics(settings.http_host, settings.metrics_port)
    except OSError as e:
        sock.close()
        print(
            f"okrstream store: cannot serve /metrics on {settings.http_host}:{settings.metrics_port}"
            f" (OKRSTREAM_HTTP_HOST, OKRSTREAM_METRICS_PORT): {e}",
            file=sys.stderr,
        )
        return 2
    sock.listen(1024)  # from now on a client waits in the backlog until the interface answers
    with sock, open_store(settings):  # the schema in place before anyone connects
        http = StoreHttp.for_settings(settings)
        try:
            url = store_http_url(sock)
            port = sock.getsockname()[1]
            note = slow_disk_warning(settings)
            # commands on this data dir use the store through it, at an address on this machine
            here = url.replace("//0.0.0.0:", "//127.0.0.1:").replace("//[::]:", "//[::1]:")
            write_store_file(settings, here)
            print(
                f"okrstream store: {describe(settings)} over ClickHouse's HTTP interface at {url}\n"
                f"  users       {users_line(settings)}\n"
                f"  workers     CLICKHOUSE_URL=http://default:<password>@<this host>:{port}\n"
                f"  metrics     http://{settings.http_host}:{metrics_port}/metrics\n"
                + (f"{note}\n" if note else "")
                + "Ctrl-C stops it",
                flush=True,
            )
            _StopOnSignal(http.server_config()).run(sockets=[sock])  # until SIGINT or SIGTERM
        finally:
            store_file(settings).unlink(missing_ok=True)
            http.close()
    return 0
