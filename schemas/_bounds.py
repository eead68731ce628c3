"""What one input may cost okrstream: how deep its JSON nests, and how much of it an answer echoes.

A hostile client must get a short, clear refusal, never a crash or an answer larger than its
question: nesting is measured without recursion, and echoed values are cut short.
"""

from __future__ import annotations

import re
from typing import Any

import orjson

ECHO_CHARS = 200  # of any value an answer, error or dead letter repeats back
KEY_CHARS = 100  # of each object key in a path
MAX_ERRORS_LISTED = 20  # errors listed per rejected event; the rest are counted
MAX_PAYLOAD_DEPTH = 128  # nesting of an event's payload: every route, so every event can be encoded
_CONTAINERS = (dict, list)
_NESTED = frozenset(_CONTAINERS)  # exact types: what orjson.loads makes, checked fast


def echo(text: str, limit: int = ECHO_CHARS) -> str:
    """`text` cut to `limit` characters, saying how many were cut."""
    if len(text) <= limit:
        return text
    return f"{text[:limit]}…(+{len(text) - limit} chars)"


def echo_repr(text: str, limit: int = ECHO_CHARS) -> str:
    """`text` quoted as Python shows strings, cut like `echo`, for messages such as "got 'x'"."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}…(+{len(text) - limit} chars)"


def join_path(parts: list[str | int], prefix: str = "") -> str:
    """`payload.items[3].name` from its keys and indexes; long keys are cut."""
    path = prefix
    for part in parts:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            key = echo(part, KEY_CHARS)
            path += f".{key}" if path else key
    return path or "$"


def too_deep(value: Any, limit: int, *, level: int = 1, prefix: str = "") -> str | None:
    """The path of an object or array nested deeper than `limit` levels in `value`, or None.

    `value` itself sits at `level` (1 for an event, 2 for a CloudEvent's data), `prefix` is its path.
    Iterative, so a document thousands of levels deep costs a loop, not the interpreter's stack.
    """
    if not isinstance(value, _CONTAINERS):
        return None
    if level < limit and _shallow(value):
        return None  # the common event: scalars, and objects of scalars (dimensions, measures)
    stack: list[tuple[Any, int, tuple | None]] = [(value, level, None)]  # (container, level, trail)
    while stack:
        node, depth, trail = stack.pop()
        if depth > limit:
            parts: list[str | int] = []
            while trail is not None:
                trail, key = trail
                parts.append(key)
            return join_path(parts[::-1], prefix)
        children = node.items() if isinstance(node, dict) else enumerate(node)
        stack.extend((child, depth + 1, (trail, key)) for key, child in children if type(child) in _NESTED)
    return None


def _shallow(value: Any) -> bool:
    """Whether nothing below `value`'s children is an object or array: one level of nesting at most."""
    for child in value.values() if isinstance(value, dict) else value:
        if type(child) in _NESTED:
            for grandchild in child.values() if type(child) is dict else child:
                if type(grandchild) in _NESTED:
                    return False
    return True


_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[\[\]{},]')


def too_deep_in_text(text: str, limit: int, prefix: str = "") -> str:
    """Where JSON text opens an object or array deeper than `limit` levels, for a document the parser
    refused as too deep to read (orjson stops at 1024 levels, without saying where)."""
    stack: list[list[Any]] = []  # per open container: [is_object, key or index, expecting a key]
    for match in _TOKEN.finditer(text):
        token = match.group()
        if token in ("{", "["):
            if len(stack) >= limit:
                return join_path([entry[1] for entry in stack], prefix)
            stack.append([token == "{", 0, token == "{"])
        elif token in ("}", "]"):
            if stack:
                stack.pop()
        elif token == ",":
            if stack and stack[-1][0]:
                stack[-1][2] = True
            elif stack:
                stack[-1][1] += 1
        elif stack and stack[-1][0] and stack[-1][2]:  # a string where a key is due
            try:
                stack[-1][1] = orjson.loads(token)
            except orjson.JSONDecodeError:
                stack[-1][1] = token.strip('"')
            stack[-1][2] = False
    return prefix or "$"
