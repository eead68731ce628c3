"""DirectRoute: FastAPI calls its endpoint with the request alone, so an endpoint that asks for
anything more is refused when the route is made, never skipped silently while serving."""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
from fastapi import Depends, FastAPI, Request, Response

from processors.api import ApiError, DirectRoute, install_error_handler

pytestmark = pytest.mark.pure


def _post(app: FastAPI, path: str, **kwargs: Any) -> httpx.Response:
    async def send() -> httpx.Response:
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as client:
            return await client.post(path, **kwargs)

    return asyncio.run(send())


def test_the_endpoint_reads_its_request_and_its_errors_reach_the_error_handler() -> None:
    app = FastAPI()
    install_error_handler(app)

    async def echo(request: Request) -> Response:
        body = await request.body()
        if not body:
            raise ApiError(400, "the body holds no events", "empty")
        return Response(request.headers["x-probe"] + body.decode(), status_code=207)

    app.router.add_api_route("/echo", echo, methods=["POST"], route_class_override=DirectRoute)
    answer = _post(app, "/echo", content=b" body", headers={"x-probe": "head"})
    assert (answer.status_code, answer.text) == (207, "head body")
    refused = _post(app, "/echo", content=b"", headers={"x-probe": "head"})
    assert refused.status_code == 400 and refused.json()["rule"] == "empty"


async def _key() -> str:
    return "key"


async def _asks_a_query_parameter(request: Request, n: int) -> Response:
    return Response()


async def _asks_a_dependency(request: Request, key: str = Depends(_key)) -> Response:
    return Response()


async def _asks_a_path_parameter(request: Request, name: str) -> Response:
    return Response()


async def _asks_nothing() -> Response:
    return Response()


@pytest.mark.parametrize(
    ("path", "endpoint", "extra"),
    [
        ("/q", _asks_a_query_parameter, {}),
        ("/d", _asks_a_dependency, {}),
        ("/r", _asks_nothing, {}),
        ("/p/{name}", _asks_a_path_parameter, {}),
        ("/deps", _asks_nothing, {"dependencies": [Depends(_key)]}),
    ],
)
def test_an_endpoint_asking_for_more_than_the_request_is_refused(
    path: str, endpoint: Any, extra: Any
) -> None:
    with pytest.raises(TypeError, match="takes the request and nothing else"):
        DirectRoute(path, endpoint, methods=["POST"], **extra)
