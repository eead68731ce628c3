"""run.json: other commands and tests read it while a run starts, so it must never be seen half-written."""

from __future__ import annotations

import fcntl
import json
import os
import stat
import subprocess
import sys
from pathlib import Path

from pydantic import SecretStr

from processors.runtime import read_run_file, read_store_file, with_password
from processors.runtime._run_file import (  # white-box: the files' writing
    run_file,
    store_file,
    write_run_file,
    write_store_file,
)
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


def test_store_json_names_the_url_and_whether_a_password_is_asked_never_the_password(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, store_password=SecretStr("s3cret"))
    write_store_file(settings, "http://127.0.0.1:8123")

    assert stat.S_IMODE(store_file(settings).stat().st_mode) == 0o600
    assert "s3cret" not in store_file(settings).read_text()
    expected = {"pid": os.getpid(), "store_http_url": "http://127.0.0.1:8123", "password": True}
    assert read_store_file(settings) == expected
    assert read_run_file(settings) is None  # a store is not a run: the CLI does not call an API


def test_a_file_whose_writer_is_gone_names_nothing_whatever_pid_it_names(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    code = "import sys; from pathlib import Path; from schemas import Settings;"
    code += " from processors.runtime._run_file import write_store_file;"
    code += " write_store_file(Settings(data_dir=Path(sys.argv[1])), 'http://127.0.0.1:1')"
    subprocess.run([sys.executable, "-c", code, str(tmp_path)], check=True)
    assert json.loads(store_file(settings).read_text())["store_http_url"] == "http://127.0.0.1:1"
    assert read_store_file(settings) is None  # its writer exited: the lock went with it

    # a container restarted as pid 1 finds its own pid in the file it left: still nobody's
    store_file(settings).write_text(json.dumps({"pid": os.getpid(), "store_http_url": "http://x"}))
    assert read_store_file(settings) is None


def test_a_held_file_of_the_wrong_shape_names_nothing(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path)
    for text in ("[1, 2]", "not json", '{"store_http_url": "http://x"}', '{"pid": 1}'):
        store_file(settings).write_text(text)
        with store_file(settings).open() as held:
            fcntl.flock(held, fcntl.LOCK_EX)  # as a live writer holds it
            assert read_store_file(settings) is None, text


def test_the_password_goes_into_the_url_quoted() -> None:
    assert with_password("http://127.0.0.1:8123", "s3cret pass:word") == (
        "http://default:s3cret%20pass%3Aword@127.0.0.1:8123"
    )
    assert with_password("http://[::1]:8123", None) == "http://[::1]:8123"
