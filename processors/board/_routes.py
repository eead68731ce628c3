"""The board's routes: its pages and files, login and logout, its reads, and the live stream.

Everything under `/board` but the login page and the static files asks for a session cookie
(see `_sessions`); the API's own `/v1` routes keep asking for `Authorization: Bearer` as before,
and never take the cookie. With `OKRSTREAM_AUTH=disabled` the board asks for nothing, as the API.
"""

from __future__ import annotations

import asyncio
import html
import urllib.parse
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from importlib import resources
from typing import Any

import orjson
from fastapi import APIRouter, Request, Response
from fastapi.responses import RedirectResponse, StreamingResponse

from schemas import ApiKey, Grain, KeyRing, Settings, Unauthenticated, parse_instant, token_key_id, utc_iso

from ..store import Store
from ._data import board_objectives, key_result_board, kpi_board
from ._feed import ScoreFeed, TooManyListeners
from ._sessions import SESSION_COOKIE, BoardSessions

KEEPALIVE_S = 15.0  # a ping this often: proxies keep the stream open, pages see it is alive
LOGIN_MAX_BYTES = 4096
_TYPES = {".html": "text/html; charset=utf-8", ".css": "text/css; charset=utf-8", ".js": "text/javascript"}
_SECURITY = {
    "Content-Security-Policy": (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:;"
        " connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


def _static_files() -> dict[str, tuple[bytes, str]]:
    """The board's files, shipped as package data: name -> (bytes, content type)."""
    found = {}
    for entry in resources.files(__package__).joinpath("static").iterdir():
        suffix = entry.name[entry.name.rfind(".") :]
        if entry.is_file() and suffix in _TYPES:
            found[entry.name] = (entry.read_bytes(), _TYPES[suffix])
    return found


@dataclass
class Board:
    """What the board reads: the store, the key ring (None: auth off) and the score feed."""

    settings: Settings
    store: Store
    ring: Callable[[], KeyRing] | None
    feed: ScoreFeed | None  # None: no broker to read scores from, so pages are not live
    learn: Callable[[str], Awaitable[bool]] | None = None  # asked of a key id the ring lacks
    sessions: BoardSessions | None = field(init=False)
    files: dict[str, tuple[bytes, str]] = field(init=False)

    def __post_init__(self) -> None:
        self.sessions = BoardSessions(self.ring) if self.ring is not None else None
        self.files = _static_files()

    async def caller(self, request: Request) -> ApiKey | bool | None:
        """The key a request's session stands for; True with auth off; None without a valid session."""
        if self.sessions is None:
            return True
        cookie = request.cookies.get(SESSION_COOKIE)
        key = self.sessions.key(cookie)
        key_id = self.sessions.key_id(cookie)
        if key is None and key_id is not None and await self.knows(key_id):
            key = self.sessions.key(cookie)
        return key if key is not None and key.may_read() else None

    async def knows(self, key_id: str) -> bool:
        """Whether the key is active, learnt from the store if the ring does not hold it yet."""
        return self.learn is not None and await self.learn(key_id)

    async def authenticate(self, ring: Callable[[], KeyRing], token: str) -> ApiKey:
        """The active key `token` proves (learnt as `knows` does); raises Unauthenticated otherwise."""
        try:
            return ring().authenticate(token)
        except Unauthenticated:
            key_id = token_key_id(token)
            if key_id is None or not await self.knows(key_id):
                raise
            return ring().authenticate(token)

    def page(self, name: str, status: int = 200, replace: dict[str, str] | None = None) -> Response:
        body, content_type = self.files[name]
        for placeholder, text in (replace or {}).items():
            body = body.replace(placeholder.encode(), text.encode())
        return Response(body, status, headers=_SECURITY, media_type=content_type)

    def close(self) -> None:
        if self.feed is not None:
            self.feed.close()


def _json(body: Any, status: int = 200) -> Response:
    return Response(
        orjson.dumps(body), status, media_type="application/json", headers={"Cache-Control": "no-store"}
    )


def _refused() -> Response:
    return _json({"error": "sign in to the board first: /board/login", "rule": "unauthenticated"}, 401)


def _sse(event: str, data: Any) -> bytes:
    return b"event: " + event.encode() + b"\ndata: " + orjson.dumps(data) + b"\n\n"


def _same_origin(request: Request) -> bool:
    """A form posted from another site is refused (the cookie is SameSite=Strict besides): by the
    browser's Sec-Fetch-Site where it sends one, else by Origin; a client sending neither (curl) is
    no browser a page could have steered."""
    site = request.headers.get("sec-fetch-site")
    if site is not None:
        return site in ("same-origin", "none")
    origin = request.headers.get("origin")
    if origin is None:
        return True
    return urllib.parse.urlsplit(origin).netloc == request.headers.get("host", "")


def board_router(board: Board) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    settings = board.settings

    @router.get("/")
    async def index() -> Response:
        return board.page("index.html")

    @router.get("/board")
    async def page(request: Request) -> Response:
        if await board.caller(request) is None:
            return RedirectResponse("/board/login", 303)
        return board.page("board.html")

    @router.get("/board/login")
    async def login_page(request: Request) -> Response:
        if board.sessions is None or await board.caller(request) is not None:
            return RedirectResponse("/board", 303)
        return board.page("login.html")

    @router.post("/board/login")
    async def login(request: Request) -> Response:
        if board.sessions is None or board.ring is None:
            return RedirectResponse("/board", 303)
        if not _same_origin(request):
            return _login_refused(board, "This form may only be sent from the board's own page.", 403)
        body = await request.body()
        if len(body) > LOGIN_MAX_BYTES:
            return _login_refused(board, "That is not an API key.", 400)
        form = urllib.parse.parse_qs(body.decode("utf-8", errors="replace"))
        token = (form.get("key") or [""])[0].strip()
        try:
            key = await board.authenticate(board.ring, token)
        except Unauthenticated:
            return _login_refused(
                board, "That key was not accepted: it is unknown, revoked or mistyped.", 401
            )
        if not key.may_read():
            return _login_refused(board, "That is a write key; the board needs a read or admin key.", 403)
        response = RedirectResponse("/board", 303)
        response.set_cookie(
            SESSION_COOKIE,
            board.sessions.issue(key),
            max_age=board.sessions.lifetime_s,
            path="/board",
            secure=request.url.scheme == "https",
            httponly=True,
            samesite="strict",
        )
        return response

    @router.post("/board/logout")
    async def logout(request: Request) -> Response:
        if not _same_origin(request):
            return _json({"error": "cross-site request", "rule": "forbidden"}, 403)
        response = RedirectResponse("/board/login" if board.sessions else "/board", 303)
        response.delete_cookie(SESSION_COOKIE, path="/board", httponly=True, samesite="strict")
        return response

    @router.get("/board/static/{name}")
    async def static(name: str) -> Response:
        if name not in board.files or name.endswith(".html"):
            return _json({"error": f"no file {name!r}", "rule": "not_found"}, 404)
        body, content_type = board.files[name]
        return Response(
            body,
            headers={"Cache-Control": "no-cache", "X-Content-Type-Options": "nosniff"},
            media_type=content_type,
        )

    @router.get("/board/api/session")
    async def session(request: Request) -> Response:
        who = await board.caller(request)
        if who is None:
            return _refused()
        key = who if isinstance(who, ApiKey) else None
        return _json(
            {
                "auth": board.sessions is not None,
                "key": None
                if key is None
                else {"id": key.key_id, "name": key.name, "access": key.access.value},
                "live": board.feed is not None,
                "timezone": settings.timezone,
            }
        )

    @router.get("/board/api/objectives")
    async def objectives(request: Request, as_of: str | None = None, by: str = "landed") -> Response:
        if await board.caller(request) is None:
            return _refused()
        try:
            instant = parse_instant(as_of) if as_of else None
            body = await asyncio.to_thread(board_objectives, board.store, settings, instant, by)
        except ValueError as e:
            return _json({"error": str(e), "rule": "bad_query"}, 400)
        return _json(body)

    @router.get("/board/api/key-results/{kr_id}")
    async def key_result(request: Request, kr_id: str) -> Response:
        if await board.caller(request) is None:
            return _refused()
        try:
            body = await asyncio.to_thread(key_result_board, board.store, settings, kr_id)
        except KeyError as e:
            return _json({"error": e.args[0], "rule": "unknown_key_result"}, 404)
        return _json(body)

    @router.get("/board/api/kpis")
    async def kpis(request: Request, grain: str = "quarter") -> Response:
        if await board.caller(request) is None:
            return _refused()
        try:
            body = await asyncio.to_thread(kpi_board, board.store, settings, Grain(grain))
        except ValueError as e:
            return _json({"error": str(e), "rule": "bad_query"}, 400)
        return _json(body)

    @router.get("/board/events")
    async def events(request: Request) -> Response:
        if await board.caller(request) is None:
            return _refused()
        feed = board.feed
        if feed is None:
            return _json({"error": "no broker to read scores from here", "rule": "unavailable"}, 503)
        if feed.listeners >= feed.max_listeners:
            return _json(
                {"error": "too many live pages on this process; retry soon", "rule": "unavailable"}, 503
            )
        cookie = request.cookies.get(SESSION_COOKIE)
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(
            _stream(board, feed, cookie), media_type="text/event-stream", headers=headers
        )

    return router


async def _stream(board: Board, feed: ScoreFeed, cookie: str | None) -> AsyncIterator[bytes]:
    """`ready` once the feed stands at the topic's ends (the page then reads the board), then every
    scored event as it comes; `resync` when some may have been missed; `logout` when the session
    ended (its key was revoked, or it expired)."""
    try:
        async with feed.listen() as queue:
            yield b"retry: 1000\n\n"
            live = await feed.positioned(timeout=10.0)
            yield _sse("ready", {"live": live, "at": utc_iso(datetime.now(UTC))})
            while True:
                try:
                    item = await asyncio.wait_for(queue.get(), KEEPALIVE_S)
                except TimeoutError:
                    if board.sessions is not None and board.sessions.key(cookie) is None:
                        yield _sse("logout", {})
                        return
                    yield _sse("ping", {"at": utc_iso(datetime.now(UTC))})
                    continue
                if item is None:
                    return
                yield _sse(str(item["type"]), item)
    except TooManyListeners:
        return


def _login_refused(board: Board, message: str, status: int) -> Response:
    shown = f'<p class="error" id="login-error" role="alert">{html.escape(message)}</p>'
    return board.page(
        "login.html", status, {'<p class="error" id="login-error" role="alert" hidden></p>': shown}
    )
