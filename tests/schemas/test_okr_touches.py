"""Touches: which key results landed events move, one touch per key result, and the wire format."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas import (
    Cause,
    EventTypeRegistry,
    KpiCatalog,
    LandedEvent,
    OkrCatalog,
    Subject,
    Touch,
    TouchIndex,
    coalesce,
    decode_touch,
    encode_touch,
)
from schemas._okr_touches import _watches  # white-box: what the index is built from

REGISTRY = EventTypeRegistry.from_mapping(
    {
        "event_types": {
            "order.placed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}},
            "session.started": {"dimensions": {"region": "string"}},
            "okr.check_in": {"dimensions": {"key_result": "string", "milestone": "string"}},
        }
    }
)
KPIS = KpiCatalog.from_mapping(
    {
        "kpis": {
            "revenue": {
                "title": "Revenue",
                "events": "order.placed",
                "aggregation": "sum",
                "measure": "amount",
                "dimensions": ["region"],
            },
            "orders": {
                "title": "Orders",
                "events": "order.placed",
                "aggregation": "count",
                "dimensions": ["region"],
            },
            "sessions": {"title": "Sessions", "events": "session.started", "aggregation": "count"},
            "conversion": {
                "title": "Conversion",
                "aggregation": "ratio",
                "numerator": "orders",
                "denominator": "sessions",
            },
        }
    },
    REGISTRY,
).kpis
OKRS = OkrCatalog.from_mapping(
    {
        "objectives": {
            "sell": {
                "title": "Sell",
                "owner": "sales",
                "period": "2026-Q4",
                "key_results": {
                    "eu-revenue": {
                        "title": "EU revenue",
                        "metric": {
                            "kpi": "revenue",
                            "filters": {"region": "EU"},
                            "direction": "increase_to",
                            "start": {"baseline": "previous_period"},
                            "target": "+20%",
                        },
                    },
                    "conversion": {
                        "title": "Conversion",
                        "metric": {"kpi": "conversion", "direction": "stay_at_or_above", "target": 0.05},
                    },
                    "launch": {"title": "Launch", "milestone": {"milestones": ["a", "b"]}},
                },
            }
        }
    },
    KPIS,
).objectives
INDEX = TouchIndex(OKRS, KPIS, ZoneInfo("UTC"))
Q3, Q4, Q1 = (datetime(2026, m, 1, tzinfo=UTC) for m in (7, 10, 1))
Q1 = Q1.replace(year=2027)


def event(type_: str, occurred: datetime, received: datetime, **dimensions: str) -> LandedEvent:
    return LandedEvent(type_, occurred, dimensions, received)


def test_each_key_result_is_touched_by_the_events_it_reads() -> None:
    now = datetime(2026, 11, 23, tzinfo=UTC)
    cases = [
        (event("order.placed", now, now, region="EU"), {"eu-revenue", "conversion"}),
        (event("order.placed", now, now, region="NA"), {"conversion"}),  # not the EU filter
        (event("order.placed", Q3 + timedelta(days=3), now, region="EU"), {"eu-revenue"}),  # its baseline
        (event("order.placed", Q3 - timedelta(days=1), now, region="EU"), set()),  # before any window
        (event("session.started", now, now), {"conversion"}),  # a ratio reads its denominator's events
        (event("okr.check_in", now, now, key_result="launch", milestone="a"), {"launch"}),
        (event("okr.check_in", now, now, key_result="other", milestone="a"), set()),
        (event("deal.closed", now, now), set()),
    ]
    for landed, expected in cases:
        assert {t.id for t in INDEX.touched([landed])} == expected, landed


def test_a_burst_becomes_one_touch_per_key_result_as_coalescing_the_single_touches_would() -> None:
    rng = random.Random(5)
    events = []
    for _ in range(2000):
        received = Q4 + timedelta(days=rng.randrange(100))
        occurred = received - timedelta(days=rng.randrange(10))  # late when the quarter ended between
        kind = rng.choice(["order.placed", "session.started", "okr.check_in"])
        events.append(event(kind, occurred, received, region=rng.choice(["EU", "NA"]), key_result="launch"))
    one_by_one = coalesce(touch for e in events for touch in INDEX.touched([e]))
    burst = INDEX.touched(events)
    assert burst == one_by_one
    assert {t.cause for t in burst} == {Cause.EVENTS} and len(burst) == 3
    late = [e for e in events if e.occurred_at < Q1 <= e.received_at]
    assert {t.cause for t in INDEX.touched(late)} == {Cause.LATE_EVENTS}
    assert sum(t.events for t in INDEX.touched(late)) == sum(len(INDEX.touched([e])) for e in late)


def naive_touches(events: list[LandedEvent]) -> list[Touch]:
    """The rule spelled out: every event against every key result's watch, one touch per pair."""
    watches = [
        w for o in OKRS.values() for kr in o.key_results for w in _watches(o, kr, KPIS, ZoneInfo("UTC"))
    ]
    single = []
    for e in events:
        for type_name, w in watches:
            inside = any(start <= e.occurred_at < end for start, end in w.ranges)
            if type_name == e.type and inside and all(e.dimensions.get(k) == v for k, v in w.filters):
                late = e.occurred_at < w.period_end <= e.received_at
                cause = Cause.LATE_EVENTS if late else Cause.EVENTS
                single.append(Touch(Subject.KEY_RESULT, w.key_result, cause, 1, e.received_at, e.received_at))
    return coalesce(single)


def test_events_on_window_bounds_touch_as_the_rule_says() -> None:
    rng = random.Random(11)
    edges = [Q3, Q4, Q1]
    events = []
    for _ in range(3000):
        edge = rng.choice(edges)
        occurred = edge + timedelta(microseconds=rng.choice([-1, 0, 1]))  # on, just before, just after
        received = rng.choice(edges) + timedelta(microseconds=rng.choice([-1, 0, 1, 10**9]))
        kind = rng.choice(["order.placed", "session.started", "okr.check_in"])
        region = rng.choice(["EU", "NA", "APAC"])
        events.append(event(kind, occurred, received, region=region, key_result=rng.choice(["launch", "x"])))
    for part in (events[:1], events[:7], events):
        assert sorted(INDEX.touched(part), key=str) == sorted(naive_touches(part), key=str)
    assert {t.cause for t in INDEX.touched(events)} == {Cause.EVENTS}
    assert Cause.LATE_EVENTS in {t.cause for e in events for t in INDEX.touched([e])}


def test_touches_survive_the_topic() -> None:
    at = datetime(2026, 11, 23, 12, 0, 0, 123456, tzinfo=UTC)
    for touch in (
        Touch(Subject.KEY_RESULT, "eu-revenue", Cause.EVENTS, 3, at, at + timedelta(seconds=1)),
        Touch(Subject.OBJECTIVE, "sell", Cause.CASCADE),
    ):
        assert decode_touch(encode_touch(touch)) == touch
