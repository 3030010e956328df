"""Byte budgets: every record the event path writes has a stated maximum, enforced when it is built.

A Kafka message is refused above the broker's limit (1 MB by default) and a refused changelog record
stops a worker; whatever a shopper sends, a profile row, a list and a delta message stay below their
budget (STREAMREC_MAX_PROFILE_BYTES, STREAMREC_MAX_LIST_BYTES, STREAMREC_MAX_DELTA_BYTES):
- a profile keeps search texts cut to STORED_QUERY_CHARS (profiles.apply_event); a row still over its
  budget sheds its oldest memory (search vectors, seen ids, history, applied ids) until it fits;
- delta messages are split so that each fits;
- a list over its budget is the event's own failure: a ``too_large`` dead letter.
"""
from __future__ import annotations

from typing import Callable, Iterator, Sequence, TypeVar

from .profiles import Profile

T = TypeVar("T")


class OverBudget(ValueError):
    """A record that cannot be brought within its byte budget."""

    def __init__(self, what: str, size: int, budget: int) -> None:
        self.what, self.size, self.budget = what, size, budget
        super().__init__(f"{what} of {size} bytes is over its budget of {budget} bytes")


def fit_profile(profile: Profile, budget: int) -> bytes:
    """The profile's row within ``budget`` bytes, shedding its oldest memory (in place) when needed."""
    raw = profile.to_bytes()
    while len(raw) > budget:
        if not _shed(profile):
            raise OverBudget(f"the profile of {profile.user_id!r}", len(raw), budget)
        raw = profile.to_bytes()
    return raw


def _shed(profile: Profile) -> bool:
    """Drop the older half of the largest part of the profile's memory; False when nothing is left to drop."""
    parts = [
        (sum(len(q) + 4 * len(v) for q, v in profile.query_vectors.items()), "queries"),
        (sum(len(i) for i in profile.seen_ids), "seen"),
        (sum(len(t.query or "") + len(t.item_id or "") + len(t.event_id) for t in profile.history), "history"),
        (sum(len(e) for e in profile.applied_ids), "applied"),
    ]
    size, part = max(parts)
    if size == 0:
        return False
    if part == "queries":
        keep = list(profile.query_vectors)[_half(profile.query_vectors):]
        profile.query_vectors = {q: profile.query_vectors[q] for q in keep}
        profile.history = [t for t in profile.history if t.query is None or t.query in profile.query_vectors]
    elif part == "seen":
        profile.keep_seen(list(profile.seen_ids)[_half(profile.seen_ids):])
    elif part == "history":
        profile.history = profile.history[_half(profile.history):]
        live = {t.query for t in profile.history if t.query}
        profile.query_vectors = {q: v for q, v in profile.query_vectors.items() if q in live}
    else:
        # the offset marks still recognise a redelivery from the same partitions (profiles.Profile.offset_marks)
        profile.applied_ids = dict(list(profile.applied_ids.items())[_half(profile.applied_ids):])
    return True


def _half(part) -> int:
    """How many of the oldest entries to drop: half, at least one."""
    return max(1, len(part) // 2)


def split_within(items: Sequence[T], encode: Callable[[Sequence[T]], bytes], budget: int,
                 what: str = "a message") -> Iterator[bytes]:
    """``items`` encoded as few messages as it takes for each to be within ``budget`` bytes (order kept)."""
    if not items:
        return
    raw = encode(items)
    if len(raw) <= budget:
        yield raw
        return
    if len(items) == 1:
        raise OverBudget(what, len(raw), budget)
    half = len(items) // 2
    yield from split_within(items[:half], encode, budget, what)
    yield from split_within(items[half:], encode, budget, what)
