"""A user's profile: a time-decayed, type-weighted vector of what they touched and searched, plus history.

The profile vector is the decayed sum Σ a_j·u_j of the vectors u_j of the items and queries of each
interaction j, with a_j = type weight × 2^(-age/half_life). Because the sum is linear, the content score
of a candidate splits exactly into one contribution per recent interaction (see ranking.py), which is
what makes the explanations honest.
"""
from __future__ import annotations

import base64
from dataclasses import dataclass, field, replace

import numpy as np
import orjson

from .decay import decay_factor
from .records import Event

HISTORY_LIMIT = 50  # recent interactions kept with their weights (older ones stay only in the vector)
SEEN_LIMIT = 1000  # item ids remembered for exclusion
# Event ids already applied, kept in the profile's own table row so a restart restores them with it:
# a redelivered event is recognised and changes nothing. Kafka redelivers at most what came after the
# last committed offset (a commit every second), so a few hundred ids per user is a wide margin.
APPLIED_LIMIT = 256


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


@dataclass
class Profile:
    """Everything streamrec keeps about one user."""

    user_id: str
    vector: np.ndarray | None = None  # decayed Σ a_j·u_j, valid at ``updated_at``
    updated_at: float = 0.0
    history: list[Touch] = field(default_factory=list)  # oldest first, at most HISTORY_LIMIT
    query_vectors: dict[str, list[float]] = field(default_factory=dict)  # query text → its vector (recent searches)
    seen: list[str] = field(default_factory=list)  # item ids, oldest first
    categories: dict[str, float] = field(default_factory=dict)  # decayed affinity, valid at ``updated_at``
    events: int = 0
    applied: list[Applied] = field(default_factory=list)  # the latest applied events, oldest first

    @property
    def is_cold(self) -> bool:
        """True while the profile has no vector to search with."""
        return self.vector is None or not np.any(self.vector)

    def copy(self) -> "Profile":
        """An independent copy (the intermediate profile of one event in a batch)."""
        return replace(
            self,
            vector=None if self.vector is None else self.vector.copy(),
            history=list(self.history),
            query_vectors=dict(self.query_vectors),
            seen=list(self.seen),
            categories=dict(self.categories),
            applied=list(self.applied),
        )

    def applied_entry(self, event_id: str) -> Applied | None:
        """How this event was applied, when it already changed the profile (a redelivery or a producer's retry)."""
        for entry in reversed(self.applied):
            if entry.event_id == event_id:
                return entry
        return None

    def history_before(self, event_id: str) -> "Profile | None":
        """A copy of the profile's history as it stood just before this event (None when it fell out of the history)."""
        for n, touch in enumerate(self.history):
            if touch.event_id == event_id:
                return replace(self, history=self.history[:n])
        return None

    def touch_weights(self, now: float, half_life: float) -> list[float]:
        """The decayed weight a_j of each history entry at time ``now``."""
        return [t.weight * decay_factor(now - t.ts, half_life) for t in self.history]

    def query_vector(self) -> np.ndarray | None:
        """The L2-normalised profile vector (the FAISS query), or None for a cold profile."""
        if self.is_cold:
            return None
        norm = float(np.linalg.norm(self.vector))
        return (self.vector / norm).astype(np.float32) if norm > 0 else None

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
            "seen": list(self.seen),
            "categories": dict(self.categories),
            "applied_events": [a.event_id for a in self.applied],
        }

    def to_bytes(self) -> bytes:
        """Serialise for the RocksDB-backed table."""
        body = {
            "u": self.user_id,
            "v": None if self.vector is None else base64.b64encode(self.vector.astype(np.float32).tobytes()).decode(),
            "t": self.updated_at,
            "h": [[t.type, t.ts, t.weight, t.item_id, t.query, t.category, t.event_id] for t in self.history],
            "q": self.query_vectors,
            "s": self.seen,
            "c": self.categories,
            "n": self.events,
            "a": [[a.event_id, *(a.source or ())] for a in self.applied],
        }
        return orjson.dumps(body)  # ~10x json.dumps on a profile's float lists (query vectors)

    @classmethod
    def from_bytes(cls, raw: bytes) -> "Profile":
        """Inverse of :meth:`to_bytes`."""
        body = orjson.loads(raw)
        vector = None if body["v"] is None else np.frombuffer(base64.b64decode(body["v"]), dtype=np.float32).copy()
        return cls(
            user_id=body["u"],
            vector=vector,
            updated_at=body["t"],
            history=[Touch(*h) for h in body["h"]],
            query_vectors=body["q"],
            seen=body["s"],
            categories=body["c"],
            events=body["n"],
            applied=[Applied(a[0], (a[1], a[2]) if len(a) == 3 else None) for a in body.get("a", [])],
        )


def apply_event(
    profile: Profile,
    event: Event,
    vector: np.ndarray | None,
    *,
    category: str = "",
    half_life: float,
) -> Profile:
    """Fold one event into the profile in place and return it.

    ``vector`` is the item's (or the search query's) embedding; None when the item is unknown to the
    index, in which case the event still counts in the history, seen set and categories.
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
    elif profile.vector is not None:
        profile.vector = profile.vector * np.float32(factor)
    profile.categories = {c: w * factor for c, w in profile.categories.items() if w * factor > 1e-4}
    if category:
        profile.categories[category] = profile.categories.get(category, 0.0) + event.weight
    profile.updated_at = now
    profile.events += 1
    touch = Touch(type=event.type, ts=now, weight=event.weight if vector is not None else 0.0,
                  item_id=event.item_id, query=event.query, category=category, event_id=event.event_id)
    profile.history.append(touch)
    if len(profile.history) > HISTORY_LIMIT:
        del profile.history[: len(profile.history) - HISTORY_LIMIT]
    if event.query is not None and vector is not None:
        profile.query_vectors[event.query] = [float(x) for x in vector]
    live_queries = {t.query for t in profile.history if t.query}
    profile.query_vectors = {q: v for q, v in profile.query_vectors.items() if q in live_queries}
    profile.applied.append(Applied(event.event_id, event.source))
    if len(profile.applied) > APPLIED_LIMIT:
        del profile.applied[: len(profile.applied) - APPLIED_LIMIT]
    if event.item_id is not None:
        if event.item_id in profile.seen:
            profile.seen.remove(event.item_id)
        profile.seen.append(event.item_id)
        if len(profile.seen) > SEEN_LIMIT:
            del profile.seen[: len(profile.seen) - SEEN_LIMIT]
    return profile
