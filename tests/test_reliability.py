"""Faults injected into a real `okrstream run` on the embedded, memory-only broker.

A client streams events over HTTP and resends every batch that was not acknowledged; meanwhile
the whole process group is killed with SIGKILL and restarted, or the broker alone is killed.
Every acknowledged event must land exactly once, no child may outlive its parent, and SIGTERM
must end every process (the README says within 10 s; the tests print how long it took rather
than assert it). Each test prints its figures (docs/reliability.md).
"""

from __future__ import annotations

import json
import os
import random
import re
import signal
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import orjson
import pytest

from ingest import free_port, segments
from schemas import Settings, decode_record
from tests.conftest import WorkerProcess

pytestmark = pytest.mark.slow

BATCH = 100


class EmbeddedRun(WorkerProcess):
    """`okrstream run` with no broker named: it starts and supervises its own, in its own session."""

    def env(self) -> dict[str, str]:
        env = super().env()
        env.pop("KAFKA_BOOTSTRAP_SERVERS", None)
        return env

    def start(self, timeout: float = 90.0) -> None:
        run_json = Path(self.settings.data_dir) / "run.json"
        run_json.unlink(missing_ok=True)
        self.starts += 1
        with self.log_path.open("ab") as log:
            log.write(f"\n===== start {self.starts} =====\n".encode())
        self.process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", "run"],
            env=self.env(),
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, to be killed whole
        )
        self.wait_until_up(timeout)

    def wait_until_up(self, timeout: float = 90.0) -> None:
        run_json = Path(self.settings.data_dir) / "run.json"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process is not None and self.process.poll() is None, self.log_text()[-3000:]
            try:
                info = json.loads(run_json.read_text())
                os.kill(info["pid"], 0)
            except (OSError, ValueError, KeyError):
                time.sleep(0.1)
                continue
            self.api_url, self.admin_token = info["api_url"], info.get("admin_token")
            return
        raise AssertionError(f"okrstream run did not come up within {timeout}s; see {self.log_path}")

    def kill_group(self) -> list[int]:
        """SIGKILL to the whole process group; returns the pids of the tree as it was."""
        assert self.process is not None
        tree = descendants(self.process.pid)
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        return [self.process.pid, *tree]

    def broker_pid(self, timeout: float = 30.0) -> int:
        """The embedded broker's pid, once the supervisor has one running."""
        assert self.process is not None
        deadline = time.monotonic() + timeout
        while not (found := [p for p in children(self.process.pid) if b"tansu" in cmdline(p)]):
            assert time.monotonic() < deadline, "no embedded broker runs"
            time.sleep(0.1)
        [pid] = found
        return pid


def children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rsplit(")", 1)[1].split()[1]) == pid:
                found.append(int(entry.name))
    return found


def descendants(pid: int) -> list[int]:
    direct = children(pid)
    return direct + [d for c in direct for d in descendants(c)]


def cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def gone(pids: list[int], timeout: float = 10.0) -> bool:
    """True once none of the pids is a live process (zombies count as gone)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        alive = [p for p in pids if _running(p)]
        if not alive:
            return True
        time.sleep(0.1)
    return False


def _running(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


class Client(threading.Thread):
    """Sends numbered batches of orders (amount = the event's number) at a steady pace, and sends a
    batch again until it is acknowledged: the honest client the API's contract is written for."""

    def __init__(self, run: EmbeddedRun, batches: int, pace_s: float) -> None:
        super().__init__(daemon=True)
        self.run_ = run
        self.todo = list(range(batches))
        self.pace_s = pace_s
        self.acked: list[tuple[float, int]] = []  # (monotonic time sent, batch) of every 2xx
        self.answers: Counter[str] = Counter()
        self.bad: list[str] = []  # any answer that is neither 2xx nor 503 with Retry-After
        self.error: BaseException | None = None

    @staticmethod
    def body(batch: int) -> bytes:
        events = [
            {
                "event_id": f"ev-{n}",
                "source": "shop",
                "type": "order.placed",
                "occurred_at": "2026-11-20T09:15:00Z",
                "dimensions": {"region": "EU", "channel": "web"},
                "measures": {"amount": n, "items": 1},
            }
            for n in range(batch * BATCH, (batch + 1) * BATCH)
        ]
        return orjson.dumps(events)

    def run(self) -> None:
        try:
            with httpx.Client(timeout=30) as http:
                while self.todo:
                    batch = self.todo[0]
                    if self._send(http, batch):
                        self.todo.pop(0)
                        time.sleep(self.pace_s)
                    else:
                        time.sleep(0.1)
        except BaseException as e:  # surfaced by the test
            self.error = e

    def _send(self, http: httpx.Client, batch: int) -> bool:
        sent_at = time.monotonic()
        try:
            answer = http.post(
                f"{self.run_.api_url}/v1/events",
                content=self.body(batch),
                headers={
                    "Authorization": f"Bearer {self.run_.admin_token}",
                    "Content-Type": "application/json",
                },
            )
        except httpx.TransportError as e:
            self.answers[type(e).__name__] += 1
            return False
        self.answers[str(answer.status_code)] += 1
        if answer.status_code == 200:
            self.acked.append((sent_at, batch))
            return True
        if answer.status_code == 401:  # a restarted pipeline has a new local admin token: read it again
            self.run_.wait_until_up()
            return False
        if answer.status_code != 503 or "retry-after" not in answer.headers:
            self.bad.append(f"{answer.status_code} {answer.text[:200]}")
        return False


def journaled_events(settings) -> int:
    """Events in the journal's segments: what a restart sends again (copies of landed ones dropped)."""
    return sum(
        len(decode_record(record))
        for segment in segments(Path(settings.data_dir) / "journal")
        for _, record in segment.records()
    )


def landed(run: EmbeddedRun, events: int, timeout: float = 240.0) -> dict:
    counts = run.wait_for_total(events, timeout)
    [orders] = counts["types"]
    return {"events": counts["total_events"], "amount": orders["measures"]["amount"]}


def expected_amount(events: int) -> float:
    return float(sum(range(events)))


@pytest.fixture
def embedded_settings(make_settings, infra):
    """The test's settings on no named broker: `okrstream run` starts the embedded one itself."""
    return make_settings(None, infra.clickhouse_url)


@pytest.fixture
def make_run(tmp_path: Path) -> Iterator[Callable[[Settings], EmbeddedRun]]:
    """`okrstream run` processes for the test; whatever still runs at its end is killed, group and all."""
    made: list[EmbeddedRun] = []

    def make(settings: Settings) -> EmbeddedRun:
        made.append(EmbeddedRun(settings, tmp_path / f"run-{len(made)}.log"))
        return made[-1]

    yield make
    for run in made:
        if run.process is not None and run.process.poll() is None:
            run.kill_group()


def test_acknowledged_events_survive_kill_9_of_the_whole_run_at_random_instants(
    embedded_settings, make_run
) -> None:
    run = make_run(embedded_settings)
    run.start()
    batches = 200  # 20,000 events at about 2,000/s
    client = Client(run, batches, pace_s=0.05)
    client.start()
    rng = random.Random(14)  # the instants are random, and the same on every run of the test
    figures = []
    for _ in range(3):
        time.sleep(rng.uniform(1.0, 3.0))
        acked_before = len(client.acked)
        tree = run.kill_group()
        killed_at = time.monotonic()
        assert gone(tree), f"a process outlived the kill of its group: {[p for p in tree if _running(p)]}"
        journaled = journaled_events(embedded_settings)
        run.start()
        figures.append(
            {
                "acknowledged_before_kill": acked_before * BATCH,
                "in_journal_at_restart": journaled,
                "back_up_after_s": round(time.monotonic() - killed_at, 2),
            }
        )
    client.join(timeout=300)
    assert client.error is None and not client.todo, client.error
    result = landed(run, batches * BATCH)
    print("kill -9 of the whole run:", figures, dict(client.answers), result)
    assert not client.bad, client.bad[:5]
    # a precondition, not the proof: the restarts did have journaled records to send again
    assert sum(f["in_journal_at_restart"] for f in figures) > 0, figures
    # every event was acknowledged once in the end, none twice: count and amount both exact
    assert result == {"events": batches * BATCH, "amount": expected_amount(batches * BATCH)}
    assert run.stop(timeout=15) == 0


def test_the_broker_killed_alone_is_restarted_and_nothing_acknowledged_is_lost(
    embedded_settings, make_run
) -> None:
    run = make_run(embedded_settings)
    run.start()
    batches = 100
    client = Client(run, batches, pace_s=0.05)
    client.start()
    time.sleep(2.0)
    old_broker = run.broker_pid()
    acked_before = len(client.acked)
    os.kill(old_broker, signal.SIGKILL)
    killed_at = time.monotonic()
    while client.acked[-1][0] < killed_at:  # until a request sent after the kill is acknowledged
        assert time.monotonic() - killed_at < 120, "ingest did not recover within 120 s"
        time.sleep(0.05)
    recovered_s = time.monotonic() - killed_at
    assert run.broker_pid() != old_broker
    client.join(timeout=300)
    assert client.error is None and not client.todo, client.error
    result = landed(run, batches * BATCH)
    resent = re.findall(r"journal: sent (\d+) log records again", run.log_text())
    print(
        "broker killed alone:",
        {
            "acknowledged_before_kill": acked_before * BATCH,
            "log_records_resent_from_journal": [int(n) for n in resent],
            "first_ack_of_a_request_sent_after_kill_s": round(recovered_s, 2),
        },
        dict(client.answers),
        result,
    )
    assert not client.bad, client.bad[:5]
    assert result == {"events": batches * BATCH, "amount": expected_amount(batches * BATCH)}
    assert "the embedded broker exited" in run.log_text()
    deadline = time.monotonic() + 60  # everything landed: the journal empties itself
    while journaled_events(embedded_settings):
        assert time.monotonic() < deadline, f"the journal still holds {journaled_events(embedded_settings)}"
        time.sleep(0.5)


def test_sigterm_ends_every_process_in_each_state(embedded_settings, make_run) -> None:
    # the README's "within 10 s" is printed, not asserted: no timed assertions in tests
    run = make_run(embedded_settings)
    durations = {}
    for state in ("serving", "broker just killed", "pipeline just killed"):
        run.start()
        assert run.process is not None
        tree = [run.process.pid, *descendants(run.process.pid)]
        if state == "broker just killed":
            os.kill(run.broker_pid(), signal.SIGKILL)
            time.sleep(0.5)
        elif state == "pipeline just killed":
            [pipeline] = [p for p in children(run.process.pid) if b"processors.cli" in cmdline(p)]
            os.kill(pipeline, signal.SIGKILL)
            time.sleep(0.5)
        began = time.monotonic()
        run.process.send_signal(signal.SIGTERM)
        run.process.wait(timeout=60)
        assert gone(tree, timeout=60.0), state
        durations[state] = round(time.monotonic() - began, 2)
    print("SIGTERM to every process gone, s:", durations)


def test_no_child_outlives_a_kill_9_of_the_supervisor_alone(embedded_settings, make_run) -> None:
    run = make_run(embedded_settings)
    run.start()
    assert run.process is not None
    tree = descendants(run.process.pid)
    assert len(tree) >= 2, tree  # the broker and the pipeline
    run.process.kill()  # the supervisor only, not its group
    run.process.wait()
    assert gone(tree), [p for p in tree if _running(p)]


def test_an_unreachable_store_keeps_the_pipeline_restarting_and_sigterm_still_ends_it(
    make_settings, make_run
) -> None:
    nowhere = f"http://127.0.0.1:{free_port()}"  # a ClickHouse server that does not answer
    run = make_run(make_settings(None, nowhere))
    run.process = subprocess.Popen(
        [sys.executable, "-m", "processors.cli", "run"],
        env=run.env(),
        stdout=run.log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    deadline = time.monotonic() + 60
    while "the pipeline exited (code 1); restarting it" not in run.log_text():
        assert time.monotonic() < deadline and run.process.poll() is None, run.log_text()[-3000:]
        time.sleep(0.2)
    tree = [run.process.pid, *descendants(run.process.pid)]
    began = time.monotonic()
    run.process.send_signal(signal.SIGTERM)
    run.process.wait(timeout=60)
    assert gone(tree, timeout=60.0), [p for p in tree if _running(p)]
    print("SIGTERM with the store unreachable, s:", round(time.monotonic() - began, 2))
