"""Dead letters: every unusable message, with its original bytes, where it came from, and why."""
from __future__ import annotations

import base64
import json
import time
from typing import Any

#: bytes of the original value a dead letter carries. A dead letter must fit in one Kafka message (1 MB by
#: default) however large the refused one was: beyond this the value is cut and ``truncated`` says so.
MAX_CARRIED = 256 * 1024


def dead_letter(*, source_topic: str, partition: int | None, offset: int | None, key: bytes | None,
                value: bytes | None, reason: str, detail: str = "") -> bytes:
    """The JSON value published on the dead-letter topic (always well under 1 MB)."""
    carried = value if value is None or len(value) <= MAX_CARRIED else value[:MAX_CARRIED]
    body: dict[str, Any] = {
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "reason": reason,
        "detail": detail,
        "failed_at": time.time(),
        "key": _text(key[:MAX_CARRIED] if key else key),
        "value": _text(carried) if carried is not None and len(carried) <= MAX_CARRIED // 4 else None,
        "value_base64": None if carried is None else base64.b64encode(carried).decode(),
        "size": None if value is None else len(value),
        "truncated": carried is not value,
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None  # not text: value_base64 still carries the exact bytes
