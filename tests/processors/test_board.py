"""The board's routes on a real API process (uvicorn on a thread, the test's broker and store):
login and logout with a session cookie, nothing shown without one, and scores streamed live."""

from __future__ import annotations

import threading
from datetime import UTC, datetime

import httpx
import pytest

from processors.board import SESSION_COOKIE
from processors.okr import OkrLog
from schemas import Settings


def login(api, token: str, **headers: str) -> httpx.Response:
    return httpx.post(
        f"{api.url}/board/login",
        content=f"key={token}",
        headers={"Content-Type": "application/x-www-form-urlencoded", **headers},
        follow_redirects=False,
        timeout=30,
    )


def session_of(answer: httpx.Response) -> dict[str, str]:
    return {SESSION_COOKIE: answer.cookies[SESSION_COOKIE]}


def test_the_front_page_links_to_the_board_and_the_board_asks_for_a_key_first(serve_api) -> None:
    api = serve_api()
    front = httpx.get(f"{api.url}/", timeout=30)
    assert front.status_code == 200 and 'href="/board"' in front.text
    page = httpx.get(f"{api.url}/board", timeout=30, follow_redirects=False)
    assert page.status_code == 303 and page.headers["location"] == "/board/login"
    form = httpx.get(f"{api.url}/board/login", timeout=30)
    assert form.status_code == 200 and 'name="key"' in form.text
    assert "default-src 'self'" in form.headers["content-security-policy"]
    for path in ("/board/api/objectives", "/board/api/kpis", "/board/api/key-results/x", "/board/events"):
        assert httpx.get(f"{api.url}{path}", timeout=30).status_code == 401, path
    script = httpx.get(f"{api.url}/board/static/board.js", timeout=30)
    assert script.status_code == 200 and script.headers["content-type"].startswith("text/javascript")
    assert httpx.get(f"{api.url}/board/static/nope.js", timeout=30).status_code == 404
    assert httpx.get(f"{api.url}/board/static/login.html", timeout=30).status_code == 404


def test_a_read_key_entered_once_opens_a_session_until_logout(serve_api) -> None:
    api = serve_api()
    reader = api.create_key("read", name="reader")
    answer = login(api, reader)
    assert answer.status_code == 303 and answer.headers["location"] == "/board"
    cookie = answer.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/board" in cookie
    assert reader not in cookie  # the key itself never goes to the browser
    session = session_of(answer)
    board = httpx.get(f"{api.url}/board", cookies=session, timeout=30)
    assert board.status_code == 200 and "board.js" in board.text
    objectives = httpx.get(f"{api.url}/board/api/objectives", cookies=session, timeout=30)
    assert objectives.status_code == 200 and objectives.json()["objectives"] == []
    who = httpx.get(f"{api.url}/board/api/session", cookies=session, timeout=30).json()
    assert who["key"]["name"] == "reader" and who["auth"] is True
    # the API's own routes still want the key itself, never the cookie
    assert httpx.get(f"{api.url}/v1/objectives", cookies=session, timeout=30).status_code == 401
    assert api.request("GET", "/v1/objectives", reader).status_code == 200
    out = httpx.post(f"{api.url}/board/logout", cookies=session, timeout=30, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/board/login"
    assert f'{SESSION_COOKIE}=""' in out.headers["set-cookie"] and "Max-Age=0" in out.headers["set-cookie"]


def test_wrong_and_write_keys_are_refused_and_revoking_a_key_ends_its_sessions(serve_api) -> None:
    api = serve_api()
    wrong = login(api, "oks_0123456789ab_" + "x" * 43)
    assert wrong.status_code == 401 and "was not accepted" in wrong.text and "set-cookie" not in wrong.headers
    assert login(api, "").status_code == 401
    writer = login(api, api.create_key("write"))
    assert writer.status_code == 403 and "write key" in writer.text
    elsewhere = login(api, api.create_key("read"), origin="https://evil.example")
    assert elsewhere.status_code == 403 and "set-cookie" not in elsewhere.headers
    reader = api.create_key("read", name="leaving")
    session = session_of(login(api, reader))
    key_id = reader.split("_")[1]
    assert api.request("POST", f"/v1/keys/{key_id}/revoke", api.admin_token).status_code == 200
    assert httpx.get(f"{api.url}/board/api/objectives", cookies=session, timeout=30).status_code == 401
    page = httpx.get(f"{api.url}/board", cookies=session, timeout=30, follow_redirects=False)
    assert page.status_code == 303


def test_the_local_admin_token_opens_the_board_too(serve_api) -> None:
    api = serve_api()
    session = session_of(login(api, api.admin_token))
    assert httpx.get(f"{api.url}/board/api/kpis", cookies=session, timeout=30).json()["kpis"] == []


def test_with_auth_disabled_the_board_asks_for_nothing(serve_api) -> None:
    api = serve_api(auth="disabled")
    assert httpx.get(f"{api.url}/board", timeout=30).status_code == 200
    assert httpx.get(f"{api.url}/board/api/objectives", timeout=30).status_code == 200
    who = httpx.get(f"{api.url}/board/api/session", timeout=30).json()
    assert who == {"auth": False, "key": None, "live": True, "timezone": "UTC"}


def scored(key_result: str, progress: float) -> dict:
    now = datetime.now(UTC).isoformat().replace("+00:00", "Z")
    return {
        "type": "key_result.scored",
        "key_result": key_result,
        "objective": "sell",
        "as_of": now,
        "scored_at": now,
        "progress": progress,
        "status": "on_track",
    }


def test_scores_published_on_the_score_topic_reach_every_open_stream(serve_api, settings: Settings) -> None:
    api = serve_api()
    session = session_of(login(api, api.create_key("read")))
    received: list[list[tuple[str, str]]] = [[], []]
    ready = [threading.Event(), threading.Event()]
    done = [threading.Event(), threading.Event()]

    def listen(i: int) -> None:
        with httpx.stream("GET", f"{api.url}/board/events", cookies=session, timeout=30) as stream:
            assert stream.headers["content-type"].startswith("text/event-stream")
            event = ""
            for line in stream.iter_lines():
                if line.startswith("event: "):
                    event = line[7:]
                elif line.startswith("data: "):
                    received[i].append((event, line[6:]))
                    if event == "ready":
                        ready[i].set()
                    if event == "key_result.scored" and '"revenue"' in line:
                        done[i].set()
                        return

    threads = [threading.Thread(target=listen, args=(i,), daemon=True) for i in range(2)]
    for thread in threads:
        thread.start()
    assert all(r.wait(30) for r in ready), "the streams never said ready"
    okr_log = OkrLog(settings.kafka_bootstrap_servers or "", settings)
    try:
        okr_log.scored("revenue", scored("revenue", 0.5))
        okr_log.flush()
        assert all(d.wait(10) for d in done), received
    finally:
        okr_log.close()
    for thread in threads:
        thread.join(10)
    assert all(received[i][0][0] == "ready" and '"live":true' in received[i][0][1] for i in range(2))


@pytest.mark.parametrize("path", ["/board/api/objectives?as_of=yesterday", "/board/api/kpis?grain=minute"])
def test_bad_queries_are_refused_with_the_reason(serve_api, path: str) -> None:
    api = serve_api(auth="disabled")
    answer = httpx.get(f"{api.url}{path}", timeout=30)
    assert answer.status_code == 400 and answer.json()["rule"] == "bad_query"
