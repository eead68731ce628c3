"""Filter fragments shared by the queries on raw_events; each binds its values as parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from schemas import Aggregation, FilterOp, KpiDefinition


def log_partition(log: str, partition: int) -> tuple[str, dict[str, Any]]:
    """Rows landed from one partition of one log incarnation (topic id)."""
    return (
        "kafka_log = {log:String} AND kafka_partition = {partition:UInt32}",
        {"log": log, "partition": partition},
    )


def identity_partition(partition: int, partitions: int) -> tuple[str, dict[str, Any]]:
    """Rows whose identity routes to `partition`: the same rule as schemas.partition_for."""
    return (
        "CRC32(concat(source, '\\0', event_id)) % {partitions:UInt32} = {partition:UInt32}",
        {"partition": partition, "partitions": partitions},
    )


def landed_since(cutoff: datetime) -> tuple[str, dict[str, Any]]:
    """Rows that landed at or after the cutoff: a KPI view's share."""
    return "landed_at >= {landed_cutoff:DateTime64(6, 'UTC')}", {"landed_cutoff": cutoff}


def landed_before(cutoff: datetime) -> tuple[str, dict[str, Any]]:
    """Rows that landed before the cutoff: a KPI backfill's share."""
    return "landed_at < {landed_cutoff:DateTime64(6, 'UTC')}", {"landed_cutoff": cutoff}


_OPERATORS = {
    FilterOp.EQ: "=",
    FilterOp.NE: "!=",
    FilterOp.GT: ">",
    FilterOp.GTE: ">=",
    FilterOp.LT: "<",
    FilterOp.LTE: "<=",
    FilterOp.IN: "IN",
}
_MEASURED = {
    Aggregation.SUM,
    Aggregation.AVG,
    Aggregation.MIN,
    Aggregation.MAX,
    Aggregation.QUANTILE,
    Aggregation.LATEST,
}


def kpi_conditions(kpi: KpiDefinition, prefix: str = "") -> tuple[str, dict[str, Any]]:
    """The raw_events rows a KPI reads: its event types, its filters, and the value it needs present.

    A filter on a measure or dimension holds only for events that carry it, so a missing key
    never reads as 0 or ''. Parameters are named `prefix + name` (`types`, `measure`, ...), so
    one statement can hold the conditions of several KPIs.
    """
    conditions = [f"type IN {{{prefix}types:Array(String)}}"]
    params: dict[str, Any] = {f"{prefix}types": list(kpi.events)}
    if kpi.aggregation in _MEASURED:
        conditions.append(f"mapContains(measures, {{{prefix}measure:String}})")
        params[f"{prefix}measure"] = kpi.measure
    if kpi.aggregation is Aggregation.COUNT_DISTINCT:
        if kpi.of is None or kpi.of == "subject":
            conditions.append("subject != ''")
        else:
            conditions.append(f"mapContains(dimensions, {{{prefix}of_key:String}})")
            params[f"{prefix}of_key"] = kpi.of.partition(".")[2]
    for i, f in enumerate(kpi.filters):
        key, value = f"{prefix}f{i}_key", f"{prefix}f{i}"
        op = _OPERATORS[f.op]
        if f.kind == "subject":
            operand = "subject"
        else:
            operand = f"{f.kind}[{{{key}:String}}]"
            conditions.append(f"mapContains({f.kind}, {{{key}:String}})")
            params[key] = f.key
        scalar = "Float64" if f.kind == "measures" else "String"
        if f.op is FilterOp.IN:
            conditions.append(f"{operand} IN {{{value}:Array({scalar})}}")
            params[value] = list(f.values)
        else:
            conditions.append(f"{operand} {op} {{{value}:{scalar}}}")
            params[value] = f.values[0]
    return "\n  AND ".join(conditions), params
