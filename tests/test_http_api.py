"""The HTTP ingest API over real HTTP, on the real broker and store: formats, results, dead letters,
duplicates, keys, limits, webhooks and the OpenAPI document."""

from __future__ import annotations

import asyncio
import gzip
import os
import signal
import socket
import time
from datetime import UTC, datetime
from typing import Any

import httpx
import orjson
import pytest

from processors.clickhouse import BatchPosition, InsertRawEvents, event_row
from schemas import OKRSTREAM_VERSION, validate_event
from tests.conftest import Sql
from tests.schemas.test_cloudevents import JSON_BATCH_EXAMPLE, JSON_FORMAT_EXAMPLES, SPEC_EXAMPLE

NDJSON = "application/x-ndjson"
CE = "application/cloudevents+json"
CE_BATCH = "application/cloudevents-batch+json"


def order(event_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "event_id": event_id,
        "type": "order.placed",
        "source": "shop",
        "occurred_at": "2026-11-20T09:15:00+01:00",
        "dimensions": {"region": "EU", "channel": "web"},
        "measures": {"amount": 120.5, "items": 3},
    } | fields


def cloud_order(event_id: str, **attributes: Any) -> dict[str, Any]:
    return {
        "specversion": "1.0",
        "id": event_id,
        "source": "shop",
        "type": "order.placed",
        "time": "2026-11-20T08:15:00Z",
        "data": {"region": "EU", "channel": "app", "amount": 99.0, "items": 1},
    } | attributes


def post(api, body: Any, content_type: str = "application/json", key: str | None = None, **headers: str):
    data = (
        body if isinstance(body, bytes) else (body.encode() if isinstance(body, str) else orjson.dumps(body))
    )
    return api.request(
        "POST", "/v1/events", key, content=data, headers={"Content-Type": content_type} | headers
    )


@pytest.fixture
def api(serve_api):
    return serve_api()


@pytest.fixture
def key(api) -> str:
    return api.create_key()


def test_every_format_lands_its_events_in_the_log(api, key, logged) -> None:
    ndjson = "\n".join(orjson.dumps(order(f"nd-{i}")).decode() for i in range(3)) + "\n"
    binary = {"ce-specversion": "1.0", "ce-id": "bin-1", "ce-source": "shop", "ce-type": "order.placed"}
    binary |= {"ce-time": "2026-11-20T10%3A00%3A00Z", "ce-subject": "customer%2042"}
    answers = {
        "json one": post(api, order("one"), key=key),
        "json array": post(api, [order("arr-1"), order("arr-2")], key=key),
        "ndjson": post(api, ndjson, NDJSON, key=key),
        "cloudevent": post(api, cloud_order("ce-1"), CE, key=key),
        "cloudevent batch": post(api, [cloud_order("ceb-1"), cloud_order("ceb-2")], CE_BATCH, key=key),
        "cloudevent binary": post(
            api, {"region": "EU", "channel": "web", "amount": 5, "items": 1}, key=key, **binary
        ),
        "gzip": post(
            api, gzip.compress(orjson.dumps([order("gz-1")])), key=key, **{"Content-Encoding": "gzip"}
        ),
    }
    for name, answer in answers.items():
        assert answer.status_code == 200, (name, answer.text)
        assert answer.json()["rejected"] == 0 and answer.json()["duplicates"] == 0, name
    logged_events = {e["event_id"]: e for e in logged("raw")}
    expected = {"one", "arr-1", "arr-2", "nd-0", "nd-1", "nd-2", "ce-1", "ceb-1", "ceb-2", "bin-1", "gz-1"}
    assert set(logged_events) == expected
    assert logged_events["one"]["occurred_at"] == "2026-11-20T08:15:00.000000Z"
    assert logged_events["ce-1"]["dimensions"] == {"region": "EU", "channel": "app"}
    assert logged_events["ce-1"]["measures"] == {"amount": 99.0, "items": 1.0}
    assert logged_events["bin-1"]["subject"] == "customer 42"
    assert logged_events["bin-1"]["occurred_at"] == "2026-11-20T10:00:00.000000Z"
    for event in logged_events.values():
        assert validate_event(event).received_at is not None


