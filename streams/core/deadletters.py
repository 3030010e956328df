"""Dead letters: every unusable message, with its original bytes, where it came from, and why."""
from __future__ import annotations

import base64
import json
import time
from typing import Any


def dead_letter(*, source_topic: str, partition: int | None, offset: int | None, key: bytes | None,
                value: bytes | None, reason: str, detail: str = "") -> bytes:
    """The JSON value published on the dead-letter topic."""
    body: dict[str, Any] = {
        "source_topic": source_topic,
        "partition": partition,
        "offset": offset,
        "reason": reason,
        "detail": detail,
        "failed_at": time.time(),
        "key": _text(key),
        "value": _text(value),
        "value_base64": None if value is None else base64.b64encode(value).decode(),
    }
    return json.dumps(body, separators=(",", ":")).encode()


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None  # not text: value_base64 still carries the exact bytes
