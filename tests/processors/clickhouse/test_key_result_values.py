"""MetricValues and MilestonesReached: exact SQL, and values on chDB against plain Python.

The engine tests share one store for the module, because applying KPIs waits for its cutoff
(seconds): half of the orders land before the apply (the backfill's share), half after it (the
views'). The rollups then agree with plain Python over every event; the as-of path agrees with
plain Python over what had landed at each instant, and with the rollups once everything landed.
Sign-ups, of a type no other KPI reads, land later: a break-down by many plans, some of them ''.
"""

from __future__ import annotations

import random
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

import processors
from processors import Store
from processors.clickhouse import (
    BatchPosition,
    InsertRawEvents,
    MetricRequest,
    MetricValues,
    MilestonesReached,
    event_row,
    rollup_table,
)
from processors.kpi import apply_kpis
from schemas import Aggregation, EventTypeRegistry, KpiCatalog, KpiDefinition, Settings, ratio_value
from tests.conftest import store_now

REGISTRY = EventTypeRegistry.from_mapping(
    {
        "event_types": {
            "order.placed": {
                "dimensions": {"region": "string", "channel": "string"},
                "measures": {"amount": "number"},
            },
            "session.started": {"dimensions": {"region": "string"}},
            "signup.completed": {"dimensions": {"plan": "string", "country": "string"}},
            "okr.check_in": {
                "dimensions": {"key_result": "string", "milestone": "string"},
                "optional_dimensions": {"reached": {"enum": ["true", "false"]}},
            },
        }
    }
)


def on_orders(aggregation: str, **fields: Any) -> dict[str, Any]:
    return {
        "title": aggregation,
        "events": "order.placed",
        "aggregation": aggregation,
        "dimensions": ["region", "channel"],
        **fields,
    }


CATALOG = KpiCatalog.from_mapping(
    {
        "kpis": {
            "orders": on_orders("count"),
            "revenue": on_orders("sum", measure="amount"),
            "avg_order": on_orders("avg", measure="amount"),
            "min_order": on_orders("min", measure="amount"),
            "max_order": on_orders("max", measure="amount"),
            "p90_order": on_orders("quantile", quantile=0.9, measure="amount"),
            "buyers": on_orders("count_distinct", of="subject"),
            "channels": on_orders("count_distinct", of="dimensions.channel", approximate=True),
            "last_order": on_orders("latest", measure="amount"),
            "big_orders": on_orders(
                "count", filters=[{"field": "measures.amount", "op": "gte", "value": 100}]
            ),
            "all_revenue": {
                "title": "Revenue",
                "events": "order.placed",
                "aggregation": "sum",
                "measure": "amount",
            },
            "signups": {
                "title": "Sign-ups",
                "events": "signup.completed",
                "aggregation": "count",
                "dimensions": ["plan", "country"],
            },
            "sessions": {
                "title": "Sessions",
                "events": "session.started",
                "aggregation": "count",
                "dimensions": ["region"],
            },
            "conversion": {
                "title": "Conversion",
                "aggregation": "ratio",
                "numerator": "orders",
                "denominator": "sessions",
                "dimensions": ["region"],
            },
        }
    },
    REGISTRY,
)
KPIS = CATALOG.kpis
CONVERSION_INPUTS = (KPIS["orders"], KPIS["sessions"])
RATIO_OF_RATIO = KpiDefinition(
    name="per_order", title="r", aggregation="ratio", numerator="conversion", denominator="orders"
)
T = datetime(2026, 10, 5, 9, 0, tzinfo=UTC)

# -- exact SQL ----------------------------------------------------------------------------------

START, END = T + timedelta(minutes=7, seconds=30), T + timedelta(hours=2)
LANDED_BY = datetime(2026, 10, 6, 12, 0, 0, 250_000, tzinfo=UTC)
TIME = "DateTime64(6, 'UTC')"


def wanted(i: int, dimensions: int) -> str:
    return f"{{b{i}_wanted:Array(Tuple(UInt64{', String' * dimensions}))}}"


