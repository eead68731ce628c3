"""Foreign topics on the real broker: written as their producers write them, landed exactly once.

Three topics that other systems write: a shop's plain JSON orders, billing's CloudEvents (the
Kafka protocol binding, structured and binary mode mixed) and Debezium's change events of an
`orders` table (inserts, updates to paid and to refunded, deletes with their tombstones, and a
stretch of changes sent again, as Debezium does after a connector restart). Some messages are
invalid. `okrstream run` is killed with SIGKILL twice mid-stream; at the end every valid event
is counted once, every invalid message is a dead letter naming its topic, partition and offset,
nothing else is, and the foreign topics show in the consumer-lag metric.
"""

from __future__ import annotations

import random
import time
import urllib.request
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import orjson
import pytest
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from tests.conftest import Sql

pytestmark = pytest.mark.slow

ORDERS = 900  # per format
START = datetime(2026, 11, 2, tzinfo=UTC)
FOREIGN_PARTITIONS = 3  # not okrstream's 4: the lag of a topic okrstream did not create is still measured

SUBSCRIPTIONS = """
subscriptions:
  shop_orders:
    topic: {prefix}.shop.orders
    format: json
    mapping:
      event_id: order_id
      type: {{const: order.placed}}
      source: {{const: shop-json}}
      occurred_at: created_at
      dimensions: {{region: region, channel: channel}}
      measures: {{amount: {{path: total_cents, scale: 0.01}}, items: items}}
  billing:
    topic: {prefix}.billing.events
    format: cloudevents
  shop_db:
    topic: {prefix}.shopdb.public.orders
    format: debezium
    rules:
      - table: public.orders
        op: [create, read]
        mapping:
          event_id: after.id
          type: {{const: order.placed}}
          source: {{const: shop-db}}
          occurred_at: {{path: source.ts_ms, time: unix_ms}}
          subject: after.customer_id
          dimensions: {{region: after.region, channel: after.channel}}
          measures: {{amount: {{path: after.total_cents, scale: 0.01}}, items: after.items}}
      - table: public.orders
        op: update
        when: "after.status == 'refunded' && before.status != 'refunded'"
        mapping:
          type: {{const: order.refunded}}
          source: {{const: shop-db}}
          occurred_at: {{path: source.ts_ms, time: unix_ms}}
          subject: after.customer_id
          dimensions: {{region: after.region}}
          measures: {{amount: {{path: after.total_cents, scale: 0.01}}}}
"""


@dataclass
class Message:
    topic: str
    value: bytes | None
    key: bytes | None = None
    headers: list[tuple[str, bytes]] = field(default_factory=list)
    event: tuple[str, dict[str, float]] | None = None  # (type, measures) of the event it makes
    invalid: bool = False


def json_orders(topic: str, rng: random.Random) -> list[Message]:
    """The shop's order service: one JSON document per order, keyed by order id; some sent twice."""
    messages = []
    for i in range(ORDERS):
        cents, items = rng.randint(100, 99_999), rng.randint(1, 5)
        doc = {
            "order_id": f"json-{i}",
            "created_at": (START + timedelta(minutes=i)).isoformat(),
            "region": rng.choice(("EU", "NA")),
            "channel": "web",
            "total_cents": cents,
            "items": items,
        }
        invalid = i % 97 == 5
        if invalid:
            doc["total_cents"] = "a lot"
        event = None if invalid else ("order.placed", {"amount": cents / 100, "items": float(items)})
        messages.append(
            Message(topic, orjson.dumps(doc), doc["order_id"].encode(), event=event, invalid=invalid)
        )
        if i % 50 == 7:  # the producer's retry: the same order again
            messages.append(Message(topic, orjson.dumps(doc), doc["order_id"].encode(), invalid=invalid))
    return messages


def cloudevents(topic: str, rng: random.Random) -> list[Message]:
    """Billing: CloudEvents over the Kafka binding, structured and binary mode by turns."""
    messages = []
    for i in range(ORDERS):
        cents = rng.randint(1_000, 900_000)
        attributes = {
            "specversion": "1.0",
            "id": f"deal-{i}",
            "source": "https://billing.example.com/deals",
            "type": "deal.closed",
            "time": (START + timedelta(minutes=i, seconds=30)).strftime("%Y-%m-%dT%H:%M:%SZ"),
            "subject": f"account-{i % 40}",
        }
        data = {"region": rng.choice(("EU", "NA")), "segment": "smb", "amount": cents}
        invalid = i % 101 == 9
        if invalid:
            del attributes["time"]  # okrstream never guesses when an event happened
        key = attributes["subject"].encode()  # the partitionkey
        if i % 2:
            structured = attributes | {"datacontenttype": "application/json", "data": data}
            headers = [("content-type", b"application/cloudevents+json; charset=UTF-8")]
            value = orjson.dumps(structured)
        else:
            headers = [(f"ce_{name}", str(v).encode()) for name, v in attributes.items()]
            headers.append(("content-type", b"application/json"))
            value = orjson.dumps(data)
        event = None if invalid else ("deal.closed", {"amount": float(cents)})
        messages.append(Message(topic, value, key, headers, event=event, invalid=invalid))
        if i % 60 == 11:  # sent again: the same source and id
            messages.append(Message(topic, value, key, headers, invalid=invalid))
    return messages


