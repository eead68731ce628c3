"""Reading events from files: NDJSON, or CSV with a column mapping. Each line keeps its number and text."""

from __future__ import annotations

import csv
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

import orjson

from schemas import FieldError


@dataclass(frozen=True)
class SourceLine:
    line: int
    text: str
    data: Any = None
    error: FieldError | None = None


def read_ndjson(path: Path, decoded: bool = True) -> Iterator[SourceLine]:
    """The lines that are not blank; `decoded=False` leaves each to `decode_ndjson` (in a worker)."""
    # utf-8-sig: a byte-order mark (as some editors write) is not part of the first line
    with path.open("r", encoding="utf-8-sig", errors="replace") as f:
        for number, text in enumerate(f, start=1):
            text = text.rstrip("\r\n")
            if not text.strip():
                continue
            line = SourceLine(number, text)
            yield decode_ndjson(line) if decoded else line


def decode_ndjson(line: SourceLine) -> SourceLine:
    """The line with its JSON decoded, or the error that says why it is not JSON."""
    try:
        return SourceLine(line.line, line.text, orjson.loads(line.text))
    except orjson.JSONDecodeError as e:
        return SourceLine(line.line, line.text, error=FieldError("$", f"invalid JSON: {e}", "json"))


CANONICAL_COLUMNS = frozenset({"event_id", "type", "source", "occurred_at", "subject"})


def read_csv(
    path: Path, columns: Mapping[str, str] | None = None, constants: Mapping[str, str] | None = None
) -> Iterator[SourceLine]:
    """CSV rows as canonical events, each with its first line number and its text as written.

    `columns` maps a canonical field (`event_id`, `measures.amount`, `dimensions.region`) to the
    CSV column holding it; columns already named canonically (`event_id`, `measures.amount`)
    need no entry, and any other column is ignored. `constants` sets fields that the file does
    not carry (`source=shop`). Empty cells are left out. Measures that parse as numbers become
    numbers; anything else is left as text for validation to reject.
    """
    fields: dict[str, list[str]] | None = None
    for header, number, text, row in _csv_records(path):
        if fields is None:  # the header is known with the first record
            fields = csv_fields(header, columns or {})
        event: dict[str, Any] = {}
        for key, value in (constants or {}).items():
            _put(event, key, value)
        for column, value in zip(header, row, strict=False):
            for field in fields.get(column, ()):
                if value != "":
                    _put(event, field, value)
        yield SourceLine(number, text, event)


def read_csv_rows(path: Path) -> Iterator[SourceLine]:
    """CSV records as `{column: cell}` for a declarative mapping to read, each with its line and text.

    The header row names the keys; cells stay strings (the mapping converts them) and empty cells
    are left out, so a mapping's `default` applies. Cells beyond the header are ignored.
    """
    for header, number, text, row in _csv_records(path):
        yield SourceLine(number, text, {c: v for c, v in zip(header, row, strict=False) if v != ""})


def _csv_records(path: Path) -> Iterator[tuple[list[str], int, str, list[str]]]:
    """(header, first line number, text as written, cells) of each record that is not blank."""
    with path.open("r", encoding="utf-8-sig", errors="replace", newline="") as f:
        lines = _Lines(f)
        reader = csv.reader(lines)
        header = next(reader, None)
        lines.take()
        if header is None:
            return
        for row in reader:
            number, text = lines.take()
            if any(cell.strip() for cell in row):
                yield header, number, text, row


def csv_fields(header: list[str], columns: Mapping[str, str]) -> dict[str, list[str]]:
    """Column name -> the canonical fields it fills; a column may fill several."""
    fields: dict[str, list[str]] = {}
    mapped = set(columns.values())
    for column in header:
        group, _, key = column.partition(".")
        canonical = column in CANONICAL_COLUMNS or (group in ("dimensions", "measures") and key)
        if canonical and column not in mapped:
            fields.setdefault(column, []).append(column)
    for field, column in columns.items():
        fields.setdefault(column, []).append(field)
    return fields


class _Lines:
    """The file's lines for csv.reader, remembering which ones the current record was read from."""

    def __init__(self, f: TextIO) -> None:
        self._f = f
        self._read = 0
        self._pending: list[str] = []

    def __iter__(self) -> _Lines:
        return self

    def __next__(self) -> str:
        line = next(self._f)
        self._read += 1
        self._pending.append(line)
        return line

    def take(self) -> tuple[int, str]:
        """The first line number and the exact text of the record just read."""
        first = self._read - len(self._pending) + 1
        text, self._pending = "".join(self._pending).rstrip("\r\n"), []
        return first, text


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
