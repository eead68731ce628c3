"""Foreign topics: translating and landing each format, as a ratio to landing okrstream's own log.

    .venv/bin/python -m benchmarks.foreign_topics --events 20000 --runs 3

Each run starts a fresh embedded broker (Tansu, memory-only) and writes the same N events four
ways, untimed: okrstream's own topic (validated, packed into log records by `EventProducer`, as
every okrstream writer does), and three foreign topics as their producers write them, one message
per event: plain JSON documents, CloudEvents over the Kafka binding (structured and binary mode by
turns), and Debezium change events (inserts, with the JSON converter's schema). Then each
contestant is `okrstream run` (the real worker subprocess, its own chDB store, a fresh consumer
group): `own` lands the raw topic; `json`, `cloudevents` and `debezium` each subscribe to their
topic, translate every message, append the events to the raw log and land them.

Timed, for every contestant alike: from the moment the worker has its partitions (GET /ready)
until the last insert is stamped by ClickHouse (`raw_events.landed_at`); events/s = N / that
time. Each foreign format's ratio is its rate over `own`'s in the same run (the floor: landing
the same events with nothing to translate); the table shows medians over the runs. The order of
the contestants rotates from run to run.
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import time
from collections import defaultdict
from datetime import datetime
from pathlib import Path
from typing import Any

import orjson
import yaml
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from ingest import EventProducer, ensure_topics, start_embedded_broker
from processors.runtime import load_registry
from schemas import ForeignMessage, MappingCatalog, Settings, SubscriptionCatalog, validate_event

from . import _okrstream
from ._events import make_events
from ._machine import busy_cpus, commit, machine, versions

FORMATS = ("json", "cloudevents", "debezium")
CONTESTANTS = ("own", *FORMATS)
DIMENSIONS = ("region", "channel", "segment", "priority", "plan")
MEASURES = ("amount", "items", "first_response_seconds")


def subscriptions_yaml(prefix: str, formats: tuple[str, ...]) -> str:
    """One subscription per format; the JSON and Debezium mappings read every demo type's fields."""

    def mapping(root: str) -> dict[str, Any]:
        at = f"{root}." if root else ""
        fields: dict[str, Any] = {
            f: f"{at}{f}" for f in ("event_id", "type", "source", "occurred_at", "subject")
        }
        fields["dimensions"] = {d: f"{at}{d}" for d in DIMENSIONS}
        fields["measures"] = {m: f"{at}{m}" for m in MEASURES}
        return fields

    entries = {
        "json": {"topic": f"{prefix}.json", "format": "json", "mapping": mapping("")},
        "cloudevents": {"topic": f"{prefix}.cloudevents", "format": "cloudevents"},
        "debezium": {
            "topic": f"{prefix}.debezium",
            "format": "debezium",
            "rules": [{"table": "events", "op": "create", "mapping": mapping("after")}],
        },
    }
    return yaml.safe_dump({"subscriptions": {f"bench_{f}": entries[f] for f in formats}})


def flat(event: dict[str, Any]) -> dict[str, Any]:
    """An event as a foreign system's row or document: its fields side by side."""
    return (
        {k: v for k, v in event.items() if k not in ("dimensions", "measures")}
        | event["dimensions"]
        | event["measures"]
    )


def json_message(event: dict[str, Any], _: int) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    return orjson.dumps(flat(event)), event["event_id"].encode(), []


def cloudevent_message(event: dict[str, Any], i: int) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    attributes = {
        "specversion": "1.0",
        "id": event["event_id"],
        "source": event["source"],
        "type": event["type"],
        "time": event["occurred_at"],
        "subject": event["subject"],
    }
    data = event["dimensions"] | event["measures"]
    key = event["subject"].encode()
    if i % 2:
        value = attributes | {"datacontenttype": "application/json", "data": data}
        return orjson.dumps(value), key, [("content-type", b"application/cloudevents+json")]
    headers = [(f"ce_{name}", value.encode()) for name, value in attributes.items()]
    return orjson.dumps(data), key, [*headers, ("content-type", b"application/json")]


def debezium_message(event: dict[str, Any], i: int) -> tuple[bytes, bytes | None, list[tuple[str, bytes]]]:
    ts_ms = int(datetime.fromisoformat(event["occurred_at"]).timestamp() * 1000)
    source = {
        "version": "2.7.3.Final",
        "connector": "postgresql",
        "name": "bench",
        "ts_ms": ts_ms,
        "snapshot": "false",
        "db": "bench",
        "schema": "public",
        "table": "events",
        "txId": 1000 + i,
        "lsn": 100_000 + 64 * i,
    }
    payload = {"before": None, "after": flat(event), "source": source, "op": "c", "ts_ms": ts_ms + 5}
    schema = {"type": "struct", "name": "bench.public.events.Envelope", "optional": False}
    key = orjson.dumps({"schema": {"type": "struct"}, "payload": {"event_id": event["event_id"]}})
    return orjson.dumps({"schema": schema, "payload": payload}), key, []


WRITERS = {"json": json_message, "cloudevents": cloudevent_message, "debezium": debezium_message}


def produce_foreign(bootstrap: str, topic: str, partitions: int, events: list[dict], fmt: str) -> float:
    """The foreign topic as its producer writes it; returns the seconds it took (not timed above)."""
    admin = KafkaAdminClient(bootstrap_servers=bootstrap)
    admin.create_topics([NewTopic(topic, partitions, 1)])
    admin.close()
    started = time.monotonic()
    producer = KafkaProducer(bootstrap_servers=bootstrap, acks="all", linger_ms=20, batch_size=256 * 1024)
    for i, event in enumerate(events):
        value, key, headers = WRITERS[fmt](event, i)
        producer.send(topic, value=value, key=key, headers=headers or None)
    producer.flush()
    producer.close()
    return time.monotonic() - started


