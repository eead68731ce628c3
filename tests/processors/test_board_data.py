"""What the board reads: a key result's KPI per day beside the period before and the year before,
and every KPI's period to date against the same stretch of earlier periods, with health verdicts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.board import board_objectives, key_result_board, kpi_board
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.kpi import apply_kpis, read_catalog
from processors.okr import OkrLog, apply_okrs, read_okrs
from processors.runtime import load_registry
from schemas import Grain, Settings

NOW = datetime(2026, 10, 3, 12, tzinfo=UTC)  # the third day of 2026-Q4, at noon
KPIS = """
kpis:
  revenue:
    title: Revenue
    unit: EUR
    events: order.placed
    aggregation: sum
    measure: amount
    dimensions: [region]
    health: {at_or_above: 100, grain: day}
  orders: {title: Orders, unit: orders, events: order.placed, aggregation: count}
"""
OKRS = """
objectives:
  sell:
    title: Sell more
    owner: sales
    period: 2026-Q4
    key_results:
      revenue-eu:
        title: 20% more EU revenue than last quarter
        metric: {kpi: revenue, filters: {region: EU}, direction: increase_to,
                 start: {baseline: previous_period}, target: +20%}
      launch: {title: Launch, milestone: {milestones: [design, launch]}}
"""
ORDERS = [  # (occurred, region, amount)
    ("2026-10-01T09:00:00Z", "EU", 200.0),
    ("2026-10-01T10:00:00Z", "US", 999.0),
    ("2026-10-02T09:00:00Z", "EU", 50.0),
    ("2026-07-02T10:00:00Z", "EU", 100.0),  # the quarter before, its second day
    ("2025-10-03T10:00:00Z", "EU", 50.0),  # a year before, the third day
]


@pytest.fixture
def landed(settings: Settings, topics, store) -> None:
    apply_kpis(store, settings, read_catalog(KPIS, load_registry(settings)), "t", progress=lambda *a: None)
    okr_log = OkrLog(settings.kafka_bootstrap_servers or "", settings)
    try:
        catalog = read_okrs(OKRS, store, settings.clickhouse_database)
        apply_okrs(store, settings, okr_log, catalog, "t", now=datetime(2026, 9, 1, tzinfo=UTC))
    finally:
        okr_log.close()
    events = [
        {
            "event_id": f"o-{i}",
            "source": "shop",
            "type": "order.placed",
            "occurred_at": at,
            "dimensions": {"region": region, "channel": "web"},
            "measures": {"amount": amount, "items": 1},
        }
        for i, (at, region, amount) in enumerate(ORDERS)
    ]
    position = BatchPosition("log", 0, 0, len(events) - 1)
    rows = [event_row(e, i, NOW, position) for i, e in enumerate(events)]
    store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))


def test_the_objectives_come_with_each_kpis_title_and_unit(landed, store, settings) -> None:
    board = board_objectives(store, settings)
    assert board["kpis"]["revenue"] == {"title": "Revenue", "unit": "EUR"}
    assert [o["id"] for o in board["objectives"]] == ["sell"]
    assert board["freeze_after_days"] == settings.okr_freeze_after_days and board["now"]


def test_a_key_result_shows_its_kpi_per_day_beside_the_period_before_and_the_year_before(
    landed, store, settings
) -> None:
    body = key_result_board(store, settings, "revenue-eu", now=NOW)
    kpi = body["kpi"]
    assert (kpi["name"], kpi["unit"], kpi["filters"]) == ("revenue", "EUR", {"region": "EU"})
    days = kpi["days"]
    assert len(days) == 92 and days[0]["day"] == "2026-10-01T00:00:00Z"
    # only EU orders; today so far; nothing for days to come
    assert [d["value"] for d in days[:4]] == [200.0, 50.0, 0.0, None]
    assert [d["previous"] for d in days[:3]] == [0.0, 100.0, 0.0]  # 2026-07-01, 07-02, 07-03
    assert [d["year_ago"] for d in days[:3]] == [0.0, 0.0, 50.0]  # 2025-10-01, 10-02, 10-03
    assert [d["healthy"] for d in days[:3]] == [True, False, None]  # today has not ended: not judged
    assert kpi["health"]["verdict"] == "unhealthy"
    assert (kpi["health"]["judged"], kpi["health"]["unhealthy"]) == (2, 1)
    assert kpi["band"] == {"at_or_above": 100.0, "grain": "day"}
    assert kpi["previous_period"] == {"start": "2026-07-01T00:00:00Z", "end": "2026-10-01T00:00:00Z"}
    milestones = key_result_board(store, settings, "launch", now=NOW)
    assert milestones["kpi"] is None
    assert milestones["milestones"] == [
        {"name": "design", "reached": False},
        {"name": "launch", "reached": False},
    ]
    with pytest.raises(KeyError):
        key_result_board(store, settings, "nope", now=NOW)


def test_every_kpi_to_date_against_the_same_stretch_before_with_its_health(landed, store, settings) -> None:
    body = kpi_board(store, settings, Grain.QUARTER, now=NOW)
    assert body["period"] == {"start": "2026-10-01T00:00:00Z", "end": "2027-01-01T00:00:00Z"}
    assert body["windows"]["previous"] == {"start": "2026-07-01T00:00:00Z", "end": "2026-07-03T12:00:00Z"}
    kpis = {k["name"]: k for k in body["kpis"]}
    revenue = kpis["revenue"]
    assert (revenue["value"], revenue["previous"], revenue["year_ago"]) == (1249.0, 100.0, 50.0)
    assert revenue["change"] == pytest.approx(11.49) and revenue["year_change"] == pytest.approx(23.98)
    assert [d["value"] for d in revenue["days"][:4]] == [1199.0, 50.0, 0.0, None]
    assert (revenue["health"]["verdict"], revenue["health"]["unhealthy"]) == ("unhealthy", 1)
    orders = kpis["orders"]
    assert (orders["value"], orders["previous"], orders["year_ago"], orders["band"]) == (3.0, 1.0, 1.0, None)
    assert orders["health"] == {"verdict": "not_judged", "judged": 0, "unhealthy": 0, "periods": []}
    month = kpi_board(store, settings, Grain.MONTH, now=NOW)
    month_kpis = {k["name"]: (k["previous"], k["year_ago"]) for k in month["kpis"]}
    assert month_kpis == {"orders": (0.0, 1.0), "revenue": (0.0, 50.0)}  # Sep 1-3, 2026 and Oct 1-3, 2025
    with pytest.raises(ValueError, match="grain"):
        kpi_board(store, settings, Grain.DAY, now=NOW)
