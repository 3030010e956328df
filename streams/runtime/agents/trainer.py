"""The trainer role: learns the behaviour-tuned adapter from the shop's co-interactions and publishes it.

It follows every partition of `item-vectors` (the frozen vectors it maps) and of `streamrec-signal-deltas`
(each event's pairs, the same deltas the aggregators fold), outside any consumer group, like the other
followers. Every STREAMREC_TRAINER_INTERVAL seconds, once enough new pairs arrived, an update trains in a
thread (torch: the GPU when there is one, else the CPU) while the event loop goes on reading; an update
whose validation loss is no worse than the running adapter's is published on the compacted adapters
topic, which every worker with STREAMREC_ADAPTER follows. A worse one is dropped (not published).
On start the trainer reads the latest published adapter back and continues from it.
"""
from __future__ import annotations

import asyncio
import logging

from ...core.learning.adapter import Adapter
from ...core.learning.pairs import pairs_from_deltas
from ...core.learning.training import AdapterTrainer, VectorTable
from ...core.signals import decode_deltas
from ...core.vectors import decode_record
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..follower import Batches, follow

log = logging.getLogger(__name__)


class TrainerState:
    """The trainer and what it has read (for /health and the logs)."""

    def __init__(self, c: Components) -> None:
        self.trainer = AdapterTrainer(VectorTable(c.encoder.dim), c.encoder.version, c.settings.trainer_options())
        self.published: Adapter | None = None
        self.rejected = 0
        self.resumed = False  # the adapters topic was read once (a restart continues from its latest)


def register(c: Components) -> None:
    """Follow vectors, deltas and published adapters; train and publish on a timer."""
    settings = c.settings
    state = TrainerState(c)
    c.trainer = state  # read by /health
    topic = c.app.topic(settings.topic_adapters, key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw")

    @c.app.task
    async def follow_vectors() -> None:
        await follow(c, settings.topic_item_vectors, lambda b: _vectors(c, state, b), lambda: None)

    @c.app.task
    async def follow_deltas() -> None:
        await follow(c, settings.topic_signal_deltas, lambda b: _deltas(c, state, b), lambda: None)

    @c.app.task
    async def follow_adapters() -> None:
        def caught_up() -> None:
            state.resumed = True
        await follow(c, settings.topic_adapters, lambda b: _resume(c, state, b), caught_up)

    @c.app.timer(settings.trainer_interval)
    async def train() -> None:
        if not state.resumed or not state.trainer.ready():
            return
        result = await asyncio.get_running_loop().run_in_executor(None, state.trainer.update)
        if result.published is None:
            state.rejected += 1
            log.warning("adapter update dropped: validation loss %.4f worse than the running adapter's %.4f",
                        result.val_loss, result.running_val_loss)
            return
        adapter = result.published
        await topic.send(key=b"adapter", value=adapter.to_bytes())
        state.published = adapter
        log.info("published %s: validation loss %.4f (running %.4f), %d steps in %.1f s, %d pairs so far",
                 adapter.model_version, result.val_loss, result.running_val_loss, result.steps, result.seconds,
                 adapter.pairs)


async def _vectors(c: Components, state: TrainerState, batches: Batches) -> None:
    ids, vectors = [], []
    for messages in batches.values():
        for message in messages:
            try:
                record = decode_record(message.key, message.value)
            except InvalidMessage:
                continue  # the ranking workers dead-letter these; the trainer only skips them
            if not record.deleted and record.model_version == c.encoder.version:
                ids.append(record.item_id)
                vectors.append(record.vector)
    if ids:
        import numpy as np

        state.trainer.put_vectors(ids, np.stack(vectors))


async def _deltas(c: Components, state: TrainerState, batches: Batches) -> None:
    for messages in batches.values():
        for message in messages:
            try:
                deltas = decode_deltas(message.value)
            except InvalidMessage as exc:
                await send_dead_letter(c, "signal-deltas", message, exc.reason, exc.detail)
                continue
            state.trainer.add(pairs_from_deltas(deltas))


async def _resume(c: Components, state: TrainerState, batches: Batches) -> None:
    """Continue from the latest adapter published for this encoder (a restarted trainer keeps counting up)."""
    for messages in batches.values():
        for message in messages:
            try:
                adapter = Adapter.from_bytes(message.value)
            except InvalidMessage:
                continue
            running = state.trainer.running
            if adapter.base_version == c.encoder.version and adapter.version > running.version:
                state.trainer.resume(adapter)
                state.published = adapter
                log.info("trainer continues from %s", adapter.model_version)
