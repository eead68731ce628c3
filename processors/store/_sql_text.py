"""Just enough of ClickHouse's SQL lexer for the HTTP interface to read a request as a server does.

chDB parses and runs the statement; this only finds what the HTTP layer must know first: where an
INSERT's data begins (so the data goes to chDB in its own format, untouched), the FORMAT a query
answers in, and what a server refuses over HTTP (several statements, INTO OUTFILE, FROM INFILE).
It reads bytes and stops where an INSERT's data begins, so binary data is never lexed.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass

_SPACE = re.compile(rb"[ \t\n\r\f\v]+")
_WORD = re.compile(rb"[A-Za-z_\x80-\xff][A-Za-z0-9_$\x80-\xff]*")
_NUMBER = re.compile(rb"[0-9][0-9A-Za-z_.]*")
_HEREDOC_TAG = re.compile(rb"\$[A-Za-z0-9_]*\$")
_OPEN, _CLOSE = b"([{", b")]}"

# statements a read-only session may run (readonly=1: only these; readonly=2 adds SET and USE)
READ_KINDS = frozenset({"SELECT", "WITH", "SHOW", "DESCRIBE", "DESC", "EXISTS", "EXPLAIN", "CHECK"})
# statements that answer with rows in an output format
_RESULT_KINDS = READ_KINDS | {"WATCH"}


@dataclass(frozen=True)
class Token:
    kind: str  # word, string, quoted, number, punct (one byte), end
    start: int
    end: int
    depth: int  # brackets open before it

    def word(self, text: bytes) -> str:
        return text[self.start : self.end].decode("utf-8", "replace").upper() if self.kind == "word" else ""


def tokens(text: bytes) -> Iterator[Token]:
    """The tokens of `text`, whitespace and comments left out; an unterminated literal runs to the end."""
    pos, depth, size = 0, 0, len(text)
    while pos < size:
        byte = text[pos : pos + 1]
        if m := _SPACE.match(text, pos):
            pos = m.end()
        elif text.startswith(b"--", pos) or (byte == b"#" and text[pos + 1 : pos + 2] in (b" ", b"!")):
            newline = text.find(b"\n", pos)
            pos = size if newline < 0 else newline + 1
        elif text.startswith(b"/*", pos):
            pos = _comment_end(text, pos)
        elif byte in (b"'", b'"', b"`"):
            end = _quoted_end(text, pos)
            yield Token("string" if byte == b"'" else "quoted", pos, end, depth)
            pos = end
        elif byte == b"$" and (m := _HEREDOC_TAG.match(text, pos)):
            close = text.find(m.group(), m.end())
            end = size if close < 0 else close + len(m.group())
            yield Token("string", pos, end, depth)
            pos = end
        elif m := _WORD.match(text, pos):
            yield Token("word", pos, m.end(), depth)
            pos = m.end()
        elif m := _NUMBER.match(text, pos):
            yield Token("number", pos, m.end(), depth)
            pos = m.end()
        else:
            if byte[0] in _CLOSE:
                depth = max(0, depth - 1)
            yield Token("punct", pos, pos + 1, depth)
            if byte[0] in _OPEN:
                depth += 1
            pos += 1
    yield Token("end", size, size, depth)


def _comment_end(text: bytes, pos: int) -> int:
    """After a /* */ comment; ClickHouse nests them."""
    nesting, pos = 0, pos
    while pos < len(text):
        if text.startswith(b"/*", pos):
            nesting, pos = nesting + 1, pos + 2
        elif text.startswith(b"*/", pos):
            nesting, pos = nesting - 1, pos + 2
            if nesting == 0:
                return pos
        else:
            pos += 1
    return len(text)


def _quoted_end(text: bytes, pos: int) -> int:
    """After a literal or quoted name: a backslash escapes, a doubled quote is the quote itself."""
    quote, pos = text[pos], pos + 1
    while pos < len(text):
        if text[pos] == 0x5C:  # backslash
            pos += 2
        elif text[pos] == quote:
            if pos + 1 < len(text) and text[pos + 1] == quote:
                pos += 2
            else:
                return pos + 1
        else:
            pos += 1
    return len(text)


@dataclass(frozen=True)
class InsertData:
    """An INSERT whose data follows the statement: chDB takes `statement` and then the data as is."""

    statement: str  # the INSERT up to its FORMAT or VALUES, e.g. "INSERT INTO t (a, b) SETTINGS x = 1"
    format: str  # the data's format: the FORMAT name, or "Values"
    data_start: int  # where the data begins in the text


@dataclass(frozen=True)
class Request:
    """What the HTTP layer needs to know about one request's SQL before chDB runs it."""

    kind: str  # the first keyword, upper case: SELECT, INSERT, CREATE, ...; "" for no statement
    statement_end: int  # where the statement ends (its data, if any, is not part of it)
    insert: InsertData | None = None
    result_format: str | None = None  # the FORMAT the query names, if it names one
    several_statements: bool = False
    into_outfile: bool = False
    from_infile: bool = False

    @property
    def answers_rows(self) -> bool:
        return self.kind in _RESULT_KINDS


