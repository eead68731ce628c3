"""The numbers key results are scored from, for many key results in one statement.

chDB runs one query at a time and a scorer recomputes dozens of key results at once, so every
request is one branch of a single UNION ALL, each branch with parameters of its own (`r3_...`).

Values come from one of two places that agree once everything has landed:
- the KPI rollups (`landed_by=None`): the current values, merged from the minute buckets;
- raw_events as of a landing instant (`landed_by`): only the rows that had landed by then, put
  in the same minute buckets and merged from the same -State functions, so a recomputation of a
  past score sees exactly what the live scorer saw, whatever landed late since.

A window [start, end) takes whole minute buckets: those whose minute starts in it, as the
rollups store them.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from schemas import CHECK_IN_TYPE, Aggregation, KpiDefinition, ratio_value

from ._filters import kpi_conditions
from .kpi_rollup_ddl import dimension_column, merge_of, rollup_table, state_of

_TIME = "DateTime64(6, 'UTC')"
_LANDED_BY = f"landed_at <= {{landed_by:{_TIME}}}"
# What a branch's row says: its request's own KPI, or a ratio's numerator or denominator.
_VALUE, _NUMERATOR, _DENOMINATOR = 0, 1, 2
_PLACEHOLDER = re.compile(r"\{(\w+):")


@dataclass(frozen=True)
class MetricRequest:
    """A KPI's value over [start, end) (UTC), for events whose dimensions equal `filters`.

    `key` is the caller's label of the answer, e.g. "kr-id" or "kr-id/baseline". A ratio KPI
    names its numerator and denominator definitions in `inputs`, which must not be ratios.
    """

    key: str
    kpi: KpiDefinition
    start: datetime
    end: datetime
    filters: Mapping[str, str] = field(default_factory=dict)
    inputs: tuple[KpiDefinition, KpiDefinition] | None = None

    def __post_init__(self) -> None:
        ratio = self.kpi.aggregation is Aggregation.RATIO
        if ratio and (self.inputs is None or tuple(k.name for k in self.inputs) != self.kpi.inputs):
            raise ValueError(f"ratio KPI {self.kpi.name!r} needs the definitions of {list(self.kpi.inputs)}")
        if not ratio and self.inputs is not None:
            raise ValueError(f"KPI {self.kpi.name!r} is not a ratio: it takes no inputs")
        if any(kpi.aggregation is Aggregation.RATIO for kpi in self.inputs or ()):
            raise ValueError(f"KPI {self.kpi.name!r} divides a ratio: not supported")
        for kpi in (self.kpi, *(self.inputs or ())):
            unknown = sorted(set(self.filters) - set(kpi.dimensions))
            if unknown:
                allowed = ", ".join(kpi.dimensions) or "none"
                raise ValueError(f"KPI {kpi.name!r} cannot be filtered by {unknown}; allowed: {allowed}")

    def read(self) -> list[KpiDefinition]:
        """The stored KPIs this request reads: itself, or a ratio's numerator and denominator."""
        return [self.kpi] if self.inputs is None else list(self.inputs)


@dataclass(frozen=True)
class MetricValues:
    """Every request's value in one statement: from the rollups, or as of `landed_by`.

    With no requests there is nothing to ask: callers skip the query (`to_sql` raises), and
    `parse([])` answers `{}`.
    """

    database: str
    requests: tuple[MetricRequest, ...]
    landed_by: datetime | None = None

    def __post_init__(self) -> None:
        keys = [r.key for r in self.requests]
        if len(set(keys)) != len(keys):
            raise ValueError(f"request keys must be unique, got {sorted(keys)}")

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        if not self.requests:
            raise ValueError("no requests: there is nothing to read")
        params: dict[str, Any] = {"database": self.database}
        if self.landed_by is not None:
            params["landed_by"] = self.landed_by.astimezone(UTC)
        branches = []
        for i, request in enumerate(self.requests):
            if request.inputs is None:
                branches.append(self._branch(f"r{i}_", request, _VALUE, request.kpi, params))
            else:
                numerator, denominator = request.inputs
                branches.append(self._branch(f"r{i}n_", request, _NUMERATOR, numerator, params))
                branches.append(self._branch(f"r{i}d_", request, _DENOMINATOR, denominator, params))
        return "\nUNION ALL\n".join(branches), params

    def _branch(
        self, p: str, request: MetricRequest, side: int, kpi: KpiDefinition, params: dict[str, Any]
    ) -> str:
        """(k, side, n, v): the request's key, what the row is, the rows merged, and the value."""
        params |= {
            f"{p}key": request.key,
            f"{p}start": request.start.astimezone(UTC),
            f"{p}end": request.end.astimezone(UTC),
        }
        head = f"SELECT {{{p}key:String}} AS k, {side} AS side, count() AS n"
        if self.landed_by is None:
            return self._from_rollup(p, head, request, kpi, params)
        return self._as_of(p, head, request, kpi, params)

    @staticmethod
    def _from_rollup(
        p: str, head: str, request: MetricRequest, kpi: KpiDefinition, params: dict[str, Any]
    ) -> str:
        merge, merge_params = merge_of(kpi, level=f"{p}level")
        params |= merge_params | {f"{p}table": rollup_table(kpi)}
        conditions = [f"bucket >= {{{p}start:{_TIME}}} AND bucket < {{{p}end:{_TIME}}}"]
        for key in kpi.dimensions:
            if key in request.filters:
                column = dimension_column(kpi, key)
                conditions.append(f"{column} = {{{p}{column}:String}}")
                params[f"{p}{column}"] = request.filters[key]
        return (
            f"{head}, toFloat64({merge}(value)) AS v\n"
            f"FROM {{database:Identifier}}.{{{p}table:Identifier}}\n"
            "WHERE " + "\n  AND ".join(conditions)
        )

    @staticmethod
    def _as_of(p: str, head: str, request: MetricRequest, kpi: KpiDefinition, params: dict[str, Any]) -> str:
        """The rollup's minute states, rebuilt from the rows landed by then, and merged."""
        _, state, merge, state_params = state_of(kpi)
        where, where_params = kpi_conditions(kpi)
        own = {**state_params, **where_params}
        state, merge, where = (_own_names(fragment, own, p) for fragment in (state, merge, where))
        params |= {p + name: value for name, value in own.items()}
        minute = "toStartOfMinute(occurred_at)"
        conditions = [
            where,
            _LANDED_BY,
            f"{minute} >= {{{p}start:{_TIME}}}",
            f"{minute} < {{{p}end:{_TIME}}}",
        ]
        for key in kpi.dimensions:
            if key in request.filters:
                column = dimension_column(kpi, key)
                conditions.append(f"dimensions[{{{p}{column}_key:String}}] = {{{p}{column}:String}}")
                params |= {f"{p}{column}_key": key, f"{p}{column}": request.filters[key]}
        where_all = "\n  AND ".join(conditions).replace("\n", "\n    ")
        return (
            f"{head}, toFloat64({merge}(s)) AS v\n"
            "FROM (\n"
            f"    SELECT {state} AS s\n"
            "    FROM {database:Identifier}.raw_events\n"
            f"    WHERE {where_all}\n"
            f"    GROUP BY {minute}\n"
            ")"
        )

    def parse(self, rows: list[tuple[Any, ...]]) -> dict[str, float | None]:
        """Every request's value by key: an empty window gives the KPI's empty value (0 for a count
        or a sum, None for an average); a ratio's missing numerator counts 0, as in a KPI series."""
        read = {(k, int(side)): (int(n), _number(v)) for k, side, n, v in rows}
        values: dict[str, float | None] = {}
        for request in self.requests:
            if request.inputs is None:
                n, value = read.get((request.key, _VALUE), (0, None))
                values[request.key] = value if n else request.kpi.empty_value
            else:
                n, numerator = read.get((request.key, _NUMERATOR), (0, None))
                d, denominator = read.get((request.key, _DENOMINATOR), (0, None))
                values[request.key] = ratio_value(numerator if n else 0.0, denominator if d else None)
        return values


