"""From files through `okrstream ingest`, the log and the worker into ClickHouse: each event once.

10,000 distinct events, 5% of them resent by the client in a second file, 2% invalid lines:
every valid event lands exactly once in raw_events, every invalid line is in the dead-letter
topic with its line number and reason, and `okrstream ingest` says what it did.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
from collections import Counter, defaultdict
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import orjson
import pytest

from tests.conftest import Sql

pytestmark = pytest.mark.slow

TYPES = {
    "order.placed": (
        {"region": ("EU", "NA", "APAC"), "channel": ("web", "app")},
        {"amount": (5, 900), "items": (1, 6)},
    ),
    "deal.closed": ({"region": ("EU", "NA"), "segment": ("smb", "enterprise")}, {"amount": (1_000, 250_000)}),
    "ticket.answered": ({"priority": ("low", "high")}, {"first_response_seconds": (30, 86_400)}),
    "customer.signed_up": ({"region": ("EU", "NA"), "plan": ("free", "team")}, {}),
    "session.started": ({"region": ("EU", "APAC"), "channel": ("web", "app")}, {}),
}
ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))
# Each invalid line, the path and rule its rejection must name.
INVALID = [
    ('{"event_id": "x-1", "type": "order.placed", broken json', "$", "json"),
    ("naive", "occurred_at", "timezone"),
    ("no_id", "event_id", "required"),
    ("text_measure", "measures.amount", "type"),
    ("bad_type", "type", "pattern"),
    ("missing_dimension", "dimensions.segment", "required_dimension"),
]


def make_events(count: int, rng: random.Random) -> list[dict]:
    """Realistic events across a month boundary and several UTC offsets; integer measures keep sums exact."""
    start = datetime(2026, 9, 25, tzinfo=UTC)
    events = []
    for i in range(count):
        kind = rng.choice(list(TYPES))
        dims, measures = TYPES[kind]
        at = (start + timedelta(seconds=rng.randrange(10 * 86_400))).astimezone(rng.choice(ZONES))
        events.append(
            {
                "event_id": f"evt-{i:06d}",
                "type": kind,
                "source": rng.choice(("shop", "crm", "helpdesk")),
                "occurred_at": at.isoformat(),
                "dimensions": {k: rng.choice(v) for k, v in dims.items()},
                "measures": {k: rng.randint(*bounds) for k, bounds in measures.items()},
            }
        )
    return events


def invalid_line(kind: str, rng: random.Random, n: int) -> str:
    if kind.startswith("{"):
        return kind
    event = make_events(1, rng)[0] | {"event_id": f"bad-{n}"}
    if kind == "naive":
        event["occurred_at"] = "2026-10-01T12:00:00"
    elif kind == "no_id":
        del event["event_id"]
    elif kind == "text_measure":
        event["type"], event["measures"] = "order.placed", {"amount": "12", "items": 1}
        event["dimensions"] = {"region": "EU", "channel": "web"}
    elif kind == "bad_type":
        event["type"] = "Order.Placed"
    elif kind == "missing_dimension":
        event["type"], event["dimensions"], event["measures"] = "deal.closed", {"region": "EU"}, {"amount": 5}
    return orjson.dumps(event).decode()


def truth(events: list[dict]) -> tuple[Counter, dict[str, Counter]]:
    counts: Counter = Counter()
    sums: dict[str, Counter] = defaultdict(Counter)
    for event in events:
        counts[event["type"]] += 1
        sums[event["type"]].update(event["measures"])
    return counts, sums


def okrstream(worker_env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    command = [sys.executable, "-m", "processors.cli", *args]
    return subprocess.run(command, env=worker_env, capture_output=True, text=True, timeout=300)


def ingest(worker_env: dict[str, str], path: Path) -> subprocess.CompletedProcess[str]:
    return okrstream(worker_env, "ingest", str(path))


KPIS = """
kpis:
  orders: {title: Orders, events: order.placed, aggregation: count, dimensions: [region]}
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount, dimensions: [region]}
  big_deals:
    title: Deals above $100k
    events: deal.closed
    aggregation: count
    filters: [{field: measures.amount, op: gt, value: 100000}]
