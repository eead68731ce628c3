"""The benchmark's events: realistic canonical events of the shipped demo types, the same in every run."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

# type -> (dimension choices, measure bounds); all valid for schemas/event_types.yaml
TYPES: dict[str, tuple[dict[str, tuple[str, ...]], dict[str, tuple[int, int]]]] = {
    "order.placed": (
        {"region": ("EU", "NA", "APAC"), "channel": ("web", "app")},
        {"amount": (5, 900), "items": (1, 6)},
    ),
    "deal.closed": ({"region": ("EU", "NA"), "segment": ("smb", "enterprise")}, {"amount": (1_000, 250_000)}),
    "ticket.answered": ({"priority": ("low", "high")}, {"first_response_seconds": (30, 86_400)}),
    "customer.signed_up": ({"region": ("EU", "NA"), "plan": ("free", "team")}, {}),
    "session.started": ({"region": ("EU", "APAC"), "channel": ("web", "app")}, {}),
}
SOURCES = ("shop", "crm", "helpdesk")
ZONES = (UTC, timezone(timedelta(hours=2)), timezone(timedelta(hours=-5)))


def make_events(count: int, seed: int = 2026) -> list[dict[str, Any]]:
    """`count` distinct events (unique event_id) spread over ten days, several UTC offsets."""
    rng = random.Random(seed)
    start = datetime(2026, 11, 1, tzinfo=UTC)
    kinds = list(TYPES)
    events = []
    for i in range(count):
        kind = rng.choice(kinds)
        dims, measures = TYPES[kind]
        at = (start + timedelta(seconds=rng.randrange(10 * 86_400))).astimezone(rng.choice(ZONES))
        events.append(
            {
                "event_id": f"bench-{i:08d}",
                "type": kind,
                "source": rng.choice(SOURCES),
                "occurred_at": at.isoformat(),
                "subject": f"customer-{rng.randrange(20_000)}",
                "dimensions": {k: rng.choice(v) for k, v in dims.items()},
                "measures": {k: rng.randint(*bounds) for k, bounds in measures.items()},
            }
        )
    return events
