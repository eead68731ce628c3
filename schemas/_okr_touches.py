"""Touches: which key results and objectives to recompute, and why; the index that finds them.

When a sink batch lands, only the key results whose KPI reads one of its events (of the right
type, inside a window the key result looks at, matching its filters) are touched. A touch is
keyed by the id it names, so every key result and objective has one owner: the scorer that owns
its partition of the touch topic. Touches of one id arriving together are coalesced into one.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo

import orjson

from ._kpi import KpiDefinition
from ._okr import KeyResult, KeyResultKind, Objective, StartFromBaseline

CHECK_IN_TYPE = "okr.check_in"  # moves milestone key results: dimensions key_result, milestone


class Cause(StrEnum):
    """Why a score was recomputed; kept with every scored row."""

    EVENTS = "events"  # events landed that its KPI reads
    LATE_EVENTS = "late_events"  # ... after its period had ended
    TIME = "time"  # time passed: expected progress and status move on their own
    DEFINITION = "definition"  # its objective was applied, created or changed
    CASCADE = "cascade"  # a key result or objective it is computed from changed


class Subject(StrEnum):
    KEY_RESULT = "key_result"
    OBJECTIVE = "objective"


@dataclass(frozen=True)
class Touch:
    """Recompute `id` (a key result or an objective), for `cause`; events say which and when sent."""

    subject: Subject
    id: str
    cause: Cause
    events: int = 0  # landed events behind it
    first_received: datetime | None = None  # when the earliest of them was received (ingest time)
    last_received: datetime | None = None

    def merge(self, other: Touch) -> Touch:
        """One touch for two: events add up, the received span widens, the stronger cause stays."""
        firsts = [t for t in (self.first_received, other.first_received) if t is not None]
        lasts = [t for t in (self.last_received, other.last_received) if t is not None]
        causes = list(Cause)
        return replace(
            self,
            cause=min(self.cause, other.cause, key=causes.index),
            events=self.events + other.events,
            first_received=min(firsts) if firsts else None,
            last_received=max(lasts) if lasts else None,
        )


def coalesce(touches: Iterable[Touch]) -> list[Touch]:
    """One touch per subject id, in the order first seen."""
    merged: dict[tuple[Subject, str], Touch] = {}
    for touch in touches:
        key = (touch.subject, touch.id)
        merged[key] = merged[key].merge(touch) if key in merged else touch
    return list(merged.values())


def encode_touch(touch: Touch) -> bytes:
    return orjson.dumps(
        {
            "subject": touch.subject.value,
            "id": touch.id,
            "cause": touch.cause.value,
            "events": touch.events,
            "first_received": _us(touch.first_received),
            "last_received": _us(touch.last_received),
        }
    )


def decode_touch(data: bytes) -> Touch:
    raw = orjson.loads(data)
    return Touch(
        Subject(raw["subject"]),
        raw["id"],
        Cause(raw["cause"]),
        int(raw.get("events", 0)),
        _from_us(raw.get("first_received")),
        _from_us(raw.get("last_received")),
    )


def _us(at: datetime | None) -> int | None:
    return None if at is None else int(at.timestamp() * 1_000_000)


def _from_us(value: int | None) -> datetime | None:
    return None if value is None else datetime.fromtimestamp(value / 1_000_000, UTC)


@dataclass(frozen=True)
class LandedEvent:
    """What touching needs of one landed event."""

    type: str
    occurred_at: datetime
    dimensions: Mapping[str, str]
    received_at: datetime


@dataclass(frozen=True)
class _Watch:
    key_result: str
    ranges: tuple[tuple[datetime, datetime], ...]  # occurred_at ranges that can move it
    filters: tuple[tuple[str, str], ...]  # dimension equalities an event must meet
    period_end: datetime


class TouchIndex:
    """Which key results a landed event can move: by event type, occurred_at and filters."""

    def __init__(
        self, objectives: Mapping[str, Objective], kpis: Mapping[str, KpiDefinition], zone: ZoneInfo
    ) -> None:
        self._by_type: dict[str, list[_Watch]] = defaultdict(list)
        for objective in objectives.values():
            for kr in objective.key_results:
                for type_name, watch in _watches(objective, kr, kpis, zone):
                    self._by_type[type_name].append(watch)

    def touched(self, events: Iterable[LandedEvent]) -> list[Touch]:
        """One touch per key result `events` can move; an event after its key result's period is a late one.

        It runs on the sink's path for every landed event, so it counts into one tally per key
        result rather than building a touch per (event, key result) and merging them.
        """
        tallies: dict[str, _Tally] = {}
        for event in events:
            for watch in self._by_type.get(event.type, ()):
                if not any(start <= event.occurred_at < end for start, end in watch.ranges):
                    continue
                if any(event.dimensions.get(key) != value for key, value in watch.filters):
                    continue
                tally = tallies.get(watch.key_result)
                if tally is None:
                    tally = tallies[watch.key_result] = _Tally(event.received_at)
                tally.add(event.occurred_at < watch.period_end <= event.received_at, event.received_at)
        return [tally.touch(key_result) for key_result, tally in tallies.items()]


class _Tally:
    """What the events touching one key result add up to: a count, the received span, the cause."""

    __slots__ = ("events", "first", "last", "on_time")

    def __init__(self, received: datetime) -> None:
        self.events, self.first, self.last, self.on_time = 0, received, received, False

    def add(self, late: bool, received: datetime) -> None:
        self.events += 1
        self.on_time = self.on_time or not late
        self.first, self.last = min(self.first, received), max(self.last, received)

    def touch(self, key_result: str) -> Touch:
        cause = Cause.EVENTS if self.on_time else Cause.LATE_EVENTS  # as Touch.merge ranks them
        return Touch(Subject.KEY_RESULT, key_result, cause, self.events, self.first, self.last)


def _watches(
    objective: Objective, kr: KeyResult, kpis: Mapping[str, KpiDefinition], zone: ZoneInfo
) -> list[tuple[str, _Watch]]:
    start, end = objective.period.bounds(zone)
    if kr.kind is KeyResultKind.MILESTONE:
        return [(CHECK_IN_TYPE, _Watch(kr.id, ((start, end),), (("key_result", kr.id),), end))]
    if kr.kind is not KeyResultKind.METRIC or kr.metric is None or kr.metric.kpi not in kpis:
        return []  # rollups move when their parts do: see Cause.CASCADE
    metric = kr.metric
    ranges = [(start - (metric.window.trailing or timedelta(0)), end)]
    if isinstance(metric.start, StartFromBaseline):
        ranges.append(objective.period.previous().bounds(zone))
    watch = _Watch(kr.id, tuple(ranges), tuple(sorted(metric.filters.items())), end)
    return [(type_name, watch) for type_name in sorted(_event_types(kpis[metric.kpi], kpis))]


def _event_types(kpi: KpiDefinition, kpis: Mapping[str, KpiDefinition]) -> set[str]:
    """The event types a KPI reads; a ratio reads its numerator's and denominator's."""
    types = set(kpi.events)
    for ref in kpi.inputs:
        if ref in kpis and ref != kpi.name:
            types |= _event_types(kpis[ref], kpis)
    return types
