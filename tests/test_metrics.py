"""/metrics: what the API and the sink count, in Prometheus's format, and a real Prometheus reading it.

Metrics live in the process's one registry, which earlier tests in the same process have added to,
so in-process checks compare before and after.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from processors.metrics import MAX_LABELLED_PAIRS, event_label_pair
from schemas import Settings


def samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of an exposition, keyed by name and sorted labels."""
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def order(event_id: str) -> dict:
    return {
        "event_id": event_id,
        "source": "metrics-shop",
        "type": "metrics.probe",
        "occurred_at": "2026-10-01T12:00:00Z",
        "measures": {"amount": 10},
    }


def test_the_api_counts_events_by_outcome_and_times_requests(serve_api) -> None:
    api = serve_api()
    before = samples(api.request("GET", "/metrics").text)
    key = api.create_key("write")
    bad = {"event_id": "m-3", "source": "metrics-shop", "type": "metrics.probe"}  # no occurred_at
    answer = api.request("POST", "/v1/events", key, json=[order("m-1"), order("m-2"), bad])
    assert answer.status_code == 207, answer.text
    again = api.request("POST", "/v1/events", key, json=[order("m-1")])
    assert again.json()["duplicates"] == 1
    scraped = api.request("GET", "/metrics")
    assert scraped.status_code == 200 and scraped.headers["content-type"].startswith("text/plain")
    after = samples(scraped.text)

    def added(name: str, **labels: str) -> float:
        sample = (name, tuple(sorted(labels.items())))
        return after.get(sample, 0.0) - before.get(sample, 0.0)

    shop = {"source": "metrics-shop", "type": "metrics.probe"}
    assert (
        added("okrstream_events_received_total", **shop) == 4
    )  # the rejected one as claimed, the resend too
    assert added("okrstream_events_accepted_total", **shop) == 2
    assert added("okrstream_events_rejected_total", **shop) == 1
    assert added("okrstream_events_duplicate_total", **shop) == 1
    assert added("okrstream_dead_letters_total", origin="api") == 1
    assert added("okrstream_log_append_seconds_count") == 2
    events_route = {"method": "POST", "route": "/v1/events"}
    assert added("okrstream_http_request_seconds_count", **events_route, status="207") == 1
    assert added("okrstream_http_request_seconds_count", **events_route, status="200") == 1


def test_user_given_labels_are_capped() -> None:
    """A flood of made-up sources or types cannot grow the series without bound."""
    pairs = {event_label_pair(f"flood-{i}", "x.y") for i in range(MAX_LABELLED_PAIRS + 50)}
    assert ("other", "other") in pairs and len(pairs) <= MAX_LABELLED_PAIRS + 1


# -- a real Prometheus ------------------------------------------------------------------------------

PROMETHEUS = shutil.which("prometheus")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A real Prometheus server (Debian's package) with an empty scrape list to fill in."""
    if PROMETHEUS is None:
        pytest.skip("Debian's prometheus package is not installed (.ci/run installs it)")
    config = tmp_path / "prometheus.yml"
    url = f"http://127.0.0.1:{free_port()}"
    yield config, url


def start_prometheus(config: Path, url: str, tmp_path: Path) -> subprocess.Popen[bytes]:
    assert PROMETHEUS is not None
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config}",
            f"--storage.tsdb.path={tmp_path / 'tsdb'}",
            f"--web.listen-address={url.removeprefix('http://')}",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
    )
    return process


def query(url: str, promql: str) -> list:
    answer = httpx.get(f"{url}/api/v1/query", params={"query": promql}, timeout=10)
    answer.raise_for_status()
    return answer.json()["data"]["result"]


@pytest.mark.slow
def test_prometheus_scrapes_a_running_okrstream_and_answers_for_the_events_landed(
    prometheus, settings: Settings, make_worker, tmp_path: Path
) -> None:
    config, url = prometheus
    worker = make_worker(settings)
    worker.start()
    target = worker.api_url.removeprefix("http://")
    config.write_text(
        "global: {scrape_interval: 1s}\n"
        "scrape_configs:\n"
        f"  - job_name: okrstream\n    static_configs: [{{targets: ['{target}']}}]\n"
    )
    server = start_prometheus(config, url, tmp_path)
    try:
        key = {"Authorization": f"Bearer {worker.admin_token}"}
        events = [order(f"p-{i}") for i in range(25)]
        answer = httpx.post(f"{worker.api_url}/v1/events", json=events, headers=key, timeout=60)
        assert answer.status_code == 200, answer.text
        worker.wait_for_total(25)
        deadline, found = time.monotonic() + 60, []
        while time.monotonic() < deadline:
            try:
                found = query(url, 'sum(okrstream_events_landed_total{job="okrstream"})')
            except httpx.HTTPError:
                found = []  # Prometheus is still starting
            if found and float(found[0]["value"][1]) >= 25:
                break
            time.sleep(1)
        assert found and float(found[0]["value"][1]) == 25, (found, (tmp_path / "prometheus.log").read_text())
        accepted = query(url, 'okrstream_events_accepted_total{source="metrics-shop",type="metrics.probe"}')
        assert [float(r["value"][1]) for r in accepted] == [25]
    finally:
        server.terminate()
        server.wait(20)
