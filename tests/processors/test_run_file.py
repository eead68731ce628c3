"""run.json: other commands and tests read it while a run starts, so it must never be seen half-written."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from processors.runtime import read_run_file
from processors.runtime._run_file import run_file, write_run_file  # white-box: the file's writing
from schemas import Settings


def test_run_json_is_renamed_into_place_owner_only_and_leaves_no_partial_file(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    path = run_file(settings)
    path.write_text('{"pid": 1, "api_url": "http://old"}')
    before = path.stat().st_ino

    write_run_file(settings, {"pid": os.getpid(), "api_url": "http://new"}, admin_token="secret")

    after = path.stat()
    assert after.st_ino != before  # a new file took the name: a reader holds the old one or the new
    assert stat.S_IMODE(after.st_mode) == 0o600
    assert read_run_file(settings) == {"pid": os.getpid(), "api_url": "http://new", "admin_token": "secret"}
    assert [p.name for p in tmp_path.iterdir()] == ["run.json"]
