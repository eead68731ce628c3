"""Scale-out on one machine: the roles as real processes, one worker killed with SIGKILL mid-stream.

The broker is the test session's own; `okrstream store` serves the embedded store to 3 `okrstream
worker` processes and 2 `okrstream serve` processes, all on one consumer group and one store.
KPIs and objectives are applied through one API process; events are posted through both, 5 % of
them sent again through the other one. Once a third of the stream is in and the victim has
landed and scored, it gets SIGKILL; the stream goes on. Then:

- **counts are exact**: every type's events and measure sums in the store equal the stream's
  (nothing lost, no copy counted twice);
- **its partitions moved**: the survivors' `okrstream_partition_owned` metrics cover every
  partition of the raw and touch topics, each once;
- **scores match a single-process run**: every key result's and objective's recorded score equals
  the recomputation of one API process from the store (`GET /v1/objectives?as_of=T&by=occurred`),
  and each key result's value equals the sum or count of the stream's events in plain Python;
- **one scorer per id**: an id is scored by the worker that owns its touch-topic partition. The
  touch topic is keyed by id, so the consumer group gives each id to one worker at a time. Here
  that means: every `key_result.scored` / `objective.scored` event names (`scored_by`) one of
  the three workers, and the events of one id, in the score topic's order, come first from the
  owner of its partition before the kill, then from its owner after the rebalance (the owners
  read from the workers' metrics at those two points), never back and forth. What it does not
  claim: the group does not fence a worker, so a scoring pass already under way when its partition
  is taken away may still finish (faust does not wait for it, `stream_wait_empty=False`); with the
  victim dead and each survivor keeping its partitions (checked), no pass is caught so.

The objectives score a closed quarter (2025-Q1, every event in it) that never freezes here
(`OKRSTREAM_OKR_FREEZE_AFTER_DAYS`), so each score is a verdict on whole-period values, the same
whenever it is computed: nothing expected depends on the wall clock. Auth is off
(`OKRSTREAM_AUTH=disabled`): keys are not what this test is about.
"""

from __future__ import annotations

import random
import re
import subprocess
import sys
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from prometheus_client.parser import text_string_to_metric_families

from processors.okr import OkrLog
from schemas import AuthMode
from tests.conftest import command_env

pytestmark = pytest.mark.slow

QUARTER_START = datetime(2025, 1, 1, tzinfo=UTC)  # 2025-Q1: 90 days
EVENTS = 6_000
BATCH = 100
RESEND_SHARE = 0.05
KPIS = """
kpis:
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount, dimensions: [region]}
  orders: {title: Orders, events: order.placed, aggregation: count, dimensions: [region]}
  deals: {title: Deals, events: deal.closed, aggregation: count, dimensions: [region]}
  deal_value: {title: Deal value, events: deal.closed, aggregation: sum, measure: amount}
"""
# key result id -> (kpi, region filter or None, target)
KEY_RESULTS: dict[str, dict[str, tuple[str, str | None, float]]] = {
    "sell": {
        "revenue-eu": ("revenue", "EU", 500_000),
        "revenue-na": ("revenue", "NA", 2_000_000),
        "orders-all": ("orders", None, 2_000),
    },
    "win": {
        "deals-eu": ("deals", "EU", 500),
        "deals-na": ("deals", "NA", 2_000),
        "deal-value": ("deal_value", None, 1_000_000),
    },
    "grow": {
        "orders-eu": ("orders", "EU", 800),
        "orders-na": ("orders", "NA", 5_000),
        "revenue-all": ("revenue", None, 3_000_000),
    },
}
SCORED_FIELDS = ("version", "value", "start", "target", "progress", "attainment", "expected", "status")


def okrs_yaml() -> str:
    lines = ["objectives:"]
    for objective, krs in KEY_RESULTS.items():
        lines += [f"  {objective}:", f"    title: {objective}", "    owner: sales", "    period: 2025-Q1"]
        lines.append("    key_results:")
        for kr, (kpi, region, target) in krs.items():
            filters = f", filters: {{region: {region}}}" if region else ""
            lines += [
                f"      {kr}:",
                f"        title: {kr}",
                f"        metric: {{kpi: {kpi}{filters}, direction: increase_to,",
                f"                  start: 0, target: {target}}}",
            ]
    return "\n".join(lines) + "\n"


