"""The numbers key results are scored from, for many key results in one statement.

chDB runs one query at a time and a scorer recomputes dozens of key results at once, so they are
read in one UNION ALL. Planning costs chDB about 5.5 ms per branch, whatever the branch reads, so
requests share branches: one per stored KPI and window [start, end), each with parameters of its
own (`b3_...`). A ratio's request joins the branches of its numerator and of its denominator.
A branch aggregates once, `GROUP BY GROUPING SETS` over the sets of dimensions its requests
filter by (none: the total), and its HAVING keeps only the groups requested, so a break-down by
a dimension of many values returns the few rows asked for, not all of them.

Values come from one of two places that agree once everything has landed:
- the KPI rollups (`landed_by=None`): the current values, merged from the hourly level for the
  window's whole UTC hours and from the minute rollup for the minutes at its edges. A key
  result's window is often a quarter, read at every recomputation: a quarter of minute buckets
  is 60 times the rows, and the read grew with the events until every minute had its rows;
- raw_events as of a landing instant (`landed_by`): only the rows that had landed by then, put
  in the rollup's minute buckets by the rollup's own SELECT (`kpi_select`) and merged from the
  same -State functions, so a recomputation of a past score sees exactly what the live scorer
  saw, whatever landed late since.

A window [start, end) takes whole minute buckets: those whose minute starts in it, as the
rollups store them.
"""

from __future__ import annotations

import textwrap
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from schemas import CHECK_IN_TYPE, Aggregation, KpiDefinition, ratio_value

from .kpi_rollup_ddl import dimension_column, hourly_of, kpi_select, merge_of, rollup_table

_TIME = "DateTime64(6, 'UTC')"
_LANDED_BY = f"landed_at <= {{landed_by:{_TIME}}}"
_MINUTE = "toStartOfMinute(occurred_at)"
Group = tuple[tuple[int, str], ...]  # the (dimension position, value) pairs a request filters by
RowKey = tuple[int, int, tuple[str, ...]]  # a row's (b, g, dims): see _Branch


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
    `parse([])` answers `{}`. Rows are (b, g, dims, n, v): the branch, the grouping mask and
    dimension values of the group (see _Branch), the minute states merged, and the value.
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
        branches, _ = self._plan()
        return "\nUNION ALL\n".join(self._branch(branch, params) for branch in branches), params

    def parse(self, rows: list[tuple[Any, ...]]) -> dict[str, float | None]:
        """Every request's value by key: an empty window gives the KPI's empty value (0 for a count
        or a sum, None for an average); a ratio's missing numerator counts 0, as in a KPI series."""
        read = {(int(b), int(g), tuple(dims)): (int(n), _number(v)) for b, g, dims, n, v in rows}
        _, rows_of = self._plan()
        values: dict[str, float | None] = {}
        for request, keys in zip(self.requests, rows_of, strict=True):
            found = [read.get(key, (0, None)) for key in keys]
            if request.inputs is None:
                [(n, value)] = found
                values[request.key] = value if n else request.kpi.empty_value
            else:
                (n, numerator), (d, denominator) = found
                values[request.key] = ratio_value(numerator if n else 0.0, denominator if d else None)
        return values

    def _plan(self) -> tuple[list[_Branch], list[list[RowKey]]]:
        """The branches, in order of first use, and the rows each request reads (two for a ratio)."""
        branches: dict[tuple[str, datetime, datetime], _Branch] = {}
        reads: list[list[tuple[_Branch, Group]]] = []
        for request in self.requests:
            window = request.start.astimezone(UTC), request.end.astimezone(UTC)
            reads.append([])
            for kpi in request.read():
                key = (rollup_table(kpi), *window)
                branch = branches.setdefault(key, _Branch(len(branches), kpi, *window))
                reads[-1].append((branch, branch.want(request.filters)))
        rows = [[(branch.index, *branch.row(group)) for branch, group in read] for read in reads]
        return list(branches.values()), rows

    def _branch(self, branch: _Branch, params: dict[str, Any]) -> str:
        p, kpi = f"b{branch.index}_", branch.kpi
        merge, merge_params = merge_of(kpi, level=f"{p}level")
        params |= merge_params | {f"{p}id": branch.index, f"{p}start": branch.start, f"{p}end": branch.end}
        if self.landed_by is None:
            source = _rollup_source(branch, params)
        else:  # the rollup's rows, rebuilt from what had landed: its own SELECT, in the window
            landed = "\n  AND ".join(
                [_LANDED_BY, f"{_MINUTE} >= {{{p}start:{_TIME}}}", f"{_MINUTE} < {{{p}end:{_TIME}}}"]
            )
            select, select_params = kpi_select(kpi, self.database, (landed, {}), prefix=p)
            params |= select_params
            source = "(\n" + textwrap.indent(select, "    ") + "\n)"
        names = {j: dimension_column(kpi, kpi.dimensions[j]) for j in branch.columns()}
        columns = list(names.values())
        if not columns:
            return (
                f"SELECT {{{p}id:UInt32}} AS b, toUInt64(0) AS g, CAST([] AS Array(String)) AS dims,"
                f" count() AS n, toFloat64({merge}(value)) AS v\nFROM {source}"
            )
        listed = ", ".join(columns)
        sets = ", ".join("(" + ", ".join(names[j] for j in positions) + ")" for positions in branch.sets())
        params[f"{p}wanted"] = [(mask, *values) for mask, values in map(branch.row, branch.wanted)]
        wanted = f"{{{p}wanted:Array(Tuple(UInt64{', String' * len(columns)}))}}"
        return (
            f"SELECT {{{p}id:UInt32}} AS b, grouping({listed}) AS g, [{listed}] AS dims,"
            f" count() AS n, toFloat64({merge}(value)) AS v\n"
            f"FROM {source}\n"
            f"GROUP BY GROUPING SETS ({sets})\n"
            f"HAVING (g, {listed}) IN {wanted}"
        )


