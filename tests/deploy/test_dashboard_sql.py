"""Every ClickHouse query of the shipped Grafana dashboards, run on a real store.

The store holds the shipped KPIs (schemas/kpis.yaml) and objectives (schemas/okrs.yaml), about a
year of events and two rounds of scores. Grafana's part is done here as Grafana does it: dashboard
variables are filled (query variables by running their own query), then the ClickHouse plugin's
macros ($__timeFilter, $__dateFilter, $__timeInterval, ...) are expanded to the SQL the plugin
sends (its pkg/macros). Each panel must run, return the columns its visualisation expects, and,
on this data, return rows.
"""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from processors.kpi import apply_kpis, read_catalog
from processors.okr import OkrLog, OkrScorer, apply_okrs, read_okrs
from processors.runtime import load_registry
from schemas import Cause, Settings, Subject, Touch

REPO = Path(__file__).resolve().parents[2]
DASHBOARDS = REPO / "deploy" / "grafana" / "dashboards"
CLICKHOUSE = "grafana-clickhouse-datasource"

# the dashboard's time range and Grafana's interval for it, as the plugin receives them
RANGE_FROM = datetime(2025, 7, 1, tzinfo=UTC)
RANGE_TO = datetime(2026, 11, 30, 23, 59, 59, tzinfo=UTC)
INTERVAL_S = 3600
SCORED_AT = (datetime(2026, 11, 5, 12, tzinfo=UTC), datetime(2026, 11, 15, 12, tzinfo=UTC))

# the columns each panel's visualisation reads, by dashboard and panel title
COLUMNS = {
    ("okrstream-kpis", "$kpi: latest $grain"): ["value"],
    ("okrstream-kpis", "$kpi per $grain"): ["time", "value"],
    ("okrstream-kpis", "$kpi by $dimension"): ["time", "dimension_value", "value"],
    ("okrstream-kpis", "$kpi against a year earlier"): ["period", "value", "year_ago", "change"],
    ("okrstream-kpis", "Periods outside their health band"): [
        "kpi", "title", "grain", "period", "value", "band",
    ],
    ("okrstream-kpis", "KPIs in force"): [
        "name", "title", "unit", "aggregation", "dimensions", "health", "applied_at", "applied_by",
    ],
    ("okrstream-okrs", "Objectives"): [
        "objective", "title", "owner", "score", "expected", "status", "grade", "falls_short", "as_of",
    ],
    ("okrstream-okrs", "Key results of $objective"): [
        "key_result", "title", "value", "start", "target", "progress", "expected", "status", "grade",
        "falls_short", "as_of",
    ],
    ("okrstream-okrs", "Progress of $objective's key results"): ["time", "key_result", "progress"],
    ("okrstream-okrs", "Objective scores"): ["time", "objective", "score"],
    ("okrstream-okrs", "Key results by status"): ["status", "key_results"],
    ("okrstream-okrs", "Committed key results falling short"): [
        "objective", "key_result", "progress", "expected", "status", "as_of",
    ],
}  # fmt: skip
# a time series panel's first column is its time axis
TIME_SERIES_TYPES = ("DateTime", "DateTime64")


class Sql:
    """A dashboard's query as a statement the store runs (no parameters: Grafana sends plain SQL)."""

    def __init__(self, sql: str) -> None:
        self.sql = sql

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        return self.sql, {}


def ch_dashboards() -> list[tuple[str, dict]]:
    boards = [json.loads(path.read_text()) for path in sorted(DASHBOARDS.glob("*.json"))]
    return [(b["uid"], b) for b in boards if any(_is_clickhouse(p) for p in b["panels"])]


def _is_clickhouse(item: dict) -> bool:
    return (item.get("datasource") or {}).get("type") == CLICKHOUSE


def ch_panels() -> list[tuple[str, dict, dict]]:
    return [(uid, board, p) for uid, board in ch_dashboards() for p in board["panels"] if _is_clickhouse(p)]


# -- Grafana's part ---------------------------------------------------------------------------


def _sql_string(value: str) -> str:
    return "'" + value.replace("'", "''") + "'"