def rollup_branch(
    i: int, merge: str, grouping: str | None = None, columns: int = 2, *, hours: int | None = None
) -> str:
    """A branch on a rollup, without GROUP BY when `grouping` is None; reading whole hours from the
    hourly level when the KPI has `hours` dimension columns (the grouping may use fewer)."""
    listed = ", ".join(f"d{j}" for j in range(columns))
    if grouping is None:
        head = "toUInt64(0) AS g, CAST([] AS Array(String)) AS dims"
    else:
        head = f"grouping({listed}) AS g, [{listed}] AS dims"
    if hours is None:
        source = (
            f"{{database:Identifier}}.{{b{i}_table:Identifier}}\n"
            f"WHERE bucket >= {{b{i}_start:{TIME}}} AND bucket < {{b{i}_end:{TIME}}}"
        )
    else:
        read = ", ".join([*(f"d{j}" for j in range(hours)), "value"])
        source = f"""(
    SELECT {read} FROM {{database:Identifier}}.{{b{i}_hours:Identifier}}
    WHERE bucket >= {{b{i}_first:{TIME}}} AND bucket < {{b{i}_last:{TIME}}}
    UNION ALL
    SELECT {read} FROM {{database:Identifier}}.{{b{i}_table:Identifier}}
    WHERE (bucket >= {{b{i}_start:{TIME}}} AND bucket < {{b{i}_first:{TIME}}})
       OR (bucket >= {{b{i}_last:{TIME}}} AND bucket < {{b{i}_end:{TIME}}})
)"""
    sql = (
        f"SELECT {{b{i}_id:UInt32}} AS b, {head}, count() AS n, toFloat64({merge}(value)) AS v\nFROM {source}"
    )
    if grouping is not None:
        sql += f"\nGROUP BY GROUPING SETS ({grouping})\nHAVING (g, {listed}) IN {wanted(i, columns)}"
    return sql


# revenue twice in one window (one branch, three grouping sets), once in another; all_revenue.
# START..END holds the whole hour from 10:00 (the hourly level) and minutes before it; T..START
# no whole hour (the minute rollup alone)
REVENUE_FROM_ROLLUP = "\nUNION ALL\n".join(
    [
        rollup_branch(0, "sumMerge", "(), (d0), (d1)", hours=2),
        rollup_branch(1, "sumMerge", "(d0, d1)"),
        rollup_branch(2, "sumMerge", hours=0),
    ]
)

P90_AS_OF = f"""SELECT {{b0_id:UInt32}} AS b, grouping(d0, d1) AS g, [d0, d1] AS dims, count() AS n, toFloat64(quantileExactInclusiveMerge({{b0_level:Float64}})(value)) AS v
FROM (
    SELECT
        toStartOfMinute(occurred_at) AS bucket,
        dimensions[{{b0_d0_key:String}}] AS d0,
        dimensions[{{b0_d1_key:String}}] AS d1,
        quantileExactInclusiveState({{b0_level:Float64}})(measures[{{b0_measure:String}}]) AS value
    FROM {{database:Identifier}}.raw_events
    WHERE type IN {{b0_types:Array(String)}}
      AND mapContains(measures, {{b0_measure:String}})
      AND landed_at <= {{landed_by:{TIME}}}
      AND toStartOfMinute(occurred_at) >= {{b0_start:{TIME}}}
      AND toStartOfMinute(occurred_at) < {{b0_end:{TIME}}}
    GROUP BY bucket, d0, d1
)
GROUP BY GROUPING SETS ((d0), (d0, d1))
HAVING (g, d0, d1) IN {{b0_wanted:Array(Tuple(UInt64, String, String))}}"""  # noqa: E501

BIG_ORDERS_AS_OF = f"""SELECT {{b1_id:UInt32}} AS b, toUInt64(0) AS g, CAST([] AS Array(String)) AS dims, count() AS n, toFloat64(countMerge(value)) AS v
FROM (
    SELECT
        toStartOfMinute(occurred_at) AS bucket,
        dimensions[{{b1_d0_key:String}}] AS d0,
        dimensions[{{b1_d1_key:String}}] AS d1,
        countState() AS value
    FROM {{database:Identifier}}.raw_events
    WHERE type IN {{b1_types:Array(String)}}
      AND mapContains(measures, {{b1_f0_key:String}})
      AND measures[{{b1_f0_key:String}}] >= {{b1_f0:Float64}}
      AND landed_at <= {{landed_by:{TIME}}}
      AND toStartOfMinute(occurred_at) >= {{b1_start:{TIME}}}
      AND toStartOfMinute(occurred_at) < {{b1_end:{TIME}}}
    GROUP BY bucket, d0, d1
)"""  # noqa: E501

# the ratio's numerator shares its branch with a request on orders; nothing reads orders by
# channel (d1), so that branch groups by region alone, as does the one on sessions
CONVERSION_FROM_ROLLUP = (
    rollup_branch(0, "countMerge", "(), (d0)", 1, hours=2)
    + "\nUNION ALL\n"
    + rollup_branch(1, "countMerge", "(d0)", 1, hours=1)
)
HOUR = T + timedelta(hours=1)  # the one whole hour in START..END

