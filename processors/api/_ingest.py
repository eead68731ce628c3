"""The HTTP ingest decision, per event: accepted, duplicate, or rejected with the field and the reason.

Nothing here speaks HTTP: it takes a request's split items and answers with results, so the
rules (scope before anything is written, duplicates answered, dead letters, durable before
acknowledged) read in one place.

`accepted` promises that the event is in the log (durable, see `ingest.KafkaLogWriter`) and will
be counted once; it does not say whether a copy of it landed before. The store is not asked on
this path: its answer cost a serialized query per request, and the sink drops every copy anyway.
Whoever needs new-versus-already-stored asks `POST /v1/events/landed`, before or after sending.
"""

from __future__ import annotations

import asyncio
import time
from collections import OrderedDict
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from ingest import LogWriter
from schemas import (
    ApiKey,
    EventValidationError,
    FieldError,
    RawEvent,
    dead_letter_record,
    echo,
    errors_json,
    json_type_name,
)

from ..metrics import (
    DEAD_LETTERS,
    EVENTS_ACCEPTED,
    EVENTS_DUPLICATE,
    EVENTS_RECEIVED,
    EVENTS_REJECTED,
    LOG_APPEND_SECONDS,
    count_events,
)
from ._bodies import BodyItem
from ._errors import ApiError

Identity = tuple[str, str]
Convert = Callable[[Any, datetime], RawEvent]  # raises EventValidationError
Claim = Callable[[Any], tuple[Any, Any]]  # the (source, type) an item claims, unvalidated
MAX_OUT_OF_SCOPE_LISTED = 100


class Outcome(StrEnum):
    ACCEPTED = "accepted"
    DUPLICATE = "duplicate"
    REJECTED = "rejected"


@dataclass
class EventResult:
    index: int
    status: Outcome
    event_id: str | None = None
    source: str | None = None
    errors: tuple[FieldError, ...] = ()

    def to_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {"index": self.index, "status": self.status.value}
        if self.event_id is not None:
            body |= {"event_id": self.event_id, "source": self.source}
        if self.errors:
            body["errors"], not_listed = errors_json(self.errors)
            if not_listed:
                body["errors_not_listed"] = not_listed
        return body


@dataclass
class IngestResult:
    results: list[EventResult] = field(default_factory=list)

    def count(self, outcome: Outcome) -> int:
        return sum(1 for r in self.results if r.status is outcome)

    @property
    def status_code(self) -> int:
        """200 when nothing was rejected, 422 when everything was, 207 (Multi-Status) in between."""
        rejected = self.count(Outcome.REJECTED)
        if rejected == 0:
            return 200
        return 422 if rejected == len(self.results) else 207

    def to_json(self) -> dict[str, Any]:
        return {
            "accepted": self.count(Outcome.ACCEPTED),
            "duplicates": self.count(Outcome.DUPLICATE),
            "rejected": self.count(Outcome.REJECTED),
            "results": [r.to_json() for r in self.results],
        }


