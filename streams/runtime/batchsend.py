"""Send many records to one topic as one aiokafka batch per partition: no await per message.

``await topic.send(...)`` per record costs Faust's per-message machinery (a FutureMessage, serializer
lookups, a coroutine into aiokafka) for every list; a micro-batch of 256 lists paid it 256 times. Here
the records are appended to one BatchBuilder per partition and each batch is handed to the app's own
aiokafka producer once. Each batch's broker future goes to the running micro-batch's receipts
(delivery.py), so the events that caused the records are committed only after the broker acknowledged them.
Partitions are chosen by aiokafka's DefaultPartitioner on the key, as ``topic.send`` does, so a key
lands on the partition it always did and records of one key stay in order.
"""
from __future__ import annotations

from typing import Any, Sequence

from aiokafka.partitioner import DefaultPartitioner

from .delivery import track
from .faust_compat import aiokafka_producer


class BatchSender:
    """Sends (key, value) records to ``topic`` through the app's producer, batched per partition."""

    def __init__(self, app: Any, topic: str) -> None:
        self.app = app
        self.topic = topic
        self._partitioner = DefaultPartitioner()
        self._partitions: list[int] | None = None
        self._of_key: dict[bytes, int] = {}  # key → partition (murmur2 in pure Python costs µs per key)

    async def partitions(self) -> list[int]:
        """The topic's partitions (read once)."""
        if self._partitions is None:
            self._partitions = sorted(await aiokafka_producer(self.app).partitions_for(self.topic))
        return self._partitions

    def partition_of(self, key: bytes) -> int:
        """The partition the producer's partitioner gives ``key`` (after :meth:`partitions`)."""
        found = self._of_key.get(key)
        if found is None:
            partitions = self._partitions
            found = self._of_key[key] = self._partitioner(key, partitions, partitions)
        return found

    async def send(self, records: Sequence[tuple[bytes, bytes]]) -> int:
        """Queue every record (in order per key); return how many batches were handed over."""
        if not records:
            return 0
        await self.partitions()
        return await self.send_to([(self.partition_of(key), key, value) for key, value in records])

    async def send_to(self, records: Sequence[tuple[int, bytes | None, bytes]]) -> int:
        """Queue (partition, key, value) records on the partitions given; return how many batches were handed over."""
        if not records:
            return 0
        producer = aiokafka_producer(self.app)
        batches: dict[int, Any] = {}
        handed = 0
        for partition, key, value in records:
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start another
                track(self.topic, await producer.send_batch(batch, self.topic, partition=partition))
                handed += 1
                batch = batches[partition] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a record of {len(value)} bytes does not fit in an empty producer batch")
        for partition, batch in batches.items():
            track(self.topic, await producer.send_batch(batch, self.topic, partition=partition))
            handed += 1
        return handed