ENVELOPE_SCHEMA = {
    "type": "struct",
    "optional": False,
    "name": "shopdb.public.orders.Envelope",
    "version": 1,
    "fields": [
        {"type": "struct", "optional": True, "field": "before", "name": "shopdb.public.orders.Value"},
        {"type": "struct", "optional": True, "field": "after", "name": "shopdb.public.orders.Value"},
        {
            "type": "struct",
            "optional": False,
            "field": "source",
            "name": "io.debezium.connector.postgresql.Source",
        },
        {"type": "string", "optional": False, "field": "op"},
        {"type": "int64", "optional": True, "field": "ts_ms"},
    ],
}


def debezium(topic: str, rng: random.Random) -> list[Message]:
    """Debezium's PostgreSQL connector with the JSON converter (schemas enabled): per order an
    insert, then maybe an update to paid, to refunded, or a delete and its tombstone."""
    messages: list[Message] = []
    lsn = 10_000_000

    def change(op: str, before: dict | None, after: dict | None, ts: datetime) -> bytes:
        nonlocal lsn
        lsn += 64
        source = {
            "version": "2.7.3.Final",
            "connector": "postgresql",
            "name": "shopdb",
            "ts_ms": int(ts.timestamp() * 1000),
            "snapshot": "false",
            "db": "shop",
            "sequence": f'["{lsn - 64}","{lsn}"]',
            "schema": "public",
            "table": "orders",
            "txId": lsn // 64,
            "lsn": lsn,
            "xmin": None,
        }
        payload = {"before": before, "after": after, "source": source, "op": op, "ts_ms": source["ts_ms"] + 7}
        return orjson.dumps({"schema": ENVELOPE_SCHEMA, "payload": payload})

    for i in range(ORDERS):
        order_id = f"db-{i}"
        key = orjson.dumps(
            {"schema": {"type": "struct", "name": "shopdb.public.orders.Key"}, "payload": {"id": order_id}}
        )
        row = {
            "id": order_id,
            "customer_id": f"c-{i % 70}",
            "region": rng.choice(("EU", "NA")),
            "channel": rng.choice(("web", "app")),
            "total_cents": rng.randint(100, 50_000),
            "items": rng.randint(1, 4),
            "status": "new",
        }
        at = START + timedelta(minutes=i, seconds=10)
        placed = ("order.placed", {"amount": row["total_cents"] / 100, "items": float(row["items"])})
        messages.append(Message(topic, change("c", None, row, at), key, event=placed))
        fate = rng.random()
        if fate < 0.3:
            paid = row | {"status": "paid"}
            messages.append(Message(topic, change("u", row, paid, at + timedelta(seconds=5)), key))
            if fate < 0.15:
                refunded = paid | {"status": "refunded"}
                value = change("u", paid, refunded, at + timedelta(minutes=3))
                event = ("order.refunded", {"amount": row["total_cents"] / 100})
                messages.append(Message(topic, value, key, event=event))
        elif fate < 0.4:
            messages.append(Message(topic, change("d", row, None, at + timedelta(minutes=9)), key))
            messages.append(Message(topic, None, key))  # the tombstone after a delete
        if i % 113 == 3:
            messages.append(
                Message(topic, b'{"schema": {}, "payload": {"op": "c", "after"', key, invalid=True)
            )
    # the connector restarted and sent the last stretch of changes again, at the same LSNs
    messages.extend(Message(m.topic, m.value, m.key, m.headers, invalid=m.invalid) for m in messages[-120:])
    return messages


def interleave(streams: list[list[Message]]) -> list[Message]:
    """The three systems write at once; each one's own order (per key) is kept."""
    out, positions = [], [0] * len(streams)
    while any(p < len(s) for p, s in zip(positions, streams, strict=True)):
        for n, stream in enumerate(streams):
            out.extend(stream[positions[n] : positions[n] + 25])
            positions[n] += 25
    return out


def produce(producer: KafkaProducer, messages: list[Message], origins: dict[int, str]) -> None:
    """Send and record where each landed (topic[partition]@offset), by index in `messages`."""
    futures = [
        (id(m), producer.send(m.topic, value=m.value, key=m.key, headers=m.headers or None)) for m in messages
    ]
    producer.flush()
    for ident, future in futures:
        meta = future.get(timeout=30)
        origins[ident] = f"{meta.topic}[{meta.partition}]@{meta.offset}"


def wait_for_progress(worker, beyond: int, timeout: float = 90.0) -> None:
    deadline = time.monotonic() + timeout
    while worker.counts()["total_events"] <= beyond:
        assert time.monotonic() < deadline, f"no progress past {beyond} events in {timeout}s"
        time.sleep(0.2)