class RecentIdentities:
    """Identities this process acknowledged lately: they may not have landed in the store yet.

    "Lately" is the last `ttl_s` seconds, whether or not anything was added since: on a quiet
    process an identity older than that is not answered from here.
    """

    def __init__(
        self, ttl_s: float = 600.0, capacity: int = 500_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._ttl = ttl_s
        self._capacity = capacity
        self._clock = clock
        self._seen: OrderedDict[Identity, float] = OrderedDict()

    def __contains__(self, identity: Identity) -> bool:
        added = self._seen.get(identity)
        return added is not None and added >= self._clock() - self._ttl

    def add(self, identities: Collection[Identity]) -> None:
        now = self._clock()
        for identity in identities:
            self._seen[identity] = now
            self._seen.move_to_end(identity)
        while self._seen and (
            len(self._seen) > self._capacity or next(iter(self._seen.values())) < now - self._ttl
        ):
            self._seen.popitem(last=False)


class EventIngest:
    """Validates, deduplicates and appends one request's events; rejected ones go to dead letters.

    Duplicates are answered from what this process knows: earlier in the same request, or
    acknowledged by it lately. Two requests carrying the same identity at once are serialized on
    it, so exactly one of them answers `accepted`. A copy of an event that landed through another
    process, or before a restart, is answered `accepted` and dropped by the sink.
    """

    def __init__(self, log: LogWriter, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self._log = log
        self._clock = clock
        self._recent = RecentIdentities()
        self._in_flight: dict[Identity, asyncio.Future[bool]] = {}

    async def ingest(
        self,
        items: Sequence[BodyItem],
        convert: Convert,
        key: ApiKey | None,
        origin: str,
        request: dict[str, Any],
    ) -> IngestResult:
        """Raises ApiError(403) before writing anything when an event is outside the key's scope."""
        now = self._clock()
        result = IngestResult()
        valid: list[tuple[EventResult, RawEvent]] = []
        rejected: list[tuple[EventResult, BodyItem]] = []
        types: dict[int, str] = {}  # for the metrics: each event's type, a rejected one's as claimed
        for item in items:
            try:
                if item.error is not None:
                    raise EventValidationError([item.error])
                event = convert(item.data, now)
            except EventValidationError as e:
                entry = EventResult(item.index, Outcome.REJECTED, errors=e.errors)
                entry.event_id, entry.source = _claimed_identity(item.data)
                claimed = item.data.get("type") if isinstance(item.data, dict) else None
                types[item.index] = claimed[:100] if isinstance(claimed, str) else ""
                rejected.append((entry, item))
            else:
                entry = EventResult(item.index, Outcome.ACCEPTED, event.event_id, event.source)
                types[item.index] = event.type
                valid.append((entry, event))
            result.results.append(entry)
        # scope was checked on the claims already; this holds if a claim ever differs from the event
        check_scope(key, [(entry.index, event.source, event.type) for entry, event in valid])

        fresh = await self._reserve(valid)
        try:
            new = [event for _, event in fresh]
            letters = [
                dead_letter_record(
                    origin=origin,
                    errors=entry.errors,
                    raw=item.raw,
                    failed_at=now,
                    source=entry.source,
                    request=request | {"index": item.index},
                )
                for entry, item in rejected
            ]
            started = time.perf_counter()
            if letters:
                await asyncio.gather(self._log.append(new), self._log.dead_letter(letters, key=origin))
            else:
                await self._log.append(new)
            LOG_APPEND_SECONDS.observe(time.perf_counter() - started)
            self._recent.add([event.identity for event in new])
            self._release(fresh, True)
        except BaseException:
            self._release(fresh, False)
            raise
        _count(result, types)
        DEAD_LETTERS.labels(origin="api").inc(len(letters))
        return result

    async def _reserve(self, valid: list[tuple[EventResult, RawEvent]]) -> list[tuple[EventResult, RawEvent]]:
        """Mark duplicates known in memory; claim the other identities for this request."""
        while waiting := {f for _, e in valid if (f := self._in_flight.get(e.identity)) is not None}:
            await asyncio.wait(waiting)
        # no await from here to the end: checking and claiming is one step for the event loop
        fresh, claimed = [], set()
        for entry, event in valid:
            if event.identity in claimed or event.identity in self._recent:
                entry.status = Outcome.DUPLICATE
                continue
            claimed.add(event.identity)
            fresh.append((entry, event))
        future: asyncio.Future[bool] = asyncio.get_running_loop().create_future()
        for identity in claimed:
            self._in_flight[identity] = future
        return fresh

    def _release(self, fresh: list[tuple[EventResult, RawEvent]], appended: bool) -> None:
        futures = {
            self._in_flight.pop(event.identity) for _, event in fresh if event.identity in self._in_flight
        }
        for future in futures:
            if not future.done():
                future.set_result(appended)


def _count(result: IngestResult, types: dict[int, str]) -> None:
    """The request's events in the ingest counters, by source and type (a rejected one's as claimed)."""
    pairs = [(entry.source, types.get(entry.index)) for entry in result.results]
    count_events(EVENTS_RECEIVED, pairs)
    counters = {
        Outcome.ACCEPTED: EVENTS_ACCEPTED,
        Outcome.DUPLICATE: EVENTS_DUPLICATE,
        Outcome.REJECTED: EVENTS_REJECTED,
    }
    for outcome, counter in counters.items():
        count_events(counter, [p for p, e in zip(pairs, result.results, strict=True) if e.status is outcome])


def _claimed_identity(data: Any) -> tuple[str | None, str | None]:
    """The event_id and source a rejected item claims, when they are plain strings, cut short for
    its result: a rejected value is never echoed whole."""
    if not isinstance(data, dict):
        return None, None
    event_id = data.get("event_id", data.get("id"))
    source = data.get("source")
    return (
        echo(event_id) if isinstance(event_id, str) else None,
        echo(source) if isinstance(source, str) else None,
    )


def check_scope(key: ApiKey | None, claims: Sequence[tuple[int, Any, Any]]) -> None:
    """Refuse the request (403, nothing written or dead-lettered) when any (index, source, type)
    claimed is outside the key's scope. Run before validation: an invalid event out of scope is
    not the key's to have dead-lettered under a source it may not write."""
    if key is None or key.is_admin:
        return
    verdicts: dict[tuple[str, str], bool] = {}  # a request's events share a few (source, type) pairs
    outside = []
    for index, source, type_ in claims:
        if type(source) is str and type(type_) is str:
            refused = verdicts.get((source, type_))
            if refused is None:
                refused = verdicts[source, type_] = key.refuses(source, type_)
        else:
            refused = key.refuses(source, type_)
        if refused:
            outside.append((index, source, type_))
    if outside:
        listed = [
            {"index": index, "source": _shown(source), "type": _shown(type_)}
            for index, source, type_ in outside[:MAX_OUT_OF_SCOPE_LISTED]
        ]
        raise ApiError(
            403,
            f"this API key may not write {len(outside)} of these events (source or type out of its"
            " scope); nothing was written",
            "out_of_scope",
            path="source, type",
            extra={"events": listed, "events_out_of_scope": len(outside)},
        )


def _shown(value: Any) -> Any:
    return echo(value) if isinstance(value, str) else value if value is None else json_type_name(value)
