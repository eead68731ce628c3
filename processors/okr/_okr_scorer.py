"""The OKR scorer: recomputes what touches name, publishes and records what changed.

It runs beside the sink in every worker, consuming the touch topic: each key result and objective
id is one key there, so exactly one scorer owns it. A batch of touches is coalesced into one
recomputation per id, read from the store in one statement per kind, and only scores that moved
(value, progress, status, ...) become `key_result.scored` / `objective.scored` events and
history rows. A score that moved makes the scorer touch what is computed from it: the objective,
rollup key results reading it, and (by setting) the parent objective. An objective whose touches
come to this scorer anyway is scored in the same pass instead, from the key results' scores it
has just recorded.

A score's `as_of` is the instant it was read at, taken from the store's clock, which stamps
`raw_events.landed_at`; an as-of read by landing time recomputes the score from the raw events
landed by then. ClickHouse stamps `landed_at` as an insert begins and shows its rows only when it
commits, so a read taken in between would see fewer rows than the stamps say had landed. The
scorer therefore takes its instant and reads its values under `landing`, the lock its worker's
sink holds around each insert into raw_events: the rows landed by `as_of` are then exactly the
rows the read saw, as long as no other worker's insert was in flight. The worker's own clock still
times the rescore's touches, freshness and the definitions' cache.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections import defaultdict
from collections.abc import Callable, Iterable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import fields
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from schemas import (
    Cause,
    KeyResult,
    KeyResultInputs,
    KeyResultKind,
    KeyResultScore,
    LandedEvent,
    Objective,
    ObjectiveScore,
    Settings,
    StatusThresholds,
    Subject,
    Touch,
    coalesce,
    frozen,
    key_result_scored_event,
    objective_scored_event,
    score_key_result,
    score_objective,
    started,
    utc_iso,
)

from ..clickhouse import RAW_EVENTS_COLUMN_NAMES
from ..clickhouse.okr_scores import (
    CurrentKeyResultScores,
    CurrentObjectiveScores,
    InsertKeyResultScores,
    InsertObjectiveScores,
)
from ..clickhouse.store_clock import StoreClock
from ..metrics import KEY_RESULTS_SCORED, SCORE_FRESHNESS_SECONDS
from ..store import Store
from ._okr_inputs import read_inputs
from ._okr_log import OkrLog
from ._okr_state import OkrDefinitions, OkrState

log = logging.getLogger(__name__)

_TYPE, _OCCURRED, _DIMENSIONS, _RECEIVED = (
    RAW_EVENTS_COLUMN_NAMES.index(c) for c in ("type", "occurred_at", "dimensions", "received_at")
)
_Due = tuple[Objective, KeyResult, int, Touch]  # a key result to score: objective, it, version, why
_IGNORED = {"as_of", "expected"}  # time alone moves these; a new row only when something else does


def thresholds_of(settings: Settings) -> StatusThresholds:
    return StatusThresholds(settings.okr_at_risk_gap, settings.okr_off_track_gap)


def moved(before: KeyResultScore | ObjectiveScore | None, after: KeyResultScore | ObjectiveScore) -> bool:
    """Whether a new score says something the last one did not (floats to 9 significant digits)."""
    if before is None:
        return True
    for f in fields(after):
        if f.name in _IGNORED:
            continue
        a, b = getattr(before, f.name), getattr(after, f.name)
        if isinstance(a, float) and isinstance(b, float):
            if f"{a:.9g}" != f"{b:.9g}":
                return True
        elif a != b:
            return True
    return False


class OkrScorer:
    def __init__(
        self,
        store: Store,
        settings: Settings,
        okr_log: OkrLog,
        clock: Callable[[], datetime] | None = None,
        definitions: OkrDefinitions | None = None,
        landing: AbstractContextManager[object] | None = None,
    ) -> None:
        self._store = store
        # held by the sink while raw events land
        self._landing = landing if landing is not None else nullcontext()
        self._settings = settings
        self._db = settings.clickhouse_database
        self._log = okr_log
        self._given_clock = clock  # a test's; else the scores' instants are the store's
        # the worker's clock: the rescore's touches, freshness and the definitions' cache
        self._clock = clock if clock is not None else lambda: datetime.now(UTC)
        self._last_instant: datetime | None = None  # the last pass's, on the store's clock
        self._zone = ZoneInfo(settings.timezone)
        self._grace = timedelta(days=settings.okr_freeze_after_days)
        self._thresholds = thresholds_of(settings)
        self._definitions = definitions or OkrDefinitions(store, settings, clock=self._clock)
        self._krs: dict[str, KeyResultScore] = {}  # the last score recorded of each id this scorer owns
        self._objectives: dict[str, ObjectiveScore] = {}
        self._owned: frozenset[int] | None = None  # touch partitions, see `assigned`; None: not told
        self._generation = 0  # moves on with every `forget`: a pass begun before it remembers nothing
        self._unsent: list[Touch] = []  # touches a failed pass owes; the retry sends them
        self._lock = threading.Lock()  # one pass or rescore at a time: they share the OkrLog
        self.identity = f"{socket.gethostname()}/{os.getpid()}"  # in every scored event: who scored it

    def handle(self, touches: Iterable[Touch]) -> None:
        """Recompute every id touched; record and publish what moved, then touch what reads it.

        Key results go first, then the objectives touched and, in the same pass, those of moved key
        results that this scorer owns (see `assigned`); the others are touched for their owners.
        Each step publishes its events before it writes their history rows, and touches go out
        last, once what they name is recorded. A retry after a failure publishes again whatever
        the broker did not confirm, so events are at least once. Touches a failed pass owes are
        kept in memory for the retry; if the process stops first, the next rescore catches up.
        """
        with self._lock:
            self._pass(list(touches))

    def _pass(self, touches: list[Touch]) -> None:
        # before coalescing: a definition touch merged into a stronger cause still asks for a reload
        state = self._definitions.state(reload=any(t.cause is Cause.DEFINITION for t in touches))
        batch = coalesce(touches)
        owned, generation = self._owned, self._generation  # one view of ownership for the whole pass
        objectives = [t for t in batch if t.subject is Subject.OBJECTIVE]

        touched = [t for t in batch if t.subject is Subject.KEY_RESULT]
        # no insert into raw_events in flight while the instants are taken and the events read
        with self._landing if touched else nullcontext():
            at, scored_at = self._instants()
            krs = self._due_key_results(state, touched, at)
            inputs = self._read_inputs(state, krs, at)
        moved_krs = self._score_key_results(state, krs, inputs, at, scored_at, generation)
        owed = self._unsent + [t for s, _ in moved_krs for t in _moved_by_key_result(state, s)]
        self._unsent = owed = coalesce(owed)  # from here a failure leaves them to the retry
        here = [t.subject is Subject.OBJECTIVE and self._owns(t.id, owned) for t in owed]
        inline = [t for t, mine in zip(owed, here, strict=True) if mine]
        owed = [t for t, mine in zip(owed, here, strict=True) if not mine]

        to_score = coalesce(objectives + inline)
        moved_objectives = self._score_objectives(state, to_score, at, scored_at, owned, generation)
        owed += [t for s in moved_objectives for t in self._moved_by_objective(state, s)]
        self._unsent = owed = coalesce(owed)
        self._log.touch(owed)
        self._log.flush()
        self._unsent = []

    def assigned(self, partitions: Iterable[int]) -> None:
        """The touch-topic partitions this scorer now owns (all of them while it is alone).

        An objective keyed to one of them is scored in the same pass as its key results instead
        of through a touch: one read and one write a cycle fewer, and, outside a rebalance, never
        by two scorers.
        """
        self._owned = frozenset(partitions)

    def forget(self) -> None:
        """Drop the remembered scores: after a rebalance another scorer may have moved them."""
        self._generation += 1
        self._owned = None
        self._krs.clear()
        self._objectives.clear()

    def _moved_by_objective(self, state: OkrState, score: ObjectiveScore) -> list[Touch]:
        """What a moved objective moves: its parent (status passes up), and the rollups reading it."""
        touches = []
        parent = state.objectives[score.objective][0].parent
        if parent in state.objectives:
            touches.append(Touch(Subject.OBJECTIVE, parent, Cause.CASCADE))
        readers = state.readers.get(score.objective, ())
        return touches + [Touch(Subject.KEY_RESULT, r, Cause.CASCADE) for r in readers]

    def _confirm(self, changed: list) -> None:
        """Wait for the broker to acknowledge the events of `changed`, before they are recorded.

        Recorded scores no longer count as moved, so an event is confirmed first: a failure
        before the history row leaves the score unrecorded, and the retry publishes it again.
        """
        if changed:
            self._log.flush()

    def _owns(self, id_: str, owned: frozenset[int] | None) -> bool:
        """Whether touches of this key result or objective id come to this scorer."""
        return owned is not None and self._log.touch_partition(id_) in owned

    def touch_all(self) -> None:
        """Touch every key result and objective still open to change: time moves expected progress.

        Every worker runs this; each touches only the ids it owns (all of them until it is told
        what it owns), so the touches come back to itself and no id is touched twice.
        """
        state = self._definitions.state()
        at = self._clock()
        touches = []
        for objective, _ in state.objectives.values():
            if started(objective, at, self._zone) and not frozen(objective, at, self._zone, self._grace):
                touches += [Touch(Subject.KEY_RESULT, kr.id, Cause.TIME) for kr in objective.key_results]
                touches.append(Touch(Subject.OBJECTIVE, objective.id, Cause.TIME))
        if (owned := self._owned) is not None:
            touches = [t for t in touches if self._owns(t.id, owned)]
        with self._lock:
            self._log.touch(touches)
            self._log.flush()

    def _instants(self) -> tuple[datetime, datetime]:
        """A pass's `as_of` and `scored_at`: the store's now, or a test's clock and the real now.

        `scored_at` orders the rows of one `as_of`, even on a test clock that stands still.
        """
        if self._given_clock is not None:
            return self._given_clock(), datetime.now(UTC)
        now = StoreClock.parse(self._store.fetch(StoreClock()))
        if self._last_instant is not None and now <= self._last_instant:
            # a replica behind one URL whose clock is behind the last one's: the history and
            # the latest scores order by as_of, so it never goes back (the as-of match is then
            # off by that difference)
            now = self._last_instant + timedelta(microseconds=1)
        self._last_instant = now
        return now, now

    # -- key results -------------------------------------------------------------------------

    def _due_key_results(self, state: OkrState, touches: list[Touch], at: datetime) -> list[_Due]:
        """The touched key results that are scored at `at`: defined, linked, started, not frozen."""
        items = []
        for touch in touches:
            found = state.key_result(touch.id)
            if found is None:
                continue  # removed since it was touched
            objective, kr, version = found
            if kr.kind is KeyResultKind.UNLINKED or not started(objective, at, self._zone):
                continue
            if frozen(objective, at, self._zone, self._grace):
                continue
            items.append((objective, kr, version, touch))
        return items

    def _read_inputs(self, state: OkrState, items: list[_Due], at: datetime) -> dict[str, KeyResultInputs]:
        """What the metric and milestone key results are computed from: the raw events' share."""
        if not items:
            return {}
        return read_inputs(
            self._store, self._db, [(o, kr, at) for o, kr, _, _ in items], state.kpis, self._zone
        )

    def _score_key_results(
        self,
        state: OkrState,
        items: list[_Due],
        inputs: dict[str, KeyResultInputs],
        at: datetime,
        scored_at: datetime,
        generation: int,
    ) -> list[tuple[KeyResultScore, Touch]]:
        if not items:
            return []
        rollups = [kr for _, kr, _, _ in items if kr.kind is KeyResultKind.ROLLUP]
        inputs = inputs | self._rollup_parts(state, rollups)  # scores, not events: read outside `landing`
        scores = []
        for objective, kr, version, touch in items:
            given = inputs.get(kr.id) or KeyResultInputs()
            score = score_key_result(objective, kr, given, at, self._zone, version, self._thresholds)
            scores.append((score, touch))
        self._remember_krs([s.key_result for s, _ in scores])
        changed = [(s, t) for s, t in scores if moved(self._krs.get(s.key_result), s)]
        by_cause: dict[str, list[KeyResultScore]] = defaultdict(list)
        for score, touch in changed:
            by_cause[touch.cause.value].append(score)
            event = key_result_scored_event(
                score, scored_at, touch.cause.value, _caused_by(touch), self.identity
            )
            self._log.scored(score.key_result, event)
        self._confirm(changed)
        _observe_freshness(changed, self._clock())
        for cause, group in by_cause.items():
            self._store.insert(InsertKeyResultScores(self._db, group, scored_at, cause))
            KEY_RESULTS_SCORED.labels(cause=cause).inc(len(group))
        if generation == self._generation:
            self._krs.update((s.key_result, s) for s, _ in changed)
        return changed

    def _rollup_parts(self, state: OkrState, rollups: list[KeyResult]) -> dict[str, KeyResultInputs]:
        """(progress, weight) of what each rollup reads, from the current scores."""
        if not rollups:
            return {}
        links = [kr.rollup for kr in rollups if kr.rollup is not None]
        kr_ids = tuple(sorted({r for link in links for r in link.key_results}))
        objective_ids = tuple(sorted({o for link in links for o in link.objectives}))
        kr_scores = {s.key_result: s for s in self._current_krs(kr_ids)} if kr_ids else {}
        objective_scores = (
            {s.objective: s for s in self._current_objectives(objective_ids)} if objective_ids else {}
        )
        return {kr.id: state.rollup_inputs(kr, objective_scores.get, kr_scores.get) for kr in rollups}

    # -- objectives --------------------------------------------------------------------------

    def _score_objectives(
        self,
        state: OkrState,
        touches: list[Touch],
        at: datetime,
        scored_at: datetime,
        owned: frozenset[int] | None,
        generation: int,
    ) -> list[ObjectiveScore]:
        items = []
        for touch in touches:
            if touch.id not in state.objectives:
                continue
            objective, version = state.objectives[touch.id]
            if started(objective, at, self._zone) and not frozen(objective, at, self._zone, self._grace):
                items.append((objective, version, touch))
        if not items:
            return []
        # the key results this scorer owns it has just recorded; the store has the others'
        kr_ids = sorted({kr.id for o, _, _ in items for kr in o.key_results})
        current = {i: self._krs[i] for i in kr_ids if i in self._krs and self._owns(i, owned)}
        if missing := tuple(i for i in kr_ids if i not in current):
            current |= {s.key_result: s for s in self._current_krs(missing)}
        kids = {o.id: state.children(o.id) for o, _, _ in items}
        ids = tuple(sorted({c.id for cs in kids.values() for c in cs}))
        child_scores = {s.objective: s for s in self._current_objectives(ids)} if ids else {}
        children = {
            oid: [(child_scores[c.id], c.weight) for c in cs if c.id in child_scores]
            for oid, cs in kids.items()
        }
        self._remember_objectives([o.id for o, _, _ in items])
        changed = []
        for objective, version, touch in items:
            scores = [
                current[kr.id]
                for kr in objective.key_results
                if kr.id in current and current[kr.id].version == version
            ]
            weighted = children.get(objective.id, [])
            score = score_objective(
                objective,
                scores,
                weighted,
                at,
                self._zone,
                version,
                self._thresholds,
                children_in_score=self._settings.okr_objective_includes_children,
            )
            if moved(self._objectives.get(objective.id), score):
                changed.append((score, touch))
        by_cause: dict[str, list[ObjectiveScore]] = defaultdict(list)
        for score, touch in changed:
            by_cause[touch.cause.value].append(score)
            event = objective_scored_event(score, scored_at, touch.cause.value, self.identity)
            self._log.scored(score.objective, event)
        self._confirm(changed)
        for cause, group in by_cause.items():
            self._store.insert(InsertObjectiveScores(self._db, group, scored_at, cause))
        if generation == self._generation:
            self._objectives.update((s.objective, s) for s, _ in changed)
        return [s for s, _ in changed]

    # -- what was recorded -------------------------------------------------------------------

    def _current_krs(self, ids: tuple[str, ...]) -> list[KeyResultScore]:
        query = CurrentKeyResultScores(self._db, ids)
        return [row.score for row in query.parse(self._store.fetch(query))]

    def _current_objectives(self, ids: tuple[str, ...]) -> list[ObjectiveScore]:
        query = CurrentObjectiveScores(self._db, ids)
        return [row.score for row in query.parse(self._store.fetch(query))]

    def _remember_krs(self, ids: list[str]) -> None:
        """Load the last recorded score of ids not yet seen (after a start or a rebalance)."""
        missing = tuple(sorted(i for i in set(ids) if i not in self._krs))
        if missing:
            for score in self._current_krs(missing):
                self._krs[score.key_result] = score

    def _remember_objectives(self, ids: list[str]) -> None:
        missing = tuple(sorted(i for i in set(ids) if i not in self._objectives))
        if missing:
            for score in self._current_objectives(missing):
                self._objectives[score.objective] = score


