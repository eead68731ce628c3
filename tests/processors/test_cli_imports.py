"""A CLI command loads what it runs, and no more.

Importing every package at start made each command load faust, chDB and FastAPI (well over a
second) before it did anything. A command that the running process answers over its API needs none of
them; this checks which modules a fresh interpreter has loaded, not how long it took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from benchmarks.cli_startup import running_stand_in
from schemas import Settings
from tests.processors.test_ingest_cli import order_line, use_settings

HEAVY = ("aiokafka", "chdb", "clickhouse_connect", "faust", "fastapi", "kafka", "uvicorn")


def run_python(code: str, env: dict[str, str] | None = None) -> tuple[list[str], str]:
    """(the heavy modules loaded, what it printed before) after `code` in a fresh interpreter."""
    report = f"\nimport json, sys\nprint(json.dumps(sorted(m for m in {HEAVY!r} if m in sys.modules)))"
    done = subprocess.run(
        [sys.executable, "-c", code + report],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=True,
    )
    *printed, loaded = done.stdout.splitlines()
    return json.loads(loaded), "\n".join(printed)


def test_importing_the_cli_loads_none_of_them() -> None:
    assert run_python("import processors.cli") == ([], "")


@pytest.fixture
def running_api(tmp_path: Path) -> Iterator[dict[str, Any]]:
    """run.json in tmp_path naming this process and a stand-in for its API (the CLI benchmark's)."""
    with running_stand_in(tmp_path) as running:
        yield running


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["kpi", "list"], "revenue sum Revenue (EUR)"),
        (["status"], "okrstream runs (pid {pid}, API {url}) 3 events landed order.placed 3"),
    ],
)
def test_a_command_the_running_process_answers_loads_none_of_them(
    running_api: dict[str, Any], tmp_path: Path, command: list[str], expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKRSTREAM_", "KAFKA_", "CLICKHOUSE_"))}
    env["OKRSTREAM_DATA_DIR"] = str(tmp_path)

    loaded, printed = run_python(f"from processors.cli import main\nassert main({command!r}) == 0", env)

    assert loaded == []
    assert printed.split() == expected.format(pid=running_api["pid"], url=running_api["api_url"]).split()


def test_a_file_import_loads_neither_the_api_server_nor_the_stream_processor(
    settings: Settings, topics: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """`okrstream ingest` validates, asks the store and sends: Kafka and the store, no FastAPI or faust.

    Loading those took 0.5 s of the import's start-up (`benchmarks.file_ingest`).
    """
    use_settings(monkeypatch, settings)
    path = tmp_path / "orders.ndjson"
    path.write_text("".join(order_line(f"o-{i}") + "\n" for i in range(2)))

    command = f"from processors.cli import main\nassert main(['ingest', {str(path)!r}]) == 0"
    loaded, printed = run_python(command, dict(os.environ))

    assert set(loaded) <= {"kafka", "chdb", "clickhouse_connect"}, loaded
    assert printed.startswith("accepted 2: 2 new, 0 already stored;"), printed
