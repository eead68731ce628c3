"""DemoFeed: valid events of every demo type per the shipped registry, true resends, broken ones rejected."""

from __future__ import annotations

import statistics
from collections import Counter
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from processors.runtime import DemoFeed, demo_history, load_registry
from schemas import EventValidationError, Settings, validate_event

NOW = datetime(2026, 10, 1, 12, tzinfo=UTC)
REGISTRY = load_registry(Settings())  # schemas/event_types.yaml, as `okrstream demo` loads it


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_every_event_passes_the_shipped_registry(seed: int) -> None:
    events = list(DemoFeed(seed=seed, broken_share=0).events(3000, now=NOW))
    for event in events:
        validated = validate_event(event, REGISTRY)
        assert NOW - timedelta(seconds=2) <= validated.occurred_at <= NOW
        assert validated.type in REGISTRY.event_types  # only declared types, never an unknown one


def test_the_types_cover_orders_signups_deals_and_tickets() -> None:
    types = Counter(e["type"] for e in DemoFeed(seed=3, broken_share=0).events(3000, now=NOW))
    assert set(types) == set(REGISTRY.event_types) - {"okr.check_in"}  # check-ins come from people
    assert types.most_common(1)[0][0] == "session.started"
    for kind in ("order.placed", "customer.signed_up", "deal.closed", "ticket.opened", "ticket.answered"):
        assert types[kind] >= 20, kind


def test_resends_are_earlier_events_with_their_event_ids() -> None:
    events = list(DemoFeed(seed=4, resend_share=0.2, broken_share=0).events(1000, now=NOW))
    first: dict[str, dict] = {}
    resends = 0
    for event in events:
        if event["event_id"] in first:
            resends += 1
            assert event == first[event["event_id"]]  # the same event again, not a new one under an old id
        else:
            first[event["event_id"]] = event
    assert 120 <= resends <= 280  # about 20% of 1000


def test_without_resends_every_event_id_is_new() -> None:
    events = list(DemoFeed(seed=5, resend_share=0, broken_share=0).events(2000, now=NOW))
    assert len({e["event_id"] for e in events}) == 2000


def test_tickets_are_answered_after_they_were_opened_with_the_same_priority() -> None:
    opened: dict[str, str] = {}
    answered = 0
    for event in DemoFeed(seed=6, resend_share=0, broken_share=0).events(3000, now=NOW):
        if event["type"] == "ticket.opened":
            opened[event["subject"]] = event["dimensions"]["priority"]
        elif event["type"] == "ticket.answered":
            answered += 1
            assert opened[event["subject"]] == event["dimensions"]["priority"]
            assert event["measures"]["first_response_seconds"] >= 30
    assert answered > 50


def test_broken_events_are_all_rejected_for_the_four_typical_mistakes() -> None:
    paths: Counter[str] = Counter()
    for event in DemoFeed(seed=7, resend_share=0, broken_share=1).events(400, now=NOW):
        with pytest.raises(EventValidationError) as caught:
            validate_event(event, REGISTRY)
        paths.update({e.path for e in caught.value.errors})
    assert set(paths) == {"occurred_at", "measures.amount", "type", "event_id"}


def test_the_same_seed_gives_the_same_stream() -> None:
    def stream() -> list[dict]:
        return list(DemoFeed(seed=8).events(500, now=NOW))

    assert stream() == stream()
    assert stream() != list(DemoFeed(seed=9).events(500, now=NOW))


def test_someone_checks_in_the_next_milestone_every_so_many_events() -> None:
    milestones = [("help-center", ["content", "pilot", "launch"]), ("other", ["done"])]
    feed = DemoFeed(seed=10, resend_share=0, broken_share=0, milestones=milestones, check_in_every=100)
    events = list(feed.events(1000, now=NOW))
    check_ins = [(i, e) for i, e in enumerate(events, start=1) if e["type"] == "okr.check_in"]
    assert [i for i, _ in check_ins] == [100, 200, 300, 400]  # then every milestone is reached
    assert [(e["dimensions"]["key_result"], e["dimensions"]["milestone"]) for _, e in check_ins] == [
        ("help-center", "content"),
        ("help-center", "pilot"),
        ("help-center", "launch"),
        ("other", "done"),
    ]
    for _, event in check_ins:
        assert validate_event(event, REGISTRY).type == "okr.check_in"


def test_history_writes_the_quarters_a_board_compares_with() -> None:
    """A year before, the quarter before, and this quarter to date: clean, valid and dated in them."""
    now = datetime(2026, 11, 15, 6, tzinfo=UTC)
    events = list(demo_history(now, ZoneInfo("UTC"), per_day=10))
    spans = {
        "year before": (datetime(2025, 10, 1, tzinfo=UTC), datetime(2026, 1, 1, tzinfo=UTC)),
        "quarter before": (datetime(2026, 7, 1, tzinfo=UTC), datetime(2026, 10, 1, tzinfo=UTC)),
        "to date": (datetime(2026, 10, 1, tzinfo=UTC), now),
    }
    found: Counter[str] = Counter()
    for event in events:
        at = validate_event(event, REGISTRY).occurred_at
        (span,) = [name for name, (start, end) in spans.items() if start <= at < end]
        found[span] += 1
    # 92 days at 10 a day, twice; 45.25 days at 11.5 a day (this quarter runs 15 % busier)
    assert found == {"year before": 920, "quarter before": 920, "to date": 520}
    assert len({e["event_id"] for e in events}) == len(events)  # no resends in the past
    assert not any(e["type"] == "okr.check_in" for e in events)


def test_history_is_the_same_on_a_restart_so_the_sink_drops_the_copies() -> None:
    now = datetime(2026, 11, 15, tzinfo=UTC)
    first = [e["event_id"] for e in demo_history(now, ZoneInfo("Europe/Oslo"), per_day=5)]
    again = [e["event_id"] for e in demo_history(now, ZoneInfo("Europe/Oslo"), per_day=5)]
    assert first == again


def test_history_answers_tickets_within_the_hour_and_slower_before_this_quarter() -> None:
    """Baselines a first-response key result can improve on: about 30 % slower, never days."""
    now = datetime(2026, 11, 15, tzinfo=UTC)
    waits: dict[bool, list[float]] = {True: [], False: []}
    for event in demo_history(now, ZoneInfo("UTC"), per_day=100):
        if event["type"] == "ticket.answered":
            this_quarter = event["occurred_at"] >= "2026-10-01"
            waits[this_quarter].append(event["measures"]["first_response_seconds"])
    before, now_ = statistics.median(waits[False]), statistics.median(waits[True])
    assert now_ < 3600 and 1.15 < before / now_ < 1.45
