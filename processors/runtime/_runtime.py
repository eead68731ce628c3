"""`okrstream run` and `okrstream demo`: start what is not given, then the worker and the API.

One process owns the embedded store (chDB in the data dir) and, when okrstream starts it, the
embedded broker; it leaves a `run.json` in the data dir so other commands can find it.
"""

from __future__ import annotations

import asyncio
import functools
import gc
import logging
import os
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import faust
import orjson
import uvloop
from mode import Service

from ingest import (
    Broker,
    BrokerWatch,
    EventIntake,
    EventProducer,
    ForeignFeeds,
    GroupOffsets,
    Journal,
    ensure_topics,
    topic_ids,
)
from schemas import (
    AuthMode,
    ConfigError,
    EventTypeRegistry,
    FieldError,
    MappingCatalog,
    OkrCatalog,
    Settings,
    env_name,
)

from ..api import (
    HttpService,
    bind,
    http_api,
    url_of,
)
from ..clickhouse import describe
from ..kpi import applied_kpis, apply_kpis, kpi_series, read_catalog, shipped_kpis
from ..metrics import CONSUMER_LAG, serve_metrics
from ..okr import LandedTouches, OkrDefinitions, OkrLog, OkrScorer, apply_okrs, demo_okrs, read_okrs
from ..sink import RawEventsSink, SinkStats
from ..store import STORE_HTTP_FD_ENV, Store, bind_store_http, store_http_url
from ._config_files import load_mappings, load_registry, load_subscriptions
from ._demo import DemoFeed, demo_history
from ._filesystem import slow_disk_warning
from ._run_file import read_run_file, run_file, write_run_file
from ._serve_processes import ADMIN_TOKEN_ENV, SHARED_PORT_ENV, serve_processes
from ._store_role import StoreHttpService, users_line
from ._supervisor import INCARNATION_ENV, SUPERVISED_ENV, journal_dir, supervise
from ._worker import build_app

log = logging.getLogger(__name__)


def open_feeds(
    settings: Settings, bootstrap_servers: str, registry: EventTypeRegistry, mappings: MappingCatalog
) -> tuple[ForeignFeeds | None, dict[str, str]]:
    """The subscribed topics' translator, writing through a producer of its own, and their ids;
    (None, {}) when nothing is subscribed. A subscribed topic that does not exist is a ConfigError."""
    subscriptions = load_subscriptions(settings, mappings)
    if not subscriptions.subscriptions:
        return None, {}
    topics = sorted(subscriptions.by_topic())
    try:
        ids = topic_ids(bootstrap_servers, topics)
    except ValueError as e:
        raise ConfigError([FieldError(env_name("subscriptions_file"), str(e), "unknown_topic")]) from None
    producer = EventProducer(bootstrap_servers, settings, client_id="okrstream-feeds")
    return ForeignFeeds(subscriptions, registry, mappings, producer), ids


def auth_warning(settings: Settings) -> str | None:
    if settings.auth is AuthMode.DISABLED:
        return (
            "WARNING: OKRSTREAM_AUTH=disabled: the HTTP API asks for no API key; anyone who reaches"
            f" {settings.http_host}:{settings.http_port} may write events and read KPIs"
        )
    return None


def run(settings: Settings, demo_rate: float | None = None) -> int:
    """`okrstream run` (and `demo`): a supervisor, which starts the pipeline as its child (below)."""
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    if not os.environ.get(SUPERVISED_ENV):
        command = ["demo", "--rate", repr(demo_rate)] if demo_rate else ["run"]
        if running := read_run_file(settings):  # its journal and run.json would be this one's too
            print(
                f"okrstream {command[0]}: okrstream runs (pid {running['pid']}) on this data dir"
                f" ({settings.data_dir}); its HTTP API at {running['api_url']}",
                file=sys.stderr,
            )
            return 2
        try:
            return supervise(settings, command)
        finally:
            run_file(settings).unlink(missing_ok=True)
    registry = load_registry(settings)
    assert settings.kafka_bootstrap_servers, "the supervisor names the broker"
    incarnation = os.environ.get(INCARNATION_ENV)  # set when the broker is the embedded one
    broker = Broker(settings.kafka_bootstrap_servers, embedded=incarnation is not None)
    journal = functools.partial(Journal, journal_dir(settings), incarnation) if incarnation else None
    try:
        return _serve(settings, broker, registry, demo_rate, journal)
    except ConfigError as e:
        print("okrstream: invalid definitions:", *e.errors, sep="\n  ", file=sys.stderr)
        return 2