def test_a_partial_batch_accepts_the_good_events_and_dead_letters_the_bad_ones(api, key, logged) -> None:
    bad_amount = order("bad-1", measures={"amount": "a lot", "items": 1})
    answer = post(api, [order("good-1"), bad_amount, order("good-2")], key=key)
    assert answer.status_code == 207
    body = answer.json()
    assert (body["accepted"], body["duplicates"], body["rejected"]) == (2, 0, 1)
    assert body["results"][1] == {
        "index": 1,
        "status": "rejected",
        "event_id": "bad-1",
        "source": "shop",
        "errors": [{"path": "measures.amount", "message": "must be a number, got string", "rule": "type"}],
    }
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    assert sorted(e["event_id"] for e in logged("raw")) == ["good-1", "good-2"]
    [letter] = logged("deadletter")
    assert letter["origin"] == "http:/v1/events"
    assert letter["source"] == "shop"
    assert letter["errors"] == body["results"][1]["errors"]
    assert orjson.loads(letter["raw"]) == bad_amount
    assert letter["processor"] == {"name": "okrstream", "version": OKRSTREAM_VERSION}
    assert letter["request"]["index"] == 1 and letter["request"]["content_type"] == "application/json"
    assert datetime.fromisoformat(letter["failed_at"]).tzinfo is not None

    all_bad = post(
        api, "\n".join(["{not json", orjson.dumps(order("x", type="Order")).decode()]), NDJSON, key=key
    )
    assert all_bad.status_code == 422
    errors = [r["errors"][0] for r in all_bad.json()["results"]]
    assert [(e["path"], e["rule"]) for e in errors] == [("$", "json"), ("type", "pattern")]
    assert len(logged("deadletter")) == 3


def test_a_resent_event_is_answered_duplicate_and_logged_once(api, key, logged) -> None:
    assert post(api, order("o-1"), key=key).json()["accepted"] == 1
    again = post(api, [order("o-1"), order("o-2"), order("o-2")], key=key).json()
    assert [r["status"] for r in again["results"]] == ["duplicate", "accepted", "duplicate"]
    other_source = post(api, order("o-1", source="pos"), key=key).json()
    assert other_source["accepted"] == 1  # the identity is (source, event_id)
    assert sorted((e["source"], e["event_id"]) for e in logged("raw")) == [
        ("pos", "o-1"),
        ("shop", "o-1"),
        ("shop", "o-2"),
    ]


def test_copies_sent_at_once_are_accepted_once(api, key, logged) -> None:
    async def burst() -> list[dict]:
        async with httpx.AsyncClient(timeout=60) as client:
            requests = [
                client.post(
                    f"{api.url}/v1/events",
                    content=orjson.dumps(order("same")),
                    headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
                )
                for _ in range(20)
            ]
            return [r.json() for r in await asyncio.gather(*requests)]

    answers = asyncio.run(burst())
    assert sorted(a["results"][0]["status"] for a in answers) == ["accepted"] + ["duplicate"] * 19
    assert [e["event_id"] for e in logged("raw")] == ["same"]


def test_a_copy_of_an_event_that_landed_before_a_restart_is_accepted_and_the_store_says_it_landed(
    serve_api, settings, store
) -> None:
    """Ingest does not ask the store: `accepted` means in the log (the sink drops the copy), and
    `POST /v1/events/landed` tells new from already stored."""
    event = validate_event(order("landed-1"), received_at=datetime.now(UTC))
    position = BatchPosition("an-earlier-log", 0, 0, 0)
    row = event_row(orjson.loads(event.model_dump_json()), 0, datetime.now(UTC), position)
    store.insert(InsertRawEvents(settings.clickhouse_database, position, [row]))
    api = serve_api()  # a fresh process's memory knows nothing of landed-1
    key = api.create_key()
    answer = post(api, [order("landed-1"), order("new-1")], key=key).json()
    assert [r["status"] for r in answer["results"]] == ["accepted", "accepted"]
    asked = [{"source": "shop", "event_id": "landed-1"}, {"source": "shop", "event_id": "new-1"}]
    landed = api.request("POST", "/v1/events/landed", api.create_key("read"), json={"events": asked})
    assert landed.json()["landed"] == [{"source": "shop", "event_id": "landed-1"}]


