"""Binding a table access to the event it belongs to, inside a micro-batch."""
from __future__ import annotations

from typing import Any


def bind_event(stream: Any, event: Any) -> None:
    """Make ``event`` the stream's current event before reading or writing a table for it.

    Faust picks the RocksDB partition store and the changelog partition of a table write from the
    stream's *current* event. In a ``take_events`` batch that is the batch's last event, which may sit
    on another partition than the user being written, so each user's access is bound to its own event.
    """
    stream._set_current_event(event)  # noqa: SLF001 - Faust has no public setter for this
