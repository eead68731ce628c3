"""Scores as they are published: one consumer of the score topic per API process, shared by every
open board page it serves.

The consumer joins no group: it is assigned every partition and starts at their ends, so each
API process reads every new `key_result.scored` and `objective.scored` event, and several API
processes behind a balancer each see them all. The store is not asked anything: however many
processes and pages there are, the only cost is one fetch per process waiting at the broker,
which also bounds the delay (`OKRSTREAM_CONSUMER_FETCH_MAX_WAIT_MS`).

It runs while a page listens, and stops a while after the last one left. When it has to start
again (the broker went away, or it had stopped), events may have been missed meanwhile, so every
page listening is told to `resync`: to read the board again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator
from typing import Any

import orjson
from aiokafka import AIOKafkaConsumer, TopicPartition

log = logging.getLogger(__name__)

RESYNC: dict[str, Any] = {"type": "resync"}  # told to pages when events may have been missed
_SCORED = ("key_result.scored", "objective.scored")


class TooManyListeners(Exception):
    """This process already streams to as many pages as it will."""


class ScoreFeed:
    def __init__(
        self,
        bootstrap_servers: str,
        topic: str,
        fetch_max_wait_ms: int = 100,
        max_listeners: int = 200,
        linger_s: float = 30.0,
    ) -> None:
        self._servers = bootstrap_servers
        self._topic = topic
        self._fetch_max_wait_ms = fetch_max_wait_ms
        self.max_listeners = max_listeners  # each holds a connection: the server's limit is shared
        self._linger_s = linger_s
        self._queues: set[asyncio.Queue[dict[str, Any] | None]] = set()
        self._task: asyncio.Task[None] | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._positioned: asyncio.Event | None = None
        self._closed = False

    @property
    def listeners(self) -> int:
        return len(self._queues)

    @contextlib.asynccontextmanager
    async def listen(self) -> AsyncIterator[asyncio.Queue[dict[str, Any] | None]]:
        """A queue of the scored events published from about now on; None in it means: stop.

        Raises TooManyListeners when this process already streams to `max_listeners` pages.
        """
        if self._closed:
            raise TooManyListeners("the server is shutting down")
        if len(self._queues) >= self.max_listeners:
            raise TooManyListeners(f"this process already streams to {self.max_listeners} pages")
        queue: asyncio.Queue[dict[str, Any] | None] = asyncio.Queue(maxsize=1000)
        self._queues.add(queue)
        self._start()
        try:
            yield queue
        finally:
            self._queues.discard(queue)

    async def positioned(self, timeout: float) -> bool:
        """Wait until the consumer stands at the ends of the topic: what is published from then on
        reaches every listener. False if that took longer than `timeout` (the broker is away)."""
        self._start()
        assert self._positioned is not None
        try:
            await asyncio.wait_for(self._positioned.wait(), timeout)
        except TimeoutError:
            return False
        return True

    def close(self) -> None:
        """End every stream and the consumer; callable from any thread."""
        self._closed = True
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
            loop.call_soon_threadsafe(self._shut)

    def _shut(self) -> None:
        for queue in list(self._queues):
            self._put(queue, None, force=True)
        if self._task is not None:
            self._task.cancel()

    def _start(self) -> None:
        loop = asyncio.get_running_loop()
        if self._loop is not loop:  # first use, or a new loop: nothing of the old one carries over
            self._loop, self._task, self._positioned = loop, None, asyncio.Event()
        if self._task is None or self._task.done():
            self._task = loop.create_task(self._run())

    def _broadcast(self, event: dict[str, Any]) -> None:
        for queue in list(self._queues):
            self._put(queue, event)

    @staticmethod
    def _put(
        queue: asyncio.Queue[dict[str, Any] | None], item: dict[str, Any] | None, force: bool = False
    ) -> None:
        try:
            queue.put_nowait(item)
        except asyncio.QueueFull:
            # a page that does not keep up: drop what it has not read, and have it read the board again
            while not queue.empty():
                queue.get_nowait()
            queue.put_nowait(None if force else RESYNC)

    async def _run(self) -> None:
        assert self._positioned is not None
        delay, started_before = 0.5, False
        idle_since: float | None = None
        while not self._closed:
            consumer = AIOKafkaConsumer(
                bootstrap_servers=self._servers,
                group_id=None,
                enable_auto_commit=False,
                fetch_max_wait_ms=self._fetch_max_wait_ms,
                auto_offset_reset="latest",
            )
            try:
                await consumer.start()
                await consumer.topics()  # the metadata of every topic, this one's partitions among it
                partitions = consumer.partitions_for_topic(self._topic) or set()
                if not partitions:
                    raise LookupError(f"topic {self._topic!r} has no partitions yet")
                assigned = [TopicPartition(self._topic, p) for p in sorted(partitions)]
                consumer.assign(assigned)
                await consumer.seek_to_end(*assigned)
                for tp in assigned:
                    await consumer.position(tp)  # resolved now: what is published from here is read
                self._positioned.set()
                if started_before:
                    self._broadcast(RESYNC)
                started_before, delay = True, 0.5
                while not self._closed:
                    batches = await consumer.getmany(timeout_ms=1000)
                    for messages in batches.values():
                        for message in messages:
                            self._deliver(message.value)
                    if self._queues:
                        idle_since = None
                    elif idle_since is None:
                        idle_since = time.monotonic()
                    elif time.monotonic() - idle_since > self._linger_s:
                        return  # nobody listens: the next listener starts it again
            except asyncio.CancelledError:
                raise
            except Exception as e:
                log.warning("the board's score feed lost the broker (%s); retrying in %.1f s", e, delay)
            finally:
                self._positioned.clear()
                with contextlib.suppress(Exception):
                    await consumer.stop()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    def _deliver(self, value: bytes | None) -> None:
        try:
            event = orjson.loads(value or b"")
        except orjson.JSONDecodeError:
            return
        if isinstance(event, dict) and event.get("type") in _SCORED:
            self._broadcast(event)