@dataclass
class _Branch:
    """One stored KPI over one window, and the groups of it that requests read.

    A request reads the group of its filters: dimension positions and values, () for the total.
    The branch groups by the dimensions some request filters by (`columns`, ClickHouse wants
    each argument of grouping() among the GROUP BY keys), and answers a group with the row whose
    (g, dims) is `row(group)`: g = grouping(columns), a bit 1 for each column not in the group's
    grouping set (the SQL standard's rule, ClickHouse's default), the first column the most
    significant; dims = [columns], '' where not grouped by. So a filter on plan = '' and the
    total over every plan are two rows, told apart by g.
    """

    index: int
    kpi: KpiDefinition
    start: datetime
    end: datetime
    wanted: dict[Group, None] = field(default_factory=dict)  # in order of first use

    def want(self, filters: Mapping[str, str]) -> Group:
        """The group of the events whose dimensions equal `filters`, now among those read."""
        group = tuple((j, filters[key]) for j, key in enumerate(self.kpi.dimensions) if key in filters)
        self.wanted[group] = None
        return group

    def columns(self) -> list[int]:
        """The positions of the dimensions grouped by: none when every request reads the total."""
        return sorted({j for group in self.wanted for j, _ in group})

    def sets(self) -> list[tuple[int, ...]]:
        """The grouping sets (dimension positions), fewest dimensions first."""
        chosen = {tuple(j for j, _ in group) for group in self.wanted}
        return sorted(chosen, key=lambda positions: (len(positions), positions))

    def row(self, group: Group) -> tuple[int, tuple[str, ...]]:
        """The (g, dims) of the row that answers a group; (0, ()) for the one row of a branch
        without GROUP BY."""
        values, columns = dict(group), self.columns()
        mask = sum(1 << (len(columns) - 1 - k) for k, j in enumerate(columns) if j not in values)
        return mask, tuple(values.get(j, "") for j in columns)


def _rollup_source(branch: _Branch, params: dict[str, Any]) -> str:
    """Where a branch reads the current states: the minute rollup, or, when the window holds a
    whole UTC hour, the hourly level for its whole hours and the minute rollup for the minutes
    before the first and after the last (the two levels hold the same states)."""
    p = f"b{branch.index}_"
    params[f"{p}table"] = rollup_table(branch.kpi)
    first = branch.start.replace(minute=0, second=0, microsecond=0)
    if first < branch.start:
        first += timedelta(hours=1)
    last = branch.end.replace(minute=0, second=0, microsecond=0)
    if last <= first:
        return (
            f"{{database:Identifier}}.{{{p}table:Identifier}}\n"
            f"WHERE bucket >= {{{p}start:{_TIME}}} AND bucket < {{{p}end:{_TIME}}}"
        )
    params |= {f"{p}hours": hourly_of(rollup_table(branch.kpi)), f"{p}first": first, f"{p}last": last}
    columns = ", ".join([*(dimension_column(branch.kpi, key) for key in branch.kpi.dimensions), "value"])
    return (
        "(\n"
        f"    SELECT {columns} FROM {{database:Identifier}}.{{{p}hours:Identifier}}\n"
        f"    WHERE bucket >= {{{p}first:{_TIME}}} AND bucket < {{{p}last:{_TIME}}}\n"
        "    UNION ALL\n"
        f"    SELECT {columns} FROM {{database:Identifier}}.{{{p}table:Identifier}}\n"
        f"    WHERE (bucket >= {{{p}start:{_TIME}}} AND bucket < {{{p}first:{_TIME}}})\n"
        f"       OR (bucket >= {{{p}last:{_TIME}}} AND bucket < {{{p}end:{_TIME}}})\n"
        ")"
    )


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
