"""run.json and store.json: where a running process says what it is, for the commands beside it.

`okrstream run` and `serve` write run.json (their API, broker and journal); `okrstream store`
writes store.json (the URL of the store it serves), so that a command on the same data dir uses
that store over HTTP instead of failing to open chDB, which only one process may hold.

The writer holds an exclusive lock (`flock`) on its file for as long as it lives, and a reader
believes a file only while that lock is held: a process id can be reused, by a container
restarted as pid 1 say, but the lock goes with the process that took it, however it ends.
Kept apart from the roles' wiring, so that every CLI command reads them without loading faust and chDB.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

from schemas import Settings

_held: dict[Path, int] = {}  # the files this process wrote, each open and locked until it exits


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
    return _read(run_file(settings), ("pid", "api_url"))


def read_store_file(settings: Settings) -> dict[str, Any] | None:
    """What a running `okrstream store` on this data dir said about itself, if it still runs."""
    return _read(store_file(settings), ("pid", "store_http_url"))


def with_password(url: str, password: str | None) -> str:
    """`url` with the `default` user and `password` in it (quoted), or as it is without one."""
    if not password:
        return url
    parts = urlsplit(url)
    return parts._replace(netloc=f"default:{quote(password, safe='')}@{parts.netloc}").geturl()


def _write(path: Path, info: dict[str, Any]) -> None:
    """Written to a private temporary file, locked, and renamed into place: a reader sees the
    previous file, or none, or the whole new one, never half of it."""
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    fcntl.flock(fd, fcntl.LOCK_EX)
    data = json.dumps(info).encode()
    while data:
        data = data[os.write(fd, data) :]
    os.replace(partial, path)
    if (earlier := _held.pop(path, None)) is not None:
        os.close(earlier)
    _held[path] = fd  # never closed on purpose: the lock says "alive" until the process ends


def _read(path: Path, needed: tuple[str, ...]) -> dict[str, Any] | None:
    try:
        with path.open("rb") as f:
            try:
                fcntl.flock(f, fcntl.LOCK_SH | fcntl.LOCK_NB)
                return None  # nobody holds it: its writer is gone, whatever its pid names now
            except BlockingIOError:  # its writer holds it: alive
                info = json.loads(f.read())
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or any(key not in info for key in needed):
        return None
    return info
