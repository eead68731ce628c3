"""The collector's threshold: the objects of requests in flight do not set off collections."""

from __future__ import annotations

import subprocess
import sys

import pytest

# In a fresh interpreter, as a service runs it: the collector tuned (then, given a threshold,
# set to it instead), and eight requests of 1,000 events parsed, validated and encoded, all held
# at once as requests waiting for the log hold them. Prints how many collections ran meanwhile.
SCRIPT = """
import gc, json, sys
from datetime import UTC, datetime

from ingest import collect_garbage_rarely
from schemas import EventTypeRegistry, encode_event, validate_event

registry = EventTypeRegistry.from_mapping(
    {"event_types": {"order.placed": {"dimensions": {"region": {}, "channel": {}},
                                      "measures": {"amount": {"type": "number", "min": 0}}}}}
)
now = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)
bodies = [
    json.dumps([
        {"event_id": f"ord-{r}-{i}", "type": "order.placed", "source": "shop",
         "occurred_at": "2026-10-01T11:00:00Z", "subject": f"customer-{i}",
         "dimensions": {"region": "EU", "channel": "web"}, "measures": {"amount": i}}
        for i in range(1000)
    ]).encode()
    for r in range(8)
]
collect_garbage_rarely()
if len(sys.argv) > 1:
    gc.set_threshold(int(sys.argv[1]), 20, 100)
collections = []
gc.callbacks.append(lambda phase, info: phase == "start" and collections.append(info["generation"]))
in_flight = []
for body in bodies:
    for data in json.loads(body):
        event = validate_event(data, registry, received_at=now)
        in_flight.append((data, event, encode_event(event, 4)))
print(len(collections))
"""


def collections_while_held(threshold: int | None = None) -> int:
    given = [] if threshold is None else [str(threshold)]
    done = subprocess.run([sys.executable, "-c", SCRIPT, *given], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_eight_requests_of_a_thousand_events_in_flight_set_off_no_collection() -> None:
    assert collections_while_held() == 0


@pytest.mark.parametrize("threshold", [700, 50_000])
def test_lower_thresholds_collect_while_the_same_requests_are_in_flight(threshold: int) -> None:
    """Python's default, and this module's earlier 50,000: what the test above guards against."""
    assert collections_while_held(threshold) > 0