def serve(settings: Settings) -> int:
    """`okrstream serve`: the HTTP API alone, without the sink, e.g. to scale ingest apart from workers."""
    running = read_run_file(settings)
    if running and not settings.clickhouse_url:
        print(
            f"okrstream serve: okrstream runs (pid {running['pid']}) and owns the embedded store;"
            f" its HTTP API at {running['api_url']} already serves everything",
            file=sys.stderr,
        )
        return 2
    if not settings.kafka_bootstrap_servers:
        # an embedded broker of its own would take events that no sink ever reads
        print(
            "okrstream serve: set KAFKA_BOOTSTRAP_SERVERS: serve runs no sink, so it needs a broker"
            " that workers read (the embedded one belongs to `okrstream run`)",
            file=sys.stderr,
        )
        return 2
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    if settings.http_processes > 1:
        return serve_processes(settings)
    try:
        registry, mappings = load_registry(settings), load_mappings(settings)
    except ConfigError as e:
        print("okrstream: invalid definitions:", *e.errors, sep="\n  ", file=sys.stderr)
        return 2
    broker = Broker(settings.kafka_bootstrap_servers)
    try:
        ensure_topics(broker.bootstrap_servers, settings)
        store = Store.connect(settings)
        store.ensure_schema(settings)
        shared_port = bool(os.environ.get(SHARED_PORT_ENV))  # one of `serve --processes N`'s
        admin_token = os.environ.pop(ADMIN_TOKEN_ENV, None) if shared_port else None  # the parent's
        watch = BrokerWatch(broker.bootstrap_servers)  # a broker away: 503 at once, and /ready says so
        bootstrap = broker.bootstrap_servers
        api = http_api(settings, store, registry, mappings, bootstrap, admin_token=admin_token, watch=watch)
        api.keys.refresh()
        sock = bind(settings, shared_port=shared_port)
        url = url_of(sock)
        if not running:
            info = {"pid": os.getpid(), "api_url": url, "kafka_bootstrap_servers": broker.bootstrap_servers}
            write_run_file(settings, info, api.admin_token)
        print(f"okrstream serve: HTTP API at {url} (/v1/events, /docs); Kafka {broker.bootstrap_servers}")
        if warning := auth_warning(settings):
            print(warning)
        print("Ctrl-C stops it", flush=True)

        async def main() -> None:
            chores = [asyncio.create_task(api.keys.keep_fresh()), asyncio.create_task(watch.watch())]
            try:
                await api.server().serve(sockets=[sock])
            finally:
                for chore in chores:
                    chore.cancel()

        uvloop.run(main())
        api.close()
        return 0
    finally:
        if not running:
            run_file(settings).unlink(missing_ok=True)
        broker.close()


