"""`okrstream ingest FILE`: CSV rows and NDJSON lines through a declarative mapping, and what the
summary says of the events the store already holds."""

from __future__ import annotations

import contextlib
import json
import os
import socket
import sys
from pathlib import Path

import orjson
import pytest

from processors import LogRecord, RawEventsSink, open_store
from processors.cli import main
from processors.runtime import read_run_file, write_run_file
from tests.conftest import read_topic


def use_settings(monkeypatch, settings) -> None:
    for name, value in settings.as_environment().items():
        monkeypatch.setenv(name, value)


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
    assert "accepted 2: 2 new, 0 already stored; rejected 1" in out.out
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


# -- new and already stored: the store's answer, through a running process or the store itself ------


def order_line(event_id: str) -> str:
    event = {
        "event_id": event_id,
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-11-20T09:15:00+01:00",
        "dimensions": {"region": "EU", "channel": "web"},
        "measures": {"amount": 12.5, "items": 1},
    }
    return orjson.dumps(event).decode()


@pytest.fixture(params=["store", "running"])
def ingest_cli(request, settings, topics, monkeypatch, capsys):
    """(ingest(path) -> (exit code, stdout, stderr), land() -> events the sink landed).

    With "store" nothing runs: the command asks the store itself, and `land` opens it only while it
    lands. With "running" the command asks the HTTP API named in run.json, served on the test's store.
    `land` lands what the raw log holds and has not landed yet, with the real sink.
    """
    use_settings(monkeypatch, settings)
    client = None
    if request.param == "running":
        client = request.getfixturevalue("store")
        api = request.getfixturevalue("start_api")(settings, client)
        running = {"pid": os.getpid(), "api_url": api.url, "admin_token": api.admin_token}
        Path(settings.data_dir).mkdir(parents=True, exist_ok=True)  # no chDB made it over HTTP
        write_run_file(settings, {"pid": os.getpid(), "api_url": api.url}, api.admin_token)
        assert read_run_file(settings) == running
    fed: set[tuple[int, int]] = set()

    def ingest(path: Path) -> tuple[int, str, str]:
        code = main(["ingest", str(path)])
        out, err = capsys.readouterr()
        return code, out, err

    def land() -> int:
        with contextlib.ExitStack() as stack:
            store = client or stack.enter_context(open_store(settings))
            sink = RawEventsSink(store, settings, topics, settings.topic_partitions, lambda letters: None)
            for m in read_topic(settings, settings.raw_topic):
                if (m.partition, m.offset) not in fed:
                    fed.add((m.partition, m.offset))
                    sink.add(settings.raw_topic, m.partition, LogRecord(m.offset, m.value, m.timestamp))
            sink.flush()
            return sink.stats.events_landed

    return ingest, land


def test_ingest_says_how_many_events_were_new_and_how_many_already_stored(
    ingest_cli, settings, tmp_path: Path, logged
) -> None:
    ingest, land = ingest_cli
    dead_letters = settings.dead_letter_topic
    first = tmp_path / "first.ndjson"
    first.write_text("".join(order_line(f"ord-{i}") + "\n" for i in range(10)))
    assert ingest(first) == (
        0,
        f"accepted 10: 10 new, 0 already stored; rejected 0 (sent to {dead_letters}),"
        " duplicates within the file 0\n",
        "",
    )
    assert land() == 10

    assert ingest(first)[:2] == (  # every event is stored: none is sent again
        0,
        f"accepted 10: 0 new, 10 already stored; rejected 0 (sent to {dead_letters}),"
        " duplicates within the file 0\n",
    )
    assert len(logged("raw")) == 10

    overlapping = tmp_path / "overlapping.ndjson"  # ord-5 to ord-14, ord-7 twice, and one broken line
    lines = [order_line(f"ord-{i}") for i in range(5, 15)] + [order_line("ord-7"), "{broken"]
    overlapping.write_text("\n".join(lines) + "\n")
    code, out, err = ingest(overlapping)
    assert (code, out) == (
        1,
        f"accepted 10: 5 new, 5 already stored; rejected 1 (sent to {dead_letters}),"
        " duplicates within the file 1\n",
    )
    assert f"{overlapping}:12: $: invalid JSON" in err
    assert sorted(e["event_id"] for e in logged("raw")) == sorted(f"ord-{i}" for i in range(15))  # each once
    assert land() == 5  # the sink agrees: the 5 new ones were new


