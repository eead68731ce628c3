"""A realistic stream of business events for `okrstream demo`: orders, signups, deals, tickets.

Now and then it resends an event (the sink must count it once) and sends a broken one (it must
land in the dead-letter topic with its reason), so a newcomer sees both rules at work. Given
milestone key results, every `check_in_every` events someone checks in the next milestone not
yet reached (`okr.check_in`), so the demo's milestone key results move too.

Before the live stream, `history` writes the quarters a board compares with (the one before, the
same one a year before, and this one to date), so baselines and comparisons have real values.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from schemas import add_months, utc_iso

HISTORY_PER_DAY = 300  # events a day in the written history: about 28,000 a quarter
THIS_QUARTER_GROWTH = 1.15  # this quarter's history runs 15 % busier than the quarters before
EARLIER_RESPONSES = 1.3  # and support answered 30 % slower in the quarters before
MAX_QUEUED_S = 600.0

REGIONS = ("EU", "NA", "APAC", "LATAM")
CHANNELS = ("web", "app", "store")
PLANS = ("free", "team", "business", "enterprise")
SEGMENTS = ("smb", "mid_market", "enterprise")
PRIORITIES = ("low", "normal", "high", "urgent")


class DemoFeed:
    def __init__(
        self,
        seed: int | str | None = None,
        resend_share: float = 0.02,
        broken_share: float = 0.01,
        milestones: Sequence[tuple[str, Sequence[str]]] = (),
        check_in_every: int = 1500,
        response_scale: float = 1.0,
    ) -> None:
        self._rng = random.Random(seed)
        self._check_ins = [(kr, milestone) for kr, names in milestones for milestone in names]
        self._check_in_every = check_in_every
        self._response_scale = response_scale  # how much slower support answers than in the live feed
        self._sent = 0
        self._resend_share = resend_share
        self._broken_share = broken_share
        self._recent: list[dict[str, Any]] = []
        self._subscribers = 1200
        self._open_tickets: list[tuple[str, str, datetime]] = []

    def events(self, count: int, now: datetime | None = None) -> Iterator[dict[str, Any]]:
        now = now or datetime.now(UTC)
        for _ in range(count):
            self._sent += 1
            roll = self._rng.random()
            if self._check_ins and self._sent % self._check_in_every == 0:
                key_result, milestone = self._check_ins.pop(0)
                at = utc_iso(now - timedelta(seconds=self._rng.uniform(0, 2)))
                event_id = str(uuid.UUID(int=self._rng.getrandbits(128)))
                dims = {"key_result": key_result, "milestone": milestone}
                yield {"event_id": event_id, "occurred_at": at} | _ev("okr.check_in", "okr-board", dims)
            elif self._recent and roll < self._resend_share:
                yield self._rng.choice(self._recent)
            elif roll < self._resend_share + self._broken_share:
                yield self._broken(now)
            else:
                event = self._next(now - timedelta(seconds=self._rng.uniform(0, 2)))
                self._recent = [*self._recent[-99:], event]
                yield event

    def spread(self, start: datetime, end: datetime, per_day: float) -> Iterator[dict[str, Any]]:
        """Clean events (no resends, none broken) at even steps, with jitter, over [start, end)."""
        count = int((end - start) / timedelta(days=1) * per_day)
        step = (end - start) / max(count, 1)
        for i in range(count):
            yield self._next(start + step * (i + self._rng.random()))

    def _next(self, at: datetime) -> dict[str, Any]:
        rng = self._rng
        kind = rng.choices(
            ("session", "order", "signup", "ticket_open", "ticket_answer", "deal", "refund", "subscription"),
            weights=(40, 20, 8, 8, 7, 3, 2, 2),
        )[0]
        region = rng.choice(REGIONS)
        base = {"event_id": str(uuid.UUID(int=rng.getrandbits(128))), "occurred_at": utc_iso(at)}
        if kind == "session":
            return base | _ev(
                "session.started", "web-analytics", {"region": region, "channel": rng.choice(CHANNELS)}
            )
        if kind == "order":
            amount = round(rng.lognormvariate(4.0, 0.8), 2)
            dims = {"region": region, "channel": rng.choice(CHANNELS)}
            return base | _ev(
                "order.placed",
                "shop",
                dims,
                {"amount": amount, "items": rng.randint(1, 6)},
                subject=f"customer-{rng.randint(1, 5000)}",
            )
        if kind == "refund":
            return base | _ev(
                "order.refunded", "shop", {"region": region}, {"amount": round(rng.uniform(5, 200), 2)}
            )
        if kind == "signup":
            dims = {"region": region, "plan": rng.choice(PLANS)}
            return base | _ev(
                "customer.signed_up", "crm", dims, subject=f"customer-{rng.randint(5001, 99999)}"
            )
        if kind == "deal":
            segment = rng.choice(SEGMENTS)
            amount = round(rng.lognormvariate(11.0 if segment == "enterprise" else 9.5, 0.7), 2)
            return base | _ev(
                "deal.closed", "crm", {"region": region, "segment": segment}, {"amount": amount}
            )
        if kind == "subscription":
            self._subscribers = max(0, self._subscribers + rng.randint(-3, 5))
            dims = {"plan": rng.choice(PLANS)}
            return base | _ev(
                "subscription.changed", "billing", dims, {"active_subscribers": self._subscribers}
            )
        priority = rng.choice(PRIORITIES)
        if kind == "ticket_open" or not self._open_tickets:
            ticket = f"ticket-{rng.getrandbits(40):x}"
            self._open_tickets = [*self._open_tickets[-499:], (ticket, priority, at)]
            dims = {"priority": priority, "channel": rng.choice(("email", "chat", "phone"))}
            return base | _ev("ticket.opened", "helpdesk", dims, subject=ticket)
        ticket, priority, opened = self._open_tickets.pop(0)
        # the queue's wait, up to 10 minutes (a sparse history would otherwise wait for days), and
        # then the time to answer
        queued = min(MAX_QUEUED_S, max(30.0, (at - opened).total_seconds()))
        answering = 900 if priority == "urgent" else 1800  # mean seconds: urgent ones go first
        waited = (queued + rng.expovariate(1 / answering)) * self._response_scale
        measures = {"first_response_seconds": round(waited, 1)}
        return base | _ev("ticket.answered", "helpdesk", {"priority": priority}, measures, subject=ticket)

    def _broken(self, at: datetime) -> dict[str, Any]:
        """Typical mistakes of a hand-written integration."""
        event = self._next(at)
        mistake = self._rng.choice(("naive_time", "nan", "bad_type", "no_id"))
        if mistake == "naive_time":
            event["occurred_at"] = at.replace(tzinfo=None).isoformat()
        elif mistake == "nan":
            event["measures"] = {**event.get("measures", {}), "amount": float("nan")}
        elif mistake == "bad_type":
            event["type"] = "OrderPlaced"
        else:
            del event["event_id"]
        return event


def _ev(
    type_: str,
    source: str,
    dimensions: dict[str, str],
    measures: dict[str, float] | None = None,
    subject: str | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "type": type_,
        "source": source,
        "dimensions": dimensions,
        "measures": measures or {},
    }
    if subject:
        event["subject"] = subject
    return event


def demo_history(now: datetime, zone: ZoneInfo, per_day: float = HISTORY_PER_DAY) -> Iterator[dict[str, Any]]:
    """The demo's past: the quarter a year before this one, the quarter before, and this one to date.

    Each span's events come from a feed seeded by the span, so a restarted demo writes the same
    events with the same ids, and the sink drops the copies.
    """
    today = now.astimezone(zone).date()
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)

    def midnight(day: date) -> datetime:
        return datetime.combine(day, time(), zone).astimezone(UTC)

    spans = [
        (add_months(quarter, -12), add_months(quarter, -9), 1.0),  # a year before: year-ago comparisons
        (add_months(quarter, -3), quarter, 1.0),  # the quarter before: baselines, previous period
    ]
    for first, end, busier in spans:
        feed = DemoFeed(
            seed=f"history {first.isoformat()}",
            resend_share=0,
            broken_share=0,
            response_scale=EARLIER_RESPONSES,
        )
        yield from feed.spread(midnight(first), midnight(end), per_day * busier)
    feed = DemoFeed(seed=f"history {quarter.isoformat()}", resend_share=0, broken_share=0)
    yield from feed.spread(midnight(quarter), now.astimezone(UTC), per_day * THIS_QUARTER_GROWTH)