def worker(settings: Settings) -> int:
    """`okrstream worker`: the sink and the OKR scorer, without the API; run up to one per partition.

    Workers share a broker and a store that none of them owns, so both must be named. Definitions
    are applied with `okrstream kpi apply` and `okr apply` (through an API process), not by each
    worker at start, so several starting at once never build the same rollup twice.
    """
    if not (settings.kafka_bootstrap_servers and settings.clickhouse_url):
        print(
            "okrstream worker: set KAFKA_BOOTSTRAP_SERVERS and CLICKHOUSE_URL: workers share a broker"
            " and a store (`okrstream store` serves an embedded one); `okrstream run` does it all alone",
            file=sys.stderr,
        )
        return 2
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)  # faust keeps its directory there
    broker = Broker(settings.kafka_bootstrap_servers)
    log_ids = ensure_topics(broker.bootstrap_servers, settings)
    feeds: ForeignFeeds | None = None
    feed_logs: dict[str, str] = {}
    try:
        if settings.subscriptions_file:  # a worker reads the mappings only for its subscriptions
            registry, mappings = load_registry(settings), load_mappings(settings)
            feeds, feed_logs = open_feeds(settings, broker.bootstrap_servers, registry, mappings)
    except ConfigError as e:
        print("okrstream: invalid definitions:", *e.errors, sep="\n  ", file=sys.stderr)
        broker.close()
        return 2
    store = Store.connect(settings)
    store.ensure_schema(settings)
    okr_logs = OkrLogs.open(broker.bootstrap_servers, settings)
    dead_letters = EventProducer(broker.bootstrap_servers, settings)
    try:
        sink, scorer = _build_sink_and_scorer(settings, store, log_ids, dead_letters, okr_logs)
        app = build_app(settings, broker.bootstrap_servers, sink, scorer, feeds=feeds, feed_logs=feed_logs)
        _measure_lag(app, settings, broker.bootstrap_servers, feed_logs)
        port = serve_metrics(settings.http_host, settings.metrics_port)
        print(
            f"okrstream worker: sink and scorer in consumer group {settings.worker_id},"
            f" Kafka {broker.bootstrap_servers}, store {describe(settings)};"
            f" metrics at http://{settings.http_host}:{port}/metrics",
            flush=True,
        )
        return _run_worker(app, [])
    finally:
        if feeds is not None:
            feeds.close()
        dead_letters.close()
        okr_logs.close()
        store.close()
        broker.close()


def _measure_lag(
    app: faust.App, settings: Settings, bootstrap_servers: str, subscribed: dict[str, str] | None = None
) -> None:
    """Every 10 s, the consumer group's lag per partition of the raw and touch topics and of the
    subscribed foreign topics (a gauge)."""
    offsets = GroupOffsets(bootstrap_servers, f"{settings.worker_id}-lag")
    topics = (settings.raw_topic, settings.okr_touch_topic)
    foreign = sorted(subscribed or ())

    def measure() -> dict[tuple[str, int], int]:
        found = offsets.lag(settings.worker_id, topics, settings.topic_partitions)
        return found | offsets.lag(settings.worker_id, foreign)

    @app.timer(10.0)
    async def lag() -> None:
        try:
            found = await asyncio.to_thread(measure)
        except Exception:  # the broker may be restarting: the next tick measures again
            log.debug("consumer lag not measured", exc_info=True)
            return
        for (topic, partition), records in found.items():
            CONSUMER_LAG.labels(settings.worker_id, topic, str(partition)).set(records)


@dataclass
class OkrLogs:
    """The OKR log writers, one per user, so that one's flush never waits on another's records."""

    apply: OkrLog  # definition versions and their touches, at start
    landed: OkrLog  # the sink's touches once a batch landed
    scorer: OkrLog  # scored events, and touches for other owners

    @classmethod
    def open(cls, bootstrap_servers: str, settings: Settings) -> OkrLogs:
        return cls(*(OkrLog(bootstrap_servers, settings) for _ in range(3)))

    def close(self) -> None:
        for okr_log in (self.apply, self.landed, self.scorer):
            okr_log.close()


