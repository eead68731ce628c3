"""Streaming events from the log into ClickHouse, KPIs computed there, and the process that runs it all.

The KPI functions are the Python API behind `okrstream kpi` and `/v1/kpis`:

    settings = Settings.from_env(os.environ)
    with open_store(settings) as store:
        kpis = applied_kpis(store, settings.clickhouse_database)
        for reading in kpi_readings(store, settings.clickhouse_database, kpis, "revenue", start, end):
            print(reading.period, reading.value, reading.change, reading.healthy)
"""

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
