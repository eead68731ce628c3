"""How far a consumer group has got through a topic: its committed offsets against the end offsets."""

from __future__ import annotations

from collections.abc import Iterable

from kafka import KafkaAdminClient, KafkaConsumer, TopicPartition


class GroupOffsets:
    """One admin and one consumer connection, opened on first use, for repeated offset reads.

    Used for consumer lag (metrics) and to tell when the sink has committed past a point (the
    journal's tidy-up), so both read the same numbers the same way.
    """

    def __init__(self, bootstrap_servers: str, client_id: str) -> None:
        self._bootstrap = bootstrap_servers
        self._client_id = client_id
        self._admin: KafkaAdminClient | None = None
        self._consumer: KafkaConsumer | None = None

    def ends(self, topic: str, partitions: int | None = None) -> dict[int, int]:
        """The next offset to be written in each partition (all of the topic's when not given)."""
        if self._consumer is None:
            self._consumer = KafkaConsumer(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        numbers = range(partitions) if partitions is not None else self._partitions_of(topic)
        ends = self._consumer.end_offsets([TopicPartition(topic, p) for p in numbers])
        return {tp.partition: offset for tp, offset in ends.items()}

    def _partitions_of(self, topic: str) -> list[int]:
        """A topic okrstream did not create (a subscribed one) has the partitions its owner gave it."""
        assert self._consumer is not None
        return sorted(self._consumer.partitions_for_topic(topic) or ())

    def committed(self, group: str, topic: str) -> dict[int, int]:
        """The group's committed offset per partition of `topic` (partitions never committed left out)."""
        if self._admin is None:
            self._admin = KafkaAdminClient(bootstrap_servers=self._bootstrap, client_id=self._client_id)
        offsets = self._admin.list_group_offsets({group: None}).get(group, {})
        return {
            tp.partition: meta.offset
            for tp, meta in offsets.items()
            if tp.topic == topic and meta.offset >= 0
        }

    def lag(
        self, group: str, topics: Iterable[str], partitions: int | None = None
    ) -> dict[tuple[str, int], int]:
        """Records written but not yet committed by the group, per (topic, partition)."""
        found = {}
        for topic in topics:
            committed = self.committed(group, topic)
            for partition, end in self.ends(topic, partitions).items():
                found[(topic, partition)] = max(0, end - committed.get(partition, 0))
        return found

    def close(self) -> None:
        for client in (self._admin, self._consumer):
            if client is not None:
                client.close()
        self._admin = self._consumer = None
