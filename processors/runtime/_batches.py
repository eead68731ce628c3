"""Batches that close when their input goes quiet, not only when their time is up.

faust's `noack_take(max_, within)` waits out `within` after every batch, however early its last
record came: with the sink's 0.5 s, an event that reached a caught-up worker waited half a second
for nothing. A batch here closes at the first of: full; `idle_s` without a new record (the
consumer has handed over what the broker had); `max_s` after its first record (a steady trickle
still lands). Under a backlog records keep coming, so batches still fill up and insert as few
times as before; an idle input no longer waits.

A record that reaches the stream while the previous batch is being written waits for that write;
its batch's `max_s` counts from when it arrived, not from when the write let it in. Counted from
the write's end, a steady trickle's records waited for one write, then `max_s`, then their own.
(After a batch that closed full, the stream itself waits for the write, so the next record is
counted from when it joins: a backlog, whose batches fill up whatever the time says.)
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from typing import Any, cast

import faust
from faust.types import ChannelT, EventT
from mode.utils.futures import notify


class BatchWindow:
    """When a batch is due: full, quiet for `idle_s`, or `max_s` after its first record.

    The clock is injectable (seconds, monotonic) so that the rule is tested without waiting.
    """

    def __init__(
        self,
        max_records: int,
        max_s: float,
        idle_s: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_records = max_records
        self.max_s = max_s
        self.idle_s = idle_s
        self._clock = clock
        self._count = 0
        self._first = 0.0  # when the first record arrived
        self._opened = 0.0  # when it joined
        self._last = 0.0

    def __len__(self) -> int:
        return self._count

    @property
    def full(self) -> bool:
        return self._count >= self.max_records

    def now(self) -> float:
        return self._clock()

    def add(self, arrived: float | None = None) -> None:
        """A record joined the batch now. `arrived`: when it reached the stream, if it then waited
        for the previous batch to be written; the batch's `max_s` counts from there."""
        now = self._clock()
        if not self._count:
            self._first = now if arrived is None else arrived
            self._opened = now
        self._last = now
        self._count += 1

    def due_in(self) -> float | None:
        """Seconds until the batch is due (0: now); None while it is empty, as nothing is due.

        Never sooner than `idle_s` (at most `max_s`) after it opened: a batch whose first record
        waited out the previous write takes in what arrived meanwhile, rather than leave with that
        record alone.
        """
        if not self._count:
            return None
        if self.full:
            return 0.0
        closes = min(self._first + self.max_s, self._last + self.idle_s)
        closes = max(closes, self._opened + min(self.idle_s, self.max_s))
        return max(0.0, closes - self._clock())

    def clear(self) -> None:
        self._count = 0


class QuietBatchStream(faust.Stream):
    """faust's stream with `noack_batches`: `noack_take` whose batches close as `BatchWindow` says."""

    async def noack_batches(self, window: BatchWindow) -> AsyncIterator[list[EventT]]:
        """Yield the events of each batch unacknowledged; the caller acknowledges what it wrote.

        As in `noack_take`, which this follows step by step, no record joins while the caller holds a
        batch, so a failed write is retried with exactly the records it had.
        """
        events: list[EventT] = []
        arrived = asyncio.Event()  # the batch's first record is in
        full = asyncio.Event()
        consumed = asyncio.Event()
        consuming: asyncio.Future[None] | None = None  # set while the caller holds a batch
        enable_acks = self.enable_acks

        async def add(value: Any) -> Any:
            nonlocal consuming
            try:
                reached = None  # when this record reached the batch, if it waits for the caller
                if consuming is not None:
                    reached = window.now()
                    try:
                        await consuming
                    finally:
                        consuming = None
                event = self.current_event
                if event is None:
                    raise RuntimeError("a batch found no current event")
                events.append(event)
                window.add(reached)
                arrived.set()
                if window.full:
                    full.set()
                    consumed.clear()  # never more than max_records in a batch
                    await self.wait(consumed)  # type: ignore[arg-type]  # mode accepts any event
            except asyncio.CancelledError:
                raise
            except Exception as e:
                self.log.exception("Error adding to a batch: %r", e)
                await self.crash(e)
            return value

        self.enable_acks = False
        self.add_processor(add)
        self._enable_passive(cast(ChannelT, aiter(self.channel)))
        try:
            while not self.should_stop:
                due_in = window.due_in()
                if due_in is None:  # empty: wait for a first record
                    await self.wait_for_stopped(arrived, timeout=window.max_s)  # type: ignore[arg-type]
                elif due_in > 0:  # open: wait until it is due, unless it fills first
                    await self.wait_for_stopped(full, timeout=due_in)  # type: ignore[arg-type]
                else:
                    consuming = self.loop.create_future()
                    try:
                        yield list(events)
                    finally:
                        events.clear()
                        window.clear()
                        arrived.clear()
                        full.clear()
                        notify(consuming)
                        consumed.set()
        finally:
            self.enable_acks = enable_acks
            self._processors.remove(add)