def test_the_store_says_which_events_it_holds_to_whoever_may_read(serve_api, settings, store) -> None:
    """What `okrstream ingest` asks before sending a file: the sink drops copies of exactly these."""
    event = validate_event(order("landed-1"), received_at=datetime.now(UTC))
    position = BatchPosition("an-earlier-log", 0, 0, 0)
    row = event_row(orjson.loads(event.model_dump_json()), 0, datetime.now(UTC), position)
    store.insert(InsertRawEvents(settings.clickhouse_database, position, [row]))
    api = serve_api(http_max_events=3)
    reader = api.create_key("read")

    def ask(events: list[dict[str, Any]], key: str = reader) -> httpx.Response:
        return api.request("POST", "/v1/events/landed", key, json={"events": events})

    asked = [
        {"source": "shop", "event_id": "landed-1"},
        {"source": "shop", "event_id": "new-1"},
        {"source": "crm", "event_id": "landed-1"},  # another source's id: another event
    ]
    answer = ask(asked)
    assert (answer.status_code, answer.json()) == (
        200,
        {"landed": [{"source": "shop", "event_id": "landed-1"}], "dedup_window_days": 30},
    )
    too_many = ask([{"source": "shop", "event_id": f"e-{i}"} for i in range(4)])
    assert too_many.status_code == 413
    assert {k: too_many.json()[k] for k in ("rule", "path", "limit_events")} == {
        "rule": "too_many_events",
        "path": "events",
        "limit_events": 3,
    }
    bad = ask([{"source": "shop"}])
    assert bad.status_code == 422 and bad.json()["detail"][0]["loc"] == ["body", "events", 0, "event_id"]
    assert ask(asked, key=api.create_key("write")).status_code == 403


def test_keys_authenticate_and_scope_every_endpoint(api, logged) -> None:
    writer = api.create_key("write", sources=["shop"], types=["order.*"])
    reader = api.create_key("read")
    revoked = api.create_key("write")
    assert api.request("POST", f"/v1/keys/{revoked.split('_')[1]}/revoke", api.admin_token).status_code == 200

    unknown = "oks_0123456789ab_" + "z" * 43
    refused = [
        post(api, order("a"), key=k) for k in (None, "not-a-key", writer[:-2] + "xx", unknown, revoked)
    ]
    assert {r.status_code for r in refused} == {401}
    assert len({r.content for r in refused}) == 1  # the same bytes whatever was wrong with the key
    headers = {
        (r.headers["WWW-Authenticate"], r.headers["Content-Type"], r.headers["Content-Length"])
        for r in refused
    }
    assert headers == {("Bearer", "application/json", str(len(refused[0].content)))}
    assert refused[0].json()["rule"] == "unauthenticated" and "API key" in refused[0].json()["error"]

    out_of_scope = post(api, [order("in"), order("out", source="crm")], key=writer)
    assert out_of_scope.status_code == 403
    assert out_of_scope.json()["events"] == [{"index": 1, "source": "crm", "type": "order.placed"}]
    dimensions = {"region": "EU", "segment": "smb"}
    deal = order("t", type="deal.closed", dimensions=dimensions, measures={"amount": 5})
    wrong_type = post(api, deal, key=writer)
    assert wrong_type.status_code == 403
    assert post(api, order("r"), key=reader).status_code == 403

    assert api.request("GET", "/v1/counts", writer).status_code == 403
    assert api.request("GET", "/v1/counts", reader).status_code == 200
    assert api.request("GET", "/v1/counts").status_code == 401
    assert api.request("GET", "/v1/keys", reader).status_code == 403
    listed = api.request("GET", "/v1/keys", api.admin_token).json()["keys"]
    assert {k["access"] for k in listed} == {"write", "read"}
    assert all("hash" not in str(k) and writer.split("_", 2)[2] not in str(k) for k in listed)

    assert post(api, order("in"), key=writer).status_code == 200
    assert [e["event_id"] for e in logged("raw")] == ["in"]  # nothing of the refused requests
    assert logged("deadletter") == []
    assert api.request("GET", "/health").status_code == 200


def test_auth_can_be_turned_off_only_explicitly(serve_api, logged) -> None:
    api = serve_api(auth="disabled")
    assert post(api, order("open")).status_code == 200
    assert api.request("GET", "/v1/counts").status_code == 200
    assert [e["event_id"] for e in logged("raw")] == ["open"]


