"""Follow a compacted topic into memory: every worker reads ALL its partitions (no consumer group).

Used for `item-vectors` (the catalogue's embeddings) and the shop-wide `signals` rows. Not a Faust agent
on purpose: agents share partitions across a consumer group, but each worker needs every row. aiokafka
in assign mode works on tansu and on Apache Kafka. Reading starts at the offsets the worker's snapshot
recorded (``state.offsets``), or at the beginning.

A record that makes ``apply`` fail never stops the follower: the batch is applied again one record at a
time (applying a row twice changes nothing), and the record that fails alone goes to the dead letters with
reason ``apply_error`` and is skipped.
"""
from __future__ import annotations

import asyncio
import logging
import time
from typing import Any, Awaitable, Callable

from aiokafka import AIOKafkaConsumer, TopicPartition

from .components import Components
from .deadletters import send_dead_letter
from .faust_compat import aiokafka_auth, force_metadata_update
from .kafka import bootstrap_servers

log = logging.getLogger(__name__)

#: a batch of records per partition, as aiokafka's getmany returns them
Batches = dict[TopicPartition, list[Any]]


async def follow(c: Components, topic: str, apply: Callable[[Batches], Awaitable[None]],
                 caught_up: Callable[[], None]) -> None:
    """Consume ``topic`` forever, handing each batch to ``apply``; ``caught_up`` runs whenever a poll finds nothing new."""
    settings = c.settings
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(settings.broker),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_wait_ms(),
        **aiokafka_auth(c.app),
    )
    await consumer.start()
    try:
        partitions = await topic_partitions(consumer, topic)
        consumer.assign(partitions)
        for tp in partitions:
            offset = c.state.offsets.get(f"{tp.topic}:{tp.partition}")
            if offset is None:
                await consumer.seek_to_beginning(tp)
            else:
                consumer.seek(tp, offset)
        lag_updated = 0.0
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            if time.monotonic() - lag_updated >= 1.0:
                await _update_lag(c, consumer, partitions)
                lag_updated = time.monotonic()
            if not batches:
                caught_up()
                continue
            try:
                await apply(batches)
            except asyncio.CancelledError:
                raise
            except Exception:
                log.exception("applying a batch of %s failed; applying its records one by one", topic)
                await apply_one_by_one(c, apply, batches)
    finally:
        await consumer.stop()


async def apply_one_by_one(c: Components, apply: Callable[[Batches], Awaitable[None]], batches: Batches) -> int:
    """Apply each record alone; dead-letter (``apply_error``) and skip each one that fails. Returns how many failed."""
    failed = 0
    for tp, messages in batches.items():
        for message in messages:
            try:
                await apply({tp: [message]})
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                failed += 1
                log.error("skipping %s:%s@%s, which cannot be applied: %s", tp.topic, tp.partition, message.offset,
                          f"{type(exc).__name__}: {exc}"[:300])
                await send_dead_letter(c, tp.topic, message, "apply_error", f"{type(exc).__name__}: {exc}"[:200])
            c.state.offsets[f"{tp.topic}:{tp.partition}"] = message.offset + 1
    return failed


async def _update_lag(c: Components, consumer: AIOKafkaConsumer, partitions: list[TopicPartition]) -> None:
    """Lag of the follower on each partition: high watermark minus the next offset to read."""
    for tp in partitions:
        high = consumer.highwater(tp)
        if high is None:
            continue
        position = await consumer.position(tp)
        c.metrics.consumer_lag.labels(topic=tp.topic, partition=str(tp.partition)).set(max(0, high - position))
        if c.stalls is not None:
            c.stalls.observe(tp.topic, tp.partition, position, position, high, owner="follower")


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` for an assign-mode aiokafka consumer, once its metadata is known."""
    for _ in range(600):  # the topic is created before the app starts; metadata may lag a little
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await force_metadata_update(consumer)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} has no partitions")
