"""Applying objectives and reading their scores: now, with history, or as of a past instant.

Apply is idempotent: an objective whose fingerprint is unchanged gets no new version. A new
version goes to the definition topic first (the event-sourced record), then to the store's
`okr_definitions` (its projection, which everything reads), and its key results are touched so
they are scored at once. Versions take effect from their time; past scores are never rewritten.
"""

from __future__ import annotations

import dataclasses
from datetime import UTC, date, datetime, timedelta
from importlib import resources
from typing import Any
from zoneinfo import ZoneInfo

import yaml

from schemas import (
    AS_OF_TIMES,
    Cause,
    ConfigError,
    FieldError,
    KeyResultInputs,
    KeyResultKind,
    KeyResultScore,
    Objective,
    ObjectiveScore,
    OkrCatalog,
    OkrPlan,
    Settings,
    Subject,
    Touch,
    add_months,
    grade,
    latest_versions,
    period_score,
    plan_okrs,
    score_key_result,
    score_objective,
    started,
    success_point,
    utc_iso,
    versions_for,
    weighted_score,
)

from ..clickhouse import FirstLanded
from ..clickhouse.okr_definitions import OkrVersions, RecordOkrVersions
from ..clickhouse.okr_scores import (
    CurrentKeyResultScores,
    CurrentObjectiveScores,
    KeyResultHistory,
    Scored,
    ScoresAt,
)
from ..kpi import applied_kpis
from ..store import Store
from ._okr_inputs import read_inputs
from ._okr_log import OkrLog
from ._okr_scorer import thresholds_of
from ._okr_state import OkrState, load_state


def shipped_okrs() -> str:
    """The demo business's objectives, reading the shipped KPIs."""
    return resources.files("schemas").joinpath("okrs.yaml").read_text(encoding="utf-8")


SHIPPED_QUARTER = date(2026, 10, 1)  # the quarter schemas/okrs.yaml is written for


