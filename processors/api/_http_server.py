"""The HTTP API as one FastAPI app, served by uvicorn inside `okrstream run` or alone (`okrstream serve`).

It joins the ingest routes (from `ingest`) with the query and admin routes (from here), and
gives them what lives in the store: the API keys.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import threading
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import uvicorn
from fastapi import FastAPI
from mode import Service

from ingest import BrokerWatch, Journal, KafkaLogWriter, LogWriter, collect_garbage_rarely
from schemas import (
    OKRSTREAM_VERSION,
    Access,
    ApiKey,
    AuthMode,
    EventTypeRegistry,
    KeyRing,
    MappingCatalog,
    Settings,
    new_api_key,
)

from ..board import Board, ScoreFeed, board_router
from ..okr import OkrLog
from ..sink import SinkStats
from ..store import ApiKeyStore, Store
from ._auth import Authenticator
from ._errors import install_error_handler
from ._ingest import EventIngest
from ._ingest_routes import IngestApi, ingest_router
from ._metrics_route import install_metrics
from ._okr_api import OkrApi, okr_router
from ._queries import QueryApi, query_router
from ._rate_limit import RateLimiter

log = logging.getLogger(__name__)
HTTP_FD_ENV = "OKRSTREAM_HTTP_FD"  # set by `okrstream run`'s supervisor for the pipeline it starts


class KeyRingCache:
    """The key ring as last read from the store, plus this run's local admin key (never stored).

    Reread every few seconds, so a key revoked by another process stops working here within
    `refresh_s`; one changed through this process takes effect at once. A key id the ring does
    not hold (a key made through another process of the service) is learnt before its request is
    answered: the request waits, while others go on, for the first reread that begins after it
    asked, since one that began earlier may have missed a key stored meanwhile. A reread that does
    not find a key asked about holds the next off for `miss_interval_s`, and the requests that
    wait share it, so a flood of made-up keys costs the store one read per interval. A request
    for a key made a moment ago waits at most the rest of a reread under way, the rest of the
    hold-off and its own reread; only if that passes `reread_timeout_s` is it refused. A store
    call that never returns stops these rereads until it does (the periodic one goes on apart).
    """

    def __init__(
        self,
        store: ApiKeyStore,
        local_admin: ApiKey | None,
        refresh_s: float = 5.0,
        miss_interval_s: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
        reread_timeout_s: float = 5.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,  # the clock's, for the hold-off
    ) -> None:
        self.store = store
        self._extra = [local_admin] if local_admin else []
        self._ring = KeyRing(self._extra)
        self._lock = threading.Lock()
        self.refresh_s = refresh_s
        self._miss_interval_s = miss_interval_s
        self._clock = clock
        self._sleep = sleep
        self._reread_timeout_s = reread_timeout_s
        self._quiet_until = float("-inf")  # no reread for an unknown key begins before then
        self._next_reread: asyncio.Future[None] | None = None  # asked for, not begun yet
        self._reading: asyncio.Future[None] | None = None  # the last one begun
        self._reads_begun = self._read_in_force = 0  # numbers reads of the store, in their order

    def ring(self) -> KeyRing:
        return self._ring

    async def learn(self, key_id: str) -> bool:
        """Whether the ring, reread if it does not hold `key_id` (see the class), has it active."""
        if self._ring.knows(key_id):
            return self._ring.active(key_id) is not None
        reread = self._next_reread
        if reread is None or not _pending_here(reread):
            reread = self._next_reread = asyncio.ensure_future(self._reread_when_allowed())
        try:
            await asyncio.wait_for(asyncio.shield(reread), self._reread_timeout_s)
        except TimeoutError:  # a slow store: the key stays unknown until a reread ends
            log.debug("no reread of the API keys within %s s", self._reread_timeout_s)
            return False
        if self._ring.active(key_id) is None:
            return False
        self._quiet_until = float("-inf")  # a real new key: the next one may reread at once
        return True

    async def _reread_when_allowed(self) -> None:
        """Reread once the hold-off is over and the last such reread has ended (a store that hangs
        holds one thread, not one per interval). Requests that ask from the moment it begins wait
        for the next one: this read may not see what was stored after it began. A failure is
        logged here, once, and leaves the ring as it was."""
        while True:
            if (wait := self._quiet_until - self._clock()) > 0:
                await self._sleep(wait)
            elif self._reading is not None and _pending_here(self._reading):
                await asyncio.wait([self._reading])
            else:
                break
        self._next_reread = None
        self._quiet_until = self._clock() + self._miss_interval_s
        self._reading = asyncio.ensure_future(asyncio.to_thread(self.refresh))
        try:
            await self._reading
        except Exception:  # the store may be away; the key stays unknown until it answers
            log.warning("could not reread API keys", exc_info=True)

    def refresh(self) -> None:
        """Reread the store. Reads run outside the lock (a slow store holds up no reader of the ring),
        so one that began before another may end after it: only a newer read replaces the ring,
        or a key revoked in between could come back for a while."""
        with self._lock:
            self._reads_begun += 1
            read = self._reads_begun
        keys = self.store.list()
        with self._lock:
            if read > self._read_in_force:
                self._read_in_force = read
                self._ring = KeyRing([*keys, *self._extra])

    async def keep_fresh(self) -> None:
        while True:
            await asyncio.sleep(self.refresh_s)
            try:
                await asyncio.to_thread(self.refresh)
            except Exception:  # the store may be briefly away; the last ring stays in force
                log.warning("could not reread API keys", exc_info=True)


def _pending_here(future: asyncio.Future[None]) -> bool:
    """Whether `future` is still to finish, on the running loop: one left on a loop that closed
    (a test's `asyncio.run`, say) never will."""
    return not future.done() and future.get_loop() is asyncio.get_running_loop()


def local_admin_key(token: str | None = None) -> tuple[str, ApiKey]:
    """A per-run admin key for commands on this machine; its token goes into run.json only.

    `token`: the run's key, made by the parent of this service's processes, instead of a new one.
    """
    return new_api_key("local admin (run.json)", Access.ADMIN, (), (), now=datetime.now(UTC), token=token)


def build_http_app(
    settings: Settings,
    store: Store,
    registry: EventTypeRegistry,
    mappings: MappingCatalog,
    log_writer: LogWriter,
    keys: KeyRingCache,
    stats: SinkStats | None = None,
    assigned: Callable[[], bool] | None = None,
    okr_log: OkrLog | None = None,
    broker_up: Callable[[], bool] | None = None,
    board: Board | None = None,
) -> FastAPI:
    app = FastAPI(
        title="okrstream",
        version=OKRSTREAM_VERSION,
        summary="Business events in, live KPIs and OKR scores out",
    )
    install_error_handler(app)
    install_metrics(app)
    required = settings.auth is AuthMode.REQUIRED
    auth = Authenticator(keys.ring if required else None, keys.learn if required else None)
    ingest = EventIngest(log_writer)
    app.include_router(
        ingest_router(
            IngestApi(settings, registry, mappings, ingest, auth, RateLimiter(settings.http_rate_limit))
        )
    )
    app.include_router(
        query_router(
            QueryApi(settings, store, registry, auth, keys.store, keys.refresh, stats, assigned, broker_up)
        )
    )
    app.include_router(okr_router(OkrApi(settings, store, auth, okr_log)))
    if board is not None:
        app.include_router(board_router(board))
    return app


@dataclass
class HttpApi:
    """The app with what its owner starts and stops: the key ring to refresh, the log writer to close."""

    app: FastAPI
    keys: KeyRingCache
    log_writer: KafkaLogWriter
    admin_token: str | None  # this run's local admin key, for run.json; None with auth disabled
    okr_log: OkrLog | None = None  # where `POST /v1/objectives/apply` writes definition versions
    board: Board | None = None  # the board at /board, whose live streams end before the server stops

    def server(self) -> ApiServer:
        """A uvicorn server for this app, which ends the board's live streams when it shuts down."""
        return ApiServer(server_config(self.app), on_shutdown=self.close_streams)

    def close_streams(self) -> None:
        if self.board is not None:
            self.board.close()

    def close(self) -> None:
        self.close_streams()
        self.log_writer.close()
        if self.okr_log is not None:
            self.okr_log.close()


def http_api(
    settings: Settings,
    store: Store,
    registry: EventTypeRegistry,
    mappings: MappingCatalog,
    bootstrap_servers: str,
    stats: SinkStats | None = None,
    assigned: Callable[[], bool] | None = None,
    journal: Journal | None = None,
    watch: BrokerWatch | None = None,
    admin_token: str | None = None,
) -> HttpApi:
    """The HTTP API on these services, as `okrstream run` and `okrstream serve` serve it.

    `admin_token`: the run's local admin key when another process made it (one of several
    `okrstream serve` processes); else this process makes one.
    """
    collect_garbage_rarely()  # ingest makes and drops a few objects per event
    required = settings.auth is AuthMode.REQUIRED
    token, admin = local_admin_key(admin_token) if required else (None, None)
    keys = KeyRingCache(ApiKeyStore(store, settings.clickhouse_database), admin)
    log_writer = KafkaLogWriter(bootstrap_servers, settings, settings.http_broker_timeout_s, journal, watch)
    okr_log = OkrLog(bootstrap_servers, settings)
    broker_up = (lambda: watch.up) if watch else None
    feed = ScoreFeed(bootstrap_servers, settings.okr_score_topic, settings.consumer_fetch_max_wait_ms)
    ring, learn = (keys.ring, keys.learn) if settings.auth is AuthMode.REQUIRED else (None, None)
    board = Board(settings, store, ring, feed, learn)
    app = build_http_app(
        settings, store, registry, mappings, log_writer, keys, stats, assigned, okr_log, broker_up, board
    )
    return HttpApi(app, keys, log_writer, token, okr_log, board)


def bind(settings: Settings, shared_port: bool = False) -> socket.socket:
    """The listening socket, bound before serving so that port 0 resolves to a known port.

    Under `okrstream run`'s supervisor it is the supervisor's socket, inherited: it outlives a
    pipeline's restart, and connections wait in its backlog meanwhile. `shared_port`: one of
    several sockets on the port (SO_REUSEPORT), among which the kernel spreads new connections
    evenly; a socket that one process accepts on would give a burst of them all to whichever
    process woke first.
    """
    if inherited := os.environ.get(HTTP_FD_ENV):
        return socket.socket(fileno=int(inherited))
    family = socket.AF_INET6 if ":" in settings.http_host else socket.AF_INET
    # IPPROTO_TCP named explicitly: asyncio sets TCP_NODELAY on accepted connections only for
    # such sockets, and without it a small answer waits on the client's delayed ACK (~40 ms)
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if shared_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((settings.http_host, settings.http_port))
    sock.set_inheritable(True)
    return sock


def url_of(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


class ApiServer(uvicorn.Server):
    """uvicorn that first ends the endless responses (the board's live streams) when it shuts down:
    it waits for every response to finish, and those never would."""

    def __init__(self, config: uvicorn.Config, on_shutdown: Callable[[], None] | None = None) -> None:
        super().__init__(config)
        self._on_shutdown = on_shutdown

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        if self._on_shutdown is not None:
            self._on_shutdown()
        await super().shutdown(sockets)


class EmbeddedServer(ApiServer):
    """uvicorn inside a process whose owner (the faust worker) handles signals itself."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


def server_config(app: FastAPI) -> uvicorn.Config:
    return uvicorn.Config(
        app,
        log_level="warning",
        access_log=False,
        lifespan="off",
        timeout_keep_alive=30,
        limit_concurrency=1000,  # beyond this, 503 instead of unbounded memory
    )


class HttpService(Service):
    """The HTTP API as a service of the faust worker: started with it, stopped with it."""

    def __init__(
        self,
        app: FastAPI,
        settings: Settings,
        keys: KeyRingCache,
        on_listening: Callable[[str], None],
        watch: BrokerWatch | None = None,
        on_shutdown: Callable[[], None] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._on_shutdown = on_shutdown
        self._watch = watch
        self._app = app
        self._settings = settings
        self._keys = keys
        self._on_listening = on_listening
        self._server: EmbeddedServer | None = None
        self._serving: asyncio.Future[None] | None = None
        self.url = ""

    async def on_start(self) -> None:
        await asyncio.to_thread(self._keys.refresh)
        sock = bind(self._settings)
        self._server = EmbeddedServer(server_config(self._app), self._on_shutdown)
        self._serving = self.add_future(self._server.serve(sockets=[sock]))
        while not self._server.started:
            await asyncio.sleep(0.02)
        self.url = url_of(sock)
        self._on_listening(self.url)

    @Service.task
    async def _refresh_keys(self) -> None:
        await self._keys.keep_fresh()

    @Service.task
    async def _watch_broker(self) -> None:
        if self._watch is not None:
            await self._watch.watch()

    async def on_stop(self) -> None:
        if self._server is not None and self._serving is not None:
            self._server.should_exit = True
            with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                await asyncio.wait_for(asyncio.shield(self._serving), 10)
