"""Cluster mode on a real ClickHouse cluster: one server in a container, with its own Keeper, a
cluster `okr` of one shard (itself) and the {shard} and {replica} macros.

It runs only where a Docker engine answers; elsewhere it is skipped with the reason.
tests/processors/clickhouse/test_cluster.py checks the exact SQL and that chDB takes it everywhere.
Here the statements run as they are: ON CLUSTER through the server's distributed DDL queue,
Replicated tables through Keeper, reads and inserts through the Distributed tables.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors import applied_kpis, apply_kpis, kpi_series, open_store
from processors.clickhouse import (
    BatchPosition,
    EventCounts,
    InsertRawEvents,
    LandedBatch,
    LandedBatches,
    TypeCount,
    event_row,
)
from schemas import EventTypeRegistry, Grain, KpiCatalog

pytestmark = pytest.mark.slow

CLUSTER = "okr"
_CONFIG = """<clickhouse>
  <keeper_server>
    <tcp_port>9181</tcp_port>
    <server_id>1</server_id>
    <log_storage_path>/var/lib/clickhouse/coordination/log</log_storage_path>
    <snapshot_storage_path>/var/lib/clickhouse/coordination/snapshots</snapshot_storage_path>
    <raft_configuration><server><id>1</id><hostname>localhost</hostname><port>9234</port></server></raft_configuration>
  </keeper_server>
  <zookeeper><node><host>localhost</host><port>9181</port></node></zookeeper>
  <distributed_ddl><path>/clickhouse/task_queue/ddl</path></distributed_ddl>
  <macros><shard>01</shard><replica>node-1</replica></macros>
  <remote_servers><okr><shard><internal_replication>true</internal_replication>
    <replica><host>localhost</host><port>9000</port><user>{user}</user><password>{password}</password></replica>
  </shard></okr></remote_servers>
</clickhouse>
"""
REGISTRY = EventTypeRegistry.from_mapping(
    {"event_types": {"order.placed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}}}}
)
KPIS = {
    "kpis": {
        "orders": {"title": "Orders", "events": "order.placed", "aggregation": "count"},
        "revenue": {
            "title": "Revenue",
            "events": "order.placed",
            "aggregation": "sum",
            "measure": "amount",
            "dimensions": ["region"],
        },
    }
}
RECEIVED = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def cluster_url(infra, tmp_path_factory):
    if infra.docker_problem is not None:
        pytest.skip(f"ClickHouse cluster test skipped: {infra.docker_problem}")
    from testcontainers.clickhouse import ClickHouseContainer

    container = ClickHouseContainer()
    config = tmp_path_factory.mktemp("clickhouse") / "cluster.xml"
    config.write_text(_CONFIG.format(user=container.username, password=container.password))
    config.chmod(0o644)
    container.with_volume_mapping(str(config), "/etc/clickhouse-server/config.d/cluster.xml")
    with container:
        host, port = container.get_container_host_ip(), container.get_exposed_port(8123)
        yield f"http://{container.username}:{container.password}@{host}:{port}"


def _rows(first: int, count: int) -> tuple[BatchPosition, list[tuple]]:
    position = BatchPosition("log-a", 2, first, first + count - 1)
    events = [
        {
            "event_id": f"o-{first + i}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": "2026-10-01T11:00:00Z",
            "dimensions": {"region": "EU" if i % 2 else "US"},
            "measures": {"amount": 10.0},
        }
        for i in range(count)
    ]
    return position, [event_row(e, first + i, RECEIVED, position) for i, e in enumerate(events)]


def test_events_land_once_and_kpis_are_backfilled_and_fed_on_a_cluster(cluster_url, make_settings) -> None:
    settings = make_settings("127.0.0.1:9", cluster_url).model_copy(update={"clickhouse_cluster": CLUSTER})
    db = settings.clickhouse_database
    with open_store(settings) as store:
        store.ensure_schema(settings)  # again: every statement is idempotent on a cluster too
        position, rows = _rows(0, 10)
        store.insert(InsertRawEvents(db, position, rows, cluster=CLUSTER))
        store.insert(InsertRawEvents(db, position, rows, cluster=CLUSTER))  # a retried block: dropped
        assert EventCounts.parse(store.fetch(EventCounts(db))) == [
            TypeCount("order.placed", 10, {"amount": 100.0})
        ]
        assert LandedBatches.parse(store.fetch(LandedBatches(db, "log-a", 2, 0, CLUSTER))) == [
            LandedBatch(0, 9, 0)
        ]

        apply_kpis(
            store, settings, KpiCatalog.from_mapping(KPIS, REGISTRY), "tester", progress=lambda *_: None
        )
        position, rows = _rows(10, 5)  # after the cutoff: the views' share
        store.insert(InsertRawEvents(db, position, rows, cluster=CLUSTER))
        store.insert(InsertRawEvents(db, position, rows, cluster=CLUSTER))

        kpis = applied_kpis(store, db)
        year = datetime(2026, 1, 1, tzinfo=UTC), datetime(2027, 1, 1, tzinfo=UTC)
        [orders] = kpi_series(store, db, kpis, "orders", *year, Grain.YEAR)
        assert orders.value == 15.0
        revenue = kpi_series(store, db, kpis, "revenue", *year, Grain.YEAR, by=("region",))
        assert {p.group["region"]: p.value for p in revenue} == {"EU": 70.0, "US": 80.0}
