"""The embedded store's chDB engine as its HTTP interface drives it: one thread, one handle per request.

chDB runs in this process; its Python handles (`chdb.connect`) each carry a ClickHouse session
(USE, SET, temporary tables). Every call of the interface runs on one thread, one at a time, so
the engine is never used from two of its threads at once. A request without `session_id` gets a
fresh handle with its user's read-only level and its settings, closed afterwards; a session keeps
its handle until it has been idle for its timeout, and a request's settings apply to that request
only, as on a ClickHouse server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections.abc import Iterable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import chdb

from ._sql_text import READ_KINDS, InsertData

_SETTING_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_CODE = re.compile(r"Code: (\d+)\. ")
MAX_SESSION_TIMEOUT_S = 3600  # a server's max_session_timeout default
STD_EXCEPTION = 1001


class StoreError(Exception):
    """A ClickHouse exception: its code and its text, `Code: N. DB::Exception: ... (NAME)`."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(text)
        self.code = code
        self.text = text

    @classmethod
    def of(cls, code: int, name: str, message: str) -> StoreError:
        return cls(code, f"Code: {code}. DB::Exception: {message}. ({name})")

    @classmethod
    def from_engine(cls, error: Exception) -> StoreError:
        """chDB's error as ClickHouse words it (chDB's Python layer may put words before `Code: `)."""
        message = str(error)
        at = message.find("Code: ")
        if at >= 0 and (m := _CODE.match(message, at)):
            return cls(int(m.group(1)), message[at:].strip())
        return cls.of(STD_EXCEPTION, "STD_EXCEPTION", message.strip() or type(error).__name__)

    @property
    def name(self) -> str:
        """The error's name, e.g. UNKNOWN_TABLE, from the end of its text."""
        m = re.search(r"\(([A-Z0-9_]+)\)\s*$", self.text)
        return m.group(1) if m else ""


@dataclass(frozen=True)
class Session:
    """A request's `session_id`, `session_timeout`, `session_check` and `close_session`."""

    id: str
    timeout_s: int = 60
    check: bool = False
    close: bool = False


@dataclass
class Work:
    """One request for the engine: a statement, or an INSERT and its data."""

    user: str
    user_readonly: int  # the user's `readonly` level: 1 allows reading only
    readonly: int  # this request's level, at least as strict as the user's (`stricter`); GET asks for 2
    kind: str  # the statement's first keyword
    sql: bytes = b""  # the statement, unless `insert` is set
    insert: InsertData | None = None
    data: Iterable[bytes] = ()  # the INSERT's data, in its format, read on the engine's thread
    session: Session | None = None
    database: str | None = None
    settings: Mapping[str, str] = field(default_factory=dict)
    params: Mapping[str, str] = field(default_factory=dict)
    default_format: str = "TabSeparated"
    answers_rows: bool = False  # then the answer names the time zone it used
    result_format: str | None = None  # the FORMAT the statement names, else `default_format` applies


@dataclass(frozen=True)
class Answer:
    body: bytes
    summary: dict[str, str]
    timezone: str | None


@dataclass
class _OpenSession:
    handle: Any
    readonly: int
    timeout_s: int
    last_used: float


