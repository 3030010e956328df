"""Item agent: validate catalogue changes, embed them in micro-batches, publish vectors once for all workers."""
from __future__ import annotations

import asyncio
import time

from ...core.catalogue import ItemMeta
from ...core.records import Item, parse_item
from ...core.vectors import VectorRecord, encode_record
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter


def register(c: Components) -> None:
    """Attach the item agent to the app (roles `all` and `encoder`)."""
    settings = c.settings

    @c.app.agent(c.topics.items, name="streamrec.items")
    async def items(stream):
        async for batch in stream.take_events(settings.item_batch_size, within=settings.item_batch_within):
            await handle_batch(c, batch)


async def handle_batch(c: Components, batch) -> None:
    """Parse, embed and publish one micro-batch of `items` messages."""
    latest: dict[str, tuple[Item, float]] = {}  # the last change of an id in the batch wins
    for event in batch:
        message = event.message
        try:
            item = parse_item(message.key, message.value)
        except InvalidMessage as exc:
            await send_dead_letter(c, "items", message, exc.reason, exc.detail)
            continue
        latest[item.item_id] = (item, message.timestamp or time.time())
    upserts = [(item, ts) for item, ts in latest.values() if not item.deleted]
    vectors = []
    if upserts:
        texts = [item.text() for item, _ in upserts]
        # the encoder is CPU/GPU bound: run it off the event loop so heartbeats and sends go on
        vectors, seconds = await asyncio.get_running_loop().run_in_executor(None, _timed_encode, c.encoder, texts)
        c.metrics.encoder_batch_seconds.observe(seconds)
        c.metrics.encoder_batch_size.observe(len(texts))
        c.metrics.encoder_texts.inc(len(texts))
    version = c.encoder.version
    for (item, published_at), vector in zip(upserts, vectors):
        record = VectorRecord(item.item_id, version, vector, ItemMeta.from_item(item, published_at))
        await c.topics.item_vectors.send(key=item.item_id.encode(), value=encode_record(record))
    for item, _ in latest.values():
        if item.deleted:
            record = VectorRecord(item.item_id, version, None, None)
            await c.topics.item_vectors.send(key=item.item_id.encode(), value=encode_record(record))


def _timed_encode(encoder, texts: list[str]):
    """Encode and time the call itself (in the executor thread, so loop waits are not counted)."""
    started = time.perf_counter()
    vectors = encoder.encode(texts)
    return vectors, time.perf_counter() - started
