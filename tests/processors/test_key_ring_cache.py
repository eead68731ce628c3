"""A key made through one API process works through every other at once, not after their refresh.

With `okrstream serve --processes N` the kernel hands a client's next connection to any of the
N processes; each keeps its own copy of the key ring. A key unknown to a process's copy makes it
reread the store before answering 401; a reread that finds no such key holds the next off for a
second (the clock is injected).
"""

from __future__ import annotations

from datetime import UTC, datetime

import httpx
import pytest

from processors.api import KeyRingCache
from processors.board import SESSION_COOKIE
from schemas import Access, ApiKey, Unauthenticated, new_api_key, token_key_id

NOW = datetime(2026, 10, 1, 12, 0, tzinfo=UTC)


class KeysInStore:
    """The store's keys as ApiKeyStore lists them, counting the reads."""

    def __init__(self) -> None:
        self.keys: list[ApiKey] = []
        self.reads = 0

    def list(self) -> list[ApiKey]:
        self.reads += 1
        return list(self.keys)


@pytest.fixture
def clock() -> list[float]:
    return [100.0]


@pytest.fixture
def stored() -> KeysInStore:
    return KeysInStore()


@pytest.fixture
def cache(stored: KeysInStore, clock: list[float]) -> KeyRingCache:
    cache = KeyRingCache(stored, None, miss_interval_s=1.0, clock=lambda: clock[0])  # type: ignore[arg-type]
    cache.refresh()
    return cache


def test_a_key_made_elsewhere_is_known_at_the_first_request(cache, stored) -> None:
    token, key = new_api_key("made by another process", Access.READ, (), (), now=NOW)
    stored.keys.append(key)

    assert cache.ring(token_key_id(token)).authenticate(token) == key
    assert stored.reads == 2  # the start, then the miss
    assert cache.ring(token_key_id(token)).authenticate(token) == key
    assert stored.reads == 2  # known now: no reread


def test_keys_made_elsewhere_one_after_another_are_each_known_at_once(cache, stored) -> None:
    for i in range(3):
        token, key = new_api_key(f"made elsewhere {i}", Access.READ, (), (), now=NOW)
        stored.keys.append(key)
        assert cache.ring(token_key_id(token)).authenticate(token) == key
    assert stored.reads == 4


def test_unknown_keys_reread_the_store_at_most_once_a_second(cache, stored, clock) -> None:
    made_up = [new_api_key(f"made up {i}", Access.WRITE, ("*",), ("*",), now=NOW)[0] for i in range(50)]
    for token in made_up:
        with pytest.raises(Unauthenticated):
            cache.ring(token_key_id(token)).authenticate(token)
    assert stored.reads == 2

    token, key = new_api_key("made meanwhile", Access.READ, (), (), now=NOW)
    stored.keys.append(key)
    with pytest.raises(Unauthenticated):  # within the second: not reread yet
        cache.ring(token_key_id(token)).authenticate(token)
    clock[0] += 1.0
    assert cache.ring(token_key_id(token)).authenticate(token) == key
    assert stored.reads == 3


@pytest.mark.parametrize("token", [None, "", "not a key"])
def test_no_key_or_a_malformed_one_never_reads_the_store(cache, stored, token) -> None:
    with pytest.raises(Unauthenticated):
        cache.ring(token_key_id(token)).authenticate(token)
    assert stored.reads == 1


def test_a_store_away_leaves_the_key_unknown_and_the_ring_in_force(cache, stored) -> None:
    kept, known = new_api_key("known", Access.READ, (), (), now=NOW)
    stored.keys.append(known)
    cache.refresh()

    def away() -> list[ApiKey]:
        raise ConnectionError("the store does not answer")

    stored.list = away  # type: ignore[method-assign]
    token, _ = new_api_key("made elsewhere", Access.READ, (), (), now=NOW)
    with pytest.raises(Unauthenticated):
        cache.ring(token_key_id(token)).authenticate(token)
    assert cache.ring(token_key_id(kept)).authenticate(kept) == known


def test_a_key_made_through_one_api_works_through_another_at_once(serve_api) -> None:
    """Two APIs on one store, as two `okrstream serve` processes: neither refreshes on its own here."""
    first, second = serve_api(), serve_api()
    token = first.create_key(access="read", name="made through the first")

    assert second.request("GET", "/v1/kpis", token).status_code == 200
    wrong = token[:-4] + ("AAAA" if not token.endswith("AAAA") else "BBBB")
    assert second.request("GET", "/v1/kpis", wrong).status_code == 401

    # the board: a sign-in, and a session opened elsewhere, each for a key this API has not met
    for sign_in_at in (second, first):
        board_key = first.create_key(access="read", name=f"board through {sign_in_at.url}")
        login = httpx.post(
            f"{sign_in_at.url}/board/login",
            content=f"key={board_key}",
            headers={"Content-Type": "application/x-www-form-urlencoded"},
            follow_redirects=False,
            timeout=30,
        )
        assert login.status_code == 303, login.text
        session = {SESSION_COOKIE: login.cookies[SESSION_COOKIE]}
        who = httpx.get(f"{second.url}/board/api/session", cookies=session, timeout=30)
        assert who.status_code == 200, who.text
