"""The scorer on the real store and broker: who scores an objective, and nothing lost on a retry."""

from __future__ import annotations

import threading
from collections import Counter
from datetime import UTC, datetime, timedelta

import orjson
import pytest

from ingest import ProducerError
from processors import Store
from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.clickhouse.okr_scores import CurrentKeyResultScores, CurrentObjectiveScores
from processors.clickhouse.store_clock import StoreClock
from processors.kpi import apply_kpis, read_catalog
from processors.okr import OkrDefinitions, OkrLog, OkrScorer, apply_okrs, okr_report, read_okrs
from processors.runtime import load_registry
from schemas import Cause, Settings, Subject, Touch, decode_touch

NOW = datetime(2026, 11, 2, tzinfo=UTC)
SOLD = NOW - timedelta(hours=1)
KPIS = """
kpis:
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount}
  orders: {title: Orders, events: order.placed, aggregation: count}
"""
OKRS = """
objectives:
  sell:
    title: Sell more
    owner: sales
    period: 2026-Q4
    key_results:
      revenue: {title: Revenue, metric: {kpi: revenue, direction: increase_to, start: 0, target: 1000}}
      orders: {title: Orders, metric: {kpi: orders, direction: increase_to, start: 0, target: 10}}
"""
MOVED = [Touch(Subject.KEY_RESULT, kr, Cause.EVENTS, 1, SOLD, SOLD) for kr in ("revenue", "orders")]


def land_order(store, settings: Settings, event_id: str, amount: float, partition: int = 1) -> None:
    """Insert one sold order into raw_events as the batch at offset 0 of the log's `partition`.

    Each call needs a partition of its own: the same batch position is the same insert token, and
    the store would drop the second insert as a retried block.
    """
    event = {
        "event_id": event_id,
        "source": "test",
        "type": "order.placed",
        "occurred_at": SOLD.isoformat(),
        "measures": {"amount": amount},
    }
    position = BatchPosition("log", partition, 0, 0)
    store.insert(
        InsertRawEvents(settings.clickhouse_database, position, [event_row(event, 0, SOLD, position)])
    )


@pytest.fixture
def scoring(settings: Settings, topics, store):
    """Definitions applied (their touches already read), one order landed, an OkrLog to score with."""
    apply_kpis(store, settings, read_catalog(KPIS, load_registry(settings)), "test", progress=lambda *a: None)
    okr_log = OkrLog(settings.kafka_bootstrap_servers, settings)
    catalog = read_okrs(OKRS, store, settings.clickhouse_database)
    apply_okrs(store, settings, okr_log, catalog, "test", now=NOW)
    land_order(store, settings, "e-1", 250.0, partition=0)
    yield okr_log
    okr_log.close()


def scorer_on(store, settings: Settings, okr_log: OkrLog) -> OkrScorer:
    return OkrScorer(store, settings, okr_log, clock=lambda: NOW)


def objective_scores(store, settings: Settings) -> dict:
    query = CurrentObjectiveScores(settings.clickhouse_database)
    return {row.score.objective: row for row in query.parse(store.fetch(query))}


def scored_events(settings: Settings, topic_messages) -> list[dict]:
    return [orjson.loads(m.value) for m in topic_messages(settings, settings.okr_score_topic)]


def objective_touches(settings: Settings, topic_messages) -> list[Touch]:
    touches = [decode_touch(m.value) for m in topic_messages(settings, settings.okr_touch_topic)]
    return [t for t in touches if t.subject is Subject.OBJECTIVE and t.cause is Cause.CASCADE]


def test_touch_partition_is_where_the_producer_puts_a_key(settings, scoring, topic_messages):
    keys = [f"objective-{i}" for i in range(40)]
    scoring.touch(Touch(Subject.OBJECTIVE, key, Cause.CASCADE) for key in keys)
    scoring.flush()
    placed = {
        decode_touch(m.value).id: m.partition
        for m in topic_messages(settings, settings.okr_touch_topic)
        if decode_touch(m.value).id in keys
    }
    assert len(set(placed.values())) > 1  # 40 keys over 4 partitions: the rule is really exercised
    assert placed == {key: scoring.touch_partition(key) for key in keys}


