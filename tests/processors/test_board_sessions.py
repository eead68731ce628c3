"""Board sessions: a signed cookie stands for a key while the key is active, until it expires."""

from __future__ import annotations

import tomllib
from datetime import UTC, datetime
from fnmatch import fnmatch
from importlib import resources
from pathlib import Path

from processors.board import BoardSessions
from schemas import Access, KeyRing, new_api_key

NOW = datetime(2026, 11, 2, tzinfo=UTC)


def keys():
    _, reader = new_api_key("reader", Access.READ, (), (), now=NOW)
    _, other = new_api_key("other", Access.READ, (), (), now=NOW)
    return reader, other


def test_a_session_stands_for_its_key_until_it_expires() -> None:
    reader, other = keys()
    clock = [1_000_000.0]
    sessions = BoardSessions(lambda: KeyRing([reader, other]), lifetime_s=60, clock=lambda: clock[0])
    cookie = sessions.issue(reader)
    assert reader.secret_hash not in cookie and cookie.startswith(f"{reader.key_id}.")
    assert sessions.key(cookie) == reader
    clock[0] += 59
    assert sessions.key(cookie) == reader
    clock[0] += 1
    assert sessions.key(cookie) is None


def test_a_forged_or_damaged_session_stands_for_nothing() -> None:
    reader, other = keys()
    sessions = BoardSessions(lambda: KeyRing([reader, other]))
    cookie = sessions.issue(reader)
    key_id, expires, signature = cookie.split(".")
    longer = f"{key_id}.{int(expires) + 3600}.{signature}"  # a later expiry under the old signature
    as_other = f"{other.key_id}.{expires}.{signature}"  # another key's id under this one's signature
    flipped = f"{key_id}.{expires}.{signature[:-1]}{'A' if signature[-1] != 'A' else 'B'}"
    for bad in (longer, as_other, flipped, "", None, "x", "a.b.c", f"{key_id}.-5.{signature}", cookie + "."):
        assert sessions.key(bad) is None, bad


def test_only_a_well_formed_unexpired_session_names_a_key_worth_learning() -> None:
    """The board rereads the store for the key a session names when its ring lacks it: never for
    a session that could not stand for anything anyway."""
    reader, _ = keys()
    clock = [1_000_000.0]
    sessions = BoardSessions(lambda: KeyRing([]), lifetime_s=60, clock=lambda: clock[0])
    cookie = sessions.issue(reader)
    assert sessions.key_id(cookie) == reader.key_id
    assert sessions.key(cookie) is None  # the ring lacks the key
    superscript = f"{reader.key_id}.\u00b2.sig"  # a digit to str.isdigit, not to int()
    endless = f"{reader.key_id}.{'9' * 5000}.sig"  # more digits than int() reads
    accented = cookie[:-1] + "\u00e9"  # hmac.compare_digest takes ASCII text only
    for bad in (
        "",
        None,
        "x",
        "a.b",
        cookie + ".",
        f"{reader.key_id}.-5.sig",
        f"{reader.key_id}.x.sig",
        superscript,
        endless,
    ):
        assert sessions.key_id(bad) is None, bad
        assert sessions.key(bad) is None, bad
    with_key = BoardSessions(lambda: KeyRing([reader]), lifetime_s=60, clock=lambda: clock[0])
    assert with_key.key(accented) is None
    clock[0] += 60
    assert sessions.key_id(cookie) is None


def test_revoking_the_key_ends_its_sessions() -> None:
    reader, other = keys()
    ring = [KeyRing([reader, other])]
    sessions = BoardSessions(lambda: ring[0])
    cookie = sessions.issue(reader)
    ring[0] = KeyRing([reader.revoked(NOW), other])
    assert sessions.key(cookie) is None
    ring[0] = KeyRing([other])  # gone from the store altogether
    assert sessions.key(cookie) is None


def test_every_file_of_the_board_ships_in_the_wheel_and_none_is_fetched_from_elsewhere() -> None:
    pyproject = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    patterns = pyproject["tool"]["setuptools"]["package-data"]["processors.board"]
    files = [f for f in resources.files("processors.board").joinpath("static").iterdir() if f.is_file()]
    assert {f.name.rsplit(".", 1)[1] for f in files} == {"html", "css", "js"}
    for f in files:
        assert any(fnmatch(f"static/{f.name}", p) for p in patterns), f.name
        text = f.read_text(encoding="utf-8").replace('"http://www.w3.org/2000/svg"', "")  # a name only
        # no script, style sheet or font from a CDN: the board works offline
        assert "//cdn" not in text and "https://" not in text and "http://" not in text, f.name
        assert "@import" not in text and '<script src="http' not in text
