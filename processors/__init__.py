"""Streaming events from the log into ClickHouse, KPIs computed there, and the process that runs it all.

The KPI functions are the Python API behind `okrstream kpi` and `/v1/kpis`:

    settings = Settings.from_env(os.environ)
    with open_store(settings) as store:
        kpis = applied_kpis(store, settings.clickhouse_database)
        for reading in kpi_readings(store, settings.clickhouse_database, kpis, "revenue", start, end):
            print(reading.period, reading.value, reading.change, reading.healthy)

Each name is imported from its sub-package on first use: importing one sub-package (the CLI, the
statements of `processors.clickhouse`) does not load the others' dependencies, faust, chDB and
FastAPI among them.
"""

from __future__ import annotations

import typing

from . import _lazy

if typing.TYPE_CHECKING:
    from .kpi import applied_kpis, apply_kpis, kpi_readings, kpi_series, read_catalog
    from .runtime import build_app, load_registry
    from .sink import BatchingSink, LogRecord, RawEventsSink, SinkBatch, SinkError, SinkStats
    from .store import ApiKeyStore, Store, open_store

__all__ = [
    "ApiKeyStore",
    "BatchingSink",
    "LogRecord",
    "RawEventsSink",
    "SinkBatch",
    "SinkError",
    "SinkStats",
    "Store",
    "applied_kpis",
    "apply_kpis",
    "build_app",
    "kpi_readings",
    "kpi_series",
    "load_registry",
    "open_store",
    "read_catalog",
]

_HOMES = {
    "ApiKeyStore": ".store",
    "BatchingSink": ".sink",
    "LogRecord": ".sink",
    "RawEventsSink": ".sink",
    "SinkBatch": ".sink",
    "SinkError": ".sink",
    "SinkStats": ".sink",
    "Store": ".store",
    "applied_kpis": ".kpi",
    "apply_kpis": ".kpi",
    "build_app": ".runtime",
    "kpi_readings": ".kpi",
    "kpi_series": ".kpi",
    "load_registry": ".runtime",
    "open_store": ".store",
    "read_catalog": ".kpi",
}

__getattr__ = _lazy.lazy_names(__name__, __all__, _HOMES)
