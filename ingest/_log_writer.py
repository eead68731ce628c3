"""Appending to the event log from async code: done means acknowledged by every in-sync replica.

The HTTP service answers 2xx only after `append` returns, so an acknowledged event is in the log;
when the broker does not acknowledge in time, `append` raises `LogUnavailable` and the service
answers 503. A timed-out record may still reach the log later: the client's retry is then a
copy, which the sink drops.

Appends are committed in groups: the events of every request waiting at that moment are packed
into one set of log records, journaled in one write and handed to the producer in one thread hop;
each request returns when its group is acknowledged, so a group fails or succeeds whole and no
request returns before its own events are durable. While one group is in flight the next gathers,
so under load requests share records and round trips instead of paying for them one by one.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable, Sequence
from typing import Any, Protocol

import orjson
from kafka import KafkaProducer
from kafka.errors import KafkaError, KafkaTimeoutError

from schemas import RawEvent, Settings, log_records

from ._broker import BrokerWatch
from ._journal import Journal
from ._kafka import durable_producer

log = logging.getLogger(__name__)
Message = tuple[str, int | None, bytes | None, bytes]  # topic, partition, key, value


class LogUnavailable(RuntimeError):
    """The broker did not acknowledge in time, or the journal could not be written: nothing of
    this call may be reported as accepted, and a retry later may well succeed (a 503)."""


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
        self._waiting: list[tuple[Sequence[RawEvent], asyncio.Future[None]]] = []  # the next group
        self._committer: asyncio.Task[None] | None = None
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
        """Returns once every event is acknowledged (and journaled); raises `LogUnavailable` otherwise."""
        if not events:
            return
        if self._watch is not None and not self._watch.up:
            raise LogUnavailable("the event log's broker cannot be reached")
        loop = asyncio.get_running_loop()
        done: asyncio.Future[None] = loop.create_future()
        self._waiting.append((events, done))
        if self._committer is None or self._committer.done():
            self._committer = loop.create_task(self._commit_waiting())
        await done

    async def _commit_waiting(self) -> None:
        """Commit what waits, group after group, until nothing does. A group's acknowledgement is
        awaited by its requests, not here, so the next group is sent while it is in flight."""
        while self._waiting:
            group, self._waiting = self._waiting, []
            try:
                await self._commit(group)
            except Exception as e:  # the journal's disk, say: every request of the group hears it
                log.error("a group of %d appends could not be written: %r", len(group), e)
                unavailable = LogUnavailable("the event log could not be written on the server")
                unavailable.__cause__ = e
                for _, done in group:
                    if not done.done():
                        done.set_exception(unavailable)

    async def _commit(self, group: list[tuple[Sequence[RawEvent], asyncio.Future[None]]]) -> None:
        events = [event for events, _ in group for event in events]
        records = log_records(events, self.partitions, self._settings.record_max_events)
        topic = self._settings.raw_topic
        messages: list[Message] = [(topic, partition, None, record) for partition, record in records]
        journal = self._journal
        ticket = journal.write(records) if journal is not None else None
        loop = asyncio.get_running_loop()
        acks = _GroupAck(len(messages), loop, [done for _, done in group])
        timer = loop.call_later(self._timeout, acks.finish, TimeoutError())
        sent_by: list[KafkaProducer] = []

        def finished(error: BaseException | None) -> None:
            timer.cancel()
            if journal is not None and ticket is not None:
                journal.done(ticket)
            if error is not None and sent_by:
                self._discard(sent_by[0])

        acks.on_finish = finished
        try:
            async with asyncio.timeout(self._timeout):
                producer = await self._current()
                sent_by.append(producer)
                await asyncio.to_thread(_send_group, producer, messages, acks)
        except (TimeoutError, KafkaError) as e:
            acks.finish(e)

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


class _GroupAck:
    """Counts one group's acknowledgements on the producer's thread and settles its requests once,
    on the event loop: when all are acknowledged, at the first refusal, or at the timeout."""

    def __init__(
        self, records: int, loop: asyncio.AbstractEventLoop, requests: list[asyncio.Future[None]]
    ) -> None:
        self._left = records
        self._loop = loop
        self._requests = requests
        self._lock = threading.Lock()
        self._finished = False
        self.on_finish: Callable[[BaseException | None], None] | None = None

    def acked(self, _: object = None) -> None:
        with self._lock:
            self._left -= 1
            last = self._left == 0
        if last:
            self._loop.call_soon_threadsafe(self.finish, None)

    def refused(self, error: BaseException) -> None:
        self._loop.call_soon_threadsafe(self.finish, error)

    def finish(self, error: BaseException | None) -> None:
        if self._finished:
            return
        self._finished = True
        if self.on_finish is not None:
            self.on_finish(error)
        for request in self._requests:
            if request.done():  # its request was cancelled
                continue
            if error is None:
                request.set_result(None)
            else:
                request.set_exception(_unavailable(error))


def _unavailable(error: BaseException) -> LogUnavailable:
    """What a request of a failed group raises: nothing of it may be reported accepted."""
    if isinstance(error, TimeoutError | KafkaTimeoutError):
        failure = LogUnavailable("the event log did not acknowledge in time")
    else:
        failure = LogUnavailable(f"the event log refused the write: {error}")
    failure.__cause__ = error
    return failure


def _send_group(producer: KafkaProducer, messages: list[Message], acks: _GroupAck) -> None:
    """Queue a group's records; each acknowledgement or refusal is counted by `acks`."""
    for topic, partition, key, value in messages:
        future = producer.send(topic, value=value, key=key, partition=partition)
        future.add_callback(acks.acked)
        future.add_errback(acks.refused)


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
