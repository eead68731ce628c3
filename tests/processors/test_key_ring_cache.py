"""A key made through one API process works through every other at once, not after their refresh.

With `okrstream serve --processes N` the kernel hands a client's next connection to any of the
N processes; each keeps its own copy of the key ring. A key unknown to a process's copy makes it
reread the store, off the event loop, before answering 401; a reread that finds no such key holds
the next off for a second (the clock and its sleep are injected: a sleep moves the clock).
"""

from __future__ import annotations

import asyncio
import threading
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

    def hold_next_read(self) -> tuple[threading.Event, threading.Event]:
        """The next read takes the keys as they stand when it begins, then waits for `release`
        before it answers; reads after it are plain. Returns (began, release)."""
        began, release = threading.Event(), threading.Event()
        plain_list = self.list

        def held() -> list[ApiKey]:
            keys = plain_list()
            self.list = plain_list  # type: ignore[method-assign]
            began.set()
            assert release.wait(10)
            return keys

        self.list = held  # type: ignore[method-assign]
        return began, release


@pytest.fixture
def clock() -> list[float]:
    return [100.0]


@pytest.fixture
def stored() -> KeysInStore:
    return KeysInStore()


@pytest.fixture
def cache(stored: KeysInStore, clock: list[float]) -> KeyRingCache:
    async def sleep(seconds: float) -> None:
        clock[0] += seconds
        await asyncio.sleep(0)

    cache = KeyRingCache(stored, None, miss_interval_s=1.0, clock=lambda: clock[0], sleep=sleep)  # type: ignore[arg-type]
    cache.refresh()
    return cache


def known(cache: KeyRingCache, token: str) -> ApiKey | None:
    """The key `token` proves, learnt from the store if the ring lacks it, as a request does."""
    key_id = token_key_id(token)
    if key_id is not None and not cache.ring().knows(key_id):
        asyncio.run(cache.learn(key_id))
    try:
        return cache.ring().authenticate(token)
    except Unauthenticated:
        return None


def test_a_key_made_elsewhere_is_known_at_the_first_request(cache, stored) -> None:
    token, key = new_api_key("made by another process", Access.READ, (), (), now=NOW)
    stored.keys.append(key)

    assert known(cache, token) == key
    assert stored.reads == 2  # the start, then the miss
    assert known(cache, token) == key
    assert stored.reads == 2  # held now: no reread


def test_keys_made_elsewhere_one_after_another_are_each_known_at_once(cache, stored) -> None:
    for i in range(3):
        token, key = new_api_key(f"made elsewhere {i}", Access.READ, (), (), now=NOW)
        stored.keys.append(key)
        assert known(cache, token) == key
    assert stored.reads == 4


def all_known(cache: KeyRingCache, tokens: list[str]) -> list[bool]:
    """Requests naming these keys at once, each learning its key as `known` does."""

    async def requests() -> list[bool]:
        return list(await asyncio.gather(*(cache.learn(str(token_key_id(t))) for t in tokens)))

    return asyncio.run(requests())


def test_unknown_keys_reread_the_store_at_most_once_a_second(cache, stored, clock) -> None:
    made_up = [new_api_key(f"made up {i}", Access.WRITE, ("*",), ("*",), now=NOW)[0] for i in range(100)]
    assert all_known(cache, made_up[:50]) == [False] * 50
    assert stored.reads == 2  # the start, then one for the 50
    assert clock[0] == 100.0

    token, key = new_api_key("made meanwhile", Access.READ, (), (), now=NOW)
    stored.keys.append(key)
    assert all_known(cache, [*made_up[50:], token]) == [False] * 50 + [True]
    assert stored.reads == 3
    assert clock[0] == 101.0  # the second read waited out the hold-off of the first


def test_a_key_stored_while_a_reread_runs_is_known_to_a_request_made_meanwhile(cache, stored) -> None:
    """The reread under way began before the key was stored: the request waits for the next one."""
    made_up, _ = new_api_key("made up", Access.READ, (), (), now=NOW)
    token, key = new_api_key("made while a reread ran", Access.READ, (), (), now=NOW)
    began, release = stored.hold_next_read()  # it answers as the store stood: without the key

    async def requests() -> list[bool]:
        first = asyncio.ensure_future(cache.learn(str(token_key_id(made_up))))
        assert await asyncio.to_thread(began.wait, 10)
        stored.keys.append(key)  # made through another process, while that read runs
        second = asyncio.ensure_future(cache.learn(key.key_id))
        await asyncio.sleep(0)
        release.set()
        return list(await asyncio.gather(first, second))

    assert asyncio.run(requests()) == [False, True]
    assert stored.reads == 3
    assert known(cache, token) == key