def _serve(
    settings: Settings,
    broker: Broker,
    registry: EventTypeRegistry,
    demo_rate: float | None,
    journal: Callable[[], Journal] | None,
) -> int:
    """The pipeline: the store, definitions applied, the sink and the scorer, the API, the demo."""
    log_ids = ensure_topics(broker.bootstrap_servers, settings)
    store = Store.connect(settings)
    store.ensure_schema(settings)
    okr_logs = OkrLogs.open(broker.bootstrap_servers, settings)
    _apply_kpis_at_start(store, settings, registry, demo=bool(demo_rate))
    okr_catalog = _apply_okrs_at_start(store, settings, okr_logs.apply, demo=bool(demo_rate))
    mappings = load_mappings(settings)
    feeds, feed_logs = open_feeds(settings, broker.bootstrap_servers, registry, mappings)
    dead_letters = EventProducer(broker.bootstrap_servers, settings)
    sink, scorer = _build_sink_and_scorer(settings, store, log_ids, dead_letters, okr_logs)
    app = build_app(settings, broker.bootstrap_servers, sink, scorer, feeds=feeds, feed_logs=feed_logs)
    _measure_lag(app, settings, broker.bootstrap_servers, feed_logs)
    reader = Store.connect(settings)
    watch = BrokerWatch(broker.bootstrap_servers)
    # the supervisor bound the store's ClickHouse HTTP interface when this process owns chDB
    store_sock = bind_store_http(settings) if os.environ.get(STORE_HTTP_FD_ENV) else None
    api = http_api(
        settings,
        reader,
        registry,
        mappings,
        broker.bootstrap_servers,
        sink.stats,
        lambda: bool(app.consumer.assignment()),
        journal=journal() if journal else None,
        watch=watch,
    )
    store_url = store_http_url(store_sock) if store_sock else None
    listening = _announcer(
        settings, broker, api.admin_token, demo=bool(demo_rate), journaled=bool(journal), store_url=store_url
    )
    services: list[Service] = [
        HttpService(api.app, settings, api.keys, listening, watch, on_shutdown=api.close_streams)
    ]
    if store_sock is not None:
        services.insert(0, StoreHttpService(settings, store_sock))  # serving before run.json names it
    demo = None
    if demo_rate and okr_catalog is not None:
        demo = _build_demo(broker, settings, registry, demo_rate, okr_catalog, journal)
        services.append(demo)
    _report_every_5_s(app, sink.stats, settings, reader, demo, feeds)
    try:
        return _run_worker(app, services)
    finally:
        if feeds is not None:
            feeds.close()
        dead_letters.close()
        api.close()
        okr_logs.close()


def _apply_kpis_at_start(store: Store, settings: Settings, registry: EventTypeRegistry, demo: bool) -> None:
    """OKRSTREAM_KPIS_FILE, or the shipped KPIs for the demo."""
    kpis = Path(settings.kpis_file).read_text(encoding="utf-8") if settings.kpis_file else None
    if kpis or demo:
        catalog = read_catalog(kpis or shipped_kpis(), registry)
        plan = apply_kpis(store, settings, catalog, "okrstream run")
        print(f"KPIs: {plan.summary()}", flush=True)


def _apply_okrs_at_start(store: Store, settings: Settings, okr_log: OkrLog, demo: bool) -> OkrCatalog | None:
    """OKRSTREAM_OKRS_FILE, or the shipped objectives moved to the current quarter for the demo."""
    okrs = Path(settings.okrs_file).read_text(encoding="utf-8") if settings.okrs_file else None
    if not (okrs or demo):
        return None
    today = datetime.now(ZoneInfo(settings.timezone)).date()
    catalog = read_okrs(okrs or demo_okrs(today), store, settings.clickhouse_database)
    plan = apply_okrs(store, settings, okr_log, catalog, "okrstream run")
    print(f"OKRs: {plan.summary()}", flush=True)
    for warning in catalog.warnings():
        print(f"  OKR warning: {warning}", flush=True)
    return catalog


def _build_sink_and_scorer(
    settings: Settings,
    store: Store,
    log_ids: dict[str, str],
    dead_letters: EventProducer,
    okr_logs: OkrLogs,
) -> tuple[RawEventsSink, OkrScorer]:
    """The sink, which touches the key results its batches move, and the scorer they reach."""

    def write_dead_letters(records: list[dict[str, Any]]) -> None:
        for record in records:
            dead_letters.send_dead_letter(record, key=record.get("origin"))
        dead_letters.flush()

    # one copy of the definitions for the sink's hook and the scorer: a reload serves both
    definitions = OkrDefinitions(Store.connect(settings), settings)
    # the sink's inserts and the scorer's reads take turns: a score's as_of splits what had landed
    landing = threading.Lock()
    sink = RawEventsSink(
        store,
        settings,
        {settings.raw_topic: log_ids[settings.raw_topic]},
        dead_letters.partitions,
        write_dead_letters,
        on_landed=LandedTouches(definitions, okr_logs.landed),
        landing=landing,
    )
    scorer = OkrScorer(
        Store.connect(settings), settings, okr_logs.scorer, definitions=definitions, landing=landing
    )
    return sink, scorer


