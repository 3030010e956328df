"""The one dead-letter send: every agent and the vector follower report unusable messages through it."""
from __future__ import annotations

import logging
from typing import Any

from ..core.deadletters import dead_letter
from .components import Components
from .delivery import SendFailed, track
from .headers import BACKFILL, header

log = logging.getLogger(__name__)


async def send_dead_letter(c: Components, source: str, message: Any, reason: str, detail: str = "") -> None:
    """Publish ``message`` (a Faust or aiokafka record) to the dead-letter topic with its reason, and count it.

    The send's broker future joins the running batch's receipts (delivery.py): a dead letter the broker
    refuses stops the batch unacknowledged, as any other lost record would; one that cannot even be handed
    to the producer raises :class:`SendFailed` at once.
    """
    c.metrics.dead_letters.labels(source=source, reason=reason).inc()
    key = message.key if message.key is None or len(message.key) <= 1024 else message.key[:1024]
    topic = c.settings.topic_dead_letters
    try:
        track(topic, await c.topics.dead_letters.send(key=key, value=dead_letter(
            source_topic=message.topic, partition=message.partition, offset=message.offset,
            key=message.key, value=message.value, reason=reason, detail=detail,
            backfill=header(message, BACKFILL) is not None)))
    except SendFailed:
        raise
    except Exception as exc:
        c.metrics.send_failures.labels(topic=topic).inc()
        log.error("could not send the dead letter of %s:%s@%s (%s)", message.topic, message.partition,
                  message.offset, reason)
        raise SendFailed(topic, exc) from exc
