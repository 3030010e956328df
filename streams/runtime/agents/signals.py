"""Signal follower: every ranking worker applies ALL shop-wide signal rows to its own view."""
from __future__ import annotations

import logging
import time

from ...core.signals import PublishedRow
from ...errors import InvalidMessage
from ..components import Components
from ..deadletters import send_dead_letter
from ..follower import Batches, follow

log = logging.getLogger(__name__)


def register(c: Components) -> None:
    """Run the follower as a task of the app (roles `all` and `ranker`)."""

    def caught_up() -> None:
        if not c.status.signals_caught_up:
            log.info("shop-wide signals caught up: %d items", len(c.state.signals.popularity))
        c.status.signals_caught_up = True

    @c.app.task
    async def follow_signals() -> None:
        await follow(c, c.settings.topic_signals, lambda batches: apply(c, batches), caught_up)


async def apply(c: Components, batches: Batches) -> None:
    """Install every row of the batch (the latest version of an item wins) and record how fresh they are."""
    now = time.time()
    signals = c.state.signals
    trend = c.learning.trend if c.learning is not None else None  # the learned ranker's popularity trend
    for tp, messages in batches.items():
        for message in _latest(messages):
            if message.value is not None:  # a compaction tombstone: nothing to install
                try:
                    row = PublishedRow.from_bytes(message.value, not_after=now + c.settings.max_clock_skew)
                except InvalidMessage as exc:
                    await send_dead_letter(c, "signals", message, exc.reason, exc.detail)
                else:
                    signals.apply_row(row)
                    if trend is not None:
                        trend.note(row.item_id, row.popularity, row.clock)
                    if row.arrived is not None:
                        c.metrics.signal_visibility_seconds.observe(max(0.0, now - row.arrived))
        if messages:
            c.state.offsets[f"{tp.topic}:{tp.partition}"] = messages[-1].offset + 1


def _latest(messages: list) -> list:
    """The batch with only the last version of each item (a published row replaces the ones before it, as
    compaction would): a follower behind a burst installs a hot item's row once, not once per tick."""
    last = {m.key: m for m in messages if m.key is not None and m.value is not None}
    if len(last) == len(messages):
        return messages
    return [m for m in messages if m.value is not None and (m.key is None or last[m.key] is m)]
