"""The `okrstream` command: run, serve, worker, store, demo, ingest, status, kpi, okr, keys."""

from __future__ import annotations

import argparse
import contextlib
import functools
import json
import os
import sys
from collections.abc import Callable, Collection, Iterator
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import orjson
from pydantic import ValidationError

from schemas import ConfigError, EventTypeRegistry, Mapping, RawEvent, Settings, map_event, validate_event

from . import _keys_cli as keys_cli
from . import _kpi_cli as kpi_cli
from . import _okr_cli as okr_cli
from ._backend import ApiCall, Backend

if TYPE_CHECKING:
    from ..store import Store


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="okrstream", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)

    run = commands.add_parser(
        "run", help="start the pipeline: broker and store if not given, the worker, the API"
    )
    run.add_argument("--port", type=int, help="HTTP API port (default 8181, 0 picks a free one)")
    serve = commands.add_parser("serve", help="the HTTP API alone (ingest, queries), without the sink")
    serve.add_argument("--port", type=int, help="HTTP API port (default 8181, 0 picks a free one)")
    serve.add_argument(
        "--processes",
        type=int,
        metavar="N",
        help="API processes sharing the port, e.g. one per CPU (default 1; more needs CLICKHOUSE_URL)",
    )
    commands.add_parser(
        "worker",
        help="the sink and the OKR scorer alone, no API (needs KAFKA_BOOTSTRAP_SERVERS, CLICKHOUSE_URL)",
    )
    store = commands.add_parser(
        "store", help="the embedded store alone, over ClickHouse's HTTP interface (for workers, BI tools)"
    )
    store.add_argument(
        "--port", dest="store_port", type=int, help="its port (default 8123, 0 picks a free one)"
    )
    demo = commands.add_parser("demo", help="like run, plus a realistic stream of business events")
    demo.add_argument("--port", type=int, help="HTTP API port (default 8181, 0 picks a free one)")
    demo.add_argument("--rate", type=float, default=50.0, help="demo events per second (default 50)")

    ingest = commands.add_parser("ingest", help="validate a file of events and send it to the log")
    ingest.add_argument("file", type=Path)
    ingest.add_argument("--format", choices=("ndjson", "csv"), help="default: from the file name")
    ingest.add_argument(
        "--mapping",
        metavar="NAME",
        help="turn each line or CSV row into an event with a declarative mapping (OKRSTREAM_MAPPINGS_FILE)",
    )
    ingest.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="FIELD=COLUMN",
        help="CSV: take a canonical field from a column, e.g. measures.amount=total",
    )
    ingest.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="FIELD=VALUE",
        help="set a field on every event, e.g. source=shop",
    )
    ingest.add_argument(
        "--jobs",
        type=int,
        default=min(os.cpu_count() or 1, MAX_JOBS),
        metavar="N",
        help=f"worker processes that validate the lines (default: the CPUs, at most {MAX_JOBS})",
    )

    status = commands.add_parser(
        "status", help="events landed per type, from the running process or the store"
    )
    status.add_argument("--format", choices=("table", "json"), default="table")
    kpi_cli.add_commands(commands)
    okr_cli.add_commands(commands)
    keys_cli.add_commands(commands)

    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env(os.environ)
    except ConfigError as e:
        print(f"okrstream: bad setting: {e}", file=sys.stderr)
        return 2
    if getattr(args, "port", None) is not None:
        settings = settings.model_copy(update={"http_port": args.port})
    if getattr(args, "processes", None) is not None:
        try:  # validated as OKRSTREAM_HTTP_PROCESSES is
            settings = Settings.model_validate(settings.model_dump() | {"http_processes": args.processes})
        except ValidationError as e:
            print(f"okrstream serve: --processes {args.processes}: {e.errors()[0]['msg']}", file=sys.stderr)
            return 2
    if getattr(args, "store_port", None) is not None:
        settings = settings.model_copy(update={"store_http_port": args.store_port})
    if args.command != "store" and (served := _served_store(settings)) is not None:
        if isinstance(served, int):
            return served
        settings = served

    if args.command in ("run", "demo"):
        from ..runtime import run as run_pipeline

        return run_pipeline(settings, demo_rate=args.rate if args.command == "demo" else None)
    if args.command == "serve":
        from ..runtime import serve as serve_api

        return serve_api(settings)
    if args.command == "store":
        from ..runtime import store as serve_store

        return serve_store(settings)
    if args.command == "worker":
        from ..runtime import worker as run_worker

        return run_worker(settings)
    if args.command == "keys":
        return keys_cli.run(settings, args)
    if args.command == "ingest":
        return _ingest(settings, args)
    if args.command == "kpi":
        return kpi_cli.run(settings, args)
    if args.command == "okr":
        return okr_cli.run(settings, args)
    return _status(settings, args.format)


