"""A user's profile: a time-decayed, type-weighted vector of what they touched and searched, plus history.

The profile vector is the decayed sum Σ a_j·u_j of the vectors u_j of the items and queries of each
interaction j, with a_j = type weight × 2^(-age/half_life). Because the sum is linear, the content score
of a candidate splits exactly into one contribution per recent interaction (see ranking/), which is
what makes the explanations honest.

Stored as a compact, versioned binary record (msgpack via msgspec: numbers as packed arrays, not JSON
floats), about a tenth of the JSON's encode and decode time; rows written by earlier versions (JSON) are
still read. New fields go at the end of ``_Record`` with a default, so older records keep decoding.
"""
from __future__ import annotations

from dataclasses import dataclass, field

import msgspec
import numpy as np
import orjson

from .decay import decay_factor
from .items import ItemIds
from .records import Event

HISTORY_LIMIT = 50  # recent interactions kept with their weights (older ones stay only in the vector)
SEEN_LIMIT = 1000  # item ids remembered for exclusion
# Event ids already applied, kept in the profile's own table row so a restart restores them with it:
# a redelivered event is recognised and changes nothing. Kafka redelivers at most what came after the
# last committed offset (a commit every second), so a few hundred ids per user is a wide margin.
APPLIED_LIMIT = 256
STORED_QUERY_CHARS = 200  # characters of a search text a profile keeps (its vector was made from all of it)
FORMAT = 2  # the binary record's version (1 was JSON)


@dataclass(frozen=True)
class Touch:
    """One past interaction: an item (or a search query), its type, time and base weight."""

    type: str
    ts: float
    weight: float
    item_id: str | None = None
    query: str | None = None
    category: str = ""
    event_id: str = ""  # the event that made it (a redelivered event finds its place in the history)


@dataclass(frozen=True)
class Applied:
    """An event the profile applied, and where it was read (a redelivery comes from the same place)."""

    event_id: str
    source: tuple[int, int] | None = None  # (events partition, offset)


