"""Reading events from files: NDJSON, or CSV with a column mapping. Each line keeps its number and text."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson

from schemas import FieldError


@dataclass(frozen=True)
class SourceLine:
    line: int
    text: str
    data: Any = None
    error: FieldError | None = None


def read_ndjson(path: Path) -> Iterator[SourceLine]:
    with path.open("r", encoding="utf-8", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            try:
                yield SourceLine(number, text, orjson.loads(text))
            except orjson.JSONDecodeError as e:
                yield SourceLine(number, text, error=FieldError("$", f"invalid JSON: {e}", "json"))


def read_csv(
    path: Path, columns: Mapping[str, str] | None = None, constants: Mapping[str, str] | None = None
) -> Iterator[SourceLine]:
    """CSV rows as canonical events.

    `columns` maps a canonical field (`event_id`, `measures.amount`, `dimensions.region`) to the
    CSV column holding it; columns already named canonically need no entry. `constants` sets
    fields that the file does not carry (`source=shop`). Empty cells are left out. Measures
    that parse as numbers become numbers; anything else is left as text for validation to reject.
    """
    columns = dict(columns or {})
    with path.open("r", encoding="utf-8", errors="replace", newline="") as f:
        reader = csv.DictReader(f)
        fields = reader.fieldnames or []
        mapping = {name: name for name in fields if name not in columns.values()} | {
            column: field for field, column in columns.items()
        }
        for row in reader:
            line = reader.line_num
            text = ",".join(row.get(name) or "" for name in fields)
            event: dict[str, Any] = {}
            for key, value in (constants or {}).items():
                _put(event, key, value)
            for column, value in row.items():
                if column in mapping and value not in (None, ""):
                    _put(event, mapping[column], value)
            yield SourceLine(line, text, event)


def _put(event: dict[str, Any], field: str, value: str) -> None:
    group, _, key = field.partition(".")
    if group in ("dimensions", "measures") and key:
        event.setdefault(group, {})[key] = _number(value) if group == "measures" else value
    else:
        event[field] = value


def _number(text: str) -> float | str:
    try:
        return float(text)
    except ValueError:
        return text
