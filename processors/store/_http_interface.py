"""ClickHouse's HTTP interface on the embedded store, as a ClickHouse server answers its clients.

clickhouse-connect, the JS client, BI tools and `curl` speak to it as to a server on port 8123:
the query in the `query` parameter and/or the body (an INSERT's data after it, in its own format,
handed to chDB untouched), `param_<name>` for `{name:Type}`, settings as URL parameters,
`session_id`, users with passwords, HTTP compression, and errors as `Code: N. DB::Exception: ...`
with `X-ClickHouse-Exception-Code`. chDB produces and reads every format itself; the engine runs
one call at a time (see `_engine`).
"""

from __future__ import annotations

import base64
import binascii
import email.parser
import email.policy
import gzip
import hmac
import ipaddress
import json
import os
import socket
import tempfile
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import IO, Any, Protocol

import lz4.frame
import uvicorn
from backports import zstd
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from schemas import Settings

from ..clickhouse import chdb_path
from ..metrics import STORE_QUERIES, STORE_QUERY_SECONDS
from ._engine import Answer, Engine, Session, StoreError, Work, stricter
from ._sql_text import Request as SqlRequest
from ._sql_text import read_request

STORE_HTTP_FD_ENV = "OKRSTREAM_STORE_HTTP_FD"  # set by `okrstream run`'s supervisor for the pipeline
PEEK_BYTES = 64 * 1024  # enough of a body to find where an INSERT's data starts
MAX_QUERY_BYTES = 16 * 1024 * 1024  # a query (not an INSERT's data) read whole, at most this much
SPOOL_BYTES = 8 * 1024 * 1024  # an INSERT's data beyond this waits on disk, not in memory
CHUNK_BYTES = 1024 * 1024

# URL parameters that are not settings for chDB: the interface's own, and HTTP settings it applies itself
_NOT_SETTINGS = frozenset(
    {
        "query", "database", "default_format", "user", "password", "quota_key", "query_id", "role",
        "session_id", "session_timeout", "session_check", "close_session", "readonly", "compress",
        "decompress", "buffer_size", "wait_end_of_query", "client_protocol_version", "stacktrace",
        "enable_http_compression", "http_zlib_compression_level", "send_progress_in_http_headers",
        "http_headers_progress_interval_ms", "cancel_http_readonly_queries_on_client_close",
        "http_response_buffer_size", "http_wait_end_of_query",
    }
)  # fmt: skip

# HTTP status of a ClickHouse error, by its name (a server's own table); any other error is a 500
_STATUS = {
    401: {"REQUIRED_PASSWORD"},
    403: {"UNKNOWN_USER", "WRONG_PASSWORD", "AUTHENTICATION_FAILED", "SET_NON_GRANTED_ROLE", "ACCESS_DENIED"},
    400: {
        "BAD_ARGUMENTS", "CANNOT_COMPILE_REGEXP", "CANNOT_PARSE_TEXT", "CANNOT_PARSE_ESCAPE_SEQUENCE",
        "CANNOT_PARSE_QUOTED_STRING", "CANNOT_PARSE_DATE", "CANNOT_PARSE_DATETIME", "CANNOT_PARSE_NUMBER",
        "CANNOT_PARSE_DOMAIN_VALUE_FROM_STRING", "CANNOT_PARSE_IPV4", "CANNOT_PARSE_IPV6",
        "CANNOT_PARSE_INPUT_ASSERTION_FAILED", "CANNOT_PARSE_UUID", "DUPLICATE_COLUMN", "ILLEGAL_COLUMN",
        "UNKNOWN_ELEMENT_IN_AST", "UNKNOWN_TYPE_OF_AST_NODE", "THERE_IS_NO_COLUMN", "TOO_DEEP_AST",
        "TOO_BIG_AST", "UNEXPECTED_AST_STRUCTURE", "SYNTAX_ERROR", "INCORRECT_DATA", "TYPE_MISMATCH",
        "VALUE_IS_OUT_OF_RANGE_OF_DATA_TYPE",
    },
    404: {
        "UNKNOWN_TABLE", "UNKNOWN_FUNCTION", "UNKNOWN_IDENTIFIER", "UNKNOWN_TYPE", "UNKNOWN_STORAGE",
        "UNKNOWN_DATABASE", "UNKNOWN_SETTING", "UNKNOWN_DIRECTION_OF_SORTING", "UNKNOWN_AGGREGATE_FUNCTION",
        "UNKNOWN_FORMAT", "UNKNOWN_DATABASE_ENGINE", "UNKNOWN_TYPE_OF_QUERY", "UNKNOWN_ROLE",
    },
    413: {"QUERY_IS_TOO_LARGE"},
    501: {"NOT_IMPLEMENTED"},
    503: {"SOCKET_TIMEOUT", "CANNOT_OPEN_FILE", "CANNOT_SCHEDULE_TASK"},
    408: {"TIMEOUT_EXCEEDED"},
    415: {"UNSUPPORTED_MEDIA_TYPE"},
}  # fmt: skip
_STATUS_BY_NAME = {name: status for status, names in _STATUS.items() for name in names}


