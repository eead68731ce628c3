"""okr_definitions: exact SQL, insert tokens, and versions written, retried and read back on chDB."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from processors.clickhouse import OKR_DEFINITIONS_COLUMNS, OkrVersions, RecordOkrVersions
from processors.clickhouse.okr_definitions import OKR_VERSION_FIELDS, versions_token
from schemas import OkrVersion

AT = datetime(2026, 10, 1, 12, 0, 0, 123_456, tzinfo=UTC)


def version(objective: str, number: int, **fields) -> OkrVersion:
    values = {
        "fingerprint": f"fp-{objective}-{number}",
        "effective_from": AT + timedelta(days=number),
        "removed": False,
        "definition": f'{{"id": "{objective}", "v": {number}}}',
        "applied_by": "cli",
        **fields,
    }
    return OkrVersion(objective, number, **values)


def test_the_query_reads_every_column_by_objective_and_version() -> None:
    assert OkrVersions("db").to_sql() == (
        "SELECT objective, version, fingerprint, effective_from, removed, definition, applied_by\n"
        "FROM {database:Identifier}.okr_definitions\n"
        "ORDER BY objective, version",
        {"database": "db"},
    )


def test_the_records_fields_are_the_tables_columns() -> None:
    assert tuple(name for name, _ in OKR_DEFINITIONS_COLUMNS) == OKR_VERSION_FIELDS


def test_the_token_names_the_versions_in_any_order() -> None:
    a, b, c = version("grow", 1), version("grow", 2), version("retain", 1)
    assert versions_token([a, b, c]) == versions_token([c, a, b])
    assert versions_token([a, b]) != versions_token([a, b, c])
    assert versions_token([a]) != versions_token([version("grow", 3)])
    # the token names (objective, version) pairs: content is not part of it
    assert versions_token([a]) == versions_token([version("grow", 1, applied_by="api")])
    assert versions_token([version("a,b", 1)]) != versions_token([version("a", 1), version("b", 1)])
    assert RecordOkrVersions("db", [a]).settings() == {
        "insert_deduplicate": 1,
        "insert_deduplication_token": versions_token([a]),
    }


def test_parse_reads_naive_driver_times_as_utc() -> None:
    row = ("grow", 2, "fp", AT.replace(tzinfo=None), 1, "", "api")
    assert OkrVersions.parse([row]) == [OkrVersion("grow", 2, "fp", AT, True, "", "api")]
    assert OkrVersions.parse([]) == []


def test_versions_round_trip_and_a_retried_insert_lands_once(store, settings) -> None:
    db = settings.clickhouse_database
    first = [version("retain", 1), version("grow", 2), version("grow", 1)]
    store.insert(RecordOkrVersions(db, first))
    store.insert(RecordOkrVersions(db, list(reversed(first))))  # a retry: the same versions, one token
    removed = version("retain", 2, removed=True, definition="")
    store.insert(RecordOkrVersions(db, [removed]))
    store.insert(RecordOkrVersions(db, []))  # nothing to write
    read = OkrVersions.parse(store.fetch(OkrVersions(db)))
    assert read == [version("grow", 1), version("grow", 2), version("retain", 1), removed]
    assert all(v.effective_from.tzinfo is not None for v in read)
    assert read[0].effective_from == AT + timedelta(days=1)  # microseconds kept