def _announcer(
    settings: Settings,
    broker: Broker,
    admin_token: str | None,
    demo: bool,
    journaled: bool,
    store_url: str | None = None,
) -> Callable[[str], None]:
    """Once the API listens: run.json for the other commands, and where everything is for people."""

    def listening(url: str) -> None:
        info: dict[str, Any] = {
            "pid": os.getpid(),
            "api_url": url,
            "kafka_bootstrap_servers": broker.bootstrap_servers,
            "clickhouse": describe(settings),
        }
        if store_url:
            info["store_http_url"] = store_url
        if journaled:  # `okrstream ingest` journals there too, so its exit 0 is as durable as a 2xx
            info["journal"] = {"dir": str(journal_dir(settings)), "incarnation": os.environ[INCARNATION_ENV]}
        write_run_file(settings, info, admin_token)
        kafka = f"{broker.bootstrap_servers} ({'embedded Tansu' if broker.embedded else 'external'})"
        lines = [
            f"okrstream {'demo' if demo else 'run'} is up (Ctrl-C stops it)",
            f"  HTTP API    {url}  (/v1/events /v1/webhooks/{{mapping}} /v1/counts /v1/kpis /docs)",
            f"  OKR board   {url}/board  (sign in with a read key, or run.json's admin token)",
            f"  Kafka       {kafka}, topics {settings.raw_topic} and {settings.dead_letter_topic}",
            f"  ClickHouse  {describe(settings)}, table {settings.clickhouse_database}.raw_events",
        ]
        if store_url:
            lines.append(f"              ClickHouse HTTP interface {store_url}, users {users_line(settings)}")
        if note := slow_disk_warning(settings):
            lines.append(note)
        if warning := auth_warning(settings):
            lines.append(warning)
        else:
            lines.append(
                "  API keys    okrstream keys create --help  (the local CLI uses run.json's admin token)"
            )
        print("\n".join(lines), flush=True)

    return listening


def _build_demo(
    broker: Broker,
    settings: Settings,
    registry: EventTypeRegistry,
    rate: float,
    okr_catalog: OkrCatalog,
    journal: Callable[[], Journal] | None,
) -> DemoProducer:
    """The demo feed, checking in the milestones of the shipped objectives as it goes."""
    milestones = [
        (kr.id, kr.milestone.milestones)
        for objective in okr_catalog.objectives.values()
        for kr in objective.key_results
        if kr.milestone is not None
    ]
    feed = functools.partial(DemoFeed, milestones=milestones)
    return DemoProducer(
        broker.bootstrap_servers, settings, registry, rate, feed_factory=feed, journal=journal
    )


def _report_every_5_s(
    app: faust.App,
    stats: SinkStats,
    settings: Settings,
    reader: Store,
    demo: DemoProducer | None,
    feeds: ForeignFeeds | None = None,
) -> None:
    """What landed since the last report (nothing when nothing moved); in the demo, today's KPIs too."""
    previous: dict[str, int] = {}

    @app.timer(5.0)
    async def report() -> None:
        now = dict(vars(stats))
        if feeds is not None:
            now |= {f"{name}/{outcome}": n for (name, outcome), n in feeds.outcomes.items()}
        if now == previous:
            return
        line = (
            f"landed {now['events_landed']:,} events"
            f" (+{now['events_landed'] - previous.get('events_landed', 0):,} in 5 s),"
            f" duplicates dropped {now['duplicates_dropped']:,},"
            f" dead-lettered by the sink {now['dead_lettered']:,}"
        )
        if feeds is not None and feeds.outcomes:
            line += "; subscribed topics: " + ", ".join(
                f"{name} {outcome} {n:,}" for (name, outcome), n in sorted(feeds.outcomes.items())
            )
        if demo:
            line += f"; demo sent {demo.accepted:,}, rejected {demo.rejected:,} to dead letters"
            today = await asyncio.to_thread(kpis_today, reader, settings, DEMO_KPIS)
            line += "\n  today: " + ", ".join(f"{name} {value}" for name, value in today.items())
        print(line, flush=True)
        previous.clear()
        previous.update(now)


