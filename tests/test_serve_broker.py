"""`okrstream serve` (the API role of deploy/) watches its broker as `okrstream run` does: while
the broker is gone, /ready names it and ingest answers 503 with Retry-After, acknowledging nothing."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from processors.runtime import read_run_file
from tests.conftest import command_env

pytestmark = pytest.mark.slow

ORDER = {
    "event_id": "o-1",
    "type": "order.placed",
    "source": "shop",
    "occurred_at": "2026-10-01T12:00:00Z",
    "dimensions": {"region": "EU", "channel": "web"},
    "measures": {"amount": 10, "items": 1},
}


def test_serve_says_its_broker_is_gone_and_answers_503(make_settings, infra, tmp_path: Path) -> None:
    from ingest import ensure_topics, start_embedded_broker

    with start_embedded_broker() as broker:
        settings = make_settings(broker.bootstrap_servers, infra.clickhouse_url)
        ensure_topics(broker.bootstrap_servers, settings)
        log_path = tmp_path / "serve.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "serve", "--port", "0"],
            env=command_env(settings),
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        try:
            deadline = time.monotonic() + 60
            while (run := read_run_file(settings)) is None or run["pid"] != process.pid:
                assert process.poll() is None, log_path.read_text(errors="replace")
                assert time.monotonic() < deadline, f"serve did not start: {log_path.read_text()}"
                time.sleep(0.2)
            url, token = run["api_url"], run["admin_token"]
            with httpx.Client(base_url=url, timeout=30) as client:
                assert client.get("/ready").json() == {"ready": True, "problems": []}

                broker.close()  # gone for good: its port refuses connections
                deadline = time.monotonic() + 60
                while (
                    "the Kafka broker cannot be reached"
                    not in (ready := client.get("/ready").json())["problems"]
                ):
                    assert time.monotonic() < deadline, f"/ready never named the broker: {ready}"
                    time.sleep(0.2)
                answer = client.post("/v1/events", json=ORDER, headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 503, answer.text
            assert answer.headers["Retry-After"] == "5"
            assert answer.json()["rule"] == "log_unavailable"
        finally:
            process.terminate()
            process.wait(30)
