"""The sink's batch closes when its input goes quiet, not only when `batch_max_seconds` is up.

A real `okrstream run` on the test's broker and store, with a batch time of an hour and room
for 10,000 records in a batch: the events of each send can only land because the input went
quiet. Landed each exactly once, and a second send after the first landed lands as well (the
next batch starts afresh).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest import EventProducer
from schemas import validate_event

pytestmark = pytest.mark.slow

AN_HOUR = 3600.0
AMOUNTS = sum(10 + i % 7 for i in range(500))


def orders(first: int, count: int) -> list[dict]:
    at = datetime(2026, 11, 2, 9, tzinfo=UTC)
    return [
        {
            "event_id": f"quiet-{i:05d}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": (at + timedelta(seconds=i)).isoformat(),
            "dimensions": {"region": ("EU", "NA")[i % 2], "channel": "web"},
            "measures": {"amount": 10 + i % 7, "items": 1},
        }
        for i in range(first, first + count)
    ]


def send(settings, events: list[dict]) -> None:
    with EventProducer(settings.kafka_bootstrap_servers, settings) as producer:
        producer.send(validate_event(e) for e in events)
        producer.flush()


def test_a_caught_up_worker_lands_without_waiting_out_the_batch_time(settings, make_worker) -> None:
    settings = settings.model_copy(
        update={"batch_max_seconds": AN_HOUR, "batch_max_records": 10_000, "record_max_events": 20}
    )
    worker = make_worker(settings)
    worker.start()
    try:
        send(settings, orders(0, 300))
        assert worker.wait_for_total(300, timeout=120)["total_events"] == 300
        send(settings, orders(300, 200))
        counts = worker.wait_for_total(500, timeout=120)
        assert counts["total_events"] == 500
        orders_landed = [t for t in counts["types"] if t["type"] == "order.placed"]
        assert [(t["events"], t["measures"]["amount"]) for t in orders_landed] == [(500, AMOUNTS)]
    finally:
        assert worker.stop() == 0
