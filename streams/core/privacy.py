"""What a topic still holds about a shopper, and what Kafka's compaction will leave of it (`streamrec forget --audit`).

A record *names* the user when its key is the user id (as bytes, or JSON-quoted as Faust keys its tables), or its
value holds the id: as a string anywhere inside a JSON value, or as bytes inside a value that is not JSON. A dead
letter is searched in the original message it carries too. On a compacted topic only the latest record of each key
survives compaction, and a tombstone (null value) survives only ``delete.retention.ms`` after it: a record that
names the user and is not its key's latest is *removed by compaction*; one that is its key's latest and not a
tombstone is *kept*. On a topic that is not compacted every record stays until the topic's retention.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass, field
from typing import Any, Iterable

import orjson

#: what compaction leaves of a record that names the user
KEPT = "kept"  # the latest record of its key: compaction keeps it
COMPACTED = "removed by compaction"  # a later record of the same key supersedes it
TOMBSTONE = "tombstone"  # the user's own tombstone: removed delete.retention.ms after compaction
RETAINED = "until retention"  # a topic that is not compacted: it stays until the topic's retention


@dataclass(frozen=True)
class Record:
    """One message of a topic, as the audit reads it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes | None


@dataclass
class TopicAudit:
    """The records of one topic that name the user, each with what compaction (or retention) does to it."""

    topic: str
    compacted: bool
    config: dict[str, str] = field(default_factory=dict)
    read: int = 0
    found: list[tuple[Record, str, str]] = field(default_factory=list)  # (record, where it names the user, fate)

    def count(self, fate: str) -> int:
        return sum(1 for _, _, f in self.found if f == fate)

    def to_dict(self) -> dict[str, Any]:
        return {"topic": self.topic, "compacted": self.compacted, "config": self.config, "records_read": self.read,
                "names_user": len(self.found), **{fate: self.count(fate) for fate in (KEPT, COMPACTED, TOMBSTONE, RETAINED)},
                "records": [{"partition": r.partition, "offset": r.offset, "where": where, "fate": fate}
                            for r, where, fate in self.found]}


def names_user(record: Record, user_id: str) -> str | None:
    """Where ``record`` names ``user_id`` ("key", "value", "dead letter"), or None."""
    if record.key is not None and _key_is(record.key, user_id):
        return "key"
    if record.value is None:
        return None
    data = _json(record.value)
    if data is _NOT_JSON:
        return "value" if user_id.encode("utf-8") in record.value else None
    if _holds(data, user_id):
        return "value"
    if isinstance(data, dict) and "source_topic" in data:  # a dead letter: the original message's bytes too
        for name in ("key", "value_base64"):
            original = data.get(name)
            if isinstance(original, str) and _original_names(original, name, user_id):
                return "dead letter"
    return None


def audit_topic(topic: str, records: Iterable[Record], user_id: str, *, compacted: bool,
                config: dict[str, str] | None = None) -> TopicAudit:
    """Every record of ``topic`` that names ``user_id``, each with its fate (KEPT, COMPACTED, TOMBSTONE, RETAINED)."""
    records = list(records)
    latest: dict[tuple[int, bytes | None], int] = {}
    for r in records:  # compaction keeps the highest offset per key (a key lives in one partition)
        slot = (r.partition, r.key)
        latest[slot] = max(latest.get(slot, -1), r.offset)
    result = TopicAudit(topic, compacted, dict(config or {}), read=len(records))
    for r in records:
        where = names_user(r, user_id)
        if where is None:
            continue
        if not compacted or r.key is None:
            fate = RETAINED
        elif latest[(r.partition, r.key)] != r.offset:
            fate = COMPACTED
        else:
            fate = TOMBSTONE if r.value is None else KEPT
        result.found.append((r, where, fate))
    return result


def is_compacted(config: dict[str, str]) -> bool:
    """Whether a topic configuration compacts (``cleanup.policy`` compact, alone or with delete)."""
    return "compact" in {p.strip() for p in config.get("cleanup.policy", "delete").split(",")}


_NOT_JSON = object()


def _json(value: bytes) -> Any:
    try:
        return orjson.loads(value)
    except orjson.JSONDecodeError:
        return _NOT_JSON


def _key_is(key: bytes, user_id: str) -> bool:
    raw = user_id.encode("utf-8")
    return key == raw or key == orjson.dumps(user_id)


def _holds(data: Any, user_id: str) -> bool:
    stack = [data]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if value == user_id:
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False


def _original_names(original: str, name: str, user_id: str) -> bool:
    if name == "key":
        return original == user_id
    try:
        raw = base64.b64decode(original, validate=True)
    except (binascii.Error, ValueError):
        return False
    data = _json(raw)
    return user_id.encode("utf-8") in raw if data is _NOT_JSON else _holds(data, user_id)


def forgotten_key(user_id: str) -> str:
    """The profiles-table key of a forgotten shopper's marker: a digest, so the marker never names them.

    The marker keeps only where the shopper's events had reached (the profile's offset marks), so that a
    late redelivery of an event from before the forget is recognised as a duplicate and resurrects nothing.
    """
    return "forgotten:" + hashlib.blake2b(user_id.encode(), digest_size=16).hexdigest()