def fill_variables(sql: str, values: dict[str, str]) -> str:
    """Grafana's template variables: ${name}, ${name:sqlstring} and $name (never $__macros)."""

    def braced(m: re.Match) -> str:
        name, fmt = m.group(1), m.group(2)
        assert name in values, f"unknown variable {name!r} in: {sql}"
        if fmt is None:
            return values[name]
        assert fmt == "sqlstring", f"variable format {fmt!r} is not one this test knows: {sql}"
        return _sql_string(values[name])

    def bare(m: re.Match) -> str:
        assert m.group(1) in values, f"unknown variable {m.group(1)!r} in: {sql}"
        return values[m.group(1)]

    sql = re.sub(r"\$\{(\w+)(?::(\w+))?\}", braced, sql)
    return re.sub(r"\$(?!__)([A-Za-z]\w*)", bare, sql)


def _datetime(at: datetime) -> str:
    return f"toDateTime({int(at.timestamp())})"


def _date(at: datetime) -> str:
    return f"toDate('{at:%Y-%m-%d}')"


# the plugin's macros (grafana/clickhouse-datasource, pkg/macros/macros.go), for this range
MACROS = {
    "timeFilter": lambda c: f"{c} >= {_datetime(RANGE_FROM)} AND {c} <= {_datetime(RANGE_TO)}",
    "dateFilter": lambda c: f"{c} >= {_date(RANGE_FROM)} AND {c} <= {_date(RANGE_TO)}",
    "timeInterval": lambda c: f"toStartOfInterval(toDateTime({c}), INTERVAL {INTERVAL_S} second)",
    "fromTime": lambda: _datetime(RANGE_FROM),
    "toTime": lambda: _datetime(RANGE_TO),
    "interval_s": lambda: str(INTERVAL_S),
}


def expand_macros(sql: str) -> str:
    out, i = [], 0
    for m in re.finditer(r"\$__(\w+)", sql):
        if m.start() < i:
            continue
        name = m.group(1)
        assert name in MACROS, f"macro $__{name} is not one the ClickHouse plugin has: {sql}"
        out.append(sql[i : m.start()])
        end = m.end()
        if end < len(sql) and sql[end] == "(":
            depth, j = 0, end
            while True:
                depth += {"(": 1, ")": -1}.get(sql[j], 0)
                if depth == 0:
                    break
                j += 1
            args = [a.strip() for a in sql[end + 1 : j].split(",")]
            out.append(MACROS[name](*args))
            i = j + 1
        else:
            out.append(MACROS[name]())
            i = end
    out.append(sql[i:])
    return "".join(out)


def variable_values(board: dict, store, database: str) -> dict[str, str]:
    """Each variable's value, in order: constants and custom ones as saved, query ones as queried."""
    values: dict[str, str] = {}
    for var in board["templating"]["list"]:
        if var["type"] == "constant":
            values[var["name"]] = database if var["name"] == "database" else var["query"]
        elif var["type"] == "custom":
            values[var["name"]] = var["current"]["value"]
        else:
            assert var["type"] == "query" and _is_clickhouse(var), var
            sql = expand_macros(fill_variables(var["query"], values))
            options = [str(row[0]) for row in store.fetch(Sql(sql))]
            assert options, f"variable {var['name']} has no options: {sql}"
            current = var["current"]["value"]
            values[var["name"]] = current if current in options else options[0]
    return values


# -- the store's data -------------------------------------------------------------------------


def event(type_: str, at: str, subject: str | None = None, **fields: dict) -> dict:
    return {"type": type_, "occurred_at": at, **fields} | ({"subject": subject} if subject else {})


