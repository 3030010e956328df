"""Adapter follower: a worker with STREAMREC_ADAPTER switches to each newly published adapter version.

The new version's vectors are built beside the running ones — every frozen vector is copied on the event
loop, mapped through the adapter in a thread (one matrix product, then a new index) — and installed in
one step on the loop, with the list's model_version: no list is ranked with two versions, and the switch
happens only once every item has a vector of the new version (install checks it). Items that arrive while
the new version is built are caught up before the switch. An adapter for another encoder is dead-lettered.
"""
from __future__ import annotations

import asyncio
import logging
import time

from ...core.learning.adapter import Adapter
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..follower import Batches, follow

log = logging.getLogger(__name__)


def register(c: Components) -> None:
    """Run the follower as a task of the app (ranking workers with STREAMREC_ADAPTER)."""

    @c.app.task
    async def follow_adapters() -> None:
        await follow(c, c.settings.topic_adapters, lambda batches: apply(c, batches), lambda: None)


async def apply(c: Components, batches: Batches) -> None:
    """Switch to the newest valid adapter of the batch (older ones are superseded before they are built)."""
    tuned = c.learning.tuned
    newest: Adapter | None = None
    for messages in batches.values():
        for message in messages:
            try:
                adapter = Adapter.from_bytes(message.value)
            except InvalidMessage as exc:
                await send_dead_letter(c, "adapters", message, exc.reason, exc.detail)
                continue
            if adapter.base_version != c.encoder.version:
                await send_dead_letter(c, "adapters", message, "model_version_mismatch",
                                       f"adapter for {adapter.base_version}, this worker uses {c.encoder.version}")
                continue
            if newest is None or adapter.version >= newest.version:
                newest = adapter
    if newest is None or newest.model_version == tuned.model_version:
        return
    started = time.perf_counter()
    ids, vectors = tuned.snapshot()
    space = await asyncio.get_running_loop().run_in_executor(None, tuned.build, newest, ids, vectors)
    # no await from here on: the index and the lists' model_version change together
    tuned.install(space)
    c.recommender.ranker.content.clear()  # content rows were searched in the old space
    c.recommender.model_version = c.learning.model_version(c.encoder.version)
    c.metrics.adapter_version.set(newest.version)
    c.metrics.adapter_switch_seconds.observe(time.perf_counter() - started)
    log.info("switched to %s (%d items re-embedded in %.2f s)", newest.model_version, len(ids),
             time.perf_counter() - started)
