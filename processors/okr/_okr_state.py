"""The OKR definitions in force, as the scorer and the sink's touch hook see them.

Read from the store's version history (the projection of the definition topic), with the KPIs
they read; cached for a few seconds, since both read them on every batch.
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from schemas import (
    KeyResult,
    KeyResultInputs,
    KeyResultScore,
    KpiDefinition,
    Objective,
    ObjectiveScore,
    OkrVersion,
    Settings,
    TouchIndex,
    latest_versions,
)

from ..clickhouse.okr_definitions import OkrVersions
from ..kpi import applied_kpis
from ..store import Store


@dataclass(frozen=True)
class OkrState:
    """Objectives in force with their version numbers, the KPIs applied, and who reads whom."""

    objectives: dict[str, tuple[Objective, int]]
    kpis: dict[str, KpiDefinition]
    index: TouchIndex
    owner: dict[str, str]  # key result id -> its objective's id
    readers: dict[str, tuple[str, ...]]  # objective or key result id -> rollup key results reading it

    def kpi_readers(self) -> dict[str, set[str]]:
        """KPI name -> the key results in force that read it.

        A ratio's inputs need no entry: a catalog keeps a ratio only with both its inputs.
        """
        readers: dict[str, set[str]] = {}
        for objective, _ in self.objectives.values():
            for kr in objective.key_results:
                if kr.metric is not None:
                    readers.setdefault(kr.metric.kpi, set()).add(kr.id)
        return readers

    def key_result(self, kr_id: str) -> tuple[Objective, KeyResult, int] | None:
        objective_id = self.owner.get(kr_id)
        if objective_id is None:
            return None
        objective, version = self.objectives[objective_id]
        return objective, objective.key_result(kr_id), version

    def rollup_inputs(
        self,
        kr: KeyResult,
        objective_score: Callable[[str], ObjectiveScore | None],
        kr_score: Callable[[str], KeyResultScore | None],
    ) -> KeyResultInputs:
        """(score, weight) and status of each objective and key result a rollup reads.

        One not scored yet counts 0.0, with no status.
        """
        assert kr.rollup is not None
        parts, statuses = [], []
        for ref in kr.rollup.objectives:
            score = objective_score(ref)
            weight = self.objectives[ref][0].weight if ref in self.objectives else 1.0
            parts.append((score.score if score else 0.0, weight))
            statuses += [score.status] if score else []
        for ref in kr.rollup.key_results:
            found, read = self.key_result(ref), kr_score(ref)
            parts.append((read.progress if read else 0.0, found[1].weight if found else 1.0))
            statuses += [read.status] if read else []
        return KeyResultInputs(parts=tuple(parts), statuses=tuple(statuses))

    def children(self, objective_id: str) -> list[Objective]:
        return [o for o, _ in self.objectives.values() if o.parent == objective_id]


def build_state(
    versions: list[OkrVersion], kpis: dict[str, KpiDefinition], zone: ZoneInfo, at: datetime | None
) -> OkrState:
    """The state in force at `at` (None: every version recorded) from the version history."""
    objectives = {
        oid: (Objective.model_validate_json(v.definition), v.version)
        for oid, v in latest_versions(versions, at).items()
        if not v.removed
    }
    owner, readers = {}, defaultdict(list)
    for objective, _ in objectives.values():
        for kr in objective.key_results:
            owner[kr.id] = objective.id
            if kr.rollup is not None:
                for ref in (*kr.rollup.objectives, *kr.rollup.key_results):
                    readers[ref].append(kr.id)
    index = TouchIndex({oid: o for oid, (o, _) in objectives.items()}, kpis, zone)
    return OkrState(objectives, kpis, index, owner, {k: tuple(v) for k, v in readers.items()})


def kpi_readers(store: Store, settings: Settings) -> dict[str, set[str]]:
    """Which key results in force read each KPI: what `kpi apply --prune` must not remove."""
    return load_state(store, settings).kpi_readers()


def load_state(store: Store, settings: Settings, at: datetime | None = None) -> OkrState:
    database = settings.clickhouse_database
    versions = OkrVersions(database).parse(store.fetch(OkrVersions(database)))
    return build_state(versions, applied_kpis(store, database), ZoneInfo(settings.timezone), at)


class OkrDefinitions:
    """The state in force now, reread from the store when older than `max_age` seconds or asked to."""

    def __init__(
        self,
        store: Store,
        settings: Settings,
        max_age: float = 5.0,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._store = store
        self._clock = clock
        self._settings = settings
        self._max_age = max_age
        self._lock = threading.Lock()
        self._state: OkrState | None = None
        self._loaded = 0.0

    def state(self, reload: bool = False) -> OkrState:
        with self._lock:
            if reload or self._state is None or time.monotonic() - self._loaded > self._max_age:
                self._state = load_state(self._store, self._settings, self._clock())
                self._loaded = time.monotonic()
            return self._state
