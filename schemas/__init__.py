"""okrstream's pure data contracts: the event model, per-type schemas, validation errors and settings."""

from ._dead_letter import OKRSTREAM_VERSION, dead_letter_record
from ._errors import (
    ConfigError,
    EventValidationError,
    FieldError,
    InvalidFieldsError,
    field_errors_from_pydantic,
)
from ._event import MAX_YEAR, MIN_YEAR, RawEvent, event_to_json_dict, utc_iso
from ._event_types import DimensionSpec, EventTypeRegistry, EventTypeSchema, MeasureSpec, UnknownTypePolicy
from ._kpi import KPI_NAME_PATTERN, Aggregation, Grain, HealthBand, KpiCatalog, KpiDefinition, ratio_value
from ._kpi_filters import Filter, FilterOp
from ._kpi_periods import (
    GroupKey,
    KpiReading,
    in_context,
    period_start,
    periods,
    previous_period,
    relative_change,
    shift_period,
    year_earlier,
)
from ._kpi_plan import KpiPlan, plan_kpis
from ._records import RECORD_FORMAT, chunk, decode_record, encode_record, partition_for
from ._settings import Settings, env_name
from ._validate import validate_event

__all__ = [
    "KPI_NAME_PATTERN",
    "MAX_YEAR",
    "MIN_YEAR",
    "OKRSTREAM_VERSION",
    "RECORD_FORMAT",
    "Aggregation",
    "ConfigError",
    "DimensionSpec",
    "EventTypeRegistry",
    "EventTypeSchema",
    "EventValidationError",
    "FieldError",
    "Filter",
    "FilterOp",
    "Grain",
    "GroupKey",
    "HealthBand",
    "InvalidFieldsError",
    "KpiCatalog",
    "KpiDefinition",
    "KpiPlan",
    "KpiReading",
    "MeasureSpec",
    "RawEvent",
    "Settings",
    "UnknownTypePolicy",
    "chunk",
    "dead_letter_record",
    "decode_record",
    "encode_record",
    "env_name",
    "event_to_json_dict",
    "field_errors_from_pydantic",
    "in_context",
    "partition_for",
    "period_start",
    "periods",
    "plan_kpis",
    "previous_period",
    "ratio_value",
    "relative_change",
    "shift_period",
    "utc_iso",
    "validate_event",
    "year_earlier",
]
