"""A simulated quarter of OKR scoring on the real store and broker, checked against plain formulas.

Events land week by week through 2026-Q4; after each week the scorer (with the simulated clock)
recomputes what the landed events touched, and every key result's recorded score must equal
an independent computation written out here. Covered: cumulative key results (sums and counts
to date, one from a baseline with a relative target and a phase), a decreasing level under an
aspirational objective, a stay-above, milestones, a three-level rollup cascade whose statuses
pass up the tree, a target changed mid-period (versioned, history untouched), final verdicts, and
late events after the close, corrected within the grace period and frozen after it.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka import KafkaConsumer, TopicPartition

from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.clickhouse.okr_scores import CurrentKeyResultScores, CurrentObjectiveScores, KeyResultHistory
from processors.kpi import apply_kpis, read_catalog
from processors.okr import OkrLog, OkrScorer, apply_okrs, load_state, read_okrs
from processors.runtime import load_registry
from schemas import Cause, LandedEvent, Settings, Touch, decode_touch

Q3, Q4, Q1 = (
    datetime(2026, 7, 1, tzinfo=UTC),
    datetime(2026, 10, 1, tzinfo=UTC),
    datetime(2027, 1, 1, tzinfo=UTC),
)

KPIS = """
kpis:
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount, dimensions: [region]}
  avg_order: {title: Average order, events: order.placed, aggregation: avg, measure: amount}
  deals: {title: Deals, events: deal.closed, aggregation: count}
  avg_response:
    title: Average first response
    events: ticket.answered
    aggregation: avg
    measure: first_response_seconds
"""


def okrs(deals_target: int) -> str:
    return f"""
objectives:
  company:
    title: Grow the company
    owner: ceo
    period: 2026-Q4
    key_results:
      sales-kr: {{title: Sales on track, rollup: {{objectives: [sales]}}}}
      support-kr: {{title: Support on track, rollup: {{objectives: [support]}}}}
  sales:
    title: Sell more
    owner: sales
    period: 2026-Q4
    parent: company
    key_results:
      revenue-up:
        title: 20% more revenue than Q3
        weight: 2
        metric:
          kpi: revenue
          direction: increase_to
          start: {{baseline: previous_period}}
          target: +20%
          phases: [{{until: 2026-10-31, target: +5%}}]
      deals-closed:
        title: Close deals
        metric: {{kpi: deals, direction: increase_to, start: 0, target: {deals_target}}}
      order-size:
        title: Orders stay at 100 or more on average
        metric: {{kpi: avg_order, direction: stay_at_or_above, target: 100}}
      north-kr: {{title: North on track, rollup: {{objectives: [north]}}}}
  north:
    title: Grow the north
    owner: north-team
    period: 2026-Q4
    parent: sales
    key_results:
      north-revenue:
        title: 5000 of revenue in the north
        metric: {{kpi: revenue, filters: {{region: north}}, direction: increase_to, start: 0, target: 5000}}
      north-deals:
        title: Two deals
        metric: {{kpi: deals, direction: increase_to, start: 0, target: 2}}
  support:
    title: Answer faster
    owner: support
    period: 2026-Q4
    kind: aspirational
    parent: company
    key_results:
      faster:
        title: 30% faster first responses than Q3
        metric:
          kpi: avg_response
          direction: decrease_to
          start: {{baseline: previous_period}}
          target: -30%
      help-center:
        title: Launch the help center
        milestone: {{milestones: [content, pilot, launch]}}
