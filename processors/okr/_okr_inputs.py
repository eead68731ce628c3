"""The numbers metric and milestone key results are scored from, read in one statement each.

The live scorer reads the KPI rollups (`landed_by=None`); "as of" reads the raw events that had
landed by then. Both count an event by the same minute-bucket rule, so they agree.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from zoneinfo import ZoneInfo

from schemas import (
    KeyResult,
    KeyResultInputs,
    KeyResultKind,
    KpiDefinition,
    Objective,
    baseline_window,
    measured_window,
    needs_baseline,
    reads_cumulative,
)

from ..clickhouse.key_result_values import MetricRequest, MetricValues, MilestonesReached
from ..store import Store

Item = tuple[Objective, KeyResult, datetime]  # a key result to score at an instant


def read_inputs(
    store: Store,
    database: str,
    items: Sequence[Item],
    kpis: dict[str, KpiDefinition],
    zone: ZoneInfo,
    landed_by: datetime | None = None,
) -> dict[str, KeyResultInputs]:
    """Inputs of every metric and milestone key result in `items` (rollups read scores instead)."""
    requests: list[MetricRequest] = []
    checkins: list[tuple[str, datetime, datetime]] = []
    for objective, kr, at in items:
        if kr.kind is KeyResultKind.METRIC and kr.metric is not None and kr.metric.kpi in kpis:
            kpi = kpis[kr.metric.kpi]
            inputs = (kpis[kpi.inputs[0]], kpis[kpi.inputs[1]]) if kpi.inputs else None
            filters = dict(kr.metric.filters)
            start, end = measured_window(objective, kr, at, zone)
            requests.append(MetricRequest(kr.id, kpi, start, end, filters, inputs))
            if needs_baseline(kr):
                base_start, base_end = baseline_window(objective, zone)
                requests.append(
                    MetricRequest(f"{kr.id}/baseline", kpi, base_start, base_end, filters, inputs)
                )
        elif kr.kind is KeyResultKind.MILESTONE:
            start, end = objective.period.bounds(zone)
            checkins.append((kr.id, start, min(end, max(start, at))))
    values: dict[str, float | None] = {}
    if requests:
        metrics = MetricValues(database, tuple(requests), landed_by)
        values = metrics.parse(store.fetch(metrics))
    reached: dict[str, frozenset[str]] = {}
    if checkins:
        milestones = MilestonesReached(database, tuple(checkins), landed_by)
        reached = milestones.parse(store.fetch(milestones))
    found = {}
    for _, kr, _ in items:
        if kr.kind is KeyResultKind.METRIC and kr.id in values:
            assert kr.metric is not None
            found[kr.id] = KeyResultInputs(
                current=values[kr.id],
                baseline=values.get(f"{kr.id}/baseline"),
                cumulative=reads_cumulative(kr, kpis[kr.metric.kpi]),
            )
        elif kr.kind is KeyResultKind.MILESTONE:
            found[kr.id] = KeyResultInputs(reached=reached.get(kr.id, frozenset()))
    return found
