"""Structured KPI filters: conditions on event fields whose constants become query parameters, never SQL."""

from __future__ import annotations

import math
import re
from enum import StrEnum
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, ValidationInfo, field_validator
from pydantic_core import PydanticCustomError

from ._errors import json_type_name
from ._event import KEY_PATTERN


def _field_ref(value: str, kinds: tuple[str, ...]) -> str:
    """Accept `subject` or `<kind>.<key>`: the same names events use, so definitions read like events."""
    kind, dot, key = value.partition(".")
    if (value == "subject" and "subject" in kinds) or (
        dot and kind in kinds and kind != "subject" and re.fullmatch(KEY_PATTERN, key)
    ):
        return value
    choices = ["'subject'" if k == "subject" else f"'{k}.<key>'" for k in kinds]
    raise PydanticCustomError(
        "field_ref",
        "must be {choices}, got {value}",
        {"choices": ", ".join(choices[:-1]) + " or " + choices[-1], "value": repr(value)},
    )


FilterField = Annotated[str, AfterValidator(lambda v: _field_ref(v, ("subject", "dimensions", "measures")))]
CountedField = Annotated[str, AfterValidator(lambda v: _field_ref(v, ("subject", "dimensions")))]


class FilterOp(StrEnum):
    """How a field is compared with the filter's value; ordering ops only make sense on measures."""

    EQ = "eq"
    NE = "ne"
    IN = "in"
    GT = "gt"
    GTE = "gte"
    LT = "lt"
    LTE = "lte"


ORDERING_OPS = frozenset({FilterOp.GT, FilterOp.GTE, FilterOp.LT, FilterOp.LTE})


def _constant(value: Any, numeric: bool | None) -> str | float | None:
    """The value as a constant (None if unusable): strings for dimensions, finite numbers for measures."""
    if isinstance(value, str) and numeric is not True:
        return value
    if isinstance(value, int | float) and not isinstance(value, bool) and numeric is not False:
        try:
            number = float(value)
        except OverflowError:
            return None
        return number if math.isfinite(number) else None
    return None


def _shown(value: Any) -> str:
    if isinstance(value, str):
        return f"string {value[:64]!r}"
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)
    return json_type_name(value)


class Filter(BaseModel):
    """One condition such as `measures.amount gt 100000`; every filter of a KPI must hold (AND)."""

    model_config = ConfigDict(frozen=True, extra="forbid")
    field: FilterField
    op: FilterOp
    value: str | float | tuple[str | float, ...]

    @property
    def kind(self) -> str:
        """`subject`, `dimensions` or `measures`."""
        return self.field.partition(".")[0]

    @property
    def key(self) -> str | None:
        """The dimension or measure key, None for the subject."""
        return self.field.partition(".")[2] or None

    @property
    def values(self) -> tuple[str | float, ...]:
        """The constants compared with, as a tuple also for a single value."""
        return self.value if isinstance(self.value, tuple) else (self.value,)

    @field_validator("op")
    @classmethod
    def _op_fits_field(cls, op: FilterOp, info: ValidationInfo) -> FilterOp:
        field = info.data.get("field")
        if op in ORDERING_OPS and field is not None and not field.startswith("measures."):
            raise PydanticCustomError(
                "op_field",
                "{op} compares numbers, so it needs a 'measures.<key>' field, not {field}",
                {"op": op.value, "field": repr(field)},
            )
        return op

    @field_validator("value", mode="before")
    @classmethod
    def _value_fits(cls, value: Any, info: ValidationInfo) -> Any:
        """Strings for the subject and dimensions, numbers for measures, a list only for `in`."""
        field, op = info.data.get("field"), info.data.get("op")
        numeric = None if field is None or op is None else field.startswith("measures.")  # else unknowable
        want = {None: "string or number", True: "number", False: "string"}[numeric]
        is_list = isinstance(value, list | tuple)
        if op is FilterOp.IN or (op is None and is_list):
            if not is_list or not value:
                raise PydanticCustomError(
                    "value", "must be a non-empty array for op in, got {got}", {"got": _shown(value)}
                )
            items = [_constant(v, numeric) for v in value]
            for i, item in enumerate(items):
                if item is None:
                    raise PydanticCustomError(
                        "value",
                        "item {i} must be a {want}, got {got}",
                        {"i": i, "want": want, "got": _shown(value[i])},
                    )
            return tuple(items)
        if is_list:
            raise PydanticCustomError(
                "value",
                "{op} takes a single {want}, got an array; use op in to match any of several",
                {"op": op, "want": want},
            )
        item = _constant(value, numeric)
        if item is None:
            where = f" for {field}" if field else ""
            raise PydanticCustomError(
                "value",
                "must be a {want}{where}, got {got}",
                {"want": want, "where": where, "got": _shown(value)},
            )
        return item