MILESTONES = f"""SELECT key_result, groupArray(milestone)
FROM (
    SELECT
        dimensions['key_result'] AS key_result,
        dimensions['milestone'] AS milestone,
        argMax(dimensions['reached'] != 'false', (occurred_at, event_id)) AS reached
    FROM {{database:Identifier}}.raw_events
    WHERE type = {{type:String}}
      AND (
        (dimensions['key_result'] = {{m0:String}} AND occurred_at >= {{m0_start:{TIME}}} AND occurred_at < {{m0_end:{TIME}}})
        OR (dimensions['key_result'] = {{m1:String}} AND occurred_at >= {{m1_start:{TIME}}} AND occurred_at < {{m1_end:{TIME}}})
      )
      AND landed_at <= {{landed_by:{TIME}}}
    GROUP BY key_result, milestone
)
WHERE reached
GROUP BY key_result"""  # noqa: E501


@pytest.mark.parametrize(
    ("statement", "sql", "params"),
    [
        pytest.param(
            MetricValues(
                "db",
                (
                    MetricRequest("kr-1", KPIS["revenue"], START, END, {"channel": "web"}),
                    MetricRequest("kr-2", KPIS["revenue"], START, END),
                    MetricRequest("kr-3", KPIS["revenue"], T, START, {"region": "EU", "channel": "web"}),
                    MetricRequest("kr-4", KPIS["all_revenue"], START, END),
                    MetricRequest("kr-5", KPIS["revenue"], START, END, {"region": "EU"}),
                ),
            ),
            REVENUE_FROM_ROLLUP,
            {
                "database": "db",
                "b0_id": 0,
                "b0_start": START,
                "b0_end": END,
                "b0_table": rollup_table(KPIS["revenue"]),
                "b0_hours": rollup_table(KPIS["revenue"]) + "__hour",
                "b0_first": HOUR,
                "b0_last": END,
                "b0_wanted": [(0b10, "", "web"), (0b11, "", ""), (0b01, "EU", "")],
                "b1_id": 1,
                "b1_start": T,
                "b1_end": START,
                "b1_table": rollup_table(KPIS["revenue"]),
                "b1_wanted": [(0b00, "EU", "web")],
                "b2_id": 2,
                "b2_start": START,
                "b2_end": END,
                "b2_table": rollup_table(KPIS["all_revenue"]),
                "b2_hours": rollup_table(KPIS["all_revenue"]) + "__hour",
                "b2_first": HOUR,
                "b2_last": END,
            },
            id="rollup-shared-branch-two-windows-and-no-dimensions",
        ),
        pytest.param(
            MetricValues(
                "db",
                (
                    MetricRequest("kr-1", KPIS["p90_order"], START, END, {"channel": "web", "region": "EU"}),
                    MetricRequest("kr-2/baseline", KPIS["big_orders"], START, END),
                    MetricRequest("kr-3", KPIS["p90_order"], START, END, {"region": "EU"}),
                ),
                LANDED_BY,
            ),
            P90_AS_OF + "\nUNION ALL\n" + BIG_ORDERS_AS_OF,
            {
                "database": "db",
                "landed_by": LANDED_BY,
                "b0_id": 0,
                "b0_start": START,
                "b0_end": END,
                "b0_level": 0.9,
                "b0_measure": "amount",
                "b0_types": ["order.placed"],
                "b0_d0_key": "region",
                "b0_d1_key": "channel",
                "b0_wanted": [(0b00, "EU", "web"), (0b01, "EU", "")],
                "b1_id": 1,
                "b1_start": START,
                "b1_end": END,
                "b1_types": ["order.placed"],
                "b1_f0_key": "amount",
                "b1_f0": 100.0,
                "b1_d0_key": "region",
                "b1_d1_key": "channel",
            },
            id="as-of-quantile-and-kpi-filter",
        ),
        pytest.param(
            MetricValues(
                "db",
                (
                    MetricRequest(
                        "kr-1", KPIS["conversion"], START, END, {"region": "NA"}, CONVERSION_INPUTS
                    ),
                    MetricRequest("kr-2", KPIS["orders"], START, END),
                ),
            ),
            CONVERSION_FROM_ROLLUP,
            {
                "database": "db",
                "b0_id": 0,
                "b0_start": START,
                "b0_end": END,
                "b0_table": rollup_table(KPIS["orders"]),
                "b0_hours": rollup_table(KPIS["orders"]) + "__hour",
                "b0_first": HOUR,
                "b0_last": END,
                "b0_wanted": [(0b0, "NA"), (0b1, "")],
                "b1_id": 1,
                "b1_start": START,
                "b1_end": END,
                "b1_table": rollup_table(KPIS["sessions"]),
                "b1_hours": rollup_table(KPIS["sessions"]) + "__hour",
                "b1_first": HOUR,
                "b1_last": END,
                "b1_wanted": [(0b0, "NA")],
            },
            id="rollup-ratio",
        ),
        pytest.param(
            MilestonesReached("db", (("kr-a", START, END), ("x' OR 1=1 --", T, END)), LANDED_BY),
            MILESTONES,
            {
                "database": "db",
                "type": "okr.check_in",
                "m0": "kr-a",
                "m0_start": START,
                "m0_end": END,
                "m1": "x' OR 1=1 --",
                "m1_start": T,
                "m1_end": END,
                "landed_by": LANDED_BY,
            },
            id="milestones-as-of",
        ),
    ],
)
def test_to_sql(statement, sql: str, params: dict[str, Any]) -> None:
    assert statement.to_sql() == (sql, params)


