"""`kpi_values`: one long-format view of every applied KPI, for BI tools.

One row per KPI, grain (day, week, month, quarter, year), period and break-down: `dimension` is ''
with the KPI's total, or one of its dimensions with `dimension_value` set. Periods are local dates
in the configured time zone. Values are merged from the rollups when the view is read, so they are
as current as the rollups; ratios are divided per row, as `okrstream kpi show` divides them.
The view is replaced on every apply, so it always lists exactly the KPIs in force.

A plain view cannot hold server-side parameters, so this statement's values are bound by the
driver client-side, as quoted literals (see `Identifier`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from schemas import Aggregation, KpiDefinition

from ._cluster import on_cluster
from ._statement import Identifier
from .kpi_rollup_ddl import dimension_column, merge_of, rollup_table

# grain -> the local date a rollup bucket's period starts on
PERIODS = {
    "day": "toDate(bucket, %(tz)s)",
    "week": "toStartOfWeek(bucket, 1, %(tz)s)",
    "month": "toStartOfMonth(bucket, %(tz)s)",
    "quarter": "toStartOfQuarter(bucket, %(tz)s)",
    "year": "toStartOfYear(bucket, %(tz)s)",
}
_KEYS = "grain, period, dimension, dimension_value"
_NONE = (
    "SELECT '' AS kpi, '' AS grain, toDate(0) AS period, '' AS dimension, '' AS dimension_value,\n"
    "    CAST(NULL AS Nullable(Float64)) AS value, CAST(NULL AS Nullable(Bool)) AS healthy\n"
    "WHERE 0"
)


@dataclass(frozen=True)
class CreateKpiValuesView:
    database: str
    kpis: Mapping[str, KpiDefinition]  # every KPI in force, ratios with their inputs
    timezone: str
    cluster: str | None = None  # on a cluster: a view on every node, reading the Distributed rollups

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        params: dict[str, Any] = {"database": Identifier(self.database), "tz": self.timezone}
        branches = [
            self._branch(f"k{i}", self.kpis[name], params) for i, name in enumerate(sorted(self.kpis))
        ]
        if not branches:  # typed, so BI tools see the columns before the first KPI exists
            branches = [_NONE]
        create = f"CREATE OR REPLACE VIEW %(database)s.kpi_values{on_cluster(self.cluster)} AS\n"
        sql = create + "\nUNION ALL\n".join(branches)
        return sql, params

    def _branch(self, prefix: str, kpi: KpiDefinition, params: dict[str, Any]) -> str:
        params[prefix] = kpi.name
        return (
            f"SELECT %({prefix})s AS kpi, {_KEYS}, v AS value,\n"
            f"    {_healthy(prefix, kpi, params)} AS healthy\n"
            f"FROM (\n{self._values(prefix, kpi, kpi.dimensions, params)}\n)"
        )

    def _values(self, prefix: str, kpi: KpiDefinition, dims: tuple[str, ...], params: dict[str, Any]) -> str:
        """(grain, period, dimension, dimension_value, v) of one KPI, broken down by each of `dims`."""
        if kpi.aggregation is Aggregation.RATIO:
            return _ratio(
                self._values(f"{prefix}n", self.kpis[kpi.inputs[0]], dims, params),
                self._values(f"{prefix}d", self.kpis[kpi.inputs[1]], dims, params),
            )
        merge, merge_params = merge_of(kpi, level=f"{prefix}_level", client_bound=True)
        params |= merge_params | {f"{prefix}_table": Identifier(rollup_table(kpi))}
        periods = ", ".join(f"('{grain}', {start})" for grain, start in PERIODS.items())
        breakdowns = ["('', '')"]
        for key in dims:
            column = dimension_column(kpi, key)
            params[f"{prefix}_{column}"] = key
            breakdowns.append(f"(%({prefix}_{column})s, {column})")
        return (
            "SELECT p.1 AS grain, p.2 AS period, b.1 AS dimension, b.2 AS dimension_value,\n"
            f"    if(isNaN(toFloat64({merge}(value)) AS merged), NULL, merged) AS v\n"
            f"FROM %(database)s.%({prefix}_table)s\n"
            f"ARRAY JOIN [{periods}] AS p\n"
            f"ARRAY JOIN [{', '.join(breakdowns)}] AS b\n"
            f"GROUP BY {_KEYS}"
        )


def _ratio(numerator: str, denominator: str) -> str:
    """numerator / denominator per row: NULL when the denominator is missing or 0 (see ratio_value);
    a missing numerator counts as 0."""
    return (
        f"SELECT {_KEYS},\n"
        "    if(countIf(side = 1 AND part IS NOT NULL) = 0\n"
        "       OR sumIf(part, side = 1) = 0\n"
        "       OR countIf(side = 0 AND part IS NULL) > 0,\n"
        "       NULL, ifNull(sumIf(part, side = 0), 0) / sumIf(part, side = 1)) AS v\n"
        f"FROM (\n    SELECT 0 AS side, {_KEYS}, v AS part FROM (\n{numerator}\n)\n"
        f"    UNION ALL\n    SELECT 1 AS side, {_KEYS}, v AS part FROM (\n{denominator}\n)\n)\n"
        f"GROUP BY {_KEYS}"
    )


def _healthy(prefix: str, kpi: KpiDefinition, params: dict[str, Any]) -> str:
    """The band's verdict on rows of the band's grain; NULL on other grains and without a band."""
    band = kpi.health
    if band is None:
        return "CAST(NULL AS Nullable(Bool))"
    params[f"{prefix}_grain"] = band.grain.value
    if band.at_or_above is not None:
        params[f"{prefix}_low"] = band.at_or_above
        test = f"v >= %({prefix}_low)s"
    elif band.at_or_below is not None:
        params[f"{prefix}_high"] = band.at_or_below
        test = f"v <= %({prefix}_high)s"
    else:
        assert band.between is not None
        params[f"{prefix}_low"], params[f"{prefix}_high"] = band.between
        test = f"v BETWEEN %({prefix}_low)s AND %({prefix}_high)s"
    return f"CAST(if(grain = %({prefix}_grain)s, {test}, NULL) AS Nullable(Bool))"