def _moved_by_key_result(state: OkrState, score: KeyResultScore) -> list[Touch]:
    """What a moved key result moves: its objective and the rollup key results reading it."""
    readers = [Touch(Subject.KEY_RESULT, r, Cause.CASCADE) for r in state.readers.get(score.key_result, ())]
    return [Touch(Subject.OBJECTIVE, score.objective, Cause.CASCADE), *readers]


def _observe_freshness(changed: list[tuple[KeyResultScore, Touch]], confirmed: datetime) -> None:
    """Event to score: from the first arrival of the events a touch carried to the broker's ack."""
    for _, touch in changed:
        if touch.first_received is not None:
            SCORE_FRESHNESS_SECONDS.observe(max(0.0, (confirmed - touch.first_received).total_seconds()))


def _caused_by(touch: Touch) -> dict[str, object]:
    return {
        "events": touch.events,
        "first_received_at": touch.first_received and utc_iso(touch.first_received),
        "last_received_at": touch.last_received and utc_iso(touch.last_received),
    }


class LandedTouches:
    """The sink's hook: touch the key results landed blocks can move, before they are acknowledged.

    The touches of every block of a flush are coalesced and published once, at its end. They stay
    pending until the broker has acknowledged them: a failed publish is repeated by the sink's retry.
    """

    def __init__(self, definitions: OkrDefinitions, okr_log: OkrLog) -> None:
        self._definitions = definitions
        self._log = okr_log
        self._pending: list[Touch] = []

    def landed(self, rows: list[tuple]) -> None:
        index = self._definitions.state().index
        touches = index.touched(
            LandedEvent(row[_TYPE], row[_OCCURRED], row[_DIMENSIONS], row[_RECEIVED]) for row in rows
        )
        self._pending += touches

    def publish(self) -> None:
        if self._pending:
            self._log.touch(coalesce(self._pending))
            self._log.flush()
            self._pending = []
