"""The broker watch: what `/ready` and ingest's fast 503 rely on, probed on real sockets."""

from __future__ import annotations

import asyncio
import logging
import socket
from datetime import UTC, datetime

import pytest

from ingest import BrokerWatch, KafkaLogWriter, LogUnavailable, free_port
from schemas import validate_event


def test_the_probe_tells_a_listening_port_from_a_closed_one() -> None:
    with socket.socket() as listening:
        listening.bind(("127.0.0.1", 0))
        listening.listen()
        port = listening.getsockname()[1]
        assert asyncio.run(BrokerWatch(f"127.0.0.1:{port}").probe()) is True
        closed = free_port()
        assert asyncio.run(BrokerWatch(f"127.0.0.1:{closed}").probe()) is False
        # any one address that answers is enough, as for a Kafka client's bootstrap list
        assert asyncio.run(BrokerWatch(f"127.0.0.1:{closed},127.0.0.1:{port}").probe()) is True


def test_a_change_of_state_is_logged_once(caplog: pytest.LogCaptureFixture) -> None:
    watch = BrokerWatch(f"127.0.0.1:{free_port()}", interval_s=0.01)

    async def watch_a_while() -> None:
        task = asyncio.create_task(watch.watch())
        await asyncio.sleep(0.3)  # many probes, all failing
        task.cancel()

    with caplog.at_level(logging.WARNING, logger="ingest._broker"):
        asyncio.run(watch_a_while())
    assert watch.up is False
    assert [r.getMessage() for r in caplog.records].count(
        "the Kafka broker cannot be reached; ingest answers 503 until it returns"
    ) == 1


def test_while_the_broker_is_away_an_append_fails_without_trying(settings, topics) -> None:
    watch = BrokerWatch(settings.kafka_bootstrap_servers)
    watch.up = False  # as the watch finds it when the broker stops answering
    writer = KafkaLogWriter(settings.kafka_bootstrap_servers, settings, 10.0, watch=watch)
    event = validate_event(
        {"event_id": "e1", "type": "order.placed", "source": "shop", "occurred_at": "2026-11-20T09:15:00Z"},
        received_at=datetime(2026, 11, 20, tzinfo=UTC),
    )
    try:
        with pytest.raises(LogUnavailable, match="cannot be reached"):  # not the broker's timeout
            asyncio.run(writer.append([event]))
    finally:
        writer.close()
