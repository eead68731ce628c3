"""`okrstream keys create|list|revoke`: through the running process's API, or on the store directly.

As with `okrstream kpi`, a running `okrstream run` owns an embedded store, so these commands ask
it over HTTP; with nothing running they open the store themselves. Both paths give the same JSON.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.parse
from datetime import datetime
from typing import TYPE_CHECKING, Any

from schemas import Access, ConfigError, Settings, api_key_json

from ._backend import ApiCall, Backend

_JSON = {"Content-Type": "application/json"}


if TYPE_CHECKING:
    from ..store import Store

# Each `on_store` imports the key store: a command answered by the running process never loads chDB


def add_commands(commands: argparse._SubParsersAction) -> None:
    keys = commands.add_parser("keys", help="create, list and revoke API keys for the HTTP API")
    sub = keys.add_subparsers(dest="keys_command", required=True)
    create = sub.add_parser("create", help="make a key and print it, the only time it is shown")
    create.add_argument("--name", required=True, help="who or what uses the key, e.g. shop-backend")
    create.add_argument(
        "--access",
        required=True,
        choices=[a.value for a in Access],
        help="write: ingest within its scope; read: query endpoints; admin: everything",
    )
    create.add_argument(
        "--source",
        dest="sources",
        action="append",
        default=[],
        metavar="PATTERN",
        help="write keys: a source it may write, glob allowed (shop, eu-*); repeatable",
    )
    create.add_argument(
        "--type",
        dest="types",
        action="append",
        default=[],
        metavar="PATTERN",
        help="write keys: an event type it may write, glob allowed (order.*, *); repeatable",
    )
    create.add_argument("-q", "--quiet", action="store_true", help="print only the key, for scripts")
    listing = sub.add_parser("list", help="every key with its scope; never a secret")
    listing.add_argument("--format", choices=("table", "json"), default="table")
    revoke = sub.add_parser("revoke", help="revoke a key for good")
    revoke.add_argument("key_id")


def run(settings: Settings, args: argparse.Namespace) -> int:
    backend = Backend(settings)
    try:
        if args.keys_command == "create":
            _print_created(_create(backend, args), args.quiet)
        elif args.keys_command == "list":
            _print_keys(_list(backend), args.format)
        else:
            key = _revoke(backend, args.key_id)
            print(f"revoked API key {key['id']} ({key['name']}) at {key['revoked_at']}")
    except ConfigError as e:
        print("okrstream keys: invalid key:", *e.errors, sep="\n  ", file=sys.stderr)
        return 2
    except (KeyError, ValueError) as e:
        print(f"okrstream keys: {e.args[0] if isinstance(e, KeyError) else e}", file=sys.stderr)
        return 2
    return 0


def _create(backend: Backend, args: argparse.Namespace) -> dict[str, Any]:
    fields = {"name": args.name, "access": args.access, "sources": args.sources, "types": args.types}

    def on_store(store: Store) -> dict[str, Any]:
        from ..store import ApiKeyStore

        token, key = ApiKeyStore(store, backend.settings.clickhouse_database).create(**fields)
        return {"token": token, "key": api_key_json(key)}

    return backend.answer(ApiCall("/v1/keys", json.dumps(fields).encode(), _JSON), on_store)


def _list(backend: Backend) -> list[dict[str, Any]]:
    def on_store(store: Store) -> dict[str, Any]:
        from ..store import ApiKeyStore

        return {
            "keys": [api_key_json(k) for k in ApiKeyStore(store, backend.settings.clickhouse_database).list()]
        }

    return backend.answer(ApiCall("/v1/keys"), on_store)["keys"]


def _revoke(backend: Backend, key_id: str) -> dict[str, Any]:
    def on_store(store: Store) -> dict[str, Any]:
        from ..store import ApiKeyStore

        return {"key": api_key_json(ApiKeyStore(store, backend.settings.clickhouse_database).revoke(key_id))}

    path = f"/v1/keys/{urllib.parse.quote(key_id, safe='')}/revoke"
    return backend.answer(ApiCall(path, b"{}", _JSON, method="POST"), on_store)["key"]


def _print_created(created: dict[str, Any], quiet: bool) -> None:
    if quiet:
        print(created["token"])
        return
    key = created["key"]
    print(f"created {key['access']} API key {key['id']} ({key['name']}){_scope(key)}:")
    print(f"  {created['token']}")
    print("This is the only time the key is shown: okrstream stores only its hash. Keep it secret.")


def _scope(key: dict[str, Any]) -> str:
    if not key["sources"]:
        return ""
    return f" for sources {', '.join(key['sources'])} and types {', '.join(key['types'])}"


def _print_keys(keys: list[dict[str, Any]], fmt: str) -> None:
    if fmt == "json":
        print(json.dumps({"keys": keys}, indent=2))
        return
    if not keys:
        print("no API keys; make one with `okrstream keys create`")
        return
    table = [["id", "name", "access", "sources", "types", "created", "revoked"]]
    table += [
        [
            k["id"],
            k["name"],
            k["access"],
            ",".join(k["sources"]) or "-",
            ",".join(k["types"]) or "-",
            _time(k["created_at"]),
            _time(k["revoked_at"]),
        ]
        for k in keys
    ]
    widths = [max(len(c) for c in column) for column in zip(*table, strict=True)]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())


def _time(at: str | None) -> str:
    """A UTC time to the second, short enough for a table column."""
    return "-" if at is None else datetime.fromisoformat(at).strftime("%Y-%m-%d %H:%M:%SZ")
