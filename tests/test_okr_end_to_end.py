"""OKRs on a real `okrstream run`: applied with the CLI, scored as events arrive, read back.

Events sent over HTTP move key results within the worker; `key_result.scored` events appear on
the score topic, the CLI and the HTTP API show the scores, and recomputing "as of" the instant of
every recorded score, from the raw events landed by then, gives that score again.

The objective's period is whole days around the day the test starts, so the events sent now fall in
it and the status expected follows from the formulas, not from where today falls in a quarter.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import orjson
import pytest

from schemas import Cause, Period, Status, StatusThresholds, Subject, decode_touch, elapsed_share
from schemas import status as status_of
from tests.test_http_end_to_end import okrstream

KPIS = """
kpis:
  revenue: {title: Revenue, events: order.placed, aggregation: sum, measure: amount, dimensions: [region]}
  orders: {title: Orders, events: order.placed, aggregation: count}
"""


AROUND_DAYS = 30  # the objective's period runs from this many days before the test's day to as many after


def period_around(today: date, days: int = AROUND_DAYS) -> dict[str, str]:
    """An objective period of whole days, `days` either side of `today`: {start, end}."""
    return {
        "start": (today - timedelta(days=days)).isoformat(),
        "end": (today + timedelta(days=days)).isoformat(),
    }


def statuses_while_running(
    today: date, progress: float, zone: ZoneInfo, thresholds: StatusThresholds
) -> set[Status]:
    """Every status a key result at `progress` can have while a test begun on `today` runs.

    Scores are taken at some instant from the start of `today` to the end of the next day (a test
    begun just before midnight ends after it); status only worsens as time passes, so the statuses
    at those two ends are the only ones possible.
    """
    start, end = Period.model_validate(period_around(today)).bounds(zone)
    earliest = datetime.combine(today, datetime.min.time(), zone)
    latest = datetime.combine(today + timedelta(days=2), datetime.min.time(), zone)
    return {
        status_of(
            progress, elapsed_share(at.timestamp(), start.timestamp(), end.timestamp()), thresholds, pace=True
        )
        for at in (earliest, latest)
    }


@pytest.mark.parametrize(
    "today",
    [
        date(2026, 10, 1),  # a quarter's first day
        date(2026, 11, 15),  # its middle
        date(2026, 12, 4),  # its last 30 %
        date(2026, 12, 31),  # its and the year's last day
        date(2028, 2, 29),  # a leap day
        date(2026, 3, 29),  # Europe/Oslo moves its clocks forward
        date(2026, 10, 25),  # ... and back
    ],
)
@pytest.mark.parametrize("zone", ["UTC", "Europe/Oslo", "Pacific/Kiritimati"])
def test_the_status_expected_is_on_track_whatever_the_day(today: date, zone: str) -> None:
    period = Period.model_validate(period_around(today))
    assert period.contains(today) and period.contains(today + timedelta(days=1))  # the events sent fall in it
    assert statuses_while_running(today, 0.6, ZoneInfo(zone), StatusThresholds()) == {Status.ON_TRACK}


def okrs(period: dict[str, str], target: int) -> str:
    return f"""
objectives:
  sell:
    title: Sell more
    owner: sales
    period: {json.dumps(period)}
    key_results:
      revenue:
        title: Revenue
        metric: {{kpi: revenue, direction: increase_to, start: 0, target: {target}}}
      eu-orders:
        title: EU orders
        metric: {{kpi: orders, direction: increase_to, start: 0, target: 10}}