def make_events(count: int, rng: random.Random) -> list[dict]:
    """Orders and deals at fixed instants of 2025-Q1."""
    events = []
    for i in range(count):
        kind = rng.choice(("order.placed", "order.placed", "deal.closed"))
        day, second = rng.randrange(90), rng.randrange(86_400)
        measures: dict[str, int] = {"amount": rng.randint(1, 1000)}
        if kind == "order.placed":
            measures["items"] = rng.randint(1, 5)
        events.append(
            {
                "event_id": f"scale-{i:05d}",
                "type": kind,
                "source": "shop",
                "occurred_at": (QUARTER_START + timedelta(days=day, seconds=second)).isoformat(),
                "dimensions": {"region": rng.choice(("EU", "NA")), "channel": "web", "segment": "smb"},
                "measures": measures,
            }
        )
    return events


def expected_values(events: list[dict]) -> dict[str, float]:
    """Each key result's value over the whole quarter, in plain Python."""
    measure = {"revenue": "amount", "deal_value": "amount", "orders": None, "deals": None}
    of_type = {"revenue": "order.placed", "orders": "order.placed"} | dict.fromkeys(
        ("deals", "deal_value"), "deal.closed"
    )
    values: dict[str, float] = {}
    for krs in KEY_RESULTS.values():
        for kr, (kpi, region, _) in krs.items():
            chosen = [
                e for e in events if e["type"] == of_type[kpi] and region in (None, e["dimensions"]["region"])
            ]
            name = measure[kpi]
            values[kr] = float(sum(e["measures"][name] for e in chosen) if name else len(chosen))
    return values


