"""The topics okrstream writes: raw events (the immutable log), dead letters, and OKR scoring's three."""

from __future__ import annotations

import contextlib

from kafka.admin import KafkaAdminClient, NewTopic
from kafka.errors import TopicAlreadyExistsError

from schemas import Settings

_DAY_MS = 24 * 3600 * 1000


def topic_specs(settings: Settings) -> list[NewTopic]:
    return [
        NewTopic(
            settings.raw_topic,
            settings.topic_partitions,
            settings.topic_replication,
            topic_configs={"retention.ms": str(settings.raw_retention_ms)},
        ),
        NewTopic(
            settings.dead_letter_topic,
            settings.topic_partitions,
            settings.topic_replication,
            topic_configs={"retention.ms": str(settings.dead_letter_retention_ms)},
        ),
        # which key results to recompute, keyed by key result: one owner each; short-lived
        NewTopic(
            settings.okr_touch_topic,
            settings.topic_partitions,
            settings.topic_replication,
            topic_configs={"retention.ms": str(_DAY_MS)},
        ),
        NewTopic(
            settings.okr_score_topic,
            settings.topic_partitions,
            settings.topic_replication,
            topic_configs={"retention.ms": str(settings.raw_retention_ms)},
        ),
        # every version of every objective, keyed "<objective>/<version>": compaction drops only resends
        NewTopic(
            settings.okr_definition_topic,
            1,
            settings.topic_replication,
            topic_configs={"cleanup.policy": "compact", "retention.ms": "-1"},
        ),
    ]


def topic_ids(bootstrap_servers: str, topics: list[str]) -> dict[str, str]:
    """Each topic's id; ValueError naming the topics that do not exist (okrstream never creates
    a topic another system writes: it would guess its partitions and retention)."""
    if not topics:
        return {}
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="okrstream-admin")
    try:
        missing = sorted(set(topics) - set(admin.list_topics()))
        if missing:
            raise ValueError(f"subscribed topics do not exist: {', '.join(missing)}")
        return {t["name"]: t["topic_id"] for t in admin.describe_topics(topics)}
    finally:
        admin.close()


def ensure_topics(bootstrap_servers: str, settings: Settings) -> dict[str, str]:
    """Create the topics that are missing; returns each topic's id, which names one log incarnation.

    A memory-only broker forgets its log on restart while ClickHouse keeps the rows landed from
    it, so the sink tells logs apart by topic id rather than by name alone.
    """
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers, client_id="okrstream-admin")
    try:
        existing = set(admin.list_topics())
        missing = [spec for spec in topic_specs(settings) if spec.name not in existing]
        if missing:
            # another process may create a topic between our list and create
            with contextlib.suppress(TopicAlreadyExistsError):
                admin.create_topics(missing)
        described = admin.describe_topics([settings.raw_topic, settings.dead_letter_topic])
        return {t["name"]: t["topic_id"] for t in described}
    finally:
        admin.close()
