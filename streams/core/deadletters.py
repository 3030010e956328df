"""Dead letters: every unusable message, with its original bytes, where it came from, and why."""
from __future__ import annotations

import base64
import binascii
import json
import time
from dataclasses import dataclass
from typing import Any, Iterable, Sequence

#: bytes of the original value a dead letter carries. A dead letter must fit in one Kafka message (1 MB by
#: default) however large the refused one was: beyond this the value is cut and ``truncated`` says so.
MAX_CARRIED = 256 * 1024


def dead_letter(*, source_topic: str, partition: int | None, offset: int | None, key: bytes | None,
                value: bytes | None, reason: str, detail: str = "", backfill: bool = False) -> bytes:
    """The JSON value published on the dead-letter topic, always well under 1 MB (``backfill``: the
    message was a historical event)."""
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
    if backfill:
        body["backfill"] = True
    return json.dumps(body, separators=(",", ":")).encode()


def _text(raw: bytes | None) -> str | None:
    if raw is None:
        return None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError:
        return None  # not text: value_base64 still carries the exact bytes


@dataclass(frozen=True)
class Letter:
    """One message of the dead-letter topic, as `streamrec dead-letters` lists and replays it."""

    position: str  # where the letter itself sits: "topic@partition:offset"
    key: bytes | None  # the original key (the letter's own key)
    source_topic: str
    partition: int | None
    offset: int | None
    reason: str
    detail: str
    value: bytes | None  # the exact original bytes (None: a tombstone, or a truncated letter)
    backfill: bool = False

    @property
    def source(self) -> str:
        """Where the original message was: "topic@partition:offset" (no position for imported lines)."""
        if self.partition is None or self.offset is None:
            return self.source_topic
        return f"{self.source_topic}@{self.partition}:{self.offset}"

    @classmethod
    def from_message(cls, position: str, key: bytes | None, value: bytes | None) -> "Letter | None":
        """A letter from a dead-letter message, or None when the message is not one."""
        try:
            body = json.loads(value) if value else None
        except ValueError:
            return None
        if not isinstance(body, dict) or not isinstance(body.get("source_topic"), str) or "reason" not in body:
            return None
        # a truncated letter carries only the start of a message too large to keep: it cannot be replayed
        raw = None if body.get("truncated") is True else body.get("value_base64")
        try:
            original = base64.b64decode(raw, validate=True) if isinstance(raw, str) else None
        except (binascii.Error, ValueError):
            return None
        return cls(position=position, key=key, source_topic=body["source_topic"],
                   partition=body.get("partition") if isinstance(body.get("partition"), int) else None,
                   offset=body.get("offset") if isinstance(body.get("offset"), int) else None,
                   reason=str(body["reason"]), detail=str(body.get("detail") or ""), value=original,
                   backfill=body.get("backfill") is True)


@dataclass(frozen=True)
class Selection:
    """Which letters to act on: any of the reasons (none given: all), any of the offsets, the source topic."""

    reasons: frozenset[str] = frozenset()
    offsets: frozenset[tuple[int | None, int]] = frozenset()  # (partition or None for any, offset)
    source_topic: str | None = None

    @property
    def empty(self) -> bool:
        """True when nothing narrows the selection."""
        return not self.reasons and not self.offsets and self.source_topic is None

    def matches(self, letter: Letter) -> bool:
        """Whether ``letter`` is selected."""
        if self.reasons and letter.reason not in self.reasons:
            return False
        if self.source_topic is not None and letter.source_topic != self.source_topic:
            return False
        if self.offsets:
            return any(offset == letter.offset and partition in (None, letter.partition)
                       for partition, offset in self.offsets)
        return True


def parse_offset(text: str) -> tuple[int | None, int]:
    """"21" (any partition) or "1:21" (partition 1) as (partition, offset); ValueError otherwise."""
    partition, _, offset = text.rpartition(":")
    value = int(offset)
    if value < 0 or (partition and int(partition) < 0):
        raise ValueError(text)
    return (int(partition) if partition else None, value)


def group_by_reason(letters: Iterable[Letter]) -> dict[str, list[Letter]]:
    """Letters grouped by reason, the largest group first."""
    groups: dict[str, list[Letter]] = {}
    for letter in letters:
        groups.setdefault(letter.reason, []).append(letter)
    return dict(sorted(groups.items(), key=lambda kv: (-len(kv[1]), kv[0])))


def selected(letters: Sequence[Letter], selection: Selection) -> list[Letter]:
    """The letters the selection picks, in topic order."""
    return [letter for letter in letters if selection.matches(letter)]