"""


def order(amount: float, region: str = "EU") -> dict:
    return {
        "event_id": uuid.uuid4().hex,
        "source": "shop",
        "type": "order.placed",
        "occurred_at": datetime.now(UTC).isoformat(),
        "dimensions": {"region": region, "channel": "web"},
        "measures": {"amount": amount, "items": 1},
    }


def get(worker, path: str) -> dict:
    answer = httpx.get(
        f"{worker.api_url}{path}", headers={"Authorization": f"Bearer {worker.admin_token}"}, timeout=60
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def wait_for(check: Callable[[], object], timeout: float = 60.0) -> object:
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value or time.monotonic() > deadline:
            return value
        time.sleep(0.3)


def test_key_results_move_as_events_arrive_and_as_of_agrees_with_history(
    settings, make_worker, tmp_path, topic_messages
) -> None:
    kpis = tmp_path / "kpis.yaml"
    kpis.write_text(KPIS)
    worker = make_worker(settings.model_copy(update={"kpis_file": kpis}))
    worker.start()
    zone = ZoneInfo(settings.timezone)
    today = datetime.now(zone).date()  # only places the period: no expectation below depends on it
    period = period_around(today)
    thresholds = StatusThresholds(settings.okr_at_risk_gap, settings.okr_off_track_gap)
    (expected,) = statuses_while_running(today, 0.6, zone, thresholds)  # one status, whenever scored
    okr_file = tmp_path / "okrs.yaml"
    okr_file.write_text(okrs(period, 1000))

    bad = tmp_path / "bad.yaml"
    bad.write_text(okrs(period, 1000).replace("kpi: orders", "kpi: nope"))
    refused = okrstream(worker, "okr", "apply", str(bad))
    assert refused.returncode == 2 and "unknown KPI 'nope'" in refused.stderr
    dry = okrstream(worker, "okr", "apply", "--dry-run", str(okr_file))
    assert dry.returncode == 0 and "dry run" in dry.stdout and "sell" in dry.stdout
    assert get(worker, "/v1/objectives")["objectives"] == []  # a dry run applies nothing
    applied = okrstream(worker, "okr", "apply", str(okr_file))
    assert applied.returncode == 0, applied.stderr
    assert "warning" not in applied.stderr
    again = okrstream(worker, "okr", "apply", str(okr_file))
    assert "nothing to do" in again.stdout  # idempotent

    headers = {"Authorization": f"Bearer {worker.admin_token}"}
    landed = 0.0
    for burst in ([100.0, 50.0], [250.0], [75.0, 25.0, 100.0]):
        answer = httpx.post(
            f"{worker.api_url}/v1/events", json=[order(a) for a in burst], headers=headers, timeout=60
        )
        assert answer.status_code == 200, answer.text
        landed += sum(burst)

        def scored_up_to(total: float = landed) -> bool:
            history = get(worker, "/v1/key-results/revenue")["history"]
            return bool(history) and history[-1]["value"] == total

        assert wait_for(scored_up_to), "the revenue key result was not scored"

    revenue = get(worker, "/v1/key-results/revenue")
    assert revenue["history"][-1]["value"] == 600.0
    assert revenue["history"][-1]["progress"] == 0.6
    assert revenue["history"][-1]["status"] == expected
    scored = [orjson.loads(m.value) for m in topic_messages(settings, settings.okr_score_topic)]
    revenue_events = [e for e in scored if e["type"] == "key_result.scored" and e["key_result"] == "revenue"]
    assert [e["value"] for e in revenue_events] == [row["value"] for row in revenue["history"]]
    caused = [e for e in revenue_events if e["cause"] == "events"]
    assert caused and all(e["caused_by"]["events"] >= 1 for e in caused)  # moved by the sink's touches
    assert any(e["type"] == "objective.scored" and e["objective"] == "sell" for e in scored)
    # one worker owns every touch partition, so its scorer scores the objective in the key
    # results' own pass: nothing is left for another owner
    touches = [decode_touch(m.value) for m in topic_messages(settings, settings.okr_touch_topic)]
    assert any(t.subject is Subject.KEY_RESULT and t.cause is Cause.EVENTS for t in touches)
    assert not [t for t in touches if t.subject is Subject.OBJECTIVE and t.cause is Cause.CASCADE]
    assert any(e["type"] == "objective.scored" and e["cause"] == "cascade" for e in scored)

    # the status as the CLI and the API show it
    status = json.loads(okrstream(worker, "okr", "status", "--format", "json").stdout)
    (sell,) = status["objectives"]
    # its status is its weakest key result's, and both are at 0.6
    assert sell["score"] == (0.6 + 6 / 10) / 2 and sell["status"] == expected
    table = okrstream(worker, "okr", "status").stdout
    assert "Sell more" in table and "[############........]  60%" in table
    assert get(worker, "/v1/objectives/sell")["objectives"][0]["id"] == "sell"

    # as of the instant of every recorded score, recomputing from raw events gives that score
    for row in revenue["history"]:
        again = get(worker, f"/v1/objectives/sell?as_of={row['as_of']}")
        kr = next(k for k in again["objectives"][0]["key_results"] if k["id"] == "revenue")
        assert (kr["value"], kr["progress"], kr["status"]) == (row["value"], row["progress"], row["status"])
        assert kr["recorded"]["progress"] == row["progress"]
    # by business time, as of the last score: the same events, all of which occurred by then
    last = revenue["history"][-1]
    by_occurred = get(worker, f"/v1/objectives/sell?as_of={last['as_of']}&by=occurred")
    kr = next(k for k in by_occurred["objectives"][0]["key_results"] if k["id"] == "revenue")
    assert (by_occurred["by"], kr["value"]) == ("occurred", last["value"])
    refused = httpx.get(
        f"{worker.api_url}/v1/objectives?as_of={last['as_of']}&by=received",
        headers={"Authorization": f"Bearer {worker.admin_token}"},
    )
    assert refused.status_code == 400 and "by must be one of landed, occurred" in refused.text

    # a new target takes effect from its time; the history keeps the old one
    okr_file.write_text(okrs(period, 500))
    assert okrstream(worker, "okr", "apply", str(okr_file)).returncode == 0
    body = wait_for(
        lambda: (b := get(worker, "/v1/key-results/revenue"))["history"][-1]["target"] == 500 and b
    )
    assert body and body["history"][-1]["progress"] == 1.0 and body["history"][-2]["target"] == 1000
    assert worker.stop() == 0
