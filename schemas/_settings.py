"""Runtime settings; pure so tests and callers decide where values come from (usually os.environ)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from pathlib import Path
from typing import Annotated
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AliasGenerator,
    Field,
    SecretStr,
    StringConstraints,
    ValidationError,
    ValidationInfo,
    field_validator,
)
from pydantic_core import PydanticCustomError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
)

from ._bounds import MAX_PAYLOAD_DEPTH
from ._errors import ConfigError, field_errors_from_pydantic
from ._event_types import UnknownTypePolicy

Topic = Annotated[str, StringConstraints(pattern=r"^[A-Za-z0-9._-]{1,249}$")]
Retention = Annotated[int, Field(ge=-1)]  # -1 keeps records forever
Identifier = Annotated[str, StringConstraints(pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,63}$")]
_PLAIN_ENV = {"kafka_bootstrap_servers": "KAFKA_BOOTSTRAP_SERVERS", "clickhouse_url": "CLICKHOUSE_URL"}
_DAY_MS = 24 * 3600 * 1000
RATE_PATTERN = r"^[1-9][0-9]*/(second|minute|hour)$"


class AuthMode(StrEnum):
    """Whether the HTTP API asks for API keys; turning it off must be said explicitly."""

    REQUIRED = "required"
    DISABLED = "disabled"


def env_name(field: str) -> str:
    """The environment variable that sets `field`."""
    return _PLAIN_ENV.get(field, f"OKRSTREAM_{field.upper()}")


class Settings(BaseSettings):
    """Every knob of okrstream with a default that runs locally with no external services.

    Each field reads the variable `env_name` gives (its validation alias, so a bad value's error
    names the variable); `Settings(...)` takes field names and never reads the environment.
    """

    model_config = SettingsConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=AliasGenerator(validation_alias=env_name),
        populate_by_name=True,
        case_sensitive=True,
        validate_default=False,  # as plain pydantic models: only values given are checked
    )

    kafka_bootstrap_servers: Annotated[str, StringConstraints(min_length=1)] | None = None  # None: embedded
    clickhouse_url: Annotated[str, StringConstraints(min_length=1)] | None = None  # None: chDB in data_dir
    data_dir: Path = Path(".okrstream")
    raw_topic: Topic = "okrstream.events.raw"
    dead_letter_topic: Topic = "okrstream.events.deadletter"
    topic_partitions: int = Field(4, ge=1)
    topic_replication: int = Field(1, ge=1)
    raw_retention_ms: Retention = 7 * _DAY_MS
    dead_letter_retention_ms: Retention = 30 * _DAY_MS
    clickhouse_database: Identifier = "okrstream"
    # a cluster in the servers' remote_servers: every DDL runs ON CLUSTER, raw_events and KPI
    # rollups are sharded (Replicated per shard, Distributed on top), small tables on every node
    clickhouse_cluster: Identifier | None = None
    http_host: Annotated[str, StringConstraints(min_length=1)] = "127.0.0.1"
    http_port: int = Field(8181, ge=0, le=65535)  # 0 lets the OS pick a free port
    # `okrstream serve` processes accepting on one port, the kernel dealing the connections: ingest
    # on every core. Each has its own rate window per key and its own memory of recent duplicates;
    # more than one needs a store none of them owns (CLICKHOUSE_URL).
    http_processes: int = Field(1, ge=1, le=64)
    metrics_port: int = Field(9464, ge=0, le=65535)  # /metrics of a role without the API (worker, store)
    # The embedded store's ClickHouse HTTP interface, served by the process that owns chDB
    # (`okrstream run`, `okrstream store`): 0 lets the OS pick a free port, `off` serves none.
    store_http_host: Annotated[str, StringConstraints(min_length=1)] = "127.0.0.1"
    store_http_port: int | None = Field(8123, ge=0, le=65535)
    # Its users: `default` (all rights) needs this password; without one it answers loopback
    # clients only. `bi` (read-only) exists only when its password is set.
    store_password: SecretStr | None = None
    store_bi_password: SecretStr | None = None
    auth: AuthMode = AuthMode.REQUIRED  # API keys on every /v1 endpoint (`okrstream keys create`)
    http_max_body_bytes: int = Field(10 * 1024 * 1024, ge=1024)  # after gzip decompression
    http_max_events: int = Field(10_000, ge=1)  # events (or NDJSON lines) in one request
    # objects and arrays inside one another in an event, counting the event; at most the payload's
    # own ceiling, so what the API accepts can always be encoded
    http_max_json_depth: int = Field(64, ge=2, le=MAX_PAYLOAD_DEPTH)
    http_max_event_bytes: int = Field(1024 * 1024, ge=1024)  # one event's JSON text; larger: rejected
    # events one API key may send, e.g. 50000/second, 1000/minute
    http_rate_limit: Annotated[str, StringConstraints(pattern=RATE_PATTERN)] = "50000/second"
    http_request_timeout_s: float = Field(30.0, gt=0)  # to receive a whole request body
    http_broker_timeout_s: float = Field(10.0, gt=0)  # to have events acknowledged, else 503
    mappings_file: Path | None = None  # declarative mappings; default: the shipped examples
    subscriptions_file: Path | None = None  # foreign topics the workers read; default: none
    batch_max_records: int = Field(200, ge=1)  # log records the sink takes per batch
    batch_max_seconds: float = Field(0.5, gt=0)  # ... or this long after its first record
    # ... or this long after its last record, when no new one came: a caught-up sink lands at once
    batch_idle_seconds: float = Field(0.02, gt=0)
    # How long the broker waits for a silent sink before giving its partitions to another one;
    # a sink that dies also holds up its replacement this long (Tansu waits half of it to join).
    consumer_session_timeout_s: float = Field(10.0, ge=2, le=300)
    # How often a worker commits the offsets of what it acknowledged. A worker that dies
    # uncommitted work is read again by the next one (the sink drops what already landed), so
    # longer means fewer commits and more to read again after a crash.
    consumer_commit_interval_s: float = Field(1.0, gt=0, le=300)
    # The longest a worker's fetch waits at the broker for records to arrive. Tansu answers a
    # waiting fetch only at this deadline, so on the embedded broker it is a delay on every hop;
    # shorter means more fetches of an idle consumer (50 a second at 20 ms).
    consumer_fetch_max_wait_ms: int = Field(20, ge=1, le=60_000)
    record_max_events: int = Field(500, ge=1)  # events packed into one Kafka log record
    dedup_window_days: int = Field(30, ge=1)
    dedup_block_window: int = Field(1000, ge=1)  # ClickHouse non_replicated_deduplication_window
    unknown_types: UnknownTypePolicy = UnknownTypePolicy.ACCEPT
    event_types_file: Path | None = None
    kpis_file: Path | None = None  # applied at start by `okrstream run`; demo: the shipped kpis.yaml
    timezone: str = "UTC"  # where days, weeks and quarters of KPI series begin, e.g. Europe/Oslo
    okrs_file: Path | None = (
        None  # objectives applied at start by `okrstream run`; demo: the shipped okrs.yaml
    )
    # OKR scoring: touches route recomputations to one owner per key result; scores are published
    okr_touch_topic: Topic = "okrstream.okr.touches"
    okr_score_topic: Topic = "okrstream.okr.scores"
    okr_definition_topic: Topic = "okrstream.okr.definitions"  # compacted: every version of every objective
    okr_at_risk_gap: float = Field(0.1, ge=0, le=1)  # progress may trail the expected this much: on track
    okr_off_track_gap: float = Field(0.25, ge=0, le=1)  # ... and this much: at risk; more: off track
    okr_freeze_after_days: float = Field(
        7.0, ge=0
    )  # a closed period's scores change for this long, then freeze
    okr_rescore_interval_s: float = Field(60.0, gt=0)  # status moves with time alone: rescore this often
    okr_objective_includes_children: bool = False  # an objective's score also averages its child objectives
    # the scorer's wait for more touches before a pass; touches that queue up while it works are
    # coalesced into its next pass anyway, so a burst costs a bounded number of recomputations
    okr_batch_max_seconds: float = Field(0.01, gt=0)
    worker_id: Annotated[str, StringConstraints(min_length=1, max_length=200)] = "okrstream-sink"

    @field_validator("dead_letter_topic")
    @classmethod
    def _distinct_topics(cls, value: str, info: ValidationInfo) -> str:
        if value == info.data.get("raw_topic"):
            raise PydanticCustomError("value", "must differ from the raw topic")
        return value

    @field_validator("clickhouse_cluster")
    @classmethod
    def _cluster_of_servers(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is not None and not info.data.get("clickhouse_url"):
            raise PydanticCustomError(
                "value", "a cluster needs CLICKHOUSE_URL, one of its servers: embedded chDB is one node"
            )
        return value

    @field_validator("okr_off_track_gap")
    @classmethod
    def _gaps_ordered(cls, value: float, info: ValidationInfo) -> float:
        at_risk = info.data.get("okr_at_risk_gap")
        if at_risk is not None and value < at_risk:
            raise PydanticCustomError(
                "value", "must be at least okr_at_risk_gap ({at_risk})", {"at_risk": f"{at_risk:g}"}
            )
        return value

    @field_validator("store_http_port", mode="before")
    @classmethod
    def _port_off(cls, value: object) -> object:
        return None if isinstance(value, str) and value.strip().lower() == "off" else value

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise PydanticCustomError("timezone", "unknown time zone {zone}", {"zone": repr(value)}) from None
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Only what the caller passes: the environment is read by `from_env`, on a mapping it is given."""
        return (init_settings,)

    def as_environment(self) -> dict[str, str]:
        """The variables `from_env` reads these settings back from (secrets in the clear): how a
        process is started on exactly these settings. Unset fields are left out; a store port
        turned off is `off`, since an unset one is the default port."""
        env: dict[str, str] = {}
        if self.store_http_port is None:
            env[env_name("store_http_port")] = "off"
        for field, value in self.model_dump(exclude_none=True).items():
            if isinstance(value, SecretStr):
                value = value.get_secret_value()
            env[env_name(field)] = str(value.value if isinstance(value, StrEnum) else value)
        return env

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        """Read OKRSTREAM_* (plus KAFKA_BOOTSTRAP_SERVERS, CLICKHOUSE_URL); blank values count as unset.

        Raises ConfigError whose paths are the offending environment variable names.
        """
        names = {env_name(field) for field in cls.model_fields}  # each field's validation alias
        given = {name: value.strip() for name, value in env.items() if name in names and value.strip()}
        try:
            return cls.model_validate(given)
        except ValidationError as exc:
            raise ConfigError(field_errors_from_pydantic(exc)) from None
