"""The faust-streaming app that moves log records from the raw topic into the sink.

Kept deliberately thin, around three traps from faust's own tracker:
- `stream.take()` acknowledges a batch whether or not the write succeeded, so the agent uses
  `noack_take()` and acknowledges only the records the sink says are written;
- agent `concurrency > 1` can commit past a message still in flight (faust issue 606), so the
  agent runs with concurrency 1 and parallelism comes from partitions and processes;
- a failed write is retried with exactly the same records (no new ones mixed in), so the retry
  carries the same ClickHouse insert token.

Its batches close when the input goes quiet (`QuietBatchStream`), not only when
`batch_max_seconds` is up: a caught-up worker lands what it has at once.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar, cast

import faust

from ingest import ForeignFeeds
from schemas import ForeignMessage, Settings, decode_touch

from ..metrics import FEED_MESSAGES, PARTITION_OWNED
from ..okr import OkrScorer
from ..sink import BatchingSink, LogRecord, SinkError
from ._batches import BatchWindow, QuietBatchStream
from ._faust_kafka import KafkaTransport

log = logging.getLogger(__name__)

RETRY_DELAYS = (0.5, 1, 2, 5, 10)
T = TypeVar("T")


def build_app(
    settings: Settings,
    bootstrap_servers: str,
    sink: BatchingSink,
    scorer: OkrScorer | None = None,
    feeds: ForeignFeeds | None = None,
    feed_logs: dict[str, str] | None = None,
    **conf: Any,
) -> faust.App:
    app = faust.App(
        settings.worker_id,
        broker=f"kafka://{bootstrap_servers}",
        datadir=str(Path(settings.data_dir) / "faust"),
        web_enabled=False,
        autodiscover=False,
        store="memory://",
        topic_allow_declare=False,  # okrstream creates its topics with partitions and retention
        consumer_auto_offset_reset="earliest",
        stream_wait_empty=False,  # on stop: commit what was acknowledged, replay the rest later
        broker_commit_interval=settings.consumer_commit_interval_s,
        broker_session_timeout=settings.consumer_session_timeout_s,
        broker_heartbeat_interval=settings.consumer_session_timeout_s / 5,
        producer_acks=-1,
        Stream=QuietBatchStream,
        **conf,
    )
    app.transport = KafkaTransport(
        app.conf.broker_consumer, app, fetch_max_wait_ms=settings.consumer_fetch_max_wait_ms
    )
    raw = app.topic(
        settings.raw_topic,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )

    @app.agent(raw, concurrency=1, name="okrstream-raw-events-sink")
    async def land(stream: faust.StreamT) -> None:
        window = BatchWindow(
            settings.batch_max_records, settings.batch_max_seconds, settings.batch_idle_seconds
        )
        async for events in cast(QuietBatchStream, stream).noack_batches(window):  # the app's Stream
            for event in events:
                m = event.message
                record = LogRecord(m.offset, event.value, int(m.timestamp * 1000), handle=event)
                sink.add(m.topic, m.partition, record)
            writing = asyncio.ensure_future(flush_until_written(sink))
            try:
                written = await asyncio.shield(writing)
            except asyncio.CancelledError:
                # Stopping: a write cannot be cut safely from outside, so let it finish and
                # acknowledge it, then stop. Faust commits acknowledged offsets on the way out.
                for record in await writing:
                    await stream.ack(record.handle)
                raise
            for record in written:
                await stream.ack(record.handle)

    if scorer is not None:
        _add_scorer(app, settings, scorer)
    if feeds is not None:
        _add_feeds(app, settings, feeds, feed_logs or {})

    owned_topics = {settings.raw_topic, settings.okr_touch_topic, *(feeds.topics if feeds else ())}

    @app.on_partitions_assigned.connect  # type: ignore[arg-type]  # faust's signal stubs want a sync receiver
    async def own(app: faust.App, assigned: set[Any], **kwargs: Any) -> None:
        PARTITION_OWNED.clear()  # faust hands over the whole assignment
        for tp in assigned:
            if tp.topic in owned_topics:  # not faust's own assignor topic
                PARTITION_OWNED.labels(tp.topic, str(tp.partition)).set(1)
        if scorer is not None:
            scorer.assigned(tp.partition for tp in assigned if tp.topic == settings.okr_touch_topic)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]
    async def forget(app: faust.App, revoked: set[Any], **kwargs: Any) -> None:
        for tp in revoked:
            with contextlib.suppress(KeyError):  # never owned here
                PARTITION_OWNED.remove(tp.topic, str(tp.partition))
        sink.revoke((tp.topic, tp.partition) for tp in revoked)
        if scorer is not None and any(tp.topic == settings.okr_touch_topic for tp in revoked):
            scorer.forget()

    return app


async def flush_until_written(sink: BatchingSink) -> list[LogRecord]:
    """Flush in a thread, retrying the same batch (with back-off) until it is written."""
    return await retried(sink.flush, SinkError, "retrying the same batch")


async def retried(
    call: Callable[[], T], errors: type[Exception] | tuple[type[Exception], ...], what: str
) -> T:
    """`call()` in a thread, again after RETRY_DELAYS (the last one repeating) until it succeeds."""
    attempt = 0
    while True:
        try:
            return await asyncio.to_thread(call)
        except errors as e:
            delay = RETRY_DELAYS[min(attempt, len(RETRY_DELAYS) - 1)]
            log.warning("%s; %s in %ss", e, what, delay)
            attempt += 1
            await asyncio.sleep(delay)


def _add_feeds(app: faust.App, settings: Settings, feeds: ForeignFeeds, logs: dict[str, str]) -> None:
    """The agent on the subscribed foreign topics, in the sink's consumer group.

    A batch of messages is acknowledged only once its events and dead letters are in the log; a
    failure forwards the same messages again, and the sink drops the copies that had got through.
    """
    foreign = app.topic(*feeds.topics, key_serializer="raw", value_serializer="raw")

    @app.agent(foreign, concurrency=1, name="okrstream-foreign-topics")
    async def translate(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(  # type: ignore[attr-defined]
            settings.record_max_events, within=settings.batch_max_seconds
        ):
            messages = [_foreign_message(event.message, logs) for event in events]
            forward = functools.partial(feeds.forward, messages)
            outcomes = await retried(forward, Exception, "foreign topics: forwarding the same messages again")
            for (name, outcome), count in outcomes.items():
                FEED_MESSAGES.labels(name, outcome).inc(count)
            for event in events:
                await stream.ack(event)


def _foreign_message(m: Any, logs: dict[str, str]) -> ForeignMessage:
    headers = m.headers.items() if isinstance(m.headers, dict) else (m.headers or ())
    return ForeignMessage(
        topic=m.topic,
        partition=m.partition,
        offset=m.offset,
        timestamp_ms=int(m.timestamp * 1000),
        key=m.key,
        value=m.value,
        headers=[(str(name), bytes(value)) for name, value in headers if value is not None],
        log=logs.get(m.topic, ""),
    )


def _add_scorer(app: faust.App, settings: Settings, scorer: OkrScorer) -> None:
    """The scorer's agent on the touch topic, and the timer that rescores as time passes.

    Touches are acknowledged only once their scores are recorded and published; a failed
    recomputation is retried, and recomputing twice publishes nothing new.
    """
    touches = app.topic(
        settings.okr_touch_topic,
        key_serializer="raw",
        value_serializer="raw",
        partitions=settings.topic_partitions,
    )

    @app.agent(touches, concurrency=1, name="okrstream-okr-scorer")
    async def score(stream: faust.StreamT) -> None:
        async for events in stream.noack_take(  # type: ignore[attr-defined]
            10_000, within=settings.okr_batch_max_seconds
        ):
            batch = [decode_touch(event.value) for event in events]
            # the store or the broker failed: the same touches again, later
            await retried(functools.partial(scorer.handle, batch), Exception, "OKR scoring: retrying")
            for event in events:
                await stream.ack(event)

    @app.timer(settings.okr_rescore_interval_s)
    async def rescore() -> None:
        try:
            await asyncio.to_thread(scorer.touch_all)
        except Exception as e:
            log.warning("could not touch key results for rescoring: %s", e)
