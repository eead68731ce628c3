"""N KPI definitions over the benchmark's event types, every stored aggregation represented.

Ratios are left out: they have no rollup and cost nothing while events land. Past the first
round of templates each KPI gets its own threshold filter, so no two are the same definition.
"""

from __future__ import annotations

from typing import Any

import yaml

# (name, event type, fields); every one valid for schemas/event_types.yaml
TEMPLATES: list[tuple[str, str, dict[str, Any]]] = [
    ("orders", "order.placed", {"aggregation": "count", "dimensions": ["region", "channel"]}),
    (
        "revenue",
        "order.placed",
        {"aggregation": "sum", "measure": "amount", "dimensions": ["region", "channel"]},
    ),
    ("avg_order", "order.placed", {"aggregation": "avg", "measure": "amount", "dimensions": ["region"]}),
    ("largest_order", "order.placed", {"aggregation": "max", "measure": "amount", "dimensions": ["region"]}),
    ("smallest_order", "order.placed", {"aggregation": "min", "measure": "amount"}),
    ("p90_order", "order.placed", {"aggregation": "quantile", "quantile": 0.9, "measure": "amount"}),
    ("buyers", "order.placed", {"aggregation": "count_distinct", "of": "subject", "dimensions": ["region"]}),
    (
        "buyers_approx",
        "order.placed",
        {"aggregation": "count_distinct", "of": "subject", "approximate": True},
    ),
    ("last_order", "order.placed", {"aggregation": "latest", "measure": "amount"}),
    ("deals", "deal.closed", {"aggregation": "count", "dimensions": ["region", "segment"]}),
    ("deal_value", "deal.closed", {"aggregation": "sum", "measure": "amount", "dimensions": ["segment"]}),
    (
        "median_response",
        "ticket.answered",
        {
            "aggregation": "quantile",
            "quantile": 0.5,
            "measure": "first_response_seconds",
            "dimensions": ["priority"],
        },
    ),
    (
        "signups",
        "customer.signed_up",
        {"aggregation": "count_distinct", "of": "subject", "dimensions": ["plan"]},
    ),
    ("sessions", "session.started", {"aggregation": "count", "dimensions": ["region", "channel"]}),
]
_MEASURED = {"order.placed": "amount", "deal.closed": "amount", "ticket.answered": "first_response_seconds"}


def kpi_catalog(count: int) -> str:
    """YAML holding `count` KPIs, named kNN_<template>."""
    kpis: dict[str, dict[str, Any]] = {}
    for i in range(count):
        name, kind, fields = TEMPLATES[i % len(TEMPLATES)]
        kpi = {"title": name, "events": kind, **fields}
        if i >= len(TEMPLATES):
            if kind in _MEASURED:
                kpi["filters"] = [{"field": f"measures.{_MEASURED[kind]}", "op": "gte", "value": i}]
            else:
                kpi["filters"] = [{"field": "dimensions.region", "op": "ne", "value": f"none-{i}"}]
        kpis[f"k{i:02d}_{name}"] = kpi
    return yaml.safe_dump({"kpis": kpis}, sort_keys=False)
