"""Subscriptions: topics other systems write, turned into canonical events without code.

A subscription names a foreign topic, the format its producer writes and the mapping that makes
an okrstream event of each message:

- `json`: one JSON document per message, read by a declarative mapping (the same as a webhook's);
- `cloudevents`: the CloudEvents Kafka protocol binding, structured (`content-type:
  application/cloudevents+json`, the event as the value) or binary (`ce_` headers, the data as the
  value), mapped as the HTTP API maps CloudEvents, or by a mapping over the event's attributes;
- `debezium`: change events (`{"before", "after", "source", "op", "ts_ms"}`, bare or inside the
  JSON converter's `{"schema", "payload"}`), where rules on table, operation and a JMESPath
  condition pick the mapping, so an insert into `orders` becomes `order.placed` and a status
  update to refunded `order.refunded`.

An event's identity must come out the same whenever its message is read again, so that a replay
after a crash is dropped as a copy: a CloudEvent's (source, id); else the mapping's `event_id`;
else the message's place in the log (for Debezium, the change's place in the database's log).
"""

from __future__ import annotations

import collections.abc
import hashlib
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any

import jmespath
import orjson
from jmespath import exceptions as jmespath_errors
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    StringConstraints,
    ValidationError,
    field_validator,
)
from pydantic_core import PydanticCustomError

from ._cloudevents import validate_cloudevent
from ._errors import ConfigError, EventValidationError, FieldError, field_errors_from_pydantic, json_type_name
from ._event import RawEvent
from ._event_types import EventTypeRegistry
from ._mappings import MAPPING_NAME_PATTERN, Mapping, MappingCatalog, map_event
from ._settings import Topic

_CLOSED = ConfigDict(frozen=True, extra="forbid")
SubscriptionName = Annotated[str, StringConstraints(pattern=MAPPING_NAME_PATTERN)]
STRUCTURED_CONTENT_TYPE = "application/cloudevents"  # +json, with or without parameters
_CE_HEADER = "ce_"
# Where each Debezium connector writes the change's place in the database's log, in its `source`
_POSITION_FIELDS = (
    *("lsn", "txId", "file", "pos", "row", "change_lsn", "commit_lsn", "event_serial_no"),
    *("scn", "commit_scn", "ord", "h", "gtid", "sequence"),
)
_JSON_MEDIA = re.compile(r"^application/(?:[a-z0-9.+-]+\+)?json$")


class FeedFormat(StrEnum):
    """How the foreign producer writes its messages."""

    JSON = "json"
    CLOUDEVENTS = "cloudevents"
    DEBEZIUM = "debezium"


class ChangeOp(StrEnum):
    """Debezium's `op`, by name: c, u, d and r (a snapshot read)."""

    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    READ = "read"


_OP_CODES = {"c": ChangeOp.CREATE, "u": ChangeOp.UPDATE, "d": ChangeOp.DELETE, "r": ChangeOp.READ}


class Skipped(StrEnum):
    """Why a message made no event, and rightly so: it is not dead-lettered."""

    TOMBSTONE = "tombstone"  # a null value: Debezium writes one after each delete, for compaction
    NO_RULE = "no_rule"  # a change no rule asks for, e.g. an update that leaves the status alone
    NOT_A_ROW_CHANGE = "not_a_row_change"  # Debezium's truncate (t) and message (m) events


@dataclass(frozen=True)
class ForeignMessage:
    """One message of a foreign topic, as the consumer read it."""

    topic: str
    partition: int
    offset: int
    timestamp_ms: int
    key: bytes | None
    value: bytes | None
    headers: Sequence[tuple[str, bytes]] = ()
    log: str = ""  # the topic's id: names this incarnation of the topic, as for the raw log

    @property
    def origin(self) -> str:
        """Where the message sits, as a dead letter names it: `topic[partition]@offset`."""
        return f"{self.topic}[{self.partition}]@{self.offset}"

    @property
    def received_at(self) -> datetime:
        """The broker's time of the message: the same on every read, so a replayed event is a copy."""
        return datetime.fromtimestamp(self.timestamp_ms / 1000, UTC)

    def position_id(self) -> str:
        """An event id from the message's place in this incarnation of the topic."""
        digest = hashlib.blake2b(f"{self.topic}\0{self.log}".encode(), digest_size=6).hexdigest()
        return f"kafka-{digest}:{self.partition}:{self.offset}"

    def text_headers(self) -> dict[str, str]:
        """Headers by lower-case name (the last of repeated ones), values as UTF-8 text."""
        return {
            name.lower(): value.decode("utf-8", "replace")
            for name, value in self.headers
            if value is not None
        }


@dataclass(frozen=True)
class Translation:
    """What one message became: an event, or a reason it rightly made none."""

    event: RawEvent | None = None
    skipped: Skipped | None = None


def _compile(expression: str) -> Any:
    try:
        return jmespath.compile(expression)
    except jmespath_errors.JMESPathError as exc:
        raise PydanticCustomError(
            "jmespath", "invalid JMESPath expression: {problem}", {"problem": str(exc)}
        ) from None


