"""okrstream's pure data contracts: the event model, per-type schemas, validation errors and settings."""

from ._api_keys import Access, ApiKey, KeyRing, Unauthenticated, api_key_json, new_api_key, parse_token
from ._cloudevents import cloudevent_from_headers, validate_cloudevent
from ._dead_letter import OKRSTREAM_VERSION, dead_letter_record
from ._errors import (
    ConfigError,
    EventValidationError,
    FieldError,
    InvalidFieldsError,
    field_errors_from_pydantic,
    json_type_name,
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
from ._mappings import FieldSource, Mapping, MappingCatalog, PayloadPolicy, TimeFormat, map_event
from ._records import RECORD_FORMAT, chunk, decode_record, encode_record, partition_for
from ._settings import AuthMode, Settings, env_name
from ._validate import validate_event

__all__ = [
    "KPI_NAME_PATTERN",
    "MAX_YEAR",
    "MIN_YEAR",
    "OKRSTREAM_VERSION",
    "RECORD_FORMAT",
    "Access",
    "Aggregation",
    "ApiKey",
    "AuthMode",
    "ConfigError",
    "DimensionSpec",
    "EventTypeRegistry",
    "EventTypeSchema",
    "EventValidationError",
    "FieldError",
    "FieldSource",
    "Filter",
    "FilterOp",
    "Grain",
    "GroupKey",
    "HealthBand",
    "InvalidFieldsError",
    "KeyRing",
    "KpiCatalog",
    "KpiDefinition",
    "KpiPlan",
    "KpiReading",
    "Mapping",
    "MappingCatalog",
    "MeasureSpec",
    "PayloadPolicy",
    "RawEvent",
    "Settings",
    "TimeFormat",
    "Unauthenticated",
    "UnknownTypePolicy",
    "api_key_json",
    "chunk",
    "cloudevent_from_headers",
    "dead_letter_record",
    "decode_record",
    "encode_record",
    "env_name",
    "event_to_json_dict",
    "field_errors_from_pydantic",
    "in_context",
    "json_type_name",
    "map_event",
    "new_api_key",
    "parse_token",
    "partition_for",
    "period_start",
    "periods",
    "plan_kpis",
    "previous_period",
    "ratio_value",
    "relative_change",
    "shift_period",
    "utc_iso",
    "validate_cloudevent",
    "validate_event",
    "year_earlier",
]
