"""Asking the running `okrstream run` process over its HTTP API, as the CLI does in embedded mode.

The process writes its URL and a per-run admin token into `run.json` in the data dir (readable
only by its owner); commands on the same machine present that token.
"""

from __future__ import annotations

import json
import urllib.error
import urllib.request
from typing import Any

from schemas import ConfigError, FieldError


def call_running(
    running: dict[str, Any],
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
    method: str | None = None,
) -> Any:
    """The JSON answer; a 4xx/5xx becomes ConfigError (when it lists field errors) or ValueError."""
    headers = dict(headers or {})
    if running.get("admin_token"):
        headers["Authorization"] = f"Bearer {running['admin_token']}"
    request = urllib.request.Request(f"{running['api_url']}{path}", data=body, headers=headers, method=method)
    try:
        with urllib.request.urlopen(request, timeout=600) as response:
            return json.load(response)
    except urllib.error.HTTPError as e:
        answer = json.load(e)
        if answer.get("errors"):
            raise ConfigError(FieldError(**error) for error in answer["errors"]) from None
        raise ValueError(answer.get("error", str(e))) from None
