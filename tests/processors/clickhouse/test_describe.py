"""What okrstream prints of where its data lives: never a password from CLICKHOUSE_URL."""

from __future__ import annotations

import pytest

from processors.clickhouse import describe
from schemas import Settings

pytestmark = pytest.mark.pure


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://default:s3cret%20pass@127.0.0.1:8123", "http://default:***@127.0.0.1:8123"),
        ("https://bi:x@ch.example:8443/?secure=1", "https://bi:***@ch.example:8443/?secure=1"),
        ("http://a:b@c@host:8123", "http://a:***@host:8123"),  # the last @ ends the credentials
        ("http://bob@host:8123", "http://bob@host:8123"),  # a user without a password
        ("http://host:8123", "http://host:8123"),
    ],
)
def test_a_password_in_the_url_is_shown_as_stars(url: str, shown: str) -> None:
    assert describe(Settings(clickhouse_url=url)) == shown


def test_the_embedded_store_is_named_by_its_path(tmp_path) -> None:
    assert describe(Settings(data_dir=tmp_path)) == f"embedded chDB at {tmp_path / 'chdb'}"
