"""The worker is killed with SIGKILL mid-stream, again and again; nothing is lost or counted twice.

The producer is paced by the kills: before each kill it may send only the next share of the
stream, and the kill comes just after the worker landed some of that share. So every kill falls
mid-stream however slow the machine is, and with small batches and a one-second commit interval
some batches have landed in ClickHouse without their offsets committed: the restarted worker
must replay them under the same insert tokens. The test checks that this path really ran, and
that every KPI fed by materialized views from raw_events counts each event once as well, in both
of its levels: the minute rollup and the hourly level the rollup feeds.
"""

from __future__ import annotations

import random
import threading
import time
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta

import pytest

from ingest import EventProducer
from processors.kpi import applied_kpis, kpi_series
from schemas import Grain, validate_event
from tests.conftest import Sql

pytestmark = pytest.mark.slow

KILLS = 4
EVENTS = 30_000
MINUTE_LEVEL_LEAD = timedelta(minutes=30)  # a read that starts off the hour merges the minute rollup
KPIS = """
kpis:
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount, dimensions: [region]}
  orders: {title: Orders, events: order.placed, aggregation: count, dimensions: [region]}
  deals: {title: Deals, events: deal.closed, aggregation: count, dimensions: [region]}
  sessions: {title: Sessions, events: session.started, aggregation: count, dimensions: [region]}
  conversion:
    {title: Conversion, aggregation: ratio, numerator: orders, denominator: sessions, dimensions: [region]}
"""


def make_events(count: int, rng: random.Random) -> list[dict]:
    start = datetime(2026, 10, 28, tzinfo=UTC)
    kinds = {"order.placed": ("amount", "items"), "deal.closed": ("amount",), "session.started": ()}
    events = []
    for i in range(count):
        kind = rng.choice(list(kinds))
        at = start + timedelta(seconds=rng.randrange(8 * 86_400))  # crosses into November
        events.append(
            {
                "event_id": f"crash-{i:06d}",
                "type": kind,
                "source": "shop",
                "occurred_at": at.isoformat(),
                "dimensions": {"region": rng.choice(("EU", "NA")), "channel": "web", "segment": "smb"},
                "measures": {m: rng.randint(1, 1000) for m in kinds[kind]},
            }
        )
    return events


class Allowance:
    """How much of the stream the producer may have sent so far; raised by the kill loop."""

    def __init__(self) -> None:
        self._limit = 0
        self._changed = threading.Condition()

    def raise_to(self, limit: int) -> None:
        with self._changed:
            self._limit = max(self._limit, limit)
            self._changed.notify_all()

    def wait_above(self, sent: int) -> int:
        with self._changed:
            self._changed.wait_for(lambda: self._limit > sent)
            return self._limit


def produce_paced(settings, stream: list[dict], allowance: Allowance, done: threading.Event) -> None:
    """About 2,000 events/s, never ahead of the allowance, so the stream spans every kill."""
    sent = 0
    with EventProducer(settings.kafka_bootstrap_servers, settings) as producer:
        while sent < len(stream):
            chunk = stream[sent : min(sent + 400, allowance.wait_above(sent))]
            producer.send(validate_event(e) for e in chunk)
            producer.flush()
            sent += len(chunk)
            time.sleep(0.2)
    done.set()


def wait_for_progress(worker, beyond: int, timeout: float = 60.0) -> None:
    """Wait until the (re)started worker has landed events: killing it while it joins proves nothing."""
    deadline = time.monotonic() + timeout
    while worker.counts()["total_events"] <= beyond:
        assert time.monotonic() < deadline, f"no progress past {beyond} events in {timeout}s"
        time.sleep(0.2)


def expected_kpis(events: list[dict]) -> dict[str, dict[tuple, float]]:
    """Each KPI of KPIS per UTC day and region, in plain Python."""
    values: dict[str, dict[tuple, float]] = defaultdict(lambda: defaultdict(float))
    kpi_of = {"order.placed": "orders", "deal.closed": "deals", "session.started": "sessions"}
    for e in events:
        key = (e["occurred_at"][:10], e["dimensions"]["region"])
        values[kpi_of[e["type"]]][key] += 1
        if e["type"] == "order.placed":
            values["revenue"][key] += e["measures"]["amount"]
    values["conversion"] = {k: n / values["sessions"][k] for k, n in values["orders"].items()}
    return values


