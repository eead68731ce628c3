"""The one way okrstream writes to Kafka: a durable producer, and sends that are checked.

Every writer (the raw log's, dead letters, the OKR topics) sends through `AcknowledgedSends`:
`flush()` returns only when the broker acknowledged everything sent since the last flush, and
raises `ProducerError` otherwise, so nothing is reported written that could still be lost.
"""

from __future__ import annotations

from typing import Any

from kafka import KafkaProducer


class ProducerError(RuntimeError):
    """Some records were not acknowledged by the broker: nothing may be reported as accepted."""


def durable_producer(bootstrap_servers: str, client_id: str, **overrides: Any) -> KafkaProducer:
    """acks from every in-sync replica, idempotent, lz4, requests up to 8 MiB; `overrides` win."""
    config: dict[str, Any] = {
        "bootstrap_servers": bootstrap_servers,
        "acks": "all",
        "enable_idempotence": True,
        "linger_ms": 20,
        "batch_size": 512 * 1024,
        "max_request_size": 8 * 1024 * 1024,
        "compression_type": "lz4",
        "client_id": client_id,
    } | overrides
    return KafkaProducer(**config)


class AcknowledgedSends:
    """Sends through one producer, remembered until `flush()` has checked every acknowledgement."""

    def __init__(self, producer: KafkaProducer) -> None:
        self.producer = producer
        self._pending: list[Any] = []

    def send(self, topic: str, value: bytes, key: bytes | None = None, partition: int | None = None) -> None:
        self._pending.append(self.producer.send(topic, value=value, key=key, partition=partition))

    def flush(self, timeout: float | None = None) -> None:
        """Block until everything sent is acknowledged; raises ProducerError if anything was not."""
        try:
            self.producer.flush(timeout)
        finally:
            pending, self._pending = self._pending, []
        failed = [f for f in pending if not f.is_done or f.failed()]
        if failed:
            cause = failed[0].exception if failed[0].is_done else None
            raise ProducerError(
                f"the broker did not acknowledge {len(failed)} of {len(pending)} records"
            ) from cause

    def close(self, timeout: float | None = None) -> None:
        self.producer.close(timeout=timeout)