def _served_store(settings: Settings) -> Settings | int | None:
    """The settings of a command on a data dir whose store `okrstream store` serves: its URL.

    chDB lets one process hold a data dir, so the others reach its store over HTTP. The URL goes
    into this process's CLICKHOUSE_URL too, so that the processes it starts (the pipeline under
    `run`'s supervisor, `serve --processes`'s children) use the same store without looking again.
    None when no such store runs here (or CLICKHOUSE_URL names one); 2 when it needs a password
    that is not given.
    """
    if settings.clickhouse_url:
        return None
    from ..runtime import read_store_file, with_password

    if (served := read_store_file(settings)) is None:
        return None
    password = settings.store_password.get_secret_value() if settings.store_password else ""
    if served.get("password") and not password:
        print(
            f"okrstream: `okrstream store` (pid {served['pid']}) serves this data dir's store and asks"
            " for a password: set OKRSTREAM_STORE_PASSWORD, or CLICKHOUSE_URL",
            file=sys.stderr,
        )
        return 2
    url = with_password(served["store_http_url"], password if served.get("password") else None)
    os.environ["CLICKHOUSE_URL"] = url
    return settings.model_copy(update={"clickhouse_url": url})


def _pairs(items: list[str], flag: str) -> dict[str, str]:
    pairs = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key:
            raise SystemExit(f"okrstream ingest: {flag} takes FIELD=VALUE, got {item!r}")
        pairs[key] = value
    return pairs


def _ingest(settings: Settings, args: argparse.Namespace) -> int:
    from ingest import (
        EventIntake,
        EventProducer,
        Journal,
        Rejected,
        Validation,
        ValidationPool,
        WorkerDied,
        collect_garbage_rarely,
        decode_ndjson,
        ensure_topics,
        read_csv,
        read_csv_rows,
        read_ndjson,
    )

    from ..runtime import load_mappings, load_registry, read_run_file

    running = {} if settings.kafka_bootstrap_servers else read_run_file(settings) or {}
    bootstrap = settings.kafka_bootstrap_servers or running.get("kafka_bootstrap_servers")
    # on the embedded broker, whose log is memory-only, exit 0 means journaled as well as sent
    journal = (
        Journal(Path(running["journal"]["dir"]), running["journal"]["incarnation"])
        if "journal" in running
        else None
    )
    if not bootstrap:
        print(
            "okrstream ingest: no broker: set KAFKA_BOOTSTRAP_SERVERS or start `okrstream run`",
            file=sys.stderr,
        )
        return 2
    if not args.file.is_file():
        print(f"okrstream ingest: no such file: {args.file}", file=sys.stderr)
        return 2
    if args.jobs < 1:
        print(f"okrstream ingest: --jobs must be at least 1, got {args.jobs}", file=sys.stderr)
        return 2
    fmt = args.format or ("csv" if args.file.suffix.lower() == ".csv" else "ndjson")
    registry = load_registry(settings)
    convert: Callable[[Any, datetime], RawEvent]
    if args.mapping:
        mapping = load_mappings(settings).mappings.get(args.mapping)
        if mapping is None:
            print(f"okrstream ingest: no mapping named {args.mapping!r}", file=sys.stderr)
            return 2
        convert = functools.partial(_mapped, mapping, registry)
        lines = read_csv_rows(args.file) if fmt == "csv" else read_ndjson(args.file, decoded=False)
    elif fmt == "csv":
        convert = functools.partial(_validated, registry, {})
        lines = read_csv(args.file, _pairs(args.map, "--map"), _pairs(args.set, "--set"))
    else:
        convert = functools.partial(_validated, registry, _pairs(args.set, "--set"))
        lines = read_ndjson(args.file, decoded=False)
    # NDJSON lines are read undecoded: the workers decode them as they validate
    validation = Validation(convert, decode_ndjson) if fmt == "ndjson" else Validation(convert)
    collect_garbage_rarely()  # a few objects made and dropped per line
    with (
        ValidationPool(validation, args.jobs) as pool,  # forked before any thread starts
        Backend(settings).session(open_early=True) as answer,
        contextlib.ExitStack() as stack,
    ):
        # Create the topics with okrstream's partitions and retention before a broker that creates
        # unknown topics on first use (Tansu, Kafka with auto-create) makes them with its defaults.
        ensure_topics(bootstrap, settings)
        producer = stack.enter_context(EventProducer(bootstrap, settings, journal))
        advance = stack.enter_context(_progress(args.file))
        origin = f"file:{args.file}"
        intake = EventIntake(producer, registry, origin=origin, stored=_stored_lookup(settings, answer))
        try:
            for outcomes, last_line in pool.outcomes(lines, producer.partitions):
                for outcome in outcomes:
                    if isinstance(outcome, Rejected):
                        intake.reject(outcome.errors, outcome.text, outcome.line)
                    else:
                        intake.accept(outcome)
                advance(last_line)
        except WorkerDied as e:
            print(f"okrstream ingest: {e}", file=sys.stderr)
            return 1
        summary = intake.finish()
    for number, reason in summary.errors[:50]:
        print(f"{args.file}:{number}: {reason}", file=sys.stderr)
    if len(summary.errors) > 50:
        print(f"... and {len(summary.errors) - 50} more rejected lines", file=sys.stderr)
    split = f"{summary.new} new, {summary.already_stored} already stored"
    if summary.unchecked:
        split += f", {summary.unchecked} not checked (the store did not answer)"
    print(
        f"accepted {summary.accepted}: {split}; rejected {summary.rejected}"
        f" (sent to {settings.dead_letter_topic}), duplicates within the file {summary.duplicates}"
    )
    return 0 if summary.rejected == 0 else 1


