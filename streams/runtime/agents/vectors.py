"""Vector follower: every worker reads ALL partitions of `item-vectors` and applies them to its own index.

This is not a Faust agent on purpose: agents share partitions across a consumer group, but each worker
needs the whole catalogue. aiokafka in assign mode (no group) works on tansu and on Apache Kafka.
"""
from __future__ import annotations

import asyncio
import logging
import time

from aiokafka import AIOKafkaConsumer, TopicPartition

from ...core.vectors import decode_record
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..faust_compat import aiokafka_auth, force_metadata_update
from ..kafka import bootstrap_servers

log = logging.getLogger(__name__)


def register(c: Components) -> None:
    """Run the follower as a task of the app (roles `all` and `ranker`)."""

    @c.app.task
    async def follow_item_vectors() -> None:
        await follow(c)


async def follow(c: Components) -> None:
    """Consume `item-vectors` from the snapshot's offsets (or the start) forever."""
    settings = c.settings
    topic = settings.topic_item_vectors
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers(settings.broker),
        group_id=None,
        enable_auto_commit=False,
        auto_offset_reset="earliest",
        fetch_max_wait_ms=settings.fetch_max_wait_ms,
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
        while True:
            batches = await consumer.getmany(timeout_ms=200, max_records=2000)
            if not batches:
                if not c.status.vectors_caught_up:
                    log.info("item vectors caught up: %d items in the index", len(c.state.index))
                c.status.vectors_caught_up = True
                continue
            await _apply(c, batches)
    finally:
        await consumer.stop()


async def topic_partitions(consumer: AIOKafkaConsumer, topic: str) -> list[TopicPartition]:
    """Every partition of ``topic`` for an assign-mode aiokafka consumer, once its metadata is known."""
    for _ in range(600):  # the topic is created before the app starts; metadata may lag a little
        found = consumer.partitions_for_topic(topic)
        if found:
            return [TopicPartition(topic, p) for p in sorted(found)]
        await force_metadata_update(consumer)
        await asyncio.sleep(0.1)
    raise RuntimeError(f"topic {topic} has no partitions")


async def _apply(c: Components, batches) -> None:
    records = []
    by_position = {}
    for tp, messages in batches.items():
        for message in messages:
            try:
                record = decode_record(message.key, message.value)
            except InvalidMessage as exc:
                await send_dead_letter(c, "item-vectors", message, exc.reason, exc.detail)
                continue
            position = f"{tp.topic}:{tp.partition}"
            records.append((position, message.offset, record))
            by_position[position, message.offset] = message
    upserted, deleted, rejected = c.state.apply(records)
    for position, offset, record in rejected:
        log.error("refusing vector of %s from model %s (this worker: %s)",
                  record.item_id, record.model_version, c.state.model_version)
        await send_dead_letter(c, "item-vectors", by_position[position, offset], "model_version_mismatch",
                               f"embedded by {record.model_version}, this worker uses {c.state.model_version}")
    now = time.time()
    for _, _, record in records:
        if record.meta is not None and record.meta.published_at and record.model_version == c.state.model_version:
            c.metrics.item_freshness_seconds.observe(max(0.0, now - record.meta.published_at))
    c.metrics.items_upserted.inc(upserted)
    c.metrics.items_deleted.inc(deleted)
    c.metrics.index_items.set(len(c.state.index))

