"""`okrstream serve --processes N`: N API processes on one port, so that ingest uses every core.

One `okrstream serve` process is bound to one core by Python's interpreter lock. This parent
takes the port (port 0 resolves here) and starts N children that each run `okrstream serve`
with a listening socket of its own on that port (SO_REUSEPORT): the kernel spreads new
connections evenly among them. The parent's socket only holds the port; it never listens, so
no connection waits on it. The parent makes the run's local admin key and gives its token to
every child, so the token in run.json works whichever child answers. A child that dies is
started again, after a pause that doubles while children keep dying young (the connections it
held are cut, unanswered); SIGTERM or SIGINT stops them all.

Their metrics are counted together (prometheus_client's multiprocess mode, in a directory this
parent makes and removes), so a scrape of the port, whichever child answers it, sums them all.
What each child keeps to itself: its rate window per key (a key may send up to N times the
limit in all) and its memory of recent duplicates (a copy sent to another child at once is
answered `accepted`; the sink still lands it once). The children share a store that none of
them owns, so more than one process needs CLICKHOUSE_URL.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from types import FrameType

from prometheus_client.multiprocess import mark_process_dead

from ingest import die_with_parent, ensure_topics
from schemas import AuthMode, ConfigError, Settings, env_name

from ..api import bind, local_admin_key, url_of
from ..store import Store
from ._config_files import load_mappings, load_registry
from ._run_file import read_run_file, run_file, write_run_file

ADMIN_TOKEN_ENV = "OKRSTREAM_LOCAL_ADMIN_TOKEN"  # the run's admin key, for the children only
SHARED_PORT_ENV = "OKRSTREAM_HTTP_SHARED_PORT"  # for the children: listen beside each other
STOP_GRACE_S = 7.0
FIRST_PAUSE_S, MAX_PAUSE_S = 0.5, 30.0  # before a child that died is started again
YOUNG_S = 30.0  # a child that dies sooner than this after its start died young


def serve_processes(settings: Settings) -> int:
    """Start `settings.http_processes` children on one port; run until a signal; the exit code."""
    if not settings.clickhouse_url:
        print(
            f"okrstream serve: {settings.http_processes} processes share one store, which none of"
            " them can own: set CLICKHOUSE_URL (a ClickHouse server, or `okrstream store`)",
            file=sys.stderr,
        )
        return 2
    try:  # wrong definitions stop here, once, not in every child
        load_registry(settings), load_mappings(settings)
    except ConfigError as e:
        print("okrstream: invalid definitions:", *e.errors, sep="\n  ", file=sys.stderr)
        return 2
    running = read_run_file(settings)  # another okrstream on this data dir keeps its run.json
    assert settings.kafka_bootstrap_servers, "serve checks the broker first"
    ensure_topics(settings.kafka_bootstrap_servers, settings)
    store = Store.connect(settings)
    try:
        store.ensure_schema(settings)  # once, before the children all look at it
    finally:
        store.close()
    try:
        sock = _take_port(settings)
    except OSError as e:
        print(
            f"okrstream serve: cannot listen on {settings.http_host}:{settings.http_port}: {e}",
            file=sys.stderr,
        )
        return 1
    stopping: list[int] = []

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    port = sock.getsockname()[1]
    token = local_admin_key()[0] if settings.auth is AuthMode.REQUIRED else None
    info = {
        "pid": os.getpid(),
        "api_url": url_of(sock),
        "kafka_bootstrap_servers": settings.kafka_bootstrap_servers,
    }
    if not running:
        write_run_file(settings, info, token)
    print(f"okrstream serve: {settings.http_processes} API processes at {info['api_url']}", flush=True)
    metrics_dir = tempfile.mkdtemp(prefix="okrstream-serve-metrics-")
    slots = [_Slot() for _ in range(settings.http_processes)]
    try:
        while not stopping:
            for slot in slots:
                if stopping:  # Ctrl-C reaches the children too: their exits are not deaths
                    break
                if slot.process is None:
                    if time.monotonic() >= slot.start_at:
                        slot.start(_start_child(port, token, metrics_dir))
                    continue
                code = slot.process.poll()
                if code == 2:  # its configuration is wrong: starting it again won't help
                    return 2
                if code is not None:
                    mark_process_dead(slot.process.pid, metrics_dir)  # its counts stay in the sums
                    pause = slot.died()
                    print(
                        f"okrstream serve: process {slot.pid} exited (code {code}); another in {pause:.1f} s",
                        flush=True,
                    )
            time.sleep(0.2)
        return 0
    finally:
        _stop([slot.process for slot in slots if slot.process is not None])
        sock.close()
        shutil.rmtree(metrics_dir, ignore_errors=True)
        if not running:
            run_file(settings).unlink(missing_ok=True)


def _take_port(settings: Settings) -> socket.socket:
    """The port, held by a socket that never listens, so that the children can listen beside it.

    A plain bind first: SO_REUSEPORT would let a second service of the same user onto a port
    already served, and the kernel would deal connections between the two.
    """
    probe = bind(settings)  # refused when anything holds the port; port 0 resolves here
    port = probe.getsockname()[1]
    probe.close()
    return bind(settings.model_copy(update={"http_port": port}), shared_port=True)


@dataclass
class _Slot:
    """One child's place: started again after a child that died, later each time it dies young."""

    process: subprocess.Popen[bytes] | None = None
    pid: int = 0
    started: float = 0.0
    start_at: float = 0.0
    deaths: int = 0  # in a row, each within YOUNG_S of its start

    def start(self, process: subprocess.Popen[bytes]) -> None:
        self.process, self.pid, self.started = process, process.pid, time.monotonic()

    def died(self) -> float:
        """The pause before the next child, which doubles while children keep dying young."""
        young = time.monotonic() - self.started < YOUNG_S
        self.deaths = self.deaths + 1 if young else 1
        pause = min(MAX_PAUSE_S, FIRST_PAUSE_S * 2 ** (self.deaths - 1))
        self.process, self.start_at = None, time.monotonic() + pause
        return pause


def _start_child(port: int, token: str | None, metrics_dir: str) -> subprocess.Popen[bytes]:
    env = os.environ | {
        env_name("http_processes"): "1",
        env_name("http_port"): str(port),
        SHARED_PORT_ENV: "1",
        "PROMETHEUS_MULTIPROC_DIR": metrics_dir,
    }
    if token is not None:
        env[ADMIN_TOKEN_ENV] = token
    return subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "serve"], env=env, preexec_fn=die_with_parent
    )


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    """SIGTERM to every child, then SIGKILL to those still running after the grace period."""
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    for child in children:
        try:
            child.wait(max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            child.kill()
            child.wait()
