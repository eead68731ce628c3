"""faust's Kafka transport with the consumer's fetch wait as a setting.

faust passes aiokafka a fixed `fetch_max_wait_ms=1500`. A broker may hold a fetch that long when
no record is waiting, and Tansu (the embedded broker) does not answer a held fetch early when
records arrive, so every consumer hop (raw events to the sink, touches to the scorer) could add
up to 1.5 s. With `OKRSTREAM_CONSUMER_FETCH_MAX_WAIT_MS` the wait, and so that delay, is bounded.
"""

from __future__ import annotations

from typing import Any

import aiokafka
from faust.transport.drivers.aiokafka import AIOKafkaConsumerThread, Consumer, Transport


class _ConsumerThread(AIOKafkaConsumerThread):
    def _create_worker_consumer(self, transport: Any) -> aiokafka.AIOKafkaConsumer:
        consumer = super()._create_worker_consumer(transport)
        # read by the fetcher aiokafka builds in start(); faust offers no way to pass it
        consumer._fetch_max_wait_ms = transport.fetch_max_wait_ms
        return consumer


class _Consumer(Consumer):
    def _new_consumer_thread(self) -> AIOKafkaConsumerThread:
        return _ConsumerThread(self, loop=self.loop, beacon=self.beacon)


class KafkaTransport(Transport):
    """faust's aiokafka transport; its worker consumer waits at most `fetch_max_wait_ms` per fetch."""

    Consumer = _Consumer

    def __init__(self, *args: Any, fetch_max_wait_ms: int, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.fetch_max_wait_ms = fetch_max_wait_ms
