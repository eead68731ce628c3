"""What a report says beside the scores: why each was recorded, period grades, milestones reached.

The board shows these; the HTTP API and `okr status --format json` answer the same fields.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.kpi import apply_kpis, read_catalog
from processors.okr import OkrLog, OkrScorer, apply_okrs, key_result_report, okr_report, read_okrs
from processors.runtime import load_registry
from schemas import Cause, Settings, Subject, Touch

NOW = datetime(2026, 11, 2, tzinfo=UTC)
SOLD = NOW - timedelta(hours=1)
KPIS = """
kpis:
  revenue: {title: Revenue, unit: EUR, events: order.placed, aggregation: sum, measure: amount}
"""
OKRS = """
objectives:
  sell:
    title: Sell more
    owner: sales
    period: 2026-Q4
    weight: 3
    key_results:
      revenue: {title: Revenue, metric: {kpi: revenue, direction: increase_to, start: 0, target: 1000}}
      launch:
        title: Launch the shop
        milestone: {milestones: [design, build, launch]}
  dream:
    title: Dream big
    owner: research
    period: 2026-Q4
    kind: aspirational
    key_results:
      moonshot: {title: Revenue, metric: {kpi: revenue, direction: increase_to, start: 0, target: 100000}}
      also: {title: Launch, milestone: {milestones: [one, two]}}
"""


def event(event_id: str, type_: str, **fields) -> dict:
    return {"event_id": event_id, "source": "test", "type": type_, "occurred_at": SOLD.isoformat(), **fields}


@pytest.fixture
def scored(settings: Settings, topics, store):
    """Definitions applied, an order of 250 and one milestone check-in landed, every score recorded."""
    apply_kpis(store, settings, read_catalog(KPIS, load_registry(settings)), "test", progress=lambda *a: None)
    okr_log = OkrLog(settings.kafka_bootstrap_servers, settings)
    apply_okrs(store, settings, okr_log, read_okrs(OKRS, store, settings.clickhouse_database), "t", now=NOW)
    events = [
        event("o-1", "order.placed", measures={"amount": 250.0}),
        event("c-1", "okr.check_in", dimensions={"key_result": "launch", "milestone": "build"}),
    ]
    position = BatchPosition("log", 0, 0, len(events) - 1)
    rows = [event_row(e, i, SOLD, position) for i, e in enumerate(events)]
    store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))
    scorer = OkrScorer(store, settings, okr_log, clock=lambda: NOW)
    scorer.assigned(range(settings.topic_partitions))
    ids = ("revenue", "launch", "moonshot", "also")
    scorer.handle(Touch(Subject.KEY_RESULT, kr, Cause.EVENTS, 1, SOLD, SOLD) for kr in ids)
    yield
    okr_log.close()


def test_each_score_says_why_it_was_recorded_and_periods_are_graded(scored, store, settings) -> None:
    report = okr_report(store, settings)
    objectives = {o["id"]: o for o in report["objectives"]}
    sell, dream = objectives["sell"], objectives["dream"]
    assert (sell["weight"], sell["success"], dream["success"]) == (3.0, 1.0, 0.7)
    assert sell["cause"] == "cascade" and sell["updated_at"] is not None
    revenue = next(kr for kr in sell["key_results"] if kr["id"] == "revenue")
    assert (revenue["cause"], revenue["value"]) == ("events", 250.0)
    (period,) = report["periods"]
    # sell: (0.25 + 1/3) / 2; dream: (0.0025 + 0) / 2; weighted 3 to 1
    expected = (3 * (0.25 + 1 / 3) / 2 + (0.0025 + 0.0) / 2) / 4
    assert period["score"] == pytest.approx(expected)
    assert period["success"] == pytest.approx((3 * 1.0 + 0.7) / 4)
    assert period["grade"] == "red"
    assert sorted((o["id"], o["weight"]) for o in period["objectives"]) == [("dream", 1.0), ("sell", 3.0)]


def test_as_of_a_past_instant_the_recorded_score_says_when_and_why(scored, store, settings) -> None:
    report = okr_report(store, settings, as_of=NOW + timedelta(minutes=1))  # after the scorer's instant
    sell = next(o for o in report["objectives"] if o["id"] == "sell")
    revenue = next(kr for kr in sell["key_results"] if kr["id"] == "revenue")
    assert revenue["cause"] is None  # recomputed, not recorded
    assert revenue["recorded"]["cause"] == "events" and revenue["recorded"]["scored_at"]


def test_a_milestone_key_result_lists_which_milestones_are_reached(scored, store, settings) -> None:
    report = key_result_report(store, settings, "launch")
    assert report["milestones"] == [
        {"name": "design", "reached": False},
        {"name": "build", "reached": True},
        {"name": "launch", "reached": False},
    ]
    assert report["objective"]["period_start"] == "2026-10-01T00:00:00Z"
    assert report["objective"]["kind"] == "committed"
    assert "milestones" not in key_result_report(store, settings, "revenue")