class Engine:
    """chDB at `path`, driven from one thread; one handle stays open so the engine lives between requests."""

    def __init__(self, path: str) -> None:
        self._path = path
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="okrstream-store-http")
        self._sessions: dict[tuple[str, str], _OpenSession] = {}
        self._anchor = self._thread.submit(chdb.connect, path).result()
        version = self._thread.submit(self._anchor.query, "SELECT version()", "TabSeparated").result()
        self.version = version.bytes().decode().strip()

    async def answer(self, work: Work) -> Answer:
        return await asyncio.get_running_loop().run_in_executor(self._thread, self._answer, work)

    def close(self) -> None:
        """Close every session and the engine's last handle, once the calls under way are done."""

        def close_all() -> None:
            for session in self._sessions.values():
                _close(session.handle)
            self._sessions.clear()
            _close(self._anchor)

        self._thread.submit(close_all).result()
        self._thread.shutdown(wait=True)

    # ---- on the engine's thread -----------------------------------------------------------

    def _answer(self, work: Work) -> Answer:
        self._expire_sessions()
        if strictness(work.readonly) == strictness(1):
            _check_readonly(work)  # reading only, no settings changed (chDB alone would allow SET)
        if work.session is None:
            handle = chdb.connect(self._path)
            try:
                self._prepare(handle, work)
                return self._run(handle, work)
            finally:
                _close(handle)
        session = self._session(work)
        try:
            if strictness(work.readonly) > strictness(session.readonly):
                _check_readonly(work)  # a session's level cannot be raised for one request and lowered again
            with self._overlay(session.handle, work):
                return self._run(session.handle, work)
        finally:
            session.last_used = time.monotonic()
            if work.session.close:
                self._sessions.pop((work.user, work.session.id), None)
                _close(session.handle)

    def _prepare(self, handle: Any, work: Work) -> None:
        """A fresh handle: the request's read-only level first (chDB keeps it from being lowered), then
        its settings and database."""
        if work.readonly:
            _query(handle, f"SET readonly = {work.readonly}")
        if work.settings:
            _query(handle, "SET " + _assignments(work.settings))
        if work.database:
            _query(handle, f"USE {_identifier(work.database)}")

    @contextlib.contextmanager
    def _overlay(self, handle: Any, work: Work) -> Iterator[None]:
        """A session's handle with this request's settings and database, as it was afterwards."""
        restore: list[str] = []
        try:
            if work.settings:
                names = ", ".join(_literal(_setting_name(n)) for n in work.settings)
                sql = f"SELECT name, value, changed FROM system.settings WHERE name IN ({names})"
                found = _query(handle, sql, "JSONEachRow")
                before = {row["name"]: row for row in map(json.loads, found.bytes().splitlines())}
                _query(handle, "SET " + _assignments(work.settings))
                restore.append("SET " + ", ".join(_restoring(n, before.get(n)) for n in work.settings))
            if work.database:
                current = _query(handle, "SELECT currentDatabase()").bytes().decode().strip()
                if current != work.database:
                    _query(handle, f"USE {_identifier(work.database)}")
                    restore.append(f"USE {_identifier(current)}")
            yield
        finally:
            for statement in reversed(restore):
                with contextlib.suppress(StoreError):
                    _query(handle, statement)

    def _run(self, handle: Any, work: Work) -> Answer:
        if work.insert is not None:
            return self._insert(handle, work, work.insert)
        result = _query(handle, work.sql, work.default_format, work.params)
        body = result.bytes() or b""
        summary = {
            "read_rows": str(result.storage_rows_read()),
            "read_bytes": str(result.storage_bytes_read()),
            "written_rows": str(result.rows_written()),
            "written_bytes": str(result.bytes_written()),
            "total_rows_to_read": str(result.storage_rows_read()),
            "result_rows": str(result.rows_read()),
            "result_bytes": str(len(body)),
            "elapsed_ns": str(int(result.elapsed() * 1e9)),
        }
        timezone = _query(handle, "SELECT timezone()").bytes().decode().strip() if work.answers_rows else None
        return Answer(body, summary, timezone)

    def _insert(self, handle: Any, work: Work, insert: InsertData) -> Answer:
        if work.params:
            raise StoreError.of(
                48, "NOT_IMPLEMENTED", "Query parameters in an INSERT followed by its data are not supported"
            )
        try:
            inserter = handle.send_insert(insert.statement, insert.format)
        except Exception as e:
            raise StoreError.from_engine(e) from None
        try:
            for chunk in work.data:
                inserter.append(chunk)
            done = inserter.finish()
        except Exception as e:
            with contextlib.suppress(Exception):
                inserter.cancel()
            raise StoreError.from_engine(e) from None
        written = (str(done.rows_written), str(done.bytes_written))
        summary = {
            "read_rows": written[0],
            "read_bytes": written[1],
            "written_rows": written[0],
            "written_bytes": written[1],
            "total_rows_to_read": "0",
            "result_rows": written[0],
            "result_bytes": written[1],
            "elapsed_ns": str(int(done.elapsed * 1e9)),
        }
        return Answer(b"", summary, None)

    def _session(self, work: Work) -> _OpenSession:
        assert work.session is not None
        key = (work.user, work.session.id)
        if work.session.timeout_s > MAX_SESSION_TIMEOUT_S:
            raise StoreError.of(
                36,
                "BAD_ARGUMENTS",
                f"Session timeout {work.session.timeout_s} is larger than max_session_timeout:"
                f" {MAX_SESSION_TIMEOUT_S}",
            )
        session = self._sessions.get(key)
        if session is None:
            if work.session.check:
                raise StoreError.of(372, "SESSION_NOT_FOUND", f"Session {work.session.id} not found")
            handle = chdb.connect(self._path)
            try:
                if work.user_readonly:
                    _query(handle, f"SET readonly = {work.user_readonly}")
            except StoreError:
                _close(handle)
                raise
            session = self._sessions[key] = _OpenSession(handle, work.user_readonly, 0, 0.0)
        session.timeout_s = work.session.timeout_s
        return session

    def _expire_sessions(self) -> None:
        now = time.monotonic()
        for key, session in list(self._sessions.items()):
            if now - session.last_used > session.timeout_s:
                del self._sessions[key]
                _close(session.handle)


