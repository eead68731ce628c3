"""read_ndjson and read_csv: line numbers, text, mapping, constants, and errors naming line and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from ingest import SourceLine, read_csv, read_csv_rows, read_ndjson
from schemas import EventTypeRegistry, EventValidationError, FieldError, validate_event


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8", newline="")
    return path


# -- NDJSON ---------------------------------------------------------------------------------------


def test_ndjson_keeps_line_numbers_and_text_and_skips_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "e.ndjson", '{"a": 1}\n\n   \n{"b": [2]}\r\n{"c": null}')
    assert list(read_ndjson(path)) == [
        SourceLine(1, '{"a": 1}', {"a": 1}),
        SourceLine(4, '{"b": [2]}', {"b": [2]}),
        SourceLine(5, '{"c": null}', {"c": None}),
    ]


@pytest.mark.parametrize(
    "text",
    [
        pytest.param('{"event_id": "x", broken', id="truncated"),
        pytest.param("{'single': 'quotes'}", id="python-dict"),
        pytest.param('{"a": NaN}', id="nan"),
        pytest.param('{"a": 1} {"b": 2}', id="two-objects-on-one-line"),
    ],
)
def test_ndjson_broken_json_is_an_error_on_its_line_and_reading_goes_on(tmp_path: Path, text: str) -> None:
    path = write(tmp_path, "e.ndjson", f'{{"ok": 1}}\n{text}\n{{"ok": 2}}\n')
    first, broken, last = read_ndjson(path)
    assert (broken.line, broken.text, broken.data) == (2, text, None)
    assert broken.error is not None
    assert (broken.error.path, broken.error.rule) == ("$", "json")
    assert broken.error.message.startswith("invalid JSON: ")
    assert (first.data, last.data, last.line) == ({"ok": 1}, {"ok": 2}, 3)


def test_ndjson_values_that_are_not_objects_are_read_for_validation_to_reject(tmp_path: Path) -> None:
    path = write(tmp_path, "e.ndjson", '[1, 2]\n"text"\n42\n')
    assert [(line.line, line.data, line.error) for line in read_ndjson(path)] == [
        (1, [1, 2], None),
        (2, "text", None),
        (3, 42, None),
    ]


def test_ndjson_invalid_utf8_is_replaced_not_fatal(tmp_path: Path) -> None:
    path = write(tmp_path, "e.ndjson", b'{"name": "caf\xe9"}\n{"ok": true}\n')
    assert [line.data for line in read_ndjson(path)] == [{"name": "caf\ufffd"}, {"ok": True}]


# -- CSV ------------------------------------------------------------------------------------------


def test_csv_canonical_columns_need_no_mapping(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "e.csv",
        "event_id,type,source,occurred_at,subject\nord-1,order.placed,shop,2026-10-01T12:00:00Z,customer-7\n",
    )
    [line] = read_csv(path)
    assert line == SourceLine(
        2,
        "ord-1,order.placed,shop,2026-10-01T12:00:00Z,customer-7",
        {
            "event_id": "ord-1",
            "type": "order.placed",
            "source": "shop",
            "occurred_at": "2026-10-01T12:00:00Z",
            "subject": "customer-7",
        },
    )


def test_csv_mapping_and_constants_build_dimensions_and_measures(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "order_no,placed,total,qty,region_code,channel\n"
        "A-1,2026-10-01T12:00:00Z,49.90,2,EU,\n"
        "A-2,2026-10-01T13:00:00Z,12 EUR,1e1,,app\n",
    )
    columns = {
        "event_id": "order_no",
        "occurred_at": "placed",
        "measures.amount": "total",
        "measures.items": "qty",
        "dimensions.region": "region_code",
        "dimensions.channel": "channel",
    }
    constants = {"source": "shop", "type": "order.placed", "dimensions.channel": "web"}
    first, second = read_csv(path, columns, constants)
    assert first.data == {
        "source": "shop",
        "type": "order.placed",
        "event_id": "A-1",
        "occurred_at": "2026-10-01T12:00:00Z",
        "measures": {"amount": 49.9, "items": 2.0},
        "dimensions": {"channel": "web", "region": "EU"},  # empty cell: the constant stays
    }
    assert second.data["measures"] == {"amount": "12 EUR", "items": 10.0}  # text left for validation
    assert second.data["dimensions"] == {"channel": "app"}  # the file's value wins over the constant
    assert "order_no" not in second.data and "total" not in second.data  # mapped columns are renamed


def test_csv_columns_neither_mapped_nor_canonical_are_ignored(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "event_id,note,measures.amount\ne-1,hello,3\n")
    [line] = read_csv(path)
    assert line.data == {"event_id": "e-1", "measures": {"amount": 3.0}}


def test_csv_one_column_may_fill_several_fields(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "order_no,total\nA-1,5\n")
    [line] = read_csv(path, {"event_id": "order_no", "subject": "order_no", "measures.amount": "total"})
    assert line.data == {"event_id": "A-1", "subject": "A-1", "measures": {"amount": 5.0}}


def test_csv_lines_keep_their_text_as_written_and_their_first_line_number(tmp_path: Path) -> None:
    content = 'event_id,source,subject\ne-1,"shop, EU","Smith, John"\ne-2,shop,"two\nlines"\ne-3,shop,x\n'
    path = write(tmp_path, "e.csv", content)
    assert [(line.line, line.text) for line in read_csv(path)] == [
        (2, 'e-1,"shop, EU","Smith, John"'),
        (3, 'e-2,shop,"two\nlines"'),
        (5, "e-3,shop,x"),
    ]


@pytest.mark.parametrize(
    ("name", "content", "read"),
    [
        ("e.csv", "event_id,source\ne-1,shop\n", read_csv),
        ("e.ndjson", '{"event_id": "e-1", "source": "shop"}\n', read_ndjson),
    ],
)
def test_a_byte_order_mark_is_not_part_of_the_first_line(tmp_path: Path, name: str, content: str, read):
    [line] = read(write(tmp_path, name, "\ufeff" + content))
    assert line.data == {"event_id": "e-1", "source": "shop"}


def test_csv_line_numbers_count_the_header_and_blank_lines(tmp_path: Path) -> None:
    path = write(tmp_path, "e.csv", "event_id,source\ne-1,shop\n\ne-2,shop\r\ne-3,\n")
    assert [(line.line, line.data) for line in read_csv(path)] == [
        (2, {"event_id": "e-1", "source": "shop"}),
        (4, {"event_id": "e-2", "source": "shop"}),
        (5, {"event_id": "e-3"}),  # empty cells are left out
    ]


REGISTRY = EventTypeRegistry.from_mapping(
    {
        "event_types": {
            "order.placed": {
                "dimensions": {"region": "string"},
                "measures": {"amount": {"type": "number", "min": 0}},
            }
        }
    }
)


def errors_by_line(lines: list[SourceLine]) -> list[tuple[int, FieldError]]:
    """What `okrstream ingest` reports: each rejected line with the field errors validation found."""
    found = []
    for line in lines:
        try:
            validate_event(line.data, REGISTRY)
        except EventValidationError as e:
            found.extend((line.line, error) for error in e.errors)
    return found


def test_csv_errors_name_the_line_and_the_field(tmp_path: Path) -> None:
    path = write(
        tmp_path,
        "orders.csv",
        "id,at,amount,region\n"
        "A-1,2026-10-01T12:00:00Z,10,EU\n"
        "A-2,2026-10-01T12:00:00Z,ten,EU\n"
        "A-3,2026-10-01T12:00:00Z,-5,\n"
        "A-4,2026-10-01T12:00:00,5,EU\n",
    )
    columns = {
        "event_id": "id",
        "occurred_at": "at",
        "measures.amount": "amount",
        "dimensions.region": "region",
    }
    lines = list(read_csv(path, columns, {"source": "shop", "type": "order.placed"}))
    assert [(n, e.path, e.rule) for n, e in errors_by_line(lines)] == [
        (3, "measures.amount", "type"),
        (4, "dimensions.region", "required_dimension"),
        (4, "measures.amount", "min"),
        (5, "occurred_at", "timezone"),
    ]


def test_ndjson_errors_name_the_line_and_the_field(tmp_path: Path) -> None:
    good = (
        '{"event_id": "e-1", "type": "order.placed", "source": "shop", "occurred_at": "2026-10-01T12:00:00Z"'
    )
    path = write(
        tmp_path,
        "e.ndjson",
        f'{good}, "dimensions": {{"region": "EU"}}, "measures": {{"amount": 1}}}}\n'
        "\n"
        f'{good}, "dimensions": {{"region": "EU"}}, "measures": {{"amount": "1"}}}}\n'
        "not json\n",
    )
    lines = list(read_ndjson(path))
    assert [(line.line, line.error.path) for line in lines if line.error] == [(4, "$")]
    decoded = [line for line in lines if line.error is None]
    assert [(n, e.path, e.rule) for n, e in errors_by_line(decoded)] == [(3, "measures.amount", "type")]


# -- CSV rows for declarative mappings ------------------------------------------------------------


def test_csv_rows_are_column_to_cell_with_exact_lines_and_text(tmp_path: Path) -> None:
    content = (
        "order_id,created,country,note,total_cents\n"
        'A-1,2026-10-01T12:00:00Z,DE,"two\nlines",4990\n'
        "\n"
        "A-2,,FR,,1200,extra\r\n"
        " , ,\n"
        "A-3,2026-10-01T13:00:00Z\n"
    )
    path = write(tmp_path, "orders.csv", "\ufeff" + content)
    assert list(read_csv_rows(path)) == [
        SourceLine(
            2,
            'A-1,2026-10-01T12:00:00Z,DE,"two\nlines",4990',
            {
                "order_id": "A-1",
                "created": "2026-10-01T12:00:00Z",
                "country": "DE",
                "note": "two\nlines",
                "total_cents": "4990",  # cells stay text: the mapping converts them
            },
        ),
        SourceLine(5, "A-2,,FR,,1200,extra", {"order_id": "A-2", "country": "FR", "total_cents": "1200"}),
        SourceLine(7, "A-3,2026-10-01T13:00:00Z", {"order_id": "A-3", "created": "2026-10-01T13:00:00Z"}),
    ]


def test_csv_rows_of_an_empty_file_or_a_lone_header(tmp_path: Path) -> None:
    assert list(read_csv_rows(write(tmp_path, "empty.csv", ""))) == []
    assert list(read_csv_rows(write(tmp_path, "header.csv", "a,b\n"))) == []