@dataclass(eq=False)
class Profile:
    """Everything streamrec keeps about one user."""

    user_id: str
    vector: np.ndarray | None = None  # decayed Σ a_j·u_j, valid at ``updated_at``
    updated_at: float = 0.0
    history: list[Touch] = field(default_factory=list)  # oldest first, at most HISTORY_LIMIT
    query_vectors: dict[str, np.ndarray] = field(default_factory=dict)  # query text → its vector (recent searches)
    seen_ids: dict[str, None] = field(default_factory=dict)  # item ids, oldest first (a dict: O(1) re-touch)
    # per seen item: (event types that touched it, "|"-joined; times; first ts; last ts), for per-type
    # exclusion and the buy-again signal (rows of earlier versions have none: their items count as excluded)
    marks: dict[str, tuple[str, int, float, float]] = field(default_factory=dict)
    categories: dict[str, float] = field(default_factory=dict)  # decayed affinity, valid at ``updated_at``
    events: int = 0
    applied_ids: dict[str, tuple[int, int] | None] = field(default_factory=dict)  # the latest applied events (a ring)
    # events partition → highest offset applied: a redelivery from there at or below it is a duplicate, however
    # long ago (no window); the id ring above still catches a producer's resend at a new offset
    offset_marks: dict[int, int] = field(default_factory=dict)
    # the seen ids as dense item ids of one registry (ranking's filter), kept up to date by apply_event
    _dense: np.ndarray | None = field(default=None, repr=False)
    _dense_of: ItemIds | None = field(default=None, repr=False)

    @property
    def seen(self) -> list[str]:
        """Seen item ids, oldest first."""
        return list(self.seen_ids)

    @property
    def applied(self) -> list[Applied]:
        """The latest applied events, oldest first."""
        return [Applied(e, s) for e, s in self.applied_ids.items()]

    @property
    def is_cold(self) -> bool:
        """True while the profile has no vector to search with."""
        return self.vector is None or not np.any(self.vector)

    def copy(self) -> "Profile":
        """An independent copy."""
        return Profile(self.user_id, None if self.vector is None else self.vector.copy(), self.updated_at,
                       list(self.history), dict(self.query_vectors), dict(self.seen_ids), dict(self.marks),
                       dict(self.categories), self.events, dict(self.applied_ids), dict(self.offset_marks),
                       None if self._dense is None else self._dense.copy(), self._dense_of)

    def applied_entry(self, event_id: str, source: tuple[int, int] | None = None) -> Applied | None:
        """How this event was applied, when it already changed the profile (a redelivery or a producer's retry):
        its id is among the latest applied, or it was read at or below its partition's mark (``source``)."""
        if event_id in self.applied_ids:
            return Applied(event_id, self.applied_ids[event_id])
        if source is not None and source[1] <= self.offset_marks.get(source[0], -1):
            return Applied(event_id, source)
        return None

    def history_before(self, event_id: str) -> "Profile | None":
        """A profile whose history is the history as it stood just before this event (None when it fell out)."""
        for n, touch in enumerate(self.history):
            if touch.event_id == event_id:
                return Profile(self.user_id, history=self.history[:n])
        return None

    def touch_weights(self, now: float, half_life: float) -> list[float]:
        """The decayed weight a_j of each history entry at time ``now``."""
        return [t.weight * decay_factor(now - t.ts, half_life) for t in self.history]

    def query_vector(self) -> np.ndarray | None:
        """The L2-normalised profile vector, or None for a cold profile."""
        if self.is_cold:
            return None
        norm = float(np.linalg.norm(self.vector))
        return (self.vector / norm).astype(np.float32) if norm > 0 else None

    def seen_dense(self, ids: ItemIds) -> np.ndarray:
        """The seen items as dense ids of ``ids`` (int64; MISSING for items it does not know)."""
        if self._dense is None or self._dense_of is not ids:
            self._dense = ids.lookup(list(self.seen_ids))
            self._dense_of = ids
        return self._dense

    def see(self, item_id: str, dense: int | None, kind: str = "", ts: float = 0.0) -> None:
        """Note ``item_id`` as the newest seen item (``dense``: its dense id, kept in step with the cache), touched
        by an event of type ``kind`` at ``ts``."""
        seen = self.seen_ids
        cache = self._dense
        marks = self.marks
        mark = marks.pop(item_id, None)  # re-inserted: marks keep the order of seen_ids
        if mark is None:
            marks[item_id] = (kind, 1, ts, ts)
        else:
            kinds = mark[0] if kind in mark[0].split("|") else "|".join(filter(None, (mark[0], kind)))
            marks[item_id] = (kinds, mark[1] + 1, mark[2], max(mark[3], ts))
        if item_id in seen:
            del seen[item_id]  # moves to the newest end; the set of ids is the same
            seen[item_id] = None
            return
        seen[item_id] = None
        evicted = None
        if len(seen) > SEEN_LIMIT:
            evicted = next(iter(seen))
            del seen[evicted]
            self.marks.pop(evicted, None)
        if cache is None:
            return
        if dense is None or self._dense_of is None:
            self._dense = None
            return
        if evicted is not None:
            gone = self._dense_of.get(evicted)
            cache = np.delete(cache, np.flatnonzero(cache == gone)[:1])
        self._dense = np.append(cache, dense)

    def keep_seen(self, item_ids: list[str]) -> None:
        """Keep only ``item_ids`` (oldest first) as the seen items."""
        self.seen_ids = dict.fromkeys(item_ids)
        self.marks = {i: m for i, m in self.marks.items() if i in self.seen_ids}
        self._dense = None

    def to_dict(self) -> dict:
        """A readable view of everything kept about the user (the vector as a plain list)."""
        return {
            "user_id": self.user_id,
            "updated_at": self.updated_at,
            "events": self.events,
            "vector": None if self.vector is None else [float(x) for x in self.vector],
            "history": [{"type": t.type, "ts": t.ts, "weight": t.weight, "item_id": t.item_id, "query": t.query,
                         "category": t.category} for t in self.history],
            "searches": sorted(self.query_vectors),
            "seen": self.seen,
            "seen_marks": {i: {"types": m[0].split("|"), "times": m[1], "first": m[2], "last": m[3]}
                           for i, m in self.marks.items()},
            "categories": dict(self.categories),
            "applied_events": list(self.applied_ids),
        }

    def to_bytes(self) -> bytes:
        """Serialise for the RocksDB-backed table."""
        h = self.history
        queries = list(self.query_vectors)
        marks = list(self.applied_ids.values())
        record = _Record(
            FORMAT, self.user_id, self.updated_at, self.events,
            b"" if self.vector is None else self.vector.astype("<f4").tobytes(),
            np.array([t.ts for t in h], dtype="<f8").tobytes(), np.array([t.weight for t in h], dtype="<f8").tobytes(),
            [t.type for t in h], [t.item_id or "" for t in h], [t.query or "" for t in h], [t.category for t in h],
            [t.event_id for t in h],
            queries, b"".join(np.asarray(self.query_vectors[q], dtype="<f4").tobytes() for q in queries),
            list(self.seen_ids), list(self.categories), np.array(list(self.categories.values()), dtype="<f8").tobytes(),
            list(self.applied_ids), np.array([-1 if s is None else s[0] for s in marks], dtype="<i4").tobytes(),
            np.array([-1 if s is None else s[1] for s in marks], dtype="<i8").tobytes(),
            list(self.marks.values()) if len(self.marks) == len(self.seen_ids) else
            [self.marks.get(i, _NO_MARK) for i in self.seen_ids],
            np.array(list(self.offset_marks), dtype="<i4").tobytes(),
            np.array(list(self.offset_marks.values()), dtype="<i8").tobytes(),
        )
        return _ENCODER.encode(record)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Profile":
        """Inverse of :meth:`to_bytes` (also reads the JSON rows of earlier versions)."""
        if raw[:1] == b"{":
            return _from_json(raw)
        r = _DECODER.decode(raw)
        ts = np.frombuffer(r.h_ts, "<f8").tolist()
        weights = np.frombuffer(r.h_weight, "<f8").tolist()
        history = [Touch(t, s, w, i or None, q or None, c, e)
                   for t, s, w, i, q, c, e in zip(r.h_type, ts, weights, r.h_item, r.h_query, r.h_category, r.h_event)]
        vector = np.frombuffer(r.vector, "<f4").astype(np.float32) if r.vector else None
        dim = len(vector) if vector is not None else 0
        qv = np.frombuffer(r.query_vectors, "<f4").astype(np.float32)
        query_vectors = {q: qv[n * dim:(n + 1) * dim] for n, q in enumerate(r.queries)} if dim else {}
        partitions = np.frombuffer(r.applied_partitions, "<i4").tolist()
        offsets = np.frombuffer(r.applied_offsets, "<i8").tolist()
        applied = {e: (None if p < 0 else (p, o)) for e, p, o in zip(r.applied, partitions, offsets)}
        offset_marks = dict(zip(np.frombuffer(r.mark_partitions, "<i4").tolist(),
                                np.frombuffer(r.mark_offsets, "<i8").tolist()))
        return cls(r.user_id, vector, r.updated_at, history, query_vectors, dict.fromkeys(r.seen), _marks_of(r),
                   dict(zip(r.category_names, np.frombuffer(r.category_weights, "<f8").tolist())), r.events, applied,
                   offset_marks)


