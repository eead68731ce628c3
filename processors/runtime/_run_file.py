"""run.json: where a running `okrstream run` or `serve` says what it is, for the commands beside it.

Kept apart from the roles' wiring, so that every CLI command reads it without loading faust and chDB.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from schemas import Settings


def run_file(settings: Settings) -> Path:
    return Path(settings.data_dir) / "run.json"


def write_run_file(settings: Settings, info: dict[str, Any], admin_token: str | None) -> None:
    """run.json, readable by its owner only: it holds the run's admin token, if auth is on.

    Written to a private temporary file and renamed into place, so a command or test that reads
    it while a run starts sees the previous file, or none, or the whole new one: never half of it.
    """
    if admin_token:
        info = info | {"admin_token": admin_token}
    path = run_file(settings)
    partial = path.with_name(f".{path.name}.{os.getpid()}")
    partial.unlink(missing_ok=True)
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        json.dump(info, f)
    os.replace(partial, path)


def read_run_file(settings: Settings) -> dict[str, Any] | None:
    """What a running okrstream process said about itself, if it still runs."""
    try:
        info = json.loads(run_file(settings).read_text())
        os.kill(int(info["pid"]), 0)
    except (OSError, ValueError, KeyError):
        return None
    return info
