"""Appending to the event log from async code: done means acknowledged by every in-sync replica.

The HTTP service answers 2xx only after `append` returns, so an acknowledged event is in the log;
when the broker does not acknowledge in time, `append` raises `LogUnavailable` and the service
answers 503. A timed-out record may still reach the log later: the client's retry is then a
duplicate, which the sink drops and the service reports.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Sequence
from typing import Any, Protocol

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError

from schemas import RawEvent, Settings, log_records

from ._broker import BrokerWatch
from ._journal import Journal
from ._kafka import durable_producer

log = logging.getLogger(__name__)
Message = tuple[str, int | None, bytes | None, bytes]  # topic, partition, key, value


class LogUnavailable(RuntimeError):
    """The broker did not acknowledge in time: nothing of this call may be reported as accepted."""


class LogWriter(Protocol):
    async def append(self, events: Sequence[RawEvent]) -> None: ...

    async def dead_letter(self, records: Sequence[dict[str, Any]], key: str) -> None: ...

    def close(self) -> None: ...


class KafkaLogWriter:
    """kafka-python's thread-safe producer (acks=all, idempotent), bridged to asyncio futures.

    `send` runs in a thread because it blocks while the broker's metadata is unknown.
    """

    def __init__(
        self,
        bootstrap_servers: str,
        settings: Settings,
        timeout_s: float,
        journal: Journal | None = None,
        watch: BrokerWatch | None = None,
    ) -> None:
        self._bootstrap = bootstrap_servers
        self._settings = settings
        self._timeout = timeout_s
        self._journal = journal  # set when the broker's log is memory-only
        self._watch = watch
        self._producer: KafkaProducer | None = self._new_producer()
        self._replacing = asyncio.Lock()
        partitions = self._producer.partitions_for(settings.raw_topic)
        if not partitions:
            raise RuntimeError(f"topic {settings.raw_topic!r} does not exist: create it first")
        self.partitions = len(partitions)

    def _new_producer(self) -> KafkaProducer:
        timeout_ms = int(self._timeout * 1000)
        return durable_producer(
            self._bootstrap,
            "okrstream-http",
            linger_ms=2,  # concurrent requests share a produce request, single events wait little
            max_block_ms=timeout_ms,
            request_timeout_ms=max(1000, timeout_ms // 2),
            delivery_timeout_ms=max(2000, timeout_ms),
        )

    async def append(self, events: Sequence[RawEvent]) -> None:
        records = log_records(events, self.partitions, self._settings.record_max_events)
        topic = self._settings.raw_topic
        messages: list[Message] = [(topic, partition, None, record) for partition, record in records]
        if self._journal is None or not records:
            await self._send_all(messages)
            return
        ticket = self._journal.write(records)
        try:
            await self._send_all(messages)
        finally:
            self._journal.done(ticket)

    async def dead_letter(self, records: Sequence[dict[str, Any]], key: str) -> None:
        topic = self._settings.dead_letter_topic
        messages: list[Message] = [(topic, None, key.encode(), orjson.dumps(record)) for record in records]
        await self._send_all(messages)

    async def _send_all(self, messages: list[Message]) -> None:
        if not messages:
            return
        if self._watch is not None and not self._watch.up:
            raise LogUnavailable("the event log's broker cannot be reached")
        loop = asyncio.get_running_loop()
        acks = [loop.create_future() for _ in messages]
        producer: KafkaProducer | None = None
        try:
            async with asyncio.timeout(self._timeout):
                producer = await self._current()
                await asyncio.to_thread(_send, producer, messages, acks, loop)
                results = await asyncio.gather(*acks)
        except (TimeoutError, KafkaError) as e:
            self._discard(producer)
            raise LogUnavailable(f"the event log did not acknowledge within {self._timeout:g} s") from e
        failed = [error for error in results if error is not None]
        if failed:
            self._discard(producer)
            raise LogUnavailable(f"the event log refused the write: {failed[0]}") from failed[0]

    async def _current(self) -> KafkaProducer:
        """The producer, made anew after a failure: an idempotent producer whose batches expired
        can stay stuck on their sequence numbers after the broker returns."""
        async with self._replacing:
            if self._producer is None:
                self._producer = await asyncio.to_thread(self._new_producer)
            return self._producer

    def _discard(self, producer: KafkaProducer | None) -> None:
        if producer is not None and producer is self._producer:
            self._producer = None
            # its pending records expire within the delivery timeout; then it closes
            threading.Thread(target=_close, args=(producer, self._timeout + 5), daemon=True).start()

    def close(self) -> None:
        if self._producer is not None:
            _close(self._producer, 5)
        if self._journal is not None:
            self._journal.close()


def _send(
    producer: KafkaProducer,
    messages: list[Message],
    acks: list[asyncio.Future[Exception | None]],
    loop: asyncio.AbstractEventLoop,
) -> None:
    """Queue every message; each one's ack settles its future on the event loop."""
    for (topic, partition, key, value), ack in zip(messages, acks, strict=True):
        future = producer.send(topic, value=value, key=key, partition=partition)
        future.add_callback(lambda _, a=ack: loop.call_soon_threadsafe(_settle, a, None))
        future.add_errback(lambda e, a=ack: loop.call_soon_threadsafe(_settle, a, e))


def _close(producer: KafkaProducer, timeout_s: float) -> None:
    """Close, even when the broker is gone: what was not acknowledged was never reported accepted."""
    try:
        producer.close(timeout=timeout_s)
    except KafkaError as e:
        log.warning("the event log producer did not close cleanly: %s", e)


def _settle(ack: asyncio.Future[Exception | None], error: Exception | None) -> None:
    if not ack.done():
        ack.set_result(error)