def test_a_store_that_hangs_holds_one_reread_however_long_unknown_keys_keep_coming(cache, stored) -> None:
    """The hold-off passes while the first reread hangs: the next waits for it to end, rather than
    take another thread of the pool (a store that hangs long would take them all)."""
    made_up = [new_api_key(f"made up {i}", Access.READ, (), (), now=NOW)[0] for i in range(3)]
    entered = [threading.Event(), threading.Event()]
    release = threading.Event()
    plain_list = stored.list

    def hanging_list() -> list[ApiKey]:
        entered[1 if entered[0].is_set() else 0].set()
        assert release.wait(10)
        return plain_list()

    stored.list = hanging_list  # type: ignore[method-assign]

    async def requests() -> tuple[bool, list[bool]]:
        first = asyncio.ensure_future(cache.learn(str(token_key_id(made_up[0]))))
        assert await asyncio.to_thread(entered[0].wait, 10)
        later = [asyncio.ensure_future(cache.learn(str(token_key_id(t)))) for t in made_up[1:]]
        second_began = await asyncio.to_thread(entered[1].wait, 0.5)  # the fake hold-off passed at once
        release.set()
        return second_began, list(await asyncio.gather(first, *later))

    second_began, answers = asyncio.run(requests())
    assert not second_began
    assert answers == [False, False, False]
    assert stored.reads == 3  # the start, the read that hung, then one after it ended
    assert entered[1].is_set()


def test_a_failed_reread_is_logged_once_whoever_waited_for_it(cache, stored, caplog) -> None:
    def away() -> list[ApiKey]:
        raise ConnectionError("the store does not answer")

    stored.list = away  # type: ignore[method-assign]
    made_up = [new_api_key(f"made up {i}", Access.READ, (), (), now=NOW)[0] for i in range(5)]
    with caplog.at_level("WARNING"):
        assert all_known(cache, made_up) == [False] * 5
    assert [r.getMessage() for r in caplog.records] == ["could not reread API keys"]


def test_a_revoked_key_the_ring_holds_never_rereads(cache, stored, clock) -> None:
    _, key = new_api_key("revoked", Access.READ, (), (), now=NOW)
    stored.keys.append(key.model_copy(update={"revoked_at": NOW}))
    cache.refresh()
    for _ in range(3):
        clock[0] += 5.0
        assert asyncio.run(cache.learn(key.key_id)) is False
    assert stored.reads == 2


def test_concurrent_misses_share_one_reread_off_the_event_loop(cache, stored) -> None:
    _, key = new_api_key("made elsewhere", Access.READ, (), (), now=NOW)
    stored.keys.append(key)
    gate = threading.Event()
    plain_list = stored.list

    def slow_list() -> list[ApiKey]:
        assert gate.wait(10)
        return plain_list()

    stored.list = slow_list  # type: ignore[method-assign]

    async def requests() -> list[bool | str]:
        learning = [asyncio.ensure_future(cache.learn(key.key_id)) for _ in range(5)]

        async def other_request() -> str:  # runs while the reread waits on the store
            await asyncio.sleep(0)
            gate.set()
            return "answered"

        return [await other_request(), *await asyncio.gather(*learning)]

    assert asyncio.run(requests()) == ["answered", True, True, True, True, True]
    assert stored.reads == 2


def test_a_read_that_ends_after_a_newer_one_does_not_bring_a_revoked_key_back(cache, stored) -> None:
    token, key = new_api_key("revoked meanwhile", Access.READ, (), (), now=NOW)
    stored.keys.append(key)
    cache.refresh()
    began, release = stored.hold_next_read()  # it answers as the store stood: the key active
    older = threading.Thread(target=cache.refresh)  # the periodic reread, say
    older.start()
    assert began.wait(10)
    stored.keys[0] = key.model_copy(update={"revoked_at": NOW})  # revoked through this process
    cache.refresh()
    release.set()
    older.join(10)

    assert known(cache, token) is None


def test_a_store_away_leaves_the_key_unknown_and_the_ring_in_force(cache, stored) -> None:
    kept, held = new_api_key("held", Access.READ, (), (), now=NOW)
    stored.keys.append(held)
    cache.refresh()

    def away() -> list[ApiKey]:
        raise ConnectionError("the store does not answer")

    stored.list = away  # type: ignore[method-assign]
    token, _ = new_api_key("made elsewhere", Access.READ, (), (), now=NOW)
    assert known(cache, token) is None
    assert known(cache, kept) == held


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
