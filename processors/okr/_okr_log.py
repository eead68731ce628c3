"""The OKR topics as okrstream writes them: touches, scored events and definition versions.

All three are written through ingest's acknowledged sends; `flush()` raises unless the broker
acknowledged everything, so a touch is never reported sent while it could still be lost.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import orjson
from kafka.partitioner.default import murmur2

from ingest import AcknowledgedSends, durable_producer
from schemas import OkrVersion, Settings, Touch, encode_touch


class OkrLog:
    def __init__(self, bootstrap_servers: str, settings: Settings) -> None:
        self._settings = settings
        # touches and scores are latency-bound: a key result should move within a second
        self._sends = AcknowledgedSends(durable_producer(bootstrap_servers, "okrstream-okr", linger_ms=2))
        self._producer = self._sends.producer

    def touch(self, touches: Iterable[Touch]) -> None:
        """Queue touches, keyed by the id they name: that key's partition has one owner."""
        for touch in touches:
            self._send(self._settings.okr_touch_topic, touch.id, encode_touch(touch))

    def touch_partition(self, key: str) -> int:
        """The touch-topic partition of `key`, by the producer's own rule (murmur2 of the key)."""
        partitions = sorted(self._producer.partitions_for(self._settings.okr_touch_topic))
        return partitions[(murmur2(key.encode()) & 0x7FFFFFFF) % len(partitions)]

    def scored(self, key: str, event: dict[str, Any]) -> None:
        """Queue a `key_result.scored` or `objective.scored` event, keyed by the id scored."""
        self._send(self._settings.okr_score_topic, key, orjson.dumps(event))

    def definitions(self, versions: Iterable[OkrVersion]) -> None:
        """Queue definition versions, keyed `<objective>/<version>`: compaction drops only resends."""
        for v in versions:
            value = {
                "objective": v.objective,
                "version": v.version,
                "fingerprint": v.fingerprint,
                "effective_from": v.effective_from.isoformat(),
                "removed": v.removed,
                "definition": orjson.loads(v.definition) if v.definition else None,
                "applied_by": v.applied_by,
            }
            self._send(self._settings.okr_definition_topic, f"{v.objective}/{v.version}", orjson.dumps(value))

    def flush(self, timeout: float | None = 30.0) -> None:
        """Raises ProducerError unless the broker acknowledged every record queued since the last."""
        self._sends.flush(timeout)

    def close(self) -> None:
        self._sends.close(timeout=5)

    def _send(self, topic: str, key: str, value: bytes) -> None:
        self._sends.send(topic, value, key=key.encode())
