"""Events that arrive outside Kafka (HTTP POST /events, `streamrec import`): validated and made into wire messages.

Each event is checked with the same parser the event agent uses, and gets what the agent would otherwise have to
invent: an ``event_id`` when absent and, where the caller says so, a ``ts``. The id never depends on when the
event arrived: it is derived from the request's ``Idempotency-Key`` and the event's place in the body when the
client sent one, else from the event's content as sent, so a resent body gets the same ids and the event
agent recognises them as duplicates.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Mapping

from ..errors import InvalidMessage
from .records import (DEFAULT_EVENT_WEIGHTS, Event, Item, canonical_json, derived_event_id, event_from_object, load_json,
                      parse_item)

MAX_BATCH = 10_000  # events in one POST /events body


@dataclass(frozen=True)
class WireEvent:
    """A validated event and the exact message to publish on `events` (key = user_id)."""

    event: Event
    key: bytes
    value: bytes


@dataclass
class BatchError(Exception):
    """A body that is not one event or a list of valid events; ``rejected`` says which and why."""

    message: str
    rejected: list[dict[str, Any]] = field(default_factory=list)

    def __str__(self) -> str:
        return self.message


def wire_event(data: Mapping[str, Any], *, types: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
               default_ts: float | None = None, require_ts: bool = False,
               idempotency: tuple[str, int] | None = None) -> WireEvent:
    """Validate one decoded event; raise InvalidMessage with the agent's reason codes when it is unusable.

    ``idempotency``: (the request's Idempotency-Key, the event's place in the body), which names an event
    sent without ``event_id``; without it the id comes from the event's content as sent (before any ``ts``
    is filled in)."""
    if not isinstance(data, Mapping):
        raise InvalidMessage("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    body = dict(data)
    if body.get("event_id") is None and default_ts is not None:
        if idempotency is not None:
            key, position = idempotency
            body["event_id"] = derived_event_id(b"idempotency-key\x00" + key.encode(), str(position).encode(), None)
        else:
            body["event_id"] = derived_event_id(None, canonical_json(data), None)
    if body.get("ts") is None:
        if require_ts:
            raise InvalidMessage("missing_ts", "a historical event needs its time (ts: epoch seconds or ISO-8601)")
        if default_ts is not None:
            body["ts"] = default_ts
    event = event_from_object(body, now=default_ts, types=types)  # derives an event_id from the content if absent
    body["event_id"] = event.event_id
    value = json.dumps(body, separators=(",", ":"), ensure_ascii=False).encode()
    return WireEvent(event, event.key.encode(), value)


@dataclass(frozen=True)
class WireItem:
    """A validated item and the exact message to publish on `items` (key = item_id)."""

    item: Item
    key: bytes
    value: bytes


def wire_item(data: Any) -> WireItem:
    """Validate one decoded item with the items agent's own parser; InvalidMessage with its reason codes."""
    if not isinstance(data, Mapping):
        raise InvalidMessage("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    value = json.dumps(dict(data), separators=(",", ":"), ensure_ascii=False).encode()
    item = parse_item(None, value)
    return WireItem(item, item.item_id.encode(), value)


def parse_event_batch(raw: bytes, *, types: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS,
                      now: float, idempotency_key: str | None = None) -> list[WireEvent]:
    """One JSON event or a JSON array of them, all valid, else BatchError listing every rejected one.

    ``now`` fills a missing ``ts``, never an id; ``idempotency_key`` (the request's header) names the events
    sent without ``event_id``."""
    def one(data, position: int) -> WireEvent:
        return wire_event(data, types=types, default_ts=now,
                          idempotency=None if idempotency_key is None else (idempotency_key, position))
    return _parse_batch(raw, one, "event")


def parse_item_batch(raw: bytes) -> list[WireItem]:
    """One JSON item or a JSON array of them, all valid, else BatchError listing every rejected one."""
    return _parse_batch(raw, lambda data, _: wire_item(data), "item")


def _parse_batch(raw: bytes, one, noun: str) -> list:
    try:
        # orjson, as for Kafka messages: strict, and bounded (nesting deeper than 1024 is an error, not a
        # RecursionError; a number beyond a double is an error, not a 400-digit integer)
        data = load_json(raw)
    except InvalidMessage as exc:
        raise BatchError(f"the body is not JSON: {exc.detail}") from None
    if not isinstance(data, (dict, list)):
        article = "an" if noun[0] in "aeiou" else "a"
        raise BatchError(f"the body must be {article} {noun} (a JSON object) or a JSON array of them, got {type(data).__name__}")
    items = data if isinstance(data, list) else [data]
    if not items:
        raise BatchError(f"the array holds no {noun}s")
    if len(items) > MAX_BATCH:
        raise BatchError(f"at most {MAX_BATCH} {noun}s per request, got {len(items)}")
    accepted, rejected = [], []
    for position, item in enumerate(items):
        try:
            accepted.append(one(item, position))
        except InvalidMessage as exc:
            rejected.append({"index": position, "reason": exc.reason, "detail": exc.detail})
    if rejected:
        raise BatchError(f"{len(rejected)} of {len(items)} {noun}s are invalid; none was published", rejected)
    return accepted