MAX_JOBS = 8  # validation processes by default, however many CPUs


@contextlib.contextmanager
def _progress(path: Path) -> Iterator[Callable[[int], None]]:
    """A progress bar in lines of the file on stderr, when stderr is a terminal; else nothing.

    The lines are counted first (a read of the file in large blocks, much faster than parsing it),
    so the bar has its end and an estimate of the time left.
    """
    if not sys.stderr.isatty():
        yield lambda _: None
        return
    from tqdm import tqdm

    total, last = 0, b"\n"
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            total, last = total + block.count(b"\n"), block[-1:]
    total += last != b"\n"  # a last line without its newline
    bar = tqdm(total=total, desc=f"ingest {path.name}", unit=" lines", unit_scale=True, file=sys.stderr)
    with bar:
        yield lambda line: bar.update(line - bar.n)
        bar.update(total - bar.n)


def _stored_lookup(
    settings: Settings, answer: Callable[[ApiCall, Callable[[Store], Any]], Any]
) -> Callable[[Collection[tuple[str, str]]], set[tuple[str, str]] | None]:
    """Which of some identities the store holds, asked of the running process or the store itself.

    The sink drops copies of exactly these. When the store cannot answer, ingest goes on without
    it (the sink still drops every copy), says so once, and counts the rest as not checked.
    """
    failed: list[Exception] = []

    def stored(identities: Collection[tuple[str, str]]) -> set[tuple[str, str]] | None:
        if failed:
            return None
        found: set[tuple[str, str]] = set()
        ordered = sorted(identities)
        try:
            for start in range(0, len(ordered), settings.http_max_events):  # the API's limit per request
                chunk = ordered[start : start + settings.http_max_events]
                body = orjson.dumps({"events": [{"source": s, "event_id": e} for s, e in chunk]})
                call = ApiCall("/v1/events/landed", body, {"Content-Type": "application/json"}, "POST")
                landed = answer(call, functools.partial(_landed_on_store, settings, chunk))
                found |= {(e["source"], e["event_id"]) for e in landed["landed"]}
        except Exception as e:  # ingest does not depend on the store: the log is the source of truth
            failed.append(e)
            print(
                f"okrstream ingest: the store did not say which events it already holds ({e});"
                " sending the rest unchecked: the sink still drops every copy",
                file=sys.stderr,
            )
            return None
        return found

    return stored


def _landed_on_store(settings: Settings, identities: list[tuple[str, str]], store: Store) -> dict[str, Any]:
    from ..api import landed_events

    return landed_events(store, settings, identities)


def _mapped(mapping: Mapping, registry: EventTypeRegistry, data: Any, now: datetime) -> RawEvent:
    return map_event(mapping, data, registry, received_at=now)


def _validated(registry: EventTypeRegistry, constants: dict[str, str], data: Any, now: datetime) -> RawEvent:
    """A canonical event, with the fields `--set` gives on every line of an NDJSON file."""
    if constants and isinstance(data, dict):
        data = data | constants
    return validate_event(data, registry, received_at=now)


def _status(settings: Settings, fmt: str = "table") -> int:
    where = ""  # the store read, when no process runs to answer

    def on_store(store: Store) -> dict[str, Any]:
        from ..api import event_counts
        from ..clickhouse import describe

        nonlocal where
        where = describe(settings)
        return event_counts(store, settings.clickhouse_database)

    backend = Backend(settings)
    counts = backend.answer(ApiCall("/v1/counts"), on_store)
    if fmt == "json":  # the API's /v1/counts answer, and which process or store gave it
        source = {"pid": backend.running["pid"]} if backend.running else {"store": where}
        print(json.dumps(counts | {"from": source}, indent=2))
        return 0
    if backend.running:
        print(f"okrstream runs (pid {backend.running['pid']}, API {backend.running['api_url']})")
    else:
        print(f"okrstream is not running; read {where} directly")
    print(f"{counts['total_events']:,} events landed")
    for t in counts["types"]:
        sums = ", ".join(f"{k}={v:,.2f}" for k, v in sorted(t["measures"].items()))
        print(f"  {t['type']:<24} {t['events']:>10,}  {sums}")
    return 0