def test_ingest_goes_on_unchecked_when_the_store_cannot_answer(
    settings, topics, monkeypatch, tmp_path: Path, logged, capsys
) -> None:
    """okrstream runs, but its API does not answer: the file is still sent, and the summary says so."""
    use_settings(monkeypatch, settings)
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    Path(settings.data_dir).mkdir(parents=True, exist_ok=True)
    write_run_file(settings, {"pid": os.getpid(), "api_url": url}, admin_token=None)
    path = tmp_path / "orders.ndjson"
    path.write_text("".join(order_line(f"ord-{i}") + "\n" for i in range(3)))
    assert main(["ingest", str(path)]) == 0
    out, err = capsys.readouterr()
    assert out.startswith("accepted 3: 0 new, 0 already stored, 3 not checked (the store did not answer);")
    assert "the store did not say which events it already holds" in err
    assert len(logged("raw")) == 3


def test_on_a_terminal_the_import_draws_a_progress_bar_to_the_files_end(
    settings, topics, monkeypatch, tmp_path: Path, capsys
) -> None:
    use_settings(monkeypatch, settings)
    order = {
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-11-20T09:15:00Z",
        "dimensions": {"region": "EU", "channel": "web"},
        "measures": {"amount": 12.5, "items": 1},
    }
    path = tmp_path / "orders.ndjson"
    path.write_text("".join(json.dumps(order | {"event_id": f"o-{i}"}) + "\n" for i in range(3)))
    assert main(["ingest", str(path)]) == 0
    assert "orders.ndjson" not in capsys.readouterr().err  # not a terminal: the summary only
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert main(["ingest", str(path)]) == 0
    err = capsys.readouterr().err
    assert "ingest orders.ndjson: 100%" in err and "3.00/3.00" in err, err


@pytest.mark.parametrize("jobs", ["1", "3"])
def test_any_number_of_validation_processes_sends_each_event_once_and_reports_lines_in_order(
    settings, topics, monkeypatch, tmp_path: Path, logged, capsys, jobs: str
) -> None:
    """The lines are validated in worker processes; what is sent, rejected and said is the file's order."""
    use_settings(monkeypatch, settings)
    lines = [order_line(f"ord-{i}") for i in range(5000)]
    for broken in (4321, 17, 2500):
        lines[broken] = lines[broken].replace('"amount":12.5', '"amount":"lots"')
    lines[3000] = lines[10]  # a copy of an earlier line
    path = tmp_path / "orders.ndjson"
    path.write_text("\n".join(lines) + "\n")

    assert main(["ingest", str(path), "--jobs", jobs]) == 1
    out, err = capsys.readouterr()

    assert out.startswith("accepted 4996: 4996 new, 0 already stored; rejected 3")
    assert out.rstrip().endswith("duplicates within the file 1")
    assert [line.split(":")[1] for line in err.splitlines()] == ["18", "2501", "4322"]
    assert sorted(e["event_id"] for e in logged("raw")) == sorted(
        f"ord-{i}" for i in range(5000) if i not in (4321, 17, 2500, 3000)
    )
    assert [letter["line"] for letter in logged("deadletter")] == [18, 2501, 4322]


def test_ingest_needs_a_validation_process(settings, topics, monkeypatch, tmp_path: Path, capsys) -> None:
    use_settings(monkeypatch, settings)
    path = tmp_path / "orders.ndjson"
    path.write_text(order_line("ord-1") + "\n")
    assert main(["ingest", str(path), "--jobs", "0"]) == 2
    assert "--jobs must be at least 1, got 0" in capsys.readouterr().err
