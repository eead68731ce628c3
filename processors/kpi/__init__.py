"""KPIs: applying definitions (rollups and their views) and reading them per period, in context."""

from ._kpis import (
    applied_kpis,
    apply_kpis,
    kpi_listing,
    kpi_readings,
    kpi_report,
    kpi_series,
    plan_report,
    read_catalog,
    series_window,
    shipped_kpis,
)

__all__ = [
    "applied_kpis",
    "apply_kpis",
    "kpi_listing",
    "kpi_readings",
    "kpi_report",
    "kpi_series",
    "plan_report",
    "read_catalog",
    "series_window",
    "shipped_kpis",
]