# ---- users -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StoreUser:
    """A user of the interface: `readonly` as ClickHouse's setting (1: reading only)."""

    name: str
    password: str | None  # None: no password, and then only clients on this machine (loopback)
    readonly: int = 0


def store_users(settings: Settings) -> dict[str, StoreUser]:
    """`default` with OKRSTREAM_STORE_PASSWORD (without one: loopback clients only); `bi`, read-only,
    when OKRSTREAM_STORE_BI_PASSWORD is set."""
    password = settings.store_password.get_secret_value() if settings.store_password else None
    users = {"default": StoreUser("default", password or None)}
    if settings.store_bi_password and settings.store_bi_password.get_secret_value():
        users["bi"] = StoreUser("bi", settings.store_bi_password.get_secret_value(), readonly=1)
    return users


def authenticate(
    users: Mapping[str, StoreUser], headers: Mapping[str, str], params: Mapping[str, str], client: str | None
) -> StoreUser:
    """The user a request names (Basic auth, X-ClickHouse-User/Key, or user/password parameters; else
    `default` without a password), or AUTHENTICATION_FAILED: one answer for any wrong name or password."""
    ways = []
    if (authorization := headers.get("authorization", "")).lower().startswith("basic "):
        try:
            name, _, password = (
                base64.b64decode(authorization[6:].strip(), validate=True).decode().partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            raise _auth_failed("default") from None
        ways.append((name, password))
    if "x-clickhouse-user" in headers or "x-clickhouse-key" in headers:
        ways.append((headers.get("x-clickhouse-user", "default"), headers.get("x-clickhouse-key", "")))
    if "user" in params or "password" in params:
        ways.append((params.get("user", "default"), params.get("password", "")))
    if len(ways) > 1:
        raise StoreError.of(
            516,
            "AUTHENTICATION_FAILED",
            "Invalid authentication: it is not allowed to use more than one way of authentication at once"
            " (Authorization header, X-ClickHouse-User/Key headers, user/password parameters)",
        )
    name, password = ways[0] if ways else ("default", "")
    name = name or "default"
    user = users.get(name)
    if user is None:
        hmac.compare_digest(password.encode(), b"x")  # as long as a wrong password takes
        raise _auth_failed(name)
    if user.password is None:
        if password or not _loopback(client):
            raise _auth_failed(name)
        return user
    if not hmac.compare_digest(password.encode(), user.password.encode()):
        raise _auth_failed(name)
    return user


def _auth_failed(name: str) -> StoreError:
    return StoreError.of(
        516,
        "AUTHENTICATION_FAILED",
        f"{name}: Authentication failed: password is incorrect, or there is no user with such name",
    )


def _loopback(client: str | None) -> bool:
    if client is None:  # not over IP (a Unix socket, an in-process test client)
        return True
    try:
        return ipaddress.ip_address(client.split("%")[0]).is_loopback
    except ValueError:
        return False


# ---- compression ---------------------------------------------------------------------------------


class _Decompressor(Protocol):
    @property
    def eof(self) -> bool: ...
    @property
    def unused_data(self) -> bytes: ...
    def decompress(self, data: bytes) -> bytes: ...


_DECOMPRESSORS: dict[str, Callable[[], _Decompressor]] = {
    "gzip": lambda: zlib.decompressobj(wbits=31),
    "x-gzip": lambda: zlib.decompressobj(wbits=31),
    "deflate": lambda: zlib.decompressobj(),
    "zstd": lambda: zstd.ZstdDecompressor(),
    "lz4": lambda: lz4.frame.LZ4FrameDecompressor(),
}
_ENCODERS: dict[str, Callable[[bytes, int], bytes]] = {
    "lz4": lambda body, _level: lz4.frame.compress(body),
    "zstd": lambda body, level: zstd.compress(body, level),
    "gzip": lambda body, level: gzip.compress(body, level, mtime=0),
    "deflate": lambda body, level: zlib.compress(body, level),
}


class _Decoder:
    """A body's Content-Encoding undone chunk by chunk; frames (gzip members) may follow one another."""

    def __init__(self, encoding: str) -> None:
        self._new = _DECOMPRESSORS[encoding]
        self._current = self._new()

    def decode(self, chunk: bytes) -> bytes:
        out = []
        while chunk:
            if self._current.eof:
                self._current = self._new()
            out.append(self._current.decompress(chunk))
            chunk = self._current.unused_data if self._current.eof else b""
        return b"".join(out)


def _decoder(encoding: str) -> _Decoder | None:
    encoding = encoding.strip().lower()
    if encoding in ("", "identity"):
        return None
    if encoding not in _DECOMPRESSORS:
        raise StoreError.of(
            48,
            "NOT_IMPLEMENTED",
            f"Content-Encoding '{encoding}' is not supported by okrstream's store;"
            " use gzip, deflate, zstd or lz4",
        )
    return _Decoder(encoding)


def _response_encoding(accept: str) -> str | None:
    """The first encoding the client accepts that the interface can write (in the client's order)."""
    for part in accept.split(","):
        name = part.split(";")[0].strip().lower()
        if name in _ENCODERS:
            return name
    return None


# ---- the interface -------------------------------------------------------------------------------


class StoreHttp:
    """ClickHouse's HTTP interface on the store in `path`: an ASGI app; `close()` closes the engine."""

    def __init__(self, path: str, users: Mapping[str, StoreUser], display_name: str | None = None) -> None:
        self.engine = Engine(path)
        self.users = dict(users)
        self.display_name = display_name or socket.gethostname()
        self.app = Starlette(
            routes=[
                Route("/", self._root, methods=["GET", "POST"]),
                Route("/ping", self._ping, methods=["GET", "HEAD"]),
            ]
        )

    @classmethod
    def for_settings(cls, settings: Settings) -> StoreHttp:
        """The interface on the settings' embedded store (chDB in the data dir), with their users."""
        path = chdb_path(settings)
        path.mkdir(parents=True, exist_ok=True)
        return cls(os.path.realpath(path), store_users(settings))

    def server_config(self) -> uvicorn.Config:
        return uvicorn.Config(
            self.app,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_keep_alive=30,
            limit_concurrency=1000,  # beyond this, 503 instead of unbounded memory
        )

    def close(self) -> None:
        self.engine.close()

    async def _ping(self, _request: Request) -> Response:
        return PlainTextResponse("Ok.\n")

    async def _root(self, request: Request) -> Response:
        started = time.perf_counter()
        response = await self._answer_root(request)
        STORE_QUERY_SECONDS.observe(time.perf_counter() - started)
        STORE_QUERIES.labels(status=str(response.status_code)).inc()
        return response

    async def _answer_root(self, request: Request) -> Response:
        params = dict(request.query_params)
        query_id = params.get("query_id") or str(uuid.uuid4())
        if request.method == "GET" and "query" not in params:
            return PlainTextResponse("Ok.\n")
        try:
            with tempfile.SpooledTemporaryFile(SPOOL_BYTES) as spool:
                return await self._query(request, params, query_id, spool)
        except StoreError as error:
            return self._error(error, query_id)

    async def _query(
        self, request: Request, params: dict[str, str], query_id: str, spool: IO[bytes]
    ) -> Response:
        if params.get("compress", "0") not in ("", "0") or params.get("decompress", "0") not in ("", "0"):
            raise StoreError.of(
                48,
                "NOT_IMPLEMENTED",
                "ClickHouse's own compressed blocks (compress=1, decompress=1) are not supported by this"
                " store; use HTTP compression (Content-Encoding, or enable_http_compression=1 with"
                " Accept-Encoding)",
            )
        decoder = _decoder(request.headers.get("content-encoding", ""))
        form = request.headers.get("content-type", "").lower().startswith("multipart/form-data")
        if form:
            params |= await _form_fields(request, decoder)
        client = request.client.host if request.client else None
        user = authenticate(self.users, request.headers, params, client)
        if request.method == "POST" and not form:
            await _receive(request, decoder, spool)
        work = _work(request, params, user, spool)
        answer = await self.engine.answer(work)
        return self._answer(request, params, query_id, work, answer)

    def _answer(
        self, request: Request, params: Mapping[str, str], query_id: str, work: Work, answer: Answer
    ) -> Response:
        headers = {
            "X-ClickHouse-Query-Id": query_id,
            "X-ClickHouse-Server-Display-Name": self.display_name,
            "X-ClickHouse-Summary": json.dumps(answer.summary, separators=(",", ":")),
        }
        media_type = "text/plain; charset=UTF-8"
        body = answer.body
        if work.answers_rows:
            fmt = work.result_format or work.default_format
            headers["X-ClickHouse-Format"] = fmt
            if answer.timezone:
                headers["X-ClickHouse-Timezone"] = answer.timezone
            media_type = _content_type(fmt)
        if body and params.get("enable_http_compression", "0") not in ("", "0"):
            encoding = _response_encoding(request.headers.get("accept-encoding", ""))
            if encoding:
                level = int(params.get("http_zlib_compression_level", "3") or 3)
                body = _ENCODERS[encoding](body, max(1, min(level, 9)))
                headers["Content-Encoding"] = encoding
        return Response(body, headers=headers, media_type=media_type)

    def _error(self, error: StoreError, query_id: str) -> Response:
        return PlainTextResponse(
            f"{error.text} (version {self.engine.version})\n",
            status_code=_STATUS_BY_NAME.get(error.name, 500),
            headers={
                "X-ClickHouse-Exception-Code": str(error.code),
                "X-ClickHouse-Query-Id": query_id,
                "X-ClickHouse-Server-Display-Name": self.display_name,
            },
        )


def _work(request: Request, params: Mapping[str, str], user: StoreUser, spool: IO[bytes]) -> Work:
    """The engine's work for one request: its statement (and an INSERT's data), user, session and settings."""
    query = params.get("query", "").encode()
    prefix = query + b"\n" if query else b""
    spool.seek(0)
    text = prefix + spool.read(PEEK_BYTES)
    sql = read_request(text)
    if sql.insert is None:
        text += spool.read(MAX_QUERY_BYTES - len(text) + 1)
        if len(text) > MAX_QUERY_BYTES:
            raise _too_large("query")
        sql = read_request(text)
    _refuse(sql)
    get = 2 if request.method == "GET" else 0  # GET reads only, as on a server
    readonly = stricter(user.readonly, _level(params.get("readonly", "0")), get)
    work = Work(
        user=user.name,
        user_readonly=user.readonly,
        readonly=readonly,
        kind=sql.kind,
        session=_session(params),
        database=params.get("database") or request.headers.get("x-clickhouse-database") or None,
        settings={k: v for k, v in params.items() if k not in _NOT_SETTINGS and not k.startswith("param_")},
        params={k[6:]: v for k, v in params.items() if k.startswith("param_")},
        default_format=params.get("default_format")
        or request.headers.get("x-clickhouse-format")
        or "TabSeparated",
        answers_rows=sql.answers_rows,
        result_format=sql.result_format,
    )
    if sql.insert is None:
        work.sql = text[: sql.statement_end] if sql.statement_end < len(text) else text
    else:
        work.insert = sql.insert
        start = sql.insert.data_start
        head = text[start : len(prefix)] if start < len(prefix) else b""
        work.data = _data(head, spool, max(0, start - len(prefix)))
    return work


def _too_large(what: str) -> StoreError:
    return StoreError.of(
        62, "SYNTAX_ERROR", f"Max query size exceeded: the {what} is over {MAX_QUERY_BYTES} bytes"
    )


def _refuse(sql: SqlRequest) -> None:
    """What a ClickHouse server refuses over HTTP before running anything."""
    if not sql.kind:
        raise StoreError.of(62, "SYNTAX_ERROR", "Empty query")
    if sql.several_statements:
        raise StoreError.of(62, "SYNTAX_ERROR", "Multi-statements are not allowed")
    if sql.into_outfile:
        raise StoreError.of(358, "INTO_OUTFILE_NOT_ALLOWED", "INTO OUTFILE is not allowed")
    if sql.from_infile:
        raise StoreError.of(78, "UNKNOWN_TYPE_OF_QUERY", "Query has infile and was send directly to server")


def _data(head: bytes, spool: IO[bytes], offset: int) -> Iterator[bytes]:
    """An INSERT's data: what followed its FORMAT in the `query` parameter, then the body from `offset`."""
    if head:
        yield head
    spool.seek(offset)
    while chunk := spool.read(CHUNK_BYTES):
        yield chunk


def _level(value: str) -> int:
    if value.strip() not in ("", "0", "1", "2"):
        raise StoreError.of(36, "BAD_ARGUMENTS", f"readonly must be 0, 1 or 2, got '{value}'")
    return int(value.strip() or 0)


def _session(params: Mapping[str, str]) -> Session | None:
    if not params.get("session_id"):
        return None
    try:
        timeout = int(params.get("session_timeout") or 60)
    except ValueError:
        raise StoreError.of(36, "BAD_ARGUMENTS", "session_timeout must be a number of seconds") from None
    on = ("1", "true")
    return Session(
        params["session_id"],
        timeout,
        params.get("session_check", "0").lower() in on,
        params.get("close_session", "0").lower() in on,
    )


async def _receive(request: Request, decoder: _Decoder | None, spool: IO[bytes]) -> None:
    try:
        async for chunk in request.stream():
            spool.write(decoder.decode(chunk) if decoder is not None else chunk)
    except (zlib.error, zstd.ZstdError, RuntimeError) as e:
        raise StoreError.of(271, "CANNOT_DECOMPRESS", f"Cannot decompress the request body: {e}") from None


async def _form_fields(request: Request, decoder: _Decoder | None) -> dict[str, str]:
    """A multipart form's fields (`query`, `param_<name>`, settings), as a server reads them; no files."""
    body = bytearray()
    async for chunk in request.stream():
        body += decoder.decode(chunk) if decoder is not None else chunk
        if len(body) > MAX_QUERY_BYTES:
            raise _too_large("form")
    header = f"Content-Type: {request.headers['content-type']}\r\n\r\n".encode()
    message = email.parser.BytesParser(policy=email.policy.HTTP).parsebytes(header + bytes(body))
    fields = {}
    for part in message.iter_parts() if message.is_multipart() else ():
        if part.get_filename():
            raise StoreError.of(
                48, "NOT_IMPLEMENTED", "External data (a file in the form) is not supported by this store"
            )
        name = part.get_param("name", header="content-disposition")
        payload: Any = part.get_payload(decode=True)
        if isinstance(name, str):
            fields[name] = bytes(payload or b"").decode()
    return fields


def _content_type(fmt: str) -> str:
    lower = fmt.lower()
    if lower.startswith(("tabseparated", "tsv")):
        return "text/tab-separated-values; charset=UTF-8"
    if lower.startswith("csv"):
        return f"text/csv; charset=UTF-8; header={'present' if 'withnames' in lower else 'absent'}"
    if lower.startswith(("json", "ndjson")):
        return (
            "application/x-ndjson; charset=UTF-8"
            if "eachrow" in lower or "lines" in lower or lower.startswith("ndjson")
            else "application/json; charset=UTF-8"
        )
    if lower.startswith("xml"):
        return "application/xml; charset=UTF-8"
    if lower.startswith(("native", "rowbinary", "parquet", "arrow", "orc", "avro", "protobuf", "msgpack")):
        return "application/octet-stream"
    return "text/plain; charset=UTF-8"


def store_http_url(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://{f'[{host}]' if ':' in host else host}:{port}"


def bind_store_http(settings: Settings) -> socket.socket:
    """The interface's listening socket (inherited under `okrstream run`'s supervisor); OSError when taken."""
    if inherited := os.environ.get(STORE_HTTP_FD_ENV):
        return socket.socket(fileno=int(inherited))
    family = socket.AF_INET6 if ":" in settings.store_http_host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind((settings.store_http_host, settings.store_http_port or 0))
    except OSError:
        sock.close()
        raise
    sock.set_inheritable(True)
    return sock
