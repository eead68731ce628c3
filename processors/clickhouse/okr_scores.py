"""Writing and reading the score history: rows of scores, the latest ones, and what stood at an instant.

Every recomputation adds a row with when it was computed (`scored_at`) and why (`cause`); the
latest row of an id, by (as_of, scored_at), is its current score. Every read answers history rows
(`Scored`: the score, scored_at and cause), whether the latest ones, those at an instant or all.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Generic, TypeVar

from schemas import Grade, KeyResultScore, ObjectiveScore, Status

from ._statement import Rows, stored_utc
from .okr_ddl import latest_rows

KEY_RESULT_SCORE_FIELDS = tuple(f.name for f in fields(KeyResultScore))
OBJECTIVE_SCORE_FIELDS = tuple(f.name for f in fields(ObjectiveScore))
_RECORDED = ("scored_at", "cause")  # what a history row adds to a score
_TIMES = {"as_of", "period_start", "period_end", "scored_at"}

S = TypeVar("S", KeyResultScore, ObjectiveScore)


@dataclass(frozen=True)
class Scored(Generic[S]):
    """A row of the history: the score, when it was computed and why."""

    score: S
    scored_at: datetime
    cause: str


def _plain(value: Any) -> Any:
    return value.value if isinstance(value, Enum) else value


def _values(names: Sequence[str], row: Sequence[Any]) -> dict[str, Any]:
    values = dict(zip(names, row, strict=True))
    for name in _TIMES.intersection(values):
        values[name] = stored_utc(values[name])
    values["version"] = int(values["version"])
    values["status"], values["grade"] = Status(values["status"]), Grade(values["grade"])
    values["falls_short"] = bool(values["falls_short"])
    return values


def _key_result(row: Sequence[Any]) -> KeyResultScore:
    return KeyResultScore(**_values(KEY_RESULT_SCORE_FIELDS, row))


def _objective(row: Sequence[Any]) -> ObjectiveScore:
    return ObjectiveScore(**_values(OBJECTIVE_SCORE_FIELDS, row))


@dataclass(frozen=True)
class _Kind(Generic[S]):
    """Where one kind of score lives and how its rows read back."""

    table: str
    view: str
    id_column: str
    names: tuple[str, ...]
    make: Callable[[Sequence[Any]], S]

    def scored(self, row: Sequence[Any]) -> Scored[S]:
        *fields, scored_at, cause = row
        return Scored(self.make(fields), stored_utc(scored_at), str(cause))


_KEY_RESULTS = _Kind(
    "key_result_scores", "key_result_current", "key_result", KEY_RESULT_SCORE_FIELDS, _key_result
)
_OBJECTIVES = _Kind("objective_scores", "objective_current", "objective", OBJECTIVE_SCORE_FIELDS, _objective)


def _rows(kind: _Kind[S], database: str, scores: Sequence[S], at: datetime, cause: str) -> Rows:
    rows = [_row(score, kind.names, at, cause) for score in scores]
    return Rows(kind.table, database, rows, (*kind.names, *_RECORDED))


def _row(score: Any, names: tuple[str, ...], at: datetime, cause: str) -> list[Any]:
    return [*(_plain(getattr(score, name)) for name in names), at, str(cause)]


def _current(kind: _Kind[S], database: str, ids: tuple[str, ...]) -> tuple[str, dict[str, Any]]:
    where = f"WHERE {kind.id_column} IN {{ids:Array(String)}}\n" if ids else ""
    sql = (
        f"SELECT {', '.join((*kind.names, *_RECORDED))}\n"
        f"FROM {{database:Identifier}}.{kind.view}\n"
        f"{where}"
        f"ORDER BY {kind.id_column}"
    )
    return sql, {"database": database} | ({"ids": list(ids)} if ids else {})


def _history(kind: _Kind[S], database: str, id_value: str, limit: int) -> tuple[str, dict[str, Any]]:
    names = ", ".join((*kind.names, *_RECORDED))
    sql = (
        f"SELECT {names}\n"
        "FROM (\n"
        f"    SELECT {names}\n"
        f"    FROM {{database:Identifier}}.{kind.table}\n"
        f"    WHERE {kind.id_column} = {{{kind.id_column}:String}}\n"
        "    ORDER BY as_of DESC, scored_at DESC\n"
        "    LIMIT {limit:UInt64}\n"
        ")\n"
        "ORDER BY as_of, scored_at"
    )
    return sql, {"database": database, kind.id_column: id_value, "limit": limit}


def _at(kind: _Kind[S], database: str, at: datetime) -> tuple[str, dict[str, Any]]:
    where = "WHERE as_of <= {at:DateTime64(6, 'UTC')}\n"
    sql = latest_rows(
        (*kind.names, *_RECORDED), kind.id_column, f"{{database:Identifier}}.{kind.table}", where
    )
    return sql, {"database": database, "at": at.astimezone(UTC)}


@dataclass(frozen=True)
class InsertKeyResultScores:
    """Add scores to the history, all computed at `scored_at` for `cause` (see schemas' Cause)."""

    database: str
    scores: Sequence[KeyResultScore]
    scored_at: datetime
    cause: str

    def to_insert(self) -> Rows:
        return _rows(_KEY_RESULTS, self.database, self.scores, self.scored_at, self.cause)


@dataclass(frozen=True)
class InsertObjectiveScores:
    database: str
    scores: Sequence[ObjectiveScore]
    scored_at: datetime
    cause: str

    def to_insert(self) -> Rows:
        return _rows(_OBJECTIVES, self.database, self.scores, self.scored_at, self.cause)


@dataclass(frozen=True)
class CurrentKeyResultScores:
    """The latest score of each key result in `ids` (every key result when empty), by id."""

    database: str
    ids: tuple[str, ...] = ()

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return _current(_KEY_RESULTS, self.database, self.ids)

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[Scored[KeyResultScore]]:
        return [_KEY_RESULTS.scored(row) for row in rows]


@dataclass(frozen=True)
class CurrentObjectiveScores:
    """The latest score of each objective in `ids` (every objective when empty), by id."""

    database: str
    ids: tuple[str, ...] = ()

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return _current(_OBJECTIVES, self.database, self.ids)

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[Scored[ObjectiveScore]]:
        return [_OBJECTIVES.scored(row) for row in rows]


@dataclass(frozen=True)
class KeyResultHistory:
    """A key result's newest `limit` history rows, oldest first (by as_of, then scored_at)."""

    database: str
    key_result: str
    limit: int = 1000

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return _history(_KEY_RESULTS, self.database, self.key_result, self.limit)

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[Scored[KeyResultScore]]:
        return [_KEY_RESULTS.scored(row) for row in rows]


@dataclass(frozen=True)
class ObjectiveHistory:
    """An objective's newest `limit` history rows, oldest first (by as_of, then scored_at)."""

    database: str
    objective: str
    limit: int = 1000

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return _history(_OBJECTIVES, self.database, self.objective, self.limit)

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[Scored[ObjectiveScore]]:
        return [_OBJECTIVES.scored(row) for row in rows]


@dataclass(frozen=True)
class ScoresAt:
    """What the history said at `at`: each key result's latest score with as_of <= at, by id."""

    database: str
    at: datetime

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return _at(_KEY_RESULTS, self.database, self.at)

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[Scored[KeyResultScore]]:
        return [_KEY_RESULTS.scored(row) for row in rows]


@dataclass(frozen=True)
class ObjectiveScoresAt:
    """What the history said at `at`: each objective's latest score with as_of <= at, by id."""

    database: str
    at: datetime

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return _at(_OBJECTIVES, self.database, self.at)

    @staticmethod
    def parse(rows: list[tuple[Any, ...]]) -> list[Scored[ObjectiveScore]]:
        return [_OBJECTIVES.scored(row) for row in rows]