def _own_names(fragment: str, params: Mapping[str, Any], prefix: str) -> str:
    """A shared fragment with each of its parameters renamed `prefix + name`, so branches never share one."""

    def rename(match: re.Match[str]) -> str:
        name = match.group(1)
        return f"{{{prefix}{name}:" if name in params else match.group(0)

    return _PLACEHOLDER.sub(rename, fragment)


def _number(value: Any) -> float | None:
    return None if value is None or value != value else float(value)  # NaN: avg of nothing


@dataclass(frozen=True)
class MilestonesReached:
    """The milestones each key result has reached, from its check-ins in [start, end).

    The latest check-in of a milestone, by (occurred_at, event_id), decides: reached unless it
    says `reached: "false"` (an undo). With `landed_by`, only check-ins landed by then count.
    Requests are (key_result, start, end); with none, callers skip the query, as for MetricValues.
    """

    database: str
    requests: tuple[tuple[str, datetime, datetime], ...]
    landed_by: datetime | None = None

    def __post_init__(self) -> None:
        ids = [key_result for key_result, _, _ in self.requests]
        if len(set(ids)) != len(ids):
            raise ValueError(f"key results must be requested once each, got {sorted(ids)}")

    def to_sql(self) -> tuple[str, dict[str, Any]]:
        if not self.requests:
            raise ValueError("no requests: there is nothing to read")
        params: dict[str, Any] = {"database": self.database, "type": CHECK_IN_TYPE}
        windows = []
        for i, (key_result, start, end) in enumerate(self.requests):
            windows.append(
                f"dimensions['key_result'] = {{m{i}:String}}"
                f" AND occurred_at >= {{m{i}_start:{_TIME}}} AND occurred_at < {{m{i}_end:{_TIME}}}"
            )
            params |= {
                f"m{i}": key_result,
                f"m{i}_start": start.astimezone(UTC),
                f"m{i}_end": end.astimezone(UTC),
            }
        landed = ""
        if self.landed_by is not None:
            landed = f"      AND {_LANDED_BY}\n"
            params["landed_by"] = self.landed_by.astimezone(UTC)
        either = "\n        OR ".join(f"({w})" for w in windows)
        sql = (
            "SELECT key_result, groupArray(milestone)\n"
            "FROM (\n"
            "    SELECT\n"
            "        dimensions['key_result'] AS key_result,\n"
            "        dimensions['milestone'] AS milestone,\n"
            "        argMax(dimensions['reached'] != 'false', (occurred_at, event_id)) AS reached\n"
            "    FROM {database:Identifier}.raw_events\n"
            "    WHERE type = {type:String}\n"
            f"      AND (\n        {either}\n      )\n"
            f"{landed}"
            "    GROUP BY key_result, milestone\n"
            ")\n"
            "WHERE reached\n"
            "GROUP BY key_result"
        )
        return sql, params

    def parse(self, rows: list[tuple[Any, ...]]) -> dict[str, frozenset[str]]:
        reached = {key_result: frozenset[str]() for key_result, _, _ in self.requests}
        for key_result, milestones in rows:
            reached[key_result] = frozenset(milestones)
        return reached
