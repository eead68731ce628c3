"""The BI view `kpi_values`: its exact SQL; values against the series are tested in test_kpis.py."""

from __future__ import annotations

import pytest
from clickhouse_connect.driver.binding import bind_query

from processors.clickhouse import Identifier
from processors.clickhouse.kpi_rollup_ddl import rollup_table
from processors.clickhouse.kpi_values_view import CreateKpiValuesView
from schemas import EventTypeRegistry, KpiCatalog

REGISTRY = EventTypeRegistry.from_mapping(
    {
        "event_types": {
            "order.placed": {"dimensions": {"region": "string"}, "measures": {"amount": "number"}},
            "session.started": {"dimensions": {"region": "string"}},
        }
    }
)
KPIS = KpiCatalog.from_mapping(
    {
        "kpis": {
            "orders": {
                "title": "Orders",
                "events": "order.placed",
                "aggregation": "count",
                "dimensions": ["region"],
                "health": {"at_or_above": 10, "grain": "month"},
            },
            "sessions": {"title": "Sessions", "events": "session.started", "aggregation": "count"},
            "p90": {
                "title": "p90",
                "events": "order.placed",
                "aggregation": "quantile",
                "quantile": 0.9,
                "measure": "amount",
                "health": {"between": [5, 50]},
            },
            "conversion": {
                "title": "Conversion",
                "aggregation": "ratio",
                "numerator": "orders",
                "denominator": "sessions",
            },
        }
    },
    REGISTRY,
).kpis
PERIODS = (
    "ARRAY JOIN [('day', toDate(bucket, %(tz)s)), ('week', toStartOfWeek(bucket, 1, %(tz)s)),"
    " ('month', toStartOfMonth(bucket, %(tz)s)), ('quarter', toStartOfQuarter(bucket, %(tz)s)),"
    " ('year', toStartOfYear(bucket, %(tz)s))] AS p"
)
KEYS = "grain, period, dimension, dimension_value"

NONE = """CREATE OR REPLACE VIEW %(database)s.kpi_values AS
SELECT '' AS kpi, '' AS grain, toDate(0) AS period, '' AS dimension, '' AS dimension_value,
    CAST(NULL AS Nullable(Float64)) AS value, CAST(NULL AS Nullable(Bool)) AS healthy
WHERE 0"""

ORDERS = f"""CREATE OR REPLACE VIEW %(database)s.kpi_values AS
SELECT %(k0)s AS kpi, {KEYS}, v AS value,
    CAST(if(grain = %(k0_grain)s, v >= %(k0_low)s, NULL) AS Nullable(Bool)) AS healthy
FROM (
SELECT p.1 AS grain, p.2 AS period, b.1 AS dimension, b.2 AS dimension_value,
    if(isNaN(toFloat64(countMerge(value)) AS merged), NULL, merged) AS v
FROM %(database)s.%(k0_table)s
{PERIODS}
ARRAY JOIN [('', ''), (%(k0_d0)s, d0)] AS b
GROUP BY {KEYS}
)"""

P90 = f"""CREATE OR REPLACE VIEW %(database)s.kpi_values AS
SELECT %(k0)s AS kpi, {KEYS}, v AS value,
    CAST(if(grain = %(k0_grain)s, v BETWEEN %(k0_low)s AND %(k0_high)s, NULL) AS Nullable(Bool)) AS healthy
FROM (
SELECT p.1 AS grain, p.2 AS period, b.1 AS dimension, b.2 AS dimension_value,
    if(isNaN(toFloat64(quantileExactInclusiveMerge(%(k0_level)s)(value)) AS merged), NULL, merged) AS v
FROM %(database)s.%(k0_table)s
{PERIODS}
ARRAY JOIN [('', '')] AS b
GROUP BY {KEYS}
)"""


def stored(prefix: str, merge: str = "countMerge") -> str:
    return f"""SELECT p.1 AS grain, p.2 AS period, b.1 AS dimension, b.2 AS dimension_value,
    if(isNaN(toFloat64({merge}(value)) AS merged), NULL, merged) AS v
FROM %(database)s.%({prefix}_table)s
{PERIODS}
ARRAY JOIN [('', '')] AS b
GROUP BY {KEYS}"""


CONVERSION_FIRST = f"""CREATE OR REPLACE VIEW %(database)s.kpi_values AS
SELECT %(k0)s AS kpi, {KEYS}, v AS value,
    CAST(NULL AS Nullable(Bool)) AS healthy
FROM (
SELECT {KEYS},
    if(countIf(side = 1 AND part IS NOT NULL) = 0
       OR sumIf(part, side = 1) = 0
       OR countIf(side = 0 AND part IS NULL) > 0,
       NULL, ifNull(sumIf(part, side = 0), 0) / sumIf(part, side = 1)) AS v
FROM (
    SELECT 0 AS side, {KEYS}, v AS part FROM (
{stored("k0n")}
)
    UNION ALL
    SELECT 1 AS side, {KEYS}, v AS part FROM (
{stored("k0d")}
)
)
GROUP BY {KEYS}
)
UNION ALL
"""


@pytest.mark.parametrize(
    ("names", "sql", "params"),
    [
        pytest.param((), NONE, {}, id="no KPI yet: typed and empty"),
        pytest.param(
            ("orders",),
            ORDERS,
            {
                "k0": "orders",
                "k0_grain": "month",
                "k0_low": 10.0,
                "k0_table": Identifier(rollup_table(KPIS["orders"])),
                "k0_d0": "region",
            },
            id="count by a dimension, with a band",
        ),
        pytest.param(
            ("p90",),
            P90,
            {
                "k0": "p90",
                "k0_grain": "day",
                "k0_low": 5.0,
                "k0_high": 50.0,
                "k0_level": 0.9,
                "k0_table": Identifier(rollup_table(KPIS["p90"])),
            },
            id="quantile, level bound per KPI",
        ),
    ],
)
def test_to_sql(names: tuple[str, ...], sql: str, params: dict) -> None:
    actual_sql, actual_params = CreateKpiValuesView("db", {n: KPIS[n] for n in names}, "Europe/Oslo").to_sql()
    assert actual_sql == sql
    assert actual_params == {"database": Identifier("db"), "tz": "Europe/Oslo", **params}


def test_a_ratio_is_divided_from_its_inputs_broken_down_like_itself() -> None:
    kpis = {n: KPIS[n] for n in ("conversion", "orders", "sessions")}
    sql, params = CreateKpiValuesView("db", kpis, "UTC").to_sql()
    assert sql.startswith(CONVERSION_FIRST)  # then orders and sessions, each on its own
    assert params["k0"] == "conversion" and params["k1"] == "orders" and params["k2"] == "sessions"
    assert params["k0n_table"] == params["k1_table"] and params["k0d_table"] == params["k2_table"]


def test_every_value_reaches_sql_as_a_placeholder() -> None:
    sql, params = CreateKpiValuesView("db", dict(KPIS), "Europe/Oslo").to_sql()
    for value in ("orders", "region", "Europe/Oslo", "kpi_orders", "0.9"):
        assert value not in sql
    assert set(params) == {name for name in params if f"%({name})s" in sql}


def test_identifiers_are_quoted_by_the_driver_when_bound_client_side() -> None:
    sql, server_params = bind_query(
        "SELECT 1 FROM %(db)s.%(t)s WHERE k = %(k)s",
        {"db": Identifier("bench"), "t": Identifier("odd`name"), "k": "it's"},
    )
    assert sql == "SELECT 1 FROM `bench`.`odd\\`name` WHERE k = 'it\\'s'" and server_params == {}
