"""run.json and store.json: where a running process says what it is, for the commands beside it.

`okrstream run` and `serve` write run.json (their API, broker and journal); `okrstream store`
writes store.json (the URL of the store it serves), so that a command on the same data dir uses
that store over HTTP instead of failing to open chDB, which only one process may hold.
Kept apart from the roles' wiring, so that every CLI command reads them without loading faust and chDB.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from schemas import Settings


def run_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "run.json"


def store_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "store.json"


def write_run_file(settings: Settings, info: dict[str, Any], admin_token: str | None) -> None:
    """run.json, readable by its owner only: it holds the run's admin token, if auth is on."""
    _write(run_file(settings), info | {"admin_token": admin_token} if admin_token else info)


def write_store_file(settings: Settings, url: str) -> None:
    """store.json: this process serves the data dir's store at `url` (never a password)."""
    needs_password = bool(settings.store_password and settings.store_password.get_secret_value())
    _write(store_file(settings), {"pid": os.getpid(), "store_http_url": url, "password": needs_password})


def read_run_file(settings: Settings) -> dict[str, Any] | None:
    """What a running okrstream process said about itself, if it still runs."""
    return _read(run_file(settings))


def read_store_file(settings: Settings) -> dict[str, Any] | None:
    """What a running `okrstream store` on this data dir said about itself, if it still runs."""
    return _read(store_file(settings))


def _write(path: Path, info: dict[str, Any]) -> None:
    """Written to a private temporary file and renamed into place, so a command or test that reads
    it while a process starts sees the previous file, or none, or the whole new one: never half of it.
    """
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.replace(partial, path)


def _read(path: Path) -> dict[str, Any] | None:
    try:
        info = json.loads(path.read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return info if isinstance(info, dict) else None