class ChangeRule(BaseModel):
    """Which changes of which table become which events: the first rule that matches a change maps it."""

    model_config = _CLOSED
    table: str = Field(min_length=1)  # `orders`, or `public.orders` to name the schema (or database) too
    op: list[ChangeOp] = Field(min_length=1)
    when: str | None = None  # JMESPath over the change event; the rule holds when it is truthy
    mapping: Mapping
    _condition: Any = PrivateAttr(None)

    @field_validator("op", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @field_validator("when")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            _compile(value)
        return value

    def model_post_init(self, context: Any, /) -> None:
        if self.when is not None:
            self._condition = jmespath.compile(self.when)

    def matches(self, change: collections.abc.Mapping[str, Any], op: ChangeOp) -> bool:
        if op not in self.op or not _same_table(self.table, change.get("source")):
            return False
        return self._condition is None or bool(self._condition.search(change))


def _same_table(table: str, source: Any) -> bool:
    if not isinstance(source, collections.abc.Mapping):
        return False
    prefix, _, name = table.rpartition(".")
    if name != source.get("table"):
        return False
    return not prefix or prefix in (source.get("schema"), source.get("db"))


class Subscription(BaseModel):
    """A foreign topic, its format, and how its messages become events."""

    model_config = _CLOSED
    description: str | None = None
    topic: Topic
    format: FeedFormat
    # json: required; cloudevents: optional, over the event's attributes (`id`, `time`, `data.x`);
    # a name from the mappings file, or a mapping written here
    mapping: Annotated[str, StringConstraints(pattern=MAPPING_NAME_PATTERN)] | Mapping | None = None
    rules: list[ChangeRule] = []  # debezium only

    @field_validator("rules")
    @classmethod
    def _rules_for_debezium(cls, value: list[ChangeRule], info: Any) -> list[ChangeRule]:
        is_debezium = info.data.get("format") is FeedFormat.DEBEZIUM
        if value and not is_debezium:
            raise PydanticCustomError("not_allowed", "only for format debezium")
        if is_debezium and not value:
            raise PydanticCustomError("required", "format debezium needs at least one rule")
        return value

    def translate(
        self, message: ForeignMessage, registry: EventTypeRegistry | None, mappings: MappingCatalog
    ) -> Translation:
        """The event a message makes, or why it makes none; EventValidationError when it is invalid."""
        if self.format is FeedFormat.CLOUDEVENTS:
            return _from_cloudevent(message, self._mapping(mappings), registry)
        if message.value is None:
            return Translation(skipped=Skipped.TOMBSTONE)
        doc = _json_value(message.value)
        if self.format is FeedFormat.JSON:
            mapping = self._mapping(mappings)
            assert mapping is not None, "checked when the subscriptions were loaded"
            return Translation(_mapped(mapping, doc, message, registry, message.position_id()))
        return self._from_change(doc, message, registry)

    def _mapping(self, mappings: MappingCatalog) -> Mapping | None:
        return mappings.mappings[self.mapping] if isinstance(self.mapping, str) else self.mapping

    def _from_change(
        self, doc: Any, message: ForeignMessage, registry: EventTypeRegistry | None
    ) -> Translation:
        change = doc.get("payload") if isinstance(doc, dict) and "schema" in doc and "payload" in doc else doc
        if change is None:
            return Translation(skipped=Skipped.TOMBSTONE)
        if not isinstance(change, dict):
            raise EventValidationError(
                [FieldError("$", f"must be a change event object, got {json_type_name(change)}", "type")]
            )
        code = change.get("op")
        if code in ("t", "m"):
            return Translation(skipped=Skipped.NOT_A_ROW_CHANGE)
        op = _OP_CODES.get(code) if isinstance(code, str) else None
        if op is None:
            raise EventValidationError(
                [FieldError("op", f"must be one of c, u, d, r, got {_shown(code)}", "debezium")]
            )
        if not isinstance(change.get("source"), dict):
            raise EventValidationError(
                [FieldError("source", "must be the connector's source object", "debezium")]
            )
        for rule in self.rules:
            if rule.matches(change, op):
                return Translation(
                    _mapped(rule.mapping, change, message, registry, _change_id(change, message))
                )
        return Translation(skipped=Skipped.NO_RULE)


def _shown(value: Any) -> str:
    return repr(value[:20]) if isinstance(value, str) else json_type_name(value)


def _json_value(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as e:
        raise EventValidationError([FieldError("$", f"must be JSON: {e}", "json")]) from None


def _mapped(
    mapping: Mapping, doc: Any, message: ForeignMessage, registry: EventTypeRegistry | None, event_id: str
) -> RawEvent:
    return map_event(mapping, doc, registry, received_at=message.received_at, event_id=event_id)


def _change_id(change: dict[str, Any], message: ForeignMessage) -> str:
    """A change's place in the database's log: a change Debezium sends again has the same one."""
    source = change["source"]
    place = {name: source.get(name) for name in ("name", "db", "schema", "table", *_POSITION_FIELDS)}
    place["op"] = change.get("op")
    key = message.key.decode("utf-8", "replace") if message.key is not None else None
    digest = hashlib.blake2b(orjson.dumps([place, key], option=orjson.OPT_SORT_KEYS), digest_size=16)
    return f"cdc-{digest.hexdigest()}"


def _from_cloudevent(
    message: ForeignMessage, mapping: Mapping | None, registry: EventTypeRegistry | None
) -> Translation:
    """The Kafka protocol binding: structured mode by its content type, else binary mode by `ce_` headers."""
    headers = message.text_headers()
    content_type = headers.get("content-type")
    structured = content_type is not None and content_type.lower().startswith(STRUCTURED_CONTENT_TYPE)
    if not structured and message.value is None and not any(h.startswith(_CE_HEADER) for h in headers):
        return Translation(skipped=Skipped.TOMBSTONE)
    if structured:
        if message.value is None:
            raise EventValidationError(
                [FieldError("$", "a structured-mode CloudEvent needs a value", "required")]
            )
        event = _json_value(message.value)
    else:
        event = _binary_event(headers, message.value)
    if isinstance(event, dict) and message.key is not None:
        # the binding maps the message key to the partitionkey extension
        event.setdefault("partitionkey", message.key.decode("utf-8", "replace"))
    if mapping is not None:
        return Translation(_mapped(mapping, event, message, registry, message.position_id()))
    return Translation(validate_cloudevent(event, registry, received_at=message.received_at))


def _binary_event(headers: dict[str, str], value: bytes | None) -> dict[str, Any]:
    """Binary mode: each attribute in a `ce_<name>` header, `content-type` as datacontenttype, the
    value as data (decoded when its content type is JSON, else kept as text)."""
    event: dict[str, Any] = {
        name[len(_CE_HEADER) :]: text
        for name, text in headers.items()
        if name.startswith(_CE_HEADER) and len(name) > 3
    }
    content_type = headers.get("content-type")
    if content_type is not None:
        event["datacontenttype"] = content_type
    if value is not None:
        media = (content_type or "application/json").split(";", 1)[0].strip().lower()
        event["data"] = _data_value(value) if _JSON_MEDIA.match(media) else value.decode("utf-8", "replace")
    return event


def _data_value(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as e:
        raise EventValidationError(
            [FieldError("data", f"must be JSON, as its content type says: {e}", "json")]
        ) from None


class SubscriptionCatalog(BaseModel):
    """Every subscription by name. Build it with from_mapping, which reports every problem at once."""

    model_config = _CLOSED
    subscriptions: dict[SubscriptionName, Subscription] = {}

    @field_validator("subscriptions", mode="before")
    @classmethod
    def _none_as_empty(cls, value: Any) -> Any:
        return {} if value is None else value

    @classmethod
    def from_mapping(
        cls,
        data: collections.abc.Mapping[str, Any] | None,
        mappings: MappingCatalog,
        reserved_topics: collections.abc.Collection[str] = (),
    ) -> SubscriptionCatalog:
        """Build from yaml.safe_load output; ConfigError names every bad subscription and field.

        A named mapping must be in `mappings`; a topic may be subscribed once, and never one of
        okrstream's own (`reserved_topics`).
        """
        try:
            catalog = cls.model_validate({} if data is None else data)
        except ValidationError as exc:
            raise ConfigError(field_errors_from_pydantic(exc)) from None
        errors: list[FieldError] = []
        owners: dict[str, str] = {}
        for name, sub in catalog.subscriptions.items():
            at = f"subscriptions.{name}"
            if isinstance(sub.mapping, str) and sub.mapping not in mappings.mappings:
                errors.append(
                    FieldError(
                        f"{at}.mapping",
                        f"no mapping named {sub.mapping!r} in the mappings file",
                        "unknown_mapping",
                    )
                )
            if sub.format is FeedFormat.JSON and sub.mapping is None:
                errors.append(FieldError(f"{at}.mapping", "format json needs a mapping", "required"))
            if sub.format is FeedFormat.DEBEZIUM and sub.mapping is not None:
                errors.append(FieldError(f"{at}.mapping", "format debezium maps by its rules", "not_allowed"))
            if sub.topic in reserved_topics:
                errors.append(
                    FieldError(f"{at}.topic", f"{sub.topic!r} is okrstream's own topic", "reserved")
                )
            elif sub.topic in owners:
                errors.append(
                    FieldError(f"{at}.topic", f"already subscribed by {owners[sub.topic]}", "duplicate")
                )
            owners.setdefault(sub.topic, name)
        if errors:
            raise ConfigError(errors)
        return catalog

    def by_topic(self) -> dict[str, tuple[str, Subscription]]:
        return {sub.topic: (name, sub) for name, sub in self.subscriptions.items()}