def lag_lines(url: str, topics: list[str]) -> dict[tuple[str, str], float]:
    with urllib.request.urlopen(f"{url}/metrics", timeout=30) as response:
        text = response.read().decode()
    found = {}
    for line in text.splitlines():
        if line.startswith("okrstream_consumer_lag{"):
            labels, _, value = line.rpartition(" ")
            topic = labels.split('topic="', 1)[1].split('"', 1)[0]
            partition = labels.split('partition="', 1)[1].split('"', 1)[0]
            if topic in topics:
                found[(topic, partition)] = float(value)
    return found


def test_foreign_topics_land_exactly_once_through_worker_crashes(
    settings, make_worker, open_store, logged, tmp_path
):
    prefix = settings.raw_topic.removesuffix(".raw")
    subscriptions = tmp_path / "subscriptions.yaml"
    subscriptions.write_text(SUBSCRIPTIONS.format(prefix=prefix))
    settings = settings.model_copy(
        update={"subscriptions_file": str(subscriptions), "batch_max_records": 5, "batch_max_seconds": 0.2}
    )
    rng = random.Random(5)
    topics = [f"{prefix}.shop.orders", f"{prefix}.billing.events", f"{prefix}.shopdb.public.orders"]
    admin = KafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    admin.create_topics([NewTopic(t, FOREIGN_PARTITIONS, 1) for t in topics])
    admin.close()
    streams = [json_orders(topics[0], rng), cloudevents(topics[1], rng), debezium(topics[2], rng)]
    stream = interleave(streams)

    # The first worker never commits, so its kill (after it forwarded something) surely leaves
    # work to forward again; the next ones commit as shipped (a kill may fall either side).
    worker = make_worker(settings.model_copy(update={"consumer_commit_interval_s": 300.0}))
    worker.start()
    producer = KafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all", linger_ms=5)
    origins: dict[int, str] = {}
    landed_at_kill = []
    shares = 3
    for share in range(shares):
        chunk = stream[len(stream) * share // shares : len(stream) * (share + 1) // shares]
        produce(producer, chunk, origins)
        if share < shares - 1:
            wait_for_progress(worker, beyond=landed_at_kill[-1] if landed_at_kill else 0)
            time.sleep(rng.uniform(0.0, 0.4))  # while that share is still flowing
            landed_at_kill.append(worker.counts()["total_events"])
            worker.kill()
            worker.settings = settings
            worker.start()
    producer.close()

    expected_events = [m.event for m in stream if m.event is not None]
    counts = worker.wait_for_total(len(expected_events))
    topic_lag: dict[tuple[str, str], float] = {}
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline:  # measured every 10 s
        topic_lag = lag_lines(worker.api_url, topics)
        if len(topic_lag) == len(topics) * FOREIGN_PARTITIONS and not any(topic_lag.values()):
            break
        time.sleep(1)
    assert worker.stop() == 0
    total = len(expected_events)
    assert all(0 < n < total for n in landed_at_kill), f"kills were not mid-stream: {landed_at_kill}"

    expected_types = Counter(kind for kind, _ in expected_events)
    sums: dict[str, Counter] = defaultdict(Counter)
    for kind, measures in expected_events:
        sums[kind].update(measures)
    assert counts["total_events"] == total
    assert {t["type"]: t["events"] for t in counts["types"]} == dict(expected_types)
    for t in counts["types"]:
        assert t["measures"] == pytest.approx(dict(sums[t["type"]]), rel=1e-9), t["type"]
    with open_store(settings) as store:
        [(rows, identities)] = store.fetch(
            Sql(
                "SELECT count(), uniqExact(source, event_id) FROM {db:Identifier}.raw_events",
                db=settings.clickhouse_database,
            )
        )
    assert rows == identities == total
    # The crashes made the restarted worker forward messages again (their offsets were not
    # committed): okrstream's log holds more copies than the producers sent, the sink kept one.
    making_events = {(m.topic, m.value) for m in stream if m.event is not None}
    sent = sum(1 for m in stream if (m.topic, m.value) in making_events)  # copies the producers sent too
    forwarded = len(logged("raw"))
    assert forwarded > sent, (forwarded, sent)

    # every invalid message, and nothing else, is a dead letter naming its place (at least once)
    dead = logged("deadletter")
    invalid_origins = {origins[id(m)] for m in stream if m.invalid}
    assert {d["origin"] for d in dead} == invalid_origins
    for letter in dead:
        topic, _, rest = letter["origin"].partition("[")
        partition, _, offset = rest.partition("]@")
        kafka = letter["kafka"]
        assert (kafka["topic"], kafka["partition"], kafka["offset"]) == (topic, int(partition), int(offset))
        assert letter["processor"]["name"] == "feeds" and letter["errors"]
    assert {d["kafka"]["subscription"] for d in dead} == {"shop_orders", "billing", "shop_db"}

    assert len(topic_lag) == len(topics) * FOREIGN_PARTITIONS, topic_lag
    assert not any(topic_lag.values()), topic_lag