def test_limits_refuse_with_the_limit_and_the_service_keeps_serving(serve_api, logged) -> None:
    api = serve_api(http_max_body_bytes=4096, http_max_events=5, http_rate_limit="12/minute")
    key = api.create_key()
    big = post(api, "x" * 5000, key=key)
    assert big.status_code == 413 and big.json()["limit_bytes"] == 4096
    bomb = gzip.compress(b"[" + b" " * 100_000 + b"]")
    assert len(bomb) < 4096
    inflated = post(api, bomb, key=key, **{"Content-Encoding": "gzip"})
    assert inflated.status_code == 413 and inflated.json()["rule"] == "body_size"
    many = post(api, [order(f"m-{i}") for i in range(6)], key=key)
    assert many.status_code == 413 and many.json()["limit_events"] == 5

    refusals = {
        "malformed": (post(api, "[{", key=key), 400, "json"),
        "not utf-8": (post(api, b'{"event_id": "\xff"}', key=key), 400, "encoding"),
        "bad gzip": (post(api, b"nope", key=key, **{"Content-Encoding": "gzip"}), 400, "gzip"),
        "brotli": (post(api, b"{}", key=key, **{"Content-Encoding": "br"}), 415, "content_encoding"),
        "xml": (post(api, "<event/>", "application/xml", key=key), 415, "content_type"),
        "latin-1": (post(api, "{}", "application/json; charset=latin-1", key=key), 415, "charset"),
        "empty": (post(api, "[]", key=key), 400, "empty"),
        "structured array": (post(api, [cloud_order("c")], CE, key=key), 400, "batch"),
    }
    for name, (answer, status, rule) in refusals.items():
        assert (answer.status_code, answer.json()["rule"]) == (status, rule), name
        assert answer.json()["error"], name

    assert post(api, [order(f"r-{i}") for i in range(5)], key=key).status_code == 200
    assert post(api, [order(f"s-{i}") for i in range(5)], key=key).status_code == 200
    limited = post(api, [order(f"t-{i}") for i in range(5)], key=key)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert post(api, order("other-key"), key=api.create_key()).status_code == 200
    assert sorted(e["event_id"] for e in logged("raw")) == sorted(
        [f"r-{i}" for i in range(5)] + [f"s-{i}" for i in range(5)] + ["other-key"]
    )


def test_a_body_that_does_not_arrive_in_time_is_refused(serve_api) -> None:
    api = serve_api(http_request_timeout_s=1.0)
    key = api.create_key()
    host, port = api.url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        head = (
            f"POST /v1/events HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {key}\r\n"
            "Content-Type: application/json\r\nContent-Length: 1000\r\n\r\n{"
        )
        conn.sendall(head.encode())
        answer = conn.recv(4096).decode()
    assert answer.startswith("HTTP/1.1 408"), answer
    assert post(api, order("after"), key=key).status_code == 200


