"""The one path of every CLI command that reads or changes what the store holds.

In embedded mode the running `okrstream run` owns the chDB store, so a command asks it over its
HTTP API; with nothing running, the command opens the store itself. `Backend.answer` takes both
ways of getting one answer, and the two give the same JSON. The running process writes its URL
and a per-run admin token into `run.json` in the data dir (readable only by its owner); commands
on the same machine present that token.
"""

from __future__ import annotations

import argparse
import concurrent.futures
import contextlib
import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from schemas import ConfigError, FieldError, Settings

from ..runtime import read_run_file

if TYPE_CHECKING:
    from ..store import Store


@dataclass(frozen=True)
class ApiCall:
    """A request to the running process's HTTP API."""

    path: str
    body: bytes | None = None
    headers: dict[str, str] = field(default_factory=dict)
    method: str | None = None


class Backend:
    """The running process when okrstream runs, else the store, for one command."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.running = read_run_file(settings)

    def answer(self, call: ApiCall, on_store: Callable[[Store], Any]) -> Any:
        """The API's JSON answer to `call`, or `on_store`'s, the same JSON, from the store opened here."""
        if self.running:
            return call_running(self.running, call.path, call.body, call.headers, call.method)
        closing, store = self._open_store()
        with closing:
            return on_store(store)

    @contextlib.contextmanager
    def session(self, open_early: bool = False) -> Iterator[Callable[[ApiCall, Callable[[Store], Any]], Any]]:
        """`answer` for many calls: a store opened here is opened at the first and closed at the end.

        `open_early` starts opening it at once on a thread of its own (chDB takes about half a
        second to load and start), so that it overlaps what the command does before its first call.
        """
        opening: concurrent.futures.Future[tuple[contextlib.ExitStack, Store]] | None = None

        def close() -> None:  # waits for an opening under way, then closes what it opened
            if opening is not None and opening.exception() is None:
                opening.result()[0].close()

        with contextlib.ExitStack() as stack:
            stack.callback(close)
            if open_early and not self.running:
                opener = stack.enter_context(concurrent.futures.ThreadPoolExecutor(1, "okrstream-store-open"))
                opening = opener.submit(self._open_store)

            def answer(call: ApiCall, on_store: Callable[[Store], Any]) -> Any:
                nonlocal opening
                if self.running:
                    return call_running(self.running, call.path, call.body, call.headers, call.method)
                if opening is None:
                    opening = concurrent.futures.Future()
                    opening.set_result(self._open_store())
                return on_store(opening.result()[1])

            yield answer

    def _open_store(self) -> tuple[contextlib.ExitStack, Store]:
        """The store, opened, and what closes it."""
        from ..store import open_store  # chDB is loaded only by a command that opens the store

        closing = contextlib.ExitStack()
        return closing, closing.enter_context(open_store(self.settings))


def call_running(
    running: dict[str, Any],
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> Any:
    """The JSON answer; a 4xx/5xx becomes ConfigError (when it lists field errors) or ValueError."""
    headers = dict(headers or {})
    if running.get("admin_token"):
        headers["Authorization"] = f"Bearer {running['admin_token']}"
    request = urllib.request.Request(f"{running['api_url']}{path}", data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        answer = json.load(e)
        if answer.get("errors"):
            raise ConfigError(FieldError(**error) for error in answer["errors"]) from None
        raise ValueError(answer.get("error", str(e))) from None


def apply_query(args: argparse.Namespace) -> str:
    """`?dry_run=1&prune=1`, as far as those flags are given: the query of the apply endpoints."""
    query = urllib.parse.urlencode({name: 1 for name in ("dry_run", "prune") if getattr(args, name)})
    return f"?{query}" if query else ""