def strictness(readonly: int) -> int:
    """How much a `readonly` level forbids: 0 nothing, 2 changing data, 1 changing data and settings."""
    return {0: 0, 2: 1}.get(readonly, 2)


def stricter(*levels: int) -> int:
    """The strictest of `readonly` levels (1 is stricter than 2)."""
    return max(levels, key=strictness)


def _check_readonly(work: Work) -> None:
    """What the request's `readonly` level refuses before chDB sees it: 1 reads only, 2 may also SET."""
    allowed = READ_KINDS | ({"USE", "SET"} if work.readonly == 2 else {"USE"})
    if work.kind not in allowed:
        hint = ". For queries over HTTP, method GET implies readonly. Use method POST for modifying queries"
        raise StoreError.of(
            164,
            "READONLY",
            f"{work.user}: Cannot execute query in readonly mode{hint if work.readonly == 2 else ''}",
        )
    if work.readonly == 1 and work.settings:
        name = next(iter(work.settings))
        raise StoreError.of(164, "READONLY", f"Cannot modify '{name}' setting in readonly mode")


def _query(handle: Any, sql: str | bytes, fmt: str = "TabSeparated", params: Mapping[str, str] = {}) -> Any:
    try:
        return handle.query(sql, fmt, params=dict(params))
    except Exception as e:
        raise StoreError.from_engine(e) from None


def _close(handle: Any) -> None:
    with contextlib.suppress(Exception):
        handle.close()


def _setting_name(name: str) -> str:
    if not _SETTING_NAME.match(name):
        raise StoreError.of(115, "UNKNOWN_SETTING", f"Unknown setting '{name}'")
    return name


def _literal(value: str) -> str:
    """A string literal: ClickHouse turns it into the setting's type."""
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _identifier(name: str) -> str:
    return "`" + name.replace("\\", "\\\\").replace("`", "\\`") + "`"


def _assignments(settings: Mapping[str, str]) -> str:
    return ", ".join(f"{_setting_name(name)} = {_literal(value)}" for name, value in settings.items())


def _restoring(name: str, before: Mapping[str, Any] | None) -> str:
    """The assignment that puts a session's setting back as it was (`DEFAULT` when it was not changed)."""
    if before is None or not before["changed"]:
        return f"{name} = DEFAULT"
    value = str(before["value"])
    # a value shown quoted is an expression's text (e.g. 'auto(4)'): given back as it is
    literal = value if len(value) >= 2 and value[0] == value[-1] == "'" else _literal(value)
    return f"{name} = {literal}"
