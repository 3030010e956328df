"""The one dead-letter send: every agent and the vector follower report unusable messages through it."""
from __future__ import annotations

from typing import Any

from ..core.deadletters import dead_letter
from .components import Components
from .headers import BACKFILL, header


async def send_dead_letter(c: Components, source: str, message: Any, reason: str, detail: str = "") -> None:
    """Publish ``message`` (a Faust or aiokafka record) to the dead-letter topic with its reason, and count it."""
    c.metrics.dead_letters.labels(source=source, reason=reason).inc()
    await c.topics.dead_letters.send(key=message.key, value=dead_letter(
        source_topic=message.topic, partition=message.partition, offset=message.offset,
        key=message.key, value=message.value, reason=reason, detail=detail,
        backfill=header(message, BACKFILL) is not None))