def demo_okrs(today: date) -> str:
    """The shipped objectives moved to the quarter of `today`, for `okrstream demo`.

    Written for 2026-Q4, they would be frozen in any later demo. Each objective's period becomes
    the current quarter and each phase's `until` (a month's last day) moves month for month.
    """
    quarter = date(today.year, (today.month - 1) // 3 * 3 + 1, 1)
    shift = (quarter.year - SHIPPED_QUARTER.year) * 12 + quarter.month - SHIPPED_QUARTER.month
    data = yaml.safe_load(shipped_okrs())
    for objective in data["objectives"].values():
        objective["period"] = f"{quarter.year}-Q{(quarter.month - 1) // 3 + 1}"
        for kr in objective["key_results"].values():
            for phase in (kr.get("metric") or {}).get("phases", ()):
                phase["until"] = add_months(phase["until"], shift + 1) - timedelta(days=1)
    return yaml.safe_dump(data, sort_keys=False)


def read_okrs(text: str, store: Store, database: str) -> OkrCatalog:
    """A catalog from YAML text, checked against the KPIs applied; raises ConfigError naming every problem."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as e:
        raise ConfigError([FieldError("$", f"not valid YAML: {e}", "yaml")]) from None
    return OkrCatalog.from_mapping(data, applied_kpis(store, database))


def _versions(store: Store, database: str) -> list:
    query = OkrVersions(database)
    return query.parse(store.fetch(query))


def apply_okrs(
    store: Store,
    settings: Settings,
    okr_log: OkrLog | None,  # None only for a dry run, which records nothing
    catalog: OkrCatalog,
    applied_by: str,
    dry_run: bool = False,
    now: datetime | None = None,
    prune: bool = False,
) -> OkrPlan:
    """Bring the applied objectives to `catalog`; the plan says what was (or would be) done.

    Objectives in force that the catalog omits stay in force unless `prune`, which removes them.
    """
    database = settings.clickhouse_database
    history = _versions(store, database)
    in_force = {oid: v for oid, v in latest_versions(history).items() if not v.removed}
    plan = plan_okrs(catalog, in_force, prune)
    if dry_run or plan.empty or okr_log is None:
        return plan
    versions = versions_for(plan, latest_versions(history), now or datetime.now(UTC), applied_by)
    okr_log.definitions(versions)
    okr_log.flush()
    store.insert(RecordOkrVersions(database, versions))
    touches = [
        Touch(subject, item, Cause.DEFINITION)
        for objective in (*plan.created, *plan.changed)
        for subject, item in [(Subject.KEY_RESULT, kr.id) for kr in objective.key_results]
        + [(Subject.OBJECTIVE, objective.id)]
    ]
    okr_log.touch(touches)
    okr_log.flush()
    return plan


def plan_report(plan: OkrPlan, catalog: OkrCatalog, dry_run: bool, prune: bool = False) -> dict[str, Any]:
    return {
        "summary": plan.summary(),
        "dry_run": dry_run,
        "prune": prune,
        "created": [o.id for o in plan.created],
        "changed": [o.id for o in plan.changed],
        "removed": list(plan.removed),
        "unchanged": list(plan.unchanged),
        "kept": list(plan.kept),  # in force, not in the file, left in force: what prune would remove
        "warnings": [dataclasses.asdict(w) for w in catalog.warnings()],
    }


# -- reading -----------------------------------------------------------------------------------


def okr_report(
    store: Store,
    settings: Settings,
    objective: str | None = None,
    as_of: datetime | None = None,
    by: str = "landed",
) -> dict[str, Any]:
    """What `okr status` and `GET /v1/objectives` show: objectives, their key results and scores.

    Now: the scores recorded last. As of a past instant, under the definitions then in force:
    by landing time (`by="landed"`), recomputed from the raw events that had landed by then, each
    key result beside what the history table held at that instant ("recorded"): what anyone
    could have seen then. By business time (`by="occurred"`), from every event that occurred
    before then, whenever it landed: what was true then, as far as is known now. A read that
    cannot show anything says why in `hint`.
    """
    if by not in AS_OF_TIMES:
        raise ValueError(f"by must be one of {', '.join(AS_OF_TIMES)}, got {by!r}")
    database = settings.clickhouse_database
    zone = ZoneInfo(settings.timezone)
    state = load_state(store, settings, as_of or datetime.now(UTC))
    if objective is not None and objective not in state.objectives:
        raise KeyError(
            f"no objective {objective!r}; in force: {', '.join(sorted(state.objectives)) or 'none'}"
        )
    hint = None
    if as_of is None:
        kr_rows = _by_id(CurrentKeyResultScores(database), store, "key_result")
        objective_rows = _by_id(CurrentObjectiveScores(database), store, "objective")
        recorded: dict[str, tuple] | None = None  # only as of a past instant
    else:
        kr_scores, objective_scores = recompute(store, settings, state, as_of, landed=by == "landed")
        kr_rows = {k: (s, None, None) for k, s in kr_scores.items()}
        objective_rows = {k: (s, None, None) for k, s in objective_scores.items()}
        recorded = _by_id(ScoresAt(database, as_of), store, "key_result")
        hint = _as_of_hint(store, settings, state, as_of, by)
    shown = [o for o, _ in state.objectives.values() if objective is None or o.id == objective]
    report = {
        "as_of": utc_iso(as_of) if as_of else None,
        "by": by if as_of else None,
        "timezone": settings.timezone,
        "periods": _periods(state, objective_rows, zone) if objective is None else [],
        "objectives": [
            _objective_json(o, state, kr_rows, objective_rows, recorded, zone) for o in _tree_order(shown)
        ],
    }
    return report | ({"hint": hint} if hint else {})


def _as_of_hint(store: Store, settings: Settings, state: OkrState, at: datetime, by: str) -> str | None:
    """Why an as-of read shows nothing, or less than the user may expect; None when it shows data."""
    if not state.objectives:
        versions = OkrVersions(settings.clickhouse_database)
        applied = [v.effective_from for v in versions.parse(store.fetch(versions))]
        if applied:
            since = utc_iso(min(applied))
            return f"no objective was in force at {utc_iso(at)}: the first was applied at {since}"
        return "no objective has been applied yet (okrstream okr apply FILE)"
    query = FirstLanded(settings.clickhouse_database, at)
    first, landed = query.parse(store.fetch(query))
    if first is None:
        return "no event has landed yet, so every key result reads nothing"
    if by == "landed" and not landed:
        return (
            f"nothing had landed by {utc_iso(at)}: the first event landed at {utc_iso(first)}. "
            "As of counts events by when they landed; --by occurred counts them by when they happened"
        )
    return None


def key_result_report(store: Store, settings: Settings, kr_id: str) -> dict[str, Any]:
    """`GET /v1/key-results/{id}`: its definition, current score and every recorded score."""
    database = settings.clickhouse_database
    state = load_state(store, settings)
    found = state.key_result(kr_id)
    if found is None:
        raise KeyError(f"no key result {kr_id!r}")
    objective, kr, version = found
    query = KeyResultHistory(database, kr_id)
    rows = [_unpack(r) for r in query.parse(store.fetch(query))]
    current = rows[-1] if rows else None
    zone = ZoneInfo(settings.timezone)
    start, end = objective.period.bounds(zone)
    body = {
        "key_result": _kr_json(kr, current, None),
        "objective": {
            "id": objective.id,
            "title": objective.title,
            "version": version,
            "owner": objective.owner,
            "kind": objective.kind.value,
            "period": objective.period.label,
            "period_start": utc_iso(start),
            "period_end": utc_iso(end),
        },
        "timezone": settings.timezone,
        "history": [_score_json(s) | {"scored_at": utc_iso(at), "cause": cause} for s, at, cause in rows],
    }
    if kr.milestone is not None:
        body["milestones"] = _milestones(store, settings, objective, kr)
    return body


def _milestones(store: Store, settings: Settings, objective: Objective, kr) -> list[dict[str, Any]]:
    """Each milestone of a milestone key result, reached or not by its latest check-in until now."""
    zone = ZoneInfo(settings.timezone)
    at = min(datetime.now(UTC), objective.period.bounds(zone)[1])
    inputs = read_inputs(store, settings.clickhouse_database, [(objective, kr, at)], {}, zone)
    reached = inputs[kr.id].reached if kr.id in inputs else frozenset()
    return [{"name": m, "reached": m in reached} for m in kr.milestone.milestones]


def recompute(
    store: Store, settings: Settings, state: OkrState, at: datetime, landed: bool = True
) -> tuple[dict[str, KeyResultScore], dict[str, ObjectiveScore]]:
    """Every score as of `at`, from raw events landed by then; a frozen period as of its freeze.

    With `landed=False`, from every event that occurred in the windows read, whenever it landed.

    Rollup key results and objectives are resolved bottom-up from the scores computed here.
    """
    zone = ZoneInfo(settings.timezone)
    grace = timedelta(days=settings.okr_freeze_after_days)
    thresholds = thresholds_of(settings)

    def instant(objective: Objective) -> datetime:
        return min(at, objective.period.bounds(zone)[1] + grace)

    items = [
        (objective, kr, instant(objective))
        for objective, _ in state.objectives.values()
        if started(objective, at, zone)
        for kr in objective.key_results
        if kr.kind in (KeyResultKind.METRIC, KeyResultKind.MILESTONE)
    ]
    by_instant: dict[datetime, list] = {}
    for item in items:
        by_instant.setdefault(item[2], []).append(item)
    inputs: dict[str, Any] = {}
    for when, group in by_instant.items():
        landed_by = when if landed else None
        inputs |= read_inputs(
            store, settings.clickhouse_database, group, state.kpis, zone, landed_by=landed_by
        )
    krs: dict[str, KeyResultScore] = {}
    objectives: dict[str, ObjectiveScore] = {}
    busy: set[str] = set()

    def kr_score(kr_id: str) -> KeyResultScore | None:
        found = state.key_result(kr_id)
        if found is None or kr_id in busy:
            return None
        objective, kr, version = found
        if kr_id not in krs and kr.kind is not KeyResultKind.UNLINKED and started(objective, at, zone):
            busy.add(kr_id)
            given = inputs.get(kr_id)
            if kr.kind is KeyResultKind.ROLLUP:
                given = state.rollup_inputs(kr, objective_score, kr_score)
            krs[kr_id] = score_key_result(
                objective, kr, given or KeyResultInputs(), instant(objective), zone, version, thresholds
            )
            busy.discard(kr_id)
        return krs.get(kr_id)

    def objective_score(objective_id: str) -> ObjectiveScore | None:
        if objective_id not in state.objectives or objective_id in busy:
            return None
        objective, version = state.objectives[objective_id]
        if objective_id not in objectives and started(objective, at, zone):
            busy.add(objective_id)
            scores = [s for kr in objective.key_results if (s := kr_score(kr.id)) is not None]
            children = [
                (child_score, child.weight)
                for child in state.children(objective_id)
                if (child_score := objective_score(child.id))
            ]
            objectives[objective_id] = score_objective(
                objective,
                scores,
                children,
                instant(objective),
                zone,
                version,
                thresholds,
                children_in_score=settings.okr_objective_includes_children,
            )
            busy.discard(objective_id)
        return objectives.get(objective_id)

    for objective_id in state.objectives:
        objective_score(objective_id)
    return krs, objectives


def _unpack(row: Scored) -> tuple:
    return row.score, row.scored_at, row.cause


def _by_id(query, store: Store, attr: str) -> dict[str, tuple]:
    rows = [_unpack(r) for r in query.parse(store.fetch(query))]
    return {getattr(s, attr): (s, at, cause) for s, at, cause in rows}


def _tree_order(objectives: list[Objective]) -> list[Objective]:
    """Parents before their children, else in definition order: how a cascade reads."""
    ids = {o.id for o in objectives}
    ordered: list[Objective] = []

    def visit(parent: str | None) -> None:
        for o in objectives:
            if (o.parent == parent or (parent is None and o.parent not in ids)) and o not in ordered:
                ordered.append(o)
                visit(o.id)

    visit(None)
    return ordered + [o for o in objectives if o not in ordered]


def _periods(state: OkrState, objective_rows: dict, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Each period's score: the weighted mean of its top-level objectives' scores.

    Its grade is judged as an objective's, against the success point its objectives weigh in with
    (1.0 when all are committed, 0.7 when all are aspirational); `objectives` lists them with
    their weights, so that a reader holding newer objective scores can weigh them the same way.
    """
    by_period: dict[str, list] = {}
    for objective, _ in state.objectives.values():
        if objective.parent is None and objective.id in objective_rows:
            by_period.setdefault(objective.period.label, []).append(
                (objective, objective_rows[objective.id][0])
            )
    periods = []
    for label, parts in sorted(by_period.items()):
        score = period_score((s, o.weight) for o, s in parts)
        success = weighted_score((success_point(o), o.weight) for o, _ in parts)
        periods.append(
            {
                "period": label,
                "score": score,
                "grade": None if score is None else grade(score, success).value,
                "success": success,
                "objectives": [{"id": o.id, "weight": o.weight} for o, _ in parts],
            }
        )
    return periods


def _score_json(score: KeyResultScore | ObjectiveScore | None) -> dict[str, Any]:
    if score is None:
        return {"scored": False}
    body = dataclasses.asdict(score)
    for key, value in body.items():
        if isinstance(value, datetime):
            body[key] = utc_iso(value)
        elif hasattr(value, "value"):
            body[key] = value.value
    return body | {"scored": True}


def _recorded_json(row: tuple) -> dict[str, Any]:
    """What the history held at an instant: the score, when it was recorded and why."""
    if not row:
        return {"scored": False}
    score, scored_at, cause = row
    return _score_json(score) | {"scored_at": utc_iso(scored_at), "cause": cause}


def _kr_json(kr, row, recorded) -> dict[str, Any]:
    score, scored_at, cause = row if row else (None, None, None)
    body = {
        "id": kr.id,
        "title": kr.title,
        "kind": kr.kind.value,
        "weight": kr.weight,
        "definition": kr.model_dump(mode="json", exclude={"id", "title", "weight"}, exclude_none=True),
    }
    body |= {k: v for k, v in _score_json(score).items() if k not in ("key_result", "objective")}
    body["updated_at"] = utc_iso(scored_at) if scored_at else None
    body["cause"] = cause  # why the score shown was recorded; None for a recomputation
    if recorded is not None:
        body["recorded"] = _recorded_json(recorded)
    return body


def _objective_json(
    objective: Objective,
    state: OkrState,
    kr_rows: dict,
    objective_rows: dict,
    recorded: dict | None,
    zone: ZoneInfo,
) -> dict[str, Any]:
    score, scored_at, cause = objective_rows.get(objective.id, (None, None, None))
    start, end = objective.period.bounds(zone)
    body: dict[str, Any] = {
        "id": objective.id,
        "title": objective.title,
        "owner": objective.owner,
        "period": objective.period.label,
        "period_start": utc_iso(start),
        "period_end": utc_iso(end),
        "kind": objective.kind.value,
        "success": success_point(objective),
        "weight": objective.weight,
        "parent": objective.parent,
        "version": state.objectives[objective.id][1],
    }
    body |= {k: v for k, v in _score_json(score).items() if k not in ("objective",)}
    body["updated_at"] = utc_iso(scored_at) if scored_at else None
    body["cause"] = cause
    body["key_results"] = [
        _kr_json(kr, kr_rows.get(kr.id), None if recorded is None else recorded.get(kr.id, ()))
        for kr in objective.key_results
    ]
    return body
