"""okrstream's own store code on CLICKHOUSE_URL pointed at the embedded store's HTTP interface."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from urllib.parse import quote

from processors import applied_kpis, apply_kpis, kpi_series, open_store
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.store import ApiKeyStore
from schemas import EventTypeRegistry, Grain, KpiCatalog
from tests.conftest import Sql

from .conftest import BI_PASSWORD, PASSWORD

REGISTRY = EventTypeRegistry.from_mapping(
    {"event_types": {"order.placed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}}}}
)
DAY = datetime(2026, 11, 2, tzinfo=UTC)
KPIS = KpiCatalog.from_mapping(
    {
        "kpis": {
            "revenue": {
                "title": "Revenue",
                "events": "order.placed",
                "aggregation": "sum",
                "measure": "amount",
                "dimensions": ["region"],
            }
        }
    },
    REGISTRY,
)


def orders(count: int) -> list[dict]:
    return [
        {
            "event_id": f"o-{i}",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": (DAY + timedelta(minutes=i)).isoformat(),
            "dimensions": {"region": "EU" if i % 2 else "NA"},
            "measures": {"amount": 10.0},
        }
        for i in range(count)
    ]


def test_schema_inserts_and_kpis_over_http(store_http) -> None:
    url = f"http://default:{quote(PASSWORD, safe='')}@127.0.0.1:{store_http.port}"
    over_http = store_http.settings.model_copy(update={"clickhouse_url": url})
    db = over_http.clickhouse_database
    with open_store(over_http) as store:  # ensure_schema over HTTP
        position = BatchPosition("log", 0, 0, 9)
        rows = [event_row(e, i, DAY, position) for i, e in enumerate(orders(10))]
        store.insert(InsertRawEvents(db, position, rows))
        store.insert(InsertRawEvents(db, position, rows))  # a worker's retry: the same block, the same token
        assert store.fetch(Sql("SELECT count() FROM {db:Identifier}.raw_events", db=db)) == [(10,)]

        plan = apply_kpis(store, over_http, KPIS, "tester")
        assert plan.summary() == "create: revenue"
        kpis = applied_kpis(store, db)
        points = kpi_series(
            store, db, kpis, "revenue", DAY, DAY + timedelta(days=1), Grain.DAY, by=("region",)
        )
        assert {p.group["region"]: p.value for p in points} == {"EU": 50.0, "NA": 50.0}

        keys = ApiKeyStore(store, db)
        token, key = keys.create("bi-tool", "read")
        assert [k.key_id for k in keys.list()] == [key.key_id] and token

    # a BI tool's user reads the KPI views, and nothing more
    bi = store_http.client(username="bi", password=BI_PASSWORD)
    assert bi.query(
        f"SELECT dimension_value, value FROM {db}.kpi_values WHERE kpi = 'revenue' AND grain = 'day'"
        " AND dimension = 'region' ORDER BY dimension_value"
    ).result_rows == [("EU", 50.0), ("NA", 50.0)]
