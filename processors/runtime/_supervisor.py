"""`okrstream run` and `demo`: a small supervisor over the embedded broker and one pipeline process.

Restarts follow Erlang's rest-for-one rule, the broker first and the pipeline (worker, sink,
scorer, HTTP API) depending on it:
- the embedded broker dies: the pipeline is stopped, a new broker starts on a new port, the
  topics are created, the journal is adopted into it (see `ingest._journal`), and the pipeline
  starts again;
- the pipeline dies: it starts again (on the same broker), after a pause that doubles while it
  keeps dying young;
- SIGTERM or SIGINT: the pipeline gets SIGTERM and `STOP_GRACE_S` to finish, then SIGKILL; then
  the broker stops. Every process is gone within 10 s.

Both children die with the supervisor (a parent-death signal), so `kill -9` leaves no orphan. The
HTTP sockets (the API's and, on the embedded store, its ClickHouse HTTP interface's) are bound
here once and inherited by each pipeline, so a client's connection waits in the backlog while a
pipeline restarts instead of being refused.
"""

from __future__ import annotations

import logging
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

from kafka.errors import KafkaError

from ingest import (
    Broker,
    BrokerError,
    EventProducer,
    GroupOffsets,
    Journal,
    Segment,
    die_with_parent,
    ensure_topics,
    segments,
    start_embedded_broker,
)
from schemas import Settings

from ..api import HTTP_FD_ENV, bind
from ..store import STORE_HTTP_FD_ENV, bind_store_http

log = logging.getLogger("okrstream.supervisor")

SUPERVISED_ENV = "OKRSTREAM_SUPERVISED"  # set in the pipeline's environment: run the pipeline itself
INCARNATION_ENV = "OKRSTREAM_BROKER_INCARNATION"  # the embedded broker's run, for the journal's names
STOP_GRACE_S = 7.0
TIDY_INTERVAL_S = 2.0


def journal_dir(settings: Settings) -> Path:
    return Path(settings.data_dir) / "journal"


def supervise(settings: Settings, command: list[str]) -> int:
    """Run `okrstream <command>` as the supervised pipeline until a signal stops it; its exit code."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("okrstream: %(message)s"))
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    sock = bind(settings)
    sock.listen(2048)  # from now on a client waits in the backlog whenever no pipeline accepts
    store_sock = _bind_store_http(settings)
    supervisor = Supervisor(settings, command, sock, store_sock)
    try:
        return supervisor.loop(lambda: bool(stopping))
    finally:
        supervisor.shutdown()
        sock.close()
        if store_sock is not None:
            store_sock.close()


def _bind_store_http(settings: Settings) -> socket.socket | None:
    """The embedded store's ClickHouse HTTP interface, when the pipeline owns chDB and the port is free.

    A taken port (another ClickHouse on 8123, say) leaves the interface off with a warning, not the run.
    """
    if settings.clickhouse_url or settings.store_http_port is None:
        return None
    try:
        store_sock = bind_store_http(settings)
    except OSError as e:
        log.warning(
            "the store's ClickHouse HTTP interface is off: cannot listen on %s:%s (%s);"
            " OKRSTREAM_STORE_HTTP_PORT picks another port (0: any free one, off: none)",
            settings.store_http_host,
            settings.store_http_port,
            e,
        )
        return None
    store_sock.listen(1024)
    return store_sock


@dataclass
class Supervisor:
    settings: Settings
    command: list[str]
    sock: socket.socket
    store_sock: socket.socket | None = None  # the embedded store's ClickHouse HTTP interface
    broker: Broker | None = None
    incarnation: str = ""
    pipeline: subprocess.Popen[bytes] | None = None
    restarts: int = 0
    started_at: float = 0.0
    tidy: JournalTidy | None = field(default=None, repr=False)

    def loop(self, should_stop: Callable[[], bool]) -> int:
        next_tidy = 0.0
        while not should_stop():
            if self._broker_missing() and not self._restart_broker():
                time.sleep(1.0)
                continue
            if time.monotonic() >= next_tidy and self.tidy is not None:
                try:
                    self.tidy.run()
                except Exception as e:  # the broker may be going away: the next round tries again
                    log.warning("journal upkeep failed, will retry: %s", e)
                next_tidy = time.monotonic() + TIDY_INTERVAL_S
            if self.pipeline is None or self.pipeline.poll() is not None:
                code = self._pipeline_ended(should_stop)
                if code is not None:
                    return code
            time.sleep(0.1)
        return self._stop_pipeline(STOP_GRACE_S)

    def _broker_missing(self) -> bool:
        """No broker named in the settings, and no embedded one running."""
        return self.settings.kafka_bootstrap_servers is None and (
            self.broker is None or not self.broker.alive
        )

    def _restart_broker(self) -> bool:
        """A new embedded broker with the topics and the journal's records; False if that failed."""
        if self.broker is not None:
            log.warning(
                "the embedded broker exited (code %s); restarting it and the pipeline",
                self.broker.returncode,
            )
            self._stop_pipeline(grace_s=2.0)
            self.broker.close()
        if self.tidy is not None:
            self.tidy.close()
            self.tidy = None
        try:
            self.broker = start_embedded_broker()
            self.incarnation = uuid.uuid4().hex[:12]
            ensure_topics(self.broker.bootstrap_servers, self.settings)
            self.tidy = JournalTidy(self.settings, self.broker.bootstrap_servers, self.incarnation)
            self.tidy.run()  # before the pipeline starts: what an earlier broker held is sent again first
        except (BrokerError, KafkaError, OSError) as e:
            log.warning("could not start the embedded broker, trying again: %s", e)
            if self.broker is not None:
                self.broker.close(grace_s=1.0)
                self.broker = None
            return False
        self.restarts = 0
        return True

    def _pipeline_ended(self, should_stop: Callable[[], bool]) -> int | None:
        """Start the pipeline (again); an exit code when it ended for good (stopped, bad config).

        The pause before a restart ends early when a stop is asked for, with no pipeline started,
        so a signal stops the supervisor within its grace in any state.
        """
        if self.pipeline is not None:
            code = self.pipeline.returncode
            if code in (0, 2):  # it stopped by itself, or its configuration is wrong: restarting won't help
                return code
            young = time.monotonic() - self.started_at < 30
            self.restarts = self.restarts + 1 if young else 1
            pause = min(30.0, 0.5 * 2 ** (self.restarts - 1))
            log.warning("the pipeline exited (code %s); restarting it in %.1f s", code, pause)
            restart_at = time.monotonic() + pause
            while time.monotonic() < restart_at:
                if should_stop():
                    self.pipeline = None  # nothing left to stop: the loop ends at once
                    return None
                time.sleep(min(0.1, max(0.0, restart_at - time.monotonic())))
        self.pipeline = self._start_pipeline()
        return None

    def _start_pipeline(self) -> subprocess.Popen[bytes]:
        env = os.environ | {SUPERVISED_ENV: "1", HTTP_FD_ENV: str(self.sock.fileno())}
        fds = [self.sock.fileno()]
        if self.store_sock is not None:
            env[STORE_HTTP_FD_ENV] = str(self.store_sock.fileno())
            fds.append(self.store_sock.fileno())
        if self.broker is not None and self.broker.embedded:
            env |= {
                "KAFKA_BOOTSTRAP_SERVERS": self.broker.bootstrap_servers,
                INCARNATION_ENV: self.incarnation,
            }
        self.started_at = time.monotonic()
        return subprocess.Popen(
            [sys.executable, "-m", "processors.cli", *self.command],
            env=env,
            pass_fds=fds,
            preexec_fn=die_with_parent,
        )

    def _stop_pipeline(self, grace_s: float) -> int:
        """SIGTERM, then SIGKILL after `grace_s`: its exit code, or 1 when it had to be killed."""
        process, self.pipeline = self.pipeline, None
        if process is None:
            return 0
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                return process.wait(grace_s)
            except subprocess.TimeoutExpired:
                log.warning("the pipeline did not stop within %.0f s; killed", grace_s)
                process.kill()
                process.wait()
                return 1
        return process.returncode

    def shutdown(self) -> None:
        self._stop_pipeline(STOP_GRACE_S)
        if self.tidy is not None:
            self.tidy.close()
        if self.broker is not None:
            self.broker.close(grace_s=1.0)


