"""`okrstream serve --processes 2`: two API processes accept on one port, and one killed is replaced.

The real command on the session's broker and its store over HTTP (a store that none of the
processes owns). Checked:
- the parent starts two children, and each listens on the port with a socket of its own (the
  kernel spreads connections among such sockets), while nothing else listens there;
- a second such service on the same port is refused it;
- the run's admin token (run.json) works on every connection, whichever child answers;
- events posted on fresh connections are all accepted, before and after one child is killed
  with SIGKILL and replaced, and each is in the log once;
- /metrics, whichever child answers, counts the events accepted by all of them, the killed one's
  included;
- SIGTERM stops the parent and both children, and run.json goes.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import command_env

pytestmark = pytest.mark.slow

REQUESTS, EVENTS_PER_REQUEST = 20, 25


def children_of(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                status = (entry / "status").read_text()
            except OSError:  # it ended while we looked
                continue
            if re.search(rf"^PPid:\s+{pid}$", status, re.MULTILINE):
                found.append(int(entry.name))
    return sorted(found)


def listening_sockets(port: int) -> set[str]:
    """The inodes of the sockets listening on this TCP port (IPv4), from /proc/net/tcp."""
    inodes = set()
    for line in Path("/proc/net/tcp").read_text().splitlines()[1:]:
        fields = line.split()
        if int(fields[1].split(":")[1], 16) == port and fields[3] == "0A":  # 0A: LISTEN
            inodes.add(fields[9])
    return inodes


def sockets_of(pid: int) -> set[str]:
    inodes = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            link = os.readlink(fd)
        except FileNotFoundError:  # closed while we looked: the process is busy starting
            continue
        if link.startswith("socket:["):
            inodes.add(link[len("socket:[") : -1])
    return inodes


def each_listens(children: list[int], port: int) -> bool:
    """Every child holds one of the port's listening sockets, none the same, and no one else listens."""
    listening = listening_sockets(port)
    held = [sockets_of(child) & listening for child in children]
    return all(len(h) == 1 for h in held) and set().union(*held) == listening


def accepted_in(metrics: str) -> float:
    return sum(
        sample.value
        for family in text_string_to_metric_families(metrics)
        for sample in family.samples
        if sample.name == "okrstream_events_accepted_total"
    )


def wait_until(check: Callable[[], Any], what: str, timeout: float = 60.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if value := check():
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.2)


def post_on_fresh_connections(url: str, token: str, first: int) -> list[dict]:
    """REQUESTS requests of EVENTS_PER_REQUEST events, each on a connection of its own."""
    sent = []
    for r in range(REQUESTS):
        batch = [
            {
                "event_id": f"multi-{first + r * EVENTS_PER_REQUEST + i:05d}",
                "type": "order.placed",
                "source": "shop",
                "occurred_at": "2026-10-01T12:00:00Z",
                "dimensions": {"region": "EU", "channel": "web"},
                "measures": {"amount": 10, "items": 1},
            }
            for i in range(EVENTS_PER_REQUEST)
        ]
        with httpx.Client(timeout=30) as client:  # a new connection: the kernel picks the child
            answer = client.post(f"{url}/v1/events", json=batch, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        assert answer.json()["accepted"] == EVENTS_PER_REQUEST
        sent += batch
    return sent


def test_two_processes_share_the_port_and_a_killed_one_is_replaced(infra, settings, tmp_path: Path, logged):
    if not infra.clickhouse_url:
        pytest.skip("more than one API process needs a store none owns: this runs in the pass over HTTP")
    log_path = tmp_path / "serve.log"
    parent = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "serve", "--processes", "2", "--port", "0"],
        env=command_env(settings),
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )

    def log() -> str:
        return log_path.read_text(errors="replace")

    try:
        found = wait_until(lambda: re.search(r"2 API processes at (http://\S+)", log()), "the banner")
        url = found.group(1)
        port = int(url.rsplit(":", 1)[1])
        children = wait_until(lambda: len(c := children_of(parent.pid)) == 2 and c, "two children")
        wait_until(lambda: each_listens(children, port), "each child listening on the port")
        run = json.loads((settings.data_dir / "run.json").read_text())
        assert run["pid"] == parent.pid and run["api_url"] == url

        # a second service is refused the port, rather than dealt half of its connections
        second = subprocess.run(
            [sys.executable, "-m", "processors.cli", "serve", "--processes", "2", "--port", str(port)],
            env=command_env(settings.model_copy(update={"data_dir": tmp_path / "second"})),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert second.returncode == 1 and f"cannot listen on 127.0.0.1:{port}" in second.stderr, second.stderr

        # the admin token works whichever child answers; a key made through one reaches the other
        admin = {"Authorization": f"Bearer {run['admin_token']}"}
        wait_until(lambda: httpx.get(f"{url}/ready", timeout=10).status_code == 200, "ready")
        made = httpx.post(
            f"{url}/v1/keys",
            json={"name": "feeds", "access": "write", "sources": ["shop"], "types": ["order.*"]},
            headers=admin,
            timeout=30,
        )
        assert made.status_code == 201, made.text
        token = made.json()["token"]

        def known_everywhere() -> bool:  # 30 connections in a row: each child gets some
            for _ in range(30):
                with httpx.Client(timeout=10) as client:
                    checked = client.post(
                        f"{url}/v1/events",
                        content=b"[]",
                        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
                    )
                if checked.status_code == 401:
                    return False
            return True

        wait_until(known_everywhere, "the new key known to both processes")
        for _ in range(10):
            with httpx.Client(timeout=10) as client:
                assert client.get(f"{url}/v1/keys", headers=admin).status_code == 200

        sent = post_on_fresh_connections(url, token, 0)

        victim = children[0]
        os.kill(victim, signal.SIGKILL)
        wait_until(lambda: f"process {victim} exited" in log(), "the parent noticing")
        replaced = wait_until(
            lambda: len(c := children_of(parent.pid)) == 2 and victim not in c and c, "a new child"
        )
        wait_until(lambda: each_listens(replaced, port), "the new child listening on the port")
        wait_until(known_everywhere, "the write key known to the new process")
        sent += post_on_fresh_connections(url, token, len(sent))

        for _ in range(5):  # any child answers with the sums of all
            with httpx.Client(timeout=10) as client:
                assert accepted_in(client.get(f"{url}/metrics").text) == len(sent)

        identities = [(e["source"], e["event_id"]) for e in logged("raw")]
        assert sorted(identities) == sorted((e["source"], e["event_id"]) for e in sent)

        parent.send_signal(signal.SIGTERM)
        assert parent.wait(15) == 0, log()
        assert not [child for child in replaced if Path(f"/proc/{child}").exists()]
        assert not (settings.data_dir / "run.json").exists()
    finally:
        if parent.poll() is None:
            parent.kill()
            parent.wait()