def read_request(text: bytes) -> Request:
    """Read a request's SQL text: the `query` parameter, a line break, and the start of the body."""
    stream = tokens(text)
    seen: list[Token] = []
    kind = ""
    for token in stream:
        if token.kind == "end":
            return Request("", token.end)
        if _is(text, token, b"("):
            seen.append(token)
            continue
        kind = token.word(text)
        seen.append(token)
        break
    if kind == "INSERT":
        return _read_insert(text, stream, seen)
    return _read_query(text, kind, stream, seen)


def _read_query(text: bytes, kind: str, stream: Iterator[Token], seen: list[Token]) -> Request:
    result_format = None
    into_outfile = from_infile = several = False
    statement_end = len(text)
    ended = False
    window = seen[-3:]  # the last tokens read, newest last
    for token in stream:
        if ended and token.kind != "end":  # anything but comments and blanks after the first `;`
            several = True
            break
        at_end = token.kind == "end" or (_is(text, token, b";") and token.depth == 0)
        if len(window) >= 2 and (at_end or token.word(text) == "SETTINGS"):
            result_format = _format_clause(text, window) or result_format
        if token.kind == "end":
            break
        words = [t.word(text) for t in window[-1:]] + [token.word(text)]
        if words == ["INTO", "OUTFILE"]:
            into_outfile = True
        if words == ["FROM", "INFILE"]:
            from_infile = True
        if at_end:
            ended, statement_end = True, token.start
        window = [*window[-2:], token]
    return Request(kind, statement_end, None, result_format, several, into_outfile, from_infile)


def _format_clause(text: bytes, window: list[Token]) -> str | None:
    """The name in `... FORMAT name` when the window ends with it (not `AS format`, not `t.format`)."""
    *before, clause, name = window
    if clause.word(text) != "FORMAT" or clause.depth != 0 or name.kind not in ("word", "quoted"):
        return None
    if before and (before[0].word(text) == "AS" or _is(text, before[0], b".")):
        return None
    return _name(text, name)


def _is(text: bytes, token: Token, punct: bytes) -> bool:
    return token.kind == "punct" and text[token.start : token.end] == punct


def _read_insert(text: bytes, stream: Iterator[Token], seen: list[Token]) -> Request:
    """INSERT [INTO] [TABLE|FUNCTION] name [(columns)] [SETTINGS ...] {FORMAT name | VALUES | SELECT ...}."""
    target_seen = False
    previous = ""
    for token in stream:
        if token.kind == "end":
            return Request("INSERT", token.end)
        word = token.word(text)
        if token.depth == 0 and _is(text, token, b";"):
            return _read_query(text, "INSERT", stream, [token])  # anything after it is a second statement
        if word == "INFILE" and previous == "FROM":
            return Request("INSERT", len(text), from_infile=True)
        if not target_seen:
            # the table (or table function) name comes first: a table may be called `format` or `values`
            if word in ("INTO", "TABLE", "FUNCTION") or _is(text, token, b"."):
                previous = word
                continue
            target_seen = True
            previous = word
            continue
        if token.depth == 0 and word in ("SELECT", "WITH"):
            return _read_query(text, "INSERT", stream, [token])
        if token.depth == 0 and word == "VALUES":
            head = text[: token.start].decode()
            return Request("INSERT", token.end, InsertData(head.rstrip(), "Values", token.end))
        if token.depth == 0 and word == "FORMAT":
            name = next(stream)
            if name.kind not in ("word", "quoted"):
                return Request("INSERT", len(text))  # chDB reports the syntax error
            head = text[: token.start].decode()
            start = _data_start(text, name.end)
            return Request("INSERT", name.end, InsertData(head.rstrip(), _name(text, name), start))
        if _is(text, token, b".") and token.depth == 0:
            target_seen = False  # `db.table`: the name goes on
        previous = word
    return Request("INSERT", len(text))


def _data_start(text: bytes, pos: int) -> int:
    """Data starts after the format name's line break, or after the blanks that follow it (as ClickHouse)."""
    while pos < len(text) and text[pos] in b" \t\f":
        pos += 1
    if text.startswith(b"\r", pos):
        pos += 1
    if text.startswith(b"\n", pos):
        pos += 1
    return pos


def _name(text: bytes, token: Token) -> str:
    raw = text[token.start : token.end].decode("utf-8", "replace")
    return raw[1:-1] if token.kind == "quoted" else raw
