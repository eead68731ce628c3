"""Settings come from a plain mapping (os.environ in production); bad values name their variable."""

import os
from pathlib import Path

import pytest

from processors.cli import main
from schemas import ConfigError, Settings, UnknownTypePolicy, env_name


def test_defaults() -> None:
    settings = Settings.from_env({})
    assert settings == Settings()
    assert settings.kafka_bootstrap_servers is None and settings.clickhouse_url is None
    assert settings.data_dir == Path(".okrstream")
    assert (settings.raw_topic, settings.dead_letter_topic) == (
        "okrstream.events.raw",
        "okrstream.events.deadletter",
    )
    assert (settings.topic_partitions, settings.topic_replication) == (4, 1)
    assert settings.raw_retention_ms == 7 * 24 * 3600 * 1000
    assert settings.dead_letter_retention_ms == 30 * 24 * 3600 * 1000
    assert (settings.clickhouse_database, settings.http_host, settings.http_port) == (
        "okrstream",
        "127.0.0.1",
        8181,
    )
    assert (settings.batch_max_records, settings.batch_max_seconds, settings.record_max_events) == (
        200,
        0.5,
        500,
    )
    assert (settings.dedup_window_days, settings.dedup_block_window) == (30, 1000)
    assert settings.unknown_types is UnknownTypePolicy.ACCEPT
    assert settings.event_types_file is None
    assert settings.worker_id == "okrstream-sink"


def test_env_overrides() -> None:
    env = {
        "KAFKA_BOOTSTRAP_SERVERS": "kafka-1:9092,kafka-2:9092",
        "CLICKHOUSE_URL": "http://default:secret@ch:8123",
        "OKRSTREAM_DATA_DIR": "/var/lib/okrstream",
        "OKRSTREAM_TOPIC_PARTITIONS": "12",
        "OKRSTREAM_RAW_RETENTION_MS": "-1",
        "OKRSTREAM_HTTP_PORT": "0",
        "OKRSTREAM_BATCH_MAX_SECONDS": "2.5",
        "OKRSTREAM_UNKNOWN_TYPES": "reject",
        "OKRSTREAM_EVENT_TYPES_FILE": "conf/types.yaml",
        "OKRSTREAM_WORKER_ID": " sink-2 ",
        "HOME": "/root",
    }
    settings = Settings.from_env(env)
    assert settings.kafka_bootstrap_servers == "kafka-1:9092,kafka-2:9092"
    assert settings.clickhouse_url == "http://default:secret@ch:8123"
    assert settings.data_dir == Path("/var/lib/okrstream")
    assert settings.topic_partitions == 12
    assert settings.raw_retention_ms == -1
    assert settings.http_port == 0
    assert settings.batch_max_seconds == 2.5
    assert settings.unknown_types is UnknownTypePolicy.REJECT
    assert settings.event_types_file == Path("conf/types.yaml")
    assert settings.worker_id == "sink-2"


def test_empty_strings_count_as_unset() -> None:
    env = {"KAFKA_BOOTSTRAP_SERVERS": "", "CLICKHOUSE_URL": "  ", "OKRSTREAM_TOPIC_PARTITIONS": ""}
    assert Settings.from_env(env) == Settings()


def test_bad_int_names_the_variable() -> None:
    with pytest.raises(ConfigError) as caught:
        Settings.from_env({"OKRSTREAM_TOPIC_PARTITIONS": "four"})
    [error] = caught.value.errors
    assert (error.path, error.rule) == ("OKRSTREAM_TOPIC_PARTITIONS", "type")
    assert str(caught.value) == "OKRSTREAM_TOPIC_PARTITIONS: must be an integer, got string 'four'"


def test_defaults_ignore_the_process_environment(monkeypatch) -> None:
    monkeypatch.setenv("OKRSTREAM_TOPIC_PARTITIONS", "12")
    assert Settings().topic_partitions == 4
    assert Settings(topic_partitions=3).topic_partitions == 3


