"""The one path of every CLI command that reads or changes what the store holds.

In embedded mode the running `okrstream run` owns the chDB store, so a command asks it over its
HTTP API; with nothing running, the command opens the store itself. `Backend.answer` takes both
ways of getting one answer, and the two give the same JSON. The running process writes its URL
and a per-run admin token into `run.json` in the data dir (readable only by its owner); commands
on the same machine present that token.
"""

from __future__ import annotations

import argparse
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
        from ..store import open_store  # chDB is loaded only by a command that opens the store

        with open_store(self.settings) as store:
            return on_store(store)

    @contextlib.contextmanager
    def session(self) -> Iterator[Callable[[ApiCall, Callable[[Store], Any]], Any]]:
        """`answer` for many calls: a store opened here is opened at the first and closed at the end."""
        with contextlib.ExitStack() as stack:
            store: Store | None = None

            def answer(call: ApiCall, on_store: Callable[[Store], Any]) -> Any:
                nonlocal store
                if self.running:
                    return call_running(self.running, call.path, call.body, call.headers, call.method)
                if store is None:
                    from ..store import open_store

                    store = stack.enter_context(open_store(self.settings))
                return on_store(store)

            yield answer


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