def produce_own(settings: Settings, events: list[dict]) -> float:
    started = time.monotonic()
    registry = load_registry(settings)
    with EventProducer(settings.kafka_bootstrap_servers or "", settings) as producer:
        producer.send(validate_event(e, registry) for e in events)
        producer.flush()
    return time.monotonic() - started


def translation_us(events: list[dict], fmt: str) -> float:
    """Microseconds to translate one message of `fmt` in this process (no Kafka, no store): the
    share of the per-message cost that is okrstream's own work; `own` is validating an event."""
    registry = load_registry(Settings())
    if fmt == "own":
        started = time.perf_counter()
        for event in events:
            validate_event(event, registry)
        return (time.perf_counter() - started) / len(events) * 1e6
    mappings = MappingCatalog.from_mapping({})
    catalog = SubscriptionCatalog.from_mapping(yaml.safe_load(subscriptions_yaml("t", (fmt,))), mappings)
    [(_, subscription)] = catalog.by_topic().values()
    messages = []
    for i, event in enumerate(events):
        value, key, headers = WRITERS[fmt](event, i)
        messages.append(ForeignMessage(f"t.{fmt}", 0, i, 1_795_600_000_000, key, value, headers, "id"))
    started = time.perf_counter()
    for message in messages:
        subscription.translate(message, registry, mappings)
    return (time.perf_counter() - started) / len(messages) * 1e6


def one_run(run: int, args: argparse.Namespace, events: list[dict], work: Path) -> dict[str, float]:
    """Every contestant once on a fresh broker; events/s per contestant."""
    rates: dict[str, float] = {}
    work.mkdir(parents=True, exist_ok=True)
    order = list(
        args.contestants[run % len(args.contestants) :] + args.contestants[: run % len(args.contestants)]
    )
    with start_embedded_broker() as broker:
        for contestant in order:
            tag = f"r{run}-{contestant}"
            settings = _okrstream.settings_for(
                broker.bootstrap_servers, work / tag, tag, args.partitions, 500, args.session_timeout
            )
            ensure_topics(broker.bootstrap_servers, settings)
            if contestant == "own":
                produced = produce_own(settings, events)
            else:
                prefix = f"bench.{tag}.foreign"
                topic = f"{prefix}.{contestant}"
                produced = produce_foreign(
                    broker.bootstrap_servers, topic, args.partitions, events, contestant
                )
                subscriptions = work / f"{tag}.yaml"
                subscriptions.write_text(subscriptions_yaml(prefix, (contestant,)), encoding="utf-8")
                settings = settings.model_copy(update={"subscriptions_file": str(subscriptions)})
            busy = busy_cpus()
            timing = _okrstream.run_worker(settings, len(events), work / f"{tag}.log", args.timeout)
            if timing.rows != len(events):
                raise RuntimeError(f"{contestant}: {timing.rows} rows landed, not {len(events)}")
            seconds = timing.last_landed - timing.assigned
            rates[contestant] = len(events) / seconds
            print(
                f"run {run + 1} {contestant:<12} {rates[contestant]:>9,.0f} events/s  ({seconds:.2f}s timed;"
                f" produced in {produced:.1f}s; {busy:.1f} CPUs busy before)",
                flush=True,
            )
    return rates


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    events = make_events(args.events)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="okrstream-foreign-"))
    print(f"foreign topics: {args.events:,} events, {args.runs} runs, {args.partitions} partitions")
    packages = versions(("faust-streaming", "chdb-core", "kafka-python"))
    print(f"machine: {machine(work)}; commit {commit()}; {packages}")
    try:
        runs = [one_run(run, args, events, work / f"run{run}") for run in range(args.runs)]
    finally:
        if not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    sample = events[: min(len(events), 5000)]
    alone = {contestant: translation_us(sample, contestant) for contestant in args.contestants}
    print(
        "translation alone, us per message (validation alone for own): "
        + ", ".join(f"{c} {us:.1f}" for c, us in alone.items())
    )
    ratios: dict[str, list[float]] = defaultdict(list)
    for rates in runs:
        for contestant, rate in rates.items():
            ratios[contestant].append(rate / rates["own"])
    print()
    print("| contestant | events/s (median) | min - max | ratio to own (median) | min - max |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for contestant in args.contestants:
        rates_of = [r[contestant] for r in runs]
        low, high = min(rates_of), max(rates_of)
        print(
            f"| {contestant} | {statistics.median(rates_of):,.0f} | {low:,.0f} - {high:,.0f}"
            f" | {statistics.median(ratios[contestant]):.2f} | {min(ratios[contestant]):.2f} -"
            f" {max(ratios[contestant]):.2f} |"
        )
    return 0


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.foreign_topics", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--events", type=int, default=20_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--partitions", type=int, default=4)
    parser.add_argument("--formats", default=",".join(FORMATS), help="foreign formats to run, besides own")
    parser.add_argument("--session-timeout", type=float, default=6.0)
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--work-dir", help="keep logs and stores here (default: a temporary directory)")
    args = parser.parse_args(argv)
    formats = tuple(f for f in args.formats.split(",") if f)
    unknown = [f for f in formats if f not in FORMATS]
    if unknown:
        parser.error(f"unknown formats: {', '.join(unknown)}")
    args.contestants = ["own", *formats]
    return args


if __name__ == "__main__":
    sys.exit(main())