"""


# -- the independent computation ---------------------------------------------------------------


def clamp(x: float) -> float:
    return min(1.0, max(0.0, x))


ORDER = ["missed", "off_track", "partially_achieved", "at_risk", "on_track", "achieved"]
IN_FLIGHT = {"missed": "off_track", "partially_achieved": "at_risk"}


def status(progress: float, expected: float, success: float = 1.0, pace: bool = False) -> str:
    """On track, at risk or off track against the plan toward `success` (a pace: gap / plan)."""
    if progress >= success - 1e-9:
        return "achieved"
    planned = success * expected
    gap = planned - progress
    if pace:
        gap = gap / planned if planned > 0 else 0.0
    return "on_track" if gap <= 0.1 else "at_risk" if gap <= 0.25 else "off_track"


def verdict(progress: float, success: float = 1.0) -> str:
    """After the period: green achieved, yellow (within 0.3 of success) partially, red missed."""
    if progress >= success - 1e-9:
        return "achieved"
    return "partially_achieved" if progress >= success - 0.3 - 1e-9 else "missed"


def weakest(*statuses: str) -> str:
    return min((IN_FLIGHT.get(s, s) for s in statuses), key=ORDER.index)


def elapsed(at: datetime) -> float:
    return clamp((at - Q4) / (Q1 - Q4))


def expected_revenue(at: datetime) -> float:
    """Cumulative, from 0 to 1.2 x Q3: the phase asks for +5 % over Q3's pace by the end of Oct 31,
    that is 1.05 x Q3 x 31/92, a share 1.05 x 31 / (92 x 1.2) of the target; straight between."""
    nov = datetime(2026, 11, 1, tzinfo=UTC)
    phase = 1.05 * 31 / (92 * 1.2)
    if at < nov:
        return phase * (at - Q4) / (nov - Q4)
    return min(1.0, phase + (1 - phase) * (at - nov) / (Q1 - nov))


class Ledger:
    """Every event landed, to compute what each key result should say."""

    def __init__(self) -> None:
        self.events: list[dict] = []

    def window(self, type_: str, start: datetime, end: datetime, **dims: str) -> list[dict]:
        return [
            e
            for e in self.events
            if e["type"] == type_
            and start <= datetime.fromisoformat(e["occurred_at"]) < end
            and all(e.get("dimensions", {}).get(k) == v for k, v in dims.items())
        ]

    def expected(self, at: datetime, deals_target: int) -> dict[str, tuple]:
        """key result -> (value, progress, status) at `at`."""
        stop = min(at, Q1)
        amounts = [e["measures"]["amount"] for e in self.window("order.placed", Q4, stop)]
        base = sum(e["measures"]["amount"] for e in self.window("order.placed", Q3, Q4))
        revenue = sum(amounts)
        revenue_progress = clamp(revenue / (1.2 * base))  # cumulative: from 0 toward 1.2 x Q3
        deals = len(self.window("deal.closed", Q4, stop))
        deals_progress = clamp(deals / deals_target)
        avg = sum(amounts) / len(amounts) if amounts else None
        held = avg is not None and avg >= 100
        north = sum(e["measures"]["amount"] for e in self.window("order.placed", Q4, stop, region="north"))
        north_progress = clamp(north / 5000)
        north_deals = clamp(deals / 2)
        responses = [
            e["measures"]["first_response_seconds"] for e in self.window("ticket.answered", Q4, stop)
        ]
        base_responses = [
            e["measures"]["first_response_seconds"] for e in self.window("ticket.answered", Q3, Q4)
        ]
        response = sum(responses) / len(responses) if responses else None
        base_response = sum(base_responses) / len(base_responses)
        faster = (  # a level: from the Q3 average toward 30 % below it
            0.0
            if response is None
            else clamp((response - base_response) / (0.7 * base_response - base_response))
        )
        reached = {
            e["dimensions"]["milestone"]
            for e in self.window("okr.check_in", Q4, stop, key_result="help-center")
        }
        e_ = elapsed(at)
        ended = at >= Q1
        # committed key results aim at 1.0, the aspirational support objective's at 0.7
        kr_status = {
            "revenue-up": status(revenue_progress, expected_revenue(at), pace=True),
            "deals-closed": status(deals_progress, e_, pace=True),
            "order-size": "on_track" if held else "off_track",
            "north-revenue": status(north_progress, e_, pace=True),
            "north-deals": status(north_deals, e_, pace=True),
            "faster": status(faster, e_, success=0.7),
            "help-center": status(len(reached) / 3, e_, success=0.7),
        }
        progress = {
            "revenue-up": revenue_progress,
            "deals-closed": deals_progress,
            "order-size": 1.0 if held else 0.0,
            "north-revenue": north_progress,
            "north-deals": north_deals,
            "faster": faster,
            "help-center": len(reached) / 3,
        }
        success = {"faster": 0.7, "help-center": 0.7}
        if ended:
            kr_status = {kr: verdict(p, success.get(kr, 1.0)) for kr, p in progress.items()}

        def objective_status(score: float, parts: list[str], aim: float = 1.0) -> str:
            """Reached its success point, else its weakest part; after the end the verdict."""
            if ended:
                return verdict(score, aim)
            return "achieved" if score >= aim - 1e-9 else weakest(*parts)

        def rollup_status(score: float, read: str) -> str:
            if ended:
                return verdict(score)
            own = status(score, e_)
            return own if own == "achieved" else weakest(own, read)

        north_score = (north_progress + north_deals) / 2
        north_status = objective_status(north_score, [kr_status["north-revenue"], kr_status["north-deals"]])
        north_kr = rollup_status(north_score, north_status)
        sales_score = (2 * revenue_progress + deals_progress + (1.0 if held else 0.0) + north_score) / 5
        sales_parts = [kr_status[k] for k in ("revenue-up", "deals-closed", "order-size")]
        sales_status = objective_status(sales_score, [*sales_parts, north_kr, north_status])
        support_score = (faster + len(reached) / 3) / 2
        support_status = objective_status(
            support_score, [kr_status["faster"], kr_status["help-center"]], aim=0.7
        )
        return {
            "revenue-up": (revenue, revenue_progress, kr_status["revenue-up"]),
            "deals-closed": (deals, deals_progress, kr_status["deals-closed"]),
            "order-size": (avg, 1.0 if held else 0.0, kr_status["order-size"]),
            "north-revenue": (north, north_progress, kr_status["north-revenue"]),
            "north-deals": (deals, north_deals, kr_status["north-deals"]),
            "north-kr": (north_score, north_score, north_kr),
            "faster": (response, faster, kr_status["faster"]),
            "help-center": (len(reached), len(reached) / 3, kr_status["help-center"]),
            "sales-kr": (sales_score, sales_score, rollup_status(sales_score, sales_status)),
            "support-kr": (support_score, support_score, rollup_status(support_score, support_status)),
        }


# -- the run -----------------------------------------------------------------------------------


@pytest.fixture
def quarter(settings: Settings, topics, store, topic_messages):
    """A scorer on a simulated clock, fed by the touches its own cascade publishes."""
    registry = load_registry(settings)
    apply_kpis(store, settings, read_catalog(KPIS, registry), "test", progress=lambda *a: None)
    now = [datetime(2026, 9, 30, tzinfo=UTC)]
    okr_log = OkrLog(settings.kafka_bootstrap_servers, settings)
    apply_okrs(
        store, settings, okr_log, read_okrs(okrs(10), store, settings.clickhouse_database), "test", now=now[0]
    )
    scorer = OkrScorer(store, settings, okr_log, clock=lambda: now[0])
    consumer = KafkaConsumer(bootstrap_servers=settings.kafka_bootstrap_servers, enable_auto_commit=False)
    consumer.assign([TopicPartition(settings.okr_touch_topic, p) for p in range(settings.topic_partitions)])
    consumer.seek_to_beginning()
    ledger = Ledger()
    offset = [0]

    def settle(touches: list[Touch]) -> None:
        """Score `touches`, then every touch the scoring published, until none is new."""
        while True:
            scorer.handle(touches)
            fresh = consumer.poll(timeout_ms=500)  # the scorer's sends were acknowledged before it returned
            touches = [decode_touch(m.value) for messages in fresh.values() for m in messages]
            if not touches:
                return

    def week(at: datetime, events: list[dict]) -> None:
        """Land events (received at `at`), move the clock to `at`, score what they touched."""
        for i, event in enumerate(events):
            event.setdefault("event_id", f"e-{offset[0] + i}")
            event.setdefault("source", "test")
        position = BatchPosition("log", 0, offset[0], offset[0] + max(len(events), 1) - 1)
        rows = [event_row(e, offset[0] + i, at, position) for i, e in enumerate(events)]
        if rows:
            store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))
        offset[0] += len(events) + 1
        ledger.events += events
        now[0] = at
        state = load_state(store, settings, at)
        landed = [
            LandedEvent(e["type"], datetime.fromisoformat(e["occurred_at"]), e.get("dimensions", {}), at)
            for e in events
        ]
        scorer.touch_all()  # as the worker's rescore timer does: time moves expected progress
        settle(state.index.touched(landed))

    yield now, week, ledger, settle, okr_log
    consumer.close()
    okr_log.close()


def order(at: datetime, amount: float, region: str = "south") -> dict:
    return {
        "type": "order.placed",
        "occurred_at": at.isoformat(),
        "dimensions": {"region": region, "channel": "web"},
        "measures": {"amount": amount},
    }


def deal(at: datetime) -> dict:
    return {
        "type": "deal.closed",
        "occurred_at": at.isoformat(),
        "dimensions": {"region": "north", "segment": "x"},
    }


def ticket(at: datetime, seconds: float) -> dict:
    return {
        "type": "ticket.answered",
        "occurred_at": at.isoformat(),
        "dimensions": {"priority": "normal"},
        "measures": {"first_response_seconds": seconds},
    }


def check_in(at: datetime, milestone: str) -> dict:
    return {
        "type": "okr.check_in",
        "occurred_at": at.isoformat(),
        "dimensions": {"key_result": "help-center", "milestone": milestone},
    }


def current(store, settings: Settings) -> dict:
    query = CurrentKeyResultScores(settings.clickhouse_database)
    return {row.score.key_result: row.score for row in query.parse(store.fetch(query))}


def history(store, settings: Settings, kr: str) -> list:
    query = KeyResultHistory(settings.clickhouse_database, kr)
    return query.parse(store.fetch(query))


def assert_scores(store, settings: Settings, ledger: Ledger, at: datetime, deals_target: int) -> None:
    recorded = current(store, settings)
    for kr, (value, progress, state) in ledger.expected(at, deals_target).items():
        score = recorded[kr]
        assert score.progress == pytest.approx(progress, abs=1e-9), (kr, at, score)
        assert score.status.value == state, (kr, at, score)
        if value is None:
            assert score.value is None, (kr, score)
        else:
            assert score.value == pytest.approx(value, rel=1e-9), (kr, at, score)


def test_a_simulated_quarter_moves_every_key_result_as_the_formulas_say(
    quarter, store, settings: Settings, topic_messages
) -> None:
    now, week, ledger, settle, okr_log = quarter
    rng = random.Random(7)
    # Q3, the baseline: orders and tickets land before the quarter starts
    q3 = [
        order(Q3 + timedelta(days=d, minutes=rng.randrange(600)), rng.uniform(50, 150))
        for d in range(0, 90, 3)
    ]
    q3 += [ticket(Q3 + timedelta(days=d, hours=3), rng.uniform(1000, 3000)) for d in range(0, 90, 9)]
    week(datetime(2026, 9, 30, 12, tzinfo=UTC), q3)

    deals_target = 10
    milestones = iter(["content", "pilot", "launch"])
    day = Q4
    while day < datetime(2026, 12, 31, tzinfo=UTC):
        step = day + timedelta(days=7)
        if deals_target == 10 and step >= datetime(2026, 11, 15, tzinfo=UTC):
            # the deals target changes mid-period: a new version, in force from its time
            changed_at = datetime(2026, 11, 15, tzinfo=UTC)
            now[0] = changed_at
            catalog = read_okrs(okrs(8), store, settings.clickhouse_database)
            plan = apply_okrs(store, settings, okr_log, catalog, "test", now=changed_at)
            assert [o.id for o in plan.changed] == ["sales"]
            settle([])
            deals_target = 8
        events = [
            order(day + timedelta(hours=h), rng.uniform(60, 180), rng.choice(["north", "south"]))
            for h in range(0, 168, 6)
        ]
        events += [deal(day + timedelta(days=2))] if rng.random() < 0.8 else []
        events += [ticket(day + timedelta(days=1, hours=h), rng.uniform(600, 2500)) for h in (1, 5)]
        if day.month == 11 and day.day <= 21:
            events.append(check_in(day + timedelta(days=3), next(milestones)))
        week(step, events)
        assert_scores(store, settings, ledger, step, deals_target)
        day = step

    # every change was recorded; history before the new target keeps the old one
    rows = history(store, settings, "deals-closed")
    before = [r.score for r in rows if r.score.as_of < datetime(2026, 11, 15, tzinfo=UTC)]
    after = [r.score for r in rows if r.score.as_of >= datetime(2026, 11, 15, tzinfo=UTC)]
    assert before and {s.target for s in before} == {10.0} and {s.version for s in before} == {1}
    assert after and {s.target for s in after} == {8.0} and {s.version for s in after} == {2}

    # the quarter closes; late events within the grace period correct the scores
    week(datetime(2027, 1, 1, tzinfo=UTC), [])
    late_at = datetime(2027, 1, 4, tzinfo=UTC)
    week(late_at, [order(datetime(2026, 12, 30, 10, tzinfo=UTC), 5000.0, "north")])
    assert_scores(store, settings, ledger, late_at, deals_target)
    north = history(store, settings, "north-revenue")[-1]
    assert north.cause == Cause.LATE_EVENTS.value and north.score.progress == 1.0

    # after the grace period the quarter is frozen: late events change nothing
    frozen_rows = {kr: len(history(store, settings, kr)) for kr in ("revenue-up", "north-revenue")}
    week(datetime(2027, 1, 20, tzinfo=UTC), [order(datetime(2026, 12, 31, 9, tzinfo=UTC), 9000.0, "north")])
    assert {kr: len(history(store, settings, kr)) for kr in frozen_rows} == frozen_rows

    # the scored events on Kafka are the history rows, keyed by key result
    published = [orjson.loads(m.value) for m in topic_messages(settings, settings.okr_score_topic)]
    kr_events = [e for e in published if e["type"] == "key_result.scored"]
    total_rows = sum(len(history(store, settings, kr)) for kr in ledger.expected(late_at, 8))
    assert len(kr_events) == total_rows
    assert {m.key.decode() for m in topic_messages(settings, settings.okr_score_topic)} >= {
        "revenue-up",
        "sales",
    }
    objectives = CurrentObjectiveScores(settings.clickhouse_database)
    company = next(
        r.score for r in objectives.parse(store.fetch(objectives)) if r.score.objective == "company"
    )
    expected = ledger.expected(late_at, deals_target)
    assert company.score == pytest.approx((expected["sales-kr"][1] + expected["support-kr"][1]) / 2, abs=1e-9)
