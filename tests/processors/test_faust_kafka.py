"""The worker's faust transport hands aiokafka the fetch wait from the settings, not faust's 1500 ms."""

from __future__ import annotations

import asyncio

from processors.runtime import KafkaTransport, build_app
from processors.sink import BatchingSink
from schemas import Settings


def test_the_worker_consumer_waits_at_most_the_configured_fetch_wait() -> None:
    async def created() -> int:
        app = build_app(Settings(consumer_fetch_max_wait_ms=77), "localhost:9092", BatchingSink())
        assert isinstance(app.transport, KafkaTransport)
        consumer = app.consumer._thread._create_worker_consumer(app.transport)
        try:
            return consumer._fetch_max_wait_ms  # what aiokafka's fetcher is built with at start()
        finally:
            await consumer.stop()  # never started: only releases what it holds

    assert asyncio.run(created()) == 77