def test_sigkill_mid_stream_loses_nothing_and_counts_nothing_twice(
    settings, make_worker, open_store, tmp_path
):
    kpis_file = tmp_path / "kpis.yaml"
    kpis_file.write_text(KPIS)
    settings = settings.model_copy(
        update={
            "batch_max_records": 3,
            "record_max_events": 40,
            "batch_max_seconds": 0.2,
            "kpis_file": str(kpis_file),
        }
    )
    rng = random.Random(11)
    events = make_events(EVENTS, rng)
    resends = rng.choices(events, k=EVENTS // 20)
    # The first worker never commits, so its kill (after it landed something) surely leaves
    # batches landed without a committed offset; the next ones commit as shipped.
    worker = make_worker(settings.model_copy(update={"consumer_commit_interval_s": 300.0}))
    worker.start()

    stream = events + resends
    random.Random(3).shuffle(stream)
    allowance, done = Allowance(), threading.Event()
    producer = threading.Thread(target=produce_paced, args=(settings, stream, allowance, done), daemon=True)
    producer.start()
    landed_at_kill = [0]
    for kill in range(1, KILLS + 1):
        allowance.raise_to(len(stream) * kill // (KILLS + 1))
        wait_for_progress(worker, beyond=landed_at_kill[-1])
        time.sleep(rng.uniform(0.0, 0.5))  # while that share is still flowing
        landed_at_kill.append(worker.counts()["total_events"])
        worker.kill()
        worker.settings = settings
        worker.start()
    landed_at_kill.pop(0)
    allowance.raise_to(len(stream))
    producer.join(timeout=120)
    assert done.is_set(), "the producer did not finish"

    counts = worker.wait_for_total(EVENTS)
    assert worker.stop() == 0
    assert all(0 < n < EVENTS for n in landed_at_kill), f"kills were not mid-stream: {landed_at_kill}"
    # The replay path ran: some restart found batches that had landed without a committed offset.
    assert "landed batches to replay" in worker.log_text(), f"no replay; see {worker.log_path}"

    expected = Counter(e["type"] for e in events)
    sums: dict[str, Counter] = defaultdict(Counter)
    for e in events:
        sums[e["type"]].update(e["measures"])
    assert counts["total_events"] == EVENTS
    assert {t["type"]: t["events"] for t in counts["types"]} == dict(expected)
    assert {t["type"]: t["measures"] for t in counts["types"]} == {
        kind: {k: float(v) for k, v in s.items()} for kind, s in sums.items()
    }
    with open_store(settings) as store:
        [(rows, identities)] = store.fetch(
            Sql(
                "SELECT count(), uniqExact(source, event_id) FROM {db:Identifier}.raw_events",
                db=settings.clickhouse_database,
            )
        )
        kpis = applied_kpis(store, settings.clickhouse_database)
        start, end = datetime(2026, 10, 28, tzinfo=UTC), datetime(2026, 11, 6, tzinfo=UTC)

        def read(since: datetime) -> dict[str, dict[tuple, float]]:
            return {
                name: {
                    (p.period.date().isoformat(), p.group["region"]): p.value
                    for p in kpi_series(
                        store, settings.clickhouse_database, kpis, name, since, end, Grain.DAY, by=("region",)
                    )
                }
                for name in kpis
            }

        actual = read(start)  # on whole hours: each KPI's hourly level
        since = start + MINUTE_LEVEL_LEAD
        off_the_hour = read(since)  # from 00:30: its minute rollup
        in_view: dict[str, dict[tuple, float]] = defaultdict(dict)  # the BI view, over the same rollups
        for name, day, region, value in store.fetch(
            Sql(
                "SELECT kpi, toString(period), dimension_value, value FROM {db:Identifier}.kpi_values"
                " WHERE grain = 'day' AND dimension = 'region'",
                db=settings.clickhouse_database,
            )
        ):
            in_view[name][(day, region)] = value
    assert (rows, identities) == (EVENTS, EVENTS)
    expected_values = expected_kpis(events)
    assert sorted(actual) == sorted(expected_values)
    for name, values in expected_values.items():
        assert actual[name] == pytest.approx(values, rel=1e-12), name
        assert in_view[name] == pytest.approx(values, rel=1e-12), name
    later = [e for e in events if datetime.fromisoformat(e["occurred_at"]) >= since]
    for name, values in expected_kpis(later).items():
        assert off_the_hour[name] == pytest.approx(values, rel=1e-12), name