class JournalTidy:
    """Keeps the journal short: adopts what the current broker does not hold, drops what landed."""

    def __init__(self, settings: Settings, bootstrap_servers: str, incarnation: str) -> None:
        self._settings = settings
        self._bootstrap = bootstrap_servers
        self._incarnation = incarnation
        self._directory = journal_dir(settings)
        self._waiting: list[tuple[list[Path], dict[int, int]]] = []  # sealed segments, end offsets then
        self._known: set[Path] = set()
        self._offsets = GroupOffsets(bootstrap_servers, "okrstream-journal")

    def close(self) -> None:
        self._offsets.close()

    def run(self) -> None:
        adopt, sealed = [], []
        for segment in segments(self._directory):
            if segment.incarnation != self._incarnation or (
                not segment.sealed and segment.pid != os.getpid() and not _alive(segment.pid)
            ):
                adopt.append(segment)
            elif segment.sealed and segment.path not in self._known:
                sealed.append(segment.path)
        if adopt:
            self._adopt(adopt)
        if sealed:
            self._known.update(sealed)
            self._waiting.append((sealed, self._end_offsets()))
        if self._waiting:
            committed = self._committed()
            still = []
            for paths, ends in self._waiting:
                if all(committed.get(p, 0) >= end for p, end in ends.items()):
                    for path in paths:
                        path.unlink(missing_ok=True)
                        self._known.discard(path)
                else:
                    still.append((paths, ends))
            self._waiting = still

    def _adopt(self, adopted: list[Segment]) -> None:
        journal = Journal(self._directory, self._incarnation)
        count = 0
        with EventProducer(self._bootstrap, self._settings, journal=journal) as producer:
            for segment in adopted:
                records = list(segment.records())
                producer.send_records(records)
                count += len(records)
            producer.flush()
        for segment in adopted:
            segment.path.unlink(missing_ok=True)
        log.info("journal: sent %d log records again from %d segments", count, len(adopted))

    def _end_offsets(self) -> dict[int, int]:
        return self._offsets.ends(self._settings.raw_topic, self._settings.topic_partitions)

    def _committed(self) -> dict[int, int]:
        return self._offsets.committed(self._settings.worker_id, self._settings.raw_topic)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: not a writer of ours, but alive
        return True
    return True
