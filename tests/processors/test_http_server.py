"""The HTTP API's listening socket: a free port on request, and TCP named so answers are not delayed."""

from __future__ import annotations

import socket

from processors.api import bind, url_of
from schemas import Settings


def test_the_listening_socket_is_tcp_so_asyncio_turns_off_nagle_on_its_connections() -> None:
    sock = bind(Settings(http_port=0))
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert url_of(sock).startswith("http://127.0.0.1:")
        assert not url_of(sock).endswith(":0")
    finally:
        sock.close()


def test_only_an_explicit_setting_turns_auth_off_and_then_run_warns() -> None:
    from processors.runtime import auth_warning

    assert Settings().auth.value == "required"
    assert auth_warning(Settings()) is None
    warning = auth_warning(Settings.from_env({"OKRSTREAM_AUTH": "disabled"}))
    assert warning is not None and warning.startswith("WARNING: OKRSTREAM_AUTH=disabled")
