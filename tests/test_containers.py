"""The testcontainers step: the whole path on a containerised Kafka and ClickHouse server.

This runs only where a Docker engine answers; elsewhere it is skipped with the reason. The
other tests already use containers on such machines (see conftest), but this one asks for
them explicitly, so the server path of ClickHouse is proven wherever it can be.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from ingest import EventProducer
from schemas import validate_event

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def containers(infra):
    if infra.docker_problem is not None:
        pytest.skip(f"testcontainers step skipped: {infra.docker_problem}")
    from testcontainers.clickhouse import ClickHouseContainer
    from testcontainers.kafka import KafkaContainer

    with KafkaContainer() as kafka, ClickHouseContainer() as clickhouse:
        host, port = clickhouse.get_container_host_ip(), clickhouse.get_exposed_port(8123)
        url = f"http://{clickhouse.username}:{clickhouse.password}@{host}:{port}"
        yield kafka.get_bootstrap_server(), url


def test_events_land_once_on_container_services(containers, make_settings, make_worker):
    bootstrap, clickhouse_url = containers
    settings = make_settings(bootstrap, clickhouse_url)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    events = [
        {
            "event_id": f"c-{i}",
            "type": "session.started",
            "source": "web",
            "occurred_at": (start + timedelta(minutes=i)).isoformat(),
            "dimensions": {"region": "EU", "channel": "web"},
        }
        for i in range(500)
    ]
    worker = make_worker(settings)
    worker.start()
    with EventProducer(bootstrap, settings) as producer:
        producer.send(validate_event(e) for e in events + events[:50])  # 50 resends
        producer.flush()
    counts = worker.wait_for_total(500)
    assert counts["total_events"] == 500
    assert counts["sink"]["duplicates_dropped"] == 50
    assert worker.stop() == 0
