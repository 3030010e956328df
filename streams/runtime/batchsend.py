"""Send many records to one topic as one aiokafka batch per partition: no await per message.

``await topic.send(...)`` per record costs Faust's per-message machinery (a FutureMessage, serializer
lookups, a coroutine into aiokafka) for every list; a micro-batch of 256 lists paid it 256 times. Here
the records are appended to one BatchBuilder per partition and each batch is handed to the app's own
aiokafka producer once, so Faust's flush before committing offsets still covers them (at least once).
Partitions are chosen by aiokafka's DefaultPartitioner on the key, as ``topic.send`` does, so a key
lands on the partition it always did and records of one key stay in order.
"""
from __future__ import annotations

from typing import Any, Sequence

from aiokafka.partitioner import DefaultPartitioner

from .faust_compat import aiokafka_producer


class BatchSender:
    """Sends (key, value) records to ``topic`` through the app's producer, batched per partition."""

    def __init__(self, app: Any, topic: str) -> None:
        self.app = app
        self.topic = topic
        self._partitioner = DefaultPartitioner()

    async def send(self, records: Sequence[tuple[bytes, bytes]]) -> int:
        """Queue every record (in order per key); return how many batches were handed over."""
        if not records:
            return 0
        producer = aiokafka_producer(self.app)
        partitions = sorted(await producer.partitions_for(self.topic))
        choose = self._partitioner
        batches: dict[int, Any] = {}
        handed = 0
        for key, value in records:
            partition = choose(key, partitions, partitions)
            batch = batches.get(partition)
            if batch is None:
                batch = batches[partition] = producer.create_batch()
            if batch.append(key=key, value=value, timestamp=None) is None:  # full: send it, start another
                await producer.send_batch(batch, self.topic, partition=partition)
                handed += 1
                batch = batches[partition] = producer.create_batch()
                if batch.append(key=key, value=value, timestamp=None) is None:
                    raise ValueError(f"a record of {len(value)} bytes does not fit in an empty producer batch")
        for partition, batch in batches.items():
            await producer.send_batch(batch, self.topic, partition=partition)
            handed += 1
        return handed
