"""`okrstream ingest FILE --mapping NAME`: CSV rows and NDJSON lines through a declarative mapping."""

from __future__ import annotations

from pathlib import Path

import orjson

from processors.cli import main
from schemas import env_name


def use_settings(monkeypatch, settings) -> None:
    for field, value in settings.model_dump(exclude_none=True).items():
        monkeypatch.setenv(env_name(field), str(value.value if hasattr(value, "value") else value))


def test_a_csv_export_is_mapped_row_by_row_and_bad_rows_are_dead_lettered(
    settings, topics, monkeypatch, tmp_path: Path, logged, capsys
) -> None:
    use_settings(monkeypatch, settings)
    csv = tmp_path / "orders.csv"
    csv.write_text(
        "order_id,created,customer,country,channel,total_cents,items\n"
        "o-1,2026-11-20T09:00:00Z,c-1,EU,web,1999,2\n"
        "o-2,2026-11-20T10:00:00+01:00,c-2,US,,500,1\n"
        "o-3,2026-11-20T11:00:00Z,c-3,EU,web,lots,1\n"
    )
    assert main(["ingest", str(csv), "--mapping", "csv_orders"]) == 1  # one row rejected
    out = capsys.readouterr()
    assert "accepted 2, rejected 1" in out.out
    assert f"{csv}:4: total_cents: measures.amount: must be a number" in out.err
    events = {e["event_id"]: e for e in logged("raw")}
    assert events["o-1"]["measures"] == {"amount": 19.99, "items": 2.0}
    assert events["o-2"]["dimensions"] == {"region": "US", "channel": "store"}  # the mapping's default
    assert events["o-2"]["occurred_at"] == "2026-11-20T09:00:00.000000Z"
    [letter] = logged("deadletter")
    assert (letter["line"], letter["errors"][0]["path"]) == (4, "total_cents")


def test_ndjson_webhook_payloads_are_mapped_and_an_unknown_mapping_is_refused(
    settings, topics, monkeypatch, tmp_path: Path, logged, capsys
) -> None:
    use_settings(monkeypatch, settings)
    payload = {
        "id": "evt_1",
        "event": "deal.won",
        "created": 1795600000,
        "data": {"customer_id": "cus_9", "region": "EU", "segment": "smb", "amount_cents": 1250000},
    }
    path = tmp_path / "hooks.ndjson"
    path.write_text(orjson.dumps(payload).decode() + "\n")
    assert main(["ingest", str(path), "--mapping", "generic_webhook"]) == 0
    [event] = logged("raw")
    assert (event["type"], event["source"], event["measures"]) == ("deal.closed", "crm", {"amount": 12500.0})
    assert main(["ingest", str(path), "--mapping", "nope"]) == 2
    assert "no mapping named 'nope'" in capsys.readouterr().err
