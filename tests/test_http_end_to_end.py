"""The HTTP ingest API inside a real `okrstream run`: keys made with the CLI, events sent over HTTP,
landed exactly once, and resent copies dropped by the sink across a restart of the process."""

from __future__ import annotations

import subprocess
import sys

import httpx
import orjson
import pytest

pytestmark = pytest.mark.slow


def order(event_id: str, amount: float = 10.0) -> dict:
    return {
        "event_id": event_id,
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-11-20T09:15:00Z",
        "dimensions": {"region": "EU", "channel": "web"},
        "measures": {"amount": amount, "items": 1},
    }


def cloud_order(event_id: str) -> dict:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "shop",
        "type": "order.placed",
        "time": "2026-11-20T10:00:00+01:00",
        "data": {"region": "US", "channel": "app", "amount": 5.0, "items": 2},
    }


def okrstream(worker, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "processors.cli", *args],
        env=worker.env(),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def send(worker, key: str, body: object, content_type: str = "application/json") -> httpx.Response:
    data = body.encode() if isinstance(body, str) else orjson.dumps(body)
    headers = {"Authorization": f"Bearer {key}", "Content-Type": content_type}
    return httpx.post(f"{worker.api_url}/v1/events", content=data, headers=headers, timeout=60)


def test_events_sent_over_http_land_once_and_resends_land_once_after_a_restart(settings, make_worker) -> None:
    worker = make_worker(settings)
    worker.start()
    created = okrstream(worker, "keys", "create", "--name", "shop feed", "--access", "write",
                        "--source", "shop", "--type", "order.*", "--quiet")  # fmt: skip
    assert created.returncode == 0, created.stderr
    key = created.stdout.strip()

    ndjson = "\n".join(orjson.dumps(order(f"nd-{i}", amount=i)).decode() for i in range(40))
    assert send(worker, key, ndjson, "application/x-ndjson").json()["accepted"] == 40
    batch = [cloud_order(f"ce-{i}") for i in range(10)]
    assert send(worker, key, batch, "application/cloudevents-batch+json").json()["accepted"] == 10
    partial = send(worker, key, [order("nd-0"), order("j-1"), {"event_id": "broken"}])
    assert partial.status_code == 207
    assert [r["status"] for r in partial.json()["results"]] == ["duplicate", "accepted", "rejected"]

    counts = worker.wait_for_total(51)
    assert counts["total_events"] == 51
    [orders] = counts["types"]
    assert orders["measures"]["amount"] == pytest.approx(sum(range(40)) + 10 * 5.0 + 10.0)

    assert worker.stop() == 0
    worker.start()
    again = send(worker, key, [order(f"nd-{i}") for i in range(40)] + [order("j-1")])
    # the new process never saw them, and ingest does not ask the store: in the log, counted once
    assert again.json()["accepted"] == 41
    resent = send(worker, key, batch, "application/cloudevents-batch+json")
    assert resent.json()["accepted"] == 10
    asked = {
        "events": [{"source": "shop", "event_id": "j-1"}, {"source": "shop", "event_id": "after-restart"}]
    }
    admin = {"Authorization": f"Bearer {worker.admin_token}"}
    landed = httpx.post(f"{worker.api_url}/v1/events/landed", json=asked, headers=admin, timeout=60)
    assert landed.json()["landed"] == [{"source": "shop", "event_id": "j-1"}]  # new from already stored
    assert send(worker, key, [order("after-restart")]).json()["accepted"] == 1
    assert worker.wait_for_total(52)["total_events"] == 52

    listed = okrstream(worker, "keys", "list", "--format", "json")
    assert listed.returncode == 0, listed.stderr
    [entry] = orjson.loads(listed.stdout)["keys"]
    assert (entry["name"], entry["sources"], entry["types"]) == ("shop feed", ["shop"], ["order.*"])
    assert key.split("_", 2)[2] not in listed.stdout  # the whole secret, which may hold "_" itself
    revoked = okrstream(worker, "keys", "revoke", entry["id"])
    assert revoked.returncode == 0, revoked.stderr
    refused = send(worker, key, [order("too-late")])
    assert refused.status_code == 401
    status = okrstream(worker, "status")
    assert status.returncode == 0 and "52 events landed" in status.stdout, status.stdout + status.stderr
    as_json = okrstream(worker, "status", "--format", "json")
    assert as_json.returncode == 0, as_json.stderr
    assert orjson.loads(as_json.stdout)["total_events"] == 52
    assert "\x1b[" not in worker.log_text()  # no terminal escape codes in a run's log file