class _Record(msgspec.Struct, array_like=True):
    """The table value: one msgpack array, numbers as packed little-endian bytes. Append new fields with defaults."""

    format: int
    user_id: str
    updated_at: float
    events: int
    vector: bytes
    h_ts: bytes
    h_weight: bytes
    h_type: list[str]
    h_item: list[str]  # "" for a search
    h_query: list[str]  # "" for an item
    h_category: list[str]
    h_event: list[str]
    queries: list[str]
    query_vectors: bytes  # [len(queries) × dim] float32
    seen: list[str]
    category_names: list[str]
    category_weights: bytes
    applied: list[str]
    applied_partitions: bytes  # int32, -1: no source
    applied_offsets: bytes  # int64
    # per seen item, aligned with ``seen``: (types, times, first ts, last ts); empty in rows of earlier versions
    marks: list[tuple[str, int, float, float]] = []
    mark_partitions: bytes = b""  # int32: events partitions with an applied mark
    mark_offsets: bytes = b""  # int64: the highest offset applied on each


_NO_MARK = ("", 0, 0.0, 0.0)


def _marks_of(r: "_Record") -> dict[str, tuple[str, int, float, float]]:
    if len(r.marks) != len(r.seen):
        return {}
    return {i: tuple(m) for i, m in zip(r.seen, r.marks) if m[1] > 0}