def test_the_command_exits_2_naming_the_bad_variable(monkeypatch, capsys) -> None:
    for name in [name for name in os.environ if name.startswith("OKRSTREAM_")]:
        monkeypatch.delenv(name)
    monkeypatch.setenv("OKRSTREAM_TOPIC_PARTITIONS", "four")
    assert main(["status"]) == 2
    assert capsys.readouterr().err == (
        "okrstream: bad setting: OKRSTREAM_TOPIC_PARTITIONS: must be an integer, got string 'four'\n"
    )


def test_all_bad_values_reported_at_once() -> None:
    env = {
        "OKRSTREAM_TOPIC_PARTITIONS": "0",
        "OKRSTREAM_HTTP_PORT": "70000",
        "OKRSTREAM_CLICKHOUSE_DATABASE": "okr-stream",
        "OKRSTREAM_UNKNOWN_TYPES": "maybe",
        "OKRSTREAM_DEAD_LETTER_TOPIC": "okrstream.events.raw",
        "OKRSTREAM_BATCH_MAX_SECONDS": "soon",
    }
    with pytest.raises(ConfigError) as caught:
        Settings.from_env(env)
    assert {e.path: e.rule for e in caught.value.errors} == {
        "OKRSTREAM_TOPIC_PARTITIONS": "range",
        "OKRSTREAM_HTTP_PORT": "range",
        "OKRSTREAM_CLICKHOUSE_DATABASE": "pattern",
        "OKRSTREAM_UNKNOWN_TYPES": "enum",
        "OKRSTREAM_DEAD_LETTER_TOPIC": "value",
        "OKRSTREAM_BATCH_MAX_SECONDS": "type",
    }


def test_env_names() -> None:
    assert env_name("kafka_bootstrap_servers") == "KAFKA_BOOTSTRAP_SERVERS"
    assert env_name("clickhouse_url") == "CLICKHOUSE_URL"
    assert env_name("record_max_events") == "OKRSTREAM_RECORD_MAX_EVENTS"


def test_store_http_interface_settings() -> None:
    assert (Settings().store_http_host, Settings().store_http_port) == ("127.0.0.1", 8123)
    assert Settings().store_password is None and Settings().store_bi_password is None
    env = {
        "OKRSTREAM_STORE_HTTP_PORT": "off",
        "OKRSTREAM_STORE_PASSWORD": "hunter2",
        "OKRSTREAM_STORE_BI_PASSWORD": "b",
    }
    settings = Settings.from_env(env)
    assert settings.store_http_port is None
    assert settings.store_password is not None and settings.store_password.get_secret_value() == "hunter2"
    assert "hunter2" not in repr(settings)  # secrets stay out of logs and error messages
    assert Settings.from_env({"OKRSTREAM_STORE_HTTP_PORT": "0"}).store_http_port == 0
    with pytest.raises(ConfigError) as raised:
        Settings.from_env({"OKRSTREAM_STORE_HTTP_PORT": "on"})
    assert "OKRSTREAM_STORE_HTTP_PORT" in str(raised.value)


def test_settings_come_back_from_the_environment_they_give(tmp_path: Path) -> None:
    """`as_environment` is how a test or a benchmark starts a process on exactly its settings."""
    settings = Settings(
        data_dir=tmp_path,
        topic_partitions=2,
        batch_max_seconds=0.2,
        unknown_types=UnknownTypePolicy.REJECT,
        store_password="s3cret",
        clickhouse_url="http://127.0.0.1:8123",
        kpis_file=tmp_path / "kpis.yaml",
    )
    env = settings.as_environment()
    assert env["OKRSTREAM_STORE_PASSWORD"] == "s3cret"  # in the clear: the process needs it
    assert env["OKRSTREAM_UNKNOWN_TYPES"] == "reject" and env["CLICKHOUSE_URL"] == "http://127.0.0.1:8123"
    assert "OKRSTREAM_STORE_BI_PASSWORD" not in env  # unset stays unset
    assert Settings.from_env(env) == settings
    off = settings.model_copy(update={"store_http_port": None})  # none served, not the default port
    assert off.as_environment()["OKRSTREAM_STORE_HTTP_PORT"] == "off"
    assert Settings.from_env(off.as_environment()) == off