def test_an_owned_objective_is_scored_in_the_same_pass(settings, store, scoring, topic_messages):
    scorer = scorer_on(store, settings, scoring)
    scorer.assigned(range(settings.topic_partitions))

    scorer.handle(MOVED)

    row = objective_scores(store, settings)["sell"]
    assert row.cause == "cascade"
    assert row.score.score == pytest.approx((0.25 + 0.1) / 2)
    events = scored_events(settings, topic_messages)
    assert sorted(e["key_result"] for e in events if e["type"] == "key_result.scored") == [
        "orders",
        "revenue",
    ]
    assert [e["objective"] for e in events if e["type"] == "objective.scored"] == ["sell"]
    assert objective_touches(settings, topic_messages) == []  # nobody else is asked to score it


def test_an_objective_owned_elsewhere_is_touched_for_its_owner(settings, store, scoring, topic_messages):
    scorer = scorer_on(store, settings, scoring)
    partition = scoring.touch_partition("sell")
    scorer.assigned(p for p in range(settings.topic_partitions) if p != partition)

    scorer.handle(MOVED)

    assert "sell" not in objective_scores(store, settings)
    assert [t.id for t in objective_touches(settings, topic_messages)] == ["sell"]

    owner = scorer_on(store, settings, scoring)
    owner.assigned([partition])
    owner.handle(objective_touches(settings, topic_messages))
    assert objective_scores(store, settings)["sell"].score.score == pytest.approx((0.25 + 0.1) / 2)


def test_after_a_rebalance_the_scorer_owns_nothing_until_told_again(settings, store, scoring, topic_messages):
    scorer = scorer_on(store, settings, scoring)
    scorer.assigned(range(settings.topic_partitions))
    scorer.forget()  # partitions revoked: the assignment that follows has not come yet

    scorer.handle(MOVED)

    assert "sell" not in objective_scores(store, settings)  # not scored here: touched for its owner
    assert [t.id for t in objective_touches(settings, topic_messages)] == ["sell"]


def test_the_rescore_touches_the_ids_this_scorer_owns(settings, store, scoring, topic_messages):
    def time_touches() -> Counter:
        touches = [decode_touch(m.value) for m in topic_messages(settings, settings.okr_touch_topic)]
        return Counter(t.id for t in touches if t.cause is Cause.TIME)

    ids = ("orders", "revenue", "sell")
    sell = scoring.touch_partition("sell")
    others = [p for p in range(settings.topic_partitions) if p != sell]
    for owned in ([sell], others, None):  # None: not yet told what it owns
        scorer = scorer_on(store, settings, scoring)
        if owned is not None:
            scorer.assigned(owned)
        before = time_touches()
        scorer.touch_all()
        expected = [i for i in ids if owned is None or scoring.touch_partition(i) in owned]
        assert sorted((time_touches() - before).elements()) == expected, owned


class FailingOnce(OkrLog):
    """The broker does not confirm the `fail_at`-th flush (its records may be out or not)."""

    def __init__(self, bootstrap_servers: str, settings: Settings, fail_at: int) -> None:
        super().__init__(bootstrap_servers, settings)
        self.flushes, self.fail_at = 0, fail_at

    def flush(self, timeout: float | None = 30.0) -> None:
        super().flush(timeout)
        self.flushes += 1
        if self.flushes == self.fail_at:
            raise ProducerError("the broker did not acknowledge some OKR records")


def published(settings: Settings, topic_messages) -> list[tuple[str, str]]:
    """(type, id) of every scored event, and ("touch", id) of every objective touch by cascade."""
    events = [
        (e["type"], e.get("key_result") or e["objective"]) for e in scored_events(settings, topic_messages)
    ]
    return sorted(events + [("touch", t.id) for t in objective_touches(settings, topic_messages)])


KRS = [("key_result.scored", "orders"), ("key_result.scored", "revenue")]
SELL = [("objective.scored", "sell")]


