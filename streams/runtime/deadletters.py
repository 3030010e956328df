"""The one dead-letter send: every agent and the vector follower report unusable messages through it."""
from __future__ import annotations

import logging
from typing import Any

from ..core.deadletters import dead_letter
from .components import Components
from .headers import BACKFILL, header

log = logging.getLogger(__name__)


async def send_dead_letter(c: Components, source: str, message: Any, reason: str, detail: str = "") -> None:
    """Publish ``message`` (a Faust or aiokafka record) to the dead-letter topic with its reason, and count it.

    Never raises: a dead letter that cannot be sent is logged, and the stream goes on.
    """
    c.metrics.dead_letters.labels(source=source, reason=reason).inc()
    key = message.key if message.key is None or len(message.key) <= 1024 else message.key[:1024]
    try:
        await c.topics.dead_letters.send(key=key, value=dead_letter(
            source_topic=message.topic, partition=message.partition, offset=message.offset,
            key=message.key, value=message.value, reason=reason, detail=detail,
            backfill=header(message, BACKFILL) is not None))
    except Exception:
        log.exception("could not send the dead letter of %s:%s@%s (%s)", message.topic, message.partition,
                      message.offset, reason)
