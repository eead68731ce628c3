"""The worker is killed with SIGKILL mid-stream, again and again; nothing is lost or counted twice.

Small batches and a one-second commit interval make sure that at every kill some batches have
landed in ClickHouse without their offsets committed: the restarted worker must replay them
under the same insert tokens. The test checks that this path really ran.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from ingest import EventProducer
from schemas import validate_event

pytestmark = pytest.mark.slow

KILLS = 4
EVENTS = 30_000


def make_events(count: int, rng: random.Random) -> list[dict]:
    start = datetime(2026, 10, 28, tzinfo=UTC)
    kinds = {"order.placed": ("amount", "items"), "deal.closed": ("amount",), "session.started": ()}
    events = []
    for i in range(count):
        kind = rng.choice(list(kinds))
        at = start + timedelta(seconds=rng.randrange(8 * 86_400))  # crosses into November
        events.append(
            {
                "event_id": f"crash-{i:06d}",
                "type": kind,
                "source": "shop",
                "occurred_at": at.isoformat(),
                "dimensions": {"region": rng.choice(("EU", "NA")), "channel": "web", "segment": "smb"},
                "measures": {m: rng.randint(1, 1000) for m in kinds[kind]},
            }
        )
    return events


def produce_slowly(settings, events: list[dict], resends: list[dict], done: threading.Event) -> None:
    """About 2,000 events/s, resends mixed in, so the stream spans every kill."""
    stream = events + resends
    random.Random(3).shuffle(stream)
    with EventProducer(settings.kafka_bootstrap_servers, settings) as producer:
        for i in range(0, len(stream), 400):
            producer.send(validate_event(e) for e in stream[i : i + 400])
            producer.flush()
            time.sleep(0.2)
    done.set()


def wait_for_progress(worker, beyond: int, timeout: float = 60.0) -> None:
    """Wait until the (re)started worker has landed events: killing it while it joins proves nothing."""
    deadline = time.monotonic() + timeout
    while worker.counts()["total_events"] <= beyond:
        assert time.monotonic() < deadline, f"no progress past {beyond} events in {timeout}s"
        time.sleep(0.2)


def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(settings, make_worker, open_store):
    settings = settings.model_copy(
        update={"batch_max_records": 3, "record_max_events": 40, "batch_max_seconds": 0.2}
    )
    rng = random.Random(11)
    events = make_events(EVENTS, rng)
    resends = rng.choices(events, k=EVENTS // 20)
    worker = make_worker(settings)
    worker.start()

    done = threading.Event()
    producer = threading.Thread(target=produce_slowly, args=(settings, events, resends, done), daemon=True)
    producer.start()
    landed_at_kill = [0]
    for _ in range(KILLS):
        wait_for_progress(worker, beyond=landed_at_kill[-1])
        time.sleep(rng.uniform(0.3, 1.5))  # mid-batch, somewhere
        landed_at_kill.append(worker.counts()["total_events"])
        worker.kill()
        worker.start()
    landed_at_kill.pop(0)
    producer.join(timeout=120)
    assert done.is_set(), "the producer did not finish"

    counts = worker.wait_for_total(EVENTS)
    assert worker.stop() == 0
    assert all(0 < n < EVENTS for n in landed_at_kill), f"kills were not mid-stream: {landed_at_kill}"
    # The replay path ran: some restart found batches that had landed without a committed offset.
    assert "landed batches to replay" in worker.log_text()

    expected = Counter(e["type"] for e in events)
    sums: dict[str, Counter] = defaultdict(Counter)
    for e in events:
        sums[e["type"]].update(e["measures"])
    assert counts["total_events"] == EVENTS
    assert {t["type"]: t["events"] for t in counts["types"]} == dict(expected)
    assert {t["type"]: t["measures"] for t in counts["types"]} == {
        kind: {k: float(v) for k, v in s.items()} for kind, s in sums.items()
    }
    with open_store(settings) as client:
        rows, identities = client.query(
            "SELECT count(), uniqExact(source, event_id) FROM {db:Identifier}.raw_events",
            parameters={"db": settings.clickhouse_database},
        ).result_rows[0]
    assert (rows, identities) == (EVENTS, EVENTS)