def test_webhooks_turn_foreign_payloads_into_events_with_a_mapping(api, key, logged) -> None:
    track = {
        "type": "track",
        "messageId": "seg-1",
        "event": "Order Completed",
        "userId": "customer-7",
        "timestamp": "2026-11-20T12:00:00Z",
        "context": {"location": {"country": "EU"}},
        "properties": {"revenue": 49.9, "products": [{"quantity": 2}]},
    }
    answer = api.request(
        "POST",
        "/v1/webhooks/segment_track",
        key,
        content=orjson.dumps(track),
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 200, answer.text
    [event] = logged("raw")
    assert (event["event_id"], event["type"], event["subject"]) == ("seg-1", "order.placed", "customer-7")
    assert event["measures"]["amount"] == 49.9

    broken = track | {"messageId": "seg-2", "properties": {"revenue": "lots", "products": [{"quantity": 1}]}}
    refused = api.request(
        "POST",
        "/v1/webhooks/segment_track",
        key,
        content=orjson.dumps(broken),
        headers={"Content-Type": "application/json"},
    )
    assert refused.status_code == 422
    [error] = refused.json()["results"][0]["errors"]
    assert error["path"] == "properties.revenue"
    assert api.request("POST", "/v1/webhooks/nope", key, content=b"{}").status_code == 404


def test_the_openapi_document_describes_every_format_and_the_keys(api) -> None:
    document = api.request("GET", "/openapi.json").json()
    content = document["paths"]["/v1/events"]["post"]["requestBody"]["content"]
    assert set(content) == {"application/json", NDJSON, CE, CE_BATCH}
    responses = document["paths"]["/v1/events"]["post"]["responses"]
    assert {"200", "207", "400", "401", "403", "413", "415", "422", "429", "503"} <= set(responses)
    assert {"HTTPBearer", "APIKeyHeader"} <= set(document["components"]["securitySchemes"])
    assert document["paths"]["/v1/events"]["post"]["security"] == [{"HTTPBearer": []}, {"APIKeyHeader": []}]
    assert "/v1/webhooks/{mapping}" in document["paths"]


def test_while_the_broker_is_stopped_nothing_is_acknowledged_and_nothing_is_lost(
    make_settings, infra, open_store, start_api, logged
) -> None:
    from ingest import ensure_topics, start_embedded_broker

    with start_embedded_broker() as broker:
        settings = make_settings(broker.bootstrap_servers, infra.clickhouse_url)
        settings = settings.model_copy(update={"http_broker_timeout_s": 3.0})
        ensure_topics(broker.bootstrap_servers, settings)
        with open_store(settings) as store:
            api = start_api(settings, store)
            key = api.create_key()
            acknowledged = []
            assert post(api, order("before"), key=key).status_code == 200
            acknowledged.append("before")

            os.kill(broker.pid, signal.SIGSTOP)  # the broker stops answering, connections stay open
            try:
                during = post(api, [order("during-1"), order("during-2")], key=key)
            finally:
                os.kill(broker.pid, signal.SIGCONT)
            assert during.status_code == 503, during.text
            assert during.headers["Retry-After"] == "5"
            assert during.json()["rule"] == "log_unavailable"

            for _ in range(30):  # the client retries, as Retry-After asks
                retried = post(api, [order("during-1"), order("during-2")], key=key)
                if retried.status_code != 503:
                    break
                time.sleep(1)
            assert retried.status_code == 200, retried.text
            acknowledged += ["during-1", "during-2"]
            assert post(api, order("after"), key=key).status_code == 200
            acknowledged.append("after")

            in_log = [e["event_id"] for e in logged("raw", settings)]
            assert set(in_log) == set(acknowledged)  # a timed-out write may also have landed: a copy
            assert in_log.count("before") == in_log.count("after") == 1

            broker.close()  # now gone for good: refused connections, still never a 2xx
            gone = post(api, order("gone"), key=key)
            assert gone.status_code == 503 and gone.headers["Retry-After"] == "5"


def test_ingest_goes_on_when_the_store_cannot_answer(api, key, store, settings, logged) -> None:
    """Ingest reads nothing from the store: the log is the source of truth."""
    assert post(api, order("s-1"), key=key).json()["accepted"] == 1
    store.execute(
        Sql(f"RENAME TABLE {settings.clickhouse_database}.raw_events TO {settings.clickhouse_database}.gone")
    )
    answer = post(api, [order("s-1"), order("s-2")], key=key)
    assert post(api, order("s-3"), key=key).status_code == 200
    assert answer.status_code == 200
    assert [r["status"] for r in answer.json()["results"]] == ["duplicate", "accepted"]  # from memory
    assert sorted(e["event_id"] for e in logged("raw")) == ["s-1", "s-2", "s-3"]


def nested_text(levels: int) -> str:
    """`levels` JSON objects inside one another, as text: no encoder has to go that deep."""
    return '{"a":' * levels + "1" + "}" * levels


def test_json_nested_too_deep_is_refused_with_where_in_every_format(api, key, logged) -> None:
    """Every format, nested a few hundred levels (which once crashed the encoder) or beyond what
    the parser reads at all: a 4xx that says where, never a 5xx."""
    webhook = "/v1/webhooks/generic_webhook"
    for levels in (300, 1100):
        nested = nested_text(levels)
        event = orjson.dumps(order("d")).decode()[:-1] + ', "payload": ' + nested + "}"
        attributes = {k: v for k, v in cloud_order("c").items() if k != "data"}
        cloud = orjson.dumps(attributes).decode()[:-1] + ', "data": ' + nested + "}"
        cases = {
            "json": (post(api, event, key=key), 400, "payload.a.a"),
            "array": (
                post(api, f"[{orjson.dumps(order('ok')).decode()}, {event}]", key=key),
                400,
                "[1].payload.a",
            ),
            "cloudevent": (post(api, cloud, CE, key=key), 400, "data.a.a"),
            "batch": (post(api, f"[{cloud}]", CE_BATCH, key=key), 400, "[0].data.a"),
        }
        binary = {"ce-specversion": "1.0", "ce-id": "bin", "ce-source": "shop", "ce-type": "order.placed"}
        cases["binary"] = (post(api, nested_text(levels), key=key, **binary), 400, "data.a.a")
        cases["webhook"] = (
            api.request("POST", webhook, key, content=nested_text(levels),
                        headers={"Content-Type": "application/json"}),
            400,
            "a.a.a",
        )  # fmt: skip
        line = nested_text(levels)
        cases["ndjson"] = (
            post(api, orjson.dumps(order("n")).decode() + "\n" + line, NDJSON, key=key),
            207,
            "",
        )
        for name, (answer, status, where) in cases.items():
            assert answer.status_code == status, (levels, name, answer.text[:300])
            body = answer.json()
            if status == 400:
                assert body["rule"] == "depth" and body["limit_depth"] == 64, (levels, name)
                assert body["path"].startswith(where) and body["path"] in body["error"], (levels, name)
                assert len(answer.content) < 2000, (levels, name)
            else:
                rejected = body["results"][1]
                assert [e["rule"] for e in rejected["errors"]] == ["depth"], (levels, name)
                assert rejected["errors"][0]["path"].startswith("a.a.a"), (levels, name)
    in_log = sorted(e["event_id"] for e in logged("raw"))
    assert in_log == ["n"]  # twice sent, accepted once; nothing of the refused bodies
    assert [letter["errors"][0]["rule"] for letter in logged("deadletter")] == ["depth", "depth"]


def test_the_depth_limit_is_a_setting_and_counts_the_event_itself(serve_api, logged) -> None:
    api = serve_api(http_max_json_depth=3)
    key = api.create_key()
    assert post(api, order("fits", payload={"a": {"b": 1}}), key=key).status_code == 200
    assert post(api, [order("fits-too", payload={"a": {"b": 1}})], key=key).status_code == 200
    over = post(api, order("over", payload={"a": {"b": []}}), key=key)
    assert over.status_code == 400 and over.json()["path"] == "payload.a.b"
    assert sorted(e["event_id"] for e in logged("raw")) == ["fits", "fits-too"]


def test_an_oversized_event_is_rejected_alone_and_its_dead_letter_fits_the_log(api, key, logged) -> None:
    """9 MiB of one event once made its dead letter too large for the log: a 503 forever."""
    huge = order("huge", note="x" * (9 * 1024 * 1024))
    answer = post(api, [order("small-1"), huge, order("small-2")], key=key)
    assert answer.status_code == 207, answer.text[:500]
    body = answer.json()
    assert [r["status"] for r in body["results"]] == ["accepted", "rejected", "accepted"]
    [error] = body["results"][1]["errors"]
    assert (error["path"], error["rule"]) == ("$", "event_size")
    assert "at most 1048576 allowed" in error["message"]
    assert len(answer.content) < 5000
    assert sorted(e["event_id"] for e in logged("raw")) == ["small-1", "small-2"]
    [letter] = logged("deadletter")
    assert letter["raw_truncated"] is True and letter["raw_bytes"] == len(orjson.dumps(huge))
    assert letter["raw"].startswith('{"event_id":"huge"') and len(letter["raw"]) <= 256 * 1024
    assert letter["errors"] == body["results"][1]["errors"]

    alone = post(api, huge, key=key)
    assert alone.status_code == 422 and alone.json()["results"][0]["errors"][0]["rule"] == "event_size"


def test_scope_is_checked_on_the_claims_before_validation(api, logged) -> None:
    """An invalid event out of scope is refused whole (403), not dead-lettered under a source the key
    may not write."""
    writer = api.create_key("write", sources=["shop"], types=["order.*"])
    invalid_elsewhere = order("x", source="crm", measures={"amount": "lots"})
    refusals = {
        "json": post(api, [order("in"), invalid_elsewhere], key=writer),
        "wrong type": post(api, order("t", type="deal.closed", occurred_at="never"), key=writer),
        "cloudevent": post(api, cloud_order("c", source="crm", time="never"), CE, key=writer),
        "binary": post(api, b"[1]", key=writer, **{"ce-specversion": "1.0", "ce-id": "b",
                                                    "ce-source": "/elsewhere", "ce-type": "order.placed"}),
        "webhook": api.request("POST", "/v1/webhooks/generic_webhook", writer, content=b'{"id": 5}',
                               headers={"Content-Type": "application/json"}),  # crm, by its mapping
    }  # fmt: skip
    for name, answer in refusals.items():
        assert answer.status_code == 403, (name, answer.text)
        assert answer.json()["rule"] == "out_of_scope", name
    assert refusals["json"].json()["events"] == [{"index": 1, "source": "crm", "type": "order.placed"}]
    assert logged("raw") == [] and logged("deadletter") == []

    unclaimed = post(api, {"event_id": "no-source", "type": "order.placed"}, key=writer)
    assert unclaimed.status_code == 422  # nothing claimed out of scope: validation names what is missing
    assert "source" in [e["path"] for e in unclaimed.json()["results"][0]["errors"]]


def test_the_rate_limit_charges_every_event_and_says_when_a_request_can_never_fit(serve_api, logged):
    api = serve_api(http_rate_limit="5/hour")  # a window no pause of the machine's can outlast
    key = api.create_key()
    never = post(api, [order(f"n-{i}") for i in range(6)], key=key)
    assert never.status_code == 413 and "Retry-After" not in never.headers
    assert never.json()["rule"] == "over_rate_limit" and never.json()["limit_events"] == 5
    assert "split the request" in never.json()["error"] and "5/hour" in never.json()["error"]
    assert post(api, [order(f"a-{i}") for i in range(3)], key=key).status_code == 200
    limited = post(api, [order(f"b-{i}") for i in range(3)], key=key)  # 6 of 5 within the hour
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    assert limited.json()["rule"] == "rate_limited" and limited.json()["limit_events"] == 5
    assert post(api, [order("c-0"), order("c-1")], key=key).status_code == 200  # exactly 5
    assert sorted(e["event_id"] for e in logged("raw")) == ["a-0", "a-1", "a-2", "c-0", "c-1"]


def test_rejected_values_are_echoed_cut_short(api, key) -> None:
    long_id = post(api, order("x" * 200_000), key=key)
    assert long_id.status_code == 422 and len(long_id.content) < 3000
    result = long_id.json()["results"][0]
    assert result["event_id"].startswith("x" * 200) and result["event_id"].endswith("…(+199800 chars)")

    unknown_keys = post(api, order("k") | {f"unknown_{i}": i for i in range(10_000)}, key=key)
    assert unknown_keys.status_code == 422 and len(unknown_keys.content) < 5000
    result = unknown_keys.json()["results"][0]
    assert len(result["errors"]) == 20 and result["errors_not_listed"] == 10_000 - 20
    assert result["errors"][0] == {"path": "unknown_0", "message": "unknown field", "rule": "extra_forbidden"}

    long_key = post(
        api, order("lk", dimensions={"R" * 100_000: "eu", "region": "EU", "channel": "web"}), key=key
    )
    assert long_key.status_code == 422 and len(long_key.content) < 3000
    [error] = long_key.json()["results"][0]["errors"]
    assert error["rule"] == "invalid_key" and "…(+" in error["path"] and "…(+" in error["message"]

    out_of_scope = post(api, order("s", source="s" * 100_000), key=api.create_key(sources=["shop"]))
    assert out_of_scope.status_code == 403 and len(out_of_scope.content) < 3000
    assert len(api.request("POST", "/v1/webhooks/" + "m" * 5000, key, content=b"{}").content) < 1000


def test_the_cloudevents_specifications_examples_are_accepted_over_http(api, key, logged) -> None:
    """Examples from the CloudEvents JSON format: `source` is a URI-reference such as `/mycontext`."""
    for example in (SPEC_EXAMPLE, *JSON_FORMAT_EXAMPLES):
        answer = post(api, example, CE, key=key)
        assert answer.status_code == 200, answer.text
    batch = post(api, [e | {"id": f"batch-{e['id']}"} for e in JSON_BATCH_EXAMPLE], CE_BATCH, key=key)
    assert batch.status_code == 200, batch.text
    sources = sorted({e["source"] for e in logged("raw")})
    assert sources == [
        "/mycontext",
        "/mycontext/4",
        "/mycontext/9",
        "https://github.com/cloudevents/spec/pull",
    ]

    untimed = {k: v for k, v in JSON_FORMAT_EXAMPLES[2].items() if k != "time"} | {"id": "untimed"}
    refused = post(api, untimed, CE, key=key)
    assert refused.status_code == 422  # okrstream requires `time`: the one error names it, not `source`
    assert [(e["path"], e["rule"]) for e in refused.json()["results"][0]["errors"]] == [("time", "required")]