def _run_worker(app: faust.App, services: list[Service]) -> int:
    """The faust worker with the services beside it, until a signal stops it; its exit code."""
    # The worker's heap after start-up (faust, chDB, pydantic) never becomes garbage, yet every full
    # collection walks it: freezing it and collecting young objects less often cut about a third
    # of the sink's time in docs/benchmarks.md.
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 20, 100)
    loglevel = os.environ.get("OKRSTREAM_LOG_LEVEL", "warning")
    worker = faust.Worker(app, *services, loglevel=loglevel, redirect_stdouts=False, quiet=True)
    if not worker.stdout.isatty():
        worker.spinner = None  # it writes a hide-cursor escape code even into a file
    try:
        worker.execute_from_commandline()
    except SystemExit as e:
        return int(e.code or 0)
    return 0


DEMO_KPIS = ("orders", "revenue", "conversion_rate", "median_first_response")


def kpis_today(store: Store, settings: Settings, names: tuple[str, ...]) -> dict[str, str]:
    """Today's value of each named KPI, in the configured zone, for the demo's report."""
    zone = ZoneInfo(settings.timezone)
    now = datetime.now(zone)
    start = now.replace(hour=0, minute=0, second=0, microsecond=0)
    applied = applied_kpis(store, settings.clickhouse_database)
    values = {}
    for name in (n for n in names if n in applied):
        points = kpi_series(
            store, settings.clickhouse_database, applied, name, start, now + timedelta(minutes=1)
        )
        value = points[0].value if points else None
        values[name] = (
            "-" if value is None else f"{value:,.2f}".removesuffix(".00") + f" {applied[name].unit}".rstrip()
        )
    return values


class DemoProducer(Service):
    """Feeds the demo stream through the same intake as `okrstream ingest` (validation, dead letters)."""

    def __init__(
        self,
        bootstrap_servers: str,
        settings: Settings,
        registry: EventTypeRegistry,
        rate: float,
        feed_factory: Callable[[], DemoFeed] = DemoFeed,
        journal: Callable[[], Journal] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self._bootstrap = bootstrap_servers
        self._settings = settings
        self._registry = registry
        self._rate = rate
        self._feed = feed_factory()
        self._journal = journal
        self.accepted = 0  # events the intake accepted and sent to the raw topic
        self.rejected = 0  # broken events the intake sent to the dead-letter topic

    @Service.task
    async def _produce(self) -> None:
        journal = self._journal() if self._journal else None
        producer = await asyncio.to_thread(EventProducer, self._bootstrap, self._settings, journal)
        try:
            await asyncio.to_thread(self._send_history, producer)
            while not self.should_stop:
                count = max(1, round(self._rate))
                await asyncio.to_thread(self._send, producer, count)
                await self.sleep(1.0)
        finally:
            await asyncio.to_thread(producer.close)

    def _send_history(self, producer: EventProducer) -> None:
        """The quarters the board compares with, before the live stream (the same events on a restart)."""
        intake = EventIntake(producer, self._registry, origin="demo")
        past = demo_history(datetime.now(UTC), ZoneInfo(self._settings.timezone))
        for event in past:
            intake.offer(event, orjson.dumps(event).decode())
        summary = intake.finish()
        self.accepted += summary.accepted
        print(
            f"demo: wrote {summary.accepted:,} events of history (this quarter to date, the quarter "
            "before and the same quarter a year before)",
            flush=True,
        )

    def _send(self, producer: EventProducer, count: int) -> None:
        # A fresh intake each second: resends of earlier events reach the log, and the sink drops them.
        intake = EventIntake(producer, self._registry, origin="demo")
        for event in self._feed.events(count):
            intake.offer(event, orjson.dumps(event).decode())
        summary = intake.finish()
        self.accepted += summary.accepted
        self.rejected += summary.rejected
