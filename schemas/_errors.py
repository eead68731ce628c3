"""Field-level validation errors: one uniform shape so HTTP replies, dead letters and logs agree."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pydantic

from ._bounds import ECHO_CHARS, MAX_ERRORS_LISTED, echo, echo_repr, join_path


@dataclass(frozen=True)
class FieldError:
    """One problem: where (dotted path), what (human text) and which rule (machine code)."""

    path: str
    message: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}: {self.message}"


def errors_json(
    errors: Iterable[FieldError], listed: int = MAX_ERRORS_LISTED
) -> tuple[list[dict[str, str]], int]:
    """The first `listed` errors as JSON, each cut to a bounded size, and how many more there were.

    What a client sent is echoed in paths and messages; this keeps an answer or a dead letter
    small however many fields, or however long ones, an event had.
    """
    errors = tuple(errors)
    shown = [
        {"path": echo(e.path, 2 * ECHO_CHARS), "message": echo(e.message, 4 * ECHO_CHARS), "rule": e.rule}
        for e in errors[:listed]
    ]
    return shown, len(errors) - len(shown)


class InvalidFieldsError(ValueError):
    """Base for errors that carry every FieldError at once instead of stopping at the first."""

    def __init__(self, errors: Iterable[FieldError]) -> None:
        self.errors: tuple[FieldError, ...] = tuple(errors)
        super().__init__(self.errors)  # args stay re-constructible, so the error pickles across processes

    def __str__(self) -> str:
        return "; ".join(map(str, self.errors))


class EventValidationError(InvalidFieldsError):
    """An incoming event was rejected; `errors` names every bad field."""


class ConfigError(InvalidFieldsError):
    """Event-type definitions or settings are invalid; paths name the type or env variable."""


def json_type_name(value: Any) -> str:
    """Name a Python value by its JSON type, because clients think in JSON, not Python."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


_TYPE_MESSAGES = {
    "string_type": "must be a string",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be an integer",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "bool_type": "must be a boolean",
    "bool_parsing": "must be a boolean",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
    "list_type": "must be an array",
    "tuple_type": "must be an array",
    "path_type": "must be a path",
}
_BOUNDS = {"greater_than": ">", "greater_than_equal": ">=", "less_than": "<", "less_than_equal": "<="}


def _path(loc: tuple[str | int, ...]) -> str:
    return join_path([part if isinstance(part, int) else str(part) for part in loc])


def _shown(value: Any) -> str:
    """A rejected value as a message repeats it: strings quoted, anything else as Python shows it, cut."""
    return echo_repr(value) if isinstance(value, str) else echo(repr(value))


def _convert(err: Any) -> FieldError:
    kind, ctx, value = err["type"], err.get("ctx") or {}, err.get("input")
    loc = tuple(err["loc"])
    if kind == "missing":
        message, rule = "field required", "required"
    elif kind == "extra_forbidden":
        message, rule = "unknown field", "extra_forbidden"
    elif kind in _TYPE_MESSAGES:
        message, rule = f"{_TYPE_MESSAGES[kind]}, got {json_type_name(value)}", "type"
        if isinstance(value, str):
            message += f" {echo_repr(value)}"
    elif kind == "string_pattern_mismatch":
        message, rule = f"must match {ctx['pattern']}", "pattern"
    elif kind == "string_too_short":
        n = ctx["min_length"]
        message = "must not be empty" if n == 1 else f"must be at least {n} characters"
        rule = "min_length"
    elif kind == "string_too_long":
        message, rule = f"must be at most {ctx['max_length']} characters", "max_length"
    elif kind == "too_long" and ctx.get("field_type") == "Dictionary":
        message = f"must have at most {ctx['max_length']} keys, got {len(value)}"
        rule = "too_many_keys"
    elif kind in _BOUNDS:
        bound = next(iter(ctx.values()))
        message, rule = f"must be {_BOUNDS[kind]} {bound}, got {_shown(value)}", "range"
    elif kind in ("enum", "literal_error"):
        message, rule = f"must be {ctx['expected']}, got {_shown(value)}", "enum"
    elif kind == "value_error":
        message, rule = err["msg"].removeprefix("Value error, "), "value"
    else:  # our PydanticCustomError types already carry a clean message and rule code
        message, rule = err["msg"], kind
    if loc and loc[-1] == "[key]":
        loc = loc[:-1]
        message, rule = f"invalid key {echo_repr(str(loc[-1]))}: {message}", "invalid_key"
    return FieldError(_path(loc), message, rule)


def field_errors_from_pydantic(exc: pydantic.ValidationError) -> tuple[FieldError, ...]:
    """Translate pydantic's errors into FieldErrors with clean messages and stable rule codes."""
    return tuple(_convert(err) for err in exc.errors(include_url=False))
