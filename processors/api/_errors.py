"""One shape for every refusal of the HTTP API: `{"error": <reason>, "rule": <code>, "path": ..., ...}`."""

from __future__ import annotations

from typing import Any

import orjson
from fastapi import FastAPI, Request, Response
from pydantic import BaseModel


class ApiError(Exception):
    """Answer `status` with a reason; `path` names the part of the request at fault, `extra` adds
    fields (a limit, the events out of scope)."""

    def __init__(
        self,
        status: int,
        message: str,
        rule: str,
        *,
        path: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.message = message
        self.rule = rule
        self.headers = headers or {}
        self.extra = ({"path": path} if path is not None else {}) | (extra or {})


class ErrorBody(BaseModel):
    """What a refused request is told (the OpenAPI schema of every 4xx and 5xx here)."""

    error: str
    rule: str
    path: str | None = None  # the field, header or body position at fault, where there is one


def json_response(body: Any, status: int = 200, headers: dict[str, str] | None = None) -> Response:
    return Response(orjson.dumps(body), status_code=status, headers=headers, media_type="application/json")


def install_error_handler(app: FastAPI) -> None:
    async def handle(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        body = {"error": exc.message, "rule": exc.rule, **exc.extra}
        return json_response(body, exc.status, exc.headers)

    app.add_exception_handler(ApiError, handle)