@pytest.mark.parametrize(
    ("owner", "fail_at", "expected"),
    [
        # owned: flush 1 confirms the key results' events, flush 2 the objective's, 3 the touches
        ("here", 1, KRS * 2 + SELL),
        ("here", 2, KRS + SELL * 2),
        ("here", 3, KRS + SELL),  # the failed flush held no touch: nothing to repeat
        # owned elsewhere: flush 1 confirms the key results' events, flush 2 the objective's touch
        ("elsewhere", 1, KRS * 2 + [("touch", "sell")]),
        ("elsewhere", 2, KRS + [("touch", "sell")] * 2),
    ],
)
def test_what_a_failed_publish_left_unconfirmed_the_retry_publishes_again(
    settings, store, scoring, topic_messages, owner, fail_at, expected
):
    log = FailingOnce(settings.kafka_bootstrap_servers, settings, fail_at)
    scorer = scorer_on(store, settings, log)
    mine = log.touch_partition("sell")
    scorer.assigned(p for p in range(settings.topic_partitions) if (p == mine) == (owner == "here"))
    with pytest.raises(ProducerError):
        scorer.handle(MOVED)
    scorer.handle(MOVED)  # the worker's retry: the same touches again
    scorer.handle(MOVED)  # once more, everything confirmed: nothing has moved
    log.close()

    # what the failed flush held is out twice (it was sent, just not confirmed): never lost
    assert published(settings, topic_messages) == sorted(expected)


def test_a_score_is_read_between_inserts_so_recomputing_at_its_instant_agrees(
    settings, store, scoring
) -> None:
    # ClickHouse stamps landed_at as an insert begins and shows its rows as it commits: a read in
    # between would miss rows that an as-of read at its instant counts (seen once in CI: 50 vs 150)
    landing = threading.Lock()  # the sink holds it around each insert into raw_events
    inserted = threading.Event()
    as_of_taken_after_the_insert: list[bool] = []

    def clock() -> datetime:
        as_of_taken_after_the_insert.append(inserted.is_set())
        return NOW

    definitions = OkrDefinitions(store, settings, clock=lambda: NOW)  # loaded before the lock
    scorer = OkrScorer(store, settings, scoring, clock=clock, definitions=definitions, landing=landing)
    scorer.assigned(range(settings.topic_partitions))
    with landing:  # an insert in flight (the test's own store client: a sink has its own)
        scoring_pass = threading.Thread(target=scorer.handle, args=(MOVED,))
        scoring_pass.start()
        scoring_pass.join(timeout=1.0)
        assert scoring_pass.is_alive()  # it waits for the insert instead of reading under it
        land_order(Store.connect(settings), settings, "e-2", 300.0)
        inserted.set()
    scoring_pass.join()
    assert as_of_taken_after_the_insert[0]  # the scores' as_of is an instant after the insert

    query = CurrentKeyResultScores(settings.clickhouse_database, ("revenue",))
    (recorded,) = query.parse(store.fetch(query))
    assert recorded.score.value == 550.0  # the insert it waited for counts
    report = okr_report(store, settings, as_of=recorded.scored_at)
    (sell,) = report["objectives"]
    assert next(kr["value"] for kr in sell["key_results"] if kr["id"] == "revenue") == 550.0


class StoreClockOnly:
    """A store that answers only the store's clock, with the instants given: replicas behind one
    address whose clocks are apart. Pure: the scorer's instants alone, no store underneath."""

    def __init__(self, *instants: datetime) -> None:
        self.instants = list(instants)

    def fetch(self, query: object) -> list[tuple]:
        assert isinstance(query, StoreClock)
        return [(self.instants.pop(0),)]


def test_a_score_instant_never_goes_back_when_the_store_clock_does() -> None:
    settings = Settings()
    first, behind, ahead = NOW, NOW - timedelta(milliseconds=3), NOW + timedelta(seconds=1)
    store = StoreClockOnly(first, behind, ahead)
    scorer = OkrScorer(store, settings, okr_log=None)  # type: ignore[arg-type]
    assert scorer._instants() == (first, first)
    assert scorer._instants() == (first + timedelta(microseconds=1),) * 2  # never before the last
    assert scorer._instants() == (ahead, ahead)