"""


def test_each_event_lands_exactly_once_and_each_bad_line_is_dead_lettered(
    settings, make_worker, open_store, tmp_path, logged
):
    rng = random.Random(7)
    events = make_events(10_000, rng)
    lines = [orjson.dumps(e).decode() for e in events]
    in_file_copies = [orjson.dumps(e).decode() for e in rng.sample(events, 50)]
    bad = [
        (invalid_line(kind, rng, n), path, rule) for n in range(200) for kind, path, rule in [INVALID[n % 6]]
    ]
    mixed = lines + in_file_copies + [text for text, _, _ in bad]
    rng.shuffle(mixed)
    first = tmp_path / "events.ndjson"
    first.write_text("\n".join(mixed) + "\n")
    expected_rules = {}
    for number, text in enumerate(mixed, start=1):
        for bad_text, path, rule in bad:
            if text == bad_text:
                expected_rules[number] = (path, rule)
    # The client times out and resends 500 events it already sent (some twice): 5% resent.
    resent = [orjson.dumps(e).decode() for e in rng.choices(events, k=500)]
    retry = tmp_path / "retry.ndjson"
    retry.write_text("\n".join(resent) + "\n")

    worker = make_worker(settings)
    worker.start()
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPIS)
    result = okrstream(worker.env(), "kpi", "apply", str(kpis))  # before the events: the views count them
    assert result.returncode == 0, result.stderr
    assert "applied: create: orders, revenue, big_deals" in result.stdout
    result = ingest(worker.env(), first)
    assert result.returncode == 1, result.stderr  # some lines were rejected
    assert "accepted 10000: 10000 new, 0 already stored; rejected 200" in result.stdout
    assert "duplicates within the file 50" in result.stdout
    assert f"{first}:" in result.stderr  # per-line errors name the file and line
    result = ingest(worker.env(), retry)
    assert result.returncode == 0, result.stderr
    distinct_resent = len(set(resent))
    # resent at once: those the sink had landed by then are already stored and not sent again, the
    # rest are sent ("new" to the store when asked) and dropped by the sink as copies
    split = re.search(r"accepted (\d+): (\d+) new, (\d+) already stored; rejected 0", result.stdout)
    assert split is not None, result.stdout
    accepted, resent_new, already_stored = map(int, split.groups())
    assert accepted == resent_new + already_stored == distinct_resent
    assert f"duplicates within the file {500 - distinct_resent}" in result.stdout

    counts = worker.wait_for_total(10_000)
    expected_counts, expected_sums = truth(events)
    assert counts["total_events"] == 10_000
    assert {t["type"]: t["events"] for t in counts["types"]} == dict(expected_counts)
    assert {t["type"]: t["measures"] for t in counts["types"]} == {
        kind: {k: float(v) for k, v in sums.items()} for kind, sums in expected_sums.items()
    }
    # the resends that reached the log were copies, every one: the sink dropped them
    assert counts["sink"]["duplicates_dropped"] == resent_new
    # Exactly once holds through every KPI view: resends and retries change no KPI.
    orders = [e for e in events if e["type"] == "order.placed"]
    deals = [e for e in events if e["type"] == "deal.closed" and e["measures"]["amount"] > 100_000]
    window = ["--from", "2026-09-01", "--to", "2026-11-01", "--grain", "year", "--format", "json"]
    shown = {}
    for name, by in (("orders", "region"), ("revenue", "region"), ("big_deals", "")):
        result = okrstream(worker.env(), "kpi", "show", name, *window, "--by", by)
        assert result.returncode == 0, result.stderr
        shown[name] = {
            p["group"].get("region", "all"): p["value"] for p in orjson.loads(result.stdout)["points"]
        }
    assert shown["orders"] == {
        r: float(n) for r, n in Counter(e["dimensions"]["region"] for e in orders).items()
    }
    revenue: Counter = Counter()
    for e in orders:
        revenue[e["dimensions"]["region"]] += e["measures"]["amount"]
    assert shown["revenue"] == {r: float(v) for r, v in revenue.items()}
    assert shown["big_deals"] == {"all": float(len(deals))}
    assert worker.stop() == 0

    with open_store(settings) as store:
        [(rows, identities)] = store.fetch(
            Sql(
                "SELECT count(), uniqExact(source, event_id) FROM {db:Identifier}.raw_events",
                db=settings.clickhouse_database,
            )
        )
    assert (rows, identities) == (10_000, 10_000)

    dead = logged("deadletter")
    assert len(dead) == 200
    for record in dead:
        assert record["origin"] == f"file:{first}"
        path, rule = expected_rules[record["line"]]
        assert (record["errors"][0]["path"], record["errors"][0]["rule"]) == (path, rule), record
        assert record["errors"][0]["message"]
        assert record["raw"] == mixed[record["line"] - 1]
    assert sorted(r["line"] for r in dead) == sorted(expected_rules)
