"""The CLI's one path to the store: a session that may start opening the store before its first answer."""

from __future__ import annotations

import re
import socket
import threading
from pathlib import Path

import pytest

from processors.cli._backend import ApiCall, Backend
from processors.clickhouse import EventCounts
from schemas import Settings

COUNTS = ApiCall("/v1/counts")


def opener_threads() -> list[str]:
    return [t.name for t in threading.enumerate() if t.name.startswith("okrstream-store-open")]


@pytest.mark.parametrize("open_early", [False, True])
def test_a_session_answers_from_the_store_it_opened_and_leaves_no_thread(
    settings: Settings, open_early: bool
) -> None:
    with Backend(settings).session(open_early=open_early) as answer:
        first = answer(COUNTS, lambda store: store.fetch(EventCounts(settings.clickhouse_database)))
        second = answer(COUNTS, lambda store: store)
        third = answer(COUNTS, lambda store: store)
    assert first == []  # a fresh store: no events, the schema in place
    assert second is third  # one store for the whole session
    assert opener_threads() == []


def test_a_store_that_cannot_be_opened_early_fails_the_first_answer_not_the_session(tmp_path: Path) -> None:
    with socket.socket() as closed:  # a port nothing listens on
        closed.bind(("127.0.0.1", 0))
        url = f"http://127.0.0.1:{closed.getsockname()[1]}"
    settings = Settings(data_dir=tmp_path, clickhouse_url=url)
    with Backend(settings).session(open_early=True) as answer:
        with pytest.raises(Exception, match=re.escape(url.split("//")[1])) as failed:
            answer(COUNTS, lambda store: store)
        with pytest.raises(type(failed.value)):  # the same failure, not another attempt that hangs
            answer(COUNTS, lambda store: store)
    assert opener_threads() == []