@dataclass
class Role:
    """One `okrstream ROLE` subprocess, its output in a log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path

    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_for(self, pattern: str, timeout: float = 120.0) -> re.Match[str]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if found := re.search(pattern, self.text()):
                return found
            assert self.process.poll() is None, f"{self.name} exited:\n{self.text()[-3000:]}"
            time.sleep(0.2)
        raise AssertionError(f"{self.name}: no {pattern!r} within {timeout}s:\n{self.text()[-3000:]}")


def scrape(url: str) -> dict[str, Any]:
    """Samples of one /metrics page: {(name, frozenset(labels)): value}."""
    text = httpx.get(url, timeout=30).text
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def owned(metrics_url: str) -> set[tuple[str, int]]:
    samples = scrape(metrics_url)
    return {
        (dict(labels)["topic"], int(dict(labels)["partition"]))
        for (name, labels), value in samples.items()
        if name == "okrstream_partition_owned" and value == 1
    }


def total(metrics_url: str, name: str) -> float:
    return sum(v for (n, _), v in scrape(metrics_url).items() if n == name)


def wait_until(check: Callable[[], Any], what: str, timeout: float = 180.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        if value := check():
            return value
        assert time.monotonic() < deadline, f"{what}: not within {timeout}s"
        time.sleep(0.5)


def test_three_workers_two_apis_one_killed_mid_stream(infra, make_settings, tmp_path: Path, topic_messages):
    if infra.clickhouse_url:
        pytest.skip("this test serves an embedded store itself: it runs in the pass on embedded chDB only")
    base = make_settings(infra.kafka_bootstrap_servers, None).model_copy(
        update={
            "auth": AuthMode.DISABLED,
            "okr_freeze_after_days": 365_000.0,  # 2025-Q1 stays open to scoring
            "consumer_session_timeout_s": 10.0,
            "batch_max_records": 20,  # many blocks, so the kill falls between some
        }
    )
    roles: list[Role] = []

    def start(name: str, role: str, **overrides: Any) -> Role:
        settings = base.model_copy(update={"data_dir": tmp_path / name} | overrides)
        log_path = tmp_path / f"{name}.log"
        process = subprocess.Popen(
            [sys.executable, "-m", "processors.cli", role],
            env=command_env(settings) | {"OKRSTREAM_LOG_LEVEL": "info"},
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
        )
        roles.append(Role(name, process, log_path))
        return roles[-1]

    try:
        store = start("store", "store", clickhouse_url=None)
        store_url = store.wait_for(r"HTTP interface at (http://\S+)").group(1)
        store_metrics = store.wait_for(r"metrics\s+(http://\S+/metrics)").group(1)
        shared = {"clickhouse_url": store_url}
        workers = [start(f"worker-{i}", "worker", **shared) for i in range(3)]
        apis = [start(f"serve-{i}", "serve", **shared) for i in range(2)]
        metrics = {w.name: w.wait_for(r"metrics at (http://\S+/metrics)").group(1) for w in workers}
        api_urls = [a.wait_for(r"HTTP API at (http://\S+) ").group(1) for a in apis]
        every_partition = {
            (topic, p)
            for topic in (base.raw_topic, base.okr_touch_topic)
            for p in range(base.topic_partitions)
        }

        def settled(urls: dict[str, str]) -> dict[str, set[tuple[str, int]]] | None:
            """Who owns what, once every worker named owns some and every partition has one owner."""
            found = {name: owned(url) for name, url in urls.items()}
            parts = [tp for tps in found.values() for tp in tps]
            if all(found.values()) and len(parts) == len(set(parts)) and set(parts) == every_partition:
                return found
            return None

        before = wait_until(lambda: settled(metrics), "the three workers sharing every partition")
        time.sleep(3)
        assert settled(metrics) == before, "the group rebalanced again while it settled"

        # definitions through one API process, as an operator applies them
        answer = httpx.post(f"{api_urls[0]}/v1/kpis/apply", content=KPIS, timeout=120)
        assert answer.status_code == 200, answer.text
        answer = httpx.post(f"{api_urls[0]}/v1/objectives/apply", content=okrs_yaml(), timeout=120)
        assert answer.status_code == 200, answer.text

        rng = random.Random(20250101)
        stream = make_events(EVENTS, rng)
        resent = rng.sample(range(EVENTS), int(EVENTS * RESEND_SHARE))
        batches = [stream[i : i + BATCH] for i in range(0, EVENTS, BATCH)]
        by_batch = defaultdict(list)
        for i in resent:
            by_batch[i // BATCH].append(stream[i])

        # the victim owns touch partitions that ids are keyed to, and raw partitions
        okr_log = OkrLog(infra.kafka_bootstrap_servers, base)
        try:
            ids = [*KEY_RESULTS] + [kr for krs in KEY_RESULTS.values() for kr in krs]
            partition_of = {i: okr_log.touch_partition(i) for i in ids}
        finally:
            okr_log.close()
        touches_of = {name: {p for t, p in tps if t == base.okr_touch_topic} for name, tps in before.items()}
        victim = max(workers, key=lambda w: sum(p in touches_of[w.name] for p in partition_of.values()))
        assert any(t == base.raw_topic for t, _ in before[victim.name])

        def post(n: int, batch: list[dict]) -> None:
            api = api_urls[n % 2]
            answer = httpx.post(f"{api}/v1/events", json=batch, timeout=120)
            assert answer.status_code == 200, answer.text
            if copies := by_batch.get(n):  # resent through the other API process
                again = httpx.post(f"{api_urls[(n + 1) % 2]}/v1/events", json=copies, timeout=120)
                assert again.status_code == 200, again.text

        kill_at = len(batches) // 3
        for n, batch in enumerate(batches[:kill_at]):
            post(n, batch)
        wait_until(
            lambda: (
                total(metrics[victim.name], "okrstream_events_landed_total") > 0
                and total(metrics[victim.name], "okrstream_key_results_scored_total") > 0
            ),
            "the victim landing and scoring",
        )
        victim.process.kill()  # SIGKILL: no drain, no commit, no goodbye
        victim.process.wait()
        for n, batch in enumerate(batches[kill_at:], start=kill_at):
            post(n, batch)

        # exact counts per type
        def counts() -> dict:
            return httpx.get(f"{api_urls[1]}/v1/counts", timeout=60).json()

        wait_until(lambda: counts()["total_events"] >= EVENTS, "every event landing", timeout=400)
        time.sleep(3)  # a copy still in flight would show up now
        landed = {t["type"]: t for t in counts()["types"]}
        for kind in ("order.placed", "deal.closed"):
            sent = [e for e in stream if e["type"] == kind]
            assert landed[kind]["events"] == len(sent)
            for measure in ("amount", "items") if kind == "order.placed" else ("amount",):
                assert landed[kind]["measures"][measure] == sum(e["measures"][measure] for e in sent)
        assert counts()["total_events"] == EVENTS

        # the survivors own every partition, each once
        survivors = {w.name: metrics[w.name] for w in workers if w is not victim}
        after = wait_until(lambda: settled(survivors), "the survivors owning every partition")
        assert all(w.process.poll() is None for w in workers if w is not victim)

        # every score equals one process's recomputation, and each value the stream's
        values = expected_values(stream)

        def converged() -> tuple[dict, dict] | None:
            now = httpx.get(f"{api_urls[0]}/v1/objectives", timeout=60).json()["objectives"]
            krs = {kr["id"]: kr for o in now for kr in o["key_results"]}
            if not all(kr.get("scored") and kr["value"] == values[i] for i, kr in krs.items()):
                return None
            at = max(kr["as_of"] for kr in krs.values())
            again = httpx.get(
                f"{api_urls[1]}/v1/objectives", params={"as_of": at, "by": "occurred"}, timeout=60
            ).json()["objectives"]
            return {o["id"]: o for o in now}, {o["id"]: o for o in again}

        recorded, recomputed = wait_until(converged, "every key result scored on every event", timeout=240)
        for objective_id, objective in recorded.items():
            other = recomputed[objective_id]
            assert (objective["score"], objective["status"]) == (other["score"], other["status"])
            for kr, again in zip(objective["key_results"], other["key_results"], strict=True):
                assert {f: kr[f] for f in SCORED_FIELDS} == {f: again[f] for f in SCORED_FIELDS}, kr["id"]
                target = next(k[2] for krs in KEY_RESULTS.values() for i, k in krs.items() if i == kr["id"])
                assert kr["progress"] == min(1.0, values[kr["id"]] / target)

        # one scorer per id: the owner of its touch partition before the kill, then after it
        identity = {w.name: w.process.pid for w in workers}
        owner_before = {p: n for n, tps in before.items() for t, p in tps if t == base.okr_touch_topic}
        owner_after = {p: n for n, tps in after.items() for t, p in tps if t == base.okr_touch_topic}
        kept = {p: n for p, n in owner_before.items() if n != victim.name}
        assert {p: owner_after[p] for p in kept} == kept  # the assignor is sticky: only the victim's moved
        scored = [orjson.loads(m.value) for m in topic_messages(base, base.okr_score_topic)]
        assert scored
        by_id: dict[str, list[int]] = defaultdict(list)
        for event in scored:
            pid = int(event["scored_by"].rsplit("/", 1)[1])
            assert pid in identity.values(), event["scored_by"]
            by_id[event.get("key_result") or event["objective"]].append(pid)
        assert set(by_id) == set(ids)
        for id_, pids in by_id.items():
            first, then = identity[owner_before[partition_of[id_]]], identity[owner_after[partition_of[id_]]]
            runs = [pid for i, pid in enumerate(pids) if i == 0 or pids[i - 1] != pid]
            assert runs in ([first], [then], [first, then]), (id_, runs, first, then)
            assert pids[-1] == then  # scored again after the rebalance, by its new owner
        moved = [i for i in ids if owner_before[partition_of[i]] == victim.name]
        assert moved and all(by_id[i][-1] != victim.process.pid for i in moved)

        assert total(store_metrics, "okrstream_store_queries_total") > 0  # the store's own /metrics
    finally:
        for role in reversed(roles):
            if role.process.poll() is None:
                role.process.kill()
                role.process.wait()
