"""A CLI command loads what it runs, and no more.

Importing every package at start made each command load faust, chDB and FastAPI (two seconds)
before it did anything. A command that the running process answers over its API needs none of
them; this checks which modules a fresh interpreter has loaded, not how long it took.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

HEAVY = ("aiokafka", "chdb", "clickhouse_connect", "faust", "fastapi", "kafka", "uvicorn")
KPI = {"name": "revenue", "aggregation": "sum", "title": "Revenue", "unit": "EUR", "dimensions": ["region"]}


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


ANSWERS = {
    "/v1/kpis": {"kpis": [KPI]},
    "/v1/counts": {"total_events": 3, "types": [{"type": "order.placed", "events": 3, "measures": {}}]},
}


class StandIn(BaseHTTPRequestHandler):
    """The running process's API, as far as `okrstream kpi list` and `okrstream status` read it."""

    def do_GET(self) -> None:
        answer = ANSWERS.get(self.path)
        body = json.dumps(answer or {"error": "not found"}).encode()
        self.send_response(200 if answer else 404)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def running_api(tmp_path: Path) -> Iterator[Path]:
    """A data dir whose run.json names a live process (this one) and a stand-in for its API."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), StandIn)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    url = f"http://127.0.0.1:{server.server_address[1]}"
    (tmp_path / "run.json").write_text(json.dumps({"pid": os.getpid(), "api_url": url}))
    try:
        yield tmp_path
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["kpi", "list"], "revenue sum Revenue (EUR) by region"),
        (["status"], "okrstream runs (pid {pid}, API {url}) 3 events landed order.placed 3"),
    ],
)
def test_a_command_the_running_process_answers_loads_none_of_them(
    running_api: Path, command: list[str], expected: str
) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("OKRSTREAM_", "KAFKA_", "CLICKHOUSE_"))}
    env["OKRSTREAM_DATA_DIR"] = str(running_api)
    running = json.loads((running_api / "run.json").read_text())

    loaded, printed = run_python(f"from processors.cli import main\nassert main({command!r}) == 0", env)

    assert loaded == []
    assert printed.split() == expected.format(pid=running["pid"], url=running["api_url"]).split()
