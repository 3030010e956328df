"""Vector follower: every worker applies ALL of `item-vectors` to its own index and catalogue."""
from __future__ import annotations

import logging
import time

from ...core.vectors import decode_record
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..follower import Batches, follow

log = logging.getLogger(__name__)


def register(c: Components) -> None:
    """Run the follower as a task of the app (roles `all` and `ranker`)."""

    def caught_up() -> None:
        if not c.status.vectors_caught_up:
            log.info("item vectors caught up: %d items in the index", len(c.state.index))
        c.status.vectors_caught_up = True
        c.state.eager_content = True  # from now on a new item's content row is searched when it is indexed

    @c.app.task
    async def follow_item_vectors() -> None:
        await follow(c, c.settings.topic_item_vectors, lambda batches: _apply(c, batches), caught_up)


async def _apply(c: Components, batches: Batches) -> None:
    records = []
    by_position = {}
    for tp, messages in batches.items():
        for message in messages:
            position = f"{tp.topic}:{tp.partition}"
            try:
                record = decode_record(message.key, message.value)
                if record.vector is not None and record.model_version == c.state.model_version \
                        and len(record.vector) != c.state.index.dim:
                    # whole in itself (its length matches its own dim), but not this index's: never indexed
                    raise InvalidMessage("dim_mismatch", f"{len(record.vector)} values; this worker's index "
                                                         f"({c.state.model_version}) holds {c.state.index.dim}")
            except InvalidMessage as exc:
                await send_dead_letter(c, "item-vectors", message, exc.reason, exc.detail)
                c.state.offsets[position] = message.offset + 1
                continue
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

