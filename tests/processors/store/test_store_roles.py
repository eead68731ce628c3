"""The process that owns chDB serves its ClickHouse HTTP interface: `okrstream store` alone, and
`okrstream run` beside the pipeline."""

from __future__ import annotations

import json
import re
import signal
import socket
import subprocess
import sys
import urllib.request
from pathlib import Path
from urllib.parse import urlsplit

import clickhouse_connect
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from processors import open_store
from processors.runtime import store
from schemas import Settings
from tests.conftest import Sql, command_env

from .conftest import PASSWORD


def test_store_refuses_what_it_cannot_serve(settings: Settings, capsys) -> None:
    assert store(settings.model_copy(update={"clickhouse_url": "http://ch:8123"})) == 2
    assert "CLICKHOUSE_URL" in capsys.readouterr().err
    assert store(settings.model_copy(update={"clickhouse_url": None, "store_http_port": None})) == 2
    assert "off" in capsys.readouterr().err


@pytest.mark.slow
def test_okrstream_store_serves_the_embedded_store_until_sigterm(settings: Settings, tmp_path: Path) -> None:
    embedded = settings.model_copy(
        update={"clickhouse_url": None, "store_http_port": 0, "store_password": SecretStr(PASSWORD)}
    )
    db = embedded.clickhouse_database
    process = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "store"],
        env=command_env(embedded),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        found = re.search(r"HTTP interface at (http://\S+)", first)
        assert found, first + process.stdout.read()
        url = urlsplit(found.group(1))
        client = clickhouse_connect.get_client(
            host=url.hostname, port=url.port, username="default", password=PASSWORD
        )
        tables = {row[0] for row in client.query(f"SHOW TABLES FROM {db}").result_rows}
        assert {"raw_events", "api_keys", "okr_definitions"} <= tables  # the schema is in place at start
        client.command(f"CREATE TABLE {db}.notes (n UInt8) ENGINE = MergeTree ORDER BY n")
        client.insert(f"{db}.notes", [[1], [2], [3]], column_names=["n"])
        client.close()
        # /metrics on OKRSTREAM_METRICS_PORT, as a worker's: what the interface answered
        lines = [process.stdout.readline() for _ in range(3)]
        metrics = re.search(r"metrics\s+(http://\S+/metrics)", "".join(lines))
        assert metrics, lines
        with urllib.request.urlopen(metrics.group(1), timeout=10) as answer:
            assert answer.headers["Content-Type"].startswith("text/plain; version=0.0.4")
            families = {f.name: f for f in text_string_to_metric_families(answer.read().decode())}
        answered = {
            s.labels["status"]: s.value
            for s in families["okrstream_store_queries"].samples
            if s.name == "okrstream_store_queries_total"
        }
        assert answered.get("200", 0) >= 4  # SHOW TABLES, CREATE, INSERT and the client's own probe
        assert families["okrstream_store_query_seconds"].type == "histogram"
        # chDB lets one process hold the data dir: a command on it goes through this store
        assert json.loads((embedded.data_dir / "store.json").read_text())["store_http_url"] == found.group(1)
        status = okrstream(embedded, "status")
        assert status.returncode == 0, status.stderr
        where = found.group(1).replace("//", "//default:***@")  # the password never printed
        assert f"read {where} directly" in status.stdout and PASSWORD not in status.stdout
        assert "0 events landed" in status.stdout
        no_password = embedded.model_copy(update={"store_password": None})
        refused = okrstream(no_password, "status")
        assert refused.returncode == 2 and "OKRSTREAM_STORE_PASSWORD" in refused.stderr, refused.stderr
        second = okrstream(embedded, "store")
        assert second.returncode == 2 and f"(pid {process.pid}) already serves" in second.stderr
        process.send_signal(signal.SIGTERM)
        assert process.wait(60) == 0
        assert not (embedded.data_dir / "store.json").exists()
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
    with open_store(embedded) as reopened:  # the process let go of chDB, its data kept
        assert reopened.fetch(Sql("SELECT sum(n) FROM {db:Identifier}.notes", db=db)) == [(6,)]


def okrstream(settings: Settings, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processors.cli", *args],
        env=command_env(settings),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow
def test_okrstream_run_serves_its_store(settings: Settings, make_worker) -> None:
    if settings.clickhouse_url:
        pytest.skip("this test serves an embedded store itself: it runs in the pass on embedded chDB only")
    worker = make_worker(settings)
    worker.start()
    info = json.loads((Path(settings.data_dir) / "run.json").read_text())
    url = urlsplit(info["store_http_url"])
    event = {
        "event_id": "o-1",
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-11-20T09:15:00+01:00",
        "dimensions": {"region": "EU", "channel": "web"},
        "measures": {"amount": 12.5, "items": 1},
    }
    request = urllib.request.Request(
        f"{worker.api_url}/v1/events",
        data=json.dumps(event).encode(),
        headers={"Authorization": f"Bearer {worker.admin_token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as answer:
        assert answer.status == 200
    worker.wait_for_total(1)
    # `default` without a password, from this machine, as the run printed
    client = clickhouse_connect.get_client(host=url.hostname, port=url.port)
    try:
        sql = f"SELECT event_id, measures['amount'] FROM {settings.clickhouse_database}.raw_events"
        assert client.query(sql).result_rows == [("o-1", 12.5)]
    finally:
        client.close()
    assert worker.stop() == 0


@pytest.mark.slow
def test_a_taken_port_leaves_the_interface_off_not_the_run(settings: Settings, make_worker) -> None:
    if settings.clickhouse_url:
        pytest.skip("this test serves an embedded store itself: it runs in the pass on embedded chDB only")
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        worker = make_worker(settings.model_copy(update={"store_http_port": taken.getsockname()[1]}))
        worker.start()
        info = json.loads((Path(settings.data_dir) / "run.json").read_text())
        assert "store_http_url" not in info
        assert worker.counts()["total_events"] == 0  # the run serves all the same
        assert worker.stop() == 0
    assert "the store's ClickHouse HTTP interface is off" in worker.log_text()