_ENCODER = msgspec.msgpack.Encoder()
_DECODER = msgspec.msgpack.Decoder(_Record)


def _from_json(raw: bytes) -> Profile:
    import base64

    body = orjson.loads(raw)
    vector = None if body["v"] is None else np.frombuffer(base64.b64decode(body["v"]), dtype=np.float32).copy()
    return Profile(
        user_id=body["u"], vector=vector, updated_at=body["t"], history=[Touch(*h) for h in body["h"]],
        query_vectors={q: np.asarray(v, dtype=np.float32) for q, v in body["q"].items()},
        seen_ids=dict.fromkeys(body["s"]), marks={}, categories=body["c"], events=body["n"],
        applied_ids={a[0]: ((a[1], a[2]) if len(a) == 3 else None) for a in body.get("a", [])})


def apply_event(
    profile: Profile,
    event: Event,
    vector: np.ndarray | None,
    *,
    category: str = "",
    half_life: float,
    dense: int | None = None,
) -> Profile:
    """Fold one event into the profile in place and return it.

    ``vector`` is the item's (or the search query's) embedding; None when the item is unknown to the
    index, in which case the event still counts in the history, seen set and categories. ``dense`` is the
    item's dense id in the registry the profile's seen cache follows (ranking passes it).
    """
    # An out-of-order event (ts earlier than the profile) is applied as if it happened now: decaying
    # the past forward twice would be wrong, and shop clocks disagree by seconds anyway.
    now = max(event.ts, profile.updated_at)
    factor = decay_factor(now - profile.updated_at, half_life) if profile.events else 1.0
    if vector is not None:
        vector = np.asarray(vector, dtype=np.float32)
        if profile.vector is None:
            profile.vector = np.zeros_like(vector)
        profile.vector = profile.vector * np.float32(factor) + np.float32(event.weight) * vector
    elif profile.vector is not None and factor != 1.0:
        profile.vector = profile.vector * np.float32(factor)
    if factor != 1.0:
        profile.categories = {c: w * factor for c, w in profile.categories.items() if w * factor > 1e-4}
    if category:
        profile.categories[category] = profile.categories.get(category, 0.0) + event.weight
    profile.updated_at = now
    profile.events += 1
    query = event.query[:STORED_QUERY_CHARS] if event.query is not None else None
    touch = Touch(type=event.type, ts=now, weight=event.weight if vector is not None else 0.0,
                  item_id=event.item_id, query=query, category=category, event_id=event.event_id)
    history = profile.history
    history.append(touch)
    if len(history) > HISTORY_LIMIT:
        dropped = history[: len(history) - HISTORY_LIMIT]
        del history[: len(history) - HISTORY_LIMIT]
        if profile.query_vectors and any(t.query for t in dropped):
            live = {t.query for t in history if t.query}
            profile.query_vectors = {q: v for q, v in profile.query_vectors.items() if q in live}
    if query is not None and vector is not None:
        profile.query_vectors[query] = vector.copy()
    applied = profile.applied_ids
    applied[event.event_id] = event.source
    if len(applied) > APPLIED_LIMIT:
        del applied[next(iter(applied))]
    if event.source is not None:
        partition, offset = event.source
        if offset > profile.offset_marks.get(partition, -1):
            profile.offset_marks[partition] = offset
    if event.item_id is not None:
        profile.see(event.item_id, dense, event.type, now)
    return profile
