"""As of an instant, by landing time or by business time, and the hint a read with nothing to show gives.

Events are stored now (their landing time is the test's real time, some day after 2026-10), with
business times in October 2026; the objective's definitions are applied as of 2026-10-01.
"""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.kpi import apply_kpis, read_catalog
from processors.okr import OkrLog, apply_okrs, okr_report, read_okrs
from processors.runtime import load_registry
from schemas import Settings

KPIS = """
kpis:
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount}
"""
OKRS = """
objectives:
  sell:
    title: Sell more
    owner: sales
    period: 2026-Q4
    key_results:
      revenue-up:
        title: 1000 of revenue
        metric: {kpi: revenue, direction: increase_to, start: 0, target: 1000}
      other:
        title: Also 1000 of revenue
        metric: {kpi: revenue, direction: increase_to, start: 0, target: 1000}
"""
APPLIED = datetime(2026, 10, 1, tzinfo=UTC)
MID_OCTOBER = datetime(2026, 10, 15, tzinfo=UTC)


@pytest.fixture
def applied(settings: Settings, topics, store):
    apply_kpis(store, settings, read_catalog(KPIS, load_registry(settings)), "test", progress=lambda *a: None)
    okr_log = OkrLog(settings.kafka_bootstrap_servers, settings)
    try:
        apply_okrs(
            store, settings, okr_log, read_okrs(OKRS, store, settings.clickhouse_database), "t", now=APPLIED
        )
    finally:
        okr_log.close()


def land_orders(store, settings: Settings, *orders: tuple[str, float]) -> None:
    events = [
        {
            "event_id": f"o-{i}",
            "source": "shop",
            "type": "order.placed",
            "occurred_at": at,
            "measures": {"amount": amount},
        }
        for i, (at, amount) in enumerate(orders)
    ]
    position = BatchPosition("log", 0, 0, len(events) - 1)
    rows = [event_row(e, i, datetime(2026, 10, 31, tzinfo=UTC), position) for i, e in enumerate(events)]
    store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))


def revenue(report: dict) -> float:
    (sell,) = report["objectives"]
    return next(kr["value"] for kr in sell["key_results"] if kr["id"] == "revenue-up")


def test_before_anything_landed_the_read_says_so(applied, store, settings: Settings) -> None:
    report = okr_report(store, settings, as_of=MID_OCTOBER)
    assert report["hint"] == "no event has landed yet, so every key result reads nothing"
    land_orders(store, settings, ("2026-10-05T10:00:00Z", 300.0), ("2026-10-20T10:00:00Z", 200.0))
    report = okr_report(store, settings, as_of=MID_OCTOBER)
    assert report["by"] == "landed" and revenue(report) == 0.0  # they landed after mid-October
    assert report["hint"].startswith("nothing had landed by 2026-10-15T00:00:00Z: the first event landed at ")
    assert report["hint"].endswith("--by occurred counts them by when they happened")


def test_by_business_time_counts_what_occurred_whenever_it_landed(applied, store, settings: Settings) -> None:
    land_orders(store, settings, ("2026-10-05T10:00:00Z", 300.0), ("2026-10-20T10:00:00Z", 200.0))
    report = okr_report(store, settings, as_of=MID_OCTOBER, by="occurred")
    assert (report["by"], revenue(report), "hint" in report) == ("occurred", 300.0, False)
    assert (
        revenue(okr_report(store, settings, as_of=datetime(2026, 11, 1, tzinfo=UTC), by="occurred")) == 500.0
    )


def test_before_any_objective_was_in_force_the_read_says_when_the_first_was(
    applied, store, settings: Settings
) -> None:
    report = okr_report(store, settings, as_of=datetime(2026, 9, 1, tzinfo=UTC))
    assert report["objectives"] == []
    assert report["hint"] == (
        "no objective was in force at 2026-09-01T00:00:00Z: the first was applied at 2026-10-01T00:00:00Z"
    )


def test_an_unknown_time_basis_is_refused(applied, store, settings: Settings) -> None:
    with pytest.raises(ValueError, match="by must be one of landed, occurred, got 'received'"):
        okr_report(store, settings, as_of=MID_OCTOBER, by="received")
