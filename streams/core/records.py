"""The wire contract: parse Kafka bytes into Item / Event values, or raise InvalidMessage with a reason.

Any bytes give a record or exactly one InvalidMessage (tests/test_parsers_fuzz.py checks it with
hypothesis): a malformed message goes to the dead letters with its reason and costs no other message.
"""
from __future__ import annotations

import hashlib
import math
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Mapping

import orjson  # strict (no NaN literals, UTF-8 checked) and bounded (depth 1024: no RecursionError)

from ..errors import InvalidMessage

#: the default behaviour types and the weight each carries in a profile: purchase > add_to_cart > click > view.
#: A shop configures its own (STREAMREC_EVENT_WEIGHTS); `search` is the one type that carries a query.
DEFAULT_EVENT_WEIGHTS: Mapping[str, float] = {
    "view": 1.0,
    "click": 2.0,
    "add_to_cart": 4.0,
    "purchase": 8.0,
    "search": 2.0,
}
SEARCH = "search"
IMPRESSION = "impression"  # a list was shown (attribution): counted, never folded into a profile
LOGIN = "login"  # a guest signs in: user_id and session_id; the session's profile merges into the user's
SESSION_PREFIX = "session:"  # a guest's profile key: the prefix and their session_id
MAX_ID = 256  # characters of an id (item, user, event): longer ones are a producer bug, not an id
MAX_TEXT = 10_000  # characters of a free-text field; the encoder reads 128 tokens of it anyway
MAX_ATTRIBUTES = 100
# an event may be late by any amount (a backfill), but not from the future of the worker's own clock: clocks
# disagree by seconds, an hour ahead is a broken producer (a ts in ms read as s lands ~50,000 years ahead), and
# a future time would move every decay clock it reaches (the worker passes its setting, STREAMREC_MAX_CLOCK_SKEW)
MAX_FUTURE_SECONDS = 3_600.0
#: attributes → value → nested value …: a catalogue's specs, not a document. {"size": {"shoe": {"eu": 42}}}
#: nests three objects (attributes included); lists count as a level too
MAX_ATTRIBUTE_DEPTH = 4
MAX_ATTRIBUTE_VALUES = 1_000  # every name and value inside `attributes`, counted together
# Every text field is plain text (README: wire contract): `<`, `>`, `&` and quotes are ordinary characters that
# whoever renders a title escapes. Refused: control characters (C0 but tab and line breaks, DEL, C1, the Unicode
# line and paragraph separators) and the bidirectional formatting characters, which make a text display
# differently from what it is ("Trojan Source"). Ids refuse line breaks and tabs too.
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]")
_ID_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029]")
_BIDI = re.compile("[\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Item:
    """A catalogue entry (or its removal, when ``deleted``)."""

    item_id: str
    title: str = ""
    description: str = ""
    category: str = ""
    attributes: Mapping[str, Any] = field(default_factory=dict)
    price: float | None = None
    in_stock: bool = True
    deleted: bool = False

    def text(self) -> str:
        """The one text the encoder embeds: title, description, category and attributes."""
        parts = [self.title, self.description, self.category]
        parts += [f"{k}: {text}" for k, v in sorted(self.attributes.items()) if (text := attribute_text(v))]
        return ". ".join(p.strip() for p in parts if p and str(p).strip())


def attribute_text(value: Any) -> str:
    """An attribute's value as the encoder reads it: lists joined by commas, objects as `key: value` pairs."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(t for t in (attribute_text(v) for v in value) if t)
    if isinstance(value, dict):
        return ", ".join(f"{k}: {t}" for k, v in sorted(value.items()) if (t := attribute_text(v)))
    return str(value)


@dataclass(frozen=True)
class Event:
    """One shopper action."""

    event_id: str
    user_id: str
    type: str
    ts: float
    item_id: str | None = None
    query: str | None = None
    type_weight: float | None = None  # set by parse_event from the configured types
    backfill: bool = False  # a historical event (streamrec import): it updates state but gets no list
    source: tuple[int, int] | None = None  # (events partition, offset) it was read at: its signal deltas' tag
    from_list: str | None = None  # the list_id of the list this action came from (attribution)
    session_id: str | None = None  # the shopper's session (a guest's events carry it without user_id)

    @property
    def key(self) -> str:
        """The Kafka key the event travels under: the session for a guest's event and a login, else the user."""
        if self.session_id is not None and (self.type == LOGIN or self.user_id == SESSION_PREFIX + self.session_id):
            return self.session_id
        return self.user_id

    @property
    def weight(self) -> float:
        """The profile weight of this event's type (the configured one, else the default, else 1)."""
        if self.type_weight is not None:
            return self.type_weight
        return DEFAULT_EVENT_WEIGHTS.get(self.type, 1.0)


def parse_item(key: bytes | None, value: bytes | None) -> Item:
    """Parse an `items` message; a null value (tombstone) or "deleted": true is a removal."""
    if value is None:
        item_id = _decode_key(key)
        if not item_id:
            raise InvalidMessage("tombstone_without_key", "a null value needs the item_id as key")
        return Item(item_id=_checked_id(item_id, "item_id"), deleted=True)
    data = _load_object(value)
    item_id = _required_id(data, "item_id")
    if data.get("deleted") is True:
        return Item(item_id=item_id, deleted=True)
    attributes = data.get("attributes") or {}
    if not isinstance(attributes, dict):
        raise InvalidMessage("bad_field", "attributes must be an object")
    if len(attributes) > MAX_ATTRIBUTES:
        raise InvalidMessage("bad_field", f"at most {MAX_ATTRIBUTES} attributes")
    _check_attributes(attributes)
    price = data.get("price")
    if price is not None and (isinstance(price, bool) or not isinstance(price, (int, float)) or not math.isfinite(price) or price < 0):
        raise InvalidMessage("bad_field", "price must be a non-negative number")
    in_stock = data.get("in_stock", True)
    if not isinstance(in_stock, bool):
        raise InvalidMessage("bad_field", "in_stock must be true or false")
    return Item(
        item_id=item_id,
        title=_required_str(data, "title"),
        description=_optional_str(data, "description"),
        category=_optional_str(data, "category"),
        attributes=attributes,
        price=None if price is None else float(price),
        in_stock=in_stock,
    )


def parse_event(key: bytes | None, value: bytes | None, *, now: float | None = None,
                types: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS, wall_clock: float | None = None,
                max_future: float = MAX_FUTURE_SECONDS) -> Event:
    """Parse an `events` message; ``now`` is the message's own time (its Kafka timestamp).

    ``ts`` defaults to ``now``. An event without ``event_id`` gets one derived from the message (key, value
    and ``now``), the same on every delivery of that message, so a redelivery is recognised as one.
    ``types`` are the accepted event types and their weights (the configured ones). The key must be the
    event's user_id — a guest's event (session_id, no user_id) and a login: the session_id — (``key_mismatch``
    otherwise, a null key included): the partition it picks holds the profile. ``wall_clock`` is the reading worker's own clock (default: now): a ``ts`` more than
    ``max_future`` seconds ahead of it is refused (``future_ts``), whatever the producer's clock says.
    """
    if value is None:
        raise InvalidMessage("null_value", "an event needs a JSON body")
    event = event_from_object(_load_object(value), now=now, types=types, id_key=key, id_bytes=value,
                              wall_clock=wall_clock, max_future=max_future)
    if _decode_key(key) != event.key:
        shown = "a null key" if key is None else f"key {_decode_key(key)[:40] or key[:40]!r}"
        what = "user_id" if event.key == event.user_id else "session_id"
        raise InvalidMessage("key_mismatch", f"an event's Kafka key must be its {what} {event.key[:40]!r}, "
                                             f"got {shown}")
    return event


def event_from_object(data: Mapping[str, Any], *, now: float | None = None,
                      types: Mapping[str, float] = DEFAULT_EVENT_WEIGHTS, id_key: bytes | None = None,
                      id_bytes: bytes | None = None, wall_clock: float | None = None,
                      max_future: float = MAX_FUTURE_SECONDS) -> Event:
    """An Event from an already decoded JSON object (the HTTP endpoint and the importer use this too).

    Without ``event_id`` the id is derived from ``id_key``/``id_bytes`` (default: the object's canonical
    JSON) and ``now``: the same input gives the same id, so it is recognised when it comes again.
    A ``ts`` (given, or defaulted to ``now``) more than ``max_future`` seconds ahead of ``wall_clock``
    (default: this machine's clock) is refused with ``future_ts``; a late one is always accepted.
    """
    now = time.time() if now is None else now
    session_id = _required_id(data, "session_id") if data.get("session_id") is not None else None
    if data.get("user_id") is None and session_id is not None:  # a guest: their profile is the session's
        user_id = SESSION_PREFIX + session_id
    else:
        user_id = _required_id(data, "user_id")
    etype = data.get("type")
    if etype == LOGIN and (session_id is None or user_id.startswith(SESSION_PREFIX)):
        raise InvalidMessage("bad_login", "a login names both the user_id and the session_id it signs in")
    if not isinstance(etype, str) or (etype not in types and etype not in (IMPRESSION, LOGIN)):
        shown = etype if not isinstance(etype, str) else etype[:40]
        raise InvalidMessage("bad_type", f"type must be one of {', '.join(types)}, got {shown!r}")
    from_list = data.get("from_list")
    if from_list is not None:
        from_list = _required_id(data, "from_list")
    item_id = query = None
    if etype == SEARCH:
        query = _required_str(data, "query")
    elif etype == LOGIN:
        pass
    elif etype == IMPRESSION:  # a list was shown: it names the list, and may name the item seen
        if from_list is None:
            raise InvalidMessage("missing_from_list", "an impression names the list shown (from_list)")
        item_id = _required_id(data, "item_id") if data.get("item_id") is not None else None
    else:
        item_id = _required_id(data, "item_id")
    event_id = data.get("event_id")
    if event_id is None:
        # an event with its own ts is the same event whenever it comes; one without is told apart by its time
        stamp = None if data.get("ts") is not None else now
        event_id = derived_event_id(id_key, id_bytes if id_bytes is not None else _canonical(data), stamp)
    elif not isinstance(event_id, (str, int)) or isinstance(event_id, bool) or not str(event_id).strip():
        raise InvalidMessage("bad_field", "event_id must be a non-empty string")
    ts = _parse_ts(data.get("ts"), now)
    clock = time.time() if wall_clock is None else wall_clock
    if ts > clock + max_future:
        raise InvalidMessage("future_ts", f"ts is {ts - clock:.0f} s ahead of this worker's clock; at most "
                                          f"{max_future:.0f} s are accepted (a ts in ms or µs read as seconds?)")
    return Event(
        event_id=_checked_id(str(event_id).strip(), "event_id"),
        user_id=user_id,
        type=etype,
        ts=ts,
        item_id=item_id,
        query=query,
        type_weight=float(types.get(etype, 0.0)),
        from_list=from_list,
        session_id=session_id,
    )


def derived_event_id(key: bytes | None, value: bytes, message_ts: float | None) -> str:
    """A stable id for an event that came without one: the same bytes (at the same message time), the same id."""
    digest = hashlib.blake2b(digest_size=16)
    digest.update(key or b"")
    digest.update(b"\x00")
    digest.update(value)
    if message_ts is not None:
        digest.update(b"\x00")
        digest.update(repr(float(message_ts)).encode())
    return digest.hexdigest()


def canonical_json(data: Mapping[str, Any]) -> bytes:
    """The object's JSON with sorted keys: the same content, the same bytes (what derived ids hash)."""
    return _canonical(data)


def _canonical(data: Mapping[str, Any]) -> bytes:
    try:
        return orjson.dumps(data, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # an integer beyond 64 bits: orjson refuses it, repr does not
        return repr(sorted(data.items())).encode()


def load_object(value: bytes) -> dict[str, Any]:
    """A JSON object from bytes, or InvalidMessage (invalid_json / not_an_object)."""
    return _load_object(value)


def load_json(value: bytes) -> Any:
    """Any JSON value from bytes, or InvalidMessage(invalid_json)."""
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError as exc:
        raise InvalidMessage("invalid_json", str(exc)[:200]) from None


def _load_object(value: bytes) -> dict[str, Any]:
    data = load_json(value)
    if not isinstance(data, dict):
        raise InvalidMessage("not_an_object", f"expected a JSON object, got {type(data).__name__}")
    return data


def _required_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessage(f"missing_{name}", f"{name} is required and must be a non-empty string")
    return _checked_text(value.strip(), name)


def _required_id(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)  # numeric ids are common in shop exports
    if not isinstance(value, str) or not value.strip():
        raise InvalidMessage(f"missing_{name}", f"{name} is required and must be a non-empty string")
    return _checked_id(value.strip(), name)


def _optional_str(data: Mapping[str, Any], name: str) -> str:
    value = data.get(name)
    if value is None:
        return ""
    if not isinstance(value, str):
        raise InvalidMessage("bad_field", f"{name} must be a string")
    return _checked_text(value.strip(), name)


def checked_id(value: str, name: str) -> str:
    """``value`` when it is a usable id (at most MAX_ID characters, no control or bidi characters), else InvalidMessage."""
    if len(value) > MAX_ID:
        raise InvalidMessage("too_long", f"{name} has {len(value)} characters; at most {MAX_ID}")
    if _ID_CONTROL.search(value):
        raise InvalidMessage("bad_field", f"{name} contains control characters")
    _refuse_bidi(value, name)
    return value


def checked_text(value: str, name: str) -> str:
    """``value`` when it is plain text (at most MAX_TEXT characters, no control or bidi characters), else InvalidMessage."""
    if len(value) > MAX_TEXT:
        raise InvalidMessage("too_long", f"{name} has {len(value)} characters; at most {MAX_TEXT}")
    if _CONTROL.search(value):
        raise InvalidMessage("bad_field", f"{name} contains control characters")
    _refuse_bidi(value, name)
    return value


_checked_id = checked_id
_checked_text = checked_text


def _refuse_bidi(value: str, name: str) -> None:
    found = _BIDI.search(value)
    if found:
        raise InvalidMessage("bad_field", f"{name} contains the bidirectional formatting character "
                                          f"U+{ord(found.group()):04X}, which makes text display as what it is not")


def _check_attributes(attributes: Mapping[str, Any]) -> None:
    """Names and values of ``attributes``, nested lists and objects included: plain text, finite numbers, bounded."""
    count = 0
    stack: list[tuple[Any, int, str]] = [(attributes, 1, "attributes")]
    while stack:
        value, depth, where = stack.pop()
        children = value.items() if isinstance(value, dict) else enumerate(value)
        for key, child in children:
            count += 1
            if count > MAX_ATTRIBUTE_VALUES:
                raise InvalidMessage("bad_field", f"attributes hold more than {MAX_ATTRIBUTE_VALUES} names and values")
            name = f"{where}.{key}" if isinstance(key, str) else f"{where}[{key}]"
            if isinstance(key, str):
                checked_text(key, f"attribute name {name[:60]!r}")
            if isinstance(child, str):
                checked_text(child, f"attribute {name[:60]!r}")
            elif isinstance(child, (dict, list)):
                if depth >= MAX_ATTRIBUTE_DEPTH:
                    raise InvalidMessage("bad_field", f"attributes nest at most {MAX_ATTRIBUTE_DEPTH} levels deep "
                                                      f"({name[:60]!r} is deeper)")
                stack.append((child, depth + 1, name))
            elif isinstance(child, float) and not math.isfinite(child):
                raise InvalidMessage("bad_field", f"attribute {name[:60]!r} must be a finite number")


def _decode_key(key: bytes | None) -> str:
    if not key:
        return ""
    try:
        return key.decode("utf-8").strip()
    except UnicodeDecodeError:
        return ""


def _parse_ts(value: Any, now: float) -> float:
    if value is None:
        return now
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        try:
            ts = float(value)
        except OverflowError:  # an integer of hundreds of digits (a JSON parser without a 64-bit limit)
            raise InvalidMessage("bad_ts", "ts out of range") from None
        if ts > 1e11:  # milliseconds, as many producers send
            ts /= 1000.0
    elif isinstance(value, str):
        try:
            moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
            if moment.tzinfo is None:  # a naive time is read as UTC, never as the worker's local time
                moment = moment.replace(tzinfo=timezone.utc)
            ts = moment.timestamp()
        except (ValueError, OverflowError, OSError):
            raise InvalidMessage("bad_ts", f"ts must be epoch seconds or ISO-8601, got {value[:40]!r}") from None
    else:
        raise InvalidMessage("bad_ts", "ts must be epoch seconds or ISO-8601")
    if not math.isfinite(ts) or ts < 0:
        raise InvalidMessage("bad_ts", "ts out of range")
    return ts


