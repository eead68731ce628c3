"""The HTTP API's listening socket: a free port on request, and TCP named so answers are not delayed."""

from __future__ import annotations

import socket

from processors._http_server import bind, url_of
from schemas import Settings


def test_the_listening_socket_is_tcp_so_asyncio_turns_off_nagle_on_its_connections() -> None:
    sock = bind(Settings(http_port=0))
    try:
        assert sock.proto == socket.IPPROTO_TCP
        assert url_of(sock).startswith("http://127.0.0.1:")
        assert not url_of(sock).endswith(":0")
    finally:
        sock.close()