def test_times_are_bound_in_utc() -> None:
    oslo = START.astimezone(ZoneInfo("Europe/Oslo"))
    _, params = MetricValues("db", (MetricRequest("k", KPIS["orders"], oslo, END),), oslo).to_sql()
    assert params["b0_start"] == START and params["b0_start"].tzinfo is UTC
    assert params["landed_by"] == START and params["landed_by"].tzinfo is UTC
    _, params = MilestonesReached("db", (("kr", oslo, END),), oslo).to_sql()
    assert params["m0_start"].tzinfo is UTC and params["landed_by"].tzinfo is UTC


@pytest.mark.parametrize(
    ("make", "message"),
    [
        pytest.param(
            lambda: MetricRequest("k", KPIS["conversion"], START, END),
            r"ratio KPI 'conversion' needs the definitions of \['orders', 'sessions'\]",
            id="ratio-without-inputs",
        ),
        pytest.param(
            lambda: MetricRequest(
                "k", KPIS["conversion"], START, END, inputs=(KPIS["sessions"], KPIS["orders"])
            ),
            "needs the definitions of",
            id="ratio-inputs-swapped",
        ),
        pytest.param(
            lambda: MetricRequest("k", KPIS["orders"], START, END, inputs=CONVERSION_INPUTS),
            "'orders' is not a ratio",
            id="inputs-on-a-stored-kpi",
        ),
        pytest.param(
            lambda: MetricRequest("k", KPIS["sessions"], START, END, {"channel": "web"}),
            r"KPI 'sessions' cannot be filtered by \['channel'\]; allowed: region",
            id="filter-on-an-undeclared-dimension",
        ),
        pytest.param(
            lambda: MetricRequest("k", KPIS["conversion"], START, END, {"channel": "web"}, CONVERSION_INPUTS),
            r"KPI 'conversion' cannot be filtered by \['channel'\]",
            id="ratio-filter-it-does-not-declare",
        ),
        pytest.param(
            lambda: MetricRequest(
                "k", RATIO_OF_RATIO, START, END, inputs=(KPIS["conversion"], KPIS["orders"])
            ),
            "divides a ratio",
            id="ratio-of-a-ratio",
        ),
        pytest.param(
            lambda: MetricValues(
                "db",
                (
                    MetricRequest("k", KPIS["orders"], START, END),
                    MetricRequest("k", KPIS["revenue"], START, END),
                ),
            ),
            "request keys must be unique",
            id="duplicate-keys",
        ),
        pytest.param(
            lambda: MilestonesReached("db", (("kr", START, END), ("kr", T, END))),
            "requested once each",
            id="duplicate-milestone-requests",
        ),
        pytest.param(lambda: MetricValues("db", ()).to_sql(), "nothing to read", id="no-requests"),
        pytest.param(lambda: MilestonesReached("db", ()).to_sql(), "nothing to read", id="no-milestones"),
    ],
)
def test_refuses(make: Callable[[], object], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        make()


def test_nothing_requested_parses_to_nothing() -> None:
    assert MetricValues("db", ()).parse([]) == {}
    assert MilestonesReached("db", ()).parse([]) == {}


def test_parse_fills_empty_windows_and_divides_ratios() -> None:
    requests = (
        MetricRequest("count", KPIS["orders"], START, END, {"region": "EU"}),  # b0, no row
        MetricRequest("avg", KPIS["avg_order"], START, END),  # b1
        MetricRequest("min", KPIS["min_order"], START, END),  # b2
        MetricRequest("nan", KPIS["avg_order"], T, END),  # b3
        MetricRequest("ratio", KPIS["conversion"], START, END, inputs=CONVERSION_INPUTS),  # b0 and b4
        MetricRequest("no-numerator", KPIS["conversion"], T, END, inputs=CONVERSION_INPUTS),  # b5, b6
        MetricRequest("no-denominator", KPIS["conversion"], END, END, inputs=CONVERSION_INPUTS),  # b7, b8
        MetricRequest("blank", KPIS["orders"], START, END, {"region": ""}),  # b0: not the total
    )
    rows = [
        (0, 0b1, [""], 2, 3.0),  # all orders: the ratio's numerator
        (0, 0b0, [""], 4, 5.0),  # orders of region ''
        (1, 0, [], 0, float("nan")),
        (2, 0, [], 0, 0.0),  # min of nothing: the engine says 0, the KPI has no value
        (3, 0, [], 3, float("nan")),
        (4, 0, [], 4, 12.0),
        (5, 0, [], 0, 0.0),
        (6, 0, [], 1, 5.0),
        (7, 0, [], 1, 2.0),
        (8, 0, [], 0, 0.0),
    ]
    assert MetricValues("db", requests).parse(rows) == {
        "count": 0.0,
        "avg": None,
        "min": None,
        "nan": None,
        "ratio": 0.25,
        "no-numerator": 0.0,
        "no-denominator": None,
        "blank": 5.0,
    }


# -- against the engine -------------------------------------------------------------------------


@pytest.fixture(scope="module")
def settings(infra, tmp_path_factory: pytest.TempPathFactory) -> Settings:
    """One store for the module (see the module docstring): `store` and `land` use it too."""
    return Settings(
        kafka_bootstrap_servers=infra.kafka_bootstrap_servers,
        clickhouse_url=infra.clickhouse_url,
        data_dir=tmp_path_factory.mktemp("key-result-values") / "okrstream",
        clickhouse_database=f"test_{uuid.uuid4().hex[:10]}",
    )


@pytest.fixture(scope="module")
def store(settings: Settings) -> Iterator[Store]:
    with processors.open_store(settings) as store:
        yield store


def make_orders(rng: random.Random, prefix: str, count: int) -> list[dict[str, Any]]:
    """Orders over three hours, at any second; amounts in quarters, so every sum is exact."""
    orders = []
    for i in range(count):
        at = T + timedelta(seconds=rng.randint(0, 3 * 3600 - 1), microseconds=rng.choice([0, 500_000]))
        subject = rng.choice([None, *(f"c{n}" for n in range(25))])  # None: an order without one
        orders.append(
            {
                "event_id": f"{prefix}-{i:04d}",
                "type": "order.placed",
                "source": "shop",
                "occurred_at": at.isoformat(),
                **({"subject": subject} if subject else {}),
                "dimensions": {"region": rng.choice(["EU", "NA"]), "channel": rng.choice(["web", "app"])},
                "measures": {"amount": rng.randint(1, 800) / 4},
            }
        )
    return orders


def make_sessions(rng: random.Random, prefix: str, count: int) -> list[dict[str, Any]]:
    return [
        {
            "event_id": f"{prefix}-s{i:04d}",
            "type": "session.started",
            "source": "web",
            "occurred_at": (T + timedelta(seconds=rng.randint(0, 3 * 3600 - 1))).isoformat(),
            "dimensions": {"region": rng.choice(["EU", "NA"])},
        }
        for i in range(count)
    ]


def land_events(store: Store, database: str, events: list[dict[str, Any]], log: str) -> None:
    position = BatchPosition(log, 0, 0, len(events) - 1)
    rows = [event_row(e, i, T, position) for i, e in enumerate(events)]
    store.insert(InsertRawEvents(database, position, rows))


@dataclass(frozen=True)
class Landed:
    store: Store
    database: str
    first: list[dict[str, Any]]  # landed before the apply: the backfill's share
    everything: list[dict[str, Any]]  # ... and after it: the views' share
    before: datetime  # nothing had landed
    between: datetime  # the first share had landed, the second not
    after: datetime  # everything had landed


@pytest.fixture(scope="module")
def landed(store: Store, settings: Settings) -> Landed:
    rng = random.Random(11)
    database = settings.clickhouse_database
    first = make_orders(rng, "a", 300) + make_sessions(rng, "a", 200)
    second = make_orders(rng, "b", 300) + make_sessions(rng, "b", 200)
    before = store_now(store)
    time.sleep(0.01)
    land_events(store, database, first, "first")
    apply_kpis(store, settings, CATALOG, "test", progress=lambda *_: None)
    between = store_now(store)
    time.sleep(0.01)
    land_events(store, database, second, "second")
    land_events(store, database, second, "second")  # a sink's retry: the same block, dropped
    time.sleep(0.01)
    return Landed(store, database, first, first + second, before, between, store_now(store))


def interpolated(values: list[float], level: float) -> float:
    """An exact quantile as ClickHouse's quantileExactInclusive has it: linear interpolation between ranks."""
    ordered = sorted(values)
    position = level * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def amounts(events: list[dict[str, Any]]) -> list[float]:
    return [e["measures"]["amount"] for e in events]


def latest(events: list[dict[str, Any]]) -> float:
    last = max(events, key=lambda e: (datetime.fromisoformat(e["occurred_at"]), e["event_id"]))
    return last["measures"]["amount"]


# name -> (which events it reads, its value over a non-empty selection)
PYTHON: dict[str, tuple[Callable[[dict[str, Any]], bool], Callable[[list[dict[str, Any]]], float]]] = {
    "orders": (lambda e: True, len),
    "revenue": (lambda e: True, lambda es: sum(amounts(es))),
    "avg_order": (lambda e: True, lambda es: sum(amounts(es)) / len(es)),
    "min_order": (lambda e: True, lambda es: min(amounts(es))),
    "max_order": (lambda e: True, lambda es: max(amounts(es))),
    "p90_order": (lambda e: True, lambda es: interpolated(amounts(es), 0.9)),
    "buyers": (lambda e: "subject" in e, lambda es: len({e["subject"] for e in es})),
    "channels": (lambda e: True, lambda es: len({e["dimensions"]["channel"] for e in es})),
    "last_order": (lambda e: True, latest),
    "big_orders": (lambda e: e["measures"]["amount"] >= 100, len),
    "sessions": (lambda e: True, len),
}
# KPIs read by tests of their own, not in REQUESTS
MORE_PYTHON: dict[str, tuple[Callable[[dict[str, Any]], bool], Callable[[list[dict[str, Any]]], float]]] = {
    "all_revenue": PYTHON["revenue"],
    "signups": (lambda e: True, len),
}


def python_value(kpi: KpiDefinition, events: list[dict[str, Any]], request: MetricRequest) -> float | None:
    """The KPI over the events whose minute starts in the window, by the rollups' bucket rule."""
    reads, value = (PYTHON | MORE_PYTHON)[kpi.name]
    chosen = [
        e
        for e in events
        if e["type"] == kpi.events[0]
        and reads(e)
        and request.start <= datetime.fromisoformat(e["occurred_at"]).replace(second=0, microsecond=0)
        and datetime.fromisoformat(e["occurred_at"]).replace(second=0, microsecond=0) < request.end
        and all(e["dimensions"].get(key) == wanted for key, wanted in request.filters.items())
    ]
    return float(value(chosen)) if chosen else kpi.empty_value


def expected(events: list[dict[str, Any]], request: MetricRequest) -> float | None:
    if request.inputs is None:
        return python_value(request.kpi, events, request)
    numerator, denominator = (python_value(kpi, events, request) for kpi in request.inputs)
    return ratio_value(numerator or 0.0, denominator)


WINDOWS = [
    (T + timedelta(minutes=7, seconds=30), T + timedelta(minutes=95, seconds=10)),  # cuts minutes
    (T, T + timedelta(hours=3)),  # whole hours only
    # minutes, a whole hour, minutes: both levels, the hourly level in the middle
    (T + timedelta(minutes=7, seconds=30), T + timedelta(hours=2, minutes=35, seconds=10)),
    (T + timedelta(hours=2, minutes=59, seconds=59), T + timedelta(hours=4)),  # the last minute alone
    (T + timedelta(hours=10), T + timedelta(hours=11)),  # nothing in it
]
ORDER_FILTERS: list[dict[str, str]] = [{}, {"region": "EU"}, {"region": "NA", "channel": "app"}]


def requests() -> tuple[MetricRequest, ...]:
    made = []
    for w, (start, end) in enumerate(WINDOWS):
        for name in PYTHON:
            filters = ORDER_FILTERS if name != "sessions" else ORDER_FILTERS[:2]
            for f, chosen in enumerate(filters):
                made.append(MetricRequest(f"{name}/{w}/{f}", KPIS[name], start, end, chosen))
        for f, chosen in enumerate(ORDER_FILTERS[:2]):
            key = f"conversion/{w}/{f}"
            made.append(MetricRequest(key, KPIS["conversion"], start, end, chosen, CONVERSION_INPUTS))
    return tuple(made)


REQUESTS = requests()


def read(landed: Landed, landed_by: datetime | None) -> dict[str, float | None]:
    query = MetricValues(landed.database, REQUESTS, landed_by)
    return query.parse(landed.store.fetch(query))


def assert_agrees_with_python(actual: dict[str, float | None], events: list[dict[str, Any]]) -> None:
    assert actual.keys() == {r.key for r in REQUESTS}
    for request in REQUESTS:
        number = expected(events, request)
        if number is None:
            assert actual[request.key] is None, request.key
        else:  # a quantile interpolates in its own order of operations
            assert actual[request.key] == pytest.approx(number, rel=1e-12), request.key


def test_the_rollups_agree_with_plain_python_over_every_event(landed: Landed) -> None:
    values = read(landed, None)
    assert_agrees_with_python(values, landed.everything)
    assert values["orders/1/0"] == 600 and values["revenue/4/0"] == 0.0 and values["avg_order/4/0"] is None
    assert values["conversion/4/0"] is None  # no sessions in the window


def test_as_of_reads_what_had_landed_by_then(landed: Landed) -> None:
    assert_agrees_with_python(read(landed, landed.between), landed.first)
    nothing = read(landed, landed.before)
    assert nothing == {r.key: expected([], r) for r in REQUESTS}


def test_as_of_after_everything_landed_agrees_exactly_with_the_rollups(landed: Landed) -> None:
    rollups, as_of = read(landed, None), read(landed, landed.after)
    assert as_of == rollups  # exactly: the same minute states, merged the same way
    compared = {KPIS[key.split("/")[0]].aggregation for key, value in as_of.items() if value}
    assert compared == set(Aggregation)  # every aggregation, with something to aggregate


def read_these(landed: Landed, requests: tuple[MetricRequest, ...], landed_by: datetime | None):
    query = MetricValues(landed.database, requests, landed_by)
    rows = landed.store.fetch(query)
    return query.parse(rows), rows


def test_a_kpi_without_dimensions_is_read_whole(landed: Landed) -> None:
    """all_revenue's branches have no GROUP BY, beside revenue's that have one, in one UNION ALL."""
    requests = tuple(
        MetricRequest(f"{name}/{w}{suffix}", KPIS[name], start, end, filters)
        for w, (start, end) in enumerate(WINDOWS)
        for name, suffix, filters in (
            ("all_revenue", "", {}),
            ("revenue", "/EU", {"region": "EU"}),
            ("revenue", "", {}),
        )
    )
    for landed_by, events in ((None, landed.everything), (landed.between, landed.first)):
        values, rows = read_these(landed, requests, landed_by)
        assert values == pytest.approx({r.key: expected(events, r) for r in requests}, rel=1e-12)
        whole = [row for row in rows if row[0] % 2 == 0]  # the even branches, one per window: all_revenue's
        evens = range(0, 2 * len(WINDOWS), 2)
        assert sorted(row[:3] for row in whole) == [(b, 0, []) for b in evens]  # one each, n = 0 too
        for w in range(len(WINDOWS)):
            assert values[f"all_revenue/{w}"] == values[f"revenue/{w}"]
    assert values["all_revenue/1"] == sum(amounts([e for e in landed.first if e["type"] == "order.placed"]))


@pytest.mark.parametrize("landed_by", [None, "after"])
def test_an_empty_window_gives_each_kpis_empty_value(landed: Landed, landed_by: str | None) -> None:
    at = T + timedelta(hours=1, minutes=30)  # orders and sessions all around it
    windows = {"empty": (at, at), "reversed": (at + timedelta(minutes=5), at)}
    requests = tuple(
        MetricRequest(f"{name}/{label}/{f}", KPIS[name], start, end, filters, inputs)
        for label, (start, end) in windows.items()
        for name, inputs in (
            ("orders", None),
            ("revenue", None),
            ("avg_order", None),
            ("all_revenue", None),
            ("conversion", CONVERSION_INPUTS),
        )
        for f, filters in enumerate([{}, {"region": "EU"}] if name != "all_revenue" else [{}])
    )
    values, _ = read_these(landed, requests, landed.after if landed_by else None)
    assert values == {r.key: r.kpi.empty_value for r in requests}
    assert values["orders/empty/1"] == 0.0 and values["conversion/empty/0"] is None


PLANS = ["", *(f"p{n:02d}" for n in range(40))]  # '' is a plan here, not "any plan"
COUNTRIES = ["NO", "SE", "DK", ""]


@pytest.fixture(scope="module")
def signups(landed: Landed) -> tuple[list[dict[str, Any]], datetime]:
    """Sign-ups landed after the KPIs were applied (the views' share), and when they had all landed."""
    rng = random.Random(5)
    events = [
        {
            "event_id": f"u-{i:04d}",
            "type": "signup.completed",
            "source": "web",
            "occurred_at": (T + timedelta(seconds=rng.randint(0, 3 * 3600 - 1))).isoformat(),
            "dimensions": {"plan": rng.choice(PLANS), "country": rng.choice(COUNTRIES)},
        }
        for i in range(800)
    ]
    land_events(landed.store, landed.database, events, "signups")
    time.sleep(0.01)
    return events, store_now(landed.store)


@pytest.mark.parametrize("as_of", [False, True])
def test_only_the_requested_groups_come_back(landed: Landed, signups, as_of: bool) -> None:
    """Of 41 plans x 4 countries, the rows are the groups asked for; grouping() as the SQL standard says."""
    events, all_landed = signups
    window = (T + timedelta(minutes=10), T + timedelta(hours=2, minutes=40))
    # key -> (filters, the (g, dims) of its row: bit 1 for a dimension not grouped by, plan first)
    by_group = {
        "total": ({}, (0b11, ["", ""])),
        "p07": ({"plan": "p07"}, (0b01, ["p07", ""])),
        "p07/NO": ({"plan": "p07", "country": "NO"}, (0b00, ["p07", "NO"])),
        "p07/blank-country": ({"plan": "p07", "country": ""}, (0b00, ["p07", ""])),
        "blank-plan": ({"plan": ""}, (0b01, ["", ""])),
        "blank-country": ({"country": ""}, (0b10, ["", ""])),
        "blank-both": ({"plan": "", "country": ""}, (0b00, ["", ""])),
    }
    requests = tuple(
        MetricRequest(k, KPIS["signups"], *window, filters) for k, (filters, _) in by_group.items()
    )
    values, rows = read_these(landed, requests, all_landed if as_of else None)
    assert values == {r.key: expected(events, r) for r in requests}
    assert sorted(row[1:3] for row in rows) == sorted(group for _, group in by_group.values())
    # '' is a value like any other, told apart from "any value" by the mask
    assert values["total"] > values["blank-plan"] > values["blank-both"] > 0
    assert values["blank-country"] > values["blank-both"]


def test_an_empty_string_filter_is_not_the_total(landed: Landed, signups) -> None:
    """A request for plan '' beside the total, in one branch, on both paths, against plain Python."""
    events, all_landed = signups
    window = (T, T + timedelta(hours=3))
    requests = (
        MetricRequest("blank", KPIS["signups"], *window, {"plan": ""}),
        MetricRequest("total", KPIS["signups"], *window),
        MetricRequest("none", KPIS["signups"], *window, {"plan": "x') OR 1=1 --\\"}),  # bound, not SQL
    )
    rollups, _ = read_these(landed, requests, None)
    as_of, _ = read_these(landed, requests, all_landed)
    assert rollups == as_of == {r.key: expected(events, r) for r in requests}
    assert rollups["total"] == len(events) > rollups["blank"] > 0 and rollups["none"] == 0.0


# -- milestones ---------------------------------------------------------------------------------


def check_in(
    event_id: str, key_result: str, milestone: str, at: datetime, reached: str | None = None
) -> dict:
    dimensions = {"key_result": key_result, "milestone": milestone}
    if reached is not None:
        dimensions["reached"] = reached
    return {
        "event_id": event_id,
        "type": "okr.check_in",
        "source": "okr",
        "occurred_at": at.isoformat(),
        "dimensions": dimensions,
    }


def test_milestones_reached_take_each_milestones_latest_check_in(store, settings, land) -> None:
    db = settings.clickhouse_database
    q_start, q_end = T, T + timedelta(days=90)
    land(
        [
            check_in("m-1", "kr-launch", "beta", T + timedelta(days=1)),
            check_in("m-2", "kr-launch", "ga", T + timedelta(days=2), "true"),
            check_in("m-3", "kr-launch", "docs", T + timedelta(days=3)),
            check_in("m-4", "kr-launch", "pricing", T - timedelta(seconds=1)),  # before the window
            check_in("m-5", "kr-launch", "partners", q_end),  # the window's end is not in it
            check_in("m-6", "kr-hire", "lead", T + timedelta(days=4)),
            check_in("m-7", "kr-other", "x", T + timedelta(days=4)),  # not requested
            {**check_in("m-8", "kr-hire", "cfo", T + timedelta(days=5)), "type": "note.added"},
        ],
        log="milestones-1",
    )
    first_landed = store_now(store)
    time.sleep(0.01)
    land(
        [
            check_in("m-9", "kr-launch", "ga", T + timedelta(days=6), "false"),  # the undo
            check_in("m-10", "kr-launch", "beta", T + timedelta(days=1), "false"),  # late, but older
            check_in("m-11", "kr-hire", "lead", T + timedelta(days=7), "false"),
            check_in("m-12", "kr-hire", "lead", T + timedelta(days=7), "true"),  # same instant: m-12 > m-11
            check_in("m-13", "kr-launch", "docs", T + timedelta(days=3), "false"),  # same instant: m-13 < m-3
        ],
        log="milestones-2",
    )

    def reached(windows, landed_by=None) -> dict[str, frozenset[str]]:
        query = MilestonesReached(db, windows, landed_by)
        return query.parse(store.fetch(query))

    windows = (("kr-launch", q_start, q_end), ("kr-hire", q_start, q_end), ("kr-none", q_start, q_end))
    # beta: the later of two at one instant wins by event id: "m-1" < "m-10", so the undo holds
    assert reached(windows) == {
        "kr-launch": frozenset({"docs"}),
        "kr-hire": frozenset({"lead"}),
        "kr-none": frozenset(),
    }
    assert reached(windows, first_landed) == {
        "kr-launch": frozenset({"beta", "ga", "docs"}),
        "kr-hire": frozenset({"lead"}),
        "kr-none": frozenset(),
    }
    # a window ending before the undo of ga: ga was reached then
    early = (("kr-launch", q_start, T + timedelta(days=5)),)
    assert reached(early) == {"kr-launch": frozenset({"ga", "docs"})}
    assert reached((("kr-launch", T + timedelta(days=2), T + timedelta(days=4)),)) == {
        "kr-launch": frozenset({"ga", "docs"})
    }