def business_events() -> list[dict]:
    """The 1st and 15th of each month from 2025-07 to 2026-11: orders, sessions, deals, tickets..."""
    events: list[dict] = []
    day = datetime(2025, 7, 1, 9, tzinfo=UTC)
    n = 0
    while day < datetime(2026, 11, 15, tzinfo=UTC):
        for at in (day.isoformat(), day.replace(day=15).isoformat()):
            for region, channel, amount in (("EU", "web", 120.0), ("US", "app", 80.5)):
                where = {"region": region, "channel": channel}
                events.append(
                    event("order.placed", at, f"c-{n % 7}", dimensions=where, measures={"amount": amount})
                )
                events += [event("session.started", at, dimensions=where) for _ in range(5)]
            urgent = {"priority": "urgent"}
            events += [
                event(
                    "deal.closed",
                    at,
                    dimensions={"region": "EU", "segment": "big"},
                    measures={"amount": 15e4},
                ),
                event("customer.signed_up", at, f"new-{n}", dimensions={"region": "EU", "plan": "pro"}),
                event("ticket.opened", at, dimensions=urgent | {"channel": "email"}),
                event(
                    "ticket.answered", at, dimensions=urgent, measures={"first_response_seconds": 1800 + n}
                ),
                event("subscription.changed", at, measures={"active_subscribers": 100.0 + n}),
            ]
            n += 1
        day = (day + timedelta(days=32)).replace(day=1)
    for i, e in enumerate(events):
        e["event_id"], e["source"] = f"e-{i}", "deploy-test"
    return events


@pytest.fixture
def scored_store(settings: Settings, topics, store):
    """The store with events landed, the shipped KPIs and objectives applied, and scores recorded."""
    events = business_events()
    position = BatchPosition("log", 0, 0, len(events) - 1)
    rows = [event_row(e, i, RANGE_FROM, position) for i, e in enumerate(events)]
    store.insert(InsertRawEvents(settings.clickhouse_database, position, rows))
    registry = load_registry(settings)
    kpis = (REPO / "schemas" / "kpis.yaml").read_text()
    apply_kpis(store, settings, read_catalog(kpis, registry), "deploy-test", progress=lambda *a: None)
    okr_log = OkrLog(settings.kafka_bootstrap_servers, settings)
    try:
        okrs = read_okrs((REPO / "schemas" / "okrs.yaml").read_text(), store, settings.clickhouse_database)
        apply_okrs(store, settings, okr_log, okrs, "deploy-test", now=SCORED_AT[0] - timedelta(days=30))
        now = [SCORED_AT[0]]
        scorer = OkrScorer(store, settings, okr_log, clock=lambda: now[0])
        scorer.assigned(range(settings.topic_partitions))
        key_results = [kr.id for o in okrs.objectives.values() for kr in o.key_results]
        for now[0] in SCORED_AT:
            for _ in range(2):  # again, so the rollups read the objectives scored in the first pass
                scorer.handle(Touch(Subject.KEY_RESULT, kr, Cause.EVENTS) for kr in key_results)
                scorer.handle(Touch(Subject.OBJECTIVE, o, Cause.CASCADE) for o in okrs.objectives)
    finally:
        okr_log.close()
    return store


# -- the tests --------------------------------------------------------------------------------


def test_every_clickhouse_panel_has_its_expected_columns_listed() -> None:
    """A new panel gets an entry in COLUMNS, so no query of a dashboard goes untested."""
    listed = {(uid, p["title"]) for uid, _, p in ch_panels()}
    assert listed == set(COLUMNS)


def test_every_panel_query_runs_on_a_real_store_with_its_columns(scored_store, settings: Settings) -> None:
    store, database = scored_store, settings.clickhouse_database
    for uid, board in ch_dashboards():
        values = variable_values(board, store, database)
        for p in board["panels"]:
            if not _is_clickhouse(p):
                continue
            for target in p["targets"]:
                assert target["editorType"] == "sql", (uid, p["title"])
                sql = expand_macros(fill_variables(target["rawSql"], values))
                rows = store.fetch(Sql(sql))
                described = store.fetch(Sql(f"DESCRIBE TABLE ({sql})"))
                names = [row[0] for row in described]
                where = f"{uid} / {p['title']!r} with {values}:\n{sql}"
                assert names == COLUMNS[(uid, p["title"])], where
                assert rows, f"no rows from {where}"
                if target["queryType"] == "timeSeries":
                    assert target["format"] == 0, where
                    assert str(described[0][1]).startswith(TIME_SERIES_TYPES), where
                else:
                    assert target["format"] == 1, where
