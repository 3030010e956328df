"""Kafka message headers streamrec sets and honours on the `events` topic (the wire contract's extensions)."""
from __future__ import annotations

from typing import Any

#: a historical event (`streamrec import`): applied to profiles and signals, no list published
BACKFILL = "streamrec-backfill"
#: a control message keyed by user_id; value ``forget``: remove everything kept about that shopper
CONTROL = "streamrec-control"
FORGET = b"forget"
#: value ``merge``: a guest session's profile, sent keyed by the user at login (runtime/sessions.py)
MERGE = b"merge"


def header(message: Any, name: str) -> bytes | None:
    """The value of header ``name`` on a Faust or kafka-python message (None when absent)."""
    headers = getattr(message, "headers", None) or ()
    if isinstance(headers, dict):
        headers = headers.items()
    for key, value in headers:
        if key == name:
            return value if value is not None else b""
    return None
