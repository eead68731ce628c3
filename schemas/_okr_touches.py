"""Touches: which key results and objectives to recompute, and why; the index that finds them.

When a sink batch lands, only the key results whose KPI reads one of its events (of the right
type, inside a window the key result looks at, matching its filters) are touched. A touch is
keyed by the id it names, so every key result and objective has one owner: the scorer that owns
its partition of the touch topic. Touches of one id arriving together are coalesced into one.
"""

from __future__ import annotations

from bisect import bisect_right
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
    # occurred_at ranges that can move it; each ends by period_end
    ranges: tuple[tuple[datetime, datetime], ...]
    filters: tuple[tuple[str, str], ...]  # dimension equalities an event must meet
    period_end: datetime


class TouchIndex:
    """Which key results a landed event can move: by event type, occurred_at and filters.

    It runs on the sink's path for every landed event, so an event costs one lookup, whatever
    the number of key results: events are first grouped by what decides which key results they
    move (type, the slot between window bounds their occurred_at falls in, the values of the
    dimensions some filter names), and only each group is matched against the key results.
    """

    def __init__(
        self, objectives: Mapping[str, Objective], kpis: Mapping[str, KpiDefinition], zone: ZoneInfo
    ) -> None:
        by_type: dict[str, list[_Watch]] = defaultdict(list)
        for objective in objectives.values():
            for kr in objective.key_results:
                for type_name, watch in _watches(objective, kr, kpis, zone):
                    by_type[type_name].append(watch)
        self._types = {type_name: _TypeWatches(watches) for type_name, watches in by_type.items()}

    def touched(self, events: Iterable[LandedEvent]) -> list[Touch]:
        """One touch per key result `events` can move; an event after its period is a late one."""
        groups: dict[tuple[str, int, tuple[str | None, ...]], _Group] = {}
        for event in events:
            watches = self._types.get(event.type)
            if watches is None:
                continue
            key = (event.type, watches.slot(event.occurred_at), watches.values(event.dimensions))
            group = groups.get(key)
            if group is None:
                groups[key] = _Group(event.received_at)
            else:
                group.add(event.received_at)
        tallies: dict[str, _Tally] = {}
        for (type_name, slot, values), group in groups.items():
            for watch in self._types[type_name].matching(slot, values):
                # every range ends by the period's end: its events are late if received after it
                on_time = group.first < watch.period_end
                tally = tallies.get(watch.key_result)
                if tally is None:
                    tally = tallies[watch.key_result] = _Tally(group.first)
                tally.add(group, on_time)
        return [tally.touch(key_result) for key_result, tally in tallies.items()]


@dataclass(frozen=True)
class _SlotWatch:
    """A watch as seen from one slot of occurred_at: inside one of its ranges, and filters by position."""

    key_result: str
    filters: tuple[tuple[int, str], ...]  # (position in _TypeWatches.keys, value)
    period_end: datetime


class _TypeWatches:
    """The watches of one event type, by slot: the span between two consecutive bounds of any watch.

    Every range's start and end is a slot edge, so all occurred_at values in one slot are inside
    or outside each range alike.
    """

    def __init__(self, watches: list[_Watch]) -> None:
        self.keys = tuple(sorted({key for w in watches for key, _ in w.filters}))
        self._bounds = sorted({at for w in watches for r in w.ranges for at in r})
        # slot s holds bounds[s-1] <= occurred_at < bounds[s]; slot 0 is before every range
        self._slots: list[list[_SlotWatch]] = [[]]
        for low in self._bounds:
            self._slots.append(
                [
                    _SlotWatch(
                        w.key_result,
                        tuple((self.keys.index(key), value) for key, value in w.filters),
                        w.period_end,
                    )
                    for w in watches
                    if any(start <= low < end for start, end in w.ranges)
                ]
            )

    def slot(self, occurred_at: datetime) -> int:
        return bisect_right(self._bounds, occurred_at)

    def values(self, dimensions: Mapping[str, str]) -> tuple[str | None, ...]:
        return tuple(dimensions.get(key) for key in self.keys)

    def matching(self, slot: int, values: tuple[str | None, ...]) -> list[_SlotWatch]:
        return [w for w in self._slots[slot] if all(values[i] == value for i, value in w.filters)]


class _Group:
    """Events that move the same key results: how many, and the span they were received in."""

    __slots__ = ("events", "first", "last")

    def __init__(self, received: datetime) -> None:
        self.events, self.first, self.last = 1, received, received

    def add(self, received: datetime) -> None:
        self.events += 1
        if received < self.first:
            self.first = received
        elif received > self.last:
            self.last = received


class _Tally:
    """What the events touching one key result add up to: a count, the received span, the cause."""

    __slots__ = ("events", "first", "last", "on_time")

    def __init__(self, received: datetime) -> None:
        self.events, self.first, self.last, self.on_time = 0, received, received, False

    def add(self, group: _Group, on_time: bool) -> None:
        self.events += group.events
        self.on_time = self.on_time or on_time
        self.first, self.last = min(self.first, group.first), max(self.last, group.last)

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
