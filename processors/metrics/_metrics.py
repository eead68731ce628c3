"""Every Prometheus metric okrstream exports, named in one place; each role serves them at /metrics.

Counters and histograms live in prometheus-client's default registry, in the process that does the
work: an API process counts what it received, a worker what it landed and scored. Labels that
come from users (an event's source and type) are capped, so a flood of made-up types cannot grow
the series without bound.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable

from prometheus_client import Counter, Gauge, Histogram, start_http_server

# -- ingest ---------------------------------------------------------------------------------------
EVENTS_RECEIVED = Counter(
    "okrstream_events_received", "Events offered to the API, whatever became of them", ["source", "type"]
)
EVENTS_ACCEPTED = Counter(
    "okrstream_events_accepted", "Events acknowledged: written to the log", ["source", "type"]
)
EVENTS_REJECTED = Counter(
    "okrstream_events_rejected", "Events refused with a reason (sent to dead letters)", ["source", "type"]
)
EVENTS_DUPLICATE = Counter(
    "okrstream_events_duplicate", "Events answered as copies of one already taken", ["source", "type"]
)
REQUEST_SECONDS = Histogram(
    "okrstream_http_request_seconds", "HTTP API requests, by route", ["method", "route", "status"]
)
LOG_APPEND_SECONDS = Histogram(
    "okrstream_log_append_seconds",
    "Appending one request's events to the log: journal and broker acknowledgement",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0),
)
DEAD_LETTERS = Counter("okrstream_dead_letters", "Records sent to the dead-letter topic", ["origin"])

# -- the sink -------------------------------------------------------------------------------------
EVENTS_LANDED = Counter("okrstream_events_landed", "Events written to raw_events for the first time")
SINK_DUPLICATES = Counter("okrstream_sink_duplicates_dropped", "Copies of landed events the sink dropped")
SINK_BATCH_EVENTS = Histogram(
    "okrstream_sink_batch_events",
    "Events in one block the sink inserted",
    buckets=(1, 10, 50, 100, 500, 1000, 5000, 10_000, 50_000, 100_000),
)
SINK_BATCH_SECONDS = Histogram("okrstream_sink_batch_seconds", "Landing one block: decode, dedup, insert")
# ClickHouse runs every KPI view inside the insert, so when the insert returns the block is in
# raw_events and in every rollup: an alert on `time() - this` while lag grows says the sink stalled
SINK_LAST_INSERT = Gauge(
    "okrstream_sink_last_insert_timestamp_seconds",
    "When the sink's latest insert returned, raw_events and every KPI view it feeds written (Unix time)",
    multiprocess_mode="max",  # under `serve --processes N` (no sink there): one series, not one per process
)
CONSUMER_LAG = Gauge(
    "okrstream_consumer_lag",
    "Log records not yet committed by the consumer group",
    ["group", "topic", "partition"],
)

PARTITION_OWNED = Gauge(
    "okrstream_partition_owned",
    "1 for each partition this worker owns now (raw events for its sink, touches for its scorer)",
    ["topic", "partition"],
)

# -- the embedded store's HTTP interface ----------------------------------------------------------
STORE_QUERIES = Counter(
    "okrstream_store_queries", "Requests the store's ClickHouse HTTP interface answered", ["status"]
)
STORE_QUERY_SECONDS = Histogram(
    "okrstream_store_query_seconds", "Answering one request, queued behind others included"
)

# -- the store facade, in every process that runs statements ----------------------------------------
# Labelled by the statement's class (a fixed set, one per query or DDL module), so where a worker's
# store time goes is read off /metrics: the sink's inserts, the scorer's reads and score writes.
STORE_STATEMENT_SECONDS = Histogram(
    "okrstream_store_statement_seconds",
    "One statement run through the store facade, by its class: the time its caller waited",
    ["statement"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)

# -- KPIs and OKRs --------------------------------------------------------------------------------
FEED_MESSAGES = Counter(
    "okrstream_feed_messages",
    "Messages of subscribed foreign topics, by what they became (event, dead_letter, or why skipped)",
    ["subscription", "outcome"],
)
KPI_APPLIES = Counter("okrstream_kpi_applies", "KPI definitions applied, by what changed", ["action"])
KPI_BACKFILLS = Counter("okrstream_kpi_backfills", "KPI rollups filled from the events already stored")
KPI_BACKFILL_SECONDS = Histogram(
    "okrstream_kpi_backfill_seconds",
    "Filling one KPI's rollup from stored events",
    buckets=(0.1, 0.5, 1, 5, 10, 30, 60, 300, 900, 3600),
)
SCORE_FRESHNESS_SECONDS = Histogram(
    "okrstream_score_freshness_seconds",
    "From an event's arrival to the key_result.scored it moved",
    buckets=(0.05, 0.1, 0.25, 0.5, 0.75, 1.0, 1.5, 2.0, 3.0, 5.0, 10.0, 30.0, 60.0),
)
KEY_RESULTS_SCORED = Counter("okrstream_key_results_scored", "key_result.scored events published", ["cause"])

MAX_LABELLED_PAIRS = 500  # distinct (source, type) pairs per counter; the rest count under "other"
_seen: set[tuple[str, str]] = set()
_seen_lock = threading.Lock()


def event_label_pair(source: str | None, type_: str | None) -> tuple[str, str]:
    """(source, type) as labels: unknown parts as "", and past the cap "other" for both."""
    pair = (source or "", type_ or "")
    if pair in _seen:  # the common case, read without the lock: only adding needs it
        return pair
    with _seen_lock:
        if pair in _seen:
            return pair
        if len(_seen) < MAX_LABELLED_PAIRS:
            _seen.add(pair)
            return pair
    return ("other", "other")


def count_events(counter: Counter, pairs: Iterable[tuple[str | None, str | None]]) -> None:
    """Add one to `counter` per (source, type), in one call per distinct pair."""
    totals: dict[tuple[str, str], int] = {}
    for source, type_ in pairs:
        labels = event_label_pair(source, type_)
        totals[labels] = totals.get(labels, 0) + 1
    for (source, type_), n in totals.items():
        counter.labels(source=source, type=type_).inc(n)


def serve_metrics(host: str, port: int) -> int:
    """Serve /metrics on its own port (a role without the API); returns the port (0 picks one)."""
    server, _ = start_http_server(port, addr=host)
    return int(server.server_port)
