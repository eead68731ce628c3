"""The score history: exact SQL, rows written and read back, the latest rows and what stood at an instant."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from processors.clickhouse import (
    KEY_RESULT_SCORES_COLUMNS,
    OBJECTIVE_SCORES_COLUMNS,
    CurrentKeyResultScores,
    CurrentObjectiveScores,
    InsertKeyResultScores,
    InsertObjectiveScores,
    KeyResultHistory,
    ObjectiveHistory,
    ObjectiveScoresAt,
    Scored,
    ScoresAt,
    Statement,
)
from processors.clickhouse.okr_scores import KEY_RESULT_SCORE_FIELDS, OBJECTIVE_SCORE_FIELDS
from schemas import Grade, KeyResultScore, ObjectiveScore, Status

T0 = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)
KR_COLUMNS = (
    "key_result, objective, version, as_of, value, start, target, progress, attainment, expected, "
    "status, grade, falls_short, period_start, period_end"
)
OBJECTIVE_COLUMNS = "objective, version, as_of, score, expected, status, grade, falls_short"


def kr(key_result: str, as_of: datetime, progress: float, **fields: Any) -> KeyResultScore:
    values: dict[str, Any] = {
        "objective": "grow",
        "version": 1,
        "value": 40.0 * progress,
        "start": 0.0,
        "target": 40.0,
        "attainment": progress,
        "expected": 0.05,
        "status": Status.ON_TRACK,
        "grade": Grade.YELLOW,
        "falls_short": False,
        "period_start": datetime(2026, 10, 1, tzinfo=UTC),
        "period_end": datetime(2027, 1, 1, tzinfo=UTC),
        **fields,
    }
    return KeyResultScore(key_result=key_result, as_of=as_of, progress=progress, **values)


def objective(name: str, as_of: datetime, score: float, **fields: Any) -> ObjectiveScore:
    values: dict[str, Any] = {
        "version": 2,
        "expected": 0.1,
        "status": Status.AT_RISK,
        "grade": Grade.RED,
        "falls_short": True,
        **fields,
    }
    return ObjectiveScore(objective=name, as_of=as_of, score=score, **values)


@pytest.mark.parametrize(
    ("statement", "sql", "params"),
    [
        pytest.param(
            KeyResultHistory("db", "kr-1", 50),
            f"SELECT {KR_COLUMNS}, scored_at, cause\n"
            "FROM (\n"
            f"    SELECT {KR_COLUMNS}, scored_at, cause\n"
            "    FROM {database:Identifier}.key_result_scores\n"
            "    WHERE key_result = {key_result:String}\n"
            "    ORDER BY as_of DESC, scored_at DESC\n"
            "    LIMIT {limit:UInt64}\n"
            ")\n"
            "ORDER BY as_of, scored_at",
            {"database": "db", "key_result": "kr-1", "limit": 50},
            id="key-result-history",
        ),
        pytest.param(
            ObjectiveHistory("db", "x' OR 1=1 --"),
            f"SELECT {OBJECTIVE_COLUMNS}, scored_at, cause\n"
            "FROM (\n"
            f"    SELECT {OBJECTIVE_COLUMNS}, scored_at, cause\n"
            "    FROM {database:Identifier}.objective_scores\n"
            "    WHERE objective = {objective:String}\n"
            "    ORDER BY as_of DESC, scored_at DESC\n"
            "    LIMIT {limit:UInt64}\n"
            ")\n"
            "ORDER BY as_of, scored_at",
            {"database": "db", "objective": "x' OR 1=1 --", "limit": 1000},
            id="objective-history-id-bound",
        ),
        pytest.param(
            CurrentKeyResultScores("db"),
            f"SELECT {KR_COLUMNS}, scored_at, cause\n"
            "FROM {database:Identifier}.key_result_current\n"
            "ORDER BY key_result",
            {"database": "db"},
            id="current-key-results",
        ),
        pytest.param(
            CurrentObjectiveScores("db", ("grow", "retain")),
            f"SELECT {OBJECTIVE_COLUMNS}, scored_at, cause\n"
            "FROM {database:Identifier}.objective_current\n"
            "WHERE objective IN {ids:Array(String)}\n"
            "ORDER BY objective",
            {"database": "db", "ids": ["grow", "retain"]},
            id="current-objectives-by-id",
        ),
        pytest.param(
            ScoresAt("db", T0),
            f"SELECT {KR_COLUMNS}, scored_at, cause\n"
            "FROM {database:Identifier}.key_result_scores\n"
            "WHERE as_of <= {at:DateTime64(6, 'UTC')}\n"
            "ORDER BY key_result, as_of DESC, scored_at DESC\n"
            "LIMIT 1 BY key_result",
            {"database": "db", "at": T0},
            id="key-results-at",
        ),
    ],
)
def test_to_sql(statement: Statement, sql: str, params: dict[str, Any]) -> None:
    assert statement.to_sql() == (sql, params)


def test_the_records_fields_and_what_a_row_adds_are_the_tables_columns() -> None:
    assert {name for name, _ in KEY_RESULT_SCORES_COLUMNS} == {*KEY_RESULT_SCORE_FIELDS, "scored_at", "cause"}
    assert {name for name, _ in OBJECTIVE_SCORES_COLUMNS} == {*OBJECTIVE_SCORE_FIELDS, "scored_at", "cause"}


def test_parse_reads_naive_driver_times_as_utc_and_enums_from_text() -> None:
    score = kr("kr-1", T0, 0.5, value=None, start=None, target=None, attainment=None)
    row = (
        "kr-1", "grow", 1, T0.replace(tzinfo=None), None, None, None, 0.5, None, 0.05,
        "on_track", "yellow", 0, datetime(2026, 10, 1), datetime(2027, 1, 1),
        T0.replace(tzinfo=None), "events",
    )  # fmt: skip
    [parsed] = KeyResultHistory.parse([row])
    assert parsed == Scored(score, T0, "events")
    assert parsed.score.status is Status.ON_TRACK and parsed.score.grade is Grade.YELLOW
    assert CurrentKeyResultScores.parse([]) == [] and ObjectiveScoresAt.parse([]) == []


def test_key_result_history_current_and_as_of_an_instant(store, settings) -> None:
    db = settings.clickhouse_database
    s1, s2, s3 = T0 + timedelta(seconds=1), T0 + timedelta(hours=1), T0 + timedelta(days=2)
    a = [kr("kr-a", T0, 0.1), kr("kr-a", T0 + timedelta(hours=1), 0.2, status=Status.AT_RISK)]
    b = [kr("kr-b", T0 + timedelta(minutes=5), 0.9, value=None, attainment=None, grade=Grade.GREEN)]
    store.insert(InsertKeyResultScores(db, [*a, *b], s1, "events"))
    # a recomputation of an earlier instant, written later: it does not become the current score
    recomputed = replace(a[0], progress=0.15, value=6.0)
    store.insert(InsertKeyResultScores(db, [recomputed], s3, "late_events"))
    # the same instant scored again later: the later row wins
    again = replace(b[0], progress=1.0, status=Status.ACHIEVED)
    store.insert(InsertKeyResultScores(db, [again], s2, "time"))
    store.insert(InsertKeyResultScores(db, [], s3, "time"))  # nothing to write

    current = CurrentKeyResultScores.parse(store.fetch(CurrentKeyResultScores(db)))
    assert current == [Scored(a[1], s1, "events"), Scored(again, s2, "time")]
    only_b = CurrentKeyResultScores.parse(store.fetch(CurrentKeyResultScores(db, ("kr-b", "kr-x"))))
    assert only_b == [Scored(again, s2, "time")]

    history = KeyResultHistory.parse(store.fetch(KeyResultHistory(db, "kr-a")))
    assert history == [
        Scored(a[0], s1, "events"),
        Scored(recomputed, s3, "late_events"),
        Scored(a[1], s1, "events"),
    ]
    newest = KeyResultHistory.parse(store.fetch(KeyResultHistory(db, "kr-a", limit=2)))
    assert newest == history[1:]  # the newest rows, still oldest first
    assert KeyResultHistory.parse(store.fetch(KeyResultHistory(db, "nope"))) == []

    def at(instant: datetime) -> list[Scored[KeyResultScore]]:
        return ScoresAt.parse(store.fetch(ScoresAt(db, instant)))

    assert at(T0 - timedelta(microseconds=1)) == []
    assert at(T0) == [Scored(recomputed, s3, "late_events")]  # microseconds count: as_of <= at
    assert at(T0 + timedelta(minutes=30)) == [
        Scored(recomputed, s3, "late_events"),
        Scored(again, s2, "time"),
    ]
    assert at(T0 + timedelta(days=9)) == current
    assert all(r.score.as_of.tzinfo and r.scored_at.tzinfo for r in current)


def test_objective_history_current_and_as_of_an_instant(store, settings) -> None:
    db = settings.clickhouse_database
    s1, s2 = T0 + timedelta(seconds=3), T0 + timedelta(seconds=4)
    grow = [objective("grow", T0, 0.2), objective("grow", T0 + timedelta(days=1), 0.6, grade=Grade.YELLOW)]
    retain = objective("retain", T0 + timedelta(hours=2), 0.8, status=Status.ON_TRACK, falls_short=False)
    store.insert(InsertObjectiveScores(db, [*grow, retain], s1, "events"))
    store.insert(InsertObjectiveScores(db, [replace(retain, score=0.85)], s2, "cascade"))

    current = CurrentObjectiveScores.parse(store.fetch(CurrentObjectiveScores(db)))
    assert current == [Scored(grow[1], s1, "events"), Scored(replace(retain, score=0.85), s2, "cascade")]
    assert CurrentObjectiveScores.parse(store.fetch(CurrentObjectiveScores(db, ("grow",)))) == current[:1]
    history = ObjectiveHistory.parse(store.fetch(ObjectiveHistory(db, "grow")))
    assert history == [Scored(grow[0], s1, "events"), Scored(grow[1], s1, "events")]
    at_noon = ObjectiveScoresAt.parse(store.fetch(ObjectiveScoresAt(db, T0 + timedelta(hours=3))))
    assert at_noon == [Scored(grow[0], s1, "events"), Scored(replace(retain, score=0.85), s2, "cascade")]
